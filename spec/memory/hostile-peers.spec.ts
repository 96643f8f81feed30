// Issue 9, items 7 and 8: how much memory a hostile peer can make a server hold at its defaults.
//
// The server runs in a child process (server-child.ts), so its RSS is its own; the peers are raw
// loopback sockets in this process that do the handshake by hand and then write exact masked
// frames. Each phase takes the child's RSS after a full GC as its baseline, runs N hostile peers
// until each has sent everything, was closed by the server, or could not write for STALL_MS (the
// server stopped reading: the expected, bounded outcome), checks that a well-behaved client
// connected alongside still gets its echo, and asserts the peak RSS growth over the baseline.

import {fork, type ChildProcess} from 'node:child_process';
import {randomBytes} from 'node:crypto';
import {once} from 'node:events';
import type {Socket} from 'node:net';
import {fileURLToPath} from 'node:url';
import test, {type ExecutionContext} from 'ava';
import {WebsocketConnection} from '../../lib/websocket/connection.ts';
import {encodeFrame} from '../../lib/websocket/frame.ts';
import {connectWebsoupClient, rawUpgrade} from '../helpers/ws-peer.ts';
import {withTimeout} from '../helpers/signals.ts';
import type {ChildConfig, ChildReport, ChildRequest} from './server-child.ts';

const MiB = 1024 * 1024;
const KiB = 1024;

/**
 * What a phase may grow the server's peak RSS by: a fixed allowance plus so much per hostile
 * connection. Per connection, a server bounded as issue 9 asks holds about 1.5 MiB: the outgoing
 * high-water mark (1 MiB), one message being assembled (128 KiB at the defaults), and a few 64 KiB
 * socket reads; PER_CONNECTION leaves it more than twice that and is still "a few MiB". The fixed
 * part covers what the process does whatever the peers do: the garbage allowed between two forced
 * collections (GC_STEP), malloc keeping freed memory, the code and maps a phase first touches; the
 * echo-less control measures it (2–5 MiB after reading 64 MiB). So one connection may cost 12 MiB
 * and four 24 MiB, and across the 1- and 4-connection phases each extra connection at most
 * PER_CONNECTION (today's code: tens to hundreds of MiB per connection).
 */
const FIXED_ALLOWANCE = 8 * MiB;
const PER_CONNECTION = 4 * MiB;
const allowance = (connections: number): number => FIXED_ALLOWANCE + PER_CONNECTION * connections;

/**
 * The server child runs a full GC each time its sockets have read this much. Node leaves the 64 KiB
 * buffer of every socket read to the GC, and V8 collects them late: a plain net.Server that drops
 * what it reads peaks at +26 MiB after reading 48 MiB at loopback speed, and the echo-less control
 * below at about +30 MiB after 64 MiB (with GC_STEP: 2–5 MiB), whatever websoup does and however
 * many connections there are. Collected as the bytes come, the peak is what the connections hold plus at most GC_STEP of
 * garbage, which is what issue 9 bounds.
 */
const GC_STEP = 2 * MiB;

/** A peer whose writes have not drained for this long has been stopped by the server. */
const STALL_MS = 1500;
/** No phase's sending runs longer than this, whatever the server does. */
const PHASE_BUDGET_MS = 12_000;
/** How long the well-behaved client may wait for its echo while the hostile peers hold on. */
const ECHO_TIMEOUT_MS = 5000;

const childScript = fileURLToPath(new URL('server-child.ts', import.meta.url));

const mib = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;

interface Child {
	port: number;
	request(type: ChildRequest['type']): Promise<ChildReport>;
	/** Asks the child to exit and waits for it (killed after 5 s). */
	stop(): Promise<void>;
}

