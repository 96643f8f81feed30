// Seeded generation of fuzz cases: frame streams a hostile or careless peer might write, then mutated and chunked.

import zlib from 'node:zlib';
import {prng} from '../helpers/random.ts';
import {encodeRawFrame, type RawFrame} from './wire.ts';

export type Role = 'client' | 'server';
export type Ending = 'end' | 'wait' | 'destroy';
export type Chunking =
	| {kind: 'whole'}
	| {kind: 'bytes'}
	| {kind: 'random'; seed: number}
	| {kind: 'split'; at: number};

/** One input for a connection (or, with its bytes only, for the bare decoder). */
export interface FuzzCase {
	seed: number;
	index: number;
	/** The role of the websoup connection under test; the peer is the other one. */
	role: Role;
	deflate: boolean;
	maxIncomingPayloadSize: number;
	maxTotalMessageSize: number;
	/** The connection's max-incoming-fragments (0 = unlimited). */
	maxIncomingFragments: number;
	/** Whether the connection sends every message it receives back. */
	echo: boolean;
	/** What the raw peer does after writing: FIN at once, FIN once the connection answered a Close (or closed), or a reset. */
	ending: Ending;
	/** An in-memory Duplex pair, or two loopback TCP sockets (where the kernel may coalesce chunks and a reset is an RST). */
	transport: 'memory' | 'tcp';
	chunking: Chunking;
	/** The frames as generated; `null` once the bytes were mutated (or minimized byte by byte). */
	frames: RawFrame[] | null;
	/** What each compressed message inflates to, by the hex of its compressed bytes (deflate only). */
	plaintexts: Map<string, Buffer>;
	/** What is written. */
	bytes: Buffer;
	/** A word on what was done to the bytes, for the failure report. */
	mutation: string | null;
}

export type Random = () => number;

export function int(rng: Random, min: number, max: number): number {
	return min + Math.floor(rng() * (max - min + 1));
}

function pick<T>(rng: Random, items: readonly T[]): T {
	return items[Math.floor(rng() * items.length)]!;
}

function weighted<T>(rng: Random, entries: ReadonlyArray<readonly [number, T]>): T {
	const total = entries.reduce((sum, [weight]) => sum + weight, 0);
	let r = rng() * total;
	for (const [weight, value] of entries) {
		r -= weight;
		if (r < 0) {
			return value;
		}
	}

	return entries.at(-1)![1];
}

function randomBytes(rng: Random, length: number): Buffer {
	const bytes = Buffer.alloc(length);
	for (let i = 0; i < length; i++) {
		bytes[i] = Math.floor(rng() * 256);
	}

	return bytes;
}

const characters = ['a', 'z', ' ', '0', '\u0000', 'é', 'ß', '€', '日', '本', '\u{1F600}', '\u{10FFFF}', '\uFFFD'];
const invalidSequences = [
	[0x80],
	[0xbf],
	[0xc0, 0x80], // overlong NUL
	[0xc1, 0xbf],
	[0xe0, 0x80, 0x80], // overlong
	[0xed, 0xa0, 0x80], // surrogate U+D800
	[0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
	[0xf5, 0x80, 0x80, 0x80],
	[0xfe],
	[0xff],
	[0xe2, 0x82], // truncated €, followed by something that is not a continuation
];

function validText(rng: Random, length: number): Buffer {
	const parts: string[] = [];
	let size = 0;
	while (size < length) {
		const c = rng() < 0.7 ? String.fromCharCode(0x20 + Math.floor(rng() * 95)) : pick(rng, characters);
		parts.push(c);
		size += Buffer.byteLength(c);
	}

	return Buffer.from(parts.join(''));
}

function invalidText(rng: Random, length: number): Buffer {
	const text = validText(rng, length);
	if (rng() < 0.15 && text.length > 0) {
		// Ends in the middle of a sequence: only the end of the message tells.
		return Buffer.concat([text, Buffer.from(pick(rng, [[0xe2, 0x82], [0xf0, 0x9f], [0xc3]]))]);
	}

	// Insert the bad bytes at a code-point boundary.
	let at = int(rng, 0, text.length);
	while (at < text.length && (text[at]! & 0xc0) === 0x80) {
		at++;
	}

	return Buffer.concat([text.subarray(0, at), Buffer.from(pick(rng, invalidSequences)), text.subarray(at)]);
}

/** Raw deflate as RFC 7692 §7.2.1 sends it: sync flush, trailer removed; or, sometimes, a final block (§7.2.3.4). */
function compress(rng: Random, data: Buffer): Buffer {
	if (rng() < 0.2) {
		return zlib.deflateRawSync(data, {finishFlush: zlib.constants.Z_FINISH});
	}

	const out = zlib.deflateRawSync(data, {finishFlush: zlib.constants.Z_SYNC_FLUSH, level: pick(rng, [0, 1, 6, 9])});
	return out.subarray(-4).equals(Buffer.from([0, 0, 0xff, 0xff])) ? out.subarray(0, -4) : out;
}

function splitAt(rng: Random, data: Buffer, pieces: number): Buffer[] {
	const cuts = Array.from({length: pieces - 1}, () => int(rng, 0, data.length)).sort((a, b) => a - b);
	const parts: Buffer[] = [];
	let previous = 0;
	for (const cut of [...cuts, data.length]) {
		parts.push(data.subarray(previous, cut));
		previous = cut;
	}

	return parts;
}

/** A size: mostly small, sometimes at or just past a limit, sometimes a few KiB. */
function size(rng: Random, limits: number[]): number {
	return weighted(rng, [
		[6, () => int(rng, 0, 40)],
		[3, () => int(rng, 41, 400)],
		[1, () => int(rng, 126, 70_000)],
		[2, () => {
			const limit = pick(rng, limits.filter(value => value > 0));
			return Math.max(0, limit + int(rng, -1, 1));
		}],
	])();
}

const validCloseCodes = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];
const invalidCloseCodes = [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65_535];

