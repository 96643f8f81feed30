// HTTP messages for the handshake helpers (SoupMessage, SoupMessageHeaders) and their Node adapters.

import {STATUS_CODES, type IncomingMessage} from 'node:http';
// Types only: the helpers work on messages, never on sockets (the Node adapter below fills them in).
import type {AddressInfo, Socket} from 'node:net';
import {describe} from '../gobject/param-spec.ts';
import {WebsocketError, WebsocketErrorCode} from './errors.ts';
import {toBuffer} from './buffer-util.ts';
import {isToken} from './validation.ts';

/** The largest response head {@link parseResponseHead} and {@link findHeadEnd} accept, blank line included. */
export const MAX_HEAD_SIZE = 16 * 1024;

/** RFC 7230 §3.2: `field-value` characters (VCHAR, obs-text, SP, HTAB); no CR, LF, NUL or other controls. */
const fieldValuePattern = /^[\t\u0020-\u007e\u0080-\u00ff]*$/;

/** RFC 7230 §3.1.2: `reason-phrase = *( HTAB / SP / VCHAR / obs-text )`. */
const reasonPhrasePattern = fieldValuePattern;

/**
 * The HTTP versions a WebSocket handshake can travel over: RFC 6455 §4.1 asks for 1.1 or higher;
 * `'2'` is RFC 8441's extended CONNECT on an HTTP/2 stream.
 */
export type HttpVersion = '1.0' | '1.1' | '2';

/** Schemes a {@link Message} accepts: the WebSocket ones and the HTTP ones they stand for. */
const messageSchemes = new Set(['ws:', 'wss:', 'http:', 'https:']);

function assertString(value: unknown, argument: string): asserts value is string {
	if (typeof value !== 'string') {
		throw new TypeError(`Expected \`${argument}\` to be a string, got ${describe(value)}`);
	}
}

function validateName(name: unknown): string {
	assertString(name, 'name');
	if (!isToken(name)) {
		throw new TypeError(`Expected \`name\` to be an HTTP token (RFC 7230 §3.2.6), got ${describe(name)}`);
	}

	return name;
}

function validateValue(value: unknown): string {
	assertString(value, 'value');
	if (!fieldValuePattern.test(value)) {
		// CR, LF or NUL here would let a caller inject header lines (response splitting).
		throw new TypeError(
			`Expected \`value\` to be an HTTP field value without CR, LF, NUL or other control characters, got ${describe(value)}`,
		);
	}

	return value;
}

/**
 * ASCII-only case-insensitive comparison, as libsoup's `g_ascii_strcasecmp`: A–Z match a–z,
 * and no other character is case-folded (`É` does not match `é`).
 *
 * @param a - One string.
 * @param b - The other.
 * @returns Whether they are equal ignoring ASCII case.
 */
export function asciiEqualsIgnoreCase(a: string, b: string): boolean {
	if (a.length !== b.length) {
		return false;
	}

	for (let i = 0; i < a.length; i++) {
		let x = a.charCodeAt(i);
		let y = b.charCodeAt(i);
		if (x >= 0x41 && x <= 0x5a) {
			x += 0x20;
		}

		if (y >= 0x41 && y <= 0x5a) {
			y += 0x20;
		}

		if (x !== y) {
			return false;
		}
	}

	return true;
}

function isOws(code: number): boolean {
	return code === 0x20 || code === 0x09;
}

/**
 * Strips RFC 7230 optional whitespace (SP and HTAB, nothing else) from both ends.
 *
 * @param value - The text to trim.
 * @returns The trimmed text.
 */
export function trimOws(value: string): string {
	let start = 0;
	let end = value.length;
	while (start < end && isOws(value.charCodeAt(start))) {
		start++;
	}

	while (end > start && isOws(value.charCodeAt(end - 1))) {
		end--;
	}

	return value.slice(start, end);
}

/**
 * Splits a header value into the elements of an RFC 7230 §7 list.
 *
 * The delimiter is ignored inside quoted strings (a backslash escapes the next character there),
 * elements are trimmed of spaces and tabs, and empty elements are dropped: RFC 7230 §7 asks a
 * recipient to ignore them, and libsoup's list parser skips them too. Quotes are kept; an
 * unterminated quoted string runs to the end of the value.
 *
 * @param value - The header value, as {@link MessageHeaders.getList} returns it.
 * @param delimiter - The separator: `','` for header lists, `';'` for extension parameters.
 * @returns The non-empty elements, in order.
 */
