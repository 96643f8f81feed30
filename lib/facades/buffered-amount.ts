// WHATWG `bufferedAmount`: application bytes queued by send() and not yet transmitted, as of the start of the current task.

import type {WebsocketWrittenCallback} from '../websocket/connection.ts';

/**
 * Counts what the standard calls `bufferedAmount`: every `send()` that does not throw adds its
 * bytes (UTF-8 for text) at once, sends after close included (those are never transmitted). A
 * message handed to the connection is subtracted once the connection reports its frame handed to
 * the operating system (the send call's `onWritten`), and only from a later task (an immediate),
 * so the value never drops while script runs. What is never written stays counted.
 */
export class BufferedAmount {
	#amount = 0;
	/** Bytes of the messages written since the last immediate, not yet subtracted. */
	#written = 0;
	#scheduled = false;
	#stopped = false;

	/** The value of the attribute. */
	get amount(): number {
		return this.#amount;
	}

	/** A `send()` that did not throw: `length` more bytes, now. */
	add(length: number): void {
		this.#amount += length;
	}

	/**
	 * A message of `length` payload bytes (already added) is handed to the connection: the
	 * `onWritten` to give its send call.
	 */
	handed(length: number): WebsocketWrittenCallback {
		return error => {
			if (error === null) {
				this.#wrote(length);
			}
		};
	}

	/** The connection closed: what was not transmitted stays counted, as the standard says. */
	stop(): void {
		this.#stopped = true;
	}

	#wrote(length: number): void {
		if (this.#stopped) {
			return;
		}

		this.#written += length;
		if (!this.#scheduled) {
			this.#scheduled = true;
			setImmediate(() => {
				this.#scheduled = false;
				if (!this.#stopped) {
					this.#amount -= this.#written;
				}

				this.#written = 0;
			});
		}
	}
}
