// A Node Duplex over a WebsocketConnection (ws's createWebSocketStream): pipe()/pipeline() with backpressure both ways.

import type {Duplex as NodeDuplex, DuplexOptions} from 'node:stream';
import {CloseCode, WebsocketDataType, WebsocketState} from '../websocket/constants.ts';
import type {WebsocketConnection, WebsocketMessage} from '../websocket/connection.ts';
import {WebsocketError} from '../websocket/errors.ts';
import {DEFAULT_WRITE_HIGH_WATER_MARK, whenBufferedAtMost} from './write-backpressure.ts';

// Builtins through process.getBuiltinModule(), not import: see docs/architecture.md, “Node's builtins”.
const {Duplex} = process.getBuiltinModule('node:stream');

/** Options of {@link createWebSocketStream}: Node's Duplex options, and the connection's write mark. */
export interface WebSocketDuplexOptions
	extends Pick<DuplexOptions, 'highWaterMark' | 'readableHighWaterMark' | 'writableHighWaterMark' | 'decodeStrings' | 'encoding' | 'signal'> {
	/**
	 * Unsent bytes the connection may hold before a write's callback waits for them to drain.
	 *
	 * @defaultValue 65536
	 */
	connectionHighWaterMark?: number | undefined;
}

/**
 * A Duplex over an open connection, as ws's `createWebSocketStream`: each chunk written is sent
 * as one binary message (a string chunk as a text message when `decodeStrings` is false), and the
 * payload of each message received (text or binary) is pushed as a Buffer.
 *
 * Backpressure runs both ways: a write's callback waits while the connection holds more than
 * `connectionHighWaterMark` unsent bytes, and messages are read from the connection only as the
 * readable side is read (past 16 unread the connection stops reading its socket). `end()` starts
 * the closing handshake (an empty Close frame) and `'finish'` follows once it completed; the
 * readable side ends when the connection closed cleanly. A connection that closes without a closing
 * handshake, or fails, destroys the Duplex with that error (a {@link WebsocketError} with code 1006
 * and reason `WS_ERR_CONNECTION_CLOSED` when the peer only dropped TCP). Destroying the Duplex
 * destroys the connection's stream.
 *
 * @throws {TypeError} for a connection that is not OPEN, or a bad `connectionHighWaterMark`.
 */
export function createWebSocketStream(connection: WebsocketConnection, options: WebSocketDuplexOptions = {}): NodeDuplex {
	if (connection.getState() !== WebsocketState.OPEN) {
		throw new TypeError('Expected `connection` to be OPEN');
	}

	const mark = options.connectionHighWaterMark ?? DEFAULT_WRITE_HIGH_WATER_MARK;
	if (typeof mark !== 'number' || !Number.isSafeInteger(mark) || mark < 0) {
		throw new TypeError(`Expected \`connectionHighWaterMark\` to be a whole number of bytes, got \`${String(mark)}\``);
	}

	const {connectionHighWaterMark: _mark, ...duplexOptions} = options;
	// Started now, so that no message arrives before the iterator listens.
	const iterator = connection[Symbol.asyncIterator]();
	let next: Promise<IteratorResult<WebsocketMessage, void>> | null = iterator.next();
	let reading = false;

	const duplex = new Duplex({
		...duplexOptions,
		objectMode: false,
		autoDestroy: true,
		emitClose: true,
		read() {
			if (reading) {
				return;
			}

			reading = true;
			void (async () => {
				try {
					// Bounded: each pass consumes one message, and the loop stops when the consumer is full.
					for (;;) {
						const pending = next ?? iterator.next();
						next = null;
						const result = await pending;
						if (result.done) {
							// Every message was pushed: the readable side ends after a clean close.
							const info = await connection.closed;
							if (info.wasClean) {
								duplex.push(null);
							}

							return;
						}

						const {data} = result.value;
						if (!duplex.push(data)) {
							return;
						}
					}
				} catch {
					// The connection failed: 'closed' below destroys the stream with its error.
				} finally {
					reading = false;
				}
			})();
		},
		write(chunk: Buffer | string, _encoding, callback) {
			if (connection.getState() !== WebsocketState.OPEN) {
				callback(new WebsocketError(CloseCode.ABNORMAL, 'WS_ERR_CONNECTION_CLOSED', 'The WebSocket connection is not open'));
				return;
			}

			if (typeof chunk === 'string') {
				connection.sendMessage(WebsocketDataType.TEXT, Buffer.from(chunk, 'utf8'));
			} else {
				connection.sendBinary(chunk);
			}

			whenBufferedAtMost(connection, mark).then(() => {
				callback();
			}, callback);
		},
		final(callback) {
			if (connection.getState() === WebsocketState.OPEN) {
				connection.close();
			}

			void connection.closed.then(info => {
				callback(info.wasClean ? null : closeError(info.error));
			});
		},
		destroy(error, callback) {
			void iterator.return();
			if (connection.getState() !== WebsocketState.CLOSED) {
				connection.getIoStream().destroy();
			}

			callback(error);
		},
	});

	void connection.closed.then(info => {
		if (!info.wasClean && !duplex.destroyed) {
			duplex.destroy(closeError(info.error));
		}
	});
	return duplex;
}

function closeError(error: Error | null): Error {
	return (
		error ??
		new WebsocketError(CloseCode.ABNORMAL, 'WS_ERR_CONNECTION_CLOSED', 'The WebSocket connection closed without a closing handshake (1006)')
	);
}
