// Builds bench/loadgen.c with the machine's `cc` (into .bench-tmp/) and runs it: the C load generator
// of the server figures and the C echo server of the client figures. See docs/benchmarks.md.

import {execFileSync, spawn, type ChildProcess} from 'node:child_process';
import {existsSync, mkdirSync, readFileSync, statSync} from 'node:fs';
import {fileURLToPath} from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const source = `${root}bench/loadgen.c`;
const binary = `${root}.bench-tmp/loadgen`;
const ZLIB_HEADER = '/usr/include/zlib.h';

/** The built generator: its path, whether it speaks permessage-deflate, and why not, if it is missing. */
export interface Loadgen {
	path: string | null;
	zlib: boolean;
	note: string | null;
}

function hasCommand(name: string): boolean {
	try {
		execFileSync('sh', ['-c', `command -v ${name}`], {stdio: 'ignore'});
		return true;
	} catch {
		return false;
	}
}

/**
 * Compiles loadgen.c when the binary is missing or older than the source (or than this file, which
 * holds the flags). Without `cc` the bench falls back to the JS generator; without zlib.h, to the
 * JS generator for the permessage-deflate row only.
 */
export function buildLoadgen(): Loadgen {
	if (!hasCommand('cc')) {
		return {path: null, zlib: false, note: 'no `cc` on this machine: the JS load generator (bench/load.ts) measured every figure, and it can be the bottleneck (install build-essential)'};
	}

	const zlib = existsSync(ZLIB_HEADER);
	const stamp = `${binary}.${zlib ? 'zlib' : 'nozlib'}`;
	const newest = Math.max(statSync(source).mtimeMs, statSync(fileURLToPath(import.meta.url)).mtimeMs);
	if (!existsSync(binary) || !existsSync(stamp) || statSync(binary).mtimeMs < newest) {
		mkdirSync(`${root}.bench-tmp`, {recursive: true});
		const flags = ['-O2', '-Wall', '-o', binary, source, ...(zlib ? ['-DHAVE_ZLIB', '-lz'] : [])];
		try {
			execFileSync('cc', flags, {stdio: ['ignore', 'ignore', 'pipe']});
		} catch (error) {
			const stderr = String((error as {stderr?: unknown}).stderr ?? '').trim();
			return {path: null, zlib: false, note: `bench/loadgen.c did not compile (cc ${flags.join(' ')}): ${stderr.split('\n').slice(0, 3).join(' ')}; the JS load generator measured every figure, and it can be the bottleneck`};
		}

		execFileSync('sh', ['-c', `rm -f "${binary}".zlib "${binary}".nozlib && touch "${stamp}"`]);
	}

	return {
		path: binary,
		zlib,
		note: zlib ? null : `no ${ZLIB_HEADER} (zlib1g-dev): the permessage-deflate row was measured with the JS load generator, which counts echoes without inflating them`,
	};
}

/** What one window of the generator reports. */
export interface LoadgenResult {
	count: number;
	bytes: number;
	seconds: number;
	/** The generator's CPU time ÷ wall time over the window: 1 = its core saturated. */
	cpu: number;
	failed: number;
}

function pinned(path: string, args: readonly string[], core: number | undefined): ChildProcess {
	return core === undefined
		? spawn(path, args, {stdio: ['ignore', 'pipe', 'pipe']})
		: spawn('taskset', ['-c', String(core), path, ...args], {stdio: ['ignore', 'pipe', 'pipe']});
}

/** Reads a child's stdout line by line. */
function onLines(child: ChildProcess, fn: (line: string) => void): void {
	let pending = '';
	child.stdout!.setEncoding('utf8');
	child.stdout!.on('data', (chunk: string) => {
		pending += chunk;
		let index: number;
		// Bounded: each turn removes one line.
		while ((index = pending.indexOf('\n')) !== -1) {
			fn(pending.slice(0, index));
			pending = pending.slice(index + 1);
		}
	});
}

/**
 * Runs `loadgen MODE ARGS…` on `core`; `onMark` is called at the window's start and end (so the
 * caller can sample the tested process's CPU). Rejects if the generator exits non-zero (an echo
 * of the wrong length, opcode or order, a refused handshake, a lost connection).
 */
export async function runLoadgen(
	path: string,
	args: readonly string[],
	core: number | undefined,
	onMark: (phase: 'start' | 'end') => void,
	timeoutMs: number,
): Promise<LoadgenResult> {
	const child = pinned(path, args, core);
	let result: LoadgenResult | undefined;
	let stderr = '';
	child.stderr!.setEncoding('utf8');
	child.stderr!.on('data', (chunk: string) => {
		stderr += chunk;
	});
	onLines(child, line => {
		if (line === 'mark start' || line === 'mark end') {
			onMark(line === 'mark start' ? 'start' : 'end');
		} else if (line.startsWith('result ')) {
			result = JSON.parse(line.slice(7)) as LoadgenResult;
		}
	});
	const code = await new Promise<number | null>(resolve => {
		const timer = setTimeout(() => {
			child.kill('SIGKILL');
		}, timeoutMs);
		child.once('close', exitCode => {
			clearTimeout(timer);
			resolve(exitCode);
		});
	});
	if (code !== 0 || result === undefined) {
		throw new Error(`loadgen ${args.join(' ')} failed (exit ${String(code)}): ${stderr.trim()}`);
	}

	return result;
}

/** CPU time of a process in ms, from /proc (NaN where there is none). */
function processCpuMs(pid: number): number {
	try {
		// Fields after the command name: state is field 3; utime and stime are fields 14 and 15.
		const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
		const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
		return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks();
	} catch {
		return Number.NaN;
	}
}

let ticks: number | undefined;
function clockTicks(): number {
	ticks ??= Number(execFileSync('getconf', ['CLK_TCK'], {encoding: 'utf8'}).trim()) || 100;
	return ticks;
}

/** The C echo server of the client figures, running on `core`. */
export interface EchoServer {
	port: number;
	/** Its CPU time so far, in ms. */
	cpuMs(): number;
	stop(): Promise<void>;
}

export async function startEchoServer(path: string, core: number | undefined): Promise<EchoServer> {
	const child = pinned(path, ['serve'], core);
	child.stderr!.pipe(process.stderr);
	const port = await new Promise<number>((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error('loadgen serve did not start')), 10_000);
		onLines(child, line => {
			if (line.startsWith('port ')) {
				clearTimeout(timer);
				resolve(Number(line.slice(5)));
			}
		});
		child.once('exit', code => {
			clearTimeout(timer);
			reject(new Error(`loadgen serve exited with ${String(code)}`));
		});
	});
	const exited = new Promise<void>(resolve => child.once('exit', () => resolve()));
	// `taskset -c N cmd` execs cmd, so the child's PID is the server's.
	const pid = child.pid!;
	return {
		port,
		cpuMs: () => processCpuMs(pid),
		async stop() {
			child.kill('SIGTERM');
			await exited;
		},
	};
}
