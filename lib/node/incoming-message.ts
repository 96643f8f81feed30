// Node adapter, server side: a Message from an IncomingMessage, with the connection it came on (libsoup's SoupServerMessage).

import type {IncomingMessage} from 'node:http';
import type {AddressInfo, Socket} from 'node:net';
import {describe} from '../gobject/param-spec.ts';
import {invalidHttp} from '../http/head.ts';
import {asciiEqualsIgnoreCase} from '../http/headers.ts';
import {Message, messageSchemes} from '../http/message.ts';

/**
 * A message made from a request: it answers {@link Message.getLocalAddress},
 * {@link Message.getRemoteAddress}, {@link Message.remoteAddress} and {@link Message.getSocket}
 * from the socket it came on, so the message class in lib/http stays free of sockets. As libsoup's
 * `SoupServerMessage`, it reads an address from the socket when first asked for, then keeps it: a
 * handshake nobody asks costs no `getsockname`/`getpeername` and keeps no address. Internal: the
 * package exports only `Message`.
 */
export class ServerMessage extends Message {
	readonly #socket: Socket | null;
	// `undefined`: not asked for yet.
	#localAddress: AddressInfo | null | undefined;
	#remoteAddress: AddressInfo | null | undefined;
	#remoteHost: string | null | undefined;

	constructor(uri: string | URL, socket: Socket | null) {
		super(uri);
		this.#socket = socket;
	}

	override get remoteAddress(): string | null {
		if (this.#remoteHost === undefined) {
			const address = this.#socket === null ? undefined : socketField(this.#socket, 'remoteAddress');
			this.#remoteHost = typeof address === 'string' && address !== '' ? address : null;
		}

		return this.#remoteHost;
	}

	override set remoteAddress(address: string | null) {
		super.remoteAddress = address;
		this.#remoteHost = address;
	}

	override getLocalAddress(): AddressInfo | null {
		if (this.#localAddress === undefined) {
			this.#localAddress = this.#socket === null ? null : socketAddress(this.#socket, 'local');
		}

		return this.#localAddress === null ? null : {...this.#localAddress};
	}

	override getRemoteAddress(): AddressInfo | null {
		if (this.#remoteAddress === undefined) {
			this.#remoteAddress = this.#socket === null ? null : socketAddress(this.#socket, 'remote');
		}

		return this.#remoteAddress === null ? null : {...this.#remoteAddress};
	}

	override getSocket(): Socket | null {
		return this.#socket;
	}
}

/**
 * A field of the socket, or `undefined` when reading it throws: the socket of an HTTP/2 message is
 * Node's proxy of the session's socket, which throws `ERR_HTTP2_SOCKET_UNBOUND` once the session is
 * closed (a closed `net.Socket` answers `undefined`).
 */
function socketField(socket: Socket, name: 'localAddress' | 'localFamily' | 'localPort' | 'remoteAddress' | 'remoteFamily' | 'remotePort'): unknown {
	try {
		return socket[name];
	} catch {
		return undefined;
	}
}

/** One end's address of the socket, or `null` when the socket does not know it (see {@link socketField}). */
function socketAddress(socket: Socket, end: 'local' | 'remote'): AddressInfo | null {
	return end === 'local'
		? addressInfo(socketField(socket, 'localAddress'), socketField(socket, 'localFamily'), socketField(socket, 'localPort'))
		: addressInfo(socketField(socket, 'remoteAddress'), socketField(socket, 'remoteFamily'), socketField(socket, 'remotePort'));
}

/** An address as `net.AddressInfo`, or `null` when the socket does not know it (closed, or not a TCP socket). */
function addressInfo(address: unknown, family: unknown, port: unknown): AddressInfo | null {
	if (typeof address !== 'string' || address === '' || typeof port !== 'number') {
		return null;
	}

	return {address, family: typeof family === 'string' ? family : address.includes(':') ? 'IPv6' : 'IPv4', port};
}

/** The socket of a request, or `null` when it has none that is an object. Internal: for the Node adapters of this layer. */
export function socketOf(socket: Socket | null | undefined): Socket | null {
	return socket !== null && typeof socket === 'object' ? socket : null;
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
 * {@link Message.getRemoteAddress}, {@link Message.getRemoteHost} and {@link Message.getSocket}
 * (the addresses read from the socket when first asked for, as libsoup does).
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
	let host: string | undefined;
	let hostCount = 0;
	for (let i = 0; i + 1 < raw.length; i += 2) {
		const name = raw[i]!;
		if (name.length === 4 && asciiEqualsIgnoreCase(name, 'host')) {
			host ??= raw[i + 1]!;
			hostCount++;
		}
	}

	let authority: string;
	let pathAndQuery: string;
	if (target.startsWith('/')) {
		pathAndQuery = target;
		// RFC 7230 §5.4: a server MUST respond with 400 to an HTTP/1.1 request without Host, with
		// more than one Host, or with an invalid one.
		if (hostCount > 1) {
			throw invalidHttp('Invalid HTTP request: more than one Host header');
		}

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

	const socket = socketOf(req.socket as Socket | null | undefined);

	// The URI is parsed once, from scheme, authority and target written out in full: a target such
	// as "//evil.example/" then stays a path (resolving it against a base would read it as a
	// network-path reference to another host). A `#` in the target is no fragment: such a target
	// takes the slow path, where the path and query are set apart and `#` is percent-encoded.
	let msg: Message;
	if (pathAndQuery.startsWith('/') && !pathAndQuery.includes('#')) {
		try {
			msg = new ServerMessage(`${scheme}://${authority}${pathAndQuery}`, socket);
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

		msg = new ServerMessage(uri, socket);
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
	return msg;
}