/** Starts the server child with `config`, killed (by its PID) at teardown. */
async function startChild(t: ExecutionContext, config: ChildConfig): Promise<Child> {
	const child: ChildProcess = fork(childScript, [JSON.stringify(config)], {
		execArgv: ['--import', 'tsx', '--expose-gc'],
		stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
	});
	t.teardown(() => {
		if (child.exitCode === null && child.signalCode === null) {
			child.kill('SIGKILL');
		}
	});
	let stderr = '';
	child.stderr!.setEncoding('utf8');
	child.stderr!.on('data', (chunk: string) => {
		// The last few KiB are enough to say why it died.
		stderr = (stderr + chunk).slice(-8 * KiB);
	});
	const pending = new Map<number, (report: ChildReport) => void>();
	let nextId = 1;
	let exited = false;
	const ready = new Promise<number>((resolve, reject) => {
		child.on('message', (message: {type: string; port?: number; id?: number}) => {
			if (message.type === 'ready') {
				resolve(message.port!);
			} else if (message.type === 'report') {
				pending.get(message.id!)?.(message as ChildReport);
				pending.delete(message.id!);
			}
		});
		child.once('exit', (code, signal) => {
			exited = true;
			reject(new Error(`server child exited (${code ?? signal}) before it was ready: ${stderr}`));
		});
	});
	const port = await withTimeout(ready, 20_000, 'the server child to listen');
	return {
		port,
		async request(type) {
			if (exited) {
				throw new Error(`server child has exited: ${stderr}`);
			}

			const id = nextId++;
			const answer = new Promise<ChildReport>(resolve => {
				pending.set(id, resolve);
			});
			child.send({type, id} satisfies ChildRequest);
			return withTimeout(answer, 10_000, `the server child's answer to '${type}'`);
		},
		async stop() {
			if (exited) {
				return;
			}

			const gone = once(child, 'exit');
			child.send({type: 'exit', id: nextId++} satisfies ChildRequest);
			await withTimeout(gone, 5000, 'the server child to exit').catch(() => {
				child.kill('SIGKILL');
			});
		},
	};
}

/** How a hostile peer's sending ended. */
type Outcome = 'sent' | 'stalled' | 'closed by server' | 'budget';

interface PumpResult {
	outcome: Outcome;
	/** Bytes the kernel took (handed to write() minus what still waits in the socket). */
	written: number;
}

/** Resolves with 'drain', 'closed' or 'timeout', whichever comes first. */
async function drained(socket: Socket, timeout: number): Promise<'drain' | 'closed' | 'timeout'> {
	return new Promise(resolve => {
		const finish = (result: 'drain' | 'closed' | 'timeout'): void => {
			clearTimeout(timer);
			socket.off('drain', onDrain);
			socket.off('close', onClose);
			resolve(result);
		};

		const onDrain = (): void => finish('drain');
		const onClose = (): void => finish('closed');
		const timer = setTimeout(() => finish('timeout'), timeout);
		socket.on('drain', onDrain);
		socket.on('close', onClose);
	});
}

/**
 * Writes `chunks` in order, honouring backpressure, until all are written, the socket is closed
 * (an error or a reset from the server), it has not drained for STALL_MS, or `deadline` passes.
 */
async function pump(socket: Socket, chunks: Iterable<Buffer>, deadline: number): Promise<PumpResult> {
	let handed = 0;
	const result = (outcome: Outcome): PumpResult => ({outcome, written: handed - socket.writableLength});
	for (const chunk of chunks) {
		if (socket.destroyed) {
			return result('closed by server');
		}

		const left = deadline - Date.now();
		if (left <= 0) {
			return result('budget');
		}

		handed += chunk.length;
		if (!socket.write(chunk)) {
			const waited = await drained(socket, Math.min(STALL_MS, left));
			if (waited === 'closed') {
				return result('closed by server');
			}

			if (waited === 'timeout') {
				return result(Date.now() >= deadline ? 'budget' : 'stalled');
			}
		}
	}

	return result('sent');
}

/** `count` copies of `frame` back to back. */
function repeat(frame: Buffer, count: number): Buffer {
	const chunk = Buffer.allocUnsafe(frame.length * count);
	for (let i = 0; i < count; i++) {
		frame.copy(chunk, i * frame.length);
	}

	return chunk;
}

/** A masked frame with a 1-byte payload: FIN and opcode in the first byte, then 0x81 (MASK, length 1). */
function tinyFrame(first: number, key: Buffer): Buffer {
	return Buffer.from([first, 0x81, key[0]!, key[1]!, key[2]!, key[3]!, 0x61 ^ key[0]!]); // payload "a"
}

const FRAGMENTS_PER_CHUNK = 10_000;

/** The chunks of one binary message of `fragments` 1-byte fragments (`fragments` ≥ 2 × FRAGMENTS_PER_CHUNK). */
function* fragmentFlood(fragments: number): Generator<Buffer> {
	const key = randomBytes(4);
	const perChunk = FRAGMENTS_PER_CHUNK;
	const continuation = repeat(tinyFrame(0x00, key), perChunk); // CONTINUATION, FIN clear
	// BINARY with FIN clear opens the message; CONTINUATION with FIN set ends it.
	yield Buffer.concat([tinyFrame(0x02, key), continuation.subarray(0, (perChunk - 1) * 7)]);
	let left = fragments - perChunk;
	for (; left > perChunk; left -= perChunk) {
		yield continuation;
	}

	yield Buffer.concat([continuation.subarray(0, (left - 1) * 7), tinyFrame(0x80, key)]);
}

