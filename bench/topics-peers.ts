// The subscribers of bench/topics.ts: many raw loopback connections (hand-written handshake, then
// every byte counted, nothing parsed), and WebSocket clients timing the Redis round; driven over IPC.

import {randomBytes} from 'node:crypto';
import net from 'node:net';
import {performance} from 'node:perf_hooks';
import {WebSocket} from 'ws';
import {serve} from './child.ts';

const sockets: net.Socket[] = [];
let received = 0;
const latencies: number[] = [];
const clients: WebSocket[] = [];

/** Opens one subscriber: the upgrade by hand (offering permessage-deflate when asked), then counts bytes. */
async function open(port: number, deflate: boolean): Promise<void> {
	const socket = net.connect({host: '127.0.0.1', port});
	socket.on('error', () => {});
	socket.write(
		`GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
			`Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
			(deflate ? 'Sec-WebSocket-Extensions: permessage-deflate\r\n' : '') +
			'\r\n',
	);
	await new Promise<void>((resolve, reject) => {
		let head = Buffer.alloc(0);
		const onData = (chunk: Buffer): void => {
			head = Buffer.concat([head, chunk]);
			const end = head.indexOf('\r\n\r\n');
			if (end === -1) {
				return;
			}

			if (!head.subarray(0, 12).toString('latin1').startsWith('HTTP/1.1 101')) {
				reject(new Error(`handshake refused: ${head.subarray(0, end).toString('latin1')}`));
				return;
			}

			socket.off('data', onData);
			received += head.length - end - 4;
			socket.on('data', (data: Buffer) => {
				received += data.length;
			});
			resolve();
		};

		socket.on('data', onData);
		socket.once('close', () => {
			reject(new Error('closed during the handshake'));
		});
	});
	sockets.push(socket);
}

serve({
	async open(request) {
		const port = request['port'] as number;
		const count = request['count'] as number;
		const deflate = request['deflate'] === true;
		// 100 handshakes at a time: the server's accept queue stays short.
		for (let index = 0; index < count; index += 100) {
			await Promise.all(Array.from({length: Math.min(100, count - index)}, async () => open(port, deflate)));
		}

		return {open: sockets.length};
	},
	bytes: () => ({bytes: received}),
	async waitBytes(request) {
		const target = request['bytes'] as number;
		const deadline = Date.now() + 120_000;
		while (received < target && Date.now() < deadline) {
			await new Promise(resolve => setTimeout(resolve, 10));
		}

		return {bytes: received};
	},
	async closeAll() {
		for (const socket of sockets) {
			socket.destroy();
		}

		sockets.length = 0;
		received = 0;
		for (const client of clients) {
			client.terminate();
		}

		clients.length = 0;
		return {};
	},
	/** A ws client that records, for each timestamped message, the µs since it was published. */
	async timer(request) {
		const client = new WebSocket(`ws://127.0.0.1:${request['port'] as number}/ws`, {perMessageDeflate: false});
		client.on('message', (data: Buffer) => {
			latencies.push((performance.timeOrigin + performance.now() - data.readDoubleBE(0)) * 1000);
		});
		await new Promise((resolve, reject) => {
			client.once('open', resolve);
			client.once('error', reject);
		});
		clients.push(client);
		return {};
	},
	async latencies(request) {
		const target = request['count'] as number;
		const deadline = Date.now() + 60_000;
		while (latencies.length < target && Date.now() < deadline) {
			await new Promise(resolve => setTimeout(resolve, 10));
		}

		const sorted = [...latencies].sort((a, b) => a - b);
		latencies.length = 0;
		const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
		return {count: sorted.length, p50: at(0.5), p99: at(0.99)};
	},
});
