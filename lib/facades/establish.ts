// What the web-shaped clients share up to an open connection: URL and subprotocol checks (WHATWG
// WebSockets §"The WebSocket interface", constructor steps), options, and "establish a WebSocket connection".

import type {ConnectionOptions} from 'node:tls';
import {validateConnectionOptions} from '../node/connection-options.ts';
import {websocketConnect, type RequestHeadersInit} from '../node/client.ts';
import type {WebsocketConnection} from '../websocket/connection.ts';
import {MessageHeaders} from '../websocket/message.ts';
import {isToken} from '../websocket/validation.ts';
import {hasBadPort} from './bad-ports.ts';
import {toDOMString, toUSVString} from './webidl.ts';

/**
 * The options object a web-shaped client takes in place of (or besides) the subprotocol list, in
 * undici's form (`new WebSocket(url, {protocols, headers})`), with websoup's Node additions.
 */
export interface WebSocketInit {
	/** The subprotocols to offer: distinct tokens (compared ignoring case). */
	protocols?: string | readonly string[] | undefined;
	/** Extra request headers (`Authorization`, `Cookie`, …). */
	headers?: RequestHeadersInit | undefined;
	/** The `Origin` header to send; none by default (a browser sends its page's origin). */
	origin?: string | null | undefined;
	/** Passed to `tls.connect()` for `wss:` (`ca`, `cert`, `key`, `rejectUnauthorized`, `servername`, …). */
	tls?: ConnectionOptions | undefined;
	/**
	 * Milliseconds for the whole handshake; 0 = no limit.
	 *
	 * @defaultValue 30000
	 */
	handshakeTimeout?: number | undefined;
	/**
	 * Largest payload of one incoming frame in bytes, 0 = unlimited. A browser has no such limit.
	 *
	 * @defaultValue 0
	 */
	maxIncomingPayloadSize?: number | undefined;
	/**
	 * Largest incoming message in bytes, 0 = unlimited. A browser has no such limit.
	 *
	 * @defaultValue 0
	 */
	maxTotalMessageSize?: number | undefined;
}

/** The checked form of the constructor's arguments. */
export interface EstablishOptions {
	url: URL;
	protocols: string[];
	headers: MessageHeaders;
	origin: string | null;
	tls: ConnectionOptions | undefined;
	handshakeTimeout: number | undefined;
	maxIncomingPayloadSize: number;
	maxTotalMessageSize: number;
}

function syntaxError(message: string): DOMException {
	return new DOMException(message, 'SyntaxError');
}

/**
 * The constructor's URL steps: parse (there is no base URL in Node), map `http(s)` to `ws(s)`,
 * refuse other schemes and any fragment.
 *
 * @throws {DOMException} `SyntaxError`.
 */
export function parseWebSocketUrl(url: unknown): URL {
	const text = toUSVString(url);
	let parsed: URL;
	try {
		parsed = new URL(text);
	} catch {
		throw syntaxError(`The URL '${text}' is invalid.`);
	}

	if (parsed.protocol === 'http:') {
		parsed.protocol = 'ws:';
	} else if (parsed.protocol === 'https:') {
		parsed.protocol = 'wss:';
	}

	if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
		throw syntaxError(`The URL's scheme must be 'ws', 'wss', 'http' or 'https'; '${parsed.protocol.slice(0, -1)}' is not allowed.`);
	}

	// A fragment that is empty ('ws://host/#') is still a fragment; the serializer keeps its '#'.
	if (parsed.href.includes('#')) {
		throw syntaxError(`The URL '${parsed.href}' contains a fragment identifier; fragments are not allowed in WebSocket URLs.`);
	}

	return parsed;
}

/**
 * The constructor's protocol steps: a string is a list of one; every element must be a token, and
 * none may appear twice, ignoring case (as browsers and web-platform-tests compare them).
 *
 * @throws {DOMException} `SyntaxError`.
 */
export function parseProtocols(protocols: unknown): string[] {
	const list = isSequence(protocols) ? Array.from(protocols as Iterable<unknown>, toDOMString) : [toDOMString(protocols)];
	const seen = new Set<string>();
	for (const protocol of list) {
		if (!isToken(protocol)) {
			throw syntaxError(`The subprotocol '${protocol}' is invalid.`);
		}

		const key = protocol.toLowerCase();
		if (seen.has(key)) {
			throw syntaxError(`The subprotocol '${protocol}' is duplicated.`);
		}

		seen.add(key);
	}

	return list;
}

function isSequence(value: unknown): boolean {
	return (
		(typeof value === 'object' || typeof value === 'function') &&
		value !== null &&
		typeof (value as Partial<Iterable<unknown>>)[Symbol.iterator] === 'function'
	);
}