/** `total` bytes of masked 64 KiB binary messages, 16 to a chunk. */
function* messageFlood(total: number): Generator<Buffer> {
	const [frame] = encodeFrame(0x02, randomBytes(64 * KiB), {maskKey: randomBytes(4)});
	const chunk = repeat(frame!, 16);
	for (let sent = 0; sent < total; sent += 16 * 64 * KiB) {
		yield chunk;
	}
}

/** `count` masked Pings with 125-byte payloads (the most a control frame may carry), 1000 to a chunk. */
function* pingFlood(count: number): Generator<Buffer> {
	const [frame] = encodeFrame(0x09, randomBytes(125), {maskKey: randomBytes(4)});
	const chunk = repeat(frame!, 1000);
	for (let sent = 0; sent < count; sent += 1000) {
		yield chunk;
	}
}

/** A peer that did the handshake by hand and never reads: its socket stays paused. */
async function hostileSocket(t: ExecutionContext, port: number): Promise<Socket> {
	const {socket} = await rawUpgrade(t, port);
	// A reset from the server is an outcome here, not a failure.
	socket.on('error', () => {});
	socket.pause();
	return socket;
}

/**
 * Sends one text message on the well-behaved connection and waits for its echo; returns the round
 * trip in ms, or null if it did not come back within ECHO_TIMEOUT_MS. Other messages (a late echo
 * of an earlier check) are skipped.
 */
async function echoRoundTrip(client: WebsocketConnection, label: string): Promise<number | null> {
	const started = performance.now();
	const echoed = new Promise<number | null>(resolve => {
		const timer = setTimeout(() => {
			client.disconnect(id);
			resolve(null);
		}, ECHO_TIMEOUT_MS);
		const id = client.connect('message', (_self, _type, data) => {
			if (Buffer.from(data).toString() === label) {
				clearTimeout(timer);
				client.disconnect(id);
				resolve(performance.now() - started);
			}
		});
	});
	client.sendText(label);
	return echoed;
}

/** Asks the child until it holds `open` connections or 10 s have passed; returns its last report. */
async function untilServerHolds(child: Child, open: number): Promise<ChildReport> {
	const giveUpAt = Date.now() + 10_000;
	let report = await child.request('measure');
	while (report.open > open && Date.now() < giveUpAt) {
		await new Promise(resolve => {
			setImmediate(resolve);
		});
		report = await child.request('measure');
	}

	return report;
}

interface PhaseResult {
	name: string;
	connections: number;
	report: ChildReport;
	/** Peak RSS over the baseline. */
	growth: number;
	limit: number;
	outcomes: PumpResult[];
	/** The well-behaved client's round trip during the phase, null if it timed out. */
	echo: number | null;
	/** Hostile connections the server still held after the peers were gone. */
	leftOpen: number;
}

/** Asserts what a phase must show; called after every phase ran, so all the numbers are logged. */
function check(t: ExecutionContext, results: readonly PhaseResult[]): void {
	for (const {name, connections, growth, limit, echo, leftOpen} of results) {
		const what = `${name}, ${connections} hostile connection(s)`;
		t.true(growth <= limit, `${what}: peak RSS grew by ${mib(growth)}, more than ${mib(limit)}`);
		t.not(echo, null, `${what}: the well-behaved client got no echo within ${ECHO_TIMEOUT_MS} ms`);
		t.is(leftOpen, 0, `${what}: the server still held ${leftOpen} hostile connection(s) afterwards`);
	}
}

/**
 * One phase: baseline, `connections` hostile peers each running `hostile`, the echo check, the
 * peak RSS growth, then the peers closed and the server back to the well-behaved client alone.
 */
