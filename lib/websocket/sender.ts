// Sender: the writing half of a connection. It masks (a client) and encodes frames, runs the
// outgoing extensions, batches the small frames of one incoming chunk, queues what cannot be
// written yet (libsoup's NORMAL / URGENT / LAST order) until 'drain', and reports the last frame.

import type {Duplex} from 'node:stream';
import {Opcode} from './constants.ts';
import type {WebsocketWrittenCallback} from './connection.ts';
import {notSentError} from './errors.ts';
import type {FrameInfo, WebsocketExtension} from './extensions/extension.ts';
import {encodedFrameSize, encodeFrame, generateMaskKey, writeFrameInto} from './frame.ts';
import {frameSize, OutgoingQueue, QueueFlags, type OutgoingFrame} from './outgoing-queue.ts';
import {BATCH_PAYLOAD_LIMIT, batchedBytes, batchSlab, beginBatch, endBatch, firstFrame, isBatching, reserve, takeBatch} from './write-batch.ts';

/** Bytes the stream may buffer before frames wait in the queue for 'drain'. */
const WRITE_BUFFER_LIMIT = 1024 * 1024;

/** Pongs that may wait in the queue as they are; past these the last one takes the newest Ping's payload. */
const MAX_QUEUED_PONGS = 8;

// What a Sender calls on its owner (symbols: they stay off the connection's public surface).
/** The frame queued LAST (a Close echo, an error's Close) is written. */
export const kLastFrameWritten: unique symbol = Symbol('websoup.sender.lastWritten');
/** The queue was flushed as far as it goes now (to its end, or until 'drain'). */
export const kQueueFlushed: unique symbol = Symbol('websoup.sender.flushed');
/** An outgoing extension failed on a message; the message is dropped. */
export const kSendFailed: unique symbol = Symbol('websoup.sender.failed');

/** What a {@link Sender} reports to the connection it writes for. */
export interface SenderOwner {
	[kLastFrameWritten](): void;
	[kQueueFlushed](): void;
	[kSendFailed](error: unknown): void;
}

const Flag = {
	/** The stream asked for 'drain': frames wait in the queue. */
	WAITING_DRAIN: 1 << 0,
	/** The stream is closing: new frames are dropped (queued ones are still flushed). */
	REFUSING: 1 << 1,
	/** End the stream once the queue is flushed. */
	END_WHEN_FLUSHED: 1 << 2,
	/** RFC 6455 §5.3: a client masks every frame it sends; a server never does. */
	CLIENT: 1 << 3,
} as const;

/**
 * Writes frames to a stream for a {@link SenderOwner}: data messages, control frames and frames
 * encoded elsewhere, in libsoup's order, with backpressure. It holds no timer and reads nothing.
 */
export class Sender {
	readonly #owner: SenderOwner;
	readonly #stream: Duplex;
	readonly #extensions: readonly WebsocketExtension[];
	/** Frames waiting to be written; made when the first one has to wait. */
	#queue: OutgoingQueue | null = null;
	/** {@link Flag} bits. */
	#flags: number;

	constructor(owner: SenderOwner, stream: Duplex, client: boolean, extensions: readonly WebsocketExtension[]) {
		this.#owner = owner;
		this.#stream = stream;
		this.#flags = client ? Flag.CLIENT : 0;
		this.#extensions = extensions;
	}

