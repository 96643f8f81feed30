// The topics figures of `npm run bench` (also `node --import tsx bench/topics.ts [--quick]` alone):
// publish 32 B to 10,000 local subscribers, websoup's WebsocketHub vs a ws server's `for…send` loop,
// alternating A B A B, beside the floor (bare upgraded sockets, the frame made once and written to
// each: what no library on Node can go below at one write per subscriber); the fan-out to permessage-deflate subscribers, hub (one uncompressed frame)
// vs a `sendText` loop (a compression per subscriber); cross-process latency through Redis.
// The server runs on one core, the subscribers (raw sockets counting bytes) on the other.

import {spawnSync} from 'node:child_process';
import os from 'node:os';
import {fileURLToPath} from 'node:url';
import {Child, hasTaskset, type Reply} from './child.ts';

/** What {@link runTopicsBench} measured, ready to print. */
export interface TopicsReport {
	/** Header row first. */
	table: string[][];
	notes: string[];
}

interface Settings {
	rounds: number;
	subscribers: number;
	publishes: number;
	deflateSubscribers: number;
	stamps: number;
}

const FAN_OUT_TARGET = 3;

function median(values: readonly number[]): number {
	const sorted = [...values].sort((a, b) => a - b);
	return sorted.length === 0 ? Number.NaN : sorted[Math.floor(sorted.length / 2)]!;
}

function number(value: number, digits = 0): string {
	return Number.isFinite(value) ? value.toLocaleString('en-US', {maximumFractionDigits: digits, minimumFractionDigits: digits}) : 'n/a';
}

function range(values: readonly number[], scale = 1, digits = 0): string {
	return `${number(median(values) / scale, digits)} (${number(Math.min(...values) / scale, digits)}–${number(Math.max(...values) / scale, digits)})`;
}

const pin = hasTaskset() && os.cpus().length >= 2;
const SERVER_CORE = pin ? 0 : undefined;
const PEERS_CORE = pin ? 1 : undefined;

async function startServer(impl: 'websoup' | 'ws' | 'socket', env: Record<string, string>): Promise<{child: Child; port: number}> {
	const child = await Child.start(`topics ${impl}`, 'topics-server.ts', {core: SERVER_CORE, args: [impl], env});
	const {port} = await child.request('info');
	return {child, port};
}

/** A small deterministic generator (mulberry32), so every run publishes the same messages. */
function random(seed: number): () => number {
	let state = seed;
	return () => {
		state = (state + 0x6d_2b_79_f5) | 0;
		let value = Math.imul(state ^ (state >>> 15), 1 | state);
		value = (value + Math.imul(value ^ (value >>> 7), 61 | value)) ^ value;
		return ((value ^ (value >>> 14)) >>> 0) / 4_294_967_296;
	};
}

const WORDS = 'the build is green again who broke main lunch at noon merged ship it tests pass on my machine review please deploy done'.split(' ');

/** 64 different chat lines as JSON (about 60–90 bytes each). */
function chatMessages(): string[] {
	const next = random(1);
	return Array.from({length: 64}, (_, index) => {
		const words = Array.from({length: 4 + Math.floor(next() * 6)}, () => WORDS[Math.floor(next() * WORDS.length)]!);
		return JSON.stringify({user: `user${index % 7}`, text: words.join(' ')});
	});
}

/** 64 different dashboard updates as JSON (about 1.6 KB each): 24 sensors whose values change. */
function dashboardMessages(): string[] {
	const next = random(2);
	return Array.from({length: 64}, () =>
		JSON.stringify(Array.from({length: 24}, (_, id) => ({id, name: `sensor-${id}`, value: Math.round(next() * 10_000) / 100, unit: 'celsius', ok: next() > 0.1}))),
	);
}

/** 64 different 32-byte texts. */
function smallMessages(): string[] {
	return Array.from({length: 64}, (_, index) => `message ${String(index).padStart(2, '0')} `.padEnd(32, 'x'));
}

