// A first echo-throughput comparison with ws over loopback: one ws client pipelines messages to
// a websoup echo server and to a ws echo server, alternately. Run: npx tsx bench/echo-quick.ts
// (The full benchmark, with a separate load-generator process, is a later issue.)

import http from 'node:http';
import type {AddressInfo} from 'node:net';
import {WebSocket, WebSocketServer} from 'ws';
import {WebsocketConnection} from '../lib/websocket/connection.ts';
import {WebsocketConnectionType} from '../lib/websocket/constants.ts';
import {serverProcessHandshake} from '../lib/websocket/handshake.ts';
import {messageFromIncomingMessage, writeResponseHead} from '../lib/websocket/message.ts';

const limit = 2 * 1024 * 1024;

async function websoupServer(): Promise<http.Server> {
	const server = http.createServer();
	server.on('upgrade', (request, socket, head) => {
		const msg = messageFromIncomingMessage(request);
		const result = serverProcessHandshake(msg, null, null);
		writeResponseHead(socket, msg);
		if (!result.accepted) {
			socket.destroy();
			return;
		}

		socket.unshift(head);
		const conn = new WebsocketConnection({
			ioStream: socket,
			connectionType: WebsocketConnectionType.SERVER,
			uri: msg.uri,
			maxIncomingPayloadSize: limit,
		});
		conn.connect('message', (self, type, data) => {
			self.sendMessage(type, data);
		});
	});
	await new Promise<void>(resolve => {
		server.listen(0, '127.0.0.1', resolve);
	});
	return server;
}

async function wsServer(): Promise<http.Server> {
	const server = http.createServer();
	const wss = new WebSocketServer({server, maxPayload: limit, perMessageDeflate: false});
	wss.on('connection', socket => {
		socket.on('message', (data, isBinary) => {
			socket.send(data, {binary: isBinary});
		});
	});
	await new Promise<void>(resolve => {
		server.listen(0, '127.0.0.1', resolve);
	});
	return server;
}

async function run(server: http.Server, size: number, count: number, depth: number): Promise<number> {
	const {port} = server.address() as AddressInfo;
	const client = new WebSocket(`ws://127.0.0.1:${port}/`, {perMessageDeflate: false, maxPayload: limit});
	await new Promise<void>((resolve, reject) => {
		client.once('open', resolve);
		client.once('error', reject);
	});
	const payload = Buffer.alloc(size, 0x61);
	let sent = 0;
	let received = 0;
	const start = process.hrtime.bigint();
	await new Promise<void>(resolve => {
		client.on('message', () => {
			received++;
			if (received === count) {
				resolve();
			} else if (sent < count) {
				client.send(payload, {binary: true});
				sent++;
			}
		});
		for (; sent < Math.min(depth, count); sent++) {
			client.send(payload, {binary: true});
		}
	});
	const seconds = Number(process.hrtime.bigint() - start) / 1e9;
	client.terminate();
	return count / seconds;
}

function median(values: number[]): number {
	return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}

const servers = {websoup: await websoupServer(), ws: await wsServer()};
for (const [size, count] of [
	[32, 100_000],
	[1024 * 1024, 300],
] as const) {
	const results: Record<string, number[]> = {websoup: [], ws: []};
	for (let round = 0; round < 5; round++) {
		for (const name of ['websoup', 'ws'] as const) {
			results[name]!.push(await run(servers[name], size, count, 64));
		}
	}

	const a = median(results['websoup']!);
	const b = median(results['ws']!);
	const unit = size >= 1024 ? `${((a * size) / 1e6).toFixed(0)} MB/s vs ${((b * size) / 1e6).toFixed(0)} MB/s` : `${a.toFixed(0)} msg/s vs ${b.toFixed(0)} msg/s`;
	console.log(`${size} B echo: websoup ${unit}, ratio ${(a / b).toFixed(2)}x`);
}

for (const server of Object.values(servers)) {
	server.closeAllConnections();
	server.close();
}
