// Node glue, client side: libsoup's soup_session_websocket_connect_async over a net or tls socket.

import {connect as netConnect, isIP, type Socket} from 'node:net';
import {connect as tlsConnect, type ConnectionOptions} from 'node:tls';
import {WebsocketConnectionType} from '../websocket/constants.ts';
import {WebsocketConnection} from '../websocket/connection.ts';
import {debug, publishHandshakeRefused} from '../websocket/diagnostics.ts';
import {WebsocketError, WebsocketErrorCode} from '../websocket/errors.ts';
import type {WebsocketExtension, WebsocketExtensionClass} from '../websocket/extensions/extension.ts';
import {clientPrepareHandshake, clientVerifyHandshake} from '../websocket/handshake.ts';
import {MAX_HEAD_SIZE, Message, findHeadEnd, formatRequestHead, parseResponseHead} from '../websocket/message.ts';
import {validateConnectionOptions} from './connection-options.ts';
import {connectOverHttp2, validateHttp2Option, type WebsocketHttp2Option} from './http2-client.ts';


/** The default of {@link WebsocketConnectOptions.handshakeTimeout}: 30 s. */
export const DEFAULT_HANDSHAKE_TIMEOUT = 30_000;

/** At most this much of the body of a refused handshake (a non-101 response) is kept on the message. */
export const MAX_REFUSED_BODY_SIZE = 64 * 1024;

/** Extra request headers: an object (a value may be an array for a repeated header) or name/value pairs. */
export type RequestHeadersInit =
	| Readonly<Record<string, string | readonly string[]>>
	| Iterable<readonly [string, string]>;

/** Options of {@link websocketConnect}. */
export interface WebsocketConnectOptions {
	/** Extra request headers, appended before the handshake headers are set (`Authorization`, `Cookie`, …). */
	headers?: RequestHeadersInit | undefined;
	/** Aborts the handshake: the promise rejects with `WS_ERR_ABORTED` and the socket is destroyed. No effect once settled. */
	signal?: AbortSignal | undefined;
	/**
	 * Milliseconds for the whole handshake (TCP connect, TLS, request, response); 0 = no limit.
	 *
	 * @defaultValue 30000
	 */
	handshakeTimeout?: number | undefined;
	/** Passed to `tls.connect()` for `wss:` and `https:` (ca, cert, key, rejectUnauthorized, servername, …). */
	tls?: ConnectionOptions | undefined;
	/** The extension classes to offer (libsoup's `SoupWebsocketExtensionManager` list). Default: none. */
	extensions?: readonly WebsocketExtensionClass[] | null | undefined;
	/** The connection's `max-incoming-payload-size` (bytes per frame, 0 = unlimited); default 128 KiB. */
	maxIncomingPayloadSize?: number | undefined;
	/** The connection's `max-total-message-size` (bytes per message, 0 = unlimited); default 0 on a client, as libsoup. */
	maxTotalMessageSize?: number | undefined;
	/** The connection's `keepalive-interval` in seconds; default 0 (off). */
	keepaliveInterval?: number | undefined;
	/** The connection's `keepalive-pong-timeout` in seconds; default 0 (off). */
	keepalivePongTimeout?: number | undefined;
	/** The connection's `max-incoming-fragments` (frames per message, 0 = unlimited); default 4096. */
	maxIncomingFragments?: number | undefined;
	/** The connection's `max-buffered-amount` (bytes waiting to be sent past which reading stops, 0 = off); default 0 on a client. */
	maxBufferedAmount?: number | undefined;
	/** The connection's `close-timeout`: milliseconds the close handshake and its drain may take; default 5000. */
	closeTimeout?: number | undefined;
	/** The connection's `idle-timeout` in seconds (no data frame for so long closes with 1001); default 0 (off). */
	idleTimeout?: number | undefined;
	/**
	 * WebSocket over HTTP/2 (RFC 8441): `true` opens a stream of a new HTTP/2 session (TLS for
	 * `wss:`, prior knowledge for `ws:`), closed with the WebSocket; a `ClientHttp2Session` opens a
	 * stream of that session, which the WebSocket never closes (many WebSockets may share it);
	 * `'auto'` uses HTTP/2 when the `wss:` server picks `h2` by ALPN and allows extended CONNECT, and
	 * HTTP/1.1 otherwise. Either way the stream is opened only once the server's SETTINGS show
	 * `ENABLE_CONNECT_PROTOCOL`. See docs/http2.md.
	 *
	 * @defaultValue false
	 */
	http2?: WebsocketHttp2Option | undefined;
}

