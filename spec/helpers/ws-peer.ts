// ws (v8) as an independent peer: hand-written HTTP upgrades over real loopback TCP, no websoup glue.

import {randomBytes} from 'node:crypto';
import {once} from 'node:events';
import {connect, createServer, type AddressInfo, type Server, type Socket} from 'node:net';
import type {ExecutionContext} from 'ava';
import {WebSocket, WebSocketServer} from 'ws';
import {WebsocketConnection} from '../../lib/websocket/connection.ts';
import {WebsocketConnectionType} from '../../lib/websocket/constants.ts';
import {computeAcceptKey} from '../../lib/websocket/handshake.ts';
import {listen} from '../node/fixtures.ts';
import {withTimeout} from './signals.ts';

/** Which end websoup plays, and which ws plays. */
export type Direction = 'websoup client ⇄ ws server' | 'ws client ⇄ websoup server';
export const directions: readonly Direction[] = ['websoup client ⇄ ws server', 'ws client ⇄ websoup server'];

/** Limits applied to both ends: websoup's max-incoming-payload-size and max-total-message-size, ws's maxPayload. */
export interface PeerOptions {
	/** websoup's `max-incoming-payload-size`; left at its default when absent. */
	maxIncomingPayloadSize?: number;
	/** websoup's `max-total-message-size`; left at its default when absent. */
	maxTotalMessageSize?: number;
	/** ws's `maxPayload`; ws's default (100 MiB) when absent. */
	maxPayload?: number;
	/** Subprotocols the client offers. */
	protocols?: string[];
}

/** A websoup connection and the ws socket at the other end of the same TCP connection. */
export interface Pair {
	conn: WebsocketConnection;
	ws: WebSocket;
	/** websoup's socket. */
	socket: Socket;
	/** Errors ws emitted (collected so none is unhandled). */
	wsErrors: Error[];
}

/** An HTTP head read off a socket by hand, and the bytes that followed it. */
export interface Head {
	startLine: string;
	headers: Map<string, string>;
	rest: Buffer;
}

const HEAD_LIMIT = 16 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');

/**
 * Reads an HTTP head (up to `\r\n\r\n`) off `socket`; the bytes after it come back in `rest`. The
 * socket is left paused, so nothing more is lost before the next reader attaches and resumes it.
 */
export async function readHead(socket: Socket, timeout = 5000): Promise<Head> {
	const read = new Promise<Head>((resolve, reject) => {
		let buffered = Buffer.alloc(0);
		const cleanup = (): void => {
			socket.off('data', onData);
			socket.off('end', onEnd);
			socket.off('error', onError);
		};

		const onData = (chunk: Buffer): void => {
			buffered = Buffer.concat([buffered, chunk]);
			const end = buffered.indexOf(HEAD_END);
			if (end === -1) {
				if (buffered.length > HEAD_LIMIT) {
					cleanup();
					reject(new Error(`no end of head in ${buffered.length} bytes`));
				}

				return;
			}

			cleanup();
			socket.pause();
			const lines = buffered.toString('latin1', 0, end).split('\r\n');
			const headers = new Map<string, string>();
			for (const line of lines.slice(1)) {
				const colon = line.indexOf(':');
				const name = line.slice(0, colon).trim().toLowerCase();
				const value = line.slice(colon + 1).trim();
				headers.set(name, headers.has(name) ? `${headers.get(name)!}, ${value}` : value);
			}

			resolve({startLine: lines[0]!, headers, rest: buffered.subarray(end + HEAD_END.length)});
		};

		const onEnd = (): void => {
			cleanup();
			reject(new Error(`end of stream after ${buffered.length} bytes, before the end of the head`));
		};

		const onError = (error: Error): void => {
			cleanup();
			reject(error);
		};

		socket.on('data', onData);
		socket.on('end', onEnd);
		socket.on('error', onError);
	});
	return withTimeout(read, timeout, 'an HTTP head');
}