	/** Bytes accepted and not yet handed to the operating system: queued, batched, and in the stream. */
	get bufferedAmount(): number {
		return (this.#queue?.bytes ?? 0) + batchedBytes(this) + this.#stream.writableLength;
	}

	/** Bytes waiting in the queue (not yet given to the stream). */
	get queuedBytes(): number {
		return this.#queue?.bytes ?? 0;
	}

	/** Whether frames wait in the queue. */
	get hasQueued(): boolean {
		return this.#queue !== null && this.#queue.length > 0;
	}

	// --- Sending ----------------------------------------------------------------------------------

	/**
	 * Sends a data message in one frame, through the extensions. `written`, if given, is called
	 * once: with `null` when the frame has been handed to the operating system, or with the error
	 * that means it never will be (never from within this call).
	 */
	sendData(opcode: number, payload: Buffer, written: WebsocketWrittenCallback | null = null): void {
		const client = (this.#flags & Flag.CLIENT) !== 0;
		// A frame whose writing is reported is not batched: its own write() carries the callback.
		if (written === null && payload.length <= BATCH_PAYLOAD_LIMIT && isBatching(this) && this.#extensions.length === 0 && this.#writesNow()) {
			const size = encodedFrameSize(payload.length, client);
			let offset = reserve(size);
			if (offset < 0) {
				this.#writeBatch();
				offset = reserve(size);
			}

			writeFrameInto(batchSlab(), offset, opcode, payload, this.#maskKey());
			if (client && firstFrame()) {
				// A client's first reply of the chunk leaves now: one connection is usually all the
				// peer has to work on, so it starts on this frame while the others are made, rather
				// than idling until the chunk ends (a server has its other connections for that).
				this.#writeBatch();
				this.#stream.uncork();
				this.#stream.cork();
			}

			return;
		}

		if (this.#extensions.length === 0) {
			this.#enqueue(encodeFrame(opcode, payload, {maskKey: this.#maskKey()}), QueueFlags.NORMAL, written);
			return;
		}

		if ((this.#flags & Flag.REFUSING) !== 0) {
			notWritten(written);
			return;
		}

		// Extensions may work asynchronously: hold the frame's place in the queue meanwhile.
		const frame = (this.#queue ??= new OutgoingQueue()).push(null, payload.length, QueueFlags.NORMAL, written);
		void this.#runExtensions(frame, opcode, payload);
	}

	/** Sends a Close or Ping frame with {@link QueueFlags}. */
	sendControl(opcode: number, payload: Buffer, flags: number): void {
		this.#enqueue(encodeFrame(opcode, payload, {maskKey: this.#maskKey()}), flags);
	}

	/**
	 * RFC 6455 §5.5.3: an endpoint MAY elect to send a Pong frame for only the most recently
	 * processed Ping frame. Up to {@link MAX_QUEUED_PONGS} Pongs wait in the queue as they are (a
	 * keepalive peer timing each of its Pings gets every Pong); past them the last one takes each
	 * newer Ping's payload, so a flood of Pings that cannot be answered yet costs a few Pongs.
	 */
	sendPong(payload: Buffer): void {
		const buffers = encodeFrame(Opcode.PONG, payload, {maskKey: this.#maskKey()});
		if (this.#queue?.coalescePong(buffers, MAX_QUEUED_PONGS) === true) {
			return;
		}

		if ((this.#flags & Flag.WAITING_DRAIN) === 0 && this.#stream.writableNeedDrain) {
			// The stream is past its own high-water mark: the Pong waits in the queue for 'drain',
			// where the next Pings' Pongs coalesce with it, rather than as one more write per Ping.
			this.#waitForDrain();
		}

		this.#enqueue(buffers, QueueFlags.URGENT | QueueFlags.PONG);
	}

	/** Sends a complete frame encoded elsewhere (a hub's, the same bytes for many connections). */
	sendFrame(buffers: Buffer[], flags: number): void {
		this.#enqueue(buffers, flags);
	}

	async #runExtensions(frame: OutgoingFrame, opcode: number, payload: Buffer): Promise<void> {
		const info: FrameInfo = {fin: true, rsv: 0, opcode};
		let data = payload;
		try {
			for (const extension of this.#extensions) {
				const result = extension.processOutgoing(info, data);
				data = result instanceof Promise ? await result : result;
			}
		} catch (error) {
			this.#queue?.remove(frame);
			notWritten(frame.written);
			this.#owner[kSendFailed](error);
			// Frames behind it (a Close among them) may go now.
			this.#flush();
			return;
		}

		// The queue may have been dropped meanwhile (the stream closed): then there is nothing to send.
		if (this.#queue?.fill(frame, encodeFrame(opcode, data, {rsv: info.rsv, maskKey: this.#maskKey()})) === true) {
			this.#flush();
		}
	}

	#maskKey(): Buffer | null {
		return (this.#flags & Flag.CLIENT) !== 0 ? generateMaskKey() : null;
	}

	// --- Batching the replies to one incoming chunk -----------------------------------------------

	/**
	 * The owner is about to decode a chunk: the stream is corked, and the small frames sent until
	 * {@link endChunk} gather in one batch (write-batch.ts), unless another sender's batch is open.
	 *
	 * @returns Whether this sender owns the batch; pass it to {@link endChunk}.
	 */
	beginChunk(): boolean {
		this.#stream.cork();
		return beginBatch(this);
	}

	/** The chunk is decoded: the batch is written, and the stream uncorked (one vectored write). */
	endChunk(batching: boolean): void {
		if (batching) {
			this.#writeBatch();
			endBatch();
		}

		this.#stream.uncork();
	}

	/** Writes what this sender's batch holds, before any other write or the end. */
	#writeBatch(): void {
		const pending = isBatching(this) ? takeBatch() : null;
		if (pending === null) {
			return;
		}

		const stream = this.#stream;
		if (stream.writableEnded || stream.destroyed) {
			return;
		}

		if (!stream.write(pending) && (this.#flags & Flag.WAITING_DRAIN) === 0 && stream.writableLength >= WRITE_BUFFER_LIMIT) {
			this.#waitForDrain();
		}
	}

	// --- The queue --------------------------------------------------------------------------------

	/** Writes a frame now, or queues it (and flushes). */
	#enqueue(buffers: Buffer[], flags: number, written: WebsocketWrittenCallback | null = null): void {
		if ((this.#flags & Flag.REFUSING) !== 0) {
			notWritten(written);
			return;
		}

		// The hot path: nothing queued and the stream is taking data, so write now.
		if (this.#writesNow()) {
			this.#write(buffers, flags, written);
			return;
		}

		(this.#queue ??= new OutgoingQueue()).push(buffers, frameSize(buffers), flags, written);
		this.#flush();
	}

	/** Whether a frame sent now is written now: new frames are taken, nothing is queued, no 'drain' is awaited. */
	#writesNow(): boolean {
		return (this.#flags & (Flag.REFUSING | Flag.WAITING_DRAIN)) === 0 && (this.#queue === null || this.#queue.length === 0);
	}

	/** Writes the queued frames that are ready, until the stream asks for 'drain'. */
	#flush(): void {
		const stream = this.#stream;
		while ((this.#flags & Flag.WAITING_DRAIN) === 0 && !stream.writableEnded && !stream.destroyed) {
			const next = this.#queue?.shiftReady();
			if (next === undefined) {
				break;
			}

			this.#write(next.buffers!, next.flags, next.written);
		}

		if ((this.#flags & Flag.END_WHEN_FLUSHED) !== 0 && !this.hasQueued && !stream.writableEnded) {
			this.#writeBatch();
			stream.end();
		}

		this.#owner[kQueueFlushed]();
	}

	#write(buffers: Buffer[], flags: number, written: WebsocketWrittenCallback | null): void {
		// Frames batched earlier in this chunk go first.
		this.#writeBatch();
		const stream = this.#stream;
		const last = (flags & QueueFlags.LAST) !== 0;
		// The callback rides on the frame's last buffer: Node calls it once that is handed on.
		const callback = last ? this.#lastWrittenCallback() : written === null ? undefined : reportWritten(written);
		let ok: boolean;
		if (buffers.length === 1) {
			ok = callback === undefined ? stream.write(buffers[0]) : stream.write(buffers[0], callback);
		} else {
			stream.cork();
			stream.write(buffers[0]);
			ok = callback === undefined ? stream.write(buffers[1]) : stream.write(buffers[1], callback);
			stream.uncork();
		}

		if (last) {
			// Nothing may follow the last frame.
			this.clear();
		}

		// Backpressure: past `write()` returning false the stream may hold up to WRITE_BUFFER_LIMIT
		// bytes, so a pipeline of large frames keeps the socket busy; beyond it frames wait in the
		// queue (where an URGENT one can still go first) until 'drain'.
		if (!ok && (this.#flags & Flag.WAITING_DRAIN) === 0 && stream.writableLength >= WRITE_BUFFER_LIMIT) {
			this.#waitForDrain();
		}
	}

	#waitForDrain(): void {
		this.#flags |= Flag.WAITING_DRAIN;
		// A closure made when needed, not one per connection.
		this.#stream.once('drain', () => {
			this.#flags &= ~Flag.WAITING_DRAIN;
			this.#flush();
		});
	}

	/** The LAST frame is written: the owner ends or half-closes the stream. */
	#lastWrittenCallback(): (error?: Error | null) => void {
		return error => {
			if (!error) {
				this.#owner[kLastFrameWritten]();
			}
		};
	}

	// --- Ending -----------------------------------------------------------------------------------

	/** Drops every queued frame; the `written` callbacks of those sent with one hear that they were not sent. */
	clear(): void {
		const dropped = this.#queue?.clear();
		if (dropped !== undefined) {
			for (const frame of dropped) {
				notWritten(frame.written);
			}
		}
	}

	/** The stream is closing: frames sent from now on are dropped; those queued may still be flushed. */
	refuse(): void {
		this.#flags |= Flag.REFUSING;
	}

	/** Ends our side of the stream now, after the batch (frames still queued are not written). */
	end(): void {
		if (!this.#stream.writableEnded) {
			this.#writeBatch();
			this.#stream.end();
		}
	}

	/** Ends our side of the stream once the queued frames are written. */
	endWhenFlushed(): void {
		this.#flags |= Flag.END_WHEN_FLUSHED;
		this.#flush();
	}
}

/** Tells a send's callback, from a later tick, that its message will not be written. Shared with the connection. */
export function notWritten(written: WebsocketWrittenCallback | null): void {
	if (written !== null) {
		process.nextTick(written, notSentError());
	}
}

/** A stream write callback that reports to a send's callback (`null`, or the stream's error). */
function reportWritten(written: WebsocketWrittenCallback): (error?: Error | null) => void {
	return error => {
		written(error ?? null);
	};
}
