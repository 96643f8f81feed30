// HTTP/2 adapters for the handshake helpers: a Message from a stream's headers, a response onto a stream (RFC 8441).

// Types only: like incoming-message.ts, this file fills messages in and writes onto what it is given.
import type {Http2Stream, IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream} from 'node:http2';
import type {Socket} from 'node:net';
import {invalidHttp} from '../http/head.ts';
import type {Message} from '../http/message.ts';
import {ServerMessage, socketOf} from './incoming-message.ts';

/** Options of {@link messageFromHttp2Headers}. */
export interface Http2HeadersOptions {
	/**
	 * The stream the headers came on: the message then knows the session's socket
	 * ({@link Message.getSocket}, the address getters, {@link Message.remoteAddress}).
	 */
	stream?: ServerHttp2Stream | undefined;
}

/**
 * RFC 9113 §8.2.2: "An endpoint MUST NOT generate an HTTP/2 message containing connection-specific
 * header fields"; Node refuses them too. They are left out of what is written onto a stream.
 */
const connectionSpecific = new Set(['connection', 'upgrade', 'keep-alive', 'proxy-connection', 'transfer-encoding']);

function single(headers: IncomingHttpHeaders, name: string): string | undefined {
	const value = headers[name];
	return Array.isArray(value) ? value[0] : value;
}

/**
 * Builds a server-side {@link Message} from the headers of an HTTP/2 request (the `'stream'`
 * event of an `http2` server), the counterpart of {@link messageFromIncomingMessage}: `method`
 * from `:method`, {@link Message.connectProtocol} from `:protocol`, the URI from `:scheme`
 * (`https` gives `wss:`, `http` gives `ws:`), `:authority` (or `Host`) and `:path`,
 * `httpVersion` `'2'`, and every other header field (a repeated one once per value).
 * The message is ready for {@link serverProcessHandshake}, which then checks RFC 8441's form.
 *
 * @param headers - The request's headers, pseudo-headers included.
 * @param options - The stream, for the connection's addresses.
 * @returns A message whose response part is empty.
 * @throws {WebsocketError} `FAILED` with reason `'WS_ERR_INVALID_HTTP'` when the headers cannot
 *   stand for a request: a missing `:method`, `:path` or authority, a scheme other than `http` or
 *   `https`, or an invalid field. Answer it with 400.
 */
