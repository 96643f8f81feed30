// WHATWG `bufferedAmount`: application bytes queued by send() and not yet transmitted, as of the start of the current task.

import type {WebsocketConnection} from '../websocket/connection.ts';

/** The longest wait between two looks at a stream that is writing without asking for 'drain'. */
const MAX_POLL_MS = 64;

/** Bytes a client adds to a data frame of `length` payload bytes: header, extended length, mask. */
function clientFrameOverhead(length: number): number {
	return 2 + (length >= 65_536 ? 8 : length >= 126 ? 2 : 0) + 4;
}

/**
 * Counts what the standard calls `bufferedAmount`: every `send()` that does not throw adds its
 * bytes (UTF-8 for text) at once, sends after close included (those are never transmitted); a
 * message handed to the connection is subtracted once its frame has left for the network, and
 * only from a later task (an immediate or a timer), so the value never drops while script runs.
 *
 * The connection reports the frame bytes it has not yet handed to the operating system; messages
 * leave in order, so comparing that with the frames handed over tells which messages are gone.
 */
export class BufferedAmount {
	#amount = 0;
	/** Messages handed to the connection and not yet seen transmitted: payload and frame sizes, in order. */
	#payloads: number[] = [];
	#frames: number[] = [];
	#head = 0;
	/** Frame bytes of the messages from `#head` on. */
	#inFlight = 0;
	#connection: WebsocketConnection | null = null;
	#scheduled = false;
	#pollMs = 1;
	#stopped = false;

	/** The value of the attribute. */
	get amount(): number {
		return this.#amount;
	}

	/** A `send()` that did not throw: `length` more bytes, now. */
	add(length: number): void {
		this.#amount += length;
	}

	/** A message of `length` payload bytes (already added) was handed to `connection` as one frame. */
	handed(connection: WebsocketConnection, length: number): void {
		this.#connection = connection;
		this.#payloads.push(length);
		const frame = length + clientFrameOverhead(length);
		this.#frames.push(frame);
		this.#inFlight += frame;
		this.#schedule();
	}

	/** The connection closed: what was not transmitted stays counted, as the standard says. */
	stop(): void {
		this.#stopped = true;
	}

	#schedule(): void {
		if (this.#scheduled || this.#stopped) {
			return;
		}

		this.#scheduled = true;
		this.#pollMs = 1;
		setImmediate(() => {
			this.#update();
		});
	}

	#update(): void {
		this.#scheduled = false;
		const connection = this.#connection;
		if (connection === null || this.#stopped) {
			return;
		}

		// Bytes of our frames that have left: handed minus what still waits (control frames the
		// connection queued count as waiting, which only delays the drop).
		let gone = this.#inFlight - connection.bufferedAmount;
		while (this.#head < this.#frames.length && this.#frames[this.#head]! <= gone) {
			const frame = this.#frames[this.#head]!;
			gone -= frame;
			this.#inFlight -= frame;
			this.#amount -= this.#payloads[this.#head]!;
			this.#head++;
		}

		if (this.#head === this.#frames.length) {
			this.#payloads = [];
			this.#frames = [];
			this.#head = 0;
			return;
		}

		// Still in flight: the stream says 'drain' past its high-water mark; below it, look again
		// later, backing off, as nothing announces the end of a write there.
		const stream = connection.getIoStream();
		if (stream.destroyed) {
			return;
		}

		this.#scheduled = true;
		if (stream.writableNeedDrain) {
			stream.once('drain', () => {
				setImmediate(() => {
					this.#update();
				});
			});
		} else {
			const delay = this.#pollMs;
			this.#pollMs = Math.min(this.#pollMs * 2, MAX_POLL_MS);
			setTimeout(() => {
				this.#update();
			}, delay).unref();
		}
	}
}
