// `npm run bench [-- --quick]`: websoup side by side with ws, in one run, alternating A B A B.
// The server (or client) under test runs in its own process on one core; the load generator (raw
// sockets, precomputed masked frames, no library) runs in another process on another core.
// Full run: prints the table and writes docs/benchmarks.md and docs/benchmarks.svg.
// --quick (CI, under a minute): shorter windows, fewer idle connections, ws with its helpers only;
// prints the table, writes files only with --out DIR.

import {execFileSync} from 'node:child_process';
import {mkdirSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {Child, hasTaskset, killAll} from './child.ts';
import {buildLibrary} from './settings.ts';

const quick = process.argv.includes('--quick');
const outIndex = process.argv.indexOf('--out');
const outDir = outIndex === -1 ? (quick ? null : fileURLToPath(new URL('../docs/', import.meta.url))) : (process.argv[outIndex + 1] ?? null);
/** BENCH_PROFILE=DIR: run websoup's processes under `--cpu-prof`, profiles written to DIR. */
const profileDir = process.env['BENCH_PROFILE'];

const settings = quick
	? {rounds: 3, warmupMs: 250, durationMs: 500, idle: 1000, clientWarmupMs: 200, clientDurationMs: 400}
	: {rounds: 5, warmupMs: 1000, durationMs: 3000, idle: 5000, clientWarmupMs: 500, clientDurationMs: 2000};

const SMALL = 32;
const LARGE = 1024 * 1024;
const ECHO_SMALL = {connections: 50, depth: 32};
const ECHO_LARGE = {connections: 4, depth: 2};
const CLIENT_SMALL_DEPTH = 64;
const CLIENT_LARGE_DEPTH = 2;
const HANDSHAKE_CONCURRENCY = 16;

interface Impl {
	/** Column name. */
	name: string;
	lib: 'websoup' | 'ws';
	env: Record<string, string>;
}

const IMPLS: Impl[] = [
	{name: 'websoup', lib: 'websoup', env: {}},
	// The pure TypeScript path: bufferutil not used even where it is installed.
	...(quick ? [] : [{name: 'websoup (no native)', lib: 'websoup' as const, env: {WEBSOUP_NO_BUFFER_UTIL: '1'}}]),
	{name: 'ws', lib: 'ws', env: {}},
	...(quick ? [] : [{name: 'ws (no native)', lib: 'ws' as const, env: {WS_NO_BUFFER_UTIL: '1', WS_NO_UTF_8_VALIDATE: '1'}}]),
];

interface Figure {
	key: string;
	title: string;
	unit: string;
	/** Whether a smaller value is better (memory, ns per emit). */
	lowerIsBetter: boolean;
	/** Target ratio websoup / ws from BRIEF, if any. */
	target: number | null;
	/** Column names: the emit figure compares with eventemitter3. */
	baseline: string;
}

const FIGURES: Figure[] = [
	{key: 'echo-small', title: `server echo ${SMALL} B, ${ECHO_SMALL.connections} conns × ${ECHO_SMALL.depth} in flight`, unit: 'msg/s', lowerIsBetter: false, target: 1.2, baseline: 'ws'},
	{key: 'echo-large', title: `server echo 1 MiB binary, ${ECHO_LARGE.connections} conns × ${ECHO_LARGE.depth}`, unit: 'MB/s', lowerIsBetter: false, target: 1.0, baseline: 'ws'},
	{key: 'client-small', title: `client ${SMALL} B, 1 conn × ${CLIENT_SMALL_DEPTH} in flight`, unit: 'msg/s', lowerIsBetter: false, target: null, baseline: 'ws'},
	{key: 'client-large', title: `client 1 MiB binary, 1 conn × ${CLIENT_LARGE_DEPTH}`, unit: 'MB/s', lowerIsBetter: false, target: null, baseline: 'ws'},
	{key: 'handshakes', title: `handshakes (connect, 101, clean close), ${HANDSHAKE_CONCURRENCY} at a time`, unit: '/s', lowerIsBetter: false, target: 1.0, baseline: 'ws'},
	{key: 'memory', title: `memory per idle connection (RSS Δ over ${settings.idle})`, unit: 'bytes', lowerIsBetter: true, target: 0.8, baseline: 'ws'},
	{key: 'emit', title: 'signal emit, 1 handler (vs eventemitter3)', unit: 'ns', lowerIsBetter: true, target: 1.5, baseline: 'eventemitter3'},
];

/** figure → column → samples (one per round). */
const samples = new Map<string, Map<string, number[]>>();
/** figure → generator CPU (fraction of a core) per sample; and the process under test's. */
const generatorCpu = new Map<string, number[]>();
const testedCpu = new Map<string, number[]>();
const notes: string[] = [];
const helpersSeen = new Map<string, string>();

function add(map: Map<string, number[]>, key: string, value: number): void {
	const list = map.get(key) ?? [];
	list.push(value);
	map.set(key, list);
}

function record(figure: string, column: string, value: number): void {
	const byColumn = samples.get(figure) ?? new Map<string, number[]>();
	samples.set(figure, byColumn);
	add(byColumn, column, value);
}

function median(values: readonly number[]): number {
	const sorted = [...values].sort((a, b) => a - b);
	const middle = Math.floor(sorted.length / 2);
	return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
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

/** Runs a generator command while sampling the CPU time of the process under test between the generator's marks. */
async function underLoad(generator: Child, tested: Child, cmd: string, fields: Record<string, unknown>, timeoutMs: number) {
	let startCpu: Promise<{cpu: number; at: bigint}> | undefined;
	let endCpu: Promise<{cpu: number; at: bigint}> | undefined;
	const sample = async (): Promise<{cpu: number; at: bigint}> => ({cpu: (await tested.request('cpu')).cpuMs, at: process.hrtime.bigint()});
	generator.onEvent = message => {
		if (message['event'] === 'mark') {
			if (message['phase'] === 'start') {
				startCpu = sample();
			} else {
				endCpu = sample();
			}
		}
	};
	try {
		const reply = await generator.request(cmd, fields, timeoutMs);
		let cpu = Number.NaN;
		if (startCpu !== undefined && endCpu !== undefined) {
			const [a, b] = await Promise.all([startCpu, endCpu]);
			cpu = (b.cpu - a.cpu) / (Number(b.at - a.at) / 1e6);
		}

		return {reply, cpu};
	} finally {
		generator.onEvent = null;
	}
}

async function serverRound(impl: Impl, generator: Child): Promise<void> {
	const timeout = settings.warmupMs + settings.durationMs + 60_000;
	const server = await Child.start(`server ${impl.name}`, 'server.ts', {
		core: TESTED_CORE,
		env: impl.env,
		args: [impl.lib],
		nodeOptions: nodeOptionsFor(impl, ['--expose-gc']),
	});
	try {
		const info = await server.request('info');
		const port = info.port;
		if (impl.lib === 'ws') {
			helpersSeen.set(impl.name, JSON.stringify(info.helpers));
		}

		const window = {warmupMs: settings.warmupMs, durationMs: settings.durationMs};
		const small = await underLoad(generator, server, 'echo', {port, size: SMALL, ...ECHO_SMALL, ...window}, timeout);
		record('echo-small', impl.name, (small.reply.count) / (small.reply.seconds));
		add(generatorCpu, 'echo-small', small.reply.cpu);
		add(testedCpu, 'echo-small', small.cpu);

		const large = await underLoad(generator, server, 'echo', {port, size: LARGE, ...ECHO_LARGE, ...window}, timeout);
		record('echo-large', impl.name, (large.reply.bytes) / (large.reply.seconds) / 1e6);
		add(generatorCpu, 'echo-large', large.reply.cpu);
		add(testedCpu, 'echo-large', large.cpu);

		const shakes = await underLoad(generator, server, 'handshakes', {port, concurrency: HANDSHAKE_CONCURRENCY, ...window}, timeout);
		record('handshakes', impl.name, (shakes.reply.count) / (shakes.reply.seconds));
		add(generatorCpu, 'handshakes', shakes.reply.cpu);
		add(testedCpu, 'handshakes', shakes.cpu);
		if ((shakes.reply.failed) > 0) {
			notes.push(`${impl.name}: ${String(shakes.reply.failed)} handshakes failed in one round`);
		}
	} finally {
		await server.stop();
	}
}

async function memoryRound(impl: Impl, generator: Child): Promise<void> {
	// A fresh process: the heap and RSS left by the throughput runs would hide the delta.
	const server = await Child.start(`server ${impl.name}`, 'server.ts', {
		core: TESTED_CORE,
		env: impl.env,
		args: [impl.lib],
		nodeOptions: ['--expose-gc'],
	});
	try {
		const port = (await server.request('info')).port;
		// Warm the paths once with a few connections, so code and first allocations are not counted.
		await generator.request('openIdle', {port, count: 20, concurrency: 10});
		await server.request('waitOpen', {count: 20});
		await generator.request('closeIdle');
		await server.request('waitOpen', {count: 0});
		const before = await server.request('mem');
		await generator.request('openIdle', {port, count: settings.idle, concurrency: 100}, 120_000);
		const open = (await server.request('waitOpen', {count: settings.idle})).open;
		const after = await server.request('mem');
		await generator.request('closeIdle');
		if (open !== settings.idle) {
			notes.push(`${impl.name}: only ${open} of ${settings.idle} idle connections were open on the server`);
		}

		record('memory', impl.name, ((after.rss) - (before.rss)) / settings.idle);
		record('memory-heap', impl.name, ((after.heapUsed) - (before.heapUsed)) / settings.idle);
	} finally {
		await server.stop();
	}
}

async function clientRound(impl: Impl, reflectorPort: number, generator: Child): Promise<void> {
	const client = await Child.start(`client ${impl.name}`, 'client.ts', {
		core: TESTED_CORE,
		env: impl.env,
		args: [impl.lib, ...(quick ? ['--quick'] : [])],
		nodeOptions: nodeOptionsFor(impl, []),
	});
	try {
		const window = {warmupMs: settings.clientWarmupMs, durationMs: settings.clientDurationMs};
		const timeout = window.warmupMs + window.durationMs + 30_000;
		const cpuBefore = (await generator.request('cpu')).cpuMs;
		const small = await client.request('client', {port: reflectorPort, size: SMALL, depth: CLIENT_SMALL_DEPTH, ...window}, timeout);
		record('client-small', impl.name, (small.count) / (small.seconds));
		add(testedCpu, 'client-small', small.cpu);
		const cpuMiddle = (await generator.request('cpu')).cpuMs;
		add(generatorCpu, 'client-small', (cpuMiddle - cpuBefore) / (window.warmupMs + window.durationMs));
		const large = await client.request('client', {port: reflectorPort, size: LARGE, depth: CLIENT_LARGE_DEPTH, ...window}, timeout);
		record('client-large', impl.name, ((large.count) * LARGE) / (large.seconds) / 1e6);
		add(testedCpu, 'client-large', large.cpu);
		const cpuAfter = (await generator.request('cpu')).cpuMs;
		add(generatorCpu, 'client-large', (cpuAfter - cpuMiddle) / (window.warmupMs + window.durationMs));
	} finally {
		await client.stop();
	}
}

async function emitRound(): Promise<void> {
	const child = await Child.start('emit', 'client.ts', {core: TESTED_CORE, args: ['websoup', ...(quick ? ['--quick'] : [])]});
	try {
		const reply = await child.request('emit', {}, 120_000);
		record('emit', 'websoup', reply.gobject);
		record('emit', 'eventemitter3', reply.eventemitter3);
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

function cell(figure: Figure, column: string): string {
	const values = samples.get(figure.key)?.get(column);
	if (values === undefined || values.length === 0) {
		return '–';
	}

	return `${format(median(values), figure.unit)} (${format(Math.min(...values), figure.unit)}–${format(Math.max(...values), figure.unit)})`;
}

function ratio(figure: Figure, column: string, baseline: string): number {
	const a = samples.get(figure.key)?.get(column);
	const b = samples.get(figure.key)?.get(baseline);
	return a === undefined || b === undefined ? Number.NaN : median(a) / median(b);
}

function meets(figure: Figure, value: number): boolean | null {
	if (figure.target === null || !Number.isFinite(value)) {
		return null;
	}

	return figure.lowerIsBetter ? value <= figure.target : value >= figure.target;
}

function percent(values: readonly number[] | undefined): string {
	if (values === undefined || values.length === 0 || values.every(value => Number.isNaN(value))) {
		return '–';
	}

	return `${Math.round(Math.max(...values.filter(value => !Number.isNaN(value))) * 100)}%`;
}

function rows(): string[][] {
	const header = ['figure', 'unit', 'websoup', ...(quick ? [] : ['websoup (no native)']), 'ws', ...(quick ? [] : ['ws (no native)']), 'websoup/ws', 'target', ...(quick ? [] : ['no native: websoup/ws']), 'generator CPU (max)', 'tested CPU (max)'];
	const body = FIGURES.map(figure => {
		const r = ratio(figure, 'websoup', figure.baseline);
		const ok = meets(figure, r);
		const target = figure.target === null ? '–' : `${figure.lowerIsBetter ? '≤' : '≥'} ${figure.target.toFixed(1)} ${ok === true ? '✓' : '✗'}`;
		const isEmit = figure.key === 'emit';
		return [
			figure.title,
			figure.unit + (figure.lowerIsBetter ? ' (lower is better)' : ''),
			cell(figure, 'websoup'),
			...(quick ? [] : [isEmit ? '–' : cell(figure, 'websoup (no native)')]),
			cell(figure, figure.baseline) + (isEmit ? ' [eventemitter3]' : ''),
			...(quick ? [] : [isEmit ? '–' : cell(figure, 'ws (no native)')]),
			Number.isFinite(r) ? r.toFixed(2) : '–',
			target,
			...(quick ? [] : [isEmit ? '–' : ratio(figure, 'websoup (no native)', 'ws (no native)').toFixed(2)]),
			isEmit || figure.key === 'memory' ? '–' : percent(generatorCpu.get(figure.key)),
			isEmit || figure.key === 'memory' ? '–' : percent(testedCpu.get(figure.key)),
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

/** A horizontal bar per figure: the ratio websoup/ws against the 1.0 line, the target marked. */
function svgChart(machine: string): string {
	const charted = FIGURES.map(figure => ({figure, value: ratio(figure, 'websoup', figure.baseline)}));
	const maxRatio = Math.max(2, ...charted.map(({value}) => (Number.isFinite(value) ? value : 0)), ...FIGURES.map(figure => figure.target ?? 0));
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
		`<text x="10" y="20" font-size="15" font-weight="bold">websoup / ws (same run, medians)</text>`,
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
		const ok = meets(figure, value);
		const color = ok === null ? '#8a8f98' : ok ? '#2e8b57' : '#c0392b';
		const label = `${figure.key}${figure.lowerIsBetter ? ' (lower is better)' : ''}`;
		parts.push(`<text x="${left - 8}" y="${y + 20}" text-anchor="end">${escapeXml(label)}</text>`);
		if (Number.isFinite(value)) {
			parts.push(
				`<rect x="${left}" y="${y + 6}" width="${Math.max(1, x(value) - left)}" height="20" fill="${color}"/>`,
				`<text x="${x(value) + 4}" y="${y + 20}">${value.toFixed(2)}</text>`,
			);
		}

		if (figure.target !== null) {
			parts.push(
				`<line x1="${x(figure.target)}" y1="${y + 2}" x2="${x(figure.target)}" y2="${y + 30}" stroke="#000" stroke-width="2" stroke-dasharray="3,2"/>`,
				`<text x="${x(figure.target)}" y="${y + 2}" text-anchor="middle" font-size="10">${figure.lowerIsBetter ? '≤' : '≥'}${figure.target.toFixed(1)}</text>`,
			);
		}
	});
	parts.push(
		`<line x1="${x(1)}" y1="${top - 8}" x2="${x(1)}" y2="${top + charted.length * rowHeight}" stroke="#000" stroke-width="1.5"/>`,
		`<text x="10" y="${height - 12}" fill="#555">Bar: ratio websoup/ws (emit: /eventemitter3). Solid line: 1.0. Dashed: target from BRIEF. Green meets it, red misses, grey has none.</text>`,
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

// websoup as users run it: compiled by tsc (BENCH_SOURCE=1 measures the .ts source under tsx instead).
const libraryEnv: Record<string, string> = process.env['BENCH_SOURCE'] === '1' ? {} : {BENCH_LIB: buildLibrary()};
for (const impl of IMPLS) {
	Object.assign(impl.env, libraryEnv);
}

console.log(`websoup vs ws — ${quick ? 'quick' : 'full'} run, ${settings.rounds} rounds; ${machine}`);
const loadBefore = os.loadavg()[0]!;
const generator = await Child.start('generator', 'load.ts', {core: GENERATOR_CORE});
try {
	const reflectorPort = (await generator.request('reflectStart')).port;
	for (let round = 1; round <= settings.rounds; round++) {
		for (const impl of IMPLS) {
			process.stdout.write(`round ${round}/${settings.rounds}: ${impl.name} … `);
			await serverRound(impl, generator);
			await memoryRound(impl, generator);
			await clientRound(impl, reflectorPort, generator);
			process.stdout.write('done\n');
		}

		await emitRound();
	}

	await generator.request('reflectStop');
} finally {
	await generator.stop();
	killAll();
}

// The bench itself keeps about two processes busy; much more means other work shared the cores.
const loadAfter = os.loadavg()[0]!;
if (Math.max(loadBefore, loadAfter) > cpus + 0.5) {
	notes.push(
		`the machine was busy with other work: 1-minute load average ${loadBefore.toFixed(1)} at the start, ${loadAfter.toFixed(1)} at the end, on ${cpus} cores; figures are unreliable, run again on an idle machine`,
	);
}

const table = rows();
const seconds = ((Date.now() - started) / 1000).toFixed(1);
console.log(`\n${textTable(table)}\n`);
const helpers = [...helpersSeen].map(([name, value]) => `${name}: ${value}`).join('; ');
const heap = FIGURES.find(figure => figure.key === 'memory')!;
const heapLine = `JS heap per idle connection (median): websoup ${format(median(samples.get('memory-heap')?.get('websoup') ?? [Number.NaN]), heap.unit)} B, ws ${format(median(samples.get('memory-heap')?.get('ws') ?? [Number.NaN]), heap.unit)} B`;
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
		'# Benchmarks: websoup and ws, side by side',
		'',
		`Generated by \`${command}\` (bench/run.ts) on ${date}: ${machine}. ${settings.rounds} rounds, alternating ${IMPLS.map(impl => impl.name).join(' / ')}; each cell is the median (min–max) over the rounds, ratios are of medians.`,
		'',
		'![websoup / ws ratios](benchmarks.svg)',
		'',
		markdownTable(table),
		'',
		'## How it is measured',
		'',
		`- The server (or client) under test runs in its own process${pin ? ', pinned to core 0 with `taskset`' : ''}; the load generator in another${pin ? ', pinned to core 1' : ''}. Loopback only.`,
		'- The generator uses no WebSocket library: raw `net` sockets, a hand-made handshake, and masked frames built once and written in batches (half the pipeline depth at a time). It counts the echoed frames by reading headers only.',
		`- "generator CPU" is the generator's own \`process.cpuUsage()\` over the measured window ÷ wall time (100% = its core saturated); "tested CPU" is the same for the process under test.`,
		`- Windows: ${settings.warmupMs} ms warm-up, then ${settings.durationMs} ms measured (client: ${settings.clientWarmupMs} + ${settings.clientDurationMs} ms).`,
		'- Same settings on both sides: no compression (ws `perMessageDeflate: false`, websoup offers no extension), the same payload limit (64 MiB per frame and per message). Echo handlers: `self.sendMessage(type, data)` / `socket.send(data, {binary})`; the websoup server keeps its connections in a Set as ws does.',
		'- Client figures: one connection of the client under test against a fixed raw server (in the generator process) that answers each frame with a precomputed unmasked frame of the same length.',
		'- Handshakes: connect, upgrade request, 101 (accept checked), a masked Close 1000, the server\'s Close and FIN, close.',
		`- Memory: a fresh server process; RSS after two \`gc()\`, before and after ${settings.idle} idle connections, ÷ ${settings.idle}. ${heapLine}.`,
		'- Emit: `measureEmit(1)` from bench/emit.ts (GObject `emit` with one handler vs an eventemitter3 `emit`), ns per emit, in its own process.',
		`- Optional native helpers: ${helpers}. websoup, like ws, masks large payloads with bufferutil when it is installed (a devDependency here) and otherwise in TypeScript; "websoup (no native)" sets WEBSOUP_NO_BUFFER_UTIL, "ws (no native)" sets WS_NO_BUFFER_UTIL and WS_NO_UTF_8_VALIDATE. On Node 20 both validate UTF-8 with \`buffer.isUtf8\`, so utf-8-validate is never loaded.`,
		'',
		...(notes.length > 0 ? ['## Notes', '', ...notes.map(note => `- ${note}`), ''] : []),
	].join('\n');
	writeFileSync(join(outDir, 'benchmarks.md'), markdown);
	writeFileSync(join(outDir, 'benchmarks.svg'), svgChart(machine));
	console.log(`wrote ${join(outDir, 'benchmarks.md')} and benchmarks.svg`);
}
