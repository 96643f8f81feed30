// A WHATWG-shaped WebSocket client (the browser API, Pepper's PPB_WebSocket) over websocketConnect.

import {Blob} from 'node:buffer';
import {WebsocketDataType, WebsocketState} from '../websocket/constants.ts';
import type {WebsocketConnection} from '../websocket/connection.ts';
import {websocketConnect} from '../node/client.ts';

/** What a `CloseEvent` is constructed with. */
export interface CloseEventInit {
	bubbles?: boolean | undefined;
	cancelable?: boolean | undefined;
	composed?: boolean | undefined;
	wasClean?: boolean | undefined;
	code?: number | undefined;
	reason?: string | undefined;
}

/** The `close` event of {@link WebSocket}: whether the closing handshake completed, and the peer's code and reason. */
export class CloseEvent extends Event {
	readonly #wasClean: boolean;
	readonly #code: number;
	readonly #reason: string;

	constructor(type: string, init: CloseEventInit = {}) {
		super(type, {bubbles: init.bubbles ?? false, cancelable: init.cancelable ?? false, composed: init.composed ?? false});
		this.#wasClean = init.wasClean ?? false;
		this.#code = init.code ?? 0;
		this.#reason = init.reason ?? '';
	}

	/** Whether both Close frames were exchanged before the connection closed. */
	get wasClean(): boolean {
		return this.#wasClean;
	}

	/** The peer's close code; 1005 when its Close frame had none, 1006 when the connection closed abnormally. */
	get code(): number {
		return this.#code;
	}

	/** The peer's close reason, or `''`. */
	get reason(): string {
		return this.#reason;
	}
}

/** The values of {@link WebSocket.binaryType}. */
export type BinaryType = 'blob' | 'arraybuffer';

type ReadyState = 0 | 1 | 2 | 3;
type Handler<E extends Event> = ((this: WebSocket, event: E) => unknown) | null;
type SendData = string | ArrayBuffer | ArrayBufferView | Blob;

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/** RFC 7230 `token` characters, what a `Sec-WebSocket-Protocol` element may contain. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function syntaxError(message: string): DOMException {
	return new DOMException(message, 'SyntaxError');
}

function parseUrl(url: string | URL): URL {
	let parsed: URL;
	try {
		parsed = new URL(String(url));
	} catch {
		throw syntaxError(`The URL '${String(url)}' is invalid.`);
	}

	if (parsed.protocol === 'http:') {
		parsed.protocol = 'ws:';
	} else if (parsed.protocol === 'https:') {
		parsed.protocol = 'wss:';
	}

	if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
		throw syntaxError(`The URL's scheme must be 'ws', 'wss', 'http' or 'https'; '${parsed.protocol}' is not allowed.`);
	}

	if (parsed.hash !== '' || String(url).includes('#')) {
		throw syntaxError(`The URL contains a fragment identifier ('${parsed.hash}'); fragments are not allowed in WebSocket URLs.`);
	}

	return parsed;
}

function parseProtocols(protocols: string | readonly string[] | undefined): string[] {
	const list = protocols === undefined ? [] : typeof protocols === 'string' ? [protocols] : [...protocols].map(String);
	const seen = new Set<string>();
	for (const protocol of list) {
		if (!TOKEN.test(protocol)) {
			throw syntaxError(`The subprotocol '${protocol}' is invalid.`);
		}

		if (seen.has(protocol)) {
			throw syntaxError(`The subprotocol '${protocol}' is duplicated.`);
		}

		seen.add(protocol);
	}

	return list;
}

function byteLength(data: SendData): number {
	if (typeof data === 'string') {
		return Buffer.byteLength(data);
	}

	if (data instanceof Blob) {
		return data.size;
	}

	return data.byteLength;
}

function toBytes(data: ArrayBuffer | ArrayBufferView): Buffer {
	return ArrayBuffer.isView(data)
		? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
		: Buffer.from(data);
}

/**
 * A WebSocket client following the WHATWG WebSocket standard as far as a Node client can: the
 * browser's `WebSocket` on top of {@link websocketConnect}.
 *
 * Events are dispatched from the event loop (one `setImmediate` task each), in order: `open`,
 * `message`s, then at most one `error` and exactly one `close`. A connection that fails (handshake
 * refused, connection refused, protocol error) or whose peer drops TCP without a Close frame closes
 * with code 1006 and `wasClean` false.
 */
