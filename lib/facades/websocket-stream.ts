// WebSocketStream of the WHATWG draft (as Chrome and undici ship it): a ReadableStream/WritableStream pair with backpressure.

import type {ReadableStream, WritableStream} from 'node:stream/web';
import {WebsocketDataType, WebsocketState} from '../websocket/constants.ts';
import type {WebsocketConnection, WebsocketMessage} from '../websocket/connection.ts';
import {establishConnection, parseEstablishOptions, parseWebSocketUrl, type WebSocketInit} from './establish.ts';
import {defineInterface, toUSVString} from './webidl.ts';
import {abnormalClosureError, checkCloseInfo, WebSocketError, type WebSocketErrorInit} from './websocket-error.ts';
import {DEFAULT_WRITE_HIGH_WATER_MARK, whenBufferedAtMost} from './write-backpressure.ts';

// Builtins through process.getBuiltinModule(), not import: see docs/architecture.md, “Node's builtins”.
const {types} = process.getBuiltinModule('node:util');

/** Options of {@link WebSocketStream}: the draft's `protocols` and `signal`, plus websoup's {@link WebSocketInit}. */
export interface WebSocketStreamOptions extends Omit<WebSocketInit, 'protocols'> {
	/** The subprotocols to offer: distinct tokens. */
	protocols?: readonly string[] | undefined;
	/** Aborts the opening handshake; no effect once open. */
	signal?: AbortSignal | undefined;
	/**
	 * How many unsent bytes the connection may hold before a write's promise waits (and with it
	 * the writer's `ready`).
	 *
	 * @defaultValue 65536
	 */
	writeHighWaterMark?: number | undefined;
}

/** What {@link WebSocketStream.opened} resolves with. */
export interface WebSocketOpenInfo {
	/** Incoming messages: a string for text, a Uint8Array for binary. */
	readable: ReadableStream<string | Uint8Array>;
	/** Outgoing messages: a string is sent as text, an ArrayBuffer or a view as binary. */
	writable: WritableStream<string | ArrayBuffer | ArrayBufferView>;
	extensions: string;
	protocol: string;
}

/** What {@link WebSocketStream.closed} resolves with after a closing handshake. */
export interface WebSocketCloseInfo {
	closeCode: number;
	reason: string;
}

/** Resolvers of a promise, kept to settle it later. */
interface Deferred<T> {
	promise: Promise<T>;
	resolve(value: T): void;
	reject(reason: unknown): void;
}

function deferred<T>(): Deferred<T> {
	let resolve!: (value: T) => void;
	let reject!: (reason: unknown) => void;
	const promise = new Promise<T>((res, rej) => {
		resolve = res;
		reject = rej;
	});
	// A rejection nobody awaits is not an unhandled rejection: opened and closed are attributes.
	promise.catch(() => {});
	return {promise, resolve, reject};
}

/** A writable chunk: BufferSource as it is, anything else as a USVString. */
function toChunk(chunk: unknown): string | Uint8Array {
	if (types.isArrayBuffer(chunk)) {
		return new Uint8Array(chunk);
	}

	if (ArrayBuffer.isView(chunk) && !types.isSharedArrayBuffer(chunk.buffer)) {
		return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
	}

	if (types.isSharedArrayBuffer(chunk) || ArrayBuffer.isView(chunk)) {
		throw new TypeError('Expected a chunk not backed by a SharedArrayBuffer');
	}

	return toUSVString(chunk);
}

/**
 * A WebSocket client with promises and streams instead of events (the WHATWG WebSocketStream
 * draft; Pepper's pull model, `ReceiveMessage`, in today's web API). Reading is pulled: while the
 * readable is not read, the connection stops reading from the socket and the peer sees TCP
 * backpressure. Writing waits: a write's promise settles once the connection holds at most
 * `writeHighWaterMark` unsent bytes, so a writer that awaits `writer.ready` never buffers more.
 */
export class WebSocketStream {
	readonly #url: URL;
	readonly #opened = deferred<WebSocketOpenInfo>();
	readonly #closed = deferred<WebSocketCloseInfo>();
	readonly #abort = new AbortController();
	#connection: WebsocketConnection | null = null;
	/** close() ran before the handshake finished, or the signal aborted it. */
	#cancelled = false;