/**
 * The second constructor argument: `undefined` (no subprotocols), a string or a sequence of
 * strings (the subprotocols), or else an object read as a {@link WebSocketInit}.
 *
 * @throws {DOMException} `SyntaxError` for an invalid subprotocol list.
 * @throws {TypeError} naming the option for an option of the wrong type or range, or a bad header.
 */
export function parseEstablishOptions(url: URL, second: unknown): EstablishOptions {
	let init: WebSocketInit = {};
	let protocols: string[] = [];
	if ((typeof second === 'object' || typeof second === 'function') && second !== null && !isSequence(second)) {
		init = second as WebSocketInit;
		protocols = init.protocols === undefined ? [] : parseProtocols(init.protocols);
	} else if (second !== undefined) {
		protocols = parseProtocols(second);
	}

	const {maxIncomingPayloadSize = 0, maxTotalMessageSize = 0, handshakeTimeout} = init;
	validateConnectionOptions({maxIncomingPayloadSize, maxTotalMessageSize});
	if (
		handshakeTimeout !== undefined &&
		(typeof handshakeTimeout !== 'number' || !Number.isInteger(handshakeTimeout) || handshakeTimeout < 0 || handshakeTimeout > 2_147_483_647)
	) {
		throw new TypeError(`Expected \`handshakeTimeout\` to be a whole number of milliseconds (0–2147483647), got \`${String(handshakeTimeout)}\``);
	}

	if (init.tls !== undefined && (typeof init.tls !== 'object' || init.tls === null)) {
		throw new TypeError(`Expected \`tls\` to be an object of tls.connect() options, got \`${String(init.tls)}\``);
	}

	if (init.origin !== undefined && init.origin !== null && typeof init.origin !== 'string') {
		throw new TypeError(`Expected \`origin\` to be a string or null, got \`${typeof init.origin}\``);
	}

	// Built now so that a bad header name or value throws from the constructor, not later.
	const headers = new MessageHeaders();
	if (init.headers !== undefined) {
		if (typeof init.headers !== 'object' || init.headers === null) {
			throw new TypeError(`Expected \`headers\` to be an object or name/value pairs, got \`${String(init.headers)}\``);
		}

		if (isSequence(init.headers)) {
			// sequence<sequence<ByteString>>: each pair exactly a name and a value.
			for (const pair of init.headers as Iterable<unknown>) {
				const items = isSequence(pair) ? Array.from(pair as Iterable<unknown>) : [];
				if (items.length !== 2) {
					throw new TypeError(`Expected each of \`headers\` to be a [name, value] pair, got \`${String(pair)}\``);
				}

				headers.append(toDOMString(items[0]), toDOMString(items[1]));
			}
		} else {
			// record<ByteString, ByteString>, where websoup also takes an array of values for a repeated header.
			for (const [name, value] of Object.entries(init.headers as Readonly<Record<string, unknown>>)) {
				for (const item of Array.isArray(value) ? (value as unknown[]) : [value]) {
					headers.append(name, toDOMString(item));
				}
			}
		}
	}

	return {
		url,
		protocols,
		headers,
		origin: init.origin ?? null,
		tls: init.tls,
		handshakeTimeout,
		maxIncomingPayloadSize,
		maxTotalMessageSize,
	};
}

/**
 * "Establish a WebSocket connection": refuses a bad port before any TCP (Fetch), runs the
 * handshake with {@link websocketConnect}, and fails a response that selected no subprotocol when
 * some were offered (a libsoup client accepts that; the WHATWG standard does not).
 *
 * @returns The open connection, on which nothing has been dispatched yet.
 * @throws {Error} why the connection failed (a `WebsocketError`, a socket error, or the two checks above).
 */
export async function establishConnection(options: EstablishOptions, signal: AbortSignal): Promise<WebsocketConnection> {
	if (hasBadPort(options.url)) {
		throw new Error(`The port of '${options.url.href}' is on the Fetch standard's list of bad ports`);
	}

	const connection = await websocketConnect(
		options.url,
		options.origin,
		options.protocols.length === 0 ? null : options.protocols,
		{
			headers: options.headers,
			signal,
			tls: options.tls,
			handshakeTimeout: options.handshakeTimeout,
			maxIncomingPayloadSize: options.maxIncomingPayloadSize,
			maxTotalMessageSize: options.maxTotalMessageSize,
		},
	);
	if (options.protocols.length > 0 && connection.getProtocol() === null) {
		connection.getIoStream().destroy();
		throw new Error('The server selected none of the offered subprotocols (no Sec-WebSocket-Protocol in its response)');
	}

	return connection;
}