async function phase(
	t: ExecutionContext,
	child: Child,
	client: WebsocketConnection,
	name: string,
	connections: number,
	hostile: (socket: Socket, deadline: number) => Promise<PumpResult>,
	limit = allowance(connections),
): Promise<PhaseResult> {
	const baseline = await child.request('reset');
	const sockets = await Promise.all(Array.from({length: connections}, async () => hostileSocket(t, child.port)));
	const started = Date.now();
	const deadline = started + PHASE_BUDGET_MS;
	const outcomes = await Promise.all(sockets.map(async socket => hostile(socket, deadline)));
	const elapsed = Date.now() - started;
	const echo = await echoRoundTrip(client, `alive after ${name}`);
	const report = await child.request('measure');
	const growth = report.peakRss - report.baselineRss;
	const ends = report.ended.map(end => `${end.closeCode} ${end.error ?? 'no error'} after ${mib(end.bytesRead)} read`);
	t.log(
		`${name}, ${connections} hostile connection(s): peak RSS +${mib(growth)} over ${mib(baseline.rss)}` +
			` (${mib(growth / connections)} per connection; limit ${mib(limit)}); RSS now ${mib(report.rss)},` +
			` heap ${mib(report.heapUsed)}, external ${mib(report.external)}, ${report.collections} forced GCs;` +
			` server read ${mib(report.bytesRead)} on open connections, queued ${mib(report.bufferedAmount)} in ${report.bufferedWrites} socket writes;` +
			` peers: ${outcomes.map(o => `${o.outcome} ${mib(o.written)}`).join(', ')} in ${elapsed} ms;` +
			` ended on the server: ${ends.length === 0 ? 'none' : ends.join('; ')};` +
			` echo ${echo === null ? 'timed out' : `in ${echo.toFixed(0)} ms`}`,
	);
	if (report.unknownProperties.length > 0) {
		t.log(`properties the server could not set: ${report.unknownProperties.join(', ')}`);
	}

	for (const socket of sockets) {
		socket.destroy();
	}

	const settled = await untilServerHolds(child, 1);
	return {name, connections, report, growth, limit, outcomes, echo, leftOpen: settled.open - 1};
}

type Hostile = (socket: Socket, deadline: number) => Promise<PumpResult>;

/** What a phase runs: the server's config, the hostile peer at full and at warm-up scale. */
interface Scenario {
	name: string;
	config: ChildConfig;
	hostile: Hostile;
	warmUp: Hostile;
	/** The limit on the peak RSS growth; allowance(connections) when absent. */
	limit?: number;
}

/**
 * A fresh server child (so no phase inherits another's heap), a well-behaved client echoing on it,
 * a warm-up of the hostile peer at a small scale (so compiling its code paths is not counted),
 * then the phase; the child is stopped afterwards.
 */
async function measure(t: ExecutionContext, scenario: Scenario, connections: number): Promise<PhaseResult> {
	const child = await startChild(t, {gcStep: GC_STEP, ...scenario.config});
	try {
		const {conn: client} = await connectWebsoupClient(t, child.port);
		for (let i = 0; i < 3; i++) {
			t.not(await echoRoundTrip(client, `warm-up ${i}`), null, 'the well-behaved client gets its echo before any hostile peer');
		}

		const socket = await hostileSocket(t, child.port);
		await scenario.warmUp(socket, Date.now() + PHASE_BUDGET_MS);
		socket.destroy();
		await untilServerHolds(child, 1);
		return await phase(t, child, client, scenario.name, connections, scenario.hostile, scenario.limit ?? allowance(connections));
	} finally {
		await child.stop();
	}
}

/**
 * Runs `scenario` with 1 and with 4 hostile connections, then asserts both, and that each connection
 * past the first costs at most PER_CONNECTION (the fixed part cancels out of the difference).
 */
async function oneAndFour(t: ExecutionContext, scenario: Scenario): Promise<void> {
	const one = await measure(t, scenario, 1);
	const four = await measure(t, scenario, 4);
	const perConnection = (four.growth - one.growth) / 3;
	t.log(`${scenario.name}: each connection past the first costs ${mib(perConnection)} (limit ${mib(PER_CONNECTION)})`);
	check(t, [one, four]);
	t.true(
		perConnection <= PER_CONNECTION,
		`${scenario.name}: each hostile connection past the first grew the server by ${mib(perConnection)}, more than ${mib(PER_CONNECTION)}`,
	);
}

test.serial('memory: a flood of 1-byte fragments at the defaults (item 7)', async t => {
	await oneAndFour(t, {
		name: 'one message of 2,000,000 1-byte fragments',
		config: {},
		hostile: async (socket, deadline) => pump(socket, fragmentFlood(2_000_000), deadline),
		warmUp: async (socket, deadline) => pump(socket, fragmentFlood(2 * FRAGMENTS_PER_CHUNK), deadline),
	});
});

