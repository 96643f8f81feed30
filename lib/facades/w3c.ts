// A WHATWG WebSocket (the browser API, Pepper's PPB_WebSocket) over websocketConnect, with WebIDL's shape and conversions.

import {WebsocketDataType, WebsocketState} from '../websocket/constants.ts';
import type {WebsocketConnection} from '../websocket/connection.ts';
import {BufferedAmount} from './buffered-amount.ts';
import {establishConnection, parseEstablishOptions, parseWebSocketUrl, type WebSocketInit} from './establish.ts';
import {CloseEvent} from './events.ts';
import {
	defineInterface,
	sendDataLength,
	toClampedUnsignedShort,
	toDOMString,
	toSendData,
	toUSVString,
	type WebSendData,
} from './webidl.ts';

// Builtins through process.getBuiltinModule(), not import: see docs/architecture.md, “Node's builtins”.
const {Blob} = process.getBuiltinModule('node:buffer');

export {CloseEvent, type CloseEventInit} from './events.ts';
export type {WebSocketInit} from './establish.ts';
export {WebSocketStream, type WebSocketStreamOptions, type WebSocketOpenInfo, type WebSocketCloseInfo} from './websocket-stream.ts';
export {WebSocketError, type WebSocketErrorInit} from './websocket-error.ts';
export {createWebSocketStream, type WebSocketDuplexOptions} from './duplex.ts';

/** The values of {@link WebSocket.binaryType}. */
export type BinaryType = 'blob' | 'arraybuffer';

/** The `message` event of a {@link WebSocket}: a `MessageEvent` whose `data` is a string, an ArrayBuffer or a Blob. */
export type WebSocketMessageEvent = MessageEvent & {readonly data: string | ArrayBuffer | Blob};

/** A listener object, as `addEventListener` takes it. */
export interface WebSocketEventListenerObject<E extends Event> {
	handleEvent(event: E): unknown;
}

/** The options `addEventListener` takes. */
export interface WebSocketListenerOptions {
	capture?: boolean | undefined;
	once?: boolean | undefined;
	passive?: boolean | undefined;
	signal?: AbortSignal | undefined;
}

/** The events a {@link WebSocket} fires, by type. */
export interface WebSocketEventMap {
	open: Event;
	message: WebSocketMessageEvent;
	error: Event;
	close: CloseEvent;
}

/** An event handler attribute's value. */
export type WebSocketEventHandler<E extends Event> = ((this: WebSocket, event: E) => unknown) | null;

type ReadyState = 0 | 1 | 2 | 3;

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/** The most bytes a close reason may take in UTF-8 (the Close frame's payload is at most 125 bytes). */
const MAX_REASON_BYTES = 123;

/** A close code close() accepts: 1000, or one of the 3000–4999 range left to libraries and applications. */
function isAllowedCloseCode(code: number): boolean {
	return code === 1000 || (code >= 3000 && code <= 4999);
}

/** A copy of binary data, for a send that waits behind a Blob (the standard sends the bytes as they were at send()). */
function copyBytes(data: ArrayBuffer | ArrayBufferView): Uint8Array {
	return ArrayBuffer.isView(data)
		? new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength))
		: new Uint8Array(data.slice(0));
}

interface EventHandlerEntry {
	callback: object;
	listener: (event: Event) => void;
}

/**
 * A WebSocket client that behaves as the WHATWG WebSocket standard says a browser's does: the
 * same interface (constants, attributes, `send()`, `close()`, event handlers) with WebIDL's
 * argument conversions and property shape, over {@link websocketConnect}.
 *
 * Events are dispatched from the event loop (a task each), in order: `open`, `message`s, then — if
 * the connection failed or closed abnormally — `error`, and exactly one `close`. A Node-only options
 * object may take the place of the subprotocol list (see {@link WebSocketInit}); by default there is
 * no frame or message size limit, as in a browser.
 */
export class WebSocket extends EventTarget {
	declare static readonly CONNECTING: 0;
	declare static readonly OPEN: 1;
	declare static readonly CLOSING: 2;
	declare static readonly CLOSED: 3;
	declare readonly CONNECTING: 0;
	declare readonly OPEN: 1;
	declare readonly CLOSING: 2;
	declare readonly CLOSED: 3;

