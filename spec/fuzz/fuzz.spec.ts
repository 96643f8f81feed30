// The quick fuzz run of `npm test`: seeded random and mutated frame streams against a connection and the bare decoder.
//
// FUZZ_SEED and FUZZ_ITERATIONS change the run (`npm run fuzz -- --iterations N --seed S` runs it
// long, with minimization). A failure prints the seed and case index; rerun that case with
// `npm run fuzz -- --seed S --from I --iterations 1`.

import test from 'ava';
import {generateCase, type Chunking, type FuzzCase} from './generate.ts';
import {runConnectionCase, runDecoderCase, runFuzz, withTraps, describeCase, type Failure} from './harness.ts';
import {encodeRawFrame, type RawFrame} from './wire.ts';

const seed = Number(process.env['FUZZ_SEED'] ?? 20_261_201);
const iterations = Number(process.env['FUZZ_ITERATIONS'] ?? 150);
const glueIterations = Number(process.env['FUZZ_GLUE_ITERATIONS'] ?? 60);

function format(failures: Failure[]): string {
	return failures
		.slice(0, 8)
		.map(failure => `[${failure.target}] ${failure.violations.map(v => `${v.kind}: ${v.detail}`).join('\n  ')}\n${failure.description}`)
		.join('\n\n');
}

test.serial(`random and mutated frame streams, seed ${seed}, ${iterations} cases: every case ends in a message, a valid close or an error`, async t => {
	const stats = await runFuzz(seed, iterations);
	t.log(`${stats.connectionCases} connection cases, ${stats.decoderCases} decoder runs, slowest ${stats.slowest} ms`);
	t.log([...stats.outcomes].map(([outcome, count]) => `${outcome}: ${count}`).join('; '));
	t.is(stats.failures.length, 0, `seed ${seed}: ${stats.failures.length} failing cases\n${format(stats.failures)}`);
});

test.serial(`through addWebsocketHandler() and websocketConnect(), the frames in the handshake's first write, seed ${seed}, ${glueIterations} cases`, async t => {
	const stats = await runFuzz(seed, glueIterations, {glue: true, firstIndex: iterations});
	t.log(`${stats.connectionCases} connection cases, slowest ${stats.slowest} ms`);
	t.is(stats.failures.length, 0, `seed ${seed}: ${stats.failures.length} failing cases\n${format(stats.failures)}`);
});

/** A peer's stream exercising most paths at once: fragments with a Ping between, a Pong, a binary message, a Close. */
function sampleStream(role: 'client' | 'server'): Buffer {
	const key = role === 'server' ? Buffer.from([0x37, 0xfa, 0x21, 0x3d]) : null;
	const text = Buffer.from('h\u00e9 lo \u65e5\u672c');
	const frames: RawFrame[] = [
		{fin: false, rsv: 0, opcode: 1, maskKey: key, payload: text.subarray(0, 2)}, // TEXT, no FIN: "h" and the first byte of "é"
		{fin: true, rsv: 0, opcode: 9, maskKey: key, payload: Buffer.from('ping')}, // PING "ping" between fragments
		{fin: true, rsv: 0, opcode: 0, maskKey: key, payload: text.subarray(2)}, // CONTINUATION + FIN: the rest, "… lo 日本"
		{fin: true, rsv: 0, opcode: 0xa, maskKey: key, payload: Buffer.alloc(0)}, // PONG, empty
		{fin: true, rsv: 0, opcode: 2, maskKey: key, payload: Buffer.alloc(130, 7)}, // BINARY, 16-bit length 130
		{fin: true, rsv: 0, opcode: 8, maskKey: key, payload: Buffer.from([0x0f, 0xa0, 0x62, 0x79, 0x65])}, // CLOSE 4000 "bye"
	];
	return Buffer.concat(frames.map(frame => encodeRawFrame(frame)));
}

for (const role of ['client', 'server'] as const) {
	test.serial(`${role}: one valid stream split at every offset gives the same messages, Pong and Close`, async t => {
		const bytes = sampleStream(role);
		const base = generateCase(seed, 0);
		const failures: string[] = [];
		await withTraps(async () => {
			for (let at = 1; at < bytes.length; at++) {
				const c: FuzzCase = {
					...base,
					role,
					deflate: false,
					maxIncomingPayloadSize: 131_072,
					maxTotalMessageSize: 0,
					maxIncomingFragments: 4096,
					echo: at % 2 === 0,
					ending: 'wait',
					transport: 'memory',
					chunking: {kind: 'split', at},
					frames: null,
					plaintexts: new Map(),
					bytes,
					mutation: null,
				};
				const result = await runConnectionCase(c);
				if (result.violations.length > 0 || result.outcome !== 'close 4000') {
					failures.push(`${result.outcome}: ${result.violations.map(v => `${v.kind}: ${v.detail}`).join('; ')}\n${describeCase(c)}`);
				}
			}
		});
		t.deepEqual(failures.slice(0, 5), []);
	});
}

test.serial('the bare decoder reads every single-bit flip of a valid stream as the reference does, in every chunking', t => {
	const failures: string[] = [];
	for (const role of ['client', 'server'] as const) {
		const original = sampleStream(role);
		for (let bit = 0; bit < original.length * 8; bit++) {
			const bytes = Buffer.from(original);
			bytes[bit >> 3] = bytes[bit >> 3]! ^ (1 << (bit & 7));
			// Byte by byte for one bit of each byte (the costly chunking); whole and random splits for all.
			const chunkings: Chunking[] = [{kind: 'whole'}, {kind: 'random', seed: bit}];
			if ((bit & 7) === (bit >> 3) % 8) {
				chunkings.push({kind: 'bytes'});
			}

			for (const chunking of chunkings) {
				const violations = runDecoderCase(bytes, {role, allowedRsv: 0, maxPayloadSize: 128}, chunking);
				if (violations.length > 0) {
					failures.push(`${role}, bit ${bit}, ${chunking.kind}: ${violations.map(v => `${v.kind}: ${v.detail}`).join('; ')} input ${bytes.toString('hex')}`);
				}
			}
		}
	}

	t.deepEqual(failures.slice(0, 5), []);
});
