// The opening handshake (RFC 6455 §4, and RFC 8441 §5 on HTTP/2) on Message objects: libsoup 3's four helpers, same checks, order and errors.

import {describe} from '../gobject/param-spec.ts';
import {WEBSOCKET_GUID} from './constants.ts';
import {WebsocketError, WebsocketErrorCode, type WebsocketErrorReason} from './errors.ts';
import type {WebsocketExtension, WebsocketExtensionClass} from './extensions/extension.ts';
import {
	formatAcceptedExtensions,
	formatExtensionOffer,
	negotiateClientExtensions,
	negotiateServerExtensions,
} from './extensions/manager.ts';
import {asciiEqualsIgnoreCase} from '../http/headers.ts';
import type {Message} from '../http/message.ts';
import {isAscii} from './validation.ts';

// Builtins through process.getBuiltinModule(), not import: see docs/architecture.md, “Node's builtins”.
const {createHash, hash, randomBytes} = process.getBuiltinModule('node:crypto');

/** What {@link serverProcessHandshake} reports: the negotiated protocol and extensions, or the error. */
export type ServerHandshakeResult =
	| {accepted: true; extensions: WebsocketExtension[]; protocol: string | null}
	| {accepted: false; error: WebsocketError};

/** RFC 6455 §4.2.1: a base64 value that decodes to 16 bytes is 22 characters and `==`. */
const keyPattern = /^[A-Za-z0-9+/]{22}==$/;

function validateOrigin(origin: unknown, argument: string): asserts origin is string | null {
	if (origin !== null && typeof origin !== 'string') {
		throw new TypeError(`Expected \`${argument}\` to be a string or null, got ${describe(origin)}`);
	}
}

function validateProtocols(protocols: unknown): asserts protocols is readonly string[] | null {
	if (protocols === null) {
		return;
	}

	if (!Array.isArray(protocols) || protocols.some(protocol => typeof protocol !== 'string')) {
		throw new TypeError(`Expected \`protocols\` to be an array of strings or null, got ${describe(protocols)}`);
	}
}

function validateExtensions(
	extensions: unknown,
): asserts extensions is readonly WebsocketExtensionClass[] | null | undefined {
	if (extensions === null || extensions === undefined) {
		return;
	}

	if (
		!Array.isArray(extensions) ||
		extensions.some(
			extensionClass =>
				typeof extensionClass !== 'function' ||
				typeof (extensionClass as {extensionName?: unknown}).extensionName !== 'string' ||
				(extensionClass as {extensionName: string}).extensionName === '',
		)
	) {
		throw new TypeError(
			'Expected `supportedExtensions` to be an array of WebsocketExtension classes with an `extensionName`, or null',
		);
	}
}

/**
 * Computes `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (RFC 6455 §4.2.2): the base64 of the
 * SHA-1 of the key followed by the WebSocket GUID.
 *
 * @param key - The client's key, as sent.
 * @returns The accept value; `"dGhlIHNhbXBsZSBub25jZQ=="` gives `"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="`.
 */
export function computeAcceptKey(key: string): string {
	// crypto.hash() is the one-shot form (no Hash object; about half the time of createHash): it
	// reads a string as UTF-8, which is the key's Latin-1 whenever the key is ASCII, as a valid one is.
	return isAscii(key)
		? hash('sha1', `${key}${WEBSOCKET_GUID}`, 'base64')
		: createHash('sha1').update(`${key}${WEBSOCKET_GUID}`, 'latin1').digest('base64');
}

/**
 * Prepares a client request for the handshake (libsoup's `soup_websocket_client_prepare_handshake`).
 *
 * Sets `Upgrade: websocket`, appends `Upgrade` to `Connection` (so `keep-alive` becomes
 * `keep-alive, Upgrade`), sets a fresh `Sec-WebSocket-Key` (16 random bytes, base64),
 * `Sec-WebSocket-Version: 13`, `Origin` when given, `Sec-WebSocket-Protocol` when the protocols
 * joined with `", "` are not empty (so `[""]` sends none), and `Sec-WebSocket-Extensions` from the
 * supported classes (removed when there are none). Other headers and the body are untouched.
 *
 * When `msg.httpVersion` is `'2'` the request takes RFC 8441's form instead: `method` becomes
 * `CONNECT` and {@link Message.connectProtocol} `'websocket'` (the `:protocol` pseudo-header), and
 * `Upgrade`, `Connection` and `Sec-WebSocket-Key` are removed (§5: the request "MUST NOT contain"
 * them); version, origin, protocols and extensions are set as for HTTP/1.1.
 *
 * @param msg - The request.
 * @param origin - The `Origin` to send, or `null`.
 * @param protocols - The subprotocols to offer, in order of preference, or `null`.
 * @param supportedExtensions - The extension classes to offer, or `null`.
 * @throws {TypeError} when an argument has the wrong type or yields an invalid header value.
 */
