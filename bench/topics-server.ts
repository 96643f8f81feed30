// The server side of bench/topics.ts: a websoup hub or a ws server's `for…send` loop publishing to
// every connection, and a hub on a RedisBroker for the cross-process latency; driven over IPC.
// `socket`: the floor, upgraded sockets with no WebSocket library, each publish's frame made once
// and written to every socket (one write per socket, as any library at one publish per turn).
// Usage (by bench/topics.ts only): node --import tsx bench/topics-server.ts websoup|ws|socket

import http from 'node:http';
import type {AddressInfo, Socket} from 'node:net';
import {performance} from 'node:perf_hooks';
import {WebSocketServer, type WebSocket} from 'ws';
import type {WebsocketConnection} from '../lib/websocket/connection.ts';
import type {WebsocketHub} from '../lib/topics/hub.ts';
import type {RedisBroker} from '../lib/topics/redis-broker.ts';
import {writeBare101} from './bare-upgrade.ts';
import {cpuMs, serve} from './child.ts';
import {loadLibrary} from './settings.ts';

const impl = process.argv[2];
const library = await loadLibrary();
const server = http.createServer();
const connections = new Set<WebsocketConnection>();
const bare = new Set<Socket>();
let wss: WebSocketServer | null = null;
let hub: WebsocketHub = new library.WebsocketHub({maxBackpressure: 0});

if (impl === 'websoup') {
	library.addWebsocketHandler(server, null, null, null, (_server, _msg, _path, connection) => {
		connections.add(connection);
		hub.subscribe(connection, 'bench');
		connection.connect('closed', () => connections.delete(connection));
	});
} else if (impl === 'socket') {
	server.on('upgrade', (request, socket: Socket) => {
		writeBare101(request, socket);
		bare.add(socket);
		socket.on('close', () => bare.delete(socket));
		socket.on('end', () => socket.destroy());
		socket.on('error', () => socket.destroy());
	});
} else {
	wss = new WebSocketServer({server, perMessageDeflate: false, maxPayload: 1024 * 1024});
	wss.on('connection', socket => {
		socket.on('error', () => {});
	});
}

await new Promise<void>(resolve => {
	server.listen({host: '127.0.0.1', port: 0, backlog: 4096}, resolve);
});

function openCount(): number {
	return impl === 'socket' ? bare.size : wss === null ? connections.size : wss.clients.size;
}

function sockets(): Socket[] {
	if (impl === 'socket') {
		return [...bare];
	}

	return wss === null
		? [...connections].map(connection => connection.getIoStream() as Socket)
		: [...wss.clients].map(client => (client as WebSocket & {_socket: Socket})._socket);
}

async function turn(): Promise<void> {
	return new Promise(resolve => {
		setImmediate(resolve);
	});
}

/** Waits until nothing is left to write to any connection (queues and sockets). */
async function flushed(): Promise<void> {
	const deadline = Date.now() + 120_000;
	const pending = (): boolean =>
		impl === 'socket'
			? [...bare].some(socket => socket.writableLength > 0)
			: wss === null
				? [...connections].some(connection => connection.bufferedAmount > 0)
				: [...wss.clients].some(client => client.bufferedAmount > 0);
	while (pending() && Date.now() < deadline) {
		await turn();
	}
}

/** Runs `publish(i)` `count` times, `perTurn` of them in each turn of the event loop, until all is written. */
async function measure(count: number, perTurn: number, publish: (index: number) => void): Promise<Record<string, unknown>> {
	const written = (): number => sockets().reduce((sum, socket) => sum + socket.bytesWritten, 0);
	const bytesBefore = written();
	const cpuBefore = process.cpuUsage();
	const start = performance.now();
	for (let index = 0; index < count; index++) {
		publish(index);
		if ((index + 1) % perTurn === 0) {
			await turn();
		}
	}

	await flushed();
	const seconds = (performance.now() - start) / 1000;
	return {seconds, cpuMs: cpuMs(cpuBefore), bytes: written() - bytesBefore, open: openCount()};
}

let broker: RedisBroker | null = null;

serve({
	info: () => ({port: (server.address() as AddressInfo).port}),
	async waitOpen(request) {
		const target = request['count'] as number;
		const deadline = Date.now() + 60_000;
		while (openCount() !== target && Date.now() < deadline) {
			await new Promise(resolve => setTimeout(resolve, 20));
		}

		return {open: openCount()};
	},
	/** The fan-out: websoup's hub.publishText, or what a ws user writes: `for (const c of wss.clients) c.send(text)`. */
	async fanout(request) {
		const texts = request['texts'] as string[];
		return measure(request['count'] as number, (request['perTurn'] as number | undefined) ?? 1, index => {
			const text = texts[index % texts.length]!;
			if (impl === 'socket') {
				// FIN+TEXT, a payload under 126 bytes: a 2-byte header.
				const payload = Buffer.from(text);
				const frame = Buffer.allocUnsafe(2 + payload.length);
				frame[0] = 0x81;
				frame[1] = payload.length;
				payload.copy(frame, 2);
				for (const socket of bare) {
					socket.write(frame);
				}
			} else if (wss === null) {
				hub.publishText('bench', text);
			} else {
				for (const client of wss.clients) {
					client.send(text);
				}
			}
		});
	},
	/** websoup only: the same fan-out as a loop of sendText (each deflate connection compresses with its own context). */
	async sendEach(request) {
		const texts = request['texts'] as string[];
		return measure(request['count'] as number, 1, index => {
			const text = texts[index % texts.length]!;
			for (const connection of connections) {
				connection.sendText(text);
			}
		});
	},
	/** A hub on a RedisBroker; its connections subscribe to 'bench' from now on (the latency rows). */
	async redis(request) {
		broker = await library.RedisBroker.connect(request['url'] as string);
		hub = new library.WebsocketHub({broker, maxBackpressure: 0});
		for (const connection of connections) {
			hub.subscribe(connection, 'bench');
		}

		await hub.ready;
		return {};
	},
	/** Publishes `count` timestamps (performance.timeOrigin + now, µs resolution) through the hub, one every `gapMs`. */
	async stamps(request) {
		const count = request['count'] as number;
		const gapMs = request['gapMs'] as number;
		for (let index = 0; index < count; index++) {
			const data = Buffer.alloc(32);
			data.writeDoubleBE(performance.timeOrigin + performance.now(), 0);
			hub.publishBinary('bench', data);
			await new Promise(resolve => setTimeout(resolve, gapMs));
		}

		return {};
	},
	async closeRedis() {
		hub.dispose();
		await broker?.close();
		return {};
	},
	cpu: () => ({cpuMs: cpuMs()}),
});