	readonly #url: URL;
	readonly #abort = new AbortController();
	readonly #buffered = new BufferedAmount();
	#readyState: ReadyState = CONNECTING;
	#protocol = '';
	#extensions = '';
	#binaryType: BinaryType = 'blob';
	#connection: WebsocketConnection | null = null;
	/** Sends waiting for an earlier Blob to be read, in order. */
	#sendQueue: Array<string | Uint8Array | Blob> = [];
	#pumping = false;
	/** The user agent was "required to fail the WebSocket connection": `error` comes before `close`. */
	#failed = false;
	#closeFired = false;
	readonly #handlers = new Map<string, EventHandlerEntry>();

	/**
	 * Starts connecting to `url`.
	 *
	 * @param url - A `ws:`, `wss:`, `http:` or `https:` URL without a fragment.
	 * @param protocols - The subprotocols to offer (distinct tokens), or a {@link WebSocketInit}.
	 * @throws {TypeError} without arguments, or for an option of the wrong type.
	 * @throws {DOMException} `SyntaxError` for an invalid URL or subprotocol list.
	 */
	constructor(url: string | URL, protocols: string | readonly string[] | WebSocketInit = []) {
		super();
		if (arguments.length === 0) {
			throw new TypeError("Failed to construct 'WebSocket': 1 argument required, but only 0 present.");
		}

		this.#url = parseWebSocketUrl(url);
		const options = parseEstablishOptions(this.#url, protocols);
		establishConnection(options, this.#abort.signal).then(
			connection => {
				this.#opened(connection);
			},
			() => {
				this.#fail();
			},
		);
	}

	/** The URL, serialized, with `http(s)` mapped to `ws(s)`. */
	get url(): string {
		return this.#url.href;
	}

	/** CONNECTING (0), OPEN (1), CLOSING (2) or CLOSED (3). */
	get readyState(): ReadyState {
		return this.#readyState;
	}

	/**
	 * Bytes of application data passed to `send()` and not yet transmitted, as of the start of the
	 * current task (so it rises at once with `send()` and drops only in a later task). Sends after
	 * `close()` stay counted: they are never transmitted.
	 */
	get bufferedAmount(): number {
		return this.#buffered.amount;
	}

	/** The accepted extensions as a `Sec-WebSocket-Extensions` value; `''` until open, or when none. */
	get extensions(): string {
		return this.#extensions;
	}

	/** The subprotocol the server selected; `''` until open, or when none. */
	get protocol(): string {
		return this.#protocol;
	}

	/** How binary messages are exposed: `'blob'` (the default) or `'arraybuffer'`. Other values are ignored. */
	get binaryType(): BinaryType {
		return this.#binaryType;
	}

	set binaryType(value: BinaryType) {
		const text = toDOMString(value);
		if (text === 'blob' || text === 'arraybuffer') {
			this.#binaryType = text;
		}
	}

	get onopen(): WebSocketEventHandler<Event> {
		return this.#getHandler('open') as WebSocketEventHandler<Event>;
	}

	set onopen(handler: WebSocketEventHandler<Event>) {
		this.#setHandler('open', handler);
	}

	get onerror(): WebSocketEventHandler<Event> {
		return this.#getHandler('error') as WebSocketEventHandler<Event>;
	}

	set onerror(handler: WebSocketEventHandler<Event>) {
		this.#setHandler('error', handler);
	}

	get onclose(): WebSocketEventHandler<CloseEvent> {
		return this.#getHandler('close') as WebSocketEventHandler<CloseEvent>;
	}

	set onclose(handler: WebSocketEventHandler<CloseEvent>) {
		this.#setHandler('close', handler);
	}

	get onmessage(): WebSocketEventHandler<WebSocketMessageEvent> {
		return this.#getHandler('message') as WebSocketEventHandler<WebSocketMessageEvent>;
	}

	set onmessage(handler: WebSocketEventHandler<WebSocketMessageEvent>) {
		this.#setHandler('message', handler);
	}

	/**
	 * Starts the closing handshake, or fails a connection still CONNECTING; does nothing once
	 * CLOSING or CLOSED. No code and no reason sends an empty Close frame; a reason alone sends 1000.
	 *
	 * @param code - 1000 or 3000–4999, converted as WebIDL's `[Clamp] unsigned short` (so `NaN` is 0).
	 * @param reason - At most 123 bytes of UTF-8 (after lone surrogates become U+FFFD).
	 * @throws {DOMException} `InvalidAccessError` for another code; `SyntaxError` for a longer reason.
	 */
	close(...args: [code?: number, reason?: string]): void {
		const code = args[0] === undefined ? null : toClampedUnsignedShort(args[0]);
		const reason = args[1] === undefined ? null : toUSVString(args[1]);
		if (code !== null && !isAllowedCloseCode(code)) {
			throw new DOMException(
				`Failed to execute 'close' on 'WebSocket': The close code must be either 1000, or between 3000 and 4999. ${code} is neither.`,
				'InvalidAccessError',
			);
		}

		if (reason !== null && Buffer.byteLength(reason, 'utf8') > MAX_REASON_BYTES) {
			throw new DOMException(
				`Failed to execute 'close' on 'WebSocket': The close reason must not be greater than ${MAX_REASON_BYTES} UTF-8 bytes.`,
				'SyntaxError',
			);
		}

		if (this.#readyState === CLOSING || this.#readyState === CLOSED) {
			return;
		}

		if (this.#readyState === CONNECTING) {
			// "Fail the WebSocket connection and set readyState to CLOSING."
			this.#readyState = CLOSING;
			this.#abort.abort();
			this.#fail();
			return;
		}

		this.#readyState = CLOSING;
		const connection = this.#connection;
		if (connection === null || connection.getState() !== WebsocketState.OPEN) {
			return; // the peer's Close already started the closing handshake
		}

		// No code and no reason: a Close frame without a body. A reason without a code: 1000.
		if (code === null && (reason === null || reason === '')) {
			connection.close();
		} else {
			connection.close(code ?? 1000, reason);
		}
	}

	/**
	 * Transmits `data`: a string as a text message (UTF-8), an ArrayBuffer, any ArrayBufferView
	 * (exactly its bytes) or a Blob as a binary message, in the order of the calls. Once the
	 * closing handshake has started the data is not sent, but still counted in `bufferedAmount`.
	 *
	 * @throws {TypeError} without an argument, or for a SharedArrayBuffer (or a view on one).
	 * @throws {DOMException} `InvalidStateError` while CONNECTING.
	 */
	send(data: string | ArrayBuffer | ArrayBufferView | Blob): void {
		if (arguments.length === 0) {
			throw new TypeError("Failed to execute 'send' on 'WebSocket': 1 argument required, but only 0 present.");
		}

		const value = toSendData(data, 'data');
		if (this.#readyState === CONNECTING) {
			throw new DOMException("Failed to execute 'send' on 'WebSocket': Still in CONNECTING state.", 'InvalidStateError');
		}

		this.#buffered.add(sendDataLength(value));
		const connection = this.#sendableConnection();
		if (connection === null) {
			return;
		}

		if (this.#sendQueue.length === 0 && !(value instanceof Blob)) {
			this.#transmit(connection, value);
			return;
		}

		this.#sendQueue.push(typeof value === 'string' || value instanceof Blob ? value : copyBytes(value));
		void this.#pump();
	}

	// --- Internals -------------------------------------------------------------------------------

	/** The connection, while it is established and its closing handshake has not started. */
	#sendableConnection(): WebsocketConnection | null {
		const connection = this.#connection;
		return this.#readyState === OPEN && connection?.getState() === WebsocketState.OPEN ? connection : null;
	}