export class WebSocket extends EventTarget {
	static readonly CONNECTING = CONNECTING;
	static readonly OPEN = OPEN;
	static readonly CLOSING = CLOSING;
	static readonly CLOSED = CLOSED;

	readonly CONNECTING = CONNECTING;
	readonly OPEN = OPEN;
	readonly CLOSING = CLOSING;
	readonly CLOSED = CLOSED;

	readonly #url: URL;
	readonly #abort = new AbortController();
	#readyState: ReadyState = CONNECTING;
	#protocol = '';
	#extensions = '';
	#binaryType: BinaryType = 'blob';
	#connection: WebsocketConnection | null = null;
	/** Bytes passed to send() that did not reach the connection: pending Blob reads, or sends after close. */
	#pendingBytes = 0;
	/** Sends waiting for an earlier Blob to be read, in order. */
	#sendQueue: SendData[] = [];
	#pumping = false;
	#errored = false;
	#closeFired = false;
	readonly #handlers = new Map<string, Handler<Event>>();

	/**
	 * Starts connecting to `url`.
	 *
	 * @param url - A `ws:`, `wss:`, `http:` or `https:` URL without a fragment.
	 * @param protocols - The subprotocols to offer: distinct tokens.
	 * @throws {DOMException} `SyntaxError` for an invalid URL or subprotocol list.
	 */
	constructor(url: string | URL, protocols?: string | readonly string[]) {
		super();
		this.#url = parseUrl(url);
		const offered = parseProtocols(protocols);
		websocketConnect(this.#url, null, offered.length === 0 ? null : offered, {signal: this.#abort.signal}).then(
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

	/** The subprotocol the server selected, `''` until open or when none. */
	get protocol(): string {
		return this.#protocol;
	}

	/** The accepted extensions as a `Sec-WebSocket-Extensions` value, `''` until open or when none. */
	get extensions(): string {
		return this.#extensions;
	}

	/** How binary messages are exposed: `'blob'` (the default) or `'arraybuffer'`. Other values are ignored. */
	get binaryType(): BinaryType {
		return this.#binaryType;
	}

	set binaryType(value: BinaryType) {
		if (value === 'blob' || value === 'arraybuffer') {
			this.#binaryType = value;
		}
	}

	/** Bytes queued by send() and not yet handed to the network (including sends after close, per the standard). */
	get bufferedAmount(): number {
		return this.#pendingBytes + (this.#connection?.bufferedAmount ?? 0);
	}

	get onopen(): Handler<Event> {
		return this.#getHandler('open');
	}

	set onopen(handler: Handler<Event>) {
		this.#setHandler('open', handler);
	}

	get onmessage(): Handler<MessageEvent> {
		return this.#getHandler('message') as Handler<MessageEvent>;
	}

	set onmessage(handler: Handler<MessageEvent>) {
		this.#setHandler('message', handler as Handler<Event>);
	}

	get onerror(): Handler<Event> {
		return this.#getHandler('error');
	}

	set onerror(handler: Handler<Event>) {
		this.#setHandler('error', handler);
	}

	get onclose(): Handler<CloseEvent> {
		return this.#getHandler('close') as Handler<CloseEvent>;
	}

	set onclose(handler: Handler<CloseEvent>) {
		this.#setHandler('close', handler as Handler<Event>);
	}

	/**
	 * Sends a text (string) or binary message. After close() the bytes only add to `bufferedAmount`.
	 *
	 * @throws {DOMException} `InvalidStateError` while CONNECTING.
	 */
	send(data: SendData): void {
		if (this.#readyState === CONNECTING) {
			throw new DOMException("Failed to execute 'send' on 'WebSocket': Still in CONNECTING state.", 'InvalidStateError');
		}

		if (typeof data !== 'string' && !(data instanceof Blob) && !(data instanceof ArrayBuffer) && !ArrayBuffer.isView(data)) {
			data = String(data);
		}

		// The peer may have started closing before the task that sets CLOSING ran: count, don't send.
		if (this.#readyState !== OPEN || this.#connection?.getState() !== WebsocketState.OPEN) {
			this.#pendingBytes += byteLength(data);
			return;
		}

		if (this.#sendQueue.length === 0 && !(data instanceof Blob)) {
			this.#sendNow(this.#connection, data);
			return;
		}

		this.#pendingBytes += byteLength(data);
		this.#sendQueue.push(data);
		void this.#pump();
	}

	/**
	 * Starts the closing handshake (or fails a connection still CONNECTING). Does nothing once CLOSING or CLOSED.
	 *
	 * @param code - 1000 or 3000–4999; none sends an empty Close frame (1000 when only `reason` is given).
	 * @param reason - At most 123 bytes of UTF-8.
	 * @throws {DOMException} `InvalidAccessError` for another code; `SyntaxError` for a longer reason.
	 */
	close(code?: number, reason?: string): void {
		if (code !== undefined) {
			code = Number(code);
			if (!Number.isFinite(code)) {
				throw new TypeError(`The code ${String(code)} is not a number.`);
			}

			code = Math.trunc(code);
			if (code !== 1000 && (code < 3000 || code > 4999)) {
				throw new DOMException(
					`The close code must be either 1000, or between 3000 and 4999. ${code} is neither.`,
					'InvalidAccessError',
				);
			}
		}

		if (reason !== undefined) {
			reason = String(reason);
			if (Buffer.byteLength(reason) > 123) {
				throw syntaxError('The close reason must not be greater than 123 UTF-8 bytes.');
			}
		}

		if (this.#readyState === CLOSING || this.#readyState === CLOSED) {
			return;
		}

		if (this.#readyState === CONNECTING) {
			this.#readyState = CLOSING;
			this.#abort.abort();
			// A handshake that already completed is dropped: the connection never opens.
			return;
		}

		this.#readyState = CLOSING;
		const effectiveCode = code ?? (reason === undefined ? 1005 : 1000);
		this.#connection?.close(effectiveCode, effectiveCode === 1005 ? null : (reason ?? null));
	}

	// --- Internals -------------------------------------------------------------------------------

	#getHandler(type: string): Handler<Event> {
		return this.#handlers.get(type) ?? null;
	}

	#setHandler(type: string, handler: Handler<Event>): void {
		const value = typeof handler === 'function' ? handler : null;
		if (!this.#handlers.has(type)) {
			// Like an event handler attribute: one listener, added when first set, calling the current handler.
			this.addEventListener(type, event => {
				const current = this.#handlers.get(type);
				if (typeof current === 'function') {
					current.call(this, event);
				}
			});
		}

		this.#handlers.set(type, value);
	}