/** Messages in use by a handshake: libsoup fails a message that is already queued. */
const inFlight = new WeakSet<Message>();

function appendHeaders(msg: Message, headers: RequestHeadersInit): void {
	if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
		for (const [name, value] of headers as Iterable<readonly [string, string]>) {
			msg.requestHeaders.append(name, value);
		}

		return;
	}

	for (const [name, value] of Object.entries(headers as Record<string, string | readonly string[]>)) {
		if (typeof value === 'string') {
			msg.requestHeaders.append(name, value);
		} else {
			for (const item of value) {
				msg.requestHeaders.append(name, item);
			}
		}
	}
}

function validateMilliseconds(value: unknown, name: string): number {
	if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 2_147_483_647) {
		throw new TypeError(`Expected \`${name}\` to be a whole number of milliseconds (0–2147483647), got \`${String(value)}\``);
	}

	return value;
}

function abortedError(signal: AbortSignal): WebsocketError {
	return new WebsocketError(WebsocketErrorCode.FAILED, 'WS_ERR_ABORTED', 'Operation was cancelled', {
		cause: signal.reason,
	});
}

/** Statuses whose responses have no body (RFC 7230 §3.3.3). */
function hasNoBody(status: number): boolean {
	return status < 200 || status === 204 || status === 304;
}

/**
 * Decodes as much of a chunked body (RFC 7230 §4.1) as `data` holds; trailers are ignored.
 * `complete` is true once the last chunk arrived, or when the framing is broken (nothing more can be read).
 */
function decodeChunked(data: Buffer): {complete: boolean; body: Buffer} {
	const parts: Buffer[] = [];
	let pos = 0;
	// Every iteration consumes at least the size line, so the loop ends.
	while (pos < data.length) {
		const lineEnd = data.indexOf('\r\n', pos, 'latin1');
		if (lineEnd === -1) {
			break; // need more data
		}

		const sizeText = data.toString('latin1', pos, lineEnd).split(';', 1)[0]?.trim() ?? '';
		if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText)) {
			return {complete: true, body: Buffer.concat(parts)};
		}

		const size = Number.parseInt(sizeText, 16);
		pos = lineEnd + 2;
		if (size === 0) {
			return {complete: true, body: Buffer.concat(parts)};
		}

		parts.push(data.subarray(pos, Math.min(pos + size, data.length)));
		pos += size + 2;
	}

	return {complete: false, body: Buffer.concat(parts)};
}

/** Whether `value` is an IP literal (a TLS `servername` must not be one). */
function isIpHost(host: string): boolean {
	return isIP(host) !== 0;
}