/** A listening ws server on 127.0.0.1, port 0, closed (clients terminated) at teardown. */
export async function startWsServer(
	t: ExecutionContext,
	options: {maxPayload?: number; protocols?: string[]} = {},
): Promise<{wss: WebSocketServer; port: number}> {
	const wss = new WebSocketServer({
		port: 0,
		host: '127.0.0.1',
		...(options.maxPayload === undefined ? {} : {maxPayload: options.maxPayload}),
		handleProtocols(offered: Set<string>) {
			return options.protocols?.find(protocol => offered.has(protocol)) ?? false;
		},
	});
	t.teardown(() => {
		for (const client of wss.clients) {
			client.terminate();
		}

		wss.close();
	});
	await withTimeout(once(wss, 'listening'), 5000, 'ws server listening');
	return {wss, port: (wss.address() as AddressInfo).port};
}

/** Opens a TCP connection to 127.0.0.1:`port`, destroyed at teardown. */
export async function tcpConnect(t: ExecutionContext, port: number): Promise<Socket> {
	const socket = connect({port, host: '127.0.0.1'});
	t.teardown(() => {
		socket.destroy();
	});
	await withTimeout(once(socket, 'connect'), 5000, 'TCP connect');
	return socket;
}

/** The upgrade request, written by hand (RFC 6455 §4.1). */
export function upgradeRequest(port: number, key: string, protocols: readonly string[] = []): string {
	return (
		'GET /chat HTTP/1.1\r\n' +
		`Host: 127.0.0.1:${port}\r\n` +
		'Upgrade: websocket\r\n' +
		'Connection: Upgrade\r\n' +
		`Sec-WebSocket-Key: ${key}\r\n` +
		'Sec-WebSocket-Version: 13\r\n' +
		(protocols.length > 0 ? `Sec-WebSocket-Protocol: ${protocols.join(', ')}\r\n` : '') +
		'\r\n'
	);
}

/**
 * Does the client half of the handshake by hand on a fresh TCP connection: writes the GET (plus
 * `extra` bytes in the same write), reads the head, asserts the 101 and the accept key.
 */
export async function rawUpgrade(
	t: ExecutionContext,
	port: number,
	options: {protocols?: string[]; extra?: Buffer} = {},
): Promise<{socket: Socket; head: Head}> {
	const socket = await tcpConnect(t, port);
	const key = randomBytes(16).toString('base64');
	const request = Buffer.from(upgradeRequest(port, key, options.protocols), 'latin1');
	socket.write(options.extra === undefined ? request : Buffer.concat([request, options.extra]));
	const head = await readHead(socket);
	t.regex(head.startLine, /^HTTP\/1\.1 101 /);
	t.is(head.headers.get('upgrade')?.toLowerCase(), 'websocket');
	t.regex(head.headers.get('connection') ?? '', /(^|,)\s*upgrade\s*(,|$)/i);
	t.is(head.headers.get('sec-websocket-accept'), computeAcceptKey(key));
	return {socket, head};
}

/** The client half of the handshake by hand on 127.0.0.1:`port`, then a CLIENT WebsocketConnection on the socket. */
export async function connectWebsoupClient(
	t: ExecutionContext,
	port: number,
	options: PeerOptions = {},
): Promise<{conn: WebsocketConnection; socket: Socket; head: Head}> {
	const {socket, head} = await rawUpgrade(t, port, options.protocols === undefined ? {} : {protocols: options.protocols});
	// Bytes the server wrote right after the 101 (a first frame) go back to the socket for the connection.
	if (head.rest.length > 0) {
		socket.unshift(head.rest);
	}

	const conn = new WebsocketConnection({
		ioStream: socket,
		connectionType: WebsocketConnectionType.CLIENT,
		uri: new URL(`ws://127.0.0.1:${port}/chat`),
		protocol: head.headers.get('sec-websocket-protocol') ?? null,
		...limits(options),
	});
	// readHead paused the socket; the connection only adds a 'data' listener.
	socket.resume();
	return {conn, socket, head};
}