export function clientPrepareHandshake(
	msg: Message,
	origin: string | null,
	protocols: readonly string[] | null,
	supportedExtensions?: readonly WebsocketExtensionClass[] | null,
): void {
	validateOrigin(origin, 'origin');
	validateProtocols(protocols);
	validateExtensions(supportedExtensions);

	const headers = msg.requestHeaders;
	if (msg.httpVersion === '2') {
		// RFC 8441 §4: the extended CONNECT method, with ":protocol" naming the protocol; §5: "The
		// request MUST NOT contain "Connection", "Upgrade", "Sec-WebSocket-Key" […] header fields."
		msg.method = 'CONNECT';
		msg.connectProtocol = 'websocket';
		headers.remove('Upgrade');
		headers.remove('Connection');
		headers.remove('Sec-WebSocket-Key');
	} else {
		headers.replace('Upgrade', 'websocket');
		headers.append('Connection', 'Upgrade');
		headers.replace('Sec-WebSocket-Key', randomBytes(16).toString('base64'));
	}

	headers.replace('Sec-WebSocket-Version', '13');
	if (origin !== null) {
		headers.replace('Origin', origin);
	}

	if (protocols !== null && protocols.length > 0) {
		const joined = protocols.join(', ');
		if (joined !== '') {
			headers.replace('Sec-WebSocket-Protocol', joined);
		}
	}

	const offer = formatExtensionOffer(supportedExtensions ?? []);
	if (offer === null) {
		headers.remove('Sec-WebSocket-Extensions');
	} else {
		headers.replace('Sec-WebSocket-Extensions', offer);
	}
}

function badHandshake(reason: WebsocketErrorReason, message: string): WebsocketError {
	return new WebsocketError(WebsocketErrorCode.BAD_HANDSHAKE, reason, message);
}

function notWebsocket(message: string): WebsocketError {
	return new WebsocketError(WebsocketErrorCode.NOT_WEBSOCKET, 'WS_ERR_NOT_WEBSOCKET', message);
}

/**
 * Verifies the server's response to a handshake request (libsoup's
 * `soup_websocket_client_verify_handshake`). Checks, in order, the first failure winning:
 *
 * 1. status 400 → `BAD_HANDSHAKE` "Server rejected WebSocket handshake";
 * 2. status other than 101 → `NOT_WEBSOCKET` "Server ignored WebSocket handshake";
 * 3. `Upgrade` is not `websocket` or `Connection` lacks `upgrade` → `NOT_WEBSOCKET`, same message;
 * 4. a `Sec-WebSocket-Protocol` the request did not offer (case-sensitive) → `BAD_HANDSHAKE`
 *    "Server requested unsupported protocol";
 * 5. `Sec-WebSocket-Extensions` that cannot be accepted → `BAD_HANDSHAKE` (see
 *    {@link negotiateClientExtensions});
 * 6. `Sec-WebSocket-Accept` not matching the key (compared case-insensitively, as libsoup
 *    does) → `BAD_HANDSHAKE` "Server returned incorrect “Sec-WebSocket-Accept” key".
 *
 * For an HTTP/2 request (`msg.httpVersion` `'2'`, RFC 8441 §5) the success status is 200 instead
 * of 101 (so step 2 reads "other than 200"), and steps 3 and 6 do not apply: there is no
 * `Upgrade`, `Connection`, key or accept on a stream.
 *
 * @param msg - The request, prepared by {@link clientPrepareHandshake}, with its response.
 * @param supportedExtensions - The extension classes the client supports, or `null`.
 * @returns The accepted extensions, configured for the client, in response order.
 * @throws {WebsocketError} on the first failed check.
 */
