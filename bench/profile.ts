// Profiles one websoup (or ws) server process under one load: `node --import tsx bench/profile.ts echo-small|echo-large|handshakes|memory [ws|socket] [DIR]`
// (`socket`: upgraded sockets kept with no WebSocket library, the floor of the memory figure).
// The server runs under --cpu-prof (profile written to DIR, default ./profiles); prints the rate.

import {Child, killAll} from './child.ts';
import {buildLibrary} from './settings.ts';

const figure = process.argv[2] ?? 'echo-small';
const lib = process.argv[3] === 'ws' || process.argv[3] === 'socket' ? process.argv[3] : 'websoup';
const dir = process.argv[4] ?? 'profiles';
const window = {warmupMs: 1000, durationMs: 4000};
process.on('exit', killAll);
const generator = await Child.start('generator', 'load.ts', {core: 1});
const server = await Child.start('server', 'server.ts', {core: 0, args: [lib], env: {BENCH_LIB: buildLibrary()}, nodeOptions: ['--expose-gc', '--cpu-prof', `--cpu-prof-dir=${dir}`]});
try {
	const {port} = await server.request('info');
	if (figure === 'echo-small' || figure === 'echo-large') {
		const large = figure === 'echo-large';
		const reply = await generator.request('echo', {port, size: large ? 1024 * 1024 : 32, connections: large ? 4 : 50, depth: large ? 2 : 32, ...window}, 60_000);
		console.log(`${figure} ${lib}: ${large ? `${(reply.bytes / reply.seconds / 1e6).toFixed(0)} MB/s` : `${(reply.count / reply.seconds).toFixed(0)} msg/s`}, generator CPU ${(reply.cpu * 100).toFixed(0)}%`);
	} else if (figure === 'handshakes') {
		const reply = await generator.request('handshakes', {port, concurrency: 16, ...window}, 60_000);
		console.log(`handshakes ${lib}: ${(reply.count / reply.seconds).toFixed(0)}/s, failed ${reply.failed}, generator CPU ${(reply.cpu * 100).toFixed(0)}%`);
	} else {
		const before = await server.request('mem');
		await generator.request('openIdle', {port, count: 5000, concurrency: 100}, 120_000);
		await server.request('waitOpen', {count: 5000});
		const after = await server.request('mem');
		console.log(`memory ${lib}: RSS ${((after.rss - before.rss) / 5000).toFixed(0)} B/conn, heap used ${((after.heapUsed - before.heapUsed) / 5000).toFixed(0)} B/conn, heap committed ${((after.heapTotal - before.heapTotal) / 5000).toFixed(0)} B/conn, external ${((after.external - before.external) / 5000).toFixed(0)} B/conn`);
		await generator.request('closeIdle');
	}
} finally {
	await server.stop();
	await generator.stop();
}