	/**
	 * Starts connecting to `url`.
	 *
	 * @throws {TypeError} without arguments, or for an option of the wrong type.
	 * @throws {DOMException} `SyntaxError` for an invalid URL or subprotocol list.
	 */
	constructor(url: string | URL, options: WebSocketStreamOptions = {}) {
		if (arguments.length === 0) {
			throw new TypeError("Failed to construct 'WebSocketStream': 1 argument required, but only 0 present.");
		}

		this.#url = parseWebSocketUrl(url);
		const init = options ?? {};
		const establish = parseEstablishOptions(this.#url, {...init, protocols: init.protocols ?? []});
		const mark = init.writeHighWaterMark ?? DEFAULT_WRITE_HIGH_WATER_MARK;
		if (typeof mark !== 'number' || !Number.isSafeInteger(mark) || mark < 0) {
			throw new TypeError(`Expected \`writeHighWaterMark\` to be a whole number of bytes, got \`${String(mark)}\``);
		}

		const {signal} = init;
		if (signal !== undefined && !(signal instanceof AbortSignal)) {
			throw new TypeError(`Expected \`signal\` to be an AbortSignal, got \`${String(signal)}\``);
		}

		if (signal?.aborted) {
			this.#cancelled = true;
			this.#opened.reject(signal.reason);
			this.#closed.reject(signal.reason);
			return;
		}

		const onAbort = (): void => {
			if (this.#connection === null && !this.#cancelled) {
				this.#cancelled = true;
				this.#abort.abort();
				this.#opened.reject(signal!.reason);
				this.#closed.reject(signal!.reason);
			}
		};

		signal?.addEventListener('abort', onAbort, {once: true});
		establishConnection(establish, this.#abort.signal).then(
			connection => {
				signal?.removeEventListener('abort', onAbort);
				if (this.#cancelled) {
					connection.getIoStream().destroy();
					return;
				}

				this.#open(connection, mark);
			},
			(error: unknown) => {
				signal?.removeEventListener('abort', onAbort);
				if (!this.#cancelled) {
					const failure = abnormalClosureError(error instanceof Error ? error.message : 'The WebSocket connection failed');
					this.#opened.reject(failure);
					this.#closed.reject(failure);
				}
			},
		);
	}

	/** The URL, serialized, with `http(s)` mapped to `ws(s)`. */
	get url(): string {
		return this.#url.href;
	}

	/** Resolves once open, with the streams, the extensions and the subprotocol; rejects with a {@link WebSocketError} if the connection fails. */
	get opened(): Promise<WebSocketOpenInfo> {
		return this.#opened.promise;
	}

	/** Resolves after a closing handshake with the peer's code and reason; rejects (closeCode 1006) when the connection closes without one. */
	get closed(): Promise<WebSocketCloseInfo> {
		return this.#closed.promise;
	}

	/**
	 * Starts the closing handshake (before open: abandons the handshake). A reason alone sends 1000;
	 * neither sends an empty Close frame.
	 *
	 * @throws {DOMException} `InvalidAccessError` for a code other than 1000 or 3000–4999; `SyntaxError` for a reason over 123 bytes.
	 */
	close(closeInfo: WebSocketErrorInit = {}): void {
		const checked = checkCloseInfo(closeInfo ?? {}, 'close');
		const connection = this.#connection;
		if (connection === null) {
			if (!this.#cancelled) {
				this.#cancelled = true;
				this.#abort.abort();
				const failure = abnormalClosureError('The WebSocket connection was closed before it opened');
				this.#opened.reject(failure);
				this.#closed.reject(failure);
			}

			return;
		}

		closeConnection(connection, checked);
	}

	#open(connection: WebsocketConnection, mark: number): void {
		this.#connection = connection;
		// Started now, before any message can arrive: the iterator connects to 'message' on its first next().
		const iterator = connection[Symbol.asyncIterator]();
		let next: Promise<IteratorResult<WebsocketMessage, void>> | null = iterator.next();
		let readableController: ReadableStreamDefaultController<string | Uint8Array> | undefined;
		let writableController: WritableStreamDefaultController | undefined;

		// node:stream/web loads on the first WebSocketStream, not with the package (docs/architecture.md, “Node's builtins”).
		const web = process.getBuiltinModule('node:stream/web');
		const readable = new web.ReadableStream<string | Uint8Array>(
			{
				start(controller) {
					readableController = controller;
				},
				async pull(controller) {
					const pending = next ?? iterator.next();
					next = null;
					let result: IteratorResult<WebsocketMessage, void>;
					try {
						result = await pending;
					} catch {
						return; // the connection failed: `closed` below errors the stream
					}

					if (result.done) {
						// Every message was enqueued: the readable closes after a clean close.
						if ((await connection.closed).wasClean) {
							controller.close();
						}

						return;
					}

					const {type, data} = result.value;
					controller.enqueue(type === WebsocketDataType.TEXT ? data.toString('utf8') : new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
				},
				cancel(reason) {
					void iterator.return();
					closeConnection(connection, closeInfoOf(reason));
				},
			},
			{highWaterMark: 1},
		);

		const writable = new web.WritableStream<string | ArrayBuffer | ArrayBufferView>(
			{
				start(controller) {
					writableController = controller;
				},
				async write(chunk) {
					const data = toChunk(chunk);
					if (connection.getState() !== WebsocketState.OPEN) {
						throw new TypeError('The WebSocket is closing or closed');
					}

					if (typeof data === 'string') {
						connection.sendText(data);
					} else {
						connection.sendBinary(data);
					}

					await whenBufferedAtMost(connection, mark);
				},
				async close() {
					closeConnection(connection, {closeCode: null, reason: ''});
					await connection.closed;
				},
				abort(reason) {
					closeConnection(connection, closeInfoOf(reason));
				},
			},
			{highWaterMark: 1},
		);

		void connection.closed.then(info => {
			if (info.wasClean) {
				this.#closed.resolve({closeCode: info.code || 1005, reason: info.reason ?? ''});
				writableController?.error(new TypeError('The WebSocket is closed'));
				return;
			}

			const failure = abnormalClosureError(info.error?.message ?? 'The WebSocket connection closed without a closing handshake');
			this.#closed.reject(failure);
			readableController?.error(failure);
			writableController?.error(failure);
		});

		const extensions = connection
			.getExtensions()
			.map(extension => extension.name + (extension.getResponseParams() ?? ''))
			.join(', ');
		this.#opened.resolve({readable, writable, extensions, protocol: connection.getProtocol() ?? ''});
	}
}

/** The close code and reason a cancel or abort reason asks for: a WebSocketError's, else none. */
function closeInfoOf(reason: unknown): {closeCode: number | null; reason: string} {
	return reason instanceof WebSocketError ? {closeCode: reason.closeCode, reason: reason.reason} : {closeCode: null, reason: ''};
}

function closeConnection(connection: WebsocketConnection, info: {closeCode: number | null; reason: string}): void {
	if (connection.getState() !== WebsocketState.OPEN) {
		return;
	}

	if (info.closeCode === null) {
		connection.close();
	} else {
		connection.close(info.closeCode, info.reason === '' ? null : info.reason);
	}
}

defineInterface(WebSocketStream, 'WebSocketStream');