/** One fan-out cell: a fresh server, `subscribers` raw connections, `publishes` publishes of 32 B; every byte checked as received. */
async function fanOut(
	impl: 'websoup' | 'ws' | 'socket',
	peers: Child,
	settings: Settings,
	env: Record<string, string>,
	perTurn: number,
): Promise<{rate: number; cpuPerDelivery: number}> {
	const {child, port} = await startServer(impl, env);
	try {
		await peers.request('open', {port, count: settings.subscribers}, 120_000);
		const {open} = await child.request('waitOpen', {count: settings.subscribers});
		if (open !== settings.subscribers) {
			throw new Error(`${impl}: ${open} of ${settings.subscribers} subscribers connected`);
		}

		const result = await child.request('fanout', {count: settings.publishes, texts: smallMessages(), perTurn}, 300_000);
		// FIN+TEXT, length 32: 34 bytes per message and subscriber, all of them received.
		const expected = settings.subscribers * settings.publishes * 34;
		const {bytes} = await peers.request('waitBytes', {bytes: expected}, 300_000);
		if (bytes !== expected) {
			throw new Error(`${impl}: subscribers received ${bytes} bytes, expected ${expected}`);
		}

		const deliveries = settings.subscribers * settings.publishes;
		return {rate: deliveries / result.seconds, cpuPerDelivery: (result.cpuMs * 1e6) / deliveries};
	} finally {
		await peers.request('closeAll');
		await child.stop();
	}
}

/** websoup to deflate subscribers: the hub's shared uncompressed frame vs a `sendText` loop, for one message. */
async function deflateCells(peers: Child, settings: Settings, env: Record<string, string>, texts: string[]): Promise<Record<'hub' | 'loop', Reply>> {
	const {child, port} = await startServer('websoup', env);
	try {
		await peers.request('open', {port, count: settings.deflateSubscribers, deflate: true}, 120_000);
		await child.request('waitOpen', {count: settings.deflateSubscribers});
		const count = Math.max(5, Math.round(settings.publishes / 2));
		const hub = await child.request('fanout', {count, texts}, 300_000);
		const loop = await child.request('sendEach', {count, texts}, 300_000);
		return {hub, loop};
	} finally {
		await peers.request('closeAll');
		await child.stop();
	}
}

function hasRedisServer(): boolean {
	return spawnSync('redis-server', ['--version'], {stdio: 'ignore'}).status === 0;
}

/** p50 and p99 of publish (in one process) → message at a ws client of another process's hub, through Redis. */
async function redisLatency(peers: Child, settings: Settings, env: Record<string, string>): Promise<{p50: number; p99: number; count: number}> {
	const {RedisServer} = await import('../spec/helpers/redis-server.ts');
	const teardowns: Array<() => unknown> = [];
	const redis = await RedisServer.start({teardown: fn => teardowns.push(fn)});
	const publisher = await startServer('websoup', env);
	const subscriber = await startServer('websoup', env);
	try {
		await peers.request('timer', {port: subscriber.port});
		await subscriber.child.request('waitOpen', {count: 1});
		await subscriber.child.request('redis', {url: redis.url});
		await publisher.child.request('redis', {url: redis.url});
		await publisher.child.request('stamps', {count: settings.stamps, gapMs: 1}, 300_000);
		const stats = (await peers.request('latencies', {count: settings.stamps})) as unknown as {p50: number; p99: number; count: number};
		await publisher.child.request('closeRedis');
		await subscriber.child.request('closeRedis');
		return stats;
	} finally {
		await peers.request('closeAll');
		await publisher.child.stop();
		await subscriber.child.stop();
		for (const teardown of teardowns) {
			await teardown();
		}
	}
}

/**
 * Runs the topics figures. `env` goes to the server processes (BENCH_LIB: the compiled library).
 * Progress goes to stdout.
 */