export function splitHeaderList(value: string, delimiter: ',' | ';' = ','): string[] {
	const elements: string[] = [];
	let start = 0;
	let quoted = false;
	for (let i = 0; i < value.length; i++) {
		const char = value[i];
		if (quoted) {
			if (char === '\\') {
				i++;
			} else if (char === '"') {
				quoted = false;
			}
		} else if (char === '"') {
			quoted = true;
		} else if (char === delimiter) {
			const element = trimOws(value.slice(start, i));
			if (element !== '') {
				elements.push(element);
			}

			start = i + 1;
		}
	}

	const last = trimOws(value.slice(start));
	if (last !== '') {
		elements.push(last);
	}

	return elements;
}

interface HeaderEntry {
	/** The name as it was given, kept for output. */
	readonly name: string;
	/** The name in lower case, for lookups. */
	readonly key: string;
	value: string;
}

/**
 * HTTP headers as libsoup's `SoupMessageHeaders` keeps them: names compared case-insensitively
 * (in ASCII), the same name allowed more than once, and the order of insertion kept for output.
 *
 * Names must be RFC 7230 tokens and values must not hold CR, LF, NUL or other control
 * characters (HTAB excepted), nor characters above U+00FF: anything else throws a `TypeError`,
 * so no caller can inject a header line. Heads are written as Latin-1, so every value round-trips.
 */
export class MessageHeaders implements Iterable<[string, string]> {
	#entries: HeaderEntry[] = [];

	/**
	 * Creates a set of headers, empty or filled from name/value pairs.
	 *
	 * @param init - Pairs to {@link MessageHeaders.append} in order.
	 * @throws {TypeError} when a name or value is invalid.
	 */
	constructor(init?: Iterable<readonly [string, string]>) {
		if (init !== undefined) {
			for (const [name, value] of init) {
				this.append(name, value);
			}
		}
	}

	/** The number of header lines (a name that appears twice counts twice). */
	get size(): number {
		return this.#entries.length;
	}

	/**
	 * Adds a header line after the others, keeping any line of the same name (libsoup's
	 * `soup_message_headers_append`): only list-valued headers should appear twice.
	 *
	 * @param name - The header name, an RFC 7230 token.
	 * @param value - The header value.
	 * @throws {TypeError} when `name` is not a token or `value` holds CR, LF, NUL or another control character.
	 */
	append(name: string, value: string): void {
		const validName = validateName(name);
		const validValue = validateValue(value);
		this.#entries.push({name: validName, key: validName.toLowerCase(), value: validValue});
	}

	/**
	 * Removes every line named `name` and appends one with `value` (libsoup's
	 * `soup_message_headers_replace`): the header moves to the end.
	 *
	 * @param name - The header name, an RFC 7230 token.
	 * @param value - The new value.
	 * @throws {TypeError} when `name` or `value` is invalid; the headers are then left unchanged.
	 */
	replace(name: string, value: string): void {
		const validName = validateName(name);
		const validValue = validateValue(value);
		this.remove(validName);
		this.#entries.push({name: validName, key: validName.toLowerCase(), value: validValue});
	}

	/**
	 * Removes every line named `name`.
	 *
	 * @param name - The header name, compared case-insensitively.
	 */
	remove(name: string): void {
		assertString(name, 'name');
		const key = name.toLowerCase();
		this.#entries = this.#entries.filter(entry => entry.key !== key);
	}

	/** Removes every header. */
	clear(): void {
		this.#entries = [];
	}

	/**
	 * Whether a line named `name` is present.
	 *
	 * @param name - The header name, compared case-insensitively.
	 */
	has(name: string): boolean {
		assertString(name, 'name');
		const key = name.toLowerCase();
		return this.#entries.some(entry => entry.key === key);
	}

	/**
	 * The value of a header that may appear only once (libsoup's `soup_message_headers_get_one`).
	 *
	 * libsoup leaves undefined which copy a header present more than once yields; websoup
	 * returns all of them joined with `", "`, as {@link MessageHeaders.getList} does. So a
	 * duplicated single-valued header (`Sec-WebSocket-Key`, `Sec-WebSocket-Version`,
	 * `Sec-WebSocket-Accept`, `Upgrade`, `Host`) fails the checks made on it instead of one copy
	 * being picked silently, as RFC 6455 §11.3 forbids those duplicates.
	 *
	 * @param name - The header name, compared case-insensitively.
	 * @returns The value, or `null` when the header is absent.
	 */
	getOne(name: string): string | null {
		return this.getList(name);
	}

	/**
	 * The value of a list-valued header (libsoup's `soup_message_headers_get_list`): the values
	 * of every line of that name joined with `", "`, which RFC 7230 §3.2.2 makes equivalent.
	 *
	 * @param name - The header name, compared case-insensitively.
	 * @returns The joined value, or `null` when the header is absent.
	 */
	getList(name: string): string | null {
		assertString(name, 'name');
		const key = name.toLowerCase();
		let result: string | null = null;
		for (const entry of this.#entries) {
			if (entry.key === key) {
				result = result === null ? entry.value : `${result}, ${entry.value}`;
			}
		}

		return result;
	}