/**
 * Opens a WebSocket connection: libsoup's `soup_session_websocket_connect_async()` and `_finish()`.
 *
 * Connects to the URI's host over TCP (`ws:`, `http:`) or TLS (`wss:`, `https:`), sends the
 * request prepared by {@link clientPrepareHandshake} (with `origin`, `protocols` and the offered
 * extensions) over HTTP/1.1, reads the response head, and on `101 Switching Protocols` verifies it
 * with {@link clientVerifyHandshake}. The connection is a CLIENT connection with `uri` the message's
 * URI, `origin` the request's `Origin`, `protocol` the response's `Sec-WebSocket-Protocol` and the
 * accepted extensions. Bytes the server sent right after the 101, in the same packet, are handed to
 * the connection; they are delivered only after the caller's continuation ran, so handlers connected
 * right after `await` see the first message.
 *
 * Redirects and authentication are not followed (a 3xx or 401 is a refused handshake).
 *
 * @param urlOrMessage - A `ws:`, `wss:`, `http:` or `https:` URI, or a {@link Message} whose request
 *   headers are sent too and which keeps the response (status, headers, body) afterwards.
 * @param origin - The `Origin` to send, or `null`.
 * @param protocols - The subprotocols to offer, in order of preference, or `null`.
 * @param options - Headers, abort signal, timeout, TLS options, extensions and connection limits.
 * @returns The open connection.
 * @throws {WebsocketError} `NOT_WEBSOCKET` "The server did not accept the WebSocket handshake." for a
 *   response other than 101 (reason `WS_ERR_UNEXPECTED_RESPONSE`; the message keeps the response and
 *   up to 64 KiB of its body); the error of {@link clientVerifyHandshake} for a 101 that fails
 *   verification; `FAILED` with reason `WS_ERR_ABORTED`, `WS_ERR_HANDSHAKE_TIMEOUT`,
 *   `WS_ERR_CONNECTION_CLOSED` (the server closed before its response head was complete),
 *   `WS_ERR_HEADERS_TOO_LARGE` or `WS_ERR_INVALID_HTTP`.
 * @throws {Error} the socket's own error for transport failures (`ECONNREFUSED`, `ENOTFOUND`, TLS errors).
 * @throws {TypeError} for an invalid URI, header, argument or option, or a message already in use.
 */
export async function websocketConnect(
	urlOrMessage: string | URL | Message,
	origin: string | null = null,
	protocols: readonly string[] | null = null,
	options: WebsocketConnectOptions = {},
): Promise<WebsocketConnection> {
	const msg = urlOrMessage instanceof Message ? urlOrMessage : new Message('GET', urlOrMessage);
	if (inFlight.has(msg)) {
		throw new TypeError('Expected `msg` not to be in use by another websocketConnect()');
	}

	const timeout = validateMilliseconds(options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT, 'handshakeTimeout');
	validateConnectionOptions(options);
	if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
		throw new TypeError(`Expected \`signal\` to be an AbortSignal, got \`${String(options.signal)}\``);
	}

	validateHttp2Option(options.http2);
	const supported = options.extensions ?? null;
	if (options.headers !== undefined) {
		appendHeaders(msg, options.headers);
	}

	if (options.http2 !== undefined && options.http2 !== false) {
		// The headers are on the message now: the HTTP/1.1 fallback must not append them again.
		return connectOverHttp2(msg, origin, protocols, supported, timeout, options, async left =>
			websocketConnect(msg, origin, protocols, {...options, headers: undefined, http2: false, handshakeTimeout: left}),
		);
	}

	// libsoup forces HTTP/1.1: there is no WebSocket over HTTP/1.0 (RFC 6455 §4.1).
	msg.httpVersion = '1.1';
	clientPrepareHandshake(msg, origin, protocols, supported);

	const {signal} = options;
	if (signal?.aborted) {
		throw abortedError(signal);
	}

	inFlight.add(msg);
	try {
		return await handshake(msg, supported, timeout, options);
	} finally {
		inFlight.delete(msg);
	}
}

function openSocket(uri: URL, tlsOptions: ConnectionOptions | undefined): Socket {
	const secure = uri.protocol === 'wss:' || uri.protocol === 'https:';
	const host = uri.hostname.startsWith('[') ? uri.hostname.slice(1, -1) : uri.hostname;
	const port = uri.port === '' ? (secure ? 443 : 80) : Number(uri.port);
	if (!secure) {
		return netConnect({host, port, noDelay: true});
	}

	const options: ConnectionOptions = {ALPNProtocols: ['http/1.1'], ...tlsOptions, host, port};
	if (options.servername === undefined && !isIpHost(host)) {
		options.servername = host;
	}

	const socket = tlsConnect(options);
	socket.setNoDelay(true);
	return socket;
}