export async function runTopicsBench(quick: boolean, env: Record<string, string> = {}): Promise<TopicsReport> {
	const settings: Settings = quick
		? {rounds: 1, subscribers: 2000, publishes: 20, deflateSubscribers: 200, stamps: 300}
		: {rounds: 3, subscribers: 10_000, publishes: 50, deflateSubscribers: 1000, stamps: 2000};
	const notes: string[] = [];
	const peers = await Child.start('topics peers', 'topics-peers.ts', {core: PEERS_CORE});
	try {
		// One publish per turn of the event loop (a message in, a message out), and bursts of ten
		// (messages that arrive together, a ticker): the hub's writes of one tick go out together.
		const cells = [1, 10].map(perTurn => ({
			perTurn,
			rates: {websoup: [] as number[], ws: [] as number[], socket: [] as number[]},
			cpu: {websoup: [] as number[], ws: [] as number[], socket: [] as number[]},
		}));
		for (let round = 1; round <= settings.rounds; round++) {
			for (const cell of cells) {
				for (const impl of ['websoup', 'ws', 'socket'] as const) {
					process.stdout.write(`topics round ${round}/${settings.rounds}: fan-out ${impl}, ${cell.perTurn} per turn … `);
					const result = await fanOut(impl, peers, settings, impl === 'websoup' ? env : {}, cell.perTurn);
					cell.rates[impl].push(result.rate);
					cell.cpu[impl].push(result.cpuPerDelivery);
					process.stdout.write('done\n');
				}
			}
		}

		process.stdout.write('topics: deflate subscribers … ');
		const chat = await deflateCells(peers, settings, env, chatMessages());
		const json = await deflateCells(peers, settings, env, dashboardMessages());
		process.stdout.write('done\n');

		let latency: {p50: number; p99: number; count: number} | null = null;
		if (hasRedisServer()) {
			process.stdout.write('topics: latency through Redis … ');
			latency = await redisLatency(peers, settings, env);
			process.stdout.write('done\n');
		} else {
			notes.push('redis-server is not installed (apt-get install redis-server): no cross-process latency');
		}

		const deflateRow = (name: string, cells: Record<'hub' | 'loop', Reply>): string[] => {
			const deliveries = settings.deflateSubscribers * Math.max(5, Math.round(settings.publishes / 2));
			const cpuUs = (reply: Reply): string => number((reply.cpuMs * 1000) / deliveries, 2);
			const bytes = (reply: Reply): string => number(reply.bytes / deliveries, 0);
			return [
				`${name} to ${number(settings.deflateSubscribers)} deflate subscribers`,
				'CPU µs / wire bytes per delivery',
				`${cpuUs(cells.hub)} µs / ${bytes(cells.hub)} B (hub, uncompressed)`,
				`${cpuUs(cells.loop)} µs / ${bytes(cells.loop)} B (sendText loop, compressed)`,
				`${number(cells.loop.cpuMs / cells.hub.cpuMs, 1)}× less CPU, ${number(cells.hub.bytes / cells.loop.bytes, 1)}× the bytes`,
				'–',
				'–',
			];
		};

		const table = [
			['figure', 'unit', 'websoup', 'ws / other', 'websoup ÷ other', 'floor: bare sockets (÷ ws)', 'target'],
			...cells.flatMap(({perTurn, rates, cpu}) => {
				const ratio = median(rates.websoup) / median(rates.ws);
				return [
					[
						`publish 32 B to ${number(settings.subscribers)} local subscribers, ${perTurn} per turn`,
						'deliveries/s',
						range(rates.websoup),
						`${range(rates.ws)} (ws for…send)`,
						`${number(ratio, 2)}×`,
						`${range(rates.socket)} (${number(median(rates.socket) / median(rates.ws), 2)}×)`,
						`≥ ${FAN_OUT_TARGET}× ${ratio >= FAN_OUT_TARGET ? '✓' : '✗'}`,
					],
					[
						'  server CPU per delivery',
						'ns',
						range(cpu.websoup),
						range(cpu.ws),
						`${number(median(cpu.ws) / median(cpu.websoup), 2)}× less`,
						`${range(cpu.socket)} (${number(median(cpu.ws) / median(cpu.socket), 2)}× less)`,
						'–',
					],
				];
			}),
			deflateRow(`chat JSON (~${number(median(chatMessages().map(text => text.length)))} B)`, chat),
			deflateRow(`dashboard JSON (~${number(median(dashboardMessages().map(text => text.length)))} B)`, json),
			latency === null
				? ['cross-process latency through Redis', 'µs', 'not measured', '–', '–', '–', '–']
				: [
						'cross-process latency through Redis',
						'µs p50 / p99',
						`${number(latency.p50)} / ${number(latency.p99)}`,
						`(${number(latency.count)} messages, 1 per ms)`,
						'–',
						'–',
						'–',
					],
		];
		if (!pin) {
			notes.push('topics: not pinned (no taskset or one core): the server and the subscribers shared the cores');
		}

		return {table, notes};
	} finally {
		await peers.stop();
	}
}

/** Aligned columns, for the terminal. */
export function formatTable(table: readonly string[][]): string {
	const widths = table[0]!.map((_, column) => Math.max(...table.map(row => (row[column] ?? '').length)));
	return table.map(row => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ')).join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
	const report = await runTopicsBench(process.argv.includes('--quick'));
	console.log(`\n${formatTable(report.table)}`);
	for (const note of report.notes) {
		console.log(`note: ${note}`);
	}
}