	/**
	 * Whether the list-valued header `name` holds `token` as one of its elements, compared
	 * case-insensitively in ASCII (libsoup's `soup_message_headers_header_contains`), e.g.
	 * `Connection: keep-alive, Upgrade` contains `upgrade`.
	 *
	 * @param name - The header name.
	 * @param token - The element to look for.
	 */
	headerContains(name: string, token: string): boolean {
		assertString(token, 'token');
		const value = this.getList(name);
		return value !== null && splitHeaderList(value).some(element => asciiEqualsIgnoreCase(element, token));
	}

	/**
	 * Like {@link MessageHeaders.headerContains}, but the comparison is case-sensitive
	 * (libsoup's `soup_header_contains_case_sensitive`, used for subprotocols).
	 *
	 * @param name - The header name.
	 * @param token - The element to look for.
	 */
	headerContainsCaseSensitive(name: string, token: string): boolean {
		assertString(token, 'token');
		const value = this.getList(name);
		return value !== null && splitHeaderList(value).includes(token);
	}

	/**
	 * Whether the header's whole value, as {@link MessageHeaders.getOne} returns it, equals
	 * `value` case-insensitively in ASCII (libsoup's `soup_message_headers_header_equals`).
	 *
	 * @param name - The header name.
	 * @param value - The value to compare with.
	 */
	headerEquals(name: string, value: string): boolean {
		assertString(value, 'value');
		const actual = this.getOne(name);
		return actual !== null && asciiEqualsIgnoreCase(actual, value);
	}

