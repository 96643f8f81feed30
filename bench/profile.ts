// Profiles one server process under one load, driven by the C generator (bench/loadgen.c) so the
// profile is of the server, not of a generator that cannot keep up:
//   node --import tsx bench/profile.ts echo-small|echo-text|echo-16k|echo-large|deflate|handshakes|memory|client-32|client-1m [websoup|ws|uws|tcp|socket] [DIR]
// (client-32 / client-1m: the client under test, 16 / 2 in flight, against the C echo server.)
// (`socket`: upgraded sockets kept with no WebSocket library, the floor of the memory figure).
// memory with BENCH_SNAPSHOT=1 also writes a heap snapshot of the server holding its 5,000 idle
// connections to DIR/idle-LIB.heapsnapshot.
// The server runs under --cpu-prof (profile written to DIR, default ./profiles; `none`: no profile) and prints the rate,
// its own CPU share and the generator's. BENCH_SERVER_FLAGS adds Node flags to the server, as in
// bench/sequence.ts (`--perf-basic-prof` for `perf record -p`, `--trace-gc`).

import {Child, killAll} from './child.ts';
import {buildLoadgen, runLoadgen, startEchoServer} from './loadgen.ts';
import {buildLibrary} from './settings.ts';

const figure = process.argv[2] ?? 'echo-small';
const libs = ['websoup', 'ws', 'uws', 'tcp', 'socket'];
const lib = process.argv[3] ?? 'websoup';
if (!libs.includes(lib)) {
	// `profile.ts handshakes none` would otherwise profile websoup into ./profiles: say what is expected.
	throw new TypeError(`Expected the library to be one of ${libs.join(', ')}, got ${lib} (usage: profile.ts FIGURE [LIBRARY] [DIR|none])`);
}
const dir = process.argv[4] ?? 'profiles';
const window = {warmupMs: 1000, durationMs: 4000};
const loads: Record<string, string[]> = {
	'echo-small': ['echo', '--conns', '50', '--depth', '16', '--size', '32', '--opcode', '2'],
	'echo-text': ['echo', '--conns', '50', '--depth', '16', '--size', '32', '--opcode', '1'],
	'echo-16k': ['echo', '--conns', '10', '--depth', '8', '--size', '16384', '--opcode', '2'],
	'echo-large': ['echo', '--conns', '2', '--depth', '2', '--size', '1048576', '--opcode', '2'],
	deflate: ['echo', '--conns', '10', '--depth', '8', '--size', '16384', '--opcode', '1', '--deflate'],
	handshakes: ['handshakes', '--concurrency', '16'],
};

process.on('exit', killAll);
const loadgen = buildLoadgen();
// DIR `none`: no profile, for figures without the profiler's own cost.
const profiling = (lib === 'websoup' || lib === 'ws') && dir !== 'none' ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
if (figure === 'client-32' || figure === 'client-1m') {
	if (loadgen.path === null) {
		throw new Error(String(loadgen.note));
	}

	const peer = await startEchoServer(loadgen.path, 1);
	const client = await Child.start('client', 'client.ts', {core: 0, args: [lib], env: {BENCH_LIB: buildLibrary()}, nodeOptions: profiling});
	try {
		const large = figure === 'client-1m';
		const size = large ? 1024 * 1024 : 32;
		const peerBefore = peer.cpuMs();
		const reply = await client.request('client', {port: peer.port, size, depth: large ? 2 : 16, ...window}, 60_000);
		const peerCpu = (peer.cpuMs() - peerBefore) / 10 / (window.warmupMs + window.durationMs);
		const rate = large ? `${((reply.count * size) / reply.seconds / 1e6).toFixed(0)} MB/s` : `${(reply.count / reply.seconds).toFixed(0)} msg/s`;
		const perOp = ((reply.cpu * reply.seconds * 1e6) / reply.count).toFixed(2);
		console.log(`${figure} ${lib}: ${rate}, client CPU ${(reply.cpu * 100).toFixed(0)}% (${perOp} µs CPU each), echo server CPU ${peerCpu.toFixed(0)}%`);
	} finally {
		await client.stop();
		await peer.stop();
	}

	process.exit(0);
}

