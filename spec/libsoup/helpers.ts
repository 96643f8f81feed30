// Fixtures of libsoup's tests/websocket-test.c, rebuilt for websoup: the direct, half-direct and soup set-ups, WAIT_UNTIL-style waits.

import {createServer, type Server} from 'node:http';
import net from 'node:net';
import {Duplex} from 'node:stream';
import zlib from 'node:zlib';
import test, {type ExecutionContext} from 'ava';
import {websocketConnect, type WebsocketConnectOptions} from '../../lib/node/client.ts';
import {addWebsocketHandler, type WebsocketHandlerOptions} from '../../lib/node/server.ts';
import {WebsocketConnection} from '../../lib/websocket/connection.ts';
import {WebsocketConnectionType, WebsocketDataType} from '../../lib/websocket/constants.ts';
import {WebsocketExtensionDeflate} from '../../lib/websocket/extensions/deflate.ts';
import {Message} from '../../lib/websocket/message.ts';
import {streamPair} from '../helpers/modes.ts';
import {withTimeout} from '../helpers/signals.ts';
import {listen} from '../node/fixtures.ts';

/** libsoup's two set-ups: `direct` (two connections on a loopback TCP pair) and `soup` (SoupServer + SoupSession). */
export type LibsoupMode = 'direct' | 'soup';

/** What a test body gets: both ends, and in soup mode the client's and the server's messages. */
export interface Pair {
	mode: LibsoupMode;
	client: WebsocketConnection;
	server: WebsocketConnection;
	/** The client's handshake message (soup mode), like `test->msg`. */
	msg: Message | null;
	/** The message the server's websocket callback received (soup mode). */
	serverMsg: Message | null;
}

export interface SetupOptions {
	/** `setup_*_with_extensions`: permessage-deflate on both ends. */
	extensions?: boolean | undefined;
	/** The connections' `close-timeout` (ms); libsoup's 5 s by default. */
	closeTimeout?: number | undefined;
}

/** The C file's URI for direct connections. */
const directUri = new URL('ws://127.0.0.1/');

function deflate(type: WebsocketConnectionType): WebsocketExtensionDeflate {
	const extension = new WebsocketExtensionDeflate();
	extension.configure(type, null);
	return extension;
}

/** `setup_direct_connection`: a CLIENT and a SERVER connection on a loopback TCP pair. */
export async function directConnection(t: ExecutionContext, options: SetupOptions = {}, wrapServer?: (socket: net.Socket) => Duplex): Promise<Pair> {
	const [a, b] = await streamPair(t, 'tcp');
	const client = new WebsocketConnection({
		ioStream: a,
		connectionType: WebsocketConnectionType.CLIENT,
		uri: directUri,
		extensions: options.extensions ? [deflate(WebsocketConnectionType.CLIENT)] : [],
	});
	const server = new WebsocketConnection({
		ioStream: wrapServer ? wrapServer(b as net.Socket) : b,
		connectionType: WebsocketConnectionType.SERVER,
		uri: directUri,
		extensions: options.extensions ? [deflate(WebsocketConnectionType.SERVER)] : [],
	});
	return {mode: 'direct', client, server, msg: null, serverMsg: null};
}

/** `setup_half_direct_connection`: a CLIENT connection whose server end is a raw socket the test writes to. */
export async function halfDirectConnection(t: ExecutionContext, options: SetupOptions = {}): Promise<{client: WebsocketConnection; raw: net.Socket}> {
	const [a, b] = await streamPair(t, 'tcp');
	const client = new WebsocketConnection({
		ioStream: a,
		connectionType: WebsocketConnectionType.CLIENT,
		uri: directUri,
		extensions: options.extensions ? [deflate(WebsocketConnectionType.CLIENT)] : [],
		...(options.closeTimeout === undefined ? {} : {closeTimeout: options.closeTimeout}),
	});
	const raw = b as net.Socket;
	// The raw end belongs to the test: a reset from the client is not a failure.
	raw.on('error', () => {});
	// Keep reading what the client sends, so its writes never stall.
	raw.resume();
	return {client, raw};
}

export interface SoupServerOptions extends SetupOptions {
	origin?: string | null;
	protocols?: readonly string[] | null;
	handler?: WebsocketHandlerOptions;
	/** Runs in the websocket callback, before the connection is handed to the test. */
	onServerConnection?: (msg: Message, connection: WebsocketConnection) => void;
}