	/**
	 * Calls `callback` for every header line, in order (libsoup's `soup_message_headers_foreach`).
	 *
	 * @param callback - Receives the name as it was given and the value.
	 */
	forEach(callback: (name: string, value: string) => void): void {
		for (const entry of [...this.#entries]) {
			callback(entry.name, entry.value);
		}
	}

	/** Iterates over `[name, value]` pairs, one per header line, in order. */
	*[Symbol.iterator](): IterableIterator<[string, string]> {
		for (const entry of [...this.#entries]) {
			yield [entry.name, entry.value];
		}
	}

	/**
	 * The headers as an object for Node's APIs (`http.request({headers})`, `res.writeHead()`):
	 * keyed by the name as first given, a string for a header that appears once and an array
	 * of strings for one that appears more often. The object has no prototype.
	 */
	toObject(): Record<string, string | string[]> {
		const byKey = new Map<string, {name: string; values: string[]}>();
		for (const entry of this.#entries) {
			const existing = byKey.get(entry.key);
			if (existing === undefined) {
				byKey.set(entry.key, {name: entry.name, values: [entry.value]});
			} else {
				existing.values.push(entry.value);
			}
		}

		const result = Object.create(null) as Record<string, string | string[]>;
		for (const {name, values} of byKey.values()) {
			result[name] = values.length === 1 ? (values[0] ?? '') : values;
		}

		return result;
	}
}

/**
 * What a server-side {@link Message} knows of the connection its request came on (libsoup's
 * `SoupServerMessage`), taken when {@link messageFromIncomingMessage} made it.
 */
interface ServerConnection {
	readonly socket: Socket;
	readonly localAddress: AddressInfo | null;
	readonly remoteAddress: AddressInfo | null;
}

/** Keyed by message: only the Node adapter fills this in; the message class stays free of sockets. */
const serverConnections = new WeakMap<Message, ServerConnection>();

/**
 * Records the connection a server-side message came on, for {@link Message.getSocket} and the
 * address getters. Internal: for the Node adapters (HTTP/1.1 here, HTTP/2 in http2-message.ts).
 */
export function setServerConnection(msg: Message, socket: Socket): void {
	serverConnections.set(msg, {
		socket,
		localAddress: addressInfo(socket.localAddress, socket.localFamily, socket.localPort),
		remoteAddress: addressInfo(socket.remoteAddress, socket.remoteFamily, socket.remotePort),
	});
}

/** An address as `net.AddressInfo`, or `null` when the socket does not know it (closed, or not a TCP socket). */
function addressInfo(address: unknown, family: unknown, port: unknown): AddressInfo | null {
	if (typeof address !== 'string' || address === '' || typeof port !== 'number') {
		return null;
	}

	return {address, family: typeof family === 'string' ? family : address.includes(':') ? 'IPv6' : 'IPv4', port};
}

/**
 * An HTTP message seen by the handshake helpers: the request and its response together, like
 * libsoup's `SoupMessage` on the client and `SoupServerMessage` on the server.
 */
export class Message {
	/** The request headers. */
	readonly requestHeaders = new MessageHeaders();
	/** The response headers. */
	readonly responseHeaders = new MessageHeaders();
	/** The response body, or `null`; set by {@link Message.setResponse}. */
	responseBody: Buffer | null = null;
	/**
	 * The IP address of the peer (server side), or `null` when unknown; what
	 * {@link Message.getRemoteHost} returns.
	 */
	remoteAddress: string | null = null;
	/**
	 * The `:protocol` pseudo-header of an HTTP/2 extended CONNECT (RFC 8441 §4), `'websocket'` for a
	 * WebSocket; `null` for any other request. Only meaningful when {@link Message.httpVersion} is `'2'`.
	 */
	connectProtocol: string | null = null;

	#method = 'GET';
	#uri: URL;
	#httpVersion: HttpVersion = '1.1';
	#statusCode = 0;
	#reasonPhrase = '';

	/**
	 * Creates a message for `GET uri`.
	 *
	 * @param uri - An absolute `ws:`, `wss:`, `http:` or `https:` URI.
	 * @throws {TypeError} when `uri` is not such a URI.
	 */
	constructor(uri: string | URL);
	/**
	 * Creates a message for `method uri`, like `soup_message_new()`.
	 *
	 * @param method - The request method, an RFC 7230 token (a handshake needs `GET`).
	 * @param uri - An absolute `ws:`, `wss:`, `http:` or `https:` URI.
	 * @throws {TypeError} when `method` is not a token or `uri` is not such a URI.
	 */
	constructor(method: string, uri: string | URL);
	constructor(methodOrUri: string | URL, uri?: string | URL) {
		if (uri === undefined) {
			this.#uri = parseMessageUri(methodOrUri);
		} else {
			this.method = methodOrUri as string;
			this.#uri = parseMessageUri(uri);
		}
	}

	/**
	 * The request method.
	 *
	 * @defaultValue `'GET'`
	 * @throws {TypeError} on assignment of something other than an RFC 7230 token.
	 */
	get method(): string {
		return this.#method;
	}

	set method(method: string) {
		assertString(method, 'method');
		if (!isToken(method)) {
			throw new TypeError(`Expected \`method\` to be an HTTP token (RFC 7230 §3.1.1), got ${describe(method)}`);
		}

		this.#method = method;
	}

	/**
	 * The request URI. Assigning a string parses it; assigning a `URL` stores a copy.
	 *
	 * @throws {TypeError} on assignment of anything but an absolute `ws:`, `wss:`, `http:` or `https:` URI.
	 */
	get uri(): URL {
		return this.#uri;
	}

	set uri(uri: string | URL) {
		this.#uri = parseMessageUri(uri);
	}

	/**
	 * The HTTP version of the request: `'1.0'` or `'1.1'` for a request line, `'2'` for a request on
	 * an HTTP/2 stream, which makes the handshake helpers use RFC 8441's form (extended CONNECT,
	 * no key or accept, 200 instead of 101).
	 *
	 * @defaultValue `'1.1'`
	 * @throws {TypeError} on assignment of anything but `'1.0'`, `'1.1'` or `'2'`.
	 */
	get httpVersion(): HttpVersion {
		return this.#httpVersion;
	}

	set httpVersion(version: HttpVersion) {
		if (version !== '1.0' && version !== '1.1' && version !== '2') {
			throw new TypeError(`Expected \`httpVersion\` to be '1.0', '1.1' or '2', got ${describe(version)}`);
		}

		this.#httpVersion = version;
	}

	/** The response status code, 0 until {@link Message.setStatus} (or a parsed response) sets it. */
	get statusCode(): number {
		return this.#statusCode;
	}

	/** The response reason phrase, `''` until a status is set. */
	get reasonPhrase(): string {
		return this.#reasonPhrase;
	}

	/**
	 * Sets the response status, like `soup_server_message_set_status()`.
	 *
	 * @param code - An HTTP status code, 100–599.
	 * @param reason - The reason phrase; defaults to the standard one (`node:http` `STATUS_CODES`),
	 *   or `'Unknown'` for a code without one.
	 * @throws {TypeError} when `code` is not an integer or `reason` holds CR, LF or other control characters.
	 * @throws {RangeError} when `code` is outside 100–599.
	 */
	setStatus(code: number, reason?: string): void {
		if (typeof code !== 'number' || !Number.isInteger(code)) {
			throw new TypeError(`Expected \`code\` to be an integer, got ${describe(code)}`);
		}

		if (code < 100 || code > 599) {
			throw new RangeError(`Expected \`code\` to be an HTTP status code (100–599), got \`${code}\``);
		}

		const phrase = reason ?? STATUS_CODES[code] ?? 'Unknown';
		assertString(phrase, 'reason');
		if (!reasonPhrasePattern.test(phrase)) {
			throw new TypeError(`Expected \`reason\` to be a reason phrase without CR, LF or NUL, got ${describe(phrase)}`);
		}

		this.#statusCode = code;
		this.#reasonPhrase = phrase;
	}

	/**
	 * The local end of the connection the request came on, like
	 * `soup_server_message_get_local_address()`: Node's `net.AddressInfo`, e.g.
	 * `{address: '127.0.0.1', family: 'IPv4', port: 8080}`, as it was when the message was made.
	 *
	 * @returns The address, or `null` for a message that {@link messageFromIncomingMessage} did not
	 *   make from a request (a client message, one made with `new Message()`).
	 */
	getLocalAddress(): AddressInfo | null {
		const local = serverConnections.get(this)?.localAddress;
		return local === undefined || local === null ? null : {...local};
	}

	/**
	 * The remote end of the connection the request came on (the client, or the last proxy), like
	 * `soup_server_message_get_remote_address()`: Node's `net.AddressInfo`, e.g.
	 * `{address: '127.0.0.1', family: 'IPv4', port: 54321}`, as it was when the message was made,
	 * so it is still there once the socket is closed.
	 *
	 * @returns The address, or `null` for a message not made by {@link messageFromIncomingMessage}.
	 */
	getRemoteAddress(): AddressInfo | null {
		const remote = serverConnections.get(this)?.remoteAddress;
		return remote === undefined || remote === null ? null : {...remote};
	}

	/**
	 * The IP address of the remote end as a string, like `soup_server_message_get_remote_host()`
	 * (e.g. `'127.0.0.1'`, `'::1'`); the value of {@link Message.remoteAddress}.
	 *
	 * @returns The address, or `null` when unknown.
	 */
	getRemoteHost(): string | null {
		return this.remoteAddress;
	}

	/**
	 * The socket the request came on, like `soup_server_message_get_socket()`: a `net.Socket`, or
	 * a `tls.TLSSocket` for a request to an `https` server (`getPeerCertificate()`, `alpnProtocol`,
	 * …). Inside {@link addWebsocketHandler}'s callback it is the connection's stream
	 * (`connection.getIoStream()`): read from it what you need, but leave reading, writing and
	 * closing to the connection.
	 *
	 * @returns The socket, or `null` for a message not made by {@link messageFromIncomingMessage}.
	 */
	getSocket(): Socket | null {
		return serverConnections.get(this)?.socket ?? null;
	}

	/**
	 * Sets the response body and its `Content-Type`, like `soup_server_message_set_response()`.
	 *
	 * @param contentType - The media type, or `null` to remove `Content-Type`.
	 * @param body - The body; a string is encoded as UTF-8. `null` means no body.
	 * @throws {TypeError} when `contentType` is not a valid header value or `body` has the wrong type.
	 */
	setResponse(contentType: string | null, body: string | Uint8Array | null): void {
		let buffer: Buffer | null;
		if (body === null) {
			buffer = null;
		} else if (typeof body === 'string') {
			buffer = Buffer.from(body, 'utf8');
		} else if (body instanceof Uint8Array) {
			buffer = Buffer.from(body);
		} else {
			throw new TypeError(`Expected \`body\` to be a string, a Uint8Array or null, got ${describe(body)}`);
		}

		if (contentType === null) {
			this.responseHeaders.remove('Content-Type');
		} else {
			this.responseHeaders.replace('Content-Type', contentType);
		}

		this.responseBody = buffer;
	}
}

function parseMessageUri(uri: unknown): URL {
	let url: URL;
	if (uri instanceof URL) {
		url = new URL(uri.href);
	} else if (typeof uri === 'string') {
		try {
			url = new URL(uri);
		} catch {
			throw new TypeError(`Expected \`uri\` to be an absolute ws:, wss:, http: or https: URI, got ${describe(uri)}`);
		}
	} else {
		throw new TypeError(`Expected \`uri\` to be a string or a URL, got ${describe(uri)}`);
	}

	if (!messageSchemes.has(url.protocol) || url.host === '') {
		throw new TypeError(`Expected \`uri\` to be an absolute ws:, wss:, http: or https: URI, got ${describe(url.href)}`);
	}

	return url;
}

function invalidHttp(message: string, cause?: unknown): WebsocketError {
	return new WebsocketError(
		WebsocketErrorCode.FAILED,
		'WS_ERR_INVALID_HTTP',
		message,
		cause === undefined ? undefined : {cause},
	);
}

/** RFC 7230 §5.4 `Host = uri-host [ ":" port ]`; reg-name without percent-encoding, or an IP literal. */
const hostPattern = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=]+)(?::[0-9]*)?$/;