/** Sends the request and reads the response; resolves with the connection once a 101 was verified. */
async function handshake(
	msg: Message,
	supported: readonly WebsocketExtensionClass[] | null,
	timeout: number,
	options: WebsocketConnectOptions,
): Promise<WebsocketConnection> {
	const socket = openSocket(msg.uri, options.tls);
	const {signal} = options;

	return new Promise<WebsocketConnection>((resolve, reject) => {
		let received: Buffer = Buffer.alloc(0);
		/** Set once a refused response's head is parsed: the body is being read. */
		let refused = false;
		let settled = false;
		let timer: NodeJS.Timeout | undefined;

		const cleanup = (): void => {
			settled = true;
			clearTimeout(timer);
			signal?.removeEventListener('abort', onAbort);
			socket.removeListener('data', onData);
			socket.removeListener('end', onEnd);
			socket.removeListener('error', onError);
			socket.removeListener('close', onClose);
		};

		const fail = (error: Error): void => {
			if (settled) {
				return;
			}

			cleanup();
			debug('handshake failed: %s', error.message);
			// The server said no (not a 101), or its 101 does not verify: a refusal, not an I/O failure.
			if (error instanceof WebsocketError && (error.code === WebsocketErrorCode.NOT_WEBSOCKET || error.code === WebsocketErrorCode.BAD_HANDSHAKE)) {
				publishHandshakeRefused('client', msg, error);
			}

			// Keep a listener: the socket may still report an error while being destroyed.
			socket.on('error', () => {});
			socket.destroy();
			reject(error);
		};

		/** A response other than 101: keep it on the message and report libsoup's NOT_WEBSOCKET. */
		const finishRefused = (body: Buffer | null): void => {
			msg.responseBody = body === null || body.length === 0 ? null : body.subarray(0, MAX_REFUSED_BODY_SIZE);
			fail(
				new WebsocketError(
					WebsocketErrorCode.NOT_WEBSOCKET,
					'WS_ERR_UNEXPECTED_RESPONSE',
					'The server did not accept the WebSocket handshake.',
				),
			);
		};

		/** Reads the body of a refused response; finishes when it is complete, too long, or on EOF. */
		const readRefusedBody = (ended: boolean): void => {
			const headers = msg.responseHeaders;
			if (headers.headerContains('Transfer-Encoding', 'chunked')) {
				const {complete, body} = decodeChunked(received);
				// The raw bytes are bounded too: endless chunk-size lines or extensions yield no body.
				if (complete || ended || body.length >= MAX_REFUSED_BODY_SIZE || received.length >= 2 * MAX_REFUSED_BODY_SIZE) {
					finishRefused(body);
				}

				return;
			}

			const lengthText = headers.getOne('Content-Length');
			const length = lengthText !== null && /^\d{1,15}$/.test(lengthText) ? Number(lengthText) : null;
			const wanted = Math.min(length ?? Number.POSITIVE_INFINITY, MAX_REFUSED_BODY_SIZE);
			if (ended || received.length >= wanted) {
				finishRefused(received.subarray(0, Math.min(received.length, wanted)));
			}
		};

		/** Parses as many heads as `received` holds: 1xx interim responses are skipped, as libsoup does. */
		const processHeads = (): void => {
			// Each pass consumes a whole head, so the loop is bounded by the data received.
			for (;;) {
				const end = findHeadEnd(received, MAX_HEAD_SIZE);
				if (end === -1) {
					return; // need more data
				}

				parseResponseHead(msg, received.subarray(0, end));
				received = received.subarray(end);
				const status = msg.statusCode;
				if (status === 101) {
					const extensions = clientVerifyHandshake(msg, supported);
					// Build the connection now, in this 'data' callback: the bytes after the head go
					// back into the socket before it can emit 'end'.
					cleanup();
					let connection: WebsocketConnection;
					try {
						connection = openConnection(msg, socket, received, extensions, options);
					} catch (error) {
						socket.destroy();
						reject(error as Error);
						return;
					}

					resolve(connection);
					return;
				}

				if (status < 200) {
					debug('skipping interim response %d', status);
					continue;
				}

				refused = true;
				if (hasNoBody(status)) {
					finishRefused(null);
				} else {
					readRefusedBody(false);
				}

				return;
			}
		};

		const onData = (chunk: Buffer): void => {
			received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
			try {
				if (refused) {
					readRefusedBody(false);
				} else {
					processHeads();
				}
			} catch (error) {
				fail(error as Error);
			}
		};

		const onEnd = (): void => {
			if (refused) {
				readRefusedBody(true);
				return;
			}

			fail(
				new WebsocketError(
					WebsocketErrorCode.FAILED,
					'WS_ERR_CONNECTION_CLOSED',
					'Connection terminated unexpectedly',
				),
			);
		};

		const onClose = (): void => {
			onEnd();
		};

		const onError = (error: Error): void => {
			// libsoup 3 reports transport errors as they are (commit 046aac0b).
			fail(error);
		};

		const onAbort = (): void => {
			fail(abortedError(signal!));
		};

		socket.on('data', onData);
		socket.on('end', onEnd);
		socket.on('error', onError);
		socket.on('close', onClose);
		signal?.addEventListener('abort', onAbort, {once: true});
		if (timeout > 0) {
			timer = setTimeout(() => {
				if (refused) {
					readRefusedBody(true);
					return;
				}

				fail(
					new WebsocketError(
						WebsocketErrorCode.FAILED,
						'WS_ERR_HANDSHAKE_TIMEOUT',
						`WebSocket handshake timed out after ${timeout} ms`,
					),
				);
			}, timeout);
		}

		// The socket buffers the request until it is connected.
		socket.write(formatRequestHead(msg), 'latin1');
	});
}

