// Node glue, server side: libsoup's soup_server_add_websocket_handler for any http or https server.

import type {IncomingMessage, Server as HttpServer, ServerResponse} from 'node:http';
import type {Http2SecureServer, Http2Server} from 'node:http2';
import type {Server as HttpsServer} from 'node:https';
import type {Socket} from 'node:net';
import type {Duplex} from 'node:stream';
import {
	DEFAULT_MAX_BUFFERED_AMOUNT,
	DEFAULT_MAX_INCOMING_FRAGMENTS,
	DEFAULT_MAX_INCOMING_PAYLOAD_SIZE,
	WebsocketConnectionType,
} from '../websocket/constants.ts';
import {checkedConstructProperties} from '../gobject/object.ts';
import {describe} from '../gobject/param-spec.ts';
import {WebsocketConnection} from '../websocket/connection.ts';
import {debug, publishHandshakeRefused} from '../websocket/diagnostics.ts';
import {validateConnectionOptions, type ConnectionLimitOptions} from './connection-options.ts';
import type {WebsocketExtension, WebsocketExtensionClass} from '../websocket/extensions/extension.ts';
import {WebsocketExtensionDeflate} from '../websocket/extensions/deflate.ts';
import {fillRefusal, serverProcessHandshake, type ServerHandshakeResult} from '../websocket/handshake.ts';
import {writeResponseHead} from '../http/head.ts';
import {Message} from '../http/message.ts';
import {messageFromIncomingMessage} from './incoming-message.ts';
import {answerHttp2Request, assertExtendedConnect, attachHttp2, isHttp2Request, isHttp2Server} from './http2-server.ts';
import {HandlerShutdown, type WebsocketHandlerCloseOptions, type WebsocketHandlerCloseResult} from './shutdown.ts';


/** The default of {@link WebsocketHandlerOptions.handshakeTimeout}: 10 s. */
export const DEFAULT_SERVER_HANDSHAKE_TIMEOUT = 10_000;

/** How long a refused handshake's response may take to flush before the socket is destroyed. */
const FLUSH_TIMEOUT_MS = 5000;

/** A Node HTTP or HTTPS server. */
export type WebsocketHttpServer = HttpServer | HttpsServer;

/**
 * A server {@link addWebsocketHandler} takes: HTTP or HTTPS, or HTTP/2 (`http2.createServer()`,
 * `createSecureServer()`, with `settings: {enableConnectProtocol: true}`), where WebSockets ride
 * streams (RFC 8441).
 */
export type WebsocketServer = WebsocketHttpServer | Http2Server | Http2SecureServer;

/**
 * What {@link addWebsocketHandler} calls with each new connection (libsoup 3's
 * `SoupServerWebsocketCallback`): the server, the request message (headers, URI, the 101 response
 * that was sent, and the connection it came on: `getLocalAddress()`, `getRemoteAddress()`,
 * `getRemoteHost()`, `getSocket()`, as SoupServerMessage), the request's path, and the connection.
 * Keep the connection: websoup holds no reference to it.
 */
export type WebsocketServerCallback<S extends WebsocketServer = WebsocketHttpServer> = (
	server: S,
	msg: Message,
	path: string,
	connection: WebsocketConnection,
) => void;

/** The extensions a handler accepts: SoupServer offers permessage-deflate unless told otherwise. */
export function serverExtensions(options: WebsocketHandlerOptions): readonly WebsocketExtensionClass[] | null {
	return options.extensions === undefined ? [WebsocketExtensionDeflate] : options.extensions;
}