export function messageFromHttp2Headers(headers: IncomingHttpHeaders, options: Http2HeadersOptions = {}): Message {
	const method = single(headers, ':method');
	const scheme = single(headers, ':scheme');
	const path = single(headers, ':path');
	const authority = single(headers, ':authority') ?? single(headers, 'host');
	if (method === undefined) {
		throw invalidHttp('Invalid HTTP/2 request: no :method');
	}

	if (scheme !== 'http' && scheme !== 'https') {
		throw invalidHttp(`Invalid HTTP/2 request: unsupported :scheme ${JSON.stringify(scheme ?? null)}`);
	}

	// RFC 8441 §5: ":path […] MUST be set to the path and query parts of the target URI", ":authority […]
	// MUST be set to the authority part of the target URI".
	if (path === undefined || !path.startsWith('/')) {
		throw invalidHttp(`Invalid HTTP/2 request: invalid :path ${JSON.stringify(path ?? null)}`);
	}

	if (authority === undefined || authority === '' || /[\s/?#@]/.test(authority)) {
		throw invalidHttp(`Invalid HTTP/2 request: invalid :authority ${JSON.stringify(authority ?? null)}`);
	}

	let uri: URL;
	try {
		uri = new URL(`${scheme === 'https' ? 'wss' : 'ws'}://${authority}/`);
	} catch (error) {
		throw invalidHttp(`Invalid HTTP/2 request: invalid :authority ${JSON.stringify(authority)}`, error);
	}

	// Path and query are set apart, as for HTTP/1.1: "//host/" must stay a path.
	const queryStart = path.indexOf('?');
	uri.pathname = queryStart === -1 ? path : path.slice(0, queryStart);
	if (queryStart !== -1) {
		uri.search = path.slice(queryStart);
	}

	const socket = options.stream?.session?.socket as Socket | undefined;
	const msg = new ServerMessage(uri, socketOf(socket));
	msg.httpVersion = '2';
	try {
		msg.method = method;
		for (const [name, value] of Object.entries(headers)) {
			if (name.startsWith(':') || value === undefined) {
				continue;
			}

			for (const item of Array.isArray(value) ? value : [value]) {
				msg.requestHeaders.append(name, String(item));
			}
		}
	} catch (error) {
		throw invalidHttp(`Invalid HTTP/2 request: ${error instanceof Error ? error.message : String(error)}`, error);
	}

	const protocol = single(headers, ':protocol');
	msg.connectProtocol = protocol ?? null;
	return msg;
}

/** RFC 9113 §8.5: a 2xx answer to CONNECT turns the stream into a tunnel, which stays open. */
function tunnels(msg: Message): boolean {
	return msg.method === 'CONNECT' && msg.statusCode >= 200 && msg.statusCode < 300;
}

/**
 * The response of `msg` as HTTP/2 headers: `:status` and the response headers (lower-cased, as
 * HTTP/2 requires), without connection-specific fields, with `content-length` for a body (not on
 * a 2xx answer to CONNECT, RFC 9110 §8.6).
 *
 * @param msg - The message, after {@link serverProcessHandshake} or {@link Message.setStatus}.
 * @returns The headers for `stream.respond()`.
 * @throws {RangeError} when no final status has been set.
 */
export function http2ResponseHeaders(msg: Message): OutgoingHttpHeaders {
	const code = msg.statusCode;
	if (code < 200 || code > 599) {
		throw new RangeError(`Expected \`msg.statusCode\` to be set to a final HTTP status code, got \`${code}\``);
	}

	const headers: OutgoingHttpHeaders = {':status': code};
	for (const [name, value] of msg.responseHeaders) {
		const key = name.toLowerCase();
		if (connectionSpecific.has(key) || key === 'content-length') {
			continue;
		}

		const previous = headers[key];
		headers[key] = previous === undefined ? value : Array.isArray(previous) ? [...previous, value] : [String(previous), value];
	}

	if (!tunnels(msg)) {
		headers['content-length'] = msg.responseBody?.length ?? 0;
	}

	return headers;
}

/**
 * After a refusal (a complete response with END_STREAM), RST_STREAM(NO_ERROR) tells a client that
 * keeps its side open to stop, as RFC 9113 §8.1 lets a server do ("Clients MUST NOT discard
 * responses as a result of receiving such a RST_STREAM"), so no refused stream stays half-open
 * for the life of the session (on Node 20 that corrupted the heap in websoup's specs; see
 * docs/http2.md). Deferred out of the stream's callbacks (nodejs/node#38964). Internal: also
 * used by the server glue after the compatibility API's 405.
 */
export function closeAfterResponse(stream: Http2Stream): void {
	const close = (): void => {
		setImmediate(() => {
			if (!stream.closed && !stream.destroyed) {
				// The default code is NO_ERROR.
				stream.close();
			}
		});
	};

	if (stream.writableFinished) {
		close();
	} else {
		stream.once('finish', close);
	}
}

/** Writes the response; `open` leaves the stream open (a tunnel), else the body and END_STREAM follow. */
function respond(stream: ServerHttp2Stream, msg: Message, open: boolean): void {
	const headers = http2ResponseHeaders(msg);
	if (stream.destroyed || stream.headersSent) {
		return;
	}

	if (open) {
		stream.respond(headers, {endStream: false});
		return;
	}

	headers['content-length'] = msg.responseBody?.length ?? 0;
	const body = msg.responseBody;
	if (body === null || body.length === 0) {
		stream.respond(headers, {endStream: true});
	} else {
		stream.respond(headers, {endStream: false});
		stream.end(body);
	}

	closeAfterResponse(stream);
}

/**
 * Writes the response of `msg` onto an HTTP/2 stream, the counterpart of
 * {@link writeResponseHead}: the headers of {@link http2ResponseHeaders}, then — unless it is a
 * 2xx answer to a CONNECT, whose stream stays open for the WebSocket (a tunnel, RFC 9113 §8.5) —
 * the body and END_STREAM, and once sent RST_STREAM(NO_ERROR) so the client stops sending
 * (RFC 9113 §8.1). Refusing a stream leaves the session and its other streams alone.
 *
 * @param stream - The server stream the request came on.
 * @param msg - The message, after {@link serverProcessHandshake}.
 * @throws {RangeError} when no final status has been set.
 */
export function respondHttp2Stream(stream: ServerHttp2Stream, msg: Message): void {
	respond(stream, msg, tunnels(msg));
}

/**
 * Writes `msg`'s response as a refusal: whatever its status, the body and END_STREAM follow.
 * Internal: for the server glue, whose check hook may set any status.
 */
export function refuseHttp2Stream(stream: ServerHttp2Stream, msg: Message): void {
	respond(stream, msg, false);
}
