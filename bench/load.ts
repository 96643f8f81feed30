// The load generator (and the fixed server of the client benchmark): raw net sockets, hand-made
// handshakes, precomputed masked frames written in batches; no WebSocket library. Driven by bench/run.ts.

import net from 'node:net';
import type {AddressInfo} from 'node:net';
import {constants as zlibConstants, deflateRawSync} from 'node:zlib';
import {cpuMs, serve} from './child.ts';
import {ACCEPT, acceptFor, buildFrame, CLIENT_CLOSE, FrameCounter, headEnd, openRaw, repeat, requestHead} from './raw.ts';

/** What a measured window reports: the rate counted, and the generator's own CPU use over it. */
interface Window {
	count: number;
	bytes: number;
	seconds: number;
	/** This process's CPU time over the window ÷ wall time: 1 = one core saturated. */
	cpu: number;
}

function sleep(ms: number): Promise<void> {
	return new Promise(resolve => setTimeout(resolve, ms));
}

/** Runs `warmupMs`, then measures `durationMs` of the counters returned by `read()`. */
async function measure(
	read: () => {count: number; bytes: number},
	warmupMs: number,
	durationMs: number,
	mark: (phase: 'start' | 'end') => void,
): Promise<Window> {
	await sleep(warmupMs);
	const before = read();
	const cpuBefore = process.cpuUsage();
	const start = process.hrtime.bigint();
	mark('start');
	await sleep(durationMs);
	const after = read();
	const seconds = Number(process.hrtime.bigint() - start) / 1e9;
	const cpu = cpuMs(cpuBefore) / 1000 / seconds;
	mark('end');
	return {count: after.count - before.count, bytes: after.bytes - before.bytes, seconds, cpu};
}

function markPhase(phase: 'start' | 'end'): void {
	process.send?.({event: 'mark', phase});
}

/** How the echo is driven: the frame's opcode; `raw` for a TCP echo (no handshake); `deflate` to offer and send permessage-deflate. */
interface EchoOptions {
	opcode: number;
	raw: boolean;
	deflate: boolean;
}

/** Opens a socket without a handshake (for the raw TCP echo). */
async function openTcp(port: number): Promise<{socket: net.Socket; rest: Buffer}> {
	return new Promise((resolve, reject) => {
		const socket = net.connect({host: '127.0.0.1', port, noDelay: true}, () => {
			socket.removeListener('error', reject);
			resolve({socket, rest: Buffer.alloc(0)});
		});
		socket.once('error', reject);
	});
}

/**
 * Echo load: `connections` sockets, each keeping up to `depth` frames of `size` bytes in flight,
 * written in batches of depth/2 precomputed masked frames. The fallback of bench/loadgen.c: it
 * counts echoed frames from their headers only (a compressed echo is not inflated).
 */
async function echo(port: number, connections: number, size: number, depth: number, warmupMs: number, durationMs: number, options: EchoOptions): Promise<Window> {
	const batch = Math.max(1, Math.floor(depth / 2));
	const text = 'The quick brown fox jumps over the lazy dog; {"id": 42, "name": "websoup", "ok": true} ';
	const plain = options.deflate ? Buffer.from(text.repeat(Math.ceil(size / text.length)).slice(0, size)) : Buffer.alloc(size, 0x61);
	let frame: Buffer;
	if (options.deflate) {
		// RFC 7692 §7.2.1: compress, then remove the 0x00 0x00 0xff 0xff at the tail; RSV1 set.
		const compressed = deflateRawSync(plain, {finishFlush: zlibConstants.Z_SYNC_FLUSH});
		frame = buildFrame(options.opcode, compressed.subarray(0, compressed.length - 4), true);
		frame[0] = frame[0]! | 0x40;
	} else {
		frame = buildFrame(options.opcode, plain, true);
	}

	const batchFrames = repeat(frame, batch);
	const sockets: net.Socket[] = [];
	const counters: FrameCounter[] = [];
	let running = true;
	try {
		const opened = await Promise.all(Array.from({length: connections}, async () => (options.raw ? openTcp(port) : openRaw(port, 10_000, options.deflate))));
		for (const {socket, rest} of opened) {
			const counter = new FrameCounter();
			let sent = 0;
			const refill = (): void => {
				// Bounded: at most depth / batch + 1 batches per call.
				while (running && sent - counter.frames <= depth - batch) {
					socket.write(batchFrames);
					sent += batch;
				}
			};

			socket.on('data', (chunk: Buffer) => {
				counter.push(chunk);
				refill();
			});
			socket.on('error', () => {
				// Reported as a low count; the run goes on.
			});
			sockets.push(socket);
			counters.push(counter);
			counter.push(rest);
			refill();
		}

		const read = (): {count: number; bytes: number} => {
			let count = 0;
			let bytes = 0;
			for (const counter of counters) {
				count += counter.frames;
				bytes += counter.payloadBytes;
			}

			return {count, bytes};
		};

		return await measure(read, warmupMs, durationMs, markPhase);
	} finally {
		running = false;
		for (const socket of sockets) {
			socket.destroy();
		}
	}
}