function closePayload(rng: Random): Buffer {
	return weighted(rng, [
		[3, () => Buffer.alloc(0)],
		[1, () => randomBytes(rng, 1)],
		[6, () => {
			const code = Buffer.alloc(2);
			code.writeUInt16BE(rng() < 0.8 ? pick(rng, validCloseCodes) : pick(rng, invalidCloseCodes));
			return Buffer.concat([code, validText(rng, int(rng, 0, 30)).subarray(0, 123)]);
		}],
		[1, () => {
			const code = Buffer.alloc(2);
			code.writeUInt16BE(int(rng, 0, 65_535));
			return code;
		}],
		[1, () => Buffer.concat([Buffer.from([0x03, 0xe8]), invalidText(rng, int(rng, 0, 20))])],
		[1, () => Buffer.concat([Buffer.from([0x03, 0xe8]), validText(rng, int(rng, 121, 126))])],
	])();
}

/** Generates case `index` of `seed`; the same pair always gives the same case. */
export function generateCase(seed: number, index: number): FuzzCase {
	const rng = prng((seed ^ Math.imul(index + 1, 0x9e_37_79_b9)) >>> 0);
	const role: Role = rng() < 0.5 ? 'client' : 'server';
	const deflate = rng() < 0.35;
	const maxIncomingPayloadSize = pick(rng, [125, 1024, 4096, 131_072]);
	const maxTotalMessageSize = deflate ? pick(rng, [2048, 8192, 65_536]) : pick(rng, [0, 2048, 8192, 65_536]);
	const limits = [maxIncomingPayloadSize, maxTotalMessageSize];
	// The peer masks what it sends to a server, and only then.
	const peerMask = (): Buffer | null => (role === 'server' ? randomBytes(rng, 4) : null);
	const frames: RawFrame[] = [];
	const plaintexts = new Map<string, Buffer>();
	const control = (opcode: number, payload: Buffer): RawFrame => ({fin: true, rsv: 0, opcode, maskKey: peerMask(), payload});

	const message = (invalid: boolean): void => {
		const text = rng() < 0.6;
		const length = size(rng, limits);
		let data = text ? (invalid ? invalidText(rng, length) : validText(rng, length)) : randomBytes(rng, length);
		if (!text && invalid) {
			data = randomBytes(rng, length);
		}

		const compressed = deflate && rng() < 0.7;
		const wire = compressed ? compress(rng, data) : data;
		if (compressed) {
			plaintexts.set(wire.toString('hex'), data);
		}

		const pieces = rng() < 0.5 ? 1 : int(rng, 2, 6);
		const parts = splitAt(rng, wire, pieces);
		parts.forEach((part, i) => {
			frames.push({
				fin: i === parts.length - 1,
				rsv: compressed && i === 0 ? 0x40 : 0,
				opcode: i === 0 ? (text ? 1 : 2) : 0,
				maskKey: peerMask(),
				payload: part,
			});
			if (i < parts.length - 1 && rng() < 0.3) {
				// RFC 6455 §5.4: control frames MAY be injected in the middle of a fragmented message.
				frames.push(control(pick(rng, [0x9, 0xa, 0x9, 0x8]), rng() < 0.8 ? randomBytes(rng, int(rng, 0, 20)) : closePayload(rng)));
			}
		});
	};

	// A third of the cases are clean (valid frames, no mutation), so the paths past the first
	// frame (messages, Pings, the close handshake) are exercised as much as the failures.
	const clean = rng() < 0.35;
	const bad = clean ? 0 : 1;
	const items = int(rng, 1, 6);
	for (let i = 0; i < items; i++) {
		weighted(rng, [
			[8, () => message(false)],
			[2 * bad, () => message(true)],
			[3, () => frames.push(control(0x9, randomBytes(rng, rng() < 0.9 ? int(rng, 0, 125) : int(rng, 126, 300))))],
			[1, () => frames.push(control(0xa, randomBytes(rng, int(rng, 0, 125))))],
			[bad, () => frames.push({...control(pick(rng, [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]), randomBytes(rng, int(rng, 0, 10))), fin: rng() < 0.8})],
			[bad, () => frames.push({...control(pick(rng, [1, 2, 0, 9, 8]), randomBytes(rng, int(rng, 0, 10))), rsv: pick(rng, [0x10, 0x20, 0x40, 0x70])})],
			[bad, () => frames.push({...control(pick(rng, [1, 2, 9]), validText(rng, int(rng, 0, 10))), maskKey: role === 'server' ? null : randomBytes(rng, 4)})],
			[bad, () => frames.push({...control(pick(rng, [1, 2, 0, 9]), randomBytes(rng, int(rng, 0, 8))), fin: rng() < 0.5})],
			[bad, () => {
				// Lengths: non-minimal, most significant bit set, past 2^53, past the limit, or more than is sent.
				const declared = pick(rng, [
					BigInt(int(rng, 0, 200)),
					BigInt(maxIncomingPayloadSize + 1),
					0x1_00_00n,
					0x7f_ff_ff_ff_ff_ff_ff_ffn,
					0x80_00_00_00_00_00_00_00n,
					0x20_00_00_00_00_00_00n,
					0xff_ff_ff_ffn,
				]);
				const encoding = pick(rng, ['16', '64', 'declared'] as const);
				frames.push({...control(pick(rng, [1, 2, 9]), randomBytes(rng, int(rng, 0, 30))), lengthEncoding: encoding, declaredLength: declared});
			}],
			[bad, () => frames.push(control(0x8, closePayload(rng)))],
		])();
	}

	if (rng() < 0.75) {
		frames.push(control(0x8, closePayload(rng)));
	}

	let bytes: Buffer = Buffer.concat(frames.map(frame => encodeRawFrame(frame)));
	let mutation: string | null = null;
	if (!clean && rng() < 0.5 && bytes.length > 0) {
		[bytes, mutation] = mutate(rng, bytes);
	}

	let chunking: Chunking = weighted<() => Chunking>(rng, [
		[3, () => ({kind: 'whole'})],
		[bytes.length <= 4096 ? 2 : 0, () => ({kind: 'bytes'})],
		[4, () => ({kind: 'random', seed: Math.floor(rng() * 2 ** 32)})],
		[1, () => ({kind: 'split', at: int(rng, 0, bytes.length)})],
	])();
	const ending = weighted<Ending>(rng, [
		[6, 'end'],
		[3, 'wait'],
		[1, 'destroy'],
	]);
	const echo = rng() < 0.4;
	// Drawn last, so the fields above stay what they were for a given seed and index.
	const transport = rng() < 0.2 ? 'tcp' : 'memory';
	// From a stream of its own: the fragment limit, and now and then a flood of tiny fragments
	// around it (issue 9 item 7), inserted among the frames of an unmutated stream.
	const extra = prng((seed ^ Math.imul(index + 1, 0x85_eb_ca_6b) ^ 0x5f_3c_9a_11) >>> 0);
	const maxIncomingFragments = pick(extra, [0, 4, 16, 4096]);
	if (mutation === null && extra() < 0.1) {
		const limit = maxIncomingFragments === 0 ? 4096 : maxIncomingFragments;
		const count = Math.max(2, limit + int(extra, -1, 1));
		const flood: RawFrame[] = [];
		const key = (): Buffer | null => (role === 'server' ? randomBytes(extra, 4) : null);
		for (let i = 0; i < count; i++) {
			flood.push({fin: i === count - 1, rsv: 0, opcode: i === 0 ? 2 : 0, maskKey: key(), payload: randomBytes(extra, int(extra, 0, 1))});
		}

		frames.splice(int(extra, 0, frames.length - 1), 0, ...flood);
		bytes = encodeFrames(frames);
		if (chunking.kind === 'bytes' && bytes.length > 4096) {
			chunking = {kind: 'random', seed: Math.floor(extra() * 2 ** 32)};
		}
	}

	return {
		seed,
		index,
		role,
		deflate,
		maxIncomingPayloadSize,
		maxTotalMessageSize,
		maxIncomingFragments,
		echo,
		ending,
		transport,
		chunking,
		frames: mutation === null ? frames : null,
		plaintexts,
		bytes,
		mutation,
	};
}

