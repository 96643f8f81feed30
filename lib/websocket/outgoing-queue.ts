// The send queue of a connection: libsoup's NORMAL / URGENT / LAST frame flags, with frames an extension is still processing.

/** Where a frame goes and what follows it, as libsoup's frame flags. */
export const QueueFlags = {
	/** At the tail. */
	NORMAL: 0,
	/** Before every frame that has not started (a Pong, an error's Close). */
	URGENT: 1,
	/** Nothing is written after it; once written the stream closes (server) or half-closes (client). */
	LAST: 2,
	/** A Pong: a newer Ping may give its payload to the last one queued (RFC 6455 §5.5.3). */
	PONG: 4,
} as const;
export type QueueFlags = (typeof QueueFlags)[keyof typeof QueueFlags];

/** A queued frame: its encoded buffers, or `null` while an extension is still producing them. */
export interface OutgoingFrame {
	buffers: Buffer[] | null;
	size: number;
	flags: number;
	/** Told once the frame is written, or that it never will be (a send call's `onWritten`). */
	written: ((error: Error | null) => void) | null;
}

/** The bytes of an encoded frame, header included. */
export function frameSize(buffers: readonly Buffer[]): number {
	let size = 0;
	for (const buffer of buffers) {
		size += buffer.length;
	}

	return size;
}

/** Frames not yet handed to the stream, in the order they will be written. */
export class OutgoingQueue {
	#frames: OutgoingFrame[] = [];
	#bytes = 0;
	/** The last Pong queued, and how many Pongs wait: past a few, a newer Ping's payload replaces its own. */
	#lastPong: OutgoingFrame | null = null;
	#pongs = 0;

	/** Frames waiting. */
	get length(): number {
		return this.#frames.length;
	}

	/** Bytes waiting: whole frames, and the payload of frames an extension still holds. */
	get bytes(): number {
		return this.#bytes;
	}

	/**
	 * Adds a frame: URGENT ones before the first frame that is not pending and has not started
	 * (frames here have not started), others at the tail.
	 */
	push(buffers: Buffer[] | null, size: number, flags: number, written: OutgoingFrame['written'] = null): OutgoingFrame {
		const frame: OutgoingFrame = {buffers, size, flags, written};
		this.#bytes += size;
		if (flags & QueueFlags.PONG) {
			this.#pongs++;
			this.#lastPong = frame;
		}

		if (flags & QueueFlags.URGENT) {
			// An urgent frame may not overtake a frame an extension is still processing, nor another urgent one.
			let index = 0;
			while (index < this.#frames.length) {
				const other = this.#frames[index]!;
				if (other.buffers !== null && !(other.flags & QueueFlags.URGENT)) {
					break;
				}

				index++;
			}

			this.#frames.splice(index, 0, frame);
		} else {
			this.#frames.push(frame);
		}

		return frame;
	}

	/**
	 * Gives a pending frame its encoded buffers and counts their real size. Returns `false`, and
	 * changes nothing, when the frame is no longer queued (removed, or the queue was cleared).
	 */
	fill(frame: OutgoingFrame, buffers: Buffer[]): boolean {
		if (!this.#frames.includes(frame)) {
			return false;
		}

		const size = frameSize(buffers);
		this.#bytes += size - frame.size;
		frame.size = size;
		frame.buffers = buffers;
		return true;
	}

	/**
	 * RFC 6455 §5.5.3 lets a Pong answer only the latest Ping: once `max` Pongs wait, the last one
	 * takes `buffers` (a newer Pong) instead of a new frame being queued.
	 *
	 * @returns Whether the last Pong took them; if not, queue the new Pong.
	 */
	coalescePong(buffers: Buffer[], max: number): boolean {
		return this.#pongs >= max && this.#lastPong !== null && this.fill(this.#lastPong, buffers);
	}

	/** Removes a frame, if still queued. */
	remove(frame: OutgoingFrame): void {
		const index = this.#frames.indexOf(frame);
		if (index !== -1) {
			this.#frames.splice(index, 1);
			this.#bytes -= frame.size;
		}
	}

	/** Takes the first frame if it is ready to write. */
	shiftReady(): OutgoingFrame | undefined {
		const first = this.#frames[0];
		if (first === undefined || first.buffers === null) {
			return undefined;
		}

		this.#frames.shift();
		this.#bytes -= first.size;
		if (first.flags & QueueFlags.PONG) {
			this.#pongs--;
			if (first === this.#lastPong) {
				this.#lastPong = null;
			}
		}

		return first;
	}

	/** Drops every frame; returns them (their `written` callbacks are the caller's to call). */
	clear(): OutgoingFrame[] {
		const frames = this.#frames;
		this.#frames = [];
		this.#bytes = 0;
		this.#lastPong = null;
		this.#pongs = 0;
		return frames;
	}
}