/** Options of {@link messageFromIncomingMessage}. */
export interface IncomingMessageOptions {
	/**
	 * Whether the request came over TLS, which makes the URI `wss:` rather than `ws:`.
	 *
	 * @defaultValue whether `req.socket` is a TLS socket
	 */
	secure?: boolean;
}

/**
 * Builds a server-side {@link Message} from a request received by a Node HTTP server, typically in
 * an `'upgrade'` listener: method, full URI (`ws:` or `wss:`, host from `Host`, path and query from
 * the request target), HTTP version, every header line from `req.rawHeaders` (repeats kept, in
 * order), and the connection: `remoteAddress` and the accessors {@link Message.getLocalAddress},
 * {@link Message.getRemoteAddress}, {@link Message.getRemoteHost} and {@link Message.getSocket}.
 *
 * @param req - The request.
 * @param options - Whether the connection is secure.
 * @returns A message whose response part is empty, ready for {@link serverProcessHandshake}.
 * @throws {WebsocketError} `FAILED` with reason `'WS_ERR_INVALID_HTTP'` when the request cannot
 *   stand for a message: a missing (HTTP/1.1), repeated or invalid `Host`, a request target that is
 *   neither origin-form nor absolute-form, or an invalid header. Answer it with 400 Bad Request
 *   (RFC 7230 §5.4).
 */
