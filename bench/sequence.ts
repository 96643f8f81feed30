// Runs echo figures one after another in one server process, as bench/run.ts does, and can profile
// one phase of it: `node --import tsx bench/sequence.ts websoup|ws small,16k,large[,pstart,large,pstopFILE][,pauseMS]`
// (`pstart` … `pstopFILE`: a CPU profile of what runs between them, written to FILE; `pauseMS`: wait).
// Each echo cell also prints the server's CPU time per MB echoed over the measured window, which a
// busy machine moves much less than the rate. BENCH_SERVER_FLAGS adds Node flags to the server
// (`BENCH_SERVER_FLAGS='--trace-gc' …`: which collections ran in each cell).
// It shows what a figure measured after others in the same process loses against a fresh process
// (docs/performance.md: the 16 KiB and 1 MiB echoes after the 32 B one).

import {readFileSync} from 'node:fs';
import {Child, killAll} from './child.ts';
import {buildLoadgen, runLoadgen} from './loadgen.ts';
import {buildLibrary} from './settings.ts';

const lib = process.argv[2] === 'ws' ? 'ws' : 'websoup';
const steps = (process.argv[3] ?? 'small,16k,large').split(',');
const loads: Record<string, {args: string[]; size: number}> = {
	small: {args: ['--conns', '50', '--depth', '16', '--size', '32'], size: 32},
	small2: {args: ['--conns', '2', '--depth', '16', '--size', '32'], size: 32},
	many: {args: ['--conns', '50', '--depth', '1', '--size', '1024'], size: 1024},
	'16k': {args: ['--conns', '10', '--depth', '8', '--size', '16384'], size: 16_384},
	large: {args: ['--conns', '2', '--depth', '2', '--size', '1048576'], size: 1_048_576},
};

process.on('exit', killAll);
const loadgen = buildLoadgen();
if (loadgen.path === null) {
	throw new Error(String(loadgen.note));
}

const server = await Child.start('server', 'server.ts', {core: 0, args: [lib], env: {BENCH_LIB: buildLibrary()}, nodeOptions: ['--expose-gc', ...(process.env['BENCH_SERVER_FLAGS'] ?? '').split(' ').filter(Boolean)]});

/** The server's CPU time so far, in ms (user + system, from /proc: no request that would itself cost CPU). */
function serverCpuMs(): number {
	const fields = readFileSync(`/proc/${server.process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
	return (Number(fields[11]) + Number(fields[12])) * 10;
}

try {
	const {port} = await server.request('info');
	for (const step of steps) {
		await server.request('waitOpen', {count: 0});
		if (step === 'pstart') {
			await server.request('profileStart');
		} else if (step.startsWith('pstop')) {
			await server.request('profileStop', {path: step.slice(5)});
		} else if (step.startsWith('snap')) {
			await server.request('snapshot', {path: step.slice(4)}, 120_000);
		} else if (step.startsWith('pause')) {
			await new Promise(resolve => setTimeout(resolve, Number(step.slice(5))));
		} else {
			const load = loads[step];
			if (load === undefined) {
				throw new TypeError(`Expected small, small2, many, 16k, large, pstart, pstopFILE or pauseMS, got ${step}`);
			}

			// The measured window starts after the generator's warm-up (500 ms).
			let windowStart = Number.NaN;
			const warmup = setTimeout(() => {
				windowStart = serverCpuMs();
			}, 500);
			const result = await runLoadgen(loadgen.path, ['echo', ...load.args, '--opcode', '2', '--port', String(port), '--warmup', '500', '--duration', '1500'], 1, () => {}, 60_000);
			const windowCpu = serverCpuMs() - windowStart;
			clearTimeout(warmup);
			const mem = await server.request('mem');
			const rate = load.size >= 1024 ? `${((result.count * load.size) / result.seconds / 1e6).toFixed(0)} MB/s` : `${(result.count / result.seconds).toFixed(0)} msg/s`;
			const cpuPerMb = windowCpu / ((result.count * load.size) / 1e6);
			console.log(`${lib} ${step}: ${rate}, server ${cpuPerMb.toFixed(2)} ms CPU/MB, generator CPU ${(result.cpu * 100).toFixed(0)}%, heap after ${(mem.heapUsed / 1e6).toFixed(1)} MB`);
		}
	}
} finally {
	await server.stop();
}