	#transmit(connection: WebsocketConnection, data: Exclude<WebSendData, Blob>): void {
		const written = this.#buffered.handed(sendDataLength(data));
		if (typeof data === 'string') {
			connection.sendText(data, written);
		} else {
			connection.sendBinary(data, written);
		}
	}

	async #pump(): Promise<void> {
		if (this.#pumping) {
			return;
		}

		this.#pumping = true;
		try {
			while (this.#sendQueue.length > 0) {
				const data = this.#sendQueue[0]!;
				const payload = data instanceof Blob ? new Uint8Array(await data.arrayBuffer()) : data;
				this.#sendQueue.shift();
				const connection = this.#sendableConnection();
				if (connection !== null) {
					this.#transmit(connection, payload);
				}
			}
		} finally {
			this.#pumping = false;
		}
	}

	#getHandler(type: string): object | null {
		return this.#handlers.get(type)?.callback ?? null;
	}

	/**
	 * An event handler attribute ([LegacyTreatNonObjectAsNull]): an object (callable or not) is
	 * kept as it is, anything else is null. The listener is added when the handler is first set
	 * (so it keeps that place among the listeners) and removed when it is set to null.
	 */
	#setHandler(type: string, value: unknown): void {
		const callback = (typeof value === 'object' && value !== null) || typeof value === 'function' ? value : null;
		const entry = this.#handlers.get(type);
		if (callback === null) {
			if (entry !== undefined) {
				this.removeEventListener(type, entry.listener);
				this.#handlers.delete(type);
			}

			return;
		}

		if (entry !== undefined) {
			entry.callback = callback;
			return;
		}

		const created: EventHandlerEntry = {
			callback,
			listener: event => {
				const current = created.callback;
				// A non-callable object is kept as the value but does nothing when invoked.
				if (typeof current === 'function') {
					(current as (this: WebSocket, event: Event) => unknown).call(this, event);
				}
			},
		};
		this.#handlers.set(type, created);
		this.addEventListener(type, created.listener);
	}

	/** Runs `task` as a task of the event loop; tasks run in the order queued. */
	#queueTask(task: () => void): void {
		setImmediate(task);
	}

	#opened(connection: WebsocketConnection): void {
		if (this.#readyState !== CONNECTING) {
			// close() ran while the handshake finished: the connection was already failed.
			connection.getIoStream().destroy();
			return;
		}

		this.#connection = connection;
		connection.connect('message', (_self, type, data) => {
			this.#queueTask(() => {
				this.#dispatchMessage(type, data);
			});
		});
		// The connection's `error` (a protocol error, a limit, the socket failing) is the standard's
		// "fail the WebSocket connection", whatever the close handshake does afterwards.
		connection.connect('error', () => {
			this.#failed = true;
		});
		connection.connect('closing', () => {
			this.#queueTask(() => {
				if (this.#readyState === OPEN) {
					this.#readyState = CLOSING;
				}
			});
		});
		void connection.closed.then(info => {
			this.#buffered.stop();
			this.#queueTask(() => {
				// RFC 6455 §7.1.5: without a closing handshake the close code is 1006, and the
				// connection was failed, so `error` comes first.
				const clean = info.wasClean && !this.#failed;
				if (!clean) {
					this.#failed = true;
				}

				this.#fireClose(clean, clean ? info.code || 1005 : 1006, clean ? (info.reason ?? '') : '');
			});
		});

		const protocol = connection.getProtocol();
		const extensions = connection
			.getExtensions()
			.map(extension => extension.name + (extension.getResponseParams() ?? ''))
			.join(', ');
		this.#queueTask(() => {
			if (this.#readyState !== CONNECTING) {
				return;
			}

			this.#readyState = OPEN;
			this.#protocol = protocol ?? '';
			this.#extensions = extensions;
			this.dispatchEvent(new Event('open'));
		});
	}

	#dispatchMessage(type: WebsocketDataType, data: Buffer): void {
		if (this.#readyState !== OPEN) {
			return;
		}

		let payload: string | ArrayBuffer | Blob;
		if (type === WebsocketDataType.TEXT) {
			payload = data.toString('utf8');
		} else if (this.#binaryType === 'arraybuffer') {
			payload = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
		} else {
			payload = new Blob([data]);
		}

		this.dispatchEvent(new MessageEvent('message', {data: payload, origin: this.#url.origin}));
	}

	/** Fails the connection before it opened: `error`, then `close` with 1006. */
	#fail(): void {
		if (this.#closeFired) {
			return;
		}

		this.#failed = true;
		this.#queueTask(() => {
			this.#fireClose(false, 1006, '');
		});
	}

	#fireClose(wasClean: boolean, code: number, reason: string): void {
		if (this.#closeFired) {
			return;
		}

		this.#closeFired = true;
		this.#readyState = CLOSED;
		this.#sendQueue = [];
		if (this.#failed) {
			this.dispatchEvent(new Event('error'));
		}

		this.dispatchEvent(new CloseEvent('close', {wasClean, code, reason}));
	}
}

export interface WebSocket {
	addEventListener<K extends keyof WebSocketEventMap>(
		type: K,
		listener: ((this: WebSocket, event: WebSocketEventMap[K]) => unknown) | WebSocketEventListenerObject<WebSocketEventMap[K]> | null,
		options?: WebSocketListenerOptions | boolean,
	): void;
	addEventListener(
		type: string,
		listener: ((this: WebSocket, event: Event) => unknown) | WebSocketEventListenerObject<Event> | null,
		options?: WebSocketListenerOptions | boolean,
	): void;
	removeEventListener<K extends keyof WebSocketEventMap>(
		type: K,
		listener: ((this: WebSocket, event: WebSocketEventMap[K]) => unknown) | WebSocketEventListenerObject<WebSocketEventMap[K]> | null,
		options?: {capture?: boolean | undefined} | boolean,
	): void;
	removeEventListener(
		type: string,
		listener: ((this: WebSocket, event: Event) => unknown) | WebSocketEventListenerObject<Event> | null,
		options?: {capture?: boolean | undefined} | boolean,
	): void;
}

defineInterface(WebSocket, 'WebSocket', {CONNECTING, OPEN, CLOSING, CLOSED});
