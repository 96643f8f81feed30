// Small frames sent while one incoming chunk is decoded (echoes, replies), gathered into one buffer
// and written once at the end of the chunk: one `write()` and one iovec per chunk instead of one of
// each per frame, and no Buffer per frame.
//
// The slab is shared by every connection, but only one connection batches at a time (the one whose
// chunk is being decoded; a handler sending on another connection writes directly). Bytes handed
// to the stream are never overwritten: a full slab is replaced by a new one, and the old one lives
// as long as the stream holds the views written from it.

/** Payloads up to this size are batched (frame.ts copies them behind the header anyway). */
export const BATCH_PAYLOAD_LIMIT = 1024;

const SLAB_SIZE = 64 * 1024;

let slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
/** Bytes of the slab in use: those before `start` are written, `[start, used)` wait in the batch. */
let used = 0;
let start = 0;
let owner: object | null = null;

/**
 * Starts batching for `who`, unless another batch is open.
 *
 * @returns Whether `who` now owns the batch (and must call {@link endBatch}).
 */
export function beginBatch(who: object): boolean {
	if (owner !== null) {
		return false;
	}

	owner = who;
	return true;
}

/** Ends the batch; whatever it held must have been {@link takeBatch taken} first. */
export function endBatch(): void {
	owner = null;
}

/** Whether `who` is batching now. */
export function isBatching(who: object): boolean {
	return owner === who;
}

/** Bytes waiting in `who`'s batch. */
export function batchedBytes(who: object): number {
	return owner === who ? used - start : 0;
}

/**
 * Room for `size` bytes (at most {@link BATCH_PAYLOAD_LIMIT} plus a frame header) at the end of
 * the batch.
 *
 * @returns The slab and the offset to write at, or `-1` when the slab is full and the batch must
 *   be taken first.
 */
export function reserve(size: number): number {
	if (used + size > SLAB_SIZE) {
		if (start < used) {
			return -1;
		}

		slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
		used = 0;
		start = 0;
	}

	const offset = used;
	used += size;
	return offset;
}

/** The slab {@link reserve}'s offsets point into. */
export function batchSlab(): Buffer {
	return slab;
}

/** The batched bytes, as a view to write, or `null` if there are none; the batch is then empty. */
export function takeBatch(): Buffer | null {
	if (start === used) {
		return null;
	}

	const pending = slab.subarray(start, used);
	start = used;
	return pending;
}
