// OpenHarmony net_websocket facade: OH_WebSocketClient_* (callbacks at construction, int return codes) over websoup.

import {websocketConnect} from '../node/client.ts';
import {websocketReconnect, type WebsocketBackoffOptions} from '../node/reconnect.ts';
import {WebsocketDataType} from '../websocket/constants.ts';
import type {WebsocketConnection} from '../websocket/connection.ts';
import {WebsocketError} from '../websocket/errors.ts';
import {isToken} from '../websocket/validation.ts';

/**
 * OpenHarmony's `WebSocket_ErrCode`. The numbering follows OpenHarmony's `net_websocket_type.h` as
 * best known (E_BASE 1000 + n; there is no 1004). Functions return 0 on success, else one of these;
 * the `onError` callback reports them too.
 */
export const WebSocketErrCode = {
	OK: 0,
	E_BASE: 1000,
	CLIENT_NULL: 1001,
	CLIENT_NOT_CREATED: 1002,
	CONNECTION_ERROR: 1003,
	CONNECTION_PARSE_URL_ERROR: 1005,
	CONNECTION_NO_MEMORY: 1006,
	CONNECTION_CLOSED_BY_PEER: 1007,
	DESTROYED: 1008,
	PROTOCOL_ERROR: 1009,
	SEND_NO_MEMORY: 1010,
	SEND_DATA_NULL: 1011,
	DATA_LENGTH_EXCEEDED: 1012,
	QUEUE_LENGTH_EXCEEDED: 1013,
	NO_CLIENT_CONTEXT: 1014,
	NO_HEADER_CONTEXT: 1015,
	HEADER_EXCEEDED: 1016,
	NO_CONNECTION: 1017,
	NO_CONNECTION_CONTEXT: 1018,
} as const;
export type WebSocketErrCode = (typeof WebSocketErrCode)[keyof typeof WebSocketErrCode];

/** `WebSocket_OpenResult`: the handshake's HTTP status and reason phrase (101, 'Switching Protocols'). */
export interface WebSocketOpenResult {
	code: number;
	reason: string;
}

/** `WebSocket_CloseResult`: the peer's close code (1006 when the connection dropped) and reason. */
export interface WebSocketCloseResult {
	code: number;
	reason: string;
}

/** `WebSocket_ErrorResult`: a {@link WebSocketErrCode} and a message. */
export interface WebSocketErrorResult {
	errorCode: number;
	errorMessage: string;
}

/** `WebSocket_CloseOption` of {@link WebSocketClient.close}. */
export interface WebSocketCloseOption {
	code?: number | undefined;
	reason?: string | undefined;
}

/** The callbacks of `OH_WebSocketClient_Constructor`. */
export interface WebSocketClientCallbacks {
	onOpen?: ((client: WebSocketClient, openResult: WebSocketOpenResult) => void) | undefined;
	onMessage?: ((client: WebSocketClient, data: string | Buffer, length: number) => void) | undefined;
	onError?: ((client: WebSocketClient, errorResult: WebSocketErrorResult) => void) | undefined;
	onClose?: ((client: WebSocketClient, closeResult: WebSocketCloseResult) => void) | undefined;
}

/** Headers for {@link WebSocketClient.connect}, added after those given with `addHeader`. */
export type WebSocketHeaders = Readonly<Record<string, string>> | ReadonlyArray<readonly [string, string]>;

/** `WebSocket_RequestOptions` of {@link WebSocketClient.connect}, with websoup's limits. */
export interface WebSocketRequestOptions {
	headers?: WebSocketHeaders | undefined;
	protocols?: readonly string[] | undefined;
	origin?: string | undefined;
	/** Largest message `send` accepts, and the incoming frame limit (bytes). Default 4 MiB. */
	maxPayload?: number | undefined;
	/** Bound on `bufferedAmount` plus the message being sent; above it `send` returns QUEUE_LENGTH_EXCEEDED. Default 16 MiB. */
	maxQueueSize?: number | undefined;
	/** Handshake timeout in ms (websoup's `handshakeTimeout`). Default 30 s. */
	handshakeTimeout?: number | undefined;
	/**
	 * websoup's addition: connect again after a loss that means "try again" (1001, 1006, 1011,
	 * 1012, 1013, a network error, a 5xx), as {@link websocketReconnect} does, with this backoff
	 * (`true`: its defaults). Each new connection calls `onOpen`, each loss `onClose`; retried
	 * handshake failures are not reported. `close()` ends it after the close handshake,
	 * `destroy()` at any time.
	 */
	reconnect?: boolean | WebsocketBackoffOptions | undefined;
}