/** One connect → handshake → Close (1000) → server's Close and FIN → close; resolves false on failure. */
function handshakeOnce(port: number, request: Buffer): Promise<boolean> {
	return new Promise(resolve => {
		const socket = net.connect({host: '127.0.0.1', port, noDelay: true});
		let head: Buffer | null = Buffer.alloc(0);
		const counter = new FrameCounter();
		let ended = false;
		let done = false;
		const finish = (ok: boolean): void => {
			if (!done) {
				done = true;
				clearTimeout(timer);
				socket.destroy();
				resolve(ok);
			}
		};

		const timer = setTimeout(() => {
			finish(false);
		}, 10_000);
		socket.on('data', (chunk: Buffer) => {
			if (head !== null) {
				head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
				const end = headEnd(head);
				if (end === -1) {
					return;
				}

				const text = head.toString('latin1', 0, end);
				if (!text.startsWith('HTTP/1.1 101') || !text.includes(ACCEPT)) {
					finish(false);
					return;
				}

				chunk = head.subarray(end);
				head = null;
				socket.write(CLIENT_CLOSE);
			}

			counter.push(chunk);
			if (counter.closeSeen && ended) {
				finish(true);
			}
		});
		socket.on('end', () => {
			ended = true;
			finish(counter.closeSeen);
		});
		socket.on('error', () => {
			finish(false);
		});
		socket.on('close', () => {
			finish(counter.closeSeen && ended);
		});
		socket.write(request);
	});
}

/** Handshakes per second: `concurrency` loops of {@link handshakeOnce}. */
async function handshakes(port: number, concurrency: number, warmupMs: number, durationMs: number): Promise<Window & {failed: number}> {
	const request = requestHead(port);
	let completed = 0;
	let failed = 0;
	let running = true;
	const deadline = Date.now() + warmupMs + durationMs + 5000;
	const loops = Array.from({length: concurrency}, async () => {
		// Bounded by time, and by count as a safety net.
		for (let i = 0; i < 10_000_000 && running && Date.now() < deadline; i++) {
			if (await handshakeOnce(port, request)) {
				completed++;
			} else {
				failed++;
			}
		}
	});
	try {
		const window = await measure(() => ({count: completed, bytes: 0}), warmupMs, durationMs, markPhase);
		return {...window, failed};
	} finally {
		running = false;
		await Promise.all(loops);
	}
}

/** Idle connections held open for the memory figure. */
let idle: net.Socket[] = [];

async function openIdle(port: number, count: number, concurrency: number): Promise<number> {
	let next = 0;
	const workers = Array.from({length: concurrency}, async () => {
		for (; next < count; ) {
			next++;
			const {socket} = await openRaw(port, 30_000);
			socket.on('error', () => {
				// The server closing them at the end is expected.
			});
			idle.push(socket);
		}
	});
	await Promise.all(workers);
	return idle.length;
}

function closeIdle(): void {
	for (const socket of idle) {
		socket.destroy();
	}

	idle = [];
}

/**
 * The fixed server of the client benchmark: accepts a hand-made handshake, then answers each
 * (masked) data frame with an unmasked precomputed frame of the same length, without unmasking or
 * copying; answers a Close with a Close.
 */
