// Shared fixtures for the Node glue specs: servers on 127.0.0.1:0 with teardown, raw HTTP, a self-signed certificate.

import {execFile} from 'node:child_process';
import {once} from 'node:events';
import {mkdtemp, readFile, rm} from 'node:fs/promises';
import type {Server as HttpServer} from 'node:http';
import type {Server as HttpsServer} from 'node:https';
import {connect, createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket} from 'node:net';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {promisify} from 'node:util';
import type {ExecutionContext} from 'ava';
import {websocketConnect} from '../../lib/node/client.ts';
import {computeAcceptKey} from '../../lib/websocket/handshake.ts';
import type {WebsocketConnection} from '../../lib/websocket/connection.ts';
import {waitForSignal, withTimeout} from '../helpers/signals.ts';

const execFileAsync = promisify(execFile);

/** Listens on 127.0.0.1, port 0; at teardown destroys every socket the server accepted and closes it. */
export async function listen(t: ExecutionContext, server: HttpServer | HttpsServer | NetServer): Promise<number> {
	const sockets = new Set<Socket>();
	const track = (socket: Socket): void => {
		sockets.add(socket);
		socket.once('close', () => sockets.delete(socket));
	};

	server.on('connection', track);
	server.listen(0, '127.0.0.1');
	await once(server, 'listening');
	t.teardown(async () => {
		for (const socket of sockets) {
			socket.destroy();
		}

		await new Promise<void>(resolve => {
			server.close(() => resolve());
		});
	});
	return (server.address() as AddressInfo).port;
}

/** A raw TCP server on 127.0.0.1 whose connection handler is `onSocket`. */
export async function rawServer(t: ExecutionContext, onSocket: (socket: Socket) => void): Promise<number> {
	const server = createNetServer(socket => {
		socket.on('error', () => {});
		onSocket(socket);
	});
	return listen(t, server);
}

/** Resolves with the bytes a socket received up to the point `done(text)` says it has enough, or until it closed. */
export async function readUntil(socket: Socket, done: (text: string) => boolean, timeout = 5000): Promise<string> {
	let text = '';
	return withTimeout(
		new Promise<string>((resolve, reject) => {
			socket.on('data', (chunk: Buffer) => {
				text += chunk.toString('latin1');
				if (done(text)) {
					resolve(text);
				}
			});
			socket.on('close', () => resolve(text));
			socket.on('error', reject);
		}),
		timeout,
		'socket data',
	);
}

/** Sends raw bytes to 127.0.0.1:`port` and resolves with everything received until the server closes. */
export async function rawExchange(
	t: ExecutionContext,
	port: number,
	request: string | Buffer,
	timeout = 5000,
): Promise<{text: string; closed: boolean}> {
	const socket = connect({host: '127.0.0.1', port});
	t.teardown(() => socket.destroy());
	socket.write(request);
	let closed = false;
	socket.once('close', () => {
		closed = true;
	});
	const text = await readUntil(socket, () => false, timeout);
	return {text, closed};
}

/** A handshake request for `path` with the given header lines (defaults make a valid one). */
export function handshakeRequest(path: string, headers: Record<string, string | null> = {}): string {
	const lines: Record<string, string | null> = {
		Host: '127.0.0.1',
		Upgrade: 'websocket',
		Connection: 'Upgrade',
		'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
		'Sec-WebSocket-Version': '13',
		...headers,
	};
	let text = `GET ${path} HTTP/1.1\r\n`;
	for (const [name, value] of Object.entries(lines)) {
		if (value !== null) {
			text += `${name}: ${value}\r\n`;
		}
	}

	return `${text}\r\n`;
}

/** Splits a raw HTTP response into status, headers (lower-case names) and body. */
export function parseRaw(text: string): {status: number; headers: Map<string, string>; body: string} {
	const end = text.indexOf('\r\n\r\n');
	const head = end === -1 ? text : text.slice(0, end);
	const [statusLine = '', ...lines] = head.split('\r\n');
	const headers = new Map<string, string>();
	for (const line of lines) {
		const colon = line.indexOf(':');
		headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
	}

	return {status: Number(statusLine.split(' ')[1]), headers, body: end === -1 ? '' : text.slice(end + 4)};
}

export interface Credentials {
	key: Buffer;
	cert: Buffer;
}

let credentials: Promise<Credentials> | undefined;

/**
 * A self-signed certificate for `localhost` and 127.0.0.1, made once per process with `openssl`
 * (Node 20 has no API to generate certificates).
 */
export async function selfSignedCertificate(): Promise<Credentials> {
	credentials ??= (async () => {
		const directory = await mkdtemp(join(tmpdir(), 'websoup-cert-'));
		try {
			const key = join(directory, 'key.pem');
			const cert = join(directory, 'cert.pem');
			await execFileAsync(
				'openssl',
				[
					'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
					'-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost',
					'-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
				],
				{timeout: 20_000},
			);
			return {key: await readFile(key), cert: await readFile(cert)};
		} finally {
			await rm(directory, {recursive: true, force: true});
		}
	})();
	return credentials;
}

/** A payload of `size` bytes with a recognisable pattern. */
export function patternBytes(size: number): Buffer {
	const buffer = Buffer.allocUnsafe(size);
	for (let i = 0; i < size; i++) {
		buffer[i] = (i * 31 + 7) & 0xff;
	}

	return buffer;
}

/** The `Sec-WebSocket-Key` of a raw request head, to answer it. */
export function keyOf(request: string): string {
	return /sec-websocket-key: *([^\r\n]+)/i.exec(request)?.[1] ?? '';
}