export function messageFromIncomingMessage(req: IncomingMessage, options: IncomingMessageOptions = {}): Message {
	const secure = options.secure ?? (req.socket as {encrypted?: unknown} | undefined)?.encrypted === true;
	const scheme = secure ? 'wss' : 'ws';
	const target = req.url ?? '/';

	const raw = req.rawHeaders;
	const hosts: string[] = [];
	for (let i = 0; i + 1 < raw.length; i += 2) {
		const name = raw[i]!;
		if (name.length === 4 && asciiEqualsIgnoreCase(name, 'host')) {
			hosts.push(raw[i + 1]!);
		}
	}

	let authority: string;
	let pathAndQuery: string;
	if (target.startsWith('/')) {
		pathAndQuery = target;
		// RFC 7230 §5.4: a server MUST respond with 400 to an HTTP/1.1 request without Host, with
		// more than one Host, or with an invalid one.
		if (hosts.length > 1) {
			throw invalidHttp('Invalid HTTP request: more than one Host header');
		}

		const host = hosts[0];
		if (host === undefined) {
			if (req.httpVersion !== '1.0') {
				throw invalidHttp('Invalid HTTP request: no Host header');
			}

			const local = req.socket?.localAddress ?? '127.0.0.1';
			const port = req.socket?.localPort;
			authority = `${local.includes(':') ? `[${local}]` : local}${port === undefined ? '' : `:${port}`}`;
		} else {
			if (!hostPattern.test(host)) {
				throw invalidHttp(`Invalid HTTP request: invalid Host header ${describe(host)}`);
			}

			authority = host;
		}
	} else {
		// RFC 7230 §5.5: with an absolute-form target, the host comes from the target itself.
		let absolute: URL;
		try {
			absolute = new URL(target);
		} catch {
			throw invalidHttp(`Invalid HTTP request: invalid request target ${describe(target)}`);
		}

		if (!messageSchemes.has(absolute.protocol) || absolute.host === '') {
			throw invalidHttp(`Invalid HTTP request: invalid request target ${describe(target)}`);
		}

		authority = absolute.host;
		pathAndQuery = `${absolute.pathname}${absolute.search}`;
	}

	// The URI is parsed once, from scheme, authority and target written out in full: a target such
	// as "//evil.example/" then stays a path (resolving it against a base would read it as a
	// network-path reference to another host). A `#` in the target is no fragment: such a target
	// takes the slow path, where the path and query are set apart and `#` is percent-encoded.
	let msg: Message;
	if (pathAndQuery.startsWith('/') && !pathAndQuery.includes('#')) {
		try {
			msg = new Message(`${scheme}://${authority}${pathAndQuery}`);
		} catch (error) {
			throw invalidHttp(`Invalid HTTP request: invalid Host header ${describe(authority)}`, error);
		}
	} else {
		let uri: URL;
		try {
			uri = new URL(`${scheme}://${authority}/`);
		} catch (error) {
			throw invalidHttp(`Invalid HTTP request: invalid Host header ${describe(authority)}`, error);
		}

		const queryStart = pathAndQuery.indexOf('?');
		if (queryStart === -1) {
			uri.pathname = pathAndQuery;
		} else {
			uri.pathname = pathAndQuery.slice(0, queryStart);
			uri.search = pathAndQuery.slice(queryStart);
		}

		msg = new Message(uri);
	}

	try {
		msg.method = req.method ?? 'GET';
		for (let i = 0; i + 1 < raw.length; i += 2) {
			msg.requestHeaders.append(raw[i] ?? '', raw[i + 1] ?? '');
		}
	} catch (error) {
		throw invalidHttp(`Invalid HTTP request: ${error instanceof Error ? error.message : String(error)}`, error);
	}

	msg.httpVersion = req.httpVersion === '1.0' ? '1.0' : '1.1';
	const socket = req.socket as Socket | null | undefined;
	msg.remoteAddress = socket?.remoteAddress ?? null;
	if (socket !== null && typeof socket === 'object') {
		serverConnections.set(msg, {
			socket,
			localAddress: addressInfo(socket.localAddress, socket.localFamily, socket.localPort),
			remoteAddress: addressInfo(socket.remoteAddress, socket.remoteFamily, socket.remotePort),
		});
	}

	return msg;
}