/** Default {@link WebSocketRequestOptions.maxPayload}: 4 MiB. */
export const DEFAULT_MAX_PAYLOAD = 4 * 1024 * 1024;
/** Default {@link WebSocketRequestOptions.maxQueueSize}: 16 MiB. */
export const DEFAULT_MAX_QUEUE_SIZE = 16 * 1024 * 1024;
/** At most this many headers (addHeader plus options.headers). */
export const MAX_HEADERS = 64;
/** At most this many bytes of header names and values together. */
export const MAX_HEADER_BYTES = 8 * 1024;

const BAD_VALUE = /[\r\n\0]/;

const ABNORMAL_CLOSE = 1006;
const NORMAL_CLOSE = 1000;

/** One connect() attempt; events of a superseded or destroyed attempt are ignored. */
interface Attempt {
	abort: AbortController;
	conn: WebsocketConnection | null;
	maxPayload: number;
	maxQueueSize: number;
	errorReported: boolean;
}

type State = 'idle' | 'connecting' | 'open' | 'closing' | 'closed';

function isPositiveInteger(value: unknown): value is number {
	return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

function messageOf(error: unknown): string {
	return error instanceof Error ? error.message : String(error);
}

/**
 * OpenHarmony's `struct WebSocket` client (`OH_WebSocketClient_*`): callbacks given at construction,
 * methods returning 0 or a {@link WebSocketErrCode}, events delivered asynchronously.
 */
export class WebSocketClient {
	readonly #callbacks: WebSocketClientCallbacks;
	readonly #headers: Array<[string, string]> = [];
	#state: State = 'idle';
	#destroyed = false;
	#attempt: Attempt | null = null;

	/** `OH_WebSocketClient_Constructor(onOpen, onMessage, onError, onClose)`. */
	constructor(callbacks: WebSocketClientCallbacks = {}) {
		this.#callbacks = {...callbacks};
	}

	/** Whether `destroy()` was called. */
	get destroyed(): boolean {
		return this.#destroyed;
	}

	/** The websoup connection while one is open or closing, else `null`. */
	get connection(): WebsocketConnection | null {
		return this.#attempt?.conn ?? null;
	}

	/**
	 * `OH_WebSocketClient_AddHeader`: a request header for the next `connect`. Returns 0, DESTROYED,
	 * or HEADER_EXCEEDED for a name that is not a token, a value with CR, LF or NUL (header injection),
	 * or more than {@link MAX_HEADERS} headers / {@link MAX_HEADER_BYTES} bytes.
	 */
	addHeader(name: string, value: string): number {
		if (this.#destroyed) {
			return WebSocketErrCode.DESTROYED;
		}

		if (!this.#headersFit([...this.#headers, [name, value]])) {
			return WebSocketErrCode.HEADER_EXCEEDED;
		}

		this.#headers.push([name, value]);
		return WebSocketErrCode.OK;
	}

	/**
	 * `OH_WebSocketClient_Connect`: starts the handshake and returns 0; `onOpen`, or `onError`
	 * (CONNECTION_ERROR) then `onClose` (1006), follow asynchronously. Returns DESTROYED,
	 * CONNECTION_PARSE_URL_ERROR for a URL that is not ws: or wss:, CONNECTION_ERROR when already
	 * connecting or connected, or HEADER_EXCEEDED for bad `options.headers`.
	 *
	 * @throws {TypeError} for a `maxPayload`, `maxQueueSize` or `handshakeTimeout` that is not a positive integer.
	 */
	connect(url: string | URL, options: WebSocketRequestOptions = {}): number {
		const maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
		const maxQueueSize = options.maxQueueSize ?? DEFAULT_MAX_QUEUE_SIZE;
		for (const [name, value] of [
			['maxPayload', maxPayload],
			['maxQueueSize', maxQueueSize],
			['handshakeTimeout', options.handshakeTimeout ?? 1],
		] as const) {
			if (!isPositiveInteger(value)) {
				throw new TypeError(`Expected \`${name}\` to be a positive integer, got \`${String(value)}\``);
			}
		}

		if (this.#destroyed) {
			return WebSocketErrCode.DESTROYED;
		}

		if (this.#state === 'connecting' || this.#state === 'open' || this.#state === 'closing') {
			return WebSocketErrCode.CONNECTION_ERROR;
		}

		let uri: URL;
		try {
			uri = new URL(url);
		} catch {
			return WebSocketErrCode.CONNECTION_PARSE_URL_ERROR;
		}

		if ((uri.protocol !== 'ws:' && uri.protocol !== 'wss:') || uri.hostname === '') {
			return WebSocketErrCode.CONNECTION_PARSE_URL_ERROR;
		}

		const extra: Array<[string, string]> = [];
		if (options.headers !== undefined) {
			const entries = Array.isArray(options.headers)
				? (options.headers as ReadonlyArray<readonly [string, string]>)
				: Object.entries(options.headers as Readonly<Record<string, string>>);
			for (const [name, value] of entries) {
				extra.push([name, value]);
			}
		}

		const headers = [...this.#headers, ...extra];
		if (!this.#headersFit(headers)) {
			return WebSocketErrCode.HEADER_EXCEEDED;
		}

		const attempt: Attempt = {abort: new AbortController(), conn: null, maxPayload, maxQueueSize, errorReported: false};
		if (options.reconnect !== undefined && options.reconnect !== false) {
			this.#connectReconnecting(attempt, uri, options, headers);
			return WebSocketErrCode.OK;
		}

		this.#attempt = attempt;
		this.#state = 'connecting';
		websocketConnect(uri, options.origin ?? null, options.protocols ?? null, {
			headers,
			signal: attempt.abort.signal,
			maxIncomingPayloadSize: maxPayload,
			...(options.handshakeTimeout === undefined ? {} : {handshakeTimeout: options.handshakeTimeout}),
		}).then(
			conn => {
				if (this.#attempt !== attempt) {
					conn.getIoStream().destroy();
					return;
				}

				attempt.conn = conn;
				this.#state = 'open';
				this.#wire(attempt, conn);
				this.#callbacks.onOpen?.(this, {code: 101, reason: 'Switching Protocols'});
			},
			(error: unknown) => {
				this.#connectFailed(attempt, error);
			},
		);
		return WebSocketErrCode.OK;
	}

	/**
	 * `OH_WebSocketClient_Send`: a text message for a string, binary for bytes. Returns 0, DESTROYED,
	 * NO_CONNECTION unless open, SEND_DATA_NULL for neither, DATA_LENGTH_EXCEEDED over `maxPayload`,
	 * or QUEUE_LENGTH_EXCEEDED when `bufferedAmount` plus the message exceeds `maxQueueSize`.
	 */
	send(data: string | Uint8Array): number {
		if (this.#destroyed) {
			return WebSocketErrCode.DESTROYED;
		}

		const attempt = this.#attempt;
		const conn = attempt?.conn;
		if (this.#state !== 'open' || attempt === null || conn === null || conn === undefined) {
			return WebSocketErrCode.NO_CONNECTION;
		}

		let length: number;
		if (typeof data === 'string') {
			length = Buffer.byteLength(data, 'utf8');
		} else if (data instanceof Uint8Array) {
			length = data.byteLength;
		} else {
			return WebSocketErrCode.SEND_DATA_NULL;
		}

		if (length > attempt.maxPayload) {
			return WebSocketErrCode.DATA_LENGTH_EXCEEDED;
		}

		if (conn.bufferedAmount + length > attempt.maxQueueSize) {
			return WebSocketErrCode.QUEUE_LENGTH_EXCEEDED;
		}

		if (typeof data === 'string') {
			conn.sendText(data);
		} else {
			conn.sendBinary(data);
		}

		return WebSocketErrCode.OK;
	}

	/**
	 * `OH_WebSocketClient_Close`: starts the close handshake (default code 1000); `onClose` follows.
	 * Returns 0, DESTROYED, NO_CONNECTION unless open, or PROTOCOL_ERROR for a code a client may not
	 * send or a reason over 123 bytes.
	 */
	close(option: WebSocketCloseOption = {}): number {
		if (this.#destroyed) {
			return WebSocketErrCode.DESTROYED;
		}

		const conn = this.#attempt?.conn;
		if (this.#state !== 'open' || conn === null || conn === undefined) {
			return WebSocketErrCode.NO_CONNECTION;
		}

		const code = option.code ?? NORMAL_CLOSE;
		const reason = option.reason === undefined || option.reason === '' ? null : option.reason;
		try {
			conn.close(code, reason);
		} catch (error) {
			if (error instanceof RangeError || error instanceof TypeError) {
				return WebSocketErrCode.PROTOCOL_ERROR;
			}

			throw error;
		}

		this.#state = 'closing';
		return WebSocketErrCode.OK;
	}

	/**
	 * `OH_WebSocketClient_Destroy`: aborts a handshake or tears the socket down without a close
	 * handshake. If a connection was starting or open, `onError` (DESTROYED) and `onClose` (1006)
	 * follow asynchronously. Returns 0, or DESTROYED when already destroyed; every later call returns
	 * DESTROYED.
	 */
	destroy(): number {
		if (this.#destroyed) {
			return WebSocketErrCode.DESTROYED;
		}

		this.#destroyed = true;
		const attempt = this.#attempt;
		const active = this.#state === 'connecting' || this.#state === 'open' || this.#state === 'closing';
		this.#attempt = null;
		this.#state = 'closed';
		this.#headers.length = 0;
		if (attempt !== null) {
			attempt.abort.abort();
			attempt.conn?.getIoStream().destroy();
		}

		if (active) {
			queueMicrotask(() => {
				this.#callbacks.onError?.(this, {
					errorCode: WebSocketErrCode.DESTROYED,
					errorMessage: 'The WebSocket client was destroyed',
				});
				this.#callbacks.onClose?.(this, {code: ABNORMAL_CLOSE, reason: 'destroyed'});
			});
		}

		return WebSocketErrCode.OK;
	}

	/** The connection of `attempt` could not be made (for good, when reconnecting): error, then close, unless a newer connect() took over. */
	#connectFailed(attempt: Attempt, error: unknown): void {
		if (this.#attempt !== attempt) {
			return;
		}

		this.#state = 'closed';
		const errorMessage = messageOf(error);
		this.#callbacks.onError?.(this, {errorCode: WebSocketErrCode.CONNECTION_ERROR, errorMessage});
		this.#callbacks.onClose?.(this, {code: ABNORMAL_CLOSE, reason: errorMessage});
	}

	/** connect() with `reconnect`: each connection of websocketReconnect() is wired as a connect() would wire it. */
	#connectReconnecting(attempt: Attempt, uri: URL, options: WebSocketRequestOptions, headers: Array<[string, string]>): void {
		if (options.reconnect !== true && (typeof options.reconnect !== 'object' || options.reconnect === null)) {
			throw new TypeError(`Expected \`reconnect\` to be a boolean or backoff options, got \`${String(options.reconnect)}\``);
		}

		const connections = websocketReconnect(uri, options.origin ?? null, options.protocols ?? null, {
			headers,
			signal: attempt.abort.signal,
			maxIncomingPayloadSize: attempt.maxPayload,
			...(options.handshakeTimeout === undefined ? {} : {handshakeTimeout: options.handshakeTimeout}),
			...(typeof options.reconnect === 'object' ? {backoff: options.reconnect} : {}),
			onRetry: () => {
				if (this.#attempt === attempt) {
					this.#state = 'connecting';
				}
			},
		});
		this.#attempt = attempt;
		this.#state = 'connecting';
		void (async () => {
			try {
				for await (const conn of connections) {
					if (this.#attempt !== attempt) {
						conn.getIoStream().destroy();
						return;
					}

					attempt.conn = conn;
					attempt.errorReported = false;
					this.#state = 'open';
					this.#wire(attempt, conn);
					this.#callbacks.onOpen?.(this, {code: 101, reason: 'Switching Protocols'});
				}
			} catch (error) {
				this.#connectFailed(attempt, error);
			}
		})();
	}

	#headersFit(headers: ReadonlyArray<readonly [string, string]>): boolean {
		if (headers.length > MAX_HEADERS) {
			return false;
		}

		let bytes = 0;
		for (const [name, value] of headers) {
			if (typeof name !== 'string' || typeof value !== 'string' || !isToken(name) || BAD_VALUE.test(value)) {
				return false;
			}

			bytes += Buffer.byteLength(name) + Buffer.byteLength(value);
		}

		return bytes <= MAX_HEADER_BYTES;
	}

	#wire(attempt: Attempt, conn: WebsocketConnection): void {
		conn.connect('message', (_self, type, data) => {
			if (this.#attempt === attempt) {
				this.#callbacks.onMessage?.(this, type === WebsocketDataType.TEXT ? data.toString('utf8') : data, data.length);
			}
		});
		conn.connect('error', (_self, error) => {
			if (this.#attempt !== attempt) {
				return;
			}

			attempt.errorReported = true;
			// A WebsocketError on an open connection carries a close code (1002, 1007, 1009, …);
			// anything else is the socket failing under us (ECONNRESET, EPIPE).
			const errorCode =
				error instanceof WebsocketError ? WebSocketErrCode.PROTOCOL_ERROR : WebSocketErrCode.CONNECTION_CLOSED_BY_PEER;
			this.#callbacks.onError?.(this, {errorCode, errorMessage: error.message});
		});
		void conn.closed.then(info => {
			if (this.#attempt !== attempt) {
				return;
			}

			this.#state = 'closed';
			if (!info.wasClean && !attempt.errorReported) {
				attempt.errorReported = true;
				this.#callbacks.onError?.(this, {
					errorCode: WebSocketErrCode.CONNECTION_CLOSED_BY_PEER,
					errorMessage: 'The connection was closed by the peer',
				});
			}

			this.#callbacks.onClose?.(this, {
				code: info.wasClean ? info.code : ABNORMAL_CLOSE,
				reason: info.wasClean ? (info.reason ?? '') : (info.error?.message ?? ''),
			});
		});
	}
}
