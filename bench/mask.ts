// Micro-benchmark: word-at-a-time mask() against a plain byte loop; run with `npx tsx bench/mask.ts`.

import {mask} from '../lib/websocket/buffer-util.ts';

function byteLoopMask(source: Buffer, key: Buffer, output: Buffer, offset: number, length: number): void {
	for (let i = 0; i < length; i++) {
		output[offset + i] = source[i]! ^ key[i & 3]!;
	}
}

type MaskFunction = typeof mask;

/** Runs `fn` for about `ms` milliseconds (after a warm-up) and returns MB/s and ns per call. */
function measure(fn: MaskFunction, source: Buffer, output: Buffer, offset: number, ms: number) {
	const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
	for (let i = 0; i < 2000; i++) {
		fn(source, key, output, offset, source.length);
	}

	let calls = 0;
	const start = process.hrtime.bigint();
	const deadline = start + BigInt(ms) * 1_000_000n;
	let now = start;
	while (now < deadline) {
		for (let i = 0; i < 100; i++) {
			fn(source, key, output, offset, source.length);
		}

		calls += 100;
		now = process.hrtime.bigint();
	}

	const seconds = Number(now - start) / 1e9;
	return {mbPerSecond: (calls * source.length) / seconds / 1e6, nsPerCall: (seconds * 1e9) / calls};
}

const sizes = (process.env['BENCH_SIZES'] ?? '32,64,256,1024,1048576').split(',').map(Number);
const ms = Number(process.env['BENCH_MS'] ?? 400);
console.log('size      case        byte loop            mask()               speed-up');
for (const size of sizes) {
	for (const aligned of [true, false]) {
		// Aligned: source and output both on 4-byte boundaries; unaligned: source off by one.
		const source = Buffer.alloc(size + 1, 0xab).subarray(aligned ? 0 : 1, (aligned ? 0 : 1) + size);
		const output = Buffer.alloc(size + 8);
		const naive = measure(byteLoopMask, source, output, 0, ms);
		const fast = measure(mask, source, output, 0, ms);
		const format = (r: {mbPerSecond: number; nsPerCall: number}) =>
			`${r.mbPerSecond.toFixed(0).padStart(6)} MB/s ${r.nsPerCall.toFixed(1).padStart(9)} ns`;
		console.log(
			`${String(size).padEnd(9)} ${(aligned ? 'aligned' : 'unaligned').padEnd(11)} ${format(naive)}  ${format(fast)}  ${(
				fast.mbPerSecond / naive.mbPerSecond
			).toFixed(2)}×`,
		);
	}
}