/** Options of {@link addWebsocketHandler}. */
export interface WebsocketHandlerOptions {
	/**
	 * The extension classes the handler accepts (libsoup's server extension list). Default:
	 * permessage-deflate, as SoupServer; `null` or `[]` turns extensions off.
	 */
	extensions?: readonly WebsocketExtensionClass[] | null | undefined;
	/** The connection's `max-incoming-payload-size` (bytes per frame, 0 = unlimited); default 128 KiB. */
	maxIncomingPayloadSize?: number | undefined;
	/** The connection's `max-total-message-size` (bytes per message, 0 = unlimited); default 128 KiB, as SoupServer. */
	maxTotalMessageSize?: number | undefined;
	/** The connection's `keepalive-interval` in seconds; default 0 (off). */
	keepaliveInterval?: number | undefined;
	/** The connection's `keepalive-pong-timeout` in seconds; default 0 (off). */
	keepalivePongTimeout?: number | undefined;
	/** The connection's `max-incoming-fragments` (frames per message, 0 = unlimited); default 4096. */
	maxIncomingFragments?: number | undefined;
	/** The connection's `max-buffered-amount` (bytes waiting to be sent past which reading stops, 0 = off); default 1 MiB. */
	maxBufferedAmount?: number | undefined;
	/** The connection's `close-timeout`: milliseconds the close handshake and its drain may take; default 5000. */
	closeTimeout?: number | undefined;
	/** The connection's `idle-timeout` in seconds (no data frame for so long closes with 1001); default 0 (off). */
	idleTimeout?: number | undefined;
	/**
	 * Milliseconds from the `'upgrade'` event to the 101 (that is, the time `check` may take);
	 * past it the client gets 503 and the socket is closed. 0 = no limit. Reading the request
	 * head is bounded by the HTTP server's own `headersTimeout` and `maxHeaderSize`.
	 *
	 * @defaultValue 10000
	 */
	handshakeTimeout?: number | undefined;
	/**
	 * Runs before the handshake is processed, like a normal SoupServer handler at the same path:
	 * if it sets a status (`msg.setStatus()`, and `msg.setResponse()` for a body, headers in
	 * `msg.responseHeaders`), that response is sent and no WebSocket is made. Headers it adds
	 * without setting a status go out on the 101. May be async; a throw is answered with 500.
	 */
	check?: ((msg: Message) => void | Promise<void>) | undefined;
	/** Extra headers for the 101 response (`Set-Cookie`, …), appended after the handshake's own. */
	responseHeaders?: Readonly<Record<string, string | readonly string[]>> | Iterable<readonly [string, string]> | undefined;
}

/** What {@link addWebsocketHandler} returns. */
export interface WebsocketHandler {
	/** The path the handler was added at, `null` for the default handler. */
	readonly path: string | null;
	/**
	 * Removes the handler, like `soup_server_remove_handler()`; connections already made stay open.
	 * Once the last handler of a server is removed, websoup's listeners leave the server.
	 */
	remove(): void;
	/**
	 * Shuts the handler down gracefully: from this call on, handshakes at its path are refused with
	 * 503 and `Retry-After`; every open connection it accepted gets a Close (`code`, default 1001,
	 * and `reason`); the promise resolves once all are CLOSED, or once `timeout` ms (default 5000)
	 * have passed and the ones still open were terminated, with how many closed cleanly, how many
	 * closed without a complete handshake, and how many were terminated. Calling it again returns
	 * the same promise. The handler stays in place (answering 503) until {@link WebsocketHandler.remove}.
	 *
	 * @throws {TypeError} for an option of the wrong type.
	 * @throws {RangeError} for a code a server may not send or a reason over 123 bytes.
	 */
	close(options?: WebsocketHandlerCloseOptions): Promise<WebsocketHandlerCloseResult>;
}

/** A handler as the registry keeps it (shared with the HTTP/2 glue). */
export interface HandlerEntry {
	readonly path: string | null;
	readonly origin: string | null;
	readonly protocols: readonly string[] | null;
	readonly callback: WebsocketServerCallback<never>;
	readonly options: WebsocketHandlerOptions;
	readonly timeout: number;
	readonly shutdown: HandlerShutdown;
	/** {@link serverExtensions} of the options, found once. */
	readonly extensions: readonly WebsocketExtensionClass[] | null;
	/** The limits of every connection the handler makes, found once. */
	readonly limits: ServerConnectionLimits;
}

/** The limits of a server-side connection: every one given, so each handshake's properties have one shape. */
export type ServerConnectionLimits = {readonly [K in keyof ConnectionLimitOptions]-?: number};

/** The `extensions` property's default: one frozen empty list, shared by every connection that negotiated none. */
const NO_EXTENSIONS = WebsocketConnection.findProperty('extensions')!.defaultValue as readonly WebsocketExtension[];

/**
 * The connection limits of a handler: its options, else SoupServer's defaults (`max-total-message-size`
 * 128 KiB where a bare connection has 0), else the connection's own defaults. Shared with the HTTP/2 glue.
 */
