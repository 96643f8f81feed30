// The HTTP servers websoup makes itself (`websoup serve`): a request head that is late or too large is refused.

import {createServer as createHttpServer, type RequestListener, type Server as HttpServer} from 'node:http';
import {createServer as createHttpsServer, type Server as HttpsServer, type ServerOptions as HttpsServerOptions} from 'node:https';
import {MAX_HEAD_SIZE} from '../http/head.ts';

/** The default of {@link BoundedServerOptions.handshakeTimeout}: the request head within 10 s. */
export const DEFAULT_REQUEST_HEAD_TIMEOUT = 10_000;

/** Node checks its request timeouts at most this often (its own default is every 30 s). */
const MAX_CHECKING_INTERVAL = 1000;

/** …and at least this rarely, however short the bound. */
const MIN_CHECKING_INTERVAL = 10;

/** Largest value a Node timer (and so `headersTimeout`) takes as it is. */
const MAX_TIMEOUT = 2_147_483_647;

/** Options of {@link createBoundedServer}. */
export interface BoundedServerOptions {
	/**
	 * Milliseconds a client has, from its first byte, to send the whole request head (and body, if
	 * any): past it Node's HTTP server answers `408 Request Timeout` and closes the socket. Sets
	 * `headersTimeout` and `requestTimeout`; `connectionsCheckingInterval` is a tenth of it, between
	 * 10 ms and 1 s, so a slow client is dropped within the bound plus at most that. With `tls`, the
	 * TLS handshake gets the same bound (`tls.Server`'s `handshakeTimeout`; the client is then just
	 * disconnected: no HTTP status can be sent before TLS is up). 0 = no limit (Node's defaults for TLS).
	 *
	 * @defaultValue 10000
	 */
	handshakeTimeout?: number | undefined;
	/** TLS options (`cert`, `key`, …): an `https.Server` is made when given. */
	tls?: HttpsServerOptions | null | undefined;
}

function validateTimeout(value: unknown): number {
	if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_TIMEOUT) {
		throw new TypeError(
			`Expected \`handshakeTimeout\` to be a whole number of milliseconds (0–${MAX_TIMEOUT}), got \`${String(value)}\``,
		);
	}

	return value;
}

/**
 * The `http.Server` settings that bound a request head: the time (`headersTimeout`,
 * `requestTimeout`, and a `connectionsCheckingInterval` short enough for them to matter) and the
 * size (`maxHeaderSize`, 16 KiB, over which Node answers 431).
 *
 * @param handshakeTimeout - See {@link BoundedServerOptions.handshakeTimeout}.
 * @throws {TypeError} when `handshakeTimeout` is not a whole number of milliseconds in 0–2147483647.
 */
export function boundedServerSettings(handshakeTimeout: number = DEFAULT_REQUEST_HEAD_TIMEOUT): {
	headersTimeout: number;
	requestTimeout: number;
	connectionsCheckingInterval: number;
	maxHeaderSize: number;
} {
	const bound = validateTimeout(handshakeTimeout);
	const interval = bound === 0
		? 30_000
		: Math.min(MAX_CHECKING_INTERVAL, Math.max(MIN_CHECKING_INTERVAL, Math.ceil(bound / 10)));
	return {headersTimeout: bound, requestTimeout: bound, connectionsCheckingInterval: interval, maxHeaderSize: MAX_HEAD_SIZE};
}

/**
 * Makes an HTTP (or, with `tls`, HTTPS) server whose clients must send their request head within
 * a bound ({@link BoundedServerOptions.handshakeTimeout}, 10 s by default) and in at most 16 KiB:
 * a slow client (slowloris) gets 408 and is disconnected, an oversized head gets 431. Node's own
 * defaults (60 s, checked only every 30 s) would let a slow client hold a socket for up to 90 s.
 *
 * @param options - The bound and the TLS options.
 * @param listener - The `'request'` listener, if any.
 * @returns The server, not yet listening.
 * @throws {TypeError} for an invalid `handshakeTimeout`; TLS errors from `https.createServer()`.
 */
export function createBoundedServer(
	options: BoundedServerOptions = {},
	listener?: RequestListener,
): HttpServer | HttpsServer {
	const settings = boundedServerSettings(options.handshakeTimeout ?? DEFAULT_REQUEST_HEAD_TIMEOUT);
	if (options.tls === undefined || options.tls === null) {
		return createHttpServer(settings, listener);
	}

	// The HTTP server only sees a TLS connection once its handshake is done, so the TLS handshake
	// needs its own bound (tls.Server's handshakeTimeout, 120 s by default): the same one.
	const tlsBound = settings.headersTimeout === 0 ? {} : {handshakeTimeout: settings.headersTimeout};
	return createHttpsServer({...options.tls, ...tlsBound, ...settings}, listener);
}
