// Node glue, server side over HTTP/2: addWebsocketHandler's extended CONNECT streams (RFC 8441) on node:http2 servers.

import type {IncomingMessage} from 'node:http';
import type {Http2SecureServer, Http2Server, Http2ServerRequest, Http2ServerResponse, IncomingHttpHeaders, ServerHttp2Stream} from 'node:http2';
import type {Duplex} from 'node:stream';
import {debug, publishHandshakeRefused} from '../websocket/diagnostics.ts';
import {fillRefusal, serverProcessHandshake} from '../websocket/handshake.ts';
import {closeAfterResponse, messageFromHttp2Headers, refuseHttp2Stream as writeRefusal, respondHttp2Stream} from './http2-message.ts';
import {Message} from '../http/message.ts';
import {mapStreamEnd} from './http2-stream.ts';
import {
	acceptedConnection,
	appendHeaders,
	checkInTime,
	handOver,
	lookup,
	type HandlerEntry,
	type Registry,
} from './server.ts';

/** An HTTP/2 server, cleartext or TLS (with or without `allowHTTP1`). */
export type AnyHttp2Server = Http2Server | Http2SecureServer;

/** The part of the server's interface used here. */
interface Http2Listenable {
	on(event: string, listener: (...args: never[]) => void): unknown;
	removeListener(event: string, listener: (...args: never[]) => void): unknown;
	listenerCount(event: string): number;
}

/** Streams websoup has taken: the compatibility layer's `'connect'` leaves them alone. */
const taken = new WeakSet<ServerHttp2Stream>();

/** The message made from a stream's headers (`null` when they cannot make one), made once per stream. */
const messages = new WeakMap<ServerHttp2Stream, Message | null>();

/**
 * Whether `server` is an `http2` server. Node exports no class to test against; of the servers
 * `addWebsocketHandler` takes, only `Http2Server` and `Http2SecureServer` have `updateSettings()`.
 */
export function isHttp2Server(server: unknown): server is AnyHttp2Server {
	return typeof (server as {updateSettings?: unknown}).updateSettings === 'function';
}

/** Whether a `'request'` (or `'connect'`) event's request came over HTTP/2 (the compatibility API). */
export function isHttp2Request(req: unknown): boolean {
	return (req as {httpVersionMajor?: unknown}).httpVersionMajor === 2 && typeof (req as {stream?: unknown}).stream === 'object';
}

/**
 * The `settings` a server was created with (or last given by `updateSettings()`). Node keeps
 * them on the server under a symbol described `options`; `undefined` when that cannot be read.
 */
function serverSettings(server: AnyHttp2Server): {enableConnectProtocol?: unknown} | undefined {
	for (const symbol of Object.getOwnPropertySymbols(server)) {
		if (symbol.description === 'options') {
			const options = (server as unknown as Record<symbol, {settings?: {enableConnectProtocol?: unknown}} | undefined>)[symbol];
			return options?.settings ?? {};
		}
	}

	return undefined;
}

/**
 * Refuses an HTTP/2 server on which no client may open a WebSocket: RFC 8441 §3, "A client MUST
 * NOT send a CONNECT request with the :protocol pseudo-header unless a server has sent" the
 * setting `SETTINGS_ENABLE_CONNECT_PROTOCOL` with a value of 1.
 *
 * @throws {TypeError} when the server was created without `settings: {enableConnectProtocol: true}`.
 */
export function assertExtendedConnect(server: AnyHttp2Server): void {
	const settings = serverSettings(server);
	if (settings !== undefined && settings.enableConnectProtocol !== true) {
		throw new TypeError(
			'Expected `server` to be an HTTP/2 server created with `settings: {enableConnectProtocol: true}` ' +
				'(RFC 8441 §3: without SETTINGS_ENABLE_CONNECT_PROTOCOL no client may open a WebSocket), got one without',
		);
	}
}