export function serverConnectionLimits(options: WebsocketHandlerOptions): ServerConnectionLimits {
	return {
		maxIncomingPayloadSize: options.maxIncomingPayloadSize ?? DEFAULT_MAX_INCOMING_PAYLOAD_SIZE,
		maxTotalMessageSize: options.maxTotalMessageSize ?? DEFAULT_MAX_INCOMING_PAYLOAD_SIZE,
		keepaliveInterval: options.keepaliveInterval ?? 0,
		keepalivePongTimeout: options.keepalivePongTimeout ?? 0,
		maxIncomingFragments: options.maxIncomingFragments ?? DEFAULT_MAX_INCOMING_FRAGMENTS,
		maxBufferedAmount: options.maxBufferedAmount ?? DEFAULT_MAX_BUFFERED_AMOUNT,
		closeTimeout: options.closeTimeout ?? (WebsocketConnection.findProperty('close-timeout')!.defaultValue as number),
		idleTimeout: options.idleTimeout ?? 0,
	};
}

/** A server's handlers and websoup's listeners on it (shared with the HTTP/2 glue). */
export interface Registry {
	/** Handlers with a path, longest path first (libsoup's SoupPathMap order). */
	handlers: HandlerEntry[];
	defaultHandler: HandlerEntry | null;
	readonly onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
	readonly onRequest: (req: IncomingMessage, res: ServerResponse) => void;
	/** On an HTTP/2 server: removes the stream listeners. */
	detachHttp2?: (() => void) | undefined;
}

/** The part of a server's interface the glue uses; http.Server and https.Server both have it. */
interface Listenable {
	on(event: string, listener: (...args: never[]) => void): unknown;
	removeListener(event: string, listener: (...args: never[]) => void): unknown;
	listenerCount(event: string): number;
}

const registries = new WeakMap<object, Registry>();

function normalizePath(path: unknown): string | null {
	if (path === null || path === '' || path === '/') {
		// libsoup: a NULL or "/" path makes the default handler.
		return null;
	}

	if (typeof path !== 'string' || !path.startsWith('/')) {
		throw new TypeError(`Expected \`path\` to be null or a string starting with "/", got ${describe(path)}`);
	}

	return path;
}

function validateTimeout(value: unknown): number {
	if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 2_147_483_647) {
		throw new TypeError(
			`Expected \`handshakeTimeout\` to be a whole number of milliseconds (0–2147483647), got \`${String(value)}\``,
		);
	}

	return value;
}

/**
 * The handler for a request path, as SoupServer finds it (SoupPathMap): the handler with the longest
 * path that is a prefix of the request's path, compared as plain strings, else the default handler.
 * So `/chat` handles `/chat`, `/chat/room` and also `/chatroom`, exactly as in libsoup.
 */
export function lookup(registry: Registry, path: string): HandlerEntry | null {
	for (const entry of registry.handlers) {
		if (path.startsWith(entry.path!)) {
			return entry;
		}
	}

	return registry.defaultHandler;
}

export function appendHeaders(
	msg: Message,
	headers: Readonly<Record<string, string | readonly string[]>> | Iterable<readonly [string, string]>,
): void {
	if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
		for (const [name, value] of headers as Iterable<readonly [string, string]>) {
			msg.responseHeaders.append(name, value);
		}

		return;
	}

	for (const [name, value] of Object.entries(headers as Record<string, string | readonly string[]>)) {
		for (const item of typeof value === 'string' ? [value] : value) {
			msg.responseHeaders.append(name, item);
		}
	}
}

/** Flushes what was written, then destroys the socket; bounded, so a peer that reads nothing cannot hold it. */
function closeAfterFlush(socket: Duplex): void {
	const timer = setTimeout(() => socket.destroy(), FLUSH_TIMEOUT_MS);
	timer.unref();
	socket.once('close', () => clearTimeout(timer));
	if (socket.writableFinished) {
		socket.destroy();
		return;
	}

	socket.once('finish', () => socket.destroy());
	if (!socket.writableEnded) {
		socket.end();
	}
}

/** Sends `msg`'s response (a refused handshake) with `Connection: close`, then closes the socket. */
function sendRefusal(socket: Duplex, msg: Message, error: Error | null = null): void {
	if (!socket.listeners('error').includes(onHandshakeSocketError)) {
		socket.on('error', onHandshakeSocketError);
	}

	publishHandshakeRefused('server', msg, error);
	if (!msg.responseHeaders.headerContains('Connection', 'close')) {
		msg.responseHeaders.append('Connection', 'close');
	}

	if (!socket.destroyed && !socket.writableEnded) {
		writeResponseHead(socket, msg);
	}

	closeAfterFlush(socket);
}

