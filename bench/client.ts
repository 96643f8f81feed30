// The client under test (websoup's websocketConnect or ws's WebSocket) against the fixed raw server,
// and the signal-layer micro-benchmark; driven over IPC by bench/run.ts.
// Usage (by run.ts only): node --import tsx bench/client.ts websoup|ws

import {cpuMs, serve} from './child.ts';
import {measureEmit} from './emit.ts';
import {loadLibrary, PAYLOAD_LIMIT, wsHelpers} from './settings.ts';

const impl = process.argv[2];
if (impl !== 'websoup' && impl !== 'ws') {
	throw new TypeError(`Expected websoup or ws, got ${String(impl)}`);
}

/** A connected client reduced to what the benchmark needs. */
interface BenchClient {
	send(data: Buffer): void;
	onMessage(fn: () => void): void;
	close(): Promise<void>;
}

async function connectWebsoup(url: string): Promise<BenchClient> {
	const {websocketConnect, WebsocketDataType} = await loadLibrary();
	const conn = await websocketConnect(url, null, null, {maxIncomingPayloadSize: PAYLOAD_LIMIT, maxTotalMessageSize: PAYLOAD_LIMIT});
	return {
		send(data) {
			conn.sendMessage(WebsocketDataType.BINARY, data);
		},
		onMessage(fn) {
			conn.connect('message', fn);
		},
		async close() {
			conn.close(1000);
			await Promise.race([conn.closed, new Promise(resolve => setTimeout(resolve, 5000))]);
			conn.getIoStream().destroy();
		},
	};
}

async function connectWs(url: string): Promise<BenchClient> {
	const {WebSocket} = await import('ws');
	const socket = new WebSocket(url, {perMessageDeflate: false, maxPayload: PAYLOAD_LIMIT});
	await new Promise<void>((resolve, reject) => {
		socket.once('open', resolve);
		socket.once('error', reject);
	});
	return {
		send(data) {
			socket.send(data, {binary: true});
		},
		onMessage(fn) {
			socket.on('message', fn);
		},
		async close() {
			const closed = new Promise(resolve => socket.once('close', resolve));
			socket.close(1000);
			await Promise.race([closed, new Promise(resolve => setTimeout(resolve, 5000))]);
			socket.terminate();
		},
	};
}

/** One connection; `depth` messages in flight, a new one sent for each one received. */
async function clientRun(port: number, size: number, depth: number, warmupMs: number, durationMs: number): Promise<Record<string, number>> {
	const url = `ws://127.0.0.1:${port}/`;
	const client = impl === 'websoup' ? await connectWebsoup(url) : await connectWs(url);
	const payload = Buffer.alloc(size, 0x63);
	let received = 0;
	let running = true;
	client.onMessage(() => {
		received++;
		if (running) {
			client.send(payload);
		}
	});
	for (let i = 0; i < depth; i++) {
		client.send(payload);
	}

	await new Promise(resolve => setTimeout(resolve, warmupMs));
	const before = received;
	const cpuBefore = process.cpuUsage();
	const start = process.hrtime.bigint();
	await new Promise(resolve => setTimeout(resolve, durationMs));
	const count = received - before;
	const seconds = Number(process.hrtime.bigint() - start) / 1e9;
	const cpu = cpuMs(cpuBefore) / 1000 / seconds;
	running = false;
	await client.close();
	return {count, seconds, cpu};
}

if (impl === 'ws') {
	// Load ws now, so `info` reports the helpers it picked.
	await import('ws');
}

serve({
	info: () => ({helpers: wsHelpers()}),
	async client(r) {
		return clientRun(r['port'] as number, r['size'] as number, r['depth'] as number, r['warmupMs'] as number, r['durationMs'] as number);
	},
	emit: async () => ({...measureEmit(1, await loadLibrary())}),
});