export function clientVerifyHandshake(
	msg: Message,
	supportedExtensions?: readonly WebsocketExtensionClass[] | null,
): WebsocketExtension[] {
	validateExtensions(supportedExtensions);
	const request = msg.requestHeaders;
	const response = msg.responseHeaders;

	if (msg.statusCode === 400) {
		throw badHandshake('WS_ERR_HANDSHAKE_REJECTED', 'Server rejected WebSocket handshake');
	}

	// RFC 8441 §5: "If the server agrees to the WebSocket connection, it MUST respond with a 200 (OK) status code."
	const http2 = msg.httpVersion === '2';
	if (msg.statusCode !== (http2 ? 200 : 101)) {
		throw notWebsocket('Server ignored WebSocket handshake');
	}

	if (!http2 && (!response.headerEquals('Upgrade', 'websocket') || !response.headerContains('Connection', 'upgrade'))) {
		throw notWebsocket('Server ignored WebSocket handshake');
	}

	const protocol = response.getOne('Sec-WebSocket-Protocol');
	if (protocol !== null && !request.headerContainsCaseSensitive('Sec-WebSocket-Protocol', protocol)) {
		throw badHandshake('WS_ERR_UNSUPPORTED_SUBPROTOCOL', 'Server requested unsupported protocol');
	}

	const extensionsValue = response.getList('Sec-WebSocket-Extensions');
	const extensions =
		extensionsValue === null
			? []
			: negotiateClientExtensions(extensionsValue, request.getList('Sec-WebSocket-Extensions'), supportedExtensions);

	if (http2) {
		return extensions;
	}

	const key = request.getOne('Sec-WebSocket-Key');
	const accept = response.getOne('Sec-WebSocket-Accept');
	if (key === null || accept === null || !asciiEqualsIgnoreCase(accept, computeAcceptKey(key))) {
		throw badHandshake('WS_ERR_INVALID_ACCEPT', 'Server returned incorrect “Sec-WebSocket-Accept” key');
	}

	return extensions;
}

/**
 * Chooses the subprotocol for a request (libsoup's `choose_subprotocol`).
 *
 * Without a server list, or without `Sec-WebSocket-Protocol` in the request, none is chosen and
 * the request is accepted. Otherwise the header is split on every comma and every space (libsoup's
 * `g_strsplit_set(value, ", ")`, so `"a, b"` gives `a`, an empty token and `b`), an empty header
 * is rejected, and the first protocol of the *server's* list that the client offers is chosen,
 * compared case-sensitively. An empty string in the server's list never matches.
 *
 * @param msg - The request.
 * @param protocols - The protocols the server supports, in its order of preference, or `null`.
 * @returns The chosen protocol, or `null` when none is chosen.
 * @throws {WebsocketError} `BAD_HANDSHAKE` "Unsupported WebSocket subprotocol" when the header is
 *   empty or no offered protocol is supported.
 */
export function chooseSubprotocol(msg: Message, protocols: readonly string[] | null): string | null {
	validateProtocols(protocols);
	if (protocols === null) {
		return null;
	}

	const offered = msg.requestHeaders.getList('Sec-WebSocket-Protocol');
	if (offered === null) {
		return null;
	}

	const tokens = offered === '' ? [] : offered.split(/[, ]/);
	if (tokens.length > 0) {
		const chosen = protocols.find(protocol => protocol !== '' && tokens.includes(protocol));
		if (chosen !== undefined) {
			return chosen;
		}
	}

	throw badHandshake('WS_ERR_UNSUPPORTED_SUBPROTOCOL', 'Unsupported WebSocket subprotocol');
}