/**
 * Formats the head of a client request: request line, `Host` (from the URI when the headers
 * have none, placed first as RFC 7230 §5.4 recommends), the request headers in order, and the
 * blank line. The message is not modified.
 *
 * Write the result as Latin-1 (`socket.write(head, 'latin1')`): header values may hold
 * characters U+0080–U+00FF, one byte each.
 *
 * @param msg - The request, usually after {@link clientPrepareHandshake}.
 * @returns For example `"GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\n…\r\n\r\n"`.
 */
export function formatRequestHead(msg: Message): string {
	const uri = msg.uri;
	const target = `${uri.pathname === '' ? '/' : uri.pathname}${uri.search}`;
	let head = `${msg.method} ${target} HTTP/${msg.httpVersion}\r\n`;
	if (!msg.requestHeaders.has('Host')) {
		head += `Host: ${uri.host}\r\n`;
	}

	for (const [name, value] of msg.requestHeaders) {
		head += `${name}: ${value}\r\n`;
	}

	return `${head}\r\n`;
}

/** Statuses whose responses never carry a body nor, for 1xx and 204, `Content-Length` (RFC 7230 §3.3). */
function hasNoBody(code: number): boolean {
	return code < 200 || code === 204 || code === 304;
}

/**
 * Formats the head of a server response: status line (always `HTTP/1.1`), the response headers
 * in order, and the blank line. For a status that may have a body, `Content-Length` is set to the
 * length of {@link Message.responseBody} (0 without one), replacing any `Content-Length` or
 * `Transfer-Encoding` in the headers; for 1xx and 204 both are left out.
 *
 * @param msg - The message, after {@link serverProcessHandshake} or {@link Message.setStatus}.
 * @returns The head, to be written as Latin-1.
 * @throws {RangeError} when no status has been set.
 */
export function formatResponseHead(msg: Message): string {
	const code = msg.statusCode;
	if (code < 100 || code > 599) {
		throw new RangeError(`Expected \`msg.statusCode\` to be set to an HTTP status code, got \`${code}\``);
	}

	const framed = !hasNoBody(code);
	const dropFraming = framed || code !== 304;
	let head = `HTTP/1.1 ${code} ${msg.reasonPhrase}\r\n`;
	for (const [name, value] of msg.responseHeaders) {
		const key = name.toLowerCase();
		if (dropFraming && (key === 'content-length' || key === 'transfer-encoding')) {
			continue;
		}

		head += `${name}: ${value}\r\n`;
	}

	if (framed) {
		head += `Content-Length: ${msg.responseBody?.length ?? 0}\r\n`;
	}

	return `${head}\r\n`;
}

/**
 * Writes the response to a raw socket, as a custom server does from an `'upgrade'` listener:
 * the head from {@link formatResponseHead} and, for a status that may have one, the body, in a
 * single write.
 *
 * @param socket - Anything with a `write` method, usually the `net.Socket` of the upgrade.
 * @param msg - The message, after {@link serverProcessHandshake}.
 * @throws {RangeError} when no status has been set.
 */
export function writeResponseHead(socket: {write(data: string | Buffer): unknown}, msg: Message): void {
	const head = Buffer.from(formatResponseHead(msg), 'latin1');
	const body = hasNoBody(msg.statusCode) ? null : msg.responseBody;
	socket.write(body === null || body.length === 0 ? head : Buffer.concat([head, body]));
}

/**
 * Finds the end of an HTTP head in the bytes received so far, to split the head from what
 * follows it (the first WebSocket frames may come in the same packet as a 101 response).
 *
 * @param data - The bytes received since the start of the head.
 * @param maxSize - The largest head accepted, blank line included.
 * @returns The offset just past the blank line (`\r\n\r\n`), or -1 when more data is needed.
 * @throws {WebsocketError} `FAILED` with reason `'WS_ERR_HEADERS_TOO_LARGE'` when the head is, or
 *   will be, larger than `maxSize`.
 */