export interface SoupServer {
	port: number;
	url: string;
	httpServer: Server;
	/** Resolves with the next connection the handler accepted (`WAIT_UNTIL (test->server != NULL)`). */
	nextServer: () => Promise<{msg: Message; connection: WebsocketConnection}>;
}

/** `setup_soup_server`: addWebsocketHandler at "/unix" on an http server at 127.0.0.1, port 0. */
export async function soupServer(t: ExecutionContext, options: SoupServerOptions = {}): Promise<SoupServer> {
	const httpServer = createServer();
	const accepted: Array<{msg: Message; connection: WebsocketConnection}> = [];
	const waiters: Array<(entry: {msg: Message; connection: WebsocketConnection}) => void> = [];
	addWebsocketHandler(
		httpServer,
		'/unix',
		options.origin ?? null,
		options.protocols ?? null,
		(_server, msg, _path, connection) => {
			options.onServerConnection?.(msg, connection);
			const entry = {msg, connection};
			t.teardown(() => {
				connection.getIoStream().destroy();
			});
			const waiter = waiters.shift();
			if (waiter) {
				waiter(entry);
			} else {
				accepted.push(entry);
			}
		},
		// Like the C set-up, the server offers permessage-deflate only in the *_with_extensions tests.
		{extensions: options.extensions ? [WebsocketExtensionDeflate] : null, ...options.handler},
	);
	const port = await listen(t, httpServer);
	return {
		port,
		url: `ws://127.0.0.1:${port}/unix`,
		httpServer,
		async nextServer() {
			const ready = accepted.shift();
			if (ready) {
				return ready;
			}

			return withTimeout(
				new Promise(resolve => {
					waiters.push(resolve);
				}),
				5000,
				'the server connection',
			);
		},
	};
}

export interface ClientConnectOptions extends SetupOptions {
	origin?: string | null;
	protocols?: readonly string[] | null;
	connect?: WebsocketConnectOptions;
}

/** `client_connect`: websocketConnect to the soup server; returns the message and the promise of the connection. */
export function clientConnect(server: SoupServer, options: ClientConnectOptions = {}): {msg: Message; connecting: Promise<WebsocketConnection>} {
	const msg = new Message('GET', server.url);
	const connecting = websocketConnect(msg, options.origin ?? null, options.protocols ?? null, {
		// The session offers permessage-deflate only when the test adds the extension manager.
		extensions: options.extensions ? [WebsocketExtensionDeflate] : null,
		...options.connect,
	});
	return {msg, connecting};
}

/** `setup_soup_connection`: a soup server and a client connected to it. */
export async function soupConnection(t: ExecutionContext, options: SoupServerOptions = {}): Promise<Pair> {
	const server = await soupServer(t, options);
	const {msg, connecting} = clientConnect(server, {extensions: options.extensions});
	const client = await withTimeout(connecting, 5000, 'websocketConnect');
	t.teardown(() => {
		client.getIoStream().destroy();
	});
	const accepted = await server.nextServer();
	return {mode: 'soup', client, server: accepted.connection, msg, serverMsg: accepted.msg};
}

/** The set-up of a mode, as `setup_direct_connection` / `setup_soup_connection` (or their `_with_extensions`). */
export async function setup(t: ExecutionContext, mode: LibsoupMode, options: SetupOptions = {}): Promise<Pair> {
	return mode === 'direct' ? directConnection(t, options) : soupConnection(t, options);
}

/**
 * Registers the C test `/websocket/<mode>/<name>` for each mode listed, with the set-up of that mode.
 * The title is the C path, so a failure names the test a libsoup developer knows.
 */
export function pathTest(name: string, modes: readonly LibsoupMode[], body: (t: ExecutionContext, pair: Pair) => Promise<void>, options: SetupOptions = {}): void {
	for (const mode of modes) {
		test(`/websocket/${mode}/${name}`, async t => {
			const pair = await setup(t, mode, options);
			await body(t, pair);
		});
	}
}

/**
 * The next `message` on `conn` (libsoup's on_text_message / on_binary_message): fails the test if
 * its type is not `type` or if a second message arrives before the wait is over.
 */