test.serial('memory: a 2 MB message of 1-byte fragments, limits raised to 64 MiB, costs about its size (item 7)', async t => {
	const fragments = 2_000_000;
	const limit = 64 * MiB;
	// The fragment-count limit is raised too, whatever its name: found by introspection.
	const fragmentLimits = WebsocketConnection.listProperties().filter(spec => spec.name.includes('fragment'));
	const properties: Record<string, number> = {'max-incoming-payload-size': limit, 'max-total-message-size': limit};
	const handlerOptions: Record<string, unknown> = {maxIncomingPayloadSize: limit, maxTotalMessageSize: limit};
	for (const spec of fragmentLimits) {
		const raised = Math.min(spec.maximum ?? Number.MAX_SAFE_INTEGER, 4 * fragments);
		properties[spec.name] = raised;
		handlerOptions[spec.camelName] = raised;
	}

	t.log(`fragment-count properties raised: ${fragmentLimits.map(spec => spec.name).join(', ') || 'none (none exists yet)'}`);
	// The echo of the whole message (a 10-byte header and the payload) is proof the server assembled it.
	const echoSize = 10 + fragments;
	let received = 0;
	const result = await measure(
		t,
		{
			name: `a ${fragments}-byte message`,
			config: {handlerOptions, properties},
			async hostile(socket, deadline) {
				const sent = await pump(socket, fragmentFlood(fragments), deadline);
				const echoed = new Promise<void>(resolve => {
					socket.on('data', (chunk: Buffer) => {
						received += chunk.length;
						if (received >= echoSize) {
							resolve();
						}
					});
					socket.once('close', () => resolve());
				});
				socket.resume();
				await withTimeout(echoed, Math.max(0, deadline - Date.now()) + ECHO_TIMEOUT_MS, 'the echo of the message').catch(() => {});
				return sent;
			},
			warmUp: async (socket, deadline) => pump(socket, fragmentFlood(2 * FRAGMENTS_PER_CHUNK), deadline),
			// About 1× the message (2× for a buffer grown by doubling) plus the fixed allowance.
			limit: FIXED_ALLOWANCE + 2 * fragments,
		},
		1,
	);
	t.log(`memory per byte of message: ${(result.growth / fragments).toFixed(2)}× (the echo: ${received} of ${echoSize} bytes)`);
	t.is(received, echoSize, 'the server echoes the whole message: it was assembled');
	check(t, [result]);
});

test.serial('memory: an echo client that sends 200 MiB of 64 KiB messages and never reads (item 8a)', async t => {
	await oneAndFour(t, {
		name: '200 MiB of 64 KiB messages, echoes unread',
		config: {},
		hostile: async (socket, deadline) => pump(socket, messageFlood(200 * MiB), deadline),
		warmUp: async (socket, deadline) => pump(socket, messageFlood(2 * MiB), deadline),
	});
});

test.serial('memory: a peer that sends 200,000 Pings and never reads (item 8b)', async t => {
	await oneAndFour(t, {
		name: '200,000 Pings, Pongs unread',
		config: {},
		hostile: async (socket, deadline) => pump(socket, pingFlood(200_000), deadline),
		warmUp: async (socket, deadline) => pump(socket, pingFlood(2000), deadline),
	});
});

test.serial('memory: control — 64 MiB of 64 KiB messages read and dropped stay within the fixed allowance', async t => {
	// Nothing is queued when the server does not echo: what remains is the cost of the traffic itself
	// (garbage, allocator), which FIXED_ALLOWANCE is meant to cover. Without the forced collections the
	// same traffic costs far more (logged, not asserted: it is V8's and Node's, not websoup's).
	const scenario = (gcStep: number): Scenario => ({
		name: `64 MiB of 64 KiB messages to a server that does not echo, GC ${gcStep === 0 ? 'left to V8' : `every ${mib(gcStep)} read`}`,
		config: {echo: false, gcStep},
		hostile: async (socket, deadline) => pump(socket, messageFlood(64 * MiB), deadline),
		warmUp: async (socket, deadline) => pump(socket, messageFlood(2 * MiB), deadline),
		limit: FIXED_ALLOWANCE,
	});
	const forced = await measure(t, scenario(GC_STEP), 1);
	const unforced = await measure(t, scenario(0), 1);
	check(t, [forced, {...unforced, limit: Number.POSITIVE_INFINITY}]);
});
