// npm run fuzz -- [--iterations N] [--seed S] [--from I] [--glue] [--no-minimize] [--soak SECONDS [--soak-window BYTES]] [--load K]:
// the fuzz suite run long, failures minimized; then the soak. --glue opens every connection
// through addWebsocketHandler()/websocketConnect(), the frames in the handshake's first write. --load K keeps K child processes
// spinning meanwhile (a busy machine), ended at exit.

import {spawn, type ChildProcess} from 'node:child_process';
import {parseArgs} from 'node:util';
import {runSoak} from '../soak/soak.ts';
import {encodeFrames, generateCase, type FuzzCase} from './generate.ts';
import {glueCase, glueOpener} from './glue.ts';
import {describeCase, runConnectionCase, runFuzz, withTraps, type Failure} from './harness.ts';

const {values} = parseArgs({
	options: {
		iterations: {type: 'string', default: '2000'},
		seed: {type: 'string'},
		from: {type: 'string', default: '0'},
		soak: {type: 'string'},
		'soak-window': {type: 'string'},
		load: {type: 'string', default: '0'},
		'no-minimize': {type: 'boolean', default: false},
		glue: {type: 'boolean', default: false},
	},
});

const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 32) : Number(values.seed);
const iterations = Number(values.iterations);
const first = Number(values.from);
if (!Number.isSafeInteger(seed) || !Number.isSafeInteger(iterations) || iterations < 0 || !Number.isSafeInteger(first)) {
	throw new TypeError('Expected --seed, --iterations and --from to be whole numbers');
}

/** Whether `c` still fails with a violation of `kind`. */
async function stillFails(c: FuzzCase, kind: string): Promise<boolean> {
	const result = await runConnectionCase(c, values.glue ? {open: glueOpener(c)} : {});
	return result.violations.some(violation => violation.kind === kind);
}

/**
 * Shrinks a failing connection case while it fails the same way: whole frames first (the
 * compressed messages keep their known plaintext), then byte ranges, then the chunking.
 */
async function minimize(original: FuzzCase, kind: string): Promise<FuzzCase> {
	let c: FuzzCase = {...original};
	let budget = 400;
	// The quickest ending first: 'wait' costs a few hundred milliseconds a run when no Close comes.
	for (const ending of ['end', 'destroy'] as const) {
		if (c.ending !== ending && c.ending !== 'end' && (await stillFails({...c, ending}, kind))) {
			c = {...c, ending};
			break;
		}
	}

	if (c.frames !== null) {
		for (let i = c.frames.length - 1; i >= 0 && budget > 0; i--, budget--) {
			const frames = (c.frames ?? []).filter((_, k) => k !== i);
			const candidate = {...c, frames, bytes: encodeFrames(frames)};
			if (await stillFails(candidate, kind)) {
				c = candidate;
			}
		}
	}

	// Shorter payloads, frame by frame (a compressed one would lose its known plaintext).
	for (let i = 0; c.frames !== null && i < c.frames.length && budget > 0; i++) {
		const frame = c.frames[i]!;
		for (let length = frame.payload.length >> 1; length > 0 && frame.rsv === 0 && budget > 0; length >>= 1, budget--) {
			const frames = c.frames.map((f, k) => (k === i ? {...f, payload: f.payload.subarray(0, length)} : f));
			const candidate = {...c, frames, bytes: encodeFrames(frames)};
			if (await stillFails(candidate, kind)) {
				c = candidate;
				break;
			}
		}
	}

	const onBytes = !c.deflate || c.frames === null;
	for (let size = Math.max(1, c.bytes.length >> 1); onBytes && size >= 1 && budget > 0; size >>= 1) {
		for (let at = 0; at + size <= c.bytes.length && budget > 0; budget--) {
			const bytes = Buffer.concat([c.bytes.subarray(0, at), c.bytes.subarray(at + size)]);
			const candidate: FuzzCase = {...c, frames: null, bytes, chunking: c.chunking.kind === 'split' ? {kind: 'whole'} : c.chunking};
			if (await stillFails(candidate, kind)) {
				c = candidate;
			} else {
				at += size;
			}
		}
	}

	for (const chunking of [{kind: 'whole'}, {kind: 'bytes'}] as const) {
		if (c.chunking.kind !== chunking.kind && budget-- > 0 && (await stillFails({...c, chunking}, kind))) {
			c = {...c, chunking};
			break;
		}
	}

	return c;
}

const spinners: ChildProcess[] = [];
for (let i = 0; i < Number(values.load); i++) {
	spinners.push(spawn(process.execPath, ['-e', 'for (;;) {}'], {stdio: 'ignore'}));
}

process.on('exit', () => {
	for (const spinner of spinners) {
		spinner.kill();
	}
});
// So that Ctrl-C ends the spinners too.
process.once('SIGINT', () => process.exit(130));

const started = Date.now();
console.log(`fuzz: seed ${seed}, cases ${first}..${first + iterations - 1}`);
const seen = new Set<string>();
const failures: Failure[] = [];
const stats = await runFuzz(seed, iterations, {
	firstIndex: first,
	glue: values.glue,
	onFailure(failure) {
		failures.push(failure);
		const kinds = failure.violations.map(violation => violation.kind).join(', ');
		console.log(`FAIL [${failure.target}] seed ${failure.seed} case ${failure.index}: ${kinds}`);
	},
});

// One minimized example per kind of failure.
await withTraps(async () => {
	for (const failure of failures) {
		for (const violation of failure.violations) {
			const key = `${failure.target}:${violation.kind}`;
			if (seen.has(key)) {
				continue;
			}

			seen.add(key);
			console.log(`\n=== ${key}\n${violation.detail}\n${failure.description}`);
			if (failure.target === 'connection' && !values['no-minimize']) {
				const generated = generateCase(failure.seed, failure.index);
				const small = await minimize(values.glue ? glueCase(generated) : generated, violation.kind);
				const again = await runConnectionCase(small, values.glue ? {open: glueOpener(small)} : {});
				const detail = again.violations.find(v => v.kind === violation.kind)?.detail ?? '(no longer fails)';
				console.log(`--- minimized\n${detail}\n${describeCase(small)}`);
			}
		}
	}
});

const outcomes = [...stats.outcomes].sort((a, b) => b[1] - a[1]).map(([outcome, count]) => `${outcome}: ${count}`);
console.log(`\n${stats.connectionCases} connection cases, ${stats.decoderCases} decoder runs, ${failures.length} failing, slowest case ${stats.slowest} ms, ${((Date.now() - started) / 1000).toFixed(1)} s`);
console.log(`outcomes: ${outcomes.join('; ')}`);

if (values.soak !== undefined) {
	const seconds = Number(values.soak);
	const window = values['soak-window'] === undefined ? undefined : Number(values['soak-window']);
	const result = await runSoak({seed, milliseconds: seconds * 1000, ...(window === undefined ? {} : {window})});
	console.log(`\nsoak: ${result.summary}`);
	for (const problem of result.problems.slice(0, 50)) {
		console.log(`SOAK FAIL ${problem}`);
	}

	if (result.problems.length > 0) {
		process.exitCode = 1;
	}
}

if (failures.length > 0) {
	process.exitCode = 1;
}