/** websoup client ⇄ ws server. */
export async function websoupClientToWsServer(t: ExecutionContext, options: PeerOptions = {}): Promise<Pair> {
	const {wss, port} = await startWsServer(t, {
		...(options.maxPayload === undefined ? {} : {maxPayload: options.maxPayload}),
		...(options.protocols === undefined ? {} : {protocols: options.protocols}),
	});
	const accepted = withTimeout(once(wss, 'connection') as Promise<[WebSocket]>, 5000, 'ws connection');
	const {conn, socket} = await connectWebsoupClient(t, port, options);
	const [ws] = await accepted;
	const wsErrors: Error[] = [];
	ws.on('error', error => wsErrors.push(error));
	return {conn, ws, socket, wsErrors};
}

/** What the hand-written websoup server accepted. */
export interface Accepted {
	conn: WebsocketConnection;
	socket: Socket;
	request: Head;
}

/**
 * A `net` server on 127.0.0.1, port 0, that does the server half of the handshake by hand (101 with
 * the computed accept key and the first offered protocol among `protocols`) and wraps the socket in
 * a SERVER WebsocketConnection. `connection` settles with the first client.
 */
export async function startWebsoupServer(
	t: ExecutionContext,
	options: PeerOptions & {serverProtocols?: string[]} = {},
): Promise<{server: Server; port: number; connection: Promise<Accepted>}> {
	let settle!: {resolve: (accepted: Accepted) => void; reject: (error: unknown) => void};
	const connection = new Promise<Accepted>((resolve, reject) => {
		settle = {resolve, reject};
	});
	// Not every test waits for it; a failed handshake then surfaces through the client.
	connection.catch(() => {});
	const server = createServer(socket => {
		socket.on('error', () => {});
		void (async () => {
			const request = await readHead(socket);
			const key = request.headers.get('sec-websocket-key');
			if (!/^GET \/\S* HTTP\/1\.1$/.test(request.startLine) || key === undefined) {
				throw new Error(`not an upgrade request: ${request.startLine}`);
			}

			const offered = (request.headers.get('sec-websocket-protocol') ?? '').split(',').map(item => item.trim());
			const protocol = options.serverProtocols?.find(item => offered.includes(item)) ?? null;
			socket.write(
				'HTTP/1.1 101 Switching Protocols\r\n' +
					'Upgrade: websocket\r\n' +
					'Connection: Upgrade\r\n' +
					`Sec-WebSocket-Accept: ${computeAcceptKey(key)}\r\n` +
					(protocol === null ? '' : `Sec-WebSocket-Protocol: ${protocol}\r\n`) +
					'\r\n',
			);
			// The client may have sent frames in the same segment as its request.
			if (request.rest.length > 0) {
				socket.unshift(request.rest);
			}

			const conn = new WebsocketConnection({
				ioStream: socket,
				connectionType: WebsocketConnectionType.SERVER,
				uri: new URL(`ws://127.0.0.1${request.startLine.split(' ')[1]!}`),
				protocol,
				...limits(options),
			});
			socket.resume();
			settle.resolve({conn, socket, request});
		})().catch((error: unknown) => {
			settle.reject(error);
			socket.destroy();
		});
	});
	const port = await withTimeout(listen(t, server), 5000, 'server listening');
	return {server, port, connection};
}