const server = await Child.start('server', 'server.ts', {
	core: 0,
	args: [lib, ...(figure === 'deflate' ? ['deflate'] : [])],
	env: {BENCH_LIB: buildLibrary()},
	nodeOptions: ['--expose-gc', ...profiling, ...(process.env['BENCH_SERVER_FLAGS'] ?? '').split(' ').filter(Boolean)],
});
try {
	const {port} = await server.request('info');
	if (figure === 'memory') {
		const generator = await Child.start('generator', 'load.ts', {core: 1});
		try {
			const before = await server.request('mem');
			await generator.request('openIdle', {port, count: 5000, concurrency: 100}, 120_000);
			await server.request('waitOpen', {count: 5000});
			const after = await server.request('mem');
			if (process.env['BENCH_SNAPSHOT'] !== undefined) {
				await server.request('snapshot', {path: `${dir}/idle-${lib}.heapsnapshot`}, 120_000);
			}

			const per = (key: 'rss' | 'heapUsed' | 'heapTotal' | 'external'): string => ((after[key] - before[key]) / 5000).toFixed(0);
			console.log(`memory ${lib}: RSS ${per('rss')} B/conn, heap used ${per('heapUsed')} B/conn, heap committed ${per('heapTotal')} B/conn, external ${per('external')} B/conn`);
			// RSS follows what the heap committed more than what it holds: where it grew, per space.
			const spaces = Object.entries(after.spaces)
				.filter(([name, size]) => size !== before.spaces[name])
				.map(([name, size]) => `${name} ${((size - (before.spaces[name] ?? 0)) / 5000).toFixed(0)}`)
				.join(', ');
			console.log(`  heap committed per space: ${spaces} B/conn; malloc's main arena resident ${((after.mallocRss - before.mallocRss) / 5000).toFixed(0)} B/conn`);
			await generator.request('closeIdle');
		} finally {
			await generator.stop();
		}
	} else {
		const args = loads[figure];
		if (args === undefined || loadgen.path === null) {
			throw new Error(args === undefined ? `unknown figure ${figure}` : String(loadgen.note));
		}

		let cpuStart: Promise<number> | undefined;
		let cpuEnd: Promise<number> | undefined;
		const result = await runLoadgen(
			loadgen.path,
			[...args, ...(lib === 'tcp' ? ['--raw'] : []), '--port', String(port), '--warmup', String(window.warmupMs), '--duration', String(window.durationMs)],
			1,
			phase => {
				const sample = server.request('cpu').then(reply => reply.cpuMs);
				if (phase === 'start') {
					cpuStart = sample;
				} else {
					cpuEnd = sample;
				}
			},
			window.warmupMs + window.durationMs + 60_000,
		);
		const size = Number(args[args.indexOf('--size') + 1] ?? 0);
		const rate = figure === 'handshakes' ? `${(result.count / result.seconds).toFixed(0)}/s` : size >= 1024 ? `${((result.count * size) / result.seconds / 1e6).toFixed(0)} MB/s` : `${(result.count / result.seconds).toFixed(0)} msg/s`;
		const [from, to] = await Promise.all([cpuStart, cpuEnd]);
		const serverCpu = from !== undefined && to !== undefined ? `${((to - from) / 10 / result.seconds).toFixed(0)}%` : '?';
		// CPU time per message (or handshake): what a busy machine changes least.
		const perOp = from !== undefined && to !== undefined ? `${(((to - from) * 1000) / result.count).toFixed(2)} µs CPU each` : '';
		console.log(`${figure} ${lib}: ${rate}, failed ${result.failed}, server CPU ${serverCpu} (${perOp}), generator CPU ${(result.cpu * 100).toFixed(0)}%`);
	}
} finally {
	await server.stop();
}