/** The checks of `serverCheckHandshake`; `instantiate` returns configured extensions (process). */
function checkHandshake(
	msg: Message,
	origin: string | null,
	protocols: readonly string[] | null,
	supportedExtensions: readonly WebsocketExtensionClass[] | null | undefined,
	instantiate: boolean,
): {protocol: string | null; extensions: WebsocketExtension[]} {
	const request = msg.requestHeaders;
	const http2 = msg.httpVersion === '2';

	if (http2) {
		// 1–2. RFC 8441 §5: "A server […] that receives a CONNECT request with a :protocol
		// pseudo-header field equal to "websocket" MUST process the request as a WebSocket handshake."
		if (msg.method !== 'CONNECT' || msg.connectProtocol !== 'websocket') {
			throw notWebsocket('WebSocket handshake expected');
		}
	} else {
		// 1. RFC 6455 §4.2.1: "An HTTP/1.1 or higher GET request" (methods are case-sensitive).
		if (msg.method !== 'GET') {
			throw notWebsocket('WebSocket handshake expected');
		}

		// 2. "An |Upgrade| header field containing the value "websocket"" and "A |Connection| header
		// field that includes the token "Upgrade"", both ASCII case-insensitive.
		if (!request.headerEquals('Upgrade', 'websocket') || !request.headerContains('Connection', 'upgrade')) {
			throw notWebsocket('WebSocket handshake expected');
		}
	}

	// 3. "A |Sec-WebSocket-Version| header field, with a value of 13."
	const version = request.getOne('Sec-WebSocket-Version');
	if (version !== '13') {
		throw badHandshake(
			version === null ? 'WS_ERR_NO_VERSION' : 'WS_ERR_UNSUPPORTED_VERSION',
			'Unsupported WebSocket version',
		);
	}

	// 4. "A |Sec-WebSocket-Key| header field with a base64-encoded value that, when decoded, is 16
	// bytes in length." RFC 8441 §5: over HTTP/2 there is no key.
	if (!http2) {
		const key = request.getOne('Sec-WebSocket-Key');
		if (key === null || !keyPattern.test(key)) {
			throw badHandshake('WS_ERR_INVALID_KEY', 'Invalid WebSocket key');
		}
	}

	// 5. The expected origin, compared ASCII case-insensitively as g_ascii_strcasecmp does.
	if (origin !== null) {
		const actual = request.getOne('Origin');
		if (actual === null || !asciiEqualsIgnoreCase(actual, origin)) {
			throw new WebsocketError(WebsocketErrorCode.BAD_ORIGIN, 'WS_ERR_BAD_ORIGIN', 'Incorrect WebSocket “Origin” header');
		}
	}

	// 6. Subprotocol.
	const protocol = chooseSubprotocol(msg, protocols);

	// 7. Extensions, when the request offers any.
	const offered = request.getList('Sec-WebSocket-Extensions');
	const extensions =
		offered === null || offered === '' ? [] : negotiateServerExtensions(offered, supportedExtensions, instantiate);

	return {protocol, extensions};
}

/**
 * Checks a request for a valid handshake (libsoup's `soup_websocket_server_check_handshake`),
 * without touching the response. Checks, in order, the first failure winning:
 *
 * 1. method is `GET` → else `NOT_WEBSOCKET` "WebSocket handshake expected";
 * 2. `Upgrade: websocket` and `Connection` containing `upgrade` → else `NOT_WEBSOCKET`, same message;
 * 3. `Sec-WebSocket-Version: 13` → else `BAD_HANDSHAKE` "Unsupported WebSocket version";
 * 4. `Sec-WebSocket-Key` decoding to 16 bytes → else `BAD_HANDSHAKE` "Invalid WebSocket key";
 * 5. when `origin` is given, an `Origin` equal to it (ASCII case-insensitive) → else
 *    `BAD_ORIGIN` "Incorrect WebSocket “Origin” header";
 * 6. an acceptable subprotocol ({@link chooseSubprotocol}) → else `BAD_HANDSHAKE`
 *    "Unsupported WebSocket subprotocol";
 * 7. acceptable `Sec-WebSocket-Extensions` ({@link negotiateServerExtensions}) → else `BAD_HANDSHAKE`.
 *
 * For an HTTP/2 request (`msg.httpVersion` `'2'`), steps 1–2 become RFC 8441 §5's: method
 * `CONNECT` with {@link Message.connectProtocol} `'websocket'`, else `NOT_WEBSOCKET` "WebSocket
 * handshake expected"; step 4 does not apply (no key on a stream).
 *
 * @param msg - The request.
 * @param origin - The origin to require, or `null` to accept any.
 * @param protocols - The protocols the server supports, or `null`.
 * @param supportedExtensions - The extension classes the server supports, or `null`.
 * @throws {WebsocketError} on the first failed check.
 */
export function serverCheckHandshake(
	msg: Message,
	origin: string | null,
	protocols: readonly string[] | null,
	supportedExtensions?: readonly WebsocketExtensionClass[] | null,
): void {
	validateOrigin(origin, 'origin');
	validateProtocols(protocols);
	validateExtensions(supportedExtensions);
	checkHandshake(msg, origin, protocols, supportedExtensions, false);
}

