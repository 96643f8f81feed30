// `npm run bench [-- --quick]`: websoup side by side with ws, uWebSockets.js and a raw Node TCP echo,
// in one run, alternating A B A B.
// The server (or client) under test runs in its own process on one core; the load generator
// (bench/loadgen.c, compiled here with `cc`: epoll, one thread, precomputed masked frames, every echo
// checked) runs on the other core. A cell whose generator used more than 80% of its core is marked
// invalid: it measured the generator.
// Full run: prints the table and writes docs/benchmarks.md and docs/benchmarks.svg.
// --quick (CI, about a minute): shorter windows, two rounds, fewer idle connections, no "no native"
// columns; prints the table, writes files only with --out DIR.

import {execFileSync} from 'node:child_process';
import {mkdirSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {Child, hasTaskset, killAll} from './child.ts';
import {http2Rows, type Http2Results} from './http2.ts';
import {buildLoadgen, runLoadgen, startEchoServer, type EchoServer, type LoadgenResult} from './loadgen.ts';
import {buildLibrary} from './settings.ts';
import {formatTable, runTopicsBench} from './topics.ts';

const quick = process.argv.includes('--quick');
const outIndex = process.argv.indexOf('--out');
const outDir = outIndex === -1 ? (quick ? null : fileURLToPath(new URL('../docs/', import.meta.url))) : (process.argv[outIndex + 1] ?? null);
/** BENCH_PROFILE=DIR: run websoup's processes under `--cpu-prof`, profiles written to DIR. */
const profileDir = process.env['BENCH_PROFILE'];

const settings = quick
	? {rounds: 2, warmupMs: 200, durationMs: 400, idle: 1000, clientWarmupMs: 150, clientDurationMs: 300}
	: {rounds: 3, warmupMs: 500, durationMs: 1500, idle: 5000, clientWarmupMs: 500, clientDurationMs: 1200};

/** Above this share of its core, the generator (or the client figures' echo server) may be what was measured. */
const GENERATOR_LIMIT = 0.8;

const WEBSOUP = 'websoup';
const WEBSOUP_NO_NATIVE = 'websoup (no native)';
const WS = 'ws';
const WS_NO_NATIVE = 'ws (no native)';
const UWS = 'uWebSockets.js';
const TCP = 'Node TCP echo';

interface Impl {
	/** Column name. */
	name: string;
	lib: 'websoup' | 'ws' | 'uws' | 'tcp' | 'socket';
	env: Record<string, string>;
}

/** What a server figure asks of the generator. */
interface ServerLoad {
	mode: 'echo' | 'handshakes';
	size?: number;
	opcode?: number;
	conns?: number;
	depth?: number;
	concurrency?: number;
	deflate?: boolean;
}

interface Figure {
	key: string;
	title: string;
	unit: string;
	/** Whether a smaller value is better (memory, ns per emit). */
	lowerIsBetter: boolean;
	/** Target from BRIEF: websoup ÷ `baseline`, if any. */
	target: {ratio: number; baseline: string} | null;
	kind: 'server' | 'client' | 'memory' | 'emit';
	/** The columns measured. */
	columns: readonly string[];
	load?: ServerLoad;
	client?: {size: number; depth: number};
}

const KIB = 1024;
const MIB = 1024 * 1024;

const uwsLoads = canLoadUws();
const IMPLS: Impl[] = [
	{name: WEBSOUP, lib: 'websoup', env: {}},
	// The pure TypeScript path: bufferutil not used even where it is installed.
	...(quick ? [] : [{name: WEBSOUP_NO_NATIVE, lib: 'websoup' as const, env: {WEBSOUP_NO_BUFFER_UTIL: '1'}}]),
	{name: WS, lib: 'ws', env: {}},
	...(quick ? [] : [{name: WS_NO_NATIVE, lib: 'ws' as const, env: {WS_NO_BUFFER_UTIL: '1', WS_NO_UTF_8_VALIDATE: '1'}}]),
	...(uwsLoads.ok ? [{name: UWS, lib: 'uws' as const, env: {}}] : []),
	{name: TCP, lib: 'tcp', env: {}},
];
const ALL = IMPLS.map(impl => impl.name);
const MAIN = ALL.filter(name => name === WEBSOUP || name === WS || name === UWS);
const NATIVE_PAIRS = ALL.filter(name => name !== UWS && name !== TCP);

const FIGURES: Figure[] = [
	{key: 'echo-32', title: 'server echo 32 B binary, 50 conns × 16 in flight', unit: 'msg/s', lowerIsBetter: false, target: {ratio: 1.0, baseline: UWS}, kind: 'server', columns: ALL, load: {mode: 'echo', size: 32, opcode: 2, conns: 50, depth: 16}},
	{key: 'echo-32-text', title: 'server echo 32 B text, 50 conns × 16', unit: 'msg/s', lowerIsBetter: false, target: null, kind: 'server', columns: MAIN, load: {mode: 'echo', size: 32, opcode: 1, conns: 50, depth: 16}},
	{key: 'echo-16k', title: 'server echo 16 KiB binary, 10 conns × 8', unit: 'MB/s', lowerIsBetter: false, target: {ratio: 1.5, baseline: WS}, kind: 'server', columns: ALL, load: {mode: 'echo', size: 16 * KIB, opcode: 2, conns: 10, depth: 8}},
	{key: 'echo-1m', title: 'server echo 1 MiB binary, 2 conns × 2', unit: 'MB/s', lowerIsBetter: false, target: {ratio: 1.1, baseline: WS}, kind: 'server', columns: ALL, load: {mode: 'echo', size: MIB, opcode: 2, conns: 2, depth: 2}},
	{key: 'handshakes', title: 'handshakes (connect, 101, Close, FIN), 16 at a time', unit: '/s', lowerIsBetter: false, target: {ratio: 1.5, baseline: WS}, kind: 'server', columns: ALL, load: {mode: 'handshakes', concurrency: 16}},
	{key: 'deflate-16k', title: 'server echo 16 KiB text, permessage-deflate both ways, 10 conns × 8', unit: 'MB/s', lowerIsBetter: false, target: {ratio: 1.0, baseline: WS}, kind: 'server', columns: MAIN, load: {mode: 'echo', size: 16 * KIB, opcode: 1, conns: 10, depth: 8, deflate: true}},
	{key: 'memory', title: `memory per idle connection (RSS Δ over ${settings.idle})`, unit: 'bytes', lowerIsBetter: true, target: {ratio: 0.7, baseline: WS}, kind: 'memory', columns: ALL},
	{key: 'client-32-1', title: 'client 32 B, 1 conn × 1 in flight', unit: 'msg/s', lowerIsBetter: false, target: null, kind: 'client', columns: [WEBSOUP, WS], client: {size: 32, depth: 1}},
	{key: 'client-32-16', title: 'client 32 B, 1 conn × 16', unit: 'msg/s', lowerIsBetter: false, target: {ratio: 1.2, baseline: WS}, kind: 'client', columns: NATIVE_PAIRS, client: {size: 32, depth: 16}},
	{key: 'client-32-64', title: 'client 32 B, 1 conn × 64', unit: 'msg/s', lowerIsBetter: false, target: null, kind: 'client', columns: [WEBSOUP, WS], client: {size: 32, depth: 64}},
	{key: 'client-16k', title: 'client 16 KiB binary, 1 conn × 16', unit: 'MB/s', lowerIsBetter: false, target: null, kind: 'client', columns: [WEBSOUP, WS], client: {size: 16 * KIB, depth: 16}},
	{key: 'client-1m', title: 'client 1 MiB binary, 1 conn × 2', unit: 'MB/s', lowerIsBetter: false, target: {ratio: 1.0, baseline: WS}, kind: 'client', columns: NATIVE_PAIRS, client: {size: MIB, depth: 2}},
	{key: 'emit', title: 'signal emit, 1 handler (ws column: eventemitter3)', unit: 'ns', lowerIsBetter: true, target: {ratio: 1.5, baseline: WS}, kind: 'emit', columns: [WEBSOUP, WS]},
];

/** figure → column → samples (one per round); the generator's and the tested process's CPU per sample. */
const samples = new Map<string, Map<string, number[]>>();
const generatorCpu = new Map<string, Map<string, number[]>>();
const testedCpu = new Map<string, Map<string, number[]>>();
/** figure → column → which generator measured it, when it was not the C one. */
const jsGenerated = new Map<string, Set<string>>();
const notes: string[] = [];
const helpersSeen = new Map<string, string>();

function add(map: Map<string, Map<string, number[]>>, figure: string, column: string, value: number): void {
	const byColumn = map.get(figure) ?? new Map<string, number[]>();
	map.set(figure, byColumn);
	const list = byColumn.get(column) ?? [];
	list.push(value);
	byColumn.set(column, list);
}

function sleep(ms: number): Promise<void> {
	return new Promise(resolve => setTimeout(resolve, ms));
}

function median(values: readonly number[]): number {
	const sorted = [...values].sort((a, b) => a - b);
	const middle = Math.floor(sorted.length / 2);
	return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function canLoadUws(): {ok: boolean; reason: string} {
	try {
		execFileSync(process.execPath, ['--input-type=module', '-e', "await import('uws-pack')"], {stdio: 'pipe', timeout: 20_000});
		return {ok: true, reason: ''};
	} catch (error) {
		const stderr = String((error as {stderr?: unknown}).stderr ?? '');
		const reason = /ERR_MODULE_NOT_FOUND|Cannot find package/.test(stderr) ? 'the npm package uws-pack is not installed' : (stderr.trim().split('\n').find(line => /Error/.test(line)) ?? 'it failed to load');
		return {ok: false, reason};
	}
}

const cpus = os.cpus().length;
const pin = hasTaskset() && cpus >= 2;
/** The process under test runs on core 0, the load generator on core 1. */
const TESTED_CORE = pin ? 0 : undefined;
const GENERATOR_CORE = pin ? 1 : undefined;

function nodeOptionsFor(impl: Impl, extra: readonly string[]): string[] {
	const options = [...extra];
	if (profileDir !== undefined && impl.lib === 'websoup') {
		options.push('--cpu-prof', `--cpu-prof-dir=${profileDir}`);
	}

	return options;
}

// --- Driving the load --------------------------------------------------------------------------

const loadgen = buildLoadgen();
if (loadgen.note !== null) {
	notes.push(loadgen.note);
}

/** The JS generator (bench/load.ts): the idle connections of the memory figure, and the fallback. */
let jsGenerator: Child;

async function sampleCpu(tested: Child): Promise<{cpu: number; at: bigint}> {
	return {cpu: (await tested.request('cpu')).cpuMs, at: process.hrtime.bigint()};
}

function cpuBetween(a: {cpu: number; at: bigint}, b: {cpu: number; at: bigint}): number {
	return (b.cpu - a.cpu) / (Number(b.at - a.at) / 1e6);
}

/** One window of `load` against `port`, by the C generator when there is one; the tested process's CPU sampled between the marks. */
async function drive(figure: Figure, column: string, load: ServerLoad, port: number, raw: boolean, tested: Child): Promise<{result: LoadgenResult; cpu: number}> {
	const window = {warmupMs: settings.warmupMs, durationMs: settings.durationMs};
	const timeout = window.warmupMs + window.durationMs + 60_000;
	let start: Promise<{cpu: number; at: bigint}> | undefined;
	let end: Promise<{cpu: number; at: bigint}> | undefined;
	const onMark = (phase: 'start' | 'end'): void => {
		if (phase === 'start') {
			start = sampleCpu(tested);
		} else {
			end = sampleCpu(tested);
		}
	};

	let result: LoadgenResult;
	const useC = loadgen.path !== null && (load.deflate !== true || loadgen.zlib);
	if (useC) {
		const args =
			load.mode === 'handshakes'
				? ['handshakes', '--port', String(port), '--concurrency', String(load.concurrency)]
				: ['echo', '--port', String(port), '--conns', String(load.conns), '--depth', String(load.depth), '--size', String(load.size), '--opcode', String(load.opcode), ...(raw ? ['--raw'] : []), ...(load.deflate === true ? ['--deflate'] : [])];
		result = await runLoadgen(loadgen.path!, [...args, '--warmup', String(window.warmupMs), '--duration', String(window.durationMs)], GENERATOR_CORE, onMark, timeout);
	} else {
		const set = jsGenerated.get(figure.key) ?? new Set<string>();
		set.add(column);
		jsGenerated.set(figure.key, set);
		jsGenerator.onEvent = message => {
			if (message['event'] === 'mark') {
				onMark(message['phase'] === 'start' ? 'start' : 'end');
			}
		};
		try {
			const reply =
				load.mode === 'handshakes'
					? await jsGenerator.request('handshakes', {port, concurrency: load.concurrency, ...window}, timeout)
					: await jsGenerator.request('echo', {port, connections: load.conns, size: load.size, depth: load.depth, opcode: load.opcode, raw, deflate: load.deflate === true, ...window}, timeout);
			result = {count: reply.count, bytes: reply.bytes, seconds: reply.seconds, cpu: reply.cpu, failed: reply.failed ?? 0};
		} finally {
			jsGenerator.onEvent = null;
		}
	}

	const cpu = start !== undefined && end !== undefined ? cpuBetween(...(await Promise.all([start, end]))) : Number.NaN;
	return {result, cpu};
}

function valueOf(figure: Figure, result: LoadgenResult): number {
	if (figure.unit === 'MB/s') {
		return (result.count * figure.load!.size!) / result.seconds / 1e6;
	}

	return result.count / result.seconds;
}

async function startServer(impl: Impl, args: readonly string[], gc: boolean): Promise<Child> {
	return Child.start(`server ${impl.name}`, 'server.ts', {
		core: TESTED_CORE,
		env: impl.env,
		args: [impl.lib, ...args],
		nodeOptions: nodeOptionsFor(impl, gc ? ['--expose-gc'] : []),
	});
}

async function serverRound(impl: Impl): Promise<void> {
	const figures = FIGURES.filter(figure => figure.kind === 'server' && figure.columns.includes(impl.name));
	// The deflate figure gets a fresh process of its own, with ws and uWebSockets.js configured for it.
	// The TCP column's handshakes are the floor on node:http: a bare upgraded socket (server.ts
	// `socket`) that writes the 101 and answers the Close, with no WebSocket library.
	const floor = (figure: Figure): boolean => impl.lib === 'tcp' && figure.load!.mode === 'handshakes';
	const groups = [
		figures.filter(figure => figure.load!.deflate !== true && !floor(figure)),
		figures.filter(figure => figure.load!.deflate === true),
		figures.filter(figure => floor(figure)),
	];
	for (const group of groups) {
		if (group.length === 0) {
			continue;
		}

		const tested = floor(group[0]!) ? {...impl, lib: 'socket' as const} : impl;
		const server = await startServer(tested, group[0]!.load!.deflate === true ? ['deflate'] : [], false);
		try {
			const info = await server.request('info');
			if (impl.lib === 'ws') {
				helpersSeen.set(impl.name, JSON.stringify(info.helpers));
			}

			for (const figure of group) {
				// The previous cell's connections gone first: sockets the server still tears down (with
				// their buffers) cost the next cell up to a third of its throughput.
				await server.request('waitOpen', {count: 0});
				await sleep(100);
				const {result, cpu} = await drive(figure, impl.name, figure.load!, info.port, tested.lib === 'tcp', server);
				add(samples, figure.key, impl.name, valueOf(figure, result));
				add(generatorCpu, figure.key, impl.name, result.cpu);
				add(testedCpu, figure.key, impl.name, cpu);
				if (result.failed > 0) {
					notes.push(`${impl.name}: ${String(result.failed)} handshakes failed in one round`);
				}
			}
		} finally {
			await server.stop();
		}
	}
}

async function memoryRound(impl: Impl): Promise<void> {
	// A fresh process: the heap and RSS left by the throughput runs would hide the delta. The TCP
	// column's floor is a bare upgraded Node socket (server.ts `socket`).
	const server = await startServer(impl.lib === 'tcp' ? {...impl, lib: 'socket' as const} : impl, [], true);
	try {
		const port = (await server.request('info')).port;
		// Warm the paths once with a few connections, so code and first allocations are not counted.
		await jsGenerator.request('openIdle', {port, count: 20, concurrency: 10});
		await server.request('waitOpen', {count: 20});
		await jsGenerator.request('closeIdle');
		await server.request('waitOpen', {count: 0});
		const before = await server.request('mem');
		await jsGenerator.request('openIdle', {port, count: settings.idle, concurrency: 100}, 120_000);
		const open = (await server.request('waitOpen', {count: settings.idle})).open;
		const after = await server.request('mem');
		await jsGenerator.request('closeIdle');
		if (open !== settings.idle) {
			notes.push(`${impl.name}: only ${open} of ${settings.idle} idle connections were open on the server`);
		}

		add(samples, 'memory', impl.name, (after.rss - before.rss) / settings.idle);
		add(samples, 'memory-heap', impl.name, (after.heapUsed - before.heapUsed) / settings.idle);
	} finally {
		await server.stop();
	}
}

/** The client figures' echo server: the C one (bench/loadgen.c `serve`), else the JS reflector. */
interface ClientPeer {
	port: number;
	cpuMs(): Promise<number>;
}

async function clientRound(impl: Impl, peer: ClientPeer): Promise<void> {
	const figures = FIGURES.filter(figure => figure.kind === 'client' && figure.columns.includes(impl.name));
	if (figures.length === 0) {
		return;
	}

	const client = await Child.start(`client ${impl.name}`, 'client.ts', {
		core: TESTED_CORE,
		env: impl.env,
		args: [impl.lib, ...(quick ? ['--quick'] : [])],
		nodeOptions: nodeOptionsFor(impl, []),
	});
	try {
		const window = {warmupMs: settings.clientWarmupMs, durationMs: settings.clientDurationMs};
		const timeout = window.warmupMs + window.durationMs + 30_000;
		for (const figure of figures) {
			const {size, depth} = figure.client!;
			const cpuBefore = await peer.cpuMs();
			const started = process.hrtime.bigint();
			const reply = await client.request('client', {port: peer.port, size, depth, ...window}, timeout);
			const cpuAfter = await peer.cpuMs();
			const wall = Number(process.hrtime.bigint() - started) / 1e6;
			add(samples, figure.key, impl.name, figure.unit === 'MB/s' ? (reply.count * size) / reply.seconds / 1e6 : reply.count / reply.seconds);
			add(testedCpu, figure.key, impl.name, reply.cpu);
			add(generatorCpu, figure.key, impl.name, (cpuAfter - cpuBefore) / wall);
		}
	} finally {
		await client.stop();
	}
}

async function emitRound(): Promise<void> {
	const child = await Child.start('emit', 'client.ts', {core: TESTED_CORE, args: ['websoup', ...(quick ? ['--quick'] : [])]});
	try {
		const reply = await child.request('emit', {}, 120_000);
		add(samples, 'emit', WEBSOUP, reply.gobject);
		add(samples, 'emit', WS, reply.eventemitter3);
	} finally {
		await child.stop();
	}
}

// --- Output ------------------------------------------------------------------------------------

function format(value: number, unit: string): string {
	if (!Number.isFinite(value)) {
		return '–';
	}

	if (unit === 'ns') {
		return value.toFixed(1);
	}

	if (unit === 'MB/s') {
		return value.toFixed(0);
	}

	return Math.round(value).toLocaleString('en-US');
}

function maxOf(values: readonly number[] | undefined): number {
	const finite = (values ?? []).filter(value => Number.isFinite(value));
	return finite.length === 0 ? Number.NaN : Math.max(...finite);
}

/** Whether the generator went above its limit in any round of this cell. */
function invalid(figure: Figure, column: string): boolean {
	return maxOf(generatorCpu.get(figure.key)?.get(column)) > GENERATOR_LIMIT;
}

function cell(figure: Figure, column: string): string {
	const values = samples.get(figure.key)?.get(column);
	if (values === undefined || values.length === 0) {
		return '–';
	}

	let text = `${format(median(values), figure.unit)} (${format(Math.min(...values), figure.unit)}–${format(Math.max(...values), figure.unit)})`;
	const generator = maxOf(generatorCpu.get(figure.key)?.get(column));
	if (Number.isFinite(generator)) {
		text += ` gen ${Math.round(generator * 100)}%`;
	}

	if (jsGenerated.get(figure.key)?.has(column) === true) {
		text += ' [JS gen]';
	}

	if (invalid(figure, column)) {
		text += ' INVALID';
	}

	return text;
}

function ratio(figure: Figure, column: string, baseline: string): number {
	const a = samples.get(figure.key)?.get(column);
	const b = samples.get(figure.key)?.get(baseline);
	return a === undefined || b === undefined || a.length === 0 || b.length === 0 ? Number.NaN : median(a) / median(b);
}

function ratioText(figure: Figure, column: string, baseline: string): string {
	const r = ratio(figure, column, baseline);
	if (!Number.isFinite(r)) {
		return '–';
	}

	return r.toFixed(2) + (invalid(figure, column) || invalid(figure, baseline) ? ' (invalid)' : '');
}

function targetRatio(figure: Figure): number {
	return figure.target === null ? Number.NaN : ratio(figure, WEBSOUP, figure.target.baseline);
}

function meets(figure: Figure): boolean | null {
	const value = targetRatio(figure);
	if (figure.target === null || !Number.isFinite(value)) {
		return null;
	}

	return figure.lowerIsBetter ? value <= figure.target.ratio : value >= figure.target.ratio;
}

function percent(values: readonly number[] | undefined): string {
	const value = maxOf(values);
	return Number.isFinite(value) ? `${Math.round(value * 100)}%` : '–';
}

function rows(): string[][] {
	const header = ['figure', 'unit', ...ALL, 'websoup/ws', ...(uwsLoads.ok ? ['websoup/uWS'] : []), 'target (websoup ÷)', ...(quick ? [] : ['no native: websoup/ws']), 'tested CPU (max)'];
	const body = FIGURES.map(figure => {
		const ok = meets(figure);
		const target =
			figure.target === null
				? '–'
				: `${figure.lowerIsBetter ? '≤' : '≥'} ${figure.target.ratio.toFixed(1)}× ${figure.target.baseline === UWS ? 'uWS' : figure.target.baseline} ${ok === true ? '✓' : ok === false ? '✗' : '(not measured)'}`;
		const tested = [...(testedCpu.get(figure.key)?.values() ?? [])].flat();
		return [
			figure.title,
			figure.unit + (figure.lowerIsBetter ? ' (lower is better)' : ''),
			...ALL.map(column => (figure.columns.includes(column) ? cell(figure, column) : '–')),
			ratioText(figure, WEBSOUP, WS),
			...(uwsLoads.ok ? [figure.columns.includes(UWS) ? ratioText(figure, WEBSOUP, UWS) : '–'] : []),
			target,
			...(quick ? [] : [figure.columns.includes(WS_NO_NATIVE) ? ratioText(figure, WEBSOUP_NO_NATIVE, WS_NO_NATIVE) : '–']),
			figure.kind === 'memory' || figure.kind === 'emit' ? '–' : percent(tested),
		];
	});
	return [header, ...body];
}

function textTable(table: string[][]): string {
	const widths = table[0]!.map((_, column) => Math.max(...table.map(row => [...row[column]!].length)));
	return table.map(row => row.map((value, column) => value.padEnd(widths[column]!)).join(' | ')).join('\n');
}

function markdownTable(table: string[][]): string {
	const [header, ...body] = table;
	return [`| ${header!.join(' | ')} |`, `| ${header!.map(() => '---').join(' | ')} |`, ...body.map(row => `| ${row.join(' | ')} |`)].join('\n');
}

function escapeXml(text: string): string {
	return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** A horizontal bar per figure with a target: websoup ÷ the target's baseline, against the 1.0 line, the target marked. */
function svgChart(machine: string): string {
	const charted = FIGURES.filter(figure => figure.target !== null).map(figure => ({figure, value: targetRatio(figure)}));
	const maxRatio = Math.max(2, ...charted.map(({value}) => (Number.isFinite(value) ? value : 0)), ...charted.map(({figure}) => figure.target!.ratio));
	const scaleMax = Math.ceil(maxRatio * 2) / 2;
	const left = 330;
	const width = 460;
	const rowHeight = 34;
	const top = 50;
	const height = top + charted.length * rowHeight + 60;
	const x = (value: number): number => left + (Math.min(value, scaleMax) / scaleMax) * width;
	const parts: string[] = [
		`<svg xmlns="http://www.w3.org/2000/svg" width="${left + width + 40}" height="${height}" font-family="sans-serif" font-size="12">`,
		`<rect width="100%" height="100%" fill="#fff"/>`,
		`<text x="10" y="20" font-size="15" font-weight="bold">websoup ÷ each target's baseline (same run, medians)</text>`,
		`<text x="10" y="38" fill="#555">${escapeXml(machine)}</text>`,
	];
	for (let tick = 0; tick <= scaleMax + 1e-9; tick += 0.5) {
		parts.push(
			`<line x1="${x(tick)}" y1="${top - 4}" x2="${x(tick)}" y2="${top + charted.length * rowHeight}" stroke="#eee"/>`,
			`<text x="${x(tick)}" y="${top + charted.length * rowHeight + 16}" text-anchor="middle" fill="#555">${tick.toFixed(1)}</text>`,
		);
	}

	charted.forEach(({figure, value}, index) => {
		const y = top + index * rowHeight;
		const ok = meets(figure);
		const color = ok === null ? '#8a8f98' : ok ? '#2e8b57' : '#c0392b';
		const baseline = figure.kind === 'emit' ? 'eventemitter3' : figure.target!.baseline;
		const label = `${figure.key} ÷ ${baseline}${figure.lowerIsBetter ? ' (lower is better)' : ''}`;
		parts.push(`<text x="${left - 8}" y="${y + 20}" text-anchor="end">${escapeXml(label)}</text>`);
		if (Number.isFinite(value)) {
			parts.push(
				`<rect x="${left}" y="${y + 6}" width="${Math.max(1, x(value) - left)}" height="20" fill="${color}"/>`,
				`<text x="${x(value) + 4}" y="${y + 20}">${value.toFixed(2)}</text>`,
			);
		}

		parts.push(
			`<line x1="${x(figure.target!.ratio)}" y1="${y + 2}" x2="${x(figure.target!.ratio)}" y2="${y + 30}" stroke="#000" stroke-width="2" stroke-dasharray="3,2"/>`,
			`<text x="${x(figure.target!.ratio)}" y="${y + 2}" text-anchor="middle" font-size="10">${figure.lowerIsBetter ? '≤' : '≥'}${figure.target!.ratio.toFixed(1)}</text>`,
		);
	});
	parts.push(
		`<line x1="${x(1)}" y1="${top - 8}" x2="${x(1)}" y2="${top + charted.length * rowHeight}" stroke="#000" stroke-width="1.5"/>`,
		`<text x="10" y="${height - 12}" fill="#555">Bar: websoup ÷ baseline. Solid line: 1.0. Dashed: target from BRIEF. Green meets it, red misses, grey not measured.</text>`,
		'</svg>',
	);
	return parts.join('\n') + '\n';
}

// --- Main --------------------------------------------------------------------------------------

process.on('SIGINT', () => {
	killAll();
	process.exit(130);
});
process.on('exit', killAll);

const started = Date.now();
const date = new Date().toISOString().slice(0, 10);
const cpuModel = os.cpus()[0]?.model ?? 'unknown CPU';
const machine = `${cpus} cores (${cpuModel}), Node ${process.version}, ${os.platform()} ${os.release()}, ${date}${pin ? '' : ', not pinned (no taskset or one core)'}`;
let fdLimit = 'unknown';
try {
	fdLimit = execFileSync('bash', ['-c', 'ulimit -n'], {encoding: 'utf8'}).trim();
} catch {
	// Reported as unknown.
}

if (fdLimit !== 'unlimited' && Number(fdLimit) < settings.idle + 1000) {
	notes.push(`ulimit -n is ${fdLimit}: idle connections reduced`);
	settings.idle = Math.max(100, Number(fdLimit) - 1000);
}

if (!uwsLoads.ok) {
	notes.push(`uWebSockets.js not measured: ${uwsLoads.reason}`);
}

// websoup as users run it: compiled by tsc (BENCH_SOURCE=1 measures the .ts source under tsx instead).
const libraryEnv: Record<string, string> = process.env['BENCH_SOURCE'] === '1' ? {} : {BENCH_LIB: buildLibrary()};
for (const impl of IMPLS) {
	Object.assign(impl.env, libraryEnv);
}

console.log(`websoup vs ws — ${quick ? 'quick' : 'full'} run, ${settings.rounds} rounds; ${machine}; generator: ${loadgen.path === null ? 'JS (bench/load.ts)' : `C (${loadgen.zlib ? 'with' : 'without'} zlib)`}`);
const loadBefore = os.loadavg()[0]!;
jsGenerator = await Child.start('generator', 'load.ts', {core: GENERATOR_CORE});
let http2Table: string[][] = [];
let echoServer: EchoServer | undefined;
try {
	let peer: ClientPeer;
	if (loadgen.path === null) {
		const port = (await jsGenerator.request('reflectStart')).port;
		peer = {port, cpuMs: async () => (await jsGenerator.request('cpu')).cpuMs};
	} else {
		const server = await startEchoServer(loadgen.path, GENERATOR_CORE);
		echoServer = server;
		peer = {port: server.port, cpuMs: async () => server.cpuMs()};
	}

	for (let round = 1; round <= settings.rounds; round++) {
		for (const impl of IMPLS) {
			process.stdout.write(`round ${round}/${settings.rounds}: ${impl.name} … `);
			await serverRound(impl);
			if (!quick || impl.lib !== 'tcp') {
				await memoryRound(impl);
			}

			await clientRound(impl, peer);
			process.stdout.write('done\n');
		}

		await emitRound();
	}

	if (loadgen.path === null) {
		await jsGenerator.request('reflectStop');
	}

	// WebSocket over HTTP/2 against HTTP/1.1 (bench/http2.ts), in its own process, same run.
	process.stdout.write('HTTP/2 vs HTTP/1.1 … ');
	const http2Output = execFileSync(
		process.execPath,
		['--import', 'tsx', fileURLToPath(new URL('http2.ts', import.meta.url)), '--json', ...(quick ? ['--quick'] : [])],
		{env: {...process.env, ...libraryEnv}, encoding: 'utf8', timeout: 300_000},
	);
	http2Table = http2Rows(JSON.parse(http2Output.trim().split('\n').pop()!) as Http2Results);
	process.stdout.write('done\n');
} finally {
	await echoServer?.stop();
	await jsGenerator.stop();
	killAll();
}

// Topics (bench/topics.ts): WebsocketHub fan-out vs a ws for…send loop, deflate subscribers, latency through Redis.
const topics = await runTopicsBench(quick, libraryEnv);
notes.push(...topics.notes);

// The bench itself keeps about two processes busy; much more means other work shared the cores.
const loadAfter = os.loadavg()[0]!;
if (Math.max(loadBefore, loadAfter) > cpus + 0.5) {
	notes.push(
		`the machine was busy with other work: 1-minute load average ${loadBefore.toFixed(1)} at the start, ${loadAfter.toFixed(1)} at the end, on ${cpus} cores; figures are unreliable, run again on an idle machine`,
	);
}

const invalidCells = FIGURES.flatMap(figure => figure.columns.filter(column => invalid(figure, column)).map(column => `${figure.key} / ${column}`));
if (invalidCells.length > 0) {
	notes.push(`generator above ${GENERATOR_LIMIT * 100}% of its core (cell INVALID, it may have measured the generator): ${invalidCells.join(', ')}`);
}

const table = rows();
const seconds = ((Date.now() - started) / 1000).toFixed(1);
console.log(`\n${textTable(table)}\n`);
if (http2Table.length > 0) {
	console.log(`${textTable(http2Table)}\n`);
}

console.log(`${formatTable(topics.table)}\n`);
const helpers = [...helpersSeen].map(([name, value]) => `${name}: ${value}`).join('; ');
const heapOf = (column: string): string => format(median(samples.get('memory-heap')?.get(column) ?? [Number.NaN]), 'bytes');
const heapLine = `JS heap per idle connection (median): websoup ${heapOf(WEBSOUP)} B, ws ${heapOf(WS)} B`;
console.log(`ws helpers loaded: ${helpers}`);
console.log(heapLine);
for (const note of notes) {
	console.log(`note: ${note}`);
}

console.log(`finished in ${seconds} s`);

if (outDir !== null) {
	mkdirSync(outDir, {recursive: true});
	const command = quick ? 'npm run bench -- --quick' : 'npm run bench';
	const markdown = [
		'# Benchmarks: websoup, ws, uWebSockets.js and a raw Node TCP echo, side by side',
		'',
		`Generated by \`${command}\` (bench/run.ts) on ${date}: ${machine}. ${settings.rounds} rounds, alternating ${ALL.join(' / ')}; each cell is the median (min–max) over the rounds, then "gen N%", the load generator's CPU (the most of its core it used in any round); ratios are of medians.`,
		'',
		'![websoup ÷ baseline ratios](benchmarks.svg)',
		'',
		markdownTable(table),
		'',
		...(http2Table.length > 0
			? [
					'## WebSocket over HTTP/2 (RFC 8441) and HTTP/1.1',
					'',
					'bench/http2.ts, same run: a websoup client and a websoup server in one process over cleartext loopback (h2c with prior knowledge, and an `http.Server`), one connection echoing 32 B text at depth 16 and 1 MiB binary at depth 1; medians over the rounds. It compares the two transports, not servers.',
					'',
					markdownTable(http2Table),
					'',
				]
			: []),
		'## Topics',
		'',
		'bench/topics.ts: `WebsocketHub.publishText` vs a ws server\'s `for (const c of wss.clients) c.send(text)`, each in a fresh server process, its subscribers raw loopback connections in another that count every byte (a missing byte stops the bench); one publish per turn of the event loop, and bursts of ten per turn. permessage-deflate subscribers: the hub\'s one uncompressed frame vs a `sendText` loop (each connection compresses with its own context), 64 different messages in turn, server CPU and bytes on the wire per delivery. Latency: a timestamp published by a hub in one process, through `RedisBroker` and redis-server on loopback, to a ws client of a hub in another process. See [scaling.md](scaling.md).',
		'',
		markdownTable(topics.table),
		'',
		...(notes.length > 0 ? ['## Notes', '', ...notes.map(note => `- ${note}`), ''] : []),
		'## Columns',
		'',
		`- ${ALL.join(', ')}: the implementation measured, each cell the median (min–max) over the rounds, then "gen N%", the generator's CPU in that cell (the most of its core it used in any round). "INVALID": the generator was above ${GENERATOR_LIMIT * 100}% of its core in some round, so the figure may be the generator's, not the server's. "[JS gen]": measured by the JS generator (no \`cc\`, or no zlib for the deflate row). "–": not measured (the TCP echo has no handshake, text or deflate; the clients are websoup and ws).`,
		'- websoup/ws, websoup/uWS: ratios of the medians; "(invalid)" when either cell is INVALID. For memory and emit, lower is better.',
		'- target: the BRIEF\'s target, as websoup ÷ the baseline named, ✓ met, ✗ missed, "(not measured)" when the baseline did not run (uWebSockets.js not installed).',
		...(quick ? [] : ['- no native: websoup/ws with the optional native helpers off on both sides.']),
		'- tested CPU (max): the process under test\'s CPU over the window, the most over the row; below 100% on a server figure, the server waited on something (the generator, the kernel).',
		'',
		'## How it is measured',
		'',
		`- The server (or client) under test runs in its own process${pin ? ', pinned to core 0 with `taskset`' : ''}; the load generator runs${pin ? ' pinned to core 1' : ' beside it'}. Loopback only.`,
		'- The load generator is bench/loadgen.c, compiled by `npm run bench` with the machine\'s `cc` into .bench-tmp/ (again when the source is newer). One thread, epoll, no library but zlib. Each connection keeps up to the pipeline depth of messages in flight, queuing half the depth at a time from a ring of precomputed masked frames. Each payload starts with an 8-digit hex tag (its index in the ring), and every echo is checked: its opcode, its length and its tag, in order; a mismatch (or a refused handshake, a lost connection) stops the bench with an error. Without `cc` the JS generator (bench/load.ts) runs instead, and a note says so.',
		`- "gen N%": the generator's CPU time (getrusage) over the measured window ÷ wall time; 100% is its core saturated. Above ${GENERATOR_LIMIT * 100}% the cell is marked INVALID (the figure may be the generator's), and a ratio that uses it "(invalid)". For the client figures it is the CPU of the echo server they talk to. "tested CPU" is the process under test's \`process.cpuUsage()\` over the same window, the most over the row.`,
		`- Windows: ${settings.warmupMs} ms warm-up, then ${settings.durationMs} ms measured (client: ${settings.clientWarmupMs} + ${settings.clientDurationMs} ms).`,
		'- The servers run at the settings docs/node.md recommends (the hardened `http.createServer({headersTimeout: 10_000, requestTimeout: 10_000, connectionsCheckingInterval: 1000, maxHeaderSize: 16 KiB})`), with the echo handler a user would write: websoup `addWebsocketHandler` with `(self, type, data) => self.sendMessage(type, data)` and its connections in a Set; ws `socket.send(data, {binary})`; uWebSockets.js `ws.send(message, isBinary)`. The payload limit is raised to 64 MiB on every side (for the 1 MiB echo). websoup accepts permessage-deflate by default; the generator offers it only in the deflate row, where ws runs with `perMessageDeflate: true` and uWebSockets.js with `SHARED_COMPRESSOR`, each in a fresh process.',
		'- permessage-deflate: the generator offers `permessage-deflate` (no parameters) and requires it accepted. Its 16 KiB text frames are compressed once each (zlib, level 6, no context across messages, which every peer accepts), and each echo is inflated with the connection\'s context (the servers keep theirs) and checked after inflation. MB/s counts uncompressed payload.',
		'- uWebSockets.js comes from the npm package uws-pack (a pinned devDependency; its engines field says Node ≥ 22, but its binary for Node 20 loads); a note says so if it does not load. "Node TCP echo" is `net.createServer(socket => socket.pipe(socket))`: the generator sends it the same frames without a handshake and checks that the masked frames come back as sent, so it is the physical limit in Node for the echo figures. In the handshake and memory rows the column is the floor on node:http: the same hardened `http.Server` with an `upgrade` listener and no WebSocket library, which writes the 101, answers the Close with a Close and FIN and checks nothing (server.ts `socket`) — what no library built on node:http can go below.',
		'- What the profiles showed, what changed, and the floors the targets meet: docs/performance.md.',
		'- Client figures: one connection of the client under test against the generator\'s echo server (`loadgen serve`: answers the handshake, echoes every frame unmasked), at pipeline depths 1, 16 and 64 for 32 B.',
		'- Handshakes: connect, upgrade request, 101 (accept checked), a masked Close 1000, the server\'s Close, its FIN, close.',
		`- Memory: a fresh server process; RSS after two \`gc()\`, before and after ${settings.idle} idle connections (opened by the JS generator), ÷ ${settings.idle}. ${heapLine}.`,
		'- Emit: `measureEmit(1)` from bench/emit.ts (GObject `emit` with one handler vs an eventemitter3 `emit`), ns per emit, in its own process; the ws column holds eventemitter3.',
		`- Optional native helpers: ${helpers}. websoup, like ws, masks large payloads with bufferutil when it is installed (a devDependency here) and otherwise in TypeScript; "websoup (no native)" sets WEBSOUP_NO_BUFFER_UTIL, "ws (no native)" sets WS_NO_BUFFER_UTIL and WS_NO_UTF_8_VALIDATE. On Node 20 both validate UTF-8 with \`buffer.isUtf8\`, so utf-8-validate is never loaded.`,
		'',
	].join('\n');
	writeFileSync(join(outDir, 'benchmarks.md'), markdown);
	writeFileSync(join(outDir, 'benchmarks.svg'), svgChart(machine));
	console.log(`wrote ${join(outDir, 'benchmarks.md')} and benchmarks.svg`);
}