function openConnection(
	msg: Message,
	socket: Socket,
	rest: Buffer,
	extensions: WebsocketExtension[],
	options: WebsocketConnectOptions,
): WebsocketConnection {
	// Paused, the bytes given back are buffered rather than emitted at once.
	socket.pause();
	socket.setTimeout(0);
	if (rest.length > 0) {
		socket.unshift(rest);
	}

	const properties: ConstructorParameters<typeof WebsocketConnection>[0] = {
		ioStream: socket,
		connectionType: WebsocketConnectionType.CLIENT,
		uri: msg.uri,
		origin: msg.requestHeaders.getOne('Origin'),
		protocol: msg.responseHeaders.getOne('Sec-WebSocket-Protocol'),
		extensions,
	};
	if (options.maxIncomingPayloadSize !== undefined) {
		properties.maxIncomingPayloadSize = options.maxIncomingPayloadSize;
	}

	if (options.maxTotalMessageSize !== undefined) {
		properties.maxTotalMessageSize = options.maxTotalMessageSize;
	}

	if (options.keepaliveInterval !== undefined) {
		properties.keepaliveInterval = options.keepaliveInterval;
	}

	if (options.keepalivePongTimeout !== undefined) {
		properties.keepalivePongTimeout = options.keepalivePongTimeout;
	}

	if (options.maxIncomingFragments !== undefined) {
		properties.maxIncomingFragments = options.maxIncomingFragments;
	}

	if (options.maxBufferedAmount !== undefined) {
		properties.maxBufferedAmount = options.maxBufferedAmount;
	}

	if (options.closeTimeout !== undefined) {
		properties.closeTimeout = options.closeTimeout;
	}

	if (options.idleTimeout !== undefined) {
		properties.idleTimeout = options.idleTimeout;
	}

	let connection: WebsocketConnection;
	try {
		connection = new WebsocketConnection(properties);
	} catch (error) {
		socket.destroy();
		throw error;
	}

	return connection;
}