export function findHeadEnd(data: Uint8Array, maxSize: number = MAX_HEAD_SIZE): number {
	const buffer = toBuffer(data, 'data');
	const index = buffer.indexOf('\r\n\r\n', 0, 'latin1');
	if (index === -1) {
		if (buffer.length >= maxSize) {
			throw headTooLarge(maxSize);
		}

		return -1;
	}

	const end = index + 4;
	if (end > maxSize) {
		throw headTooLarge(maxSize);
	}

	return end;
}

function headTooLarge(maxSize: number): WebsocketError {
	return new WebsocketError(
		WebsocketErrorCode.FAILED,
		'WS_ERR_HEADERS_TOO_LARGE',
		`HTTP response head is larger than ${maxSize} bytes`,
	);
}

const statusLinePattern = /^HTTP\/1\.([01]) ([1-5][0-9]{2})(?: (.*))?$/;

/**
 * Parses a raw response head into `msg`: status code, reason phrase and response headers (which
 * it replaces). Nothing in `msg` changes when the head is rejected.
 *
 * The head is the status line and header lines, each ended by CRLF, optionally followed by the
 * blank line; nothing may follow the blank line (split it off with {@link findHeadEnd}). Lines
 * must end with CRLF: a bare CR or LF is rejected, as are header names that are not tokens
 * (including whitespace before the colon, RFC 7230 §3.2.4) and control characters in values.
 * Obsolete line folding is replaced by a space, as RFC 7230 §3.2.4 asks of a user agent.
 *
 * @param msg - The client message the response answers.
 * @param head - The head as bytes (read as Latin-1) or as a string.
 * @throws {WebsocketError} `FAILED` with reason `'WS_ERR_HEADERS_TOO_LARGE'` when the head is over
 *   {@link MAX_HEAD_SIZE} bytes, or reason `'WS_ERR_INVALID_HTTP'` when it is malformed.
 */
export function parseResponseHead(msg: Message, head: Uint8Array | string): void {
	let text: string;
	if (typeof head === 'string') {
		text = head;
	} else if (head instanceof Uint8Array) {
		text = Buffer.from(head.buffer, head.byteOffset, head.byteLength).toString('latin1');
	} else {
		throw new TypeError(`Expected \`head\` to be a string or a Uint8Array, got ${describe(head)}`);
	}

	if (text.length > MAX_HEAD_SIZE) {
		throw headTooLarge(MAX_HEAD_SIZE);
	}

	let body: string;
	const blank = text.indexOf('\r\n\r\n');
	if (blank === -1) {
		body = text.endsWith('\r\n') ? text.slice(0, -2) : text;
	} else {
		if (blank + 4 !== text.length) {
			throw invalidHttp('Invalid HTTP response: data after the end of the head');
		}

		body = text.slice(0, blank);
	}

	if (body === '') {
		throw invalidHttp('Invalid HTTP response: empty head');
	}

	const lines = body.split('\r\n');
	const statusLine = lines[0] ?? '';
	const status = statusLinePattern.exec(statusLine);
	const reason = status?.[3] ?? '';
	if (status === null || !reasonPhrasePattern.test(reason)) {
		throw invalidHttp(`Invalid HTTP response: invalid status line ${describe(statusLine)}`);
	}

	const fields: Array<{name: string; value: string}> = [];
	for (let i = 1; i < lines.length; i++) {
		const line = lines[i] ?? '';
		if (!fieldValuePattern.test(line)) {
			throw invalidHttp(`Invalid HTTP response: invalid character in header line ${describe(line)}`);
		}

		const previous = fields.at(-1);
		if (isOws(line.charCodeAt(0))) {
			// RFC 7230 §3.2.4: obs-fold; a user agent MUST replace it with SP.
			if (previous === undefined) {
				throw invalidHttp('Invalid HTTP response: continuation line before any header');
			}

			const rest = trimOws(line);
			previous.value = previous.value === '' ? rest : rest === '' ? previous.value : `${previous.value} ${rest}`;
			continue;
		}

		const colon = line.indexOf(':');
		const name = colon === -1 ? '' : line.slice(0, colon);
		if (!isToken(name)) {
			throw invalidHttp(`Invalid HTTP response: invalid header line ${describe(line)}`);
		}

		fields.push({name, value: trimOws(line.slice(colon + 1))});
	}

	const headers = new MessageHeaders();
	for (const {name, value} of fields) {
		headers.append(name, value);
	}

	msg.setStatus(Number(status[2]), reason);
	msg.responseHeaders.clear();
	for (const [name, value] of headers) {
		msg.responseHeaders.append(name, value);
	}
}