/** The message of a stream's request, made once. */
function messageOf(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Message | null {
	let msg = messages.get(stream);
	if (msg === undefined) {
		try {
			msg = messageFromHttp2Headers(headers, {stream});
		} catch (error) {
			debug('invalid HTTP/2 request: %s', error instanceof Error ? error.message : String(error));
			msg = null;
		}

		messages.set(stream, msg);
	}

	return msg;
}

/**
 * The handler of an extended CONNECT stream (RFC 8441 §4: `:method` CONNECT with a `:protocol`),
 * or `null` when the stream is not one or no handler's path matches: then it is not websoup's.
 */
function claim(registry: Registry, stream: ServerHttp2Stream, headers: IncomingHttpHeaders): {msg: Message | null; entry: HandlerEntry} | null {
	if (headers[':method'] !== 'CONNECT' || headers[':protocol'] === undefined) {
		return null;
	}

	const msg = messageOf(stream, headers);
	const path = msg === null ? (headers[':path'] ?? '/').split('?', 1)[0]! : msg.uri.pathname;
	const entry = lookup(registry, path);
	return entry === null ? null : {msg, entry};
}

/** Sends a refused handshake's response on its stream (the session goes on), as diagnostics report it. */
function refuseHttp2Stream(stream: ServerHttp2Stream, msg: Message, error: Error | null = null): void {
	publishHandshakeRefused('server', msg, error);
	msg.httpVersion = '2';
	writeRefusal(stream, msg);
}

/** A refusal with only a status, on a stream (the session goes on). */
function refuseWithStatus(stream: ServerHttp2Stream, uri: URL, status: number): void {
	const msg = new Message(uri);
	msg.httpVersion = '2';
	msg.setStatus(status);
	refuseHttp2Stream(stream, msg);
}

async function handleStream(
	server: AnyHttp2Server,
	registry: Registry,
	stream: ServerHttp2Stream,
	msg: Message | null,
	entry: HandlerEntry,
): Promise<void> {
	// Until the connection takes over, a reset of the stream must not go unhandled.
	const onError = (error: Error): void => {
		debug('stream error during the handshake: %s', error.message);
	};
	stream.on('error', onError);

	if (msg === null) {
		refuseWithStatus(stream, new URL('ws://localhost/'), 400);
		return;
	}

	const path = msg.uri.pathname;
	if (entry.shutdown.closing) {
		debug('handshake refused: the handler is shutting down');
		refuseHttp2Stream(stream, entry.shutdown.refusal(msg.uri));
		return;
	}

	// The client ended its side with the request: it could never send a frame.
	if (stream.endAfterHeaders) {
		fillRefusal(msg, 'WebSocket handshake request must not end the stream');
		refuseHttp2Stream(stream, msg);
		return;
	}

	let refusal: Message | null = null;
	if (entry.options.check !== undefined) {
		const checked = await checkInTime(registry, entry, path, msg, () => refuseWithStatus(stream, msg.uri, 503), () => stream.destroyed);
		if (checked === undefined) {
			return;
		}

		if (typeof checked === 'number') {
			refuseWithStatus(stream, msg.uri, checked);
			return;
		}

		refusal = checked;
	}

	if (refusal !== null) {
		refuseHttp2Stream(stream, refusal);
		return;
	}

	const result = serverProcessHandshake(msg, entry.origin, entry.protocols, entry.extensions);
	if (!result.accepted) {
		debug('handshake refused: %s', result.error.message);
		refuseHttp2Stream(stream, msg, result.error);
		return;
	}

	if (entry.options.responseHeaders !== undefined) {
		appendHeaders(msg, entry.options.responseHeaders);
	}

	// The server's idle timeout does not apply to a WebSocket: keepalive is the connection's job.
	stream.setTimeout(0);
	respondHttp2Stream(stream, msg);

	// A throw here rejects handleStream(), whose caller destroys the stream.
	const connection = acceptedConnection(entry, stream, msg, result);

	mapStreamEnd(connection, stream);
	stream.removeListener('error', onError);
	handOver(entry, server, msg, path, connection);
}

/**
 * Answers a plain HTTP/2 request (the compatibility API's `'request'`) when websoup's listener is
 * the only one: 400 "WebSocket handshake expected" at a handled path, 404 elsewhere, as over HTTP/1.1.
 */
export function answerHttp2Request(registry: Registry, req: IncomingMessage): void {
	const {stream, headers} = req as unknown as Http2ServerRequest;
	const msg = messageOf(stream, headers);
	if (msg === null) {
		refuseWithStatus(stream, new URL('ws://localhost/'), 400);
		return;
	}

	const entry = lookup(registry, msg.uri.pathname);
	if (entry === null) {
		refuseWithStatus(stream, msg.uri, 404);
		return;
	}

	// Not an extended CONNECT, so this fills a 400 "WebSocket handshake expected".
	serverProcessHandshake(msg, entry.origin, entry.protocols, entry.extensions);
	if (msg.statusCode === 200) {
		msg.setStatus(400);
	}

	refuseHttp2Stream(stream, msg);
}

/**
 * Puts websoup's listeners on an HTTP/2 server: `'stream'` takes the extended CONNECT streams at a
 * handled path, and `'connect'` keeps Node's compatibility API (on as soon as a `'request'`
 * listener is, websoup's own included) from answering them 405 — the pitfall of a CONNECT stream
 * ended by a `'request'` listener. A CONNECT that is not websoup's gets what Node would give it
 * without websoup: 405 over HTTP/2 (404 for an extended CONNECT at no handler's path, as an upgrade
 * gets), the socket destroyed over HTTP/1.1; unless the application listens for `'connect'` too.
 *
 * @returns A function that removes the listeners.
 */
export function attachHttp2(server: AnyHttp2Server, registry: Registry): () => void {
	const target = server as unknown as Http2Listenable;
	const onStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void => {
		if (taken.has(stream)) {
			return;
		}

		const claimed = claim(registry, stream, headers);
		if (claimed === null) {
			return;
		}

		taken.add(stream);
		handleStream(server, registry, stream, claimed.msg, claimed.entry).catch((error: unknown) => {
			debug('extended CONNECT failed: %s', error instanceof Error ? error.message : String(error));
			if (!stream.destroyed) {
				stream.destroy();
			}
		});
	};

	const onConnect = (req: IncomingMessage | Http2ServerRequest, second: Duplex | Http2ServerResponse): void => {
		if (!isHttp2Request(req)) {
			// An HTTP/1.1 CONNECT (allowHTTP1): without a listener of its own Node destroys the socket.
			if (target.listenerCount('connect') === 1) {
				(second as Duplex).destroy();
			}

			return;
		}

		const {stream, headers} = req as Http2ServerRequest;
		if (taken.has(stream) || claim(registry, stream, headers) !== null || target.listenerCount('connect') > 1) {
			return;
		}

		const res = second as Http2ServerResponse;
		res.statusCode = headers[':protocol'] === undefined ? 405 : 404;
		res.end();
		closeAfterResponse(stream);
	};

	target.on('stream', onStream);
	target.on('connect', onConnect);
	return () => {
		target.removeListener('stream', onStream);
		target.removeListener('connect', onConnect);
	};
}