/** A bare refusal, for requests that cannot be turned into a {@link Message}. */
function sendStatus(socket: Duplex, status: number): void {
	const msg = new Message('ws://localhost/');
	msg.setStatus(status);
	sendRefusal(socket, msg);
}

/**
 * Whether a request announces a body (RFC 7230 §3.3: `Transfer-Encoding`, or a `Content-Length`
 * other than 0). Node's parser does not read the body of an upgrade request: its bytes would be
 * handed over after the head, where the connection would decode them as WebSocket frames.
 */
function hasRequestBody(msg: Message): boolean {
	if (msg.requestHeaders.has('Transfer-Encoding')) {
		return true;
	}

	const length = msg.requestHeaders.getOne('Content-Length');
	return length !== null && length !== '0';
}

/** What the check hook left: `null` to go on with the handshake, or the message to send as the refusal. */
async function runCheck(entry: HandlerEntry, msg: Message): Promise<Message | null> {
	const {check} = entry.options;
	if (check === undefined) {
		return null;
	}

	try {
		await check(msg);
	} catch (error) {
		debug('websocket check hook threw: %s', error instanceof Error ? error.message : String(error));
		const failed = new Message(msg.uri);
		failed.setStatus(500);
		return failed;
	}

	if (msg.statusCode === 0) {
		return null;
	}

	if (msg.statusCode < 200) {
		// An interim status cannot end a request; a hook that set one made a mistake.
		process.emitWarning(`websocket check hook set status ${msg.statusCode}; answering 500`, {
			type: 'WebsocketWarning',
			code: 'WEBSOCKET_CHECK_INTERIM_STATUS',
		});
		const failed = new Message(msg.uri);
		failed.setStatus(500);
		return failed;
	}

	return msg;
}

/**
 * Gives a new connection to the handler: its graceful shutdown tracks it, and its callback gets it;
 * a callback that throws is a process warning and closes the connection with 1011. Shared with the
 * HTTP/2 glue.
 */
export function handOver(entry: HandlerEntry, server: WebsocketServer, msg: Message, path: string, connection: WebsocketConnection): void {
	entry.shutdown.add(connection);
	try {
		(entry.callback as WebsocketServerCallback<WebsocketServer>)(server, msg, path, connection);
	} catch (error) {
		process.emitWarning(
			`websocket handler callback threw: ${error instanceof Error ? error.message : String(error)}`,
			{type: 'WebsocketWarning', code: 'WEBSOCKET_CALLBACK_THREW'},
		);
		connection.close(1011);
	}
}

/**
 * Runs the check hook within the handler's handshake timeout (`onTimeout` answers 503 when it
 * passes), then looks again as libsoup does before it takes the connection: a handler shutting down
 * refuses, one removed or replaced while the hook ran answers 404. Shared with the HTTP/2 glue.
 *
 * @returns `undefined` when there is nothing left to answer (the timeout did, or `gone()`), `null`
 *   to go on with the handshake, the message to refuse with, or the status to refuse with.
 */
export async function checkInTime(
	registry: Registry,
	entry: HandlerEntry,
	path: string,
	msg: Message,
	onTimeout: () => void,
	gone: () => boolean,
): Promise<Message | number | null | undefined> {
	let timedOut = false;
	let timer: NodeJS.Timeout | undefined;
	if (entry.timeout > 0) {
		timer = setTimeout(() => {
			timedOut = true;
			debug('handshake timeout');
			onTimeout();
		}, entry.timeout);
	}

	let refusal: Message | null;
	try {
		refusal = await runCheck(entry, msg);
	} finally {
		clearTimeout(timer);
	}

	if (timedOut || gone()) {
		return undefined;
	}

	if (refusal !== null) {
		return refusal;
	}

	if (entry.shutdown.closing) {
		return entry.shutdown.refusal(msg.uri);
	}

	return lookup(registry, path) === entry ? null : 404;
}

/**
 * Until the connection takes over, an error (ECONNRESET) on an upgraded socket must not go
 * unhandled: Node's HTTP server has removed its own listeners from it. One function for every
 * socket, added only where the socket waits (a check hook, a refusal's flush).
 */