export async function nextMessage(t: ExecutionContext, conn: WebsocketConnection, type: WebsocketDataType, timeout = 5000): Promise<Buffer> {
	return withTimeout(
		new Promise<Buffer>(resolve => {
			const id = conn.connect('message', (_self, receivedType, data) => {
				conn.disconnect(id);
				t.is(receivedType, type, 'message type');
				resolve(Buffer.from(data));
			});
		}),
		timeout,
		'a message',
	);
}

/** Records every `message` on `conn`, as the C `received` pointer. */
export function collectMessages(conn: WebsocketConnection): Array<{type: WebsocketDataType; data: Buffer}> {
	const received: Array<{type: WebsocketDataType; data: Buffer}> = [];
	conn.connect('message', (_self, type, data) => {
		received.push({type, data: Buffer.from(data)});
	});
	return received;
}

/** Records every `error` on `conn` (libsoup's on_error_copy, which also asserts there is at most one). */
export function collectErrors(conn: WebsocketConnection): Error[] {
	const errors: Error[] = [];
	conn.connect('error', (_self, error) => {
		errors.push(error);
	});
	return errors;
}

/** Counts `closed` emissions (on_close_set_flag asserts it fires once). */
export function countClosed(conn: WebsocketConnection): () => number {
	let count = 0;
	conn.connect('closed', () => {
		count++;
	});
	return () => count;
}

/**
 * The C file's do_deflate: each part deflated on one raw-deflate stream (window 15, memLevel 8),
 * each ended with a sync flush so it ends in 00 00 ff ff, and each shorter than 126 bytes.
 */
export async function deflateParts(parts: readonly string[]): Promise<Buffer[]> {
	const stream = zlib.createDeflateRaw({windowBits: 15, memLevel: 8});
	const chunks: Buffer[] = [];
	stream.on('data', (chunk: Buffer) => chunks.push(chunk));
	const out: Buffer[] = [];
	for (const part of parts) {
		stream.write(part);
		await new Promise<void>(resolve => {
			stream.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve());
		});
		out.push(Buffer.concat(chunks.splice(0)));
	}

	stream.close();
	return out;
}

/** Writes `data` on `socket` and resolves when it is handed to the kernel (g_output_stream_write_all). */
export async function writeAll(socket: Duplex, data: Buffer): Promise<void> {
	await new Promise<void>((resolve, reject) => {
		socket.write(data, error => {
			if (error) {
				reject(error);
			} else {
				resolve();
			}
		});
	});
}

/**
 * A stream over a socket that can stop passing on what is written to it, in place of libsoup's
 * private soup_websocket_connection_set_suppress_pongs_for_tests (websoup has no such hook).
 */
export class SuppressibleStream extends Duplex {
	suppress = false;
	readonly #socket: net.Socket;

	constructor(socket: net.Socket) {
		super({allowHalfOpen: true});
		this.#socket = socket;
		socket.on('data', (chunk: Buffer) => {
			if (!this.push(chunk)) {
				socket.pause();
			}
		});
		socket.on('end', () => this.push(null));
		socket.on('error', error => this.destroy(error));
		socket.on('close', () => {
			if (!this.destroyed) {
				this.destroy();
			}
		});
	}

	override _read(): void {
		this.#socket.resume();
	}

	override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
		if (this.suppress) {
			callback();
			return;
		}

		this.#socket.write(chunk, callback);
	}

	override _final(callback: (error?: Error | null) => void): void {
		this.#socket.end(callback);
	}

	override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
		this.#socket.destroy();
		callback(error);
	}
}

/**
 * The direct handshake tests' server side: a new server message with the client message's method,
 * URI and request headers (the C loop over soup_message_headers_iter).
 */
export function serverMessageFor(msg: Message): Message {
	const serverMsg = new Message(msg.method, msg.uri);
	for (const [name, value] of msg.requestHeaders) {
		serverMsg.requestHeaders.append(name, value);
	}

	return serverMsg;
}

/** Copies the server message's status and response headers onto the client message. */
export function copyResponse(serverMsg: Message, msg: Message): void {
	msg.setStatus(serverMsg.statusCode);
	for (const [name, value] of serverMsg.responseHeaders) {
		msg.responseHeaders.append(name, value);
	}
}
