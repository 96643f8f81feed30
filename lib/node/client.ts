// Node glue, client side: libsoup's soup_session_websocket_connect_async; checks the arguments, prepares the request, and hands it to the transport.

import type {ConnectionOptions} from 'node:tls';
import {Message} from '../http/message.ts';
import type {WebsocketConnection} from '../websocket/connection.ts';
import {WebsocketError, WebsocketErrorCode} from '../websocket/errors.ts';
import type {WebsocketExtensionClass} from '../websocket/extensions/extension.ts';
import {clientPrepareHandshake} from '../websocket/handshake.ts';
import {validateConnectionOptions} from './connection-options.ts';
import {connectOverHttp1} from './http1-client.ts';
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

/** The error of a handshake aborted by its `signal`. */
export function abortedError(signal: AbortSignal): WebsocketError {
	return new WebsocketError(WebsocketErrorCode.FAILED, 'WS_ERR_ABORTED', 'Operation was cancelled', {
		cause: signal.reason,
	});
}

/**
 * Opens a WebSocket connection: libsoup's `soup_session_websocket_connect_async()` and `_finish()`.
 *
 * Connects to the URI's host over TCP (`ws:`, `http:`) or TLS (`wss:`, `https:`), sends the
 * request prepared by {@link clientPrepareHandshake} (with `origin`, `protocols` and the offered
 * extensions) over HTTP/1.1 through Node's `http.request()` (`https.request()` for TLS), whose
 * parser reads the response, and on `101 Switching Protocols` verifies it with
 * {@link clientVerifyHandshake}. The connection is a CLIENT connection with `uri` the message's
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
		return await connectOverHttp1(msg, supported, timeout, options);
	} finally {
		inFlight.delete(msg);
	}
}