function onHandshakeSocketError(error: Error): void {
	debug('socket error during the handshake: %s', error.message);
}

/** An upgrade that threw (an invalid limit in the handler's options, say): nothing sensible can run on the socket. */
function upgradeFailed(socket: Duplex, error: unknown): void {
	debug('upgrade failed: %s', error instanceof Error ? error.message : String(error));
	if (!socket.destroyed) {
		socket.destroy();
	}
}

/**
 * An upgrade request: refused, left to another listener, or made a connection. Without a check
 * hook all of it happens in this turn (no promise, no timer); errors surface only after it, on the
 * connection's listeners, so none is added to the socket on the way.
 */
function handleUpgrade(
	server: WebsocketServer,
	registry: Registry,
	req: IncomingMessage,
	socket: Duplex,
	head: Buffer,
): void {
	let msg: Message;
	try {
		msg = messageFromIncomingMessage(req);
	} catch {
		// RFC 7230 §5.4: a missing, repeated or invalid Host gets 400.
		sendStatus(socket, 400);
		return;
	}

	const path = msg.uri.pathname;
	const entry = lookup(registry, path);
	if (entry === null) {
		if ((server as unknown as Listenable).listenerCount('upgrade') > 1) {
			// Another 'upgrade' listener on this server may own the path; leave the socket to it.
			return;
		}

		const notFound = new Message(msg.uri);
		notFound.setStatus(404);
		sendRefusal(socket, notFound);
		return;
	}

	if (entry.shutdown.closing) {
		debug('handshake refused: the handler is shutting down');
		sendRefusal(socket, entry.shutdown.refusal(msg.uri));
		return;
	}

	// RFC 6455 §4.1: the opening handshake is a GET, and a body has no meaning in it. libsoup's
	// server reads one with HTTP framing first; websoup refuses it, so no byte of a body is ever
	// taken for a frame (and no body is left to smuggle a frame in).
	if (hasRequestBody(msg)) {
		debug('handshake refused: the request has a body');
		fillRefusal(msg, 'WebSocket handshake request must not have a body');
		sendRefusal(socket, msg);
		return;
	}

	if (entry.options.check === undefined) {
		accept(server, entry, msg, path, socket, head);
		return;
	}

	socket.on('error', onHandshakeSocketError);
	checkThenAccept(server, registry, entry, msg, path, socket, head).catch((error: unknown) => {
		upgradeFailed(socket, error);
	});
}

/** The check hook, within the handshake timeout, then the handshake. */
async function checkThenAccept(
	server: WebsocketServer,
	registry: Registry,
	entry: HandlerEntry,
	msg: Message,
	path: string,
	socket: Duplex,
	head: Buffer,
): Promise<void> {
	const checked = await checkInTime(registry, entry, path, msg, () => sendStatus(socket, 503), () => socket.destroyed);
	if (checked === undefined) {
		return;
	}

	if (typeof checked === 'number') {
		sendStatus(socket, checked);
		return;
	}

	if (checked !== null) {
		sendRefusal(socket, checked);
		return;
	}

	if (accept(server, entry, msg, path, socket, head)) {
		socket.removeListener('error', onHandshakeSocketError);
	}
}

/**
 * The server connection of an accepted handshake on `stream` (the upgraded socket, or an HTTP/2
 * stream). Every property given, in one order: one shape for every handshake's object. The values
 * are checked already (the limits when the handler was added, the rest made by the handshake), so
 * the constructor stores them as they are. Shared with the HTTP/2 glue.
 */
export function acceptedConnection(
	entry: HandlerEntry,
	stream: Duplex,
	msg: Message,
	result: Extract<ServerHandshakeResult, {accepted: true}>,
): WebsocketConnection {
	const {limits} = entry;
	return new WebsocketConnection(checkedConstructProperties({
		ioStream: stream,
		connectionType: WebsocketConnectionType.SERVER,
		uri: msg.uri,
		origin: msg.requestHeaders.getOne('Origin'),
		protocol: result.protocol,
		// None negotiated: the property's default, one array shared by every such connection.
		extensions: result.extensions.length > 0 ? result.extensions : NO_EXTENSIONS,
		maxIncomingPayloadSize: limits.maxIncomingPayloadSize,
		maxTotalMessageSize: limits.maxTotalMessageSize,
		keepaliveInterval: limits.keepaliveInterval,
		keepalivePongTimeout: limits.keepalivePongTimeout,
		maxIncomingFragments: limits.maxIncomingFragments,
		maxBufferedAmount: limits.maxBufferedAmount,
		closeTimeout: limits.closeTimeout,
		idleTimeout: limits.idleTimeout,
	}));
}

