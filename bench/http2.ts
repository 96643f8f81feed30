// WebSocket over HTTP/2 (RFC 8441) against HTTP/1.1, same run: websoup client ↔ websoup server echo, 32 B and 1 MiB.
// Run: npx tsx bench/http2.ts [--quick] [--json]; `npm run bench` runs it in its own process and reports it.
// Both ends run in this one process over cleartext loopback (h2c with prior knowledge, and a plain
// http.Server), so the two transports are measured under the same conditions; the figure is the
// echo rate of one connection (one stream), not a server's capacity.

import {once} from 'node:events';
import {createServer} from 'node:http';
import http2 from 'node:http2';
import type {AddressInfo} from 'node:net';
import {loadLibrary, PAYLOAD_LIMIT, type Library} from './settings.ts';

const quick = process.argv.includes('--quick');
const json = process.argv.includes('--json');
const window = quick ? {warmupMs: 150, durationMs: 400, rounds: 2} : {warmupMs: 500, durationMs: 1500, rounds: 3};

type Transport = 'HTTP/1.1' | 'HTTP/2';
type Connection = InstanceType<Library['WebsocketConnection']>;

/** One echo cell: `depth` messages of `size` bytes in flight on one connection; messages per second. */
async function echoRate(client: Connection, size: number, depth: number, lib: Library): Promise<number> {
	const payload = Buffer.alloc(size, 0x61);
	const text = size <= 1024;
	let received = 0;
	let counting = false;
	let counted = 0;
	let stop = false;
	let finished: (() => void) | undefined;
	const id = client.connect('message', () => {
		received++;
		if (counting) {
			counted++;
		}

		if (stop) {
			if (received === sent) {
				finished?.();
			}

			return;
		}

		send();
	});
	let sent = 0;
	const send = (): void => {
		sent++;
		if (text) {
			client.sendText(payload.toString('latin1'));
		} else {
			client.sendMessage(lib.WebsocketDataType.BINARY, payload);
		}
	};

	for (let i = 0; i < depth; i++) {
		send();
	}

	await new Promise(resolve => setTimeout(resolve, window.warmupMs));
	counting = true;
	const started = process.hrtime.bigint();
	await new Promise(resolve => setTimeout(resolve, window.durationMs));
	const seconds = Number(process.hrtime.bigint() - started) / 1e9;
	counting = false;
	stop = true;
	// Drain what is in flight before the next cell, bounded.
	await Promise.race([
		new Promise<void>(resolve => {
			finished = resolve;
			if (received === sent) {
				resolve();
			}
		}),
		new Promise(resolve => setTimeout(resolve, 10_000)),
	]);
	client.disconnect(id);
	return counted / seconds;
}

async function pair(lib: Library, transport: Transport): Promise<{client: Connection; close: () => Promise<void>}> {
	const echo = (_server: unknown, _msg: unknown, _path: string, connection: Connection): void => {
		connection.connect('message', (self, type, data) => {
			self.sendMessage(type, data);
		});
	};

	const limits = {maxIncomingPayloadSize: PAYLOAD_LIMIT, maxTotalMessageSize: PAYLOAD_LIMIT, extensions: null};
	const server = transport === 'HTTP/2' ? http2.createServer({settings: {enableConnectProtocol: true}}) : createServer();
	lib.addWebsocketHandler(server, '/', null, null, echo, limits);
	server.listen(0, '127.0.0.1');
	await once(server, 'listening');
	const {port} = server.address() as AddressInfo;
	const client = await lib.websocketConnect(`ws://127.0.0.1:${port}/`, null, null, {
		maxIncomingPayloadSize: PAYLOAD_LIMIT,
		maxTotalMessageSize: PAYLOAD_LIMIT,
		...(transport === 'HTTP/2' ? {http2: true} : {}),
	});
	return {
		client,
		async close() {
			client.close();
			await Promise.race([client.closed, new Promise(resolve => setTimeout(resolve, 5000))]);
			(server as {closeAllConnections?: () => void}).closeAllConnections?.();
			await new Promise(resolve => {
				server.close(resolve);
			});
		},
	};
}

/** The cells: 32 B text at depth 16 (msg/s), 1 MiB binary at depth 1 (MB/s). */
export const HTTP2_CELLS = [
	{key: 'echo 32 B', size: 32, depth: 16, unit: 'msg/s'},
	{key: 'echo 1 MiB', size: 1024 * 1024, depth: 1, unit: 'MB/s'},
] as const;

export type Http2Results = Record<string, Record<Transport, number[]>>;

/** Measures every cell over both transports, alternating them, `rounds` times. */
export async function measureHttp2(lib: Library): Promise<Http2Results> {
	const results: Http2Results = {};
	for (let round = 0; round < window.rounds; round++) {
		for (const transport of ['HTTP/1.1', 'HTTP/2'] as const) {
			for (const cell of HTTP2_CELLS) {
				const {client, close} = await pair(lib, transport);
				try {
					const rate = await echoRate(client, cell.size, cell.depth, lib);
					const value = cell.unit === 'MB/s' ? (rate * cell.size) / 1e6 : rate;
					((results[cell.key] ??= {'HTTP/1.1': [], 'HTTP/2': []})[transport]).push(value);
				} finally {
					await close();
				}
			}
		}
	}

	return results;
}

function median(values: readonly number[]): number {
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** The report rows: cell, HTTP/1.1 median, HTTP/2 median, HTTP/2 ÷ HTTP/1.1. */
export function http2Rows(results: Http2Results): string[][] {
	const rows = [['websoup ↔ websoup, one connection', 'HTTP/1.1', 'HTTP/2 (RFC 8441)', 'h2 / h1']];
	for (const cell of HTTP2_CELLS) {
		const h1 = median(results[cell.key]?.['HTTP/1.1'] ?? []);
		const h2 = median(results[cell.key]?.['HTTP/2'] ?? []);
		const format = (value: number): string => `${value.toFixed(cell.unit === 'MB/s' ? 0 : 0)} ${cell.unit}`;
		rows.push([cell.key, format(h1), format(h2), `${(h2 / h1).toFixed(2)}×`]);
	}

	return rows;
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
	const lib = await loadLibrary();
	const results = await measureHttp2(lib);
	if (json) {
		console.log(JSON.stringify(results));
	} else {
		for (const row of http2Rows(results)) {
			console.log(row.join('\t'));
		}
	}

	process.exit(0);
}