function escapeHtml(text: string): string {
	return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/**
 * Fills the response of a refused handshake as libsoup does: `Connection: close` (appended),
 * `Content-Type: text/html` and a small HTML body; 403 when `why` is `null` (a wrong origin),
 * else 400 with "Received invalid WebSocket request: " and `why`, HTML-escaped. Internal: shared
 * by {@link serverProcessHandshake} and the Node server glue, not part of the public API.
 *
 * @param msg - The request whose response part is filled in.
 * @param why - The reason shown in a 400's body, or `null` for libsoup's 403.
 */
export function fillRefusal(msg: Message, why: string | null): void {
	// RFC 9113 §8.2.2: HTTP/2 has no connection-specific header fields; refusing a stream never closes the session.
	if (msg.httpVersion !== '2') {
		msg.responseHeaders.append('Connection', 'close');
	}

	if (why === null) {
		msg.setStatus(403);
		msg.setResponse(
			'text/html',
			'<html><head><title>403 Forbidden</title></head>\r\n<body>Received invalid WebSocket request</body></html>\r\n',
		);
	} else {
		msg.setStatus(400);
		msg.setResponse(
			'text/html',
			'<html><head><title>400 Bad Request</title></head>\r\n' +
				`<body>Received invalid WebSocket request: ${escapeHtml(why)}</body></html>\r\n`,
		);
	}
}

/**
 * Checks a request and fills in the response (libsoup's `soup_websocket_server_process_handshake`).
 *
 * On success: status 101, `Upgrade: websocket`, `Connection: Upgrade` (appended),
 * `Sec-WebSocket-Accept`, `Sec-WebSocket-Protocol` when one was chosen and
 * `Sec-WebSocket-Extensions` for the accepted extensions, in request order.
 *
 * Over HTTP/2 (`msg.httpVersion` `'2'`, RFC 8441 §5) success is status 200 with
 * `Sec-WebSocket-Protocol` and `Sec-WebSocket-Extensions` only: no `Upgrade`, `Connection` nor
 * accept, except that a request carrying a valid `Sec-WebSocket-Key` anyway (undici 7 sends one and
 * checks the answer) gets its `Sec-WebSocket-Accept`; a refusal has no `Connection: close`.
 *
 * On failure: `Connection: close` (appended), `Content-Type: text/html` and an HTML body; status
 * 403 for `BAD_ORIGIN` (body "Received invalid WebSocket request", titled "403 Forbidden" where
 * libsoup says "400 Forbidden"), 400 for anything else (body "Received invalid WebSocket request:
 * " and the error's message, HTML-escaped). Write it with {@link writeResponseHead}.
 *
 * @param msg - The request; its response part is filled in.
 * @param expectedOrigin - The origin to require, or `null` to accept any.
 * @param protocols - The protocols the server supports, or `null`.
 * @param supportedExtensions - The extension classes the server supports, or `null`.
 * @returns The outcome: the chosen protocol and the configured extensions, or the error.
 * @throws {TypeError} only when an argument has the wrong type; handshake failures are returned.
 */
export function serverProcessHandshake(
	msg: Message,
	expectedOrigin: string | null,
	protocols: readonly string[] | null,
	supportedExtensions?: readonly WebsocketExtensionClass[] | null,
): ServerHandshakeResult {
	validateOrigin(expectedOrigin, 'expectedOrigin');
	validateProtocols(protocols);
	validateExtensions(supportedExtensions);

	const response = msg.responseHeaders;
	let negotiated: {protocol: string | null; extensions: WebsocketExtension[]};
	try {
		negotiated = checkHandshake(msg, expectedOrigin, protocols, supportedExtensions, true);
	} catch (error) {
		if (!(error instanceof WebsocketError)) {
			throw error;
		}

		fillRefusal(msg, error.code === WebsocketErrorCode.BAD_ORIGIN ? null : error.message);
		return {accepted: false, error};
	}

	const key = msg.requestHeaders.getOne('Sec-WebSocket-Key') ?? '';
	if (msg.httpVersion === '2') {
		// RFC 8441 §5: "it MUST respond with a 200 (OK) status code."
		msg.setStatus(200);
		if (keyPattern.test(key)) {
			response.replace('Sec-WebSocket-Accept', computeAcceptKey(key));
		}
	} else {
		msg.setStatus(101);
		response.replace('Upgrade', 'websocket');
		response.append('Connection', 'Upgrade');
		response.append('Sec-WebSocket-Accept', computeAcceptKey(key));
	}

	if (negotiated.protocol !== null) {
		response.replace('Sec-WebSocket-Protocol', negotiated.protocol);
	}

	const accepted = formatAcceptedExtensions(negotiated.extensions);
	if (accepted !== null) {
		response.replace('Sec-WebSocket-Extensions', accepted);
	}

	return {accepted: true, extensions: negotiated.extensions, protocol: negotiated.protocol};
}