/**
 * The handshake's checks (a failure is refused), then the 101 and the connection handed to the
 * callback.
 *
 * @returns Whether a connection was made (it has its own error listener on the socket then).
 */
function accept(server: WebsocketServer, entry: HandlerEntry, msg: Message, path: string, socket: Duplex, head: Buffer): boolean {
	const result = serverProcessHandshake(msg, entry.origin, entry.protocols, entry.extensions);
	if (!result.accepted) {
		debug('handshake refused: %s', result.error.message);
		sendRefusal(socket, msg, result.error);
		return false;
	}

	if (entry.options.responseHeaders !== undefined) {
		appendHeaders(msg, entry.options.responseHeaders);
	}

	const netSocket = socket as Socket;
	// The HTTP server's idle timeout does not apply to a WebSocket: keepalive is the connection's job.
	netSocket.setTimeout?.(0);
	netSocket.setNoDelay?.(true);
	// Paused, the bytes given back below are buffered, not emitted to no one; the connection
	// starts reading once the callback has connected its handlers.
	socket.pause();
	writeResponseHead(socket, msg);
	if (head.length > 0) {
		socket.unshift(head);
	}

	// A throw here reaches upgradeFailed(), which destroys the socket.
	handOver(entry, server, msg, path, acceptedConnection(entry, socket, msg, result));
	return true;
}

/** Answers a plain request at a WebSocket path when nothing else on the server would answer it. */
function handlePlainRequest(server: WebsocketServer, registry: Registry, req: IncomingMessage, res: ServerResponse): void {
	if ((server as unknown as Listenable).listenerCount('request') > 1) {
		// The application's own request handler answers it.
		return;
	}

	if (isHttp2Request(req)) {
		answerHttp2Request(registry, req);
		return;
	}

	let msg: Message;
	try {
		msg = messageFromIncomingMessage(req);
	} catch {
		res.writeHead(400, {Connection: 'close'}).end();
		return;
	}

	const entry = lookup(registry, msg.uri.pathname);
	if (entry === null) {
		res.writeHead(404, {Connection: 'close'}).end();
		return;
	}

	// Not a handshake (no Upgrade), so this fills a 400 "WebSocket handshake expected", as libsoup answers.
	serverProcessHandshake(msg, entry.origin, entry.protocols, entry.extensions);
	const status = msg.statusCode === 101 ? 400 : msg.statusCode;
	res.statusCode = status;
	for (const [name, value] of msg.responseHeaders) {
		if (name.toLowerCase() !== 'connection') {
			res.appendHeader(name, value);
		}
	}

	res.setHeader('Connection', 'close');
	res.end(msg.responseBody ?? undefined);
}

/**
 * Adds a WebSocket handler to a Node `http` or `https` server, like libsoup's
 * `soup_server_add_websocket_handler()`.
 *
 * An upgrade request whose path is handled gets, in order: the `check` hook (a status it sets is
 * sent instead of a handshake), {@link serverProcessHandshake} with `origin`, `protocols` and the
 * handler's extensions (a failure is answered 400, or 403 for a wrong origin, with libsoup's body
 * and `Connection: close`), then `101 Switching Protocols` and a SERVER {@link WebsocketConnection}
 * handed to `callback` (`max-total-message-size` 128 KiB unless set, as SoupServer does).
 *
 * Path matching is libsoup's: the handler whose path is the longest string prefix of the request's
 * path wins (`/chat` matches `/chat/x` and `/chatty`); a `null` or `"/"` path is the default
 * handler; adding a handler at a path that has one replaces it. An upgrade request no handler
 * matches gets 404, unless another `'upgrade'` listener is on the server.
 *
 * Plain requests (no `Upgrade`) are left to the server's `'request'` listeners. When there is
 * none besides websoup's, they are answered so none hangs: 400 "WebSocket handshake expected" at a
 * handled path, 404 elsewhere.
 *
 * An `http2` server (`http2.createServer()` or `createSecureServer()`, made with `settings:
 * {enableConnectProtocol: true}`) gets its WebSockets as RFC 8441 extended CONNECT streams: the
 * same hook and checks in RFC 8441's form, `:status 200`, a connection on the stream; with
 * `allowHTTP1`, HTTP/1.1 upgrades on the same port too. Node's compatibility API is kept from
 * answering those streams 405. See docs/http2.md.
 *
 * @param server - The server; one listener per event is shared by all its handlers.
 * @param path - The path, starting with "/", or `null` for the default handler.
 * @param origin - The `Origin` to require (ASCII case-insensitive), or `null` for any.
 * @param protocols - The subprotocols supported, in order of preference, or `null`.
 * @param callback - Receives `(server, msg, path, connection)` for each accepted handshake.
 * @param options - Extensions, limits, keepalive, handshake timeout, check hook, extra 101 headers.
 * @returns The handler, with `remove()`.
 * @throws {TypeError} for an invalid argument, or an `http2` server without `enableConnectProtocol`.
 */
