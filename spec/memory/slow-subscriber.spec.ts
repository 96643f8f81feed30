// Slow subscribers against fast ones, with each backpressure policy: the fast ones keep receiving,
// and the server process's RSS stays within max-backpressure per stalled subscriber.

import {fork, type ChildProcess} from 'node:child_process';
import {randomBytes} from 'node:crypto';
import {connect, type Socket} from 'node:net';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import test, {type ExecutionContext} from 'ava';
import {WebSocket} from 'ws';
import {until, withTimeout} from '../helpers/signals.ts';
import type {HubChildConfig, PublishReport} from './hub-child.ts';

const childScript = path.join(path.dirname(fileURLToPath(import.meta.url)), 'hub-child.ts');
const MiB = 1024 * 1024;
const MAX_BACKPRESSURE = MiB;
const FAST = 4;
const STALLED = 4;
/** 4000 × 16 KiB = 62 MiB for each subscriber: far more than the kernel buffers a stalled socket. */
const COUNT = 4000;
const SIZE = 16 * 1024;

interface Child {
	port: number;
	request<T>(message: object, type: string): Promise<T>;
	next<T>(type: string): Promise<T>;
}

async function startChild(t: ExecutionContext, config: HubChildConfig): Promise<Child> {
	const child: ChildProcess = fork(childScript, [JSON.stringify(config)], {
		execArgv: ['--import=tsx', '--expose-gc'],
		stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
	});
	t.teardown(() => {
		if (child.exitCode === null && child.signalCode === null) {
			process.kill(child.pid!, 'SIGKILL');
		}
	});
	const next = async <T>(type: string): Promise<T> =>
		withTimeout(
			new Promise<T>((resolve, reject) => {
				const onMessage = (message: {type: string; message?: string}): void => {
					if (message.type === type) {
						child.off('message', onMessage);
						resolve(message as T);
					} else if (message.type === 'error') {
						child.off('message', onMessage);
						reject(new Error(message.message));
					}
				};

				child.on('message', onMessage);
			}),
			120_000,
			`child's ${type}`,
		);
	const {port} = await next<{port: number}>('ready');
	return {
		port,
		next,
		async request<T>(message: object, type: string): Promise<T> {
			const answer = next<T>(type);
			child.send(message);
			return answer;
		},
	};
}

/** A subscriber that does the handshake by hand and then never reads a byte. */
async function stalledPeer(t: ExecutionContext, port: number): Promise<Socket> {
	const socket = connect({host: '127.0.0.1', port});
	t.teardown(() => socket.destroy());
	socket.on('error', () => {});
	socket.write(
		'GET /ws?role=stalled HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
			`Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
	);
	await withTimeout(
		new Promise<void>(resolve => {
			let head = '';
			const onData = (chunk: Buffer): void => {
				head += chunk.toString('latin1');
				if (head.includes('\r\n\r\n')) {
					socket.off('data', onData);
					// From here on it reads nothing: the kernel buffers fill, then the server's queue.
					socket.pause();
					resolve();
				}
			};

			socket.on('data', onData);
		}),
		10_000,
		'handshake of the stalled peer',
	);
	return socket;
}

/** A ws client (it offers permessage-deflate, so the hub's frames go to deflate connections) recording sequence numbers. */
async function fastPeer(t: ExecutionContext, port: number): Promise<{sequences: number[]; ws: WebSocket}> {
	const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?role=fast`);
	t.teardown(() => ws.terminate());
	const sequences: number[] = [];
	ws.on('message', (data: Buffer) => {
		sequences.push(data.readUInt32BE(0));
	});
	await withTimeout(
		new Promise(resolve => {
			ws.once('open', resolve);
		}),
		10_000,
		'ws open',
	);
	return {sequences, ws};
}

async function run(t: ExecutionContext, policy: 'drop' | 'close'): Promise<{report: PublishReport; fast: number[][]}> {
	const child = await startChild(t, {policy, maxBackpressure: MAX_BACKPRESSURE});
	const fast: Array<Awaited<ReturnType<typeof fastPeer>>> = [];
	for (let index = 0; index < FAST; index++) {
		fast.push(await fastPeer(t, child.port));
	}

	for (let index = 0; index < STALLED; index++) {
		await stalledPeer(t, child.port);
	}

	const report = await child.request<PublishReport>({type: 'publish', count: COUNT, size: SIZE}, 'report');
	// Every message is in the fast clients' sockets by now; wait for them to be read.
	await until(() => fast.every(peer => peer.sequences.length >= COUNT), 60_000, 'every message at the fast clients');

	return {report, fast: fast.map(peer => peer.sequences)};
}

function checkFast(t: ExecutionContext, fast: number[][]): void {
	const expected = Array.from({length: COUNT}, (_, index) => index);
	for (const sequences of fast) {
		t.is(sequences.length, COUNT);
		t.deepEqual(sequences, expected);
	}
}

function checkMemory(t: ExecutionContext, report: PublishReport): void {
	const growth = report.peakRss - report.baselineRss;
	// Without the policy the stalled subscribers would hold nearly all 62 MiB (the same frames for each).
	const limit = STALLED * (MAX_BACKPRESSURE + SIZE) + 24 * MiB;
	t.log(
		`peak RSS +${(growth / MiB).toFixed(1)} MiB over ${(report.baselineRss / MiB).toFixed(1)} MiB` +
			` (limit ${(limit / MiB).toFixed(1)} MiB); most bytes waiting for one stalled subscriber: ${report.maxStalledBuffered}`,
	);
	t.true(report.maxStalledBuffered <= MAX_BACKPRESSURE);
	t.true(growth <= limit, `RSS grew ${growth} bytes, more than ${limit}`);
}

test('drop: a stalled subscriber misses messages, fast ones get every one in order, RSS stays bounded', async t => {
	const {report, fast} = await run(t, 'drop');
	checkFast(t, fast);
	checkMemory(t, report);
	for (const dropped of report.droppedPerStalled) {
		t.true(dropped > 0 && dropped < COUNT, `dropped ${dropped}`);
	}

	t.deepEqual(report.stalledStates, Array.from({length: STALLED}, () => 1));
	// Each publish reached the 4 fast subscribers, and the stalled ones until their queue was full.
	const droppedTotal = report.droppedPerStalled.reduce((a, b) => a + b, 0);
	t.is(report.queued, COUNT * (FAST + STALLED) - droppedTotal);
});

test('close: a stalled subscriber is closed at its first overflow, fast ones get every one in order, RSS stays bounded', async t => {
	const {report, fast} = await run(t, 'close');
	checkFast(t, fast);
	checkMemory(t, report);
	// Once closing, a connection is no longer published to: one `dropped` each.
	t.deepEqual(report.droppedPerStalled, Array.from({length: STALLED}, () => 1));
	for (const state of report.stalledStates) {
		t.true(state === 2 || state === 3, `state ${state}`);
	}
});