/** Bits flipped, bytes cut, inserted, deleted, repeated or overwritten. */
export function mutate(rng: Random, input: Buffer): [Buffer, string] {
	let bytes = Buffer.from(input);
	const steps: string[] = [];
	const count = int(rng, 1, 3);
	for (let n = 0; n < count && bytes.length > 0; n++) {
		const at = int(rng, 0, bytes.length - 1);
		const kind = pick(rng, ['flip', 'flip', 'flip', 'truncate', 'insert', 'delete', 'repeat', 'set'] as const);
		switch (kind) {
			case 'flip': {
				const bit = int(rng, 0, 7);
				bytes[at] = bytes[at]! ^ (1 << bit);
				steps.push(`flip bit ${bit} of byte ${at}`);
				break;
			}

			case 'truncate': {
				bytes = bytes.subarray(0, at);
				steps.push(`truncate at ${at}`);
				break;
			}

			case 'insert': {
				const extra = randomBytes(rng, int(rng, 1, 8));
				bytes = Buffer.concat([bytes.subarray(0, at), extra, bytes.subarray(at)]);
				steps.push(`insert ${extra.toString('hex')} at ${at}`);
				break;
			}

			case 'delete': {
				const length = int(rng, 1, 8);
				bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + length)]);
				steps.push(`delete ${length} at ${at}`);
				break;
			}

			case 'repeat': {
				const length = int(rng, 1, 16);
				bytes = Buffer.concat([bytes.subarray(0, at + length), bytes.subarray(at, at + length), bytes.subarray(at + length)]);
				steps.push(`repeat ${length} at ${at}`);
				break;
			}

			case 'set': {
				const value = pick(rng, [0x00, 0x7e, 0x7f, 0x80, 0xff, 0x88, 0x81]);
				bytes[at] = value;
				steps.push(`set byte ${at} to ${value.toString(16)}`);
				break;
			}
		}
	}

	return [bytes, steps.join(', ')];
}

/** The chunks `chunking` cuts `bytes` into. */
export function chunksOf(bytes: Buffer, chunking: Chunking): Buffer[] {
	switch (chunking.kind) {
		case 'whole': {
			return bytes.length === 0 ? [] : [bytes];
		}

		case 'bytes': {
			return Array.from({length: bytes.length}, (_, i) => bytes.subarray(i, i + 1));
		}

		case 'split': {
			return [bytes.subarray(0, chunking.at), bytes.subarray(chunking.at)].filter(chunk => chunk.length > 0);
		}

		case 'random': {
			const rng = prng(chunking.seed);
			const chunks: Buffer[] = [];
			let position = 0;
			while (position < bytes.length) {
				const length = rng() < 0.5 ? int(rng, 1, 8) : int(rng, 1, Math.max(1, bytes.length >> 1));
				chunks.push(bytes.subarray(position, position + length));
				position += length;
			}

			return chunks;
		}
	}
}

/** Bytes again from frames (after frames were removed while minimizing). */
export function encodeFrames(frames: RawFrame[]): Buffer {
	return Buffer.concat(frames.map(frame => encodeRawFrame(frame)));
}