/** A port on 127.0.0.1 with nothing listening: one that was just listened on and closed. */
export async function refusedPort(): Promise<number> {
	const server = createNetServer();
	server.listen(0, '127.0.0.1');
	await once(server, 'listening');
	const {port} = server.address() as AddressInfo;
	await new Promise(resolve => {
		server.close(resolve);
	});
	return port;
}

/** A 101 answering the raw request head `request`, with `extra` header lines. */
export function switching(request: string, extra = ''): string {
	return (
		'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
		`Sec-WebSocket-Accept: ${computeAcceptKey(keyOf(request))}\r\n${extra}\r\n`
	);
}

/** A raw server that answers every handshake with `respond(request)`. */
export async function scriptedServer(t: ExecutionContext, respond: (request: string, socket: Socket) => void): Promise<number> {
	return rawServer(t, socket => {
		void readUntil(socket, text => text.includes('\r\n\r\n')).then(
			request => {
				respond(request, socket);
			},
			() => {},
		);
	});
}

/** What a {@link slowClient} saw: the bytes it received, how long the server kept it, how much it sent. */
export interface SlowClientResult {
	text: string;
	elapsed: number;
	sent: number;
}

/**
 * A slowloris client: connects to 127.0.0.1:`port` and sends `request` one byte every `everyMs`
 * (the bytes run out long after any sane bound), until the server closes the socket. `connected`
 * resolves once TCP is up; `closed` with what the client saw, or rejects after `timeout` ms.
 */
export function slowClient(
	t: ExecutionContext,
	port: number,
	request: string,
	everyMs = 25,
	timeout = 5000,
): {connected: Promise<void>; closed: Promise<SlowClientResult>} {
	const socket = connect({host: '127.0.0.1', port});
	t.teardown(() => socket.destroy());
	const started = Date.now();
	let sent = 0;
	let text = '';
	const timer = setInterval(() => {
		if (sent < request.length && socket.writable) {
			socket.write(request.slice(sent, sent + 1), 'latin1');
			sent++;
		}
	}, everyMs);
	socket.on('data', (chunk: Buffer) => {
		text += chunk.toString('latin1');
	});
	socket.on('error', () => {});
	const closed = new Promise<SlowClientResult>(resolve => {
		socket.once('close', () => {
			clearInterval(timer);
			resolve({text, elapsed: Date.now() - started, sent});
		});
	});
	t.teardown(() => clearInterval(timer));
	return {
		connected: withTimeout(once(socket, 'connect').then(() => undefined), timeout, 'a slow client connecting'),
		closed: withTimeout(closed, timeout, 'the server dropping a slow client'),
	};
}

/**
 * Starts `clients` slow clients sending a handshake request for `path`, then, while they trickle, a
 * websoup client that must connect and get its message echoed; then checks that every slow client
 * was answered 408 and dropped between `bound` and `bound + slack` ms after it connected.
 */
export async function slowClientsAndOneNormal(
	t: ExecutionContext,
	port: number,
	path: string,
	{clients, bound, slack}: {clients: number; bound: number; slack: number},
): Promise<SlowClientResult[]> {
	const request = handshakeRequest(path);
	const slow = Array.from({length: clients}, () => slowClient(t, port, request, 25, bound + slack));
	await Promise.all(slow.map(async client => client.connected));

	const normal = await websocketConnect(`ws://127.0.0.1:${port}${path}`);
	t.teardown(() => normal.getIoStream().destroy());
	normal.sendText('still served');
	const [, data] = await waitForSignal(normal, 'message');
	t.is(data.toString(), 'still served');
	normal.close(1000);
	await withTimeout(normal.closed, 5000, 'the normal client closed');

	const results = await Promise.all(slow.map(async client => client.closed));
	t.is(results.length, clients);
	for (const {text, elapsed, sent} of results) {
		t.is(parseRaw(text).status, 408);
		t.true(sent < request.length, `sent ${sent} of ${request.length} bytes: the head was never complete`);
		// Node measures from the start of the request; its check runs every connectionsCheckingInterval.
		t.true(elapsed >= bound - 20, `dropped after ${elapsed} ms, before the ${bound} ms bound`);
		t.true(elapsed <= bound + slack, `dropped after ${elapsed} ms, past ${bound} + ${slack} ms`);
	}

	return results;
}

/** The request-head settings Node keeps on a server (`connectionsCheckingInterval` and `maxHeaderSize` are not in @types/node). */
export function serverSettings(server: object): {
	headersTimeout: number;
	requestTimeout: number;
	connectionsCheckingInterval: number;
	maxHeaderSize: number;
} {
	const {headersTimeout, requestTimeout, connectionsCheckingInterval, maxHeaderSize} = server as Record<string, number | undefined>;
	return {
		headersTimeout: headersTimeout ?? Number.NaN,
		requestTimeout: requestTimeout ?? Number.NaN,
		connectionsCheckingInterval: connectionsCheckingInterval ?? Number.NaN,
		maxHeaderSize: maxHeaderSize ?? Number.NaN,
	};
}

/** What a `websocketConnect` call settles with: the connection or the error, within `timeout` ms. */
export async function outcome(promise: Promise<WebsocketConnection>, timeout = 5000): Promise<WebsocketConnection | Error> {
	return withTimeout(
		promise.then(
			connection => connection,
			(error: unknown) => error as Error,
		),
		timeout,
		'websocketConnect to settle',
	);
}
