// An HTTP message for the handshake helpers: libsoup's SoupMessage and SoupServerMessage. No I/O, no Node HTTP.

// Types only: the message never touches a socket (lib/node/incoming-message.ts fills in the server side).
import type {AddressInfo, Socket} from 'node:net';
import {describe} from '../gobject/param-spec.ts';
import {isToken} from '../websocket/validation.ts';
import {MessageHeaders, assertString, reasonPhrasePattern} from './headers.ts';
import {statusReasonPhrase} from './status.ts';

/**
 * The HTTP versions a WebSocket handshake can travel over: RFC 6455 §4.1 asks for 1.1 or higher;
 * `'2'` is RFC 8441's extended CONNECT on an HTTP/2 stream.
 */
export type HttpVersion = '1.0' | '1.1' | '2';

/** Schemes a {@link Message} accepts: the WebSocket ones and the HTTP ones they stand for. */
export const messageSchemes = new Set(['ws:', 'wss:', 'http:', 'https:']);

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
	 * The `:protocol` pseudo-header of an HTTP/2 extended CONNECT (RFC 8441 §4), `'websocket'` for a
	 * WebSocket; `null` for any other request. Only meaningful when {@link Message.httpVersion} is `'2'`.
	 */
	connectProtocol: string | null = null;

	#method = 'GET';
	#uri: URL;
	#remoteAddress: string | null = null;
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
	 * The IP address of the peer (server side), or `null` when unknown; what
	 * {@link Message.getRemoteHost} returns. On a message made from a request it is read from the
	 * socket when first asked for, then kept, as libsoup's `soup_server_message_get_remote_host()`
	 * does: ask while the connection is open (in the handler's callback, say) to have it after the
	 * socket is closed.
	 *
	 * @throws {TypeError} on assignment of anything but a string or `null`.
	 */
	get remoteAddress(): string | null {
		return this.#remoteAddress;
	}

	set remoteAddress(address: string | null) {
		if (address !== null) {
			assertString(address, 'remoteAddress');
		}

		this.#remoteAddress = address;
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
	 * @param reason - The reason phrase; defaults to the standard one (the IANA registry's, as
	 *   Node's `http.STATUS_CODES` has them), or `'Unknown'` for a code without one.
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

		const phrase = reason ?? statusReasonPhrase(code);
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
	 * `{address: '127.0.0.1', family: 'IPv4', port: 8080}`. Like libsoup's, it is read from the socket
	 * when first asked for, then kept.
	 *
	 * @returns The address, or `null` for a message that {@link messageFromIncomingMessage} did not
	 *   make from a request (a client message, one made with `new Message()`).
	 */
	getLocalAddress(): AddressInfo | null {
		return null;
	}

	/**
	 * The remote end of the connection the request came on (the client, or the last proxy), like
	 * `soup_server_message_get_remote_address()`: Node's `net.AddressInfo`, e.g.
	 * `{address: '127.0.0.1', family: 'IPv4', port: 54321}`. Like libsoup's, it is read from the
	 * socket when first asked for, then kept: asked while the connection is open, it is still there
	 * once the socket is closed; first asked after that, it is `null`.
	 *
	 * @returns The address, or `null` for a message not made by {@link messageFromIncomingMessage}.
	 */
	getRemoteAddress(): AddressInfo | null {
		return null;
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
		return null;
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