/** ws client ⇄ websoup server: ws's WebSocket connects to the hand-written websoup server. */
export async function wsClientToWebsoupServer(t: ExecutionContext, options: PeerOptions = {}): Promise<Pair> {
	const {port, connection} = await startWebsoupServer(t, {
		...options,
		...(options.protocols === undefined ? {} : {serverProtocols: options.protocols}),
	});
	const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`, options.protocols ?? [], {
		...(options.maxPayload === undefined ? {} : {maxPayload: options.maxPayload}),
	});
	t.teardown(() => {
		ws.terminate();
	});
	await withTimeout(once(ws, 'open'), 5000, 'ws open');
	const wsErrors: Error[] = [];
	ws.on('error', error => wsErrors.push(error));
	const {conn, socket} = await withTimeout(connection, 5000, 'websoup server connection');
	return {conn, ws, socket, wsErrors};
}

/** Opens a pair in `direction`. */
export async function openPair(t: ExecutionContext, direction: Direction, options: PeerOptions = {}): Promise<Pair> {
	return direction === 'websoup client ⇄ ws server'
		? websoupClientToWsServer(t, options)
		: wsClientToWebsoupServer(t, options);
}

function limits(options: PeerOptions): {maxIncomingPayloadSize?: number; maxTotalMessageSize?: number} {
	return {
		...(options.maxIncomingPayloadSize === undefined ? {} : {maxIncomingPayloadSize: options.maxIncomingPayloadSize}),
		...(options.maxTotalMessageSize === undefined ? {} : {maxTotalMessageSize: options.maxTotalMessageSize}),
	};
}

/** What ws reported in its 'close' event. */
export interface WsClose {
	code: number;
	reason: string;
}

/** Settles with ws's 'close' event (errors do not reject: ws may report a reset before closing). */
export async function wsClosed(ws: WebSocket, timeout = 5000): Promise<WsClose> {
	if (ws.readyState === WebSocket.CLOSED) {
		throw new Error('ws already closed; listen before acting');
	}

	const closed = new Promise<WsClose>(resolve => {
		ws.once('close', (code: number, reason: Buffer) => {
			resolve({code, reason: reason.toString('utf8')});
		});
	});
	return withTimeout(closed, timeout, "ws 'close'");
}

/** Settles with ws's next 'message' event. */
export async function wsMessage(ws: WebSocket, timeout = 5000): Promise<{data: Buffer; isBinary: boolean}> {
	const message = new Promise<{data: Buffer; isBinary: boolean}>(resolve => {
		ws.once('message', (data: Buffer, isBinary: boolean) => {
			resolve({data, isBinary});
		});
	});
	return withTimeout(message, timeout, "ws 'message'");
}

/** Masks `payload` with `key` (RFC 6455 §5.3), written here independently of lib/. */
export function mask(payload: Buffer, key: Buffer): Buffer {
	const out = Buffer.alloc(payload.length);
	for (let i = 0; i < payload.length; i++) {
		out[i] = payload[i]! ^ key[i % 4]!;
	}

	return out;
}

/** A single frame with a 7-bit length, masked with `key` when given. */
export function smallFrame(byte0: number, payload: Buffer, key?: Buffer): Buffer {
	if (payload.length > 125) {
		throw new RangeError('smallFrame: payload over 125 bytes');
	}

	return key === undefined
		? Buffer.concat([Buffer.from([byte0, payload.length]), payload])
		: Buffer.concat([Buffer.from([byte0, 0x80 | payload.length]), key, mask(payload, key)]);
}

/** Collects every byte `socket` receives until it ends or closes; `initial` is prepended. */
export async function collectUntilEnd(socket: Socket, initial: Buffer = Buffer.alloc(0), timeout = 5000): Promise<Buffer> {
	const chunks = [initial];
	const done = new Promise<Buffer>(resolve => {
		const finish = (): void => {
			resolve(Buffer.concat(chunks));
		};

		socket.on('data', (chunk: Buffer) => chunks.push(chunk));
		socket.once('end', finish);
		socket.once('close', finish);
		socket.on('error', () => {});
		socket.resume();
	});
	return withTimeout(done, timeout, 'the end of the stream');
}

/** Reads until `length` bytes (counting `initial`) have arrived; resumes the socket. */
export async function readBytes(socket: Socket, length: number, initial: Buffer = Buffer.alloc(0), timeout = 5000): Promise<Buffer> {
	const chunks = [initial];
	let total = initial.length;
	let onData: ((chunk: Buffer) => void) | undefined;
	const done = new Promise<Buffer>(resolve => {
		onData = (chunk: Buffer): void => {
			chunks.push(chunk);
			total += chunk.length;
			if (total >= length) {
				resolve(Buffer.concat(chunks));
			}
		};

		if (total >= length) {
			resolve(Buffer.concat(chunks));
			return;
		}

		socket.on('data', onData);
		socket.resume();
	});
	try {
		return await withTimeout(done, timeout, `${length} bytes`);
	} finally {
		if (onData !== undefined) {
			socket.off('data', onData);
		}
	}
}
