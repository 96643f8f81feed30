// Two connected in-memory Duplex streams: what one writes, the other reads; end() is a FIN, destroy() a reset.

import {Duplex} from 'node:stream';

class End extends Duplex {
	peer: End | undefined;

	override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
		const peer = this.peer!;
		if (peer.destroyed) {
			callback(Object.assign(new Error('write EPIPE'), {code: 'EPIPE'}));
			return;
		}

		// Deliver asynchronously, as a socket would.
		setImmediate(() => {
			if (!peer.destroyed) {
				peer.push(chunk);
			}

			callback();
		});
	}

	override _final(callback: (error?: Error | null) => void): void {
		const peer = this.peer!;
		setImmediate(() => {
			if (!peer.destroyed) {
				peer.push(null);
			}

			callback();
		});
	}

	override _read(): void {}

	override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
		const peer = this.peer!;
		setImmediate(() => {
			if (!peer.destroyed && !peer.readableEnded) {
				peer.push(null);
			}
		});
		callback(error);
	}
}

/** Returns two connected Duplex streams, `[a, b]`. */
export function duplexPair(): [Duplex, Duplex] {
	const a = new End({allowHalfOpen: true});
	const b = new End({allowHalfOpen: true});
	a.peer = b;
	b.peer = a;
	return [a, b];
}