let reflector: net.Server | undefined;
const reflectorSockets = new Set<net.Socket>();

/** Precomputed replies: payload length → `REPLY_BATCH` frames of that length, back to back. */
const replies = new Map<number, {frame: number; frames: Buffer}>();
const REPLY_BATCH = 64;

function repliesFor(length: number): {frame: number; frames: Buffer} {
	let entry = replies.get(length);
	if (entry === undefined) {
		const frame = buildFrame(0x2, Buffer.alloc(length, 0x62), false);
		entry = {frame: frame.length, frames: length > 65_536 ? frame : repeat(frame, REPLY_BATCH)};
		replies.set(length, entry);
	}

	return entry;
}

async function startReflector(): Promise<number> {
	const server = net.createServer({noDelay: true}, socket => {
		reflectorSockets.add(socket);
		socket.on('close', () => reflectorSockets.delete(socket));
		socket.on('error', () => {
			// A client test ending abruptly is fine.
		});
		let head: Buffer | null = Buffer.alloc(0);
		const counter = new FrameCounter();
		let pendingLength = -1;
		let pendingCount = 0;
		const flush = (): void => {
			// Bounded: pendingCount / REPLY_BATCH writes.
			const {frame, frames} = repliesFor(pendingLength);
			const perWrite = frames.length / frame;
			while (pendingCount > 0) {
				const n = Math.min(pendingCount, perWrite);
				socket.write(n === perWrite ? frames : frames.subarray(0, n * frame));
				pendingCount -= n;
			}
		};

		counter.onFrame = (opcode, length) => {
			if (opcode === 0x8) {
				if (pendingCount > 0) {
					flush();
				}

				socket.end(buildFrame(0x8, Buffer.from([0x03, 0xe8]), false));
				return;
			}

			if (opcode >= 0x8) {
				return;
			}

			if (length !== pendingLength && pendingCount > 0) {
				flush();
			}

			pendingLength = length;
			pendingCount++;
		};
		socket.on('data', (chunk: Buffer) => {
			if (head !== null) {
				head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
				const end = headEnd(head);
				if (end === -1) {
					return;
				}

				const key = /sec-websocket-key:\s*(\S+)/i.exec(head.toString('latin1', 0, end))?.[1] ?? '';
				socket.write(
					`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
						`Sec-WebSocket-Accept: ${acceptCache(key)}\r\n\r\n`,
				);
				chunk = head.subarray(end);
				head = null;
			}

			counter.push(chunk);
			if (pendingCount > 0) {
				flush();
			}
		});
	});
	reflector = server;
	await new Promise<void>(resolve => {
		server.listen({host: '127.0.0.1', port: 0, backlog: 1024}, resolve);
	});
	return (server.address() as AddressInfo).port;
}

const accepts = new Map<string, string>();
function acceptCache(key: string): string {
	let value = accepts.get(key);
	if (value === undefined) {
		value = key === '' ? '' : acceptFor(key);
		accepts.set(key, value);
	}

	return value;
}

serve({
	async echo(r) {
		const options = {opcode: (r['opcode'] as number | undefined) ?? 0x2, raw: r['raw'] === true, deflate: r['deflate'] === true};
		return {...(await echo(r['port'] as number, r['connections'] as number, r['size'] as number, r['depth'] as number, r['warmupMs'] as number, r['durationMs'] as number, options))};
	},
	async handshakes(r) {
		return {...(await handshakes(r['port'] as number, r['concurrency'] as number, r['warmupMs'] as number, r['durationMs'] as number))};
	},
	async openIdle(r) {
		return {open: await openIdle(r['port'] as number, r['count'] as number, r['concurrency'] as number)};
	},
	closeIdle() {
		closeIdle();
		return {};
	},
	async reflectStart() {
		return {port: await startReflector()};
	},
	async reflectStop() {
		for (const socket of reflectorSockets) {
			socket.destroy();
		}

		await new Promise<void>(resolve => {
			if (reflector === undefined) {
				resolve();
			} else {
				reflector.close(() => resolve());
			}
		});
		reflector = undefined;
		return {};
	},
	cpu: () => ({cpuMs: cpuMs()}),
});