	/** Runs `task` as a task of the event loop; tasks run in the order queued. */
	#queueTask(task: () => void): void {
		setImmediate(task);
	}

	#sendNow(connection: WebsocketConnection, data: string | ArrayBuffer | ArrayBufferView | Buffer): void {
		if (typeof data === 'string') {
			connection.sendText(data);
		} else {
			connection.sendBinary(toBytes(data));
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
				const payload = data instanceof Blob ? Buffer.from(await data.arrayBuffer()) : data;
				this.#sendQueue.shift();
				const connection = this.#connection;
				if (this.#readyState === OPEN && connection?.getState() === WebsocketState.OPEN) {
					this.#pendingBytes -= byteLength(data);
					this.#sendNow(connection, payload);
				}
			}
		} finally {
			this.#pumping = false;
		}
	}

	#opened(connection: WebsocketConnection): void {
		if (this.#readyState !== CONNECTING) {
			// close() ran while the handshake finished: drop the connection.
			connection.getIoStream().destroy();
			this.#fail();
			return;
		}

		this.#connection = connection;
		connection.connect('message', (_self, type, data) => {
			this.#queueTask(() => {
				this.#dispatchMessage(type, data);
			});
		});
		connection.connect('error', () => {
			this.#errored = true;
		});
		connection.connect('closing', () => {
			this.#queueTask(() => {
				if (this.#readyState === OPEN) {
					this.#readyState = CLOSING;
				}
			});
		});
		void connection.closed.then(info => {
			if (info.error !== null) {
				this.#errored = true;
			}

			this.#queueTask(() => {
				const clean = info.wasClean && !this.#errored;
				this.#readyState = CLOSED;
				if (this.#errored) {
					this.dispatchEvent(new Event('error'));
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

	/** Fails the connection: `error`, then `close` with 1006. */
	#fail(): void {
		if (this.#errored || this.#closeFired) {
			return;
		}

		this.#errored = true;
		this.#queueTask(() => {
			this.#readyState = CLOSED;
			this.dispatchEvent(new Event('error'));
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
		this.dispatchEvent(new CloseEvent('close', {wasClean, code, reason}));
	}
}