export function addWebsocketHandler<S extends WebsocketServer>(
	server: S,
	path: string | null,
	origin: string | null,
	protocols: readonly string[] | null,
	callback: WebsocketServerCallback<S>,
	options: WebsocketHandlerOptions = {},
): WebsocketHandler {
	const target = server as unknown as Listenable;
	if (server === null || typeof server !== 'object' || typeof target.on !== 'function') {
		throw new TypeError(`Expected \`server\` to be an http or https server, got ${describe(server)}`);
	}

	if (typeof callback !== 'function') {
		throw new TypeError(`Expected \`callback\` to be a function, got ${describe(callback)}`);
	}

	if (origin !== null && typeof origin !== 'string') {
		throw new TypeError(`Expected \`origin\` to be a string or null, got ${describe(origin)}`);
	}

	if (protocols !== null && (!Array.isArray(protocols) || protocols.some(item => typeof item !== 'string'))) {
		throw new TypeError(`Expected \`protocols\` to be an array of strings or null, got ${describe(protocols)}`);
	}

	if (isHttp2Server(server)) {
		assertExtendedConnect(server);
	}

	validateConnectionOptions(options);
	const entry: HandlerEntry = {
		path: normalizePath(path),
		origin,
		protocols: protocols === null ? null : [...protocols],
		callback: callback as WebsocketServerCallback<never>,
		options: {...options},
		timeout: validateTimeout(options.handshakeTimeout ?? DEFAULT_SERVER_HANDSHAKE_TIMEOUT),
		shutdown: new HandlerShutdown(),
		extensions: serverExtensions(options),
		limits: serverConnectionLimits(options),
	};

	let registry = registries.get(server);
	if (registry === undefined) {
		const created: Registry = {
			handlers: [],
			defaultHandler: null,
			onUpgrade(req, socket, head) {
				try {
					handleUpgrade(server, created, req, socket, head);
				} catch (error) {
					upgradeFailed(socket, error);
				}
			},
			onRequest(req, res) {
				handlePlainRequest(server, created, req, res);
			},
		};
		registry = created;
		registries.set(server, registry);
		target.on('upgrade', registry.onUpgrade);
		target.on('request', registry.onRequest);
		if (isHttp2Server(server)) {
			created.detachHttp2 = attachHttp2(server, created);
		}
	}

	const active = registry;
	if (entry.path === null) {
		active.defaultHandler = entry;
	} else {
		// Replace a handler at the same path, keep the longest paths first.
		active.handlers = active.handlers.filter(other => other.path !== entry.path);
		active.handlers.push(entry);
		active.handlers.sort((a, b) => b.path!.length - a.path!.length);
	}

	return {
		path: entry.path,
		remove() {
			if (active.defaultHandler === entry) {
				active.defaultHandler = null;
			} else {
				active.handlers = active.handlers.filter(other => other !== entry);
			}

			if (active.defaultHandler === null && active.handlers.length === 0 && registries.get(server) === active) {
				registries.delete(server);
				target.removeListener('upgrade', active.onUpgrade);
				target.removeListener('request', active.onRequest);
				active.detachHttp2?.();
			}
		},
		close(closeOptions) {
			return entry.shutdown.close(closeOptions);
		},
	};
}

