// Tests of validation: received and sent close codes, UTF-8 (whole and streaming, fail-fast), tokens.

import {isUtf8} from 'node:buffer';
import test from 'ava';
import {Utf8Validator, isToken, isValidReceivedCloseCode, isValidSentCloseCode, isValidUtf8} from '../../lib/websocket/validation.ts';
import {prng} from '../helpers/random.ts';


test('close codes valid to receive: 1000–1003, 1007–1014, 3000–4999', t => {
	const valid = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];
	const invalid = [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65_535, -1000, 1000.5, 3000.5, Number.NaN];
	for (const code of valid) {
		t.true(isValidReceivedCloseCode(code), String(code));
	}

	for (const code of invalid) {
		t.false(isValidReceivedCloseCode(code), String(code));
	}
});

test('isValidUtf8 follows RFC 3629', t => {
	t.true(isValidUtf8(Buffer.alloc(0)));
	t.true(isValidUtf8(Buffer.from('héllo €𝄞 \u0000 end')));
	t.false(isValidUtf8(Buffer.from('c080', 'hex'))); // overlong NUL
	t.false(isValidUtf8(Buffer.from('eda080', 'hex'))); // surrogate U+D800
	t.false(isValidUtf8(Buffer.from('f4908080', 'hex'))); // U+110000
	t.false(isValidUtf8(Buffer.from('e282', 'hex'))); // truncated "€"
});

/**
 * Whether `prefix` can still become valid UTF-8, decided with `isUtf8` alone: either it is
 * valid, or some 1 to 3 continuation bytes complete it. 80, 90 and A0 between them satisfy
 * every second-byte rule of RFC 3629 (E0: A0–BF, ED: 80–9F, F0: 90–BF, F4: 80–8F).
 */
function isViablePrefix(prefix: Buffer): boolean {
	if (isUtf8(prefix) || prefix.length === 0) {
		return true;
	}

	const candidates = [0x80, 0x90, 0xa0];
	for (const a of candidates) {
		if (isUtf8(Buffer.concat([prefix, Buffer.from([a])]))) {
			return true;
		}

		for (const b of candidates) {
			if (isUtf8(Buffer.concat([prefix, Buffer.from([a, b])]))) {
				return true;
			}

			for (const c of candidates) {
				if (isUtf8(Buffer.concat([prefix, Buffer.from([a, b, c])]))) {
					return true;
				}
			}
		}
	}

	return false;
}

/** Index of the first byte after which the input can no longer be valid, or -1. */
function firstBadIndex(bytes: Buffer): number {
	for (let i = 0; i < bytes.length; i++) {
		if (!isViablePrefix(bytes.subarray(0, i + 1))) {
			return i;
		}
	}

	return -1;
}

/** Splits `bytes` at random points into 1 to 6 chunks (some may be empty). */
function randomSplit(random: () => number, bytes: Buffer): Buffer[] {
	const cuts = Array.from({length: Math.floor(random() * 6)}, () => Math.floor(random() * (bytes.length + 1)));
	cuts.sort((a, b) => a - b);
	const chunks: Buffer[] = [];
	let start = 0;
	for (const cut of cuts) {
		chunks.push(bytes.subarray(start, cut));
		start = cut;
	}

	chunks.push(bytes.subarray(start));
	return chunks;
}

/**
 * Feeds `chunks` to a validator and checks it against the oracle: every push before the chunk
 * holding the first bad byte returns true, that push returns false (fail fast), and `end()`
 * agrees with `isUtf8` on the whole input.
 */
function checkStreaming(bytes: Buffer, chunks: Buffer[]): string | undefined {
	const validator = new Utf8Validator();
	const bad = firstBadIndex(bytes);
	let start = 0;
	for (const [index, chunk] of chunks.entries()) {
		const result = validator.push(chunk);
		if (bad !== -1 && bad < start + chunk.length) {
			// This chunk holds the first bad byte (earlier chunks did not).
			if (result) {
				return `chunk ${index} holds bad byte ${bad} but push() returned true`;
			}

			return validator.end() ? 'end() returned true after a failure' : undefined;
		}

		if (!result) {
			return `chunk ${index} (bytes ${start}–${start + chunk.length}) failed before bad byte ${bad}`;
		}

		start += chunk.length;
	}

	const ended = validator.end();
	return ended === isUtf8(bytes) ? undefined : `end() returned ${ended}, isUtf8 ${isUtf8(bytes)}`;
}

const validSamples = [
	'',
	'Hello',
	'\u0000',
	'\u007f\u0080\u07ff\u0800\ud7ff\ue000\uffff',
	'\u{10000}\u{10ffff}',
	'€ 𝄞 日本語 é',
	'κόσμε',
	'x'.repeat(40) + '😀'.repeat(5),
].map(text => Buffer.from(text));

const invalidSamples = [
	'c080', // overlong U+0000
	'c1bf', // overlong U+007F
	'e08080', // overlong, three bytes
	'e09fbf', // overlong U+07FF
	'f0808080', // overlong, four bytes
	'f08fbfbf', // overlong U+FFFF
	'eda080', // surrogate U+D800
	'edbfbf', // surrogate U+DFFF
	'f4908080', // U+110000
	'f5808080', // lead byte beyond U+10FFFF
	'ff', // never in UTF-8
	'80', // stray continuation
	'e28241', // truncated "€", then "A"
	'f09f98', // truncated emoji at the end
	'e282', // truncated "€" at the end
	'c3', // truncated "é" at the end
	'f09f9880', // valid
].map(hex => Buffer.from(hex, 'hex'));

test('Utf8Validator agrees with isUtf8 and fails fast, over random splits of known sequences', t => {
	const random = prng(10);
	let runs = 0;
	for (const sample of [...validSamples, ...invalidSamples]) {
		for (const [before, after] of [
			['', ''],
			['ab', ''],
			['', 'cd'],
			['aé', '€z'],
		] as const) {
			const bytes = Buffer.concat([Buffer.from(before), sample, Buffer.from(after)]);
			for (let split = 0; split < 40; split++) {
				const problem = checkStreaming(bytes, randomSplit(random, bytes));
				if (problem !== undefined) {
					t.fail(`${bytes.toString('hex')}: ${problem}`);
					return;
				}

				runs++;
			}
		}
	}

	t.is(runs, (validSamples.length + invalidSamples.length) * 4 * 40);
});

test('Utf8Validator agrees with isUtf8 and fails fast, byte by byte', t => {
	for (const sample of [...validSamples, ...invalidSamples]) {
		const bytes = Buffer.concat([Buffer.from('é'), sample, Buffer.from('ok')]);
		const chunks = [...bytes].map(byte => Buffer.from([byte]));
		t.is(checkStreaming(bytes, chunks), undefined, bytes.toString('hex'));
	}
});

test('Utf8Validator agrees with isUtf8 over random text and random bytes', t => {
	const random = prng(11);
	const codePoints = [0x41, 0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfffd, 0xffff, 0x1_00_00, 0x10_ff_ff];
	for (let iteration = 0; iteration < 400; iteration++) {
		const text = Array.from({length: Math.floor(random() * 12)}, () =>
			String.fromCodePoint(codePoints[Math.floor(random() * codePoints.length)]!),
		).join('');
		const bytes = Buffer.from(text);
		if (iteration % 2 === 1 && bytes.length > 0) {
			// Mutate one byte, which makes most texts invalid somewhere in the middle.
			bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
		}

		const problem = checkStreaming(bytes, randomSplit(random, bytes));
		if (problem !== undefined) {
			t.fail(`${bytes.toString('hex')}: ${problem}`);
			return;
		}
	}

	for (let iteration = 0; iteration < 400; iteration++) {
		const bytes = Buffer.from(Array.from({length: 1 + Math.floor(random() * 8)}, () => Math.floor(random() * 256)));
		const problem = checkStreaming(bytes, randomSplit(random, bytes));
		if (problem !== undefined) {
			t.fail(`${bytes.toString('hex')}: ${problem}`);
			return;
		}
	}

	t.pass();
});

test('Utf8Validator fails on the first bad fragment, not at the end of the message', t => {
	const validator = new Utf8Validator();
	t.true(validator.push(Buffer.from('Hello ')));
	t.true(validator.push(Buffer.from('ed', 'hex'))); // could still be U+D000–U+D7FF
	t.false(validator.push(Buffer.from('a080', 'hex'))); // U+D800, a surrogate
	t.false(validator.push(Buffer.from('fine again')));
	t.false(validator.end());
});

test('Utf8Validator rejects an impossible second byte split from its lead', t => {
	for (const [lead, second] of [
		[0xe0, 0x9f],
		[0xed, 0xa0],
		[0xf0, 0x8f],
		[0xf4, 0x90],
		[0xc2, 0x41],
	] as const) {
		const validator = new Utf8Validator();
		t.true(validator.push(Buffer.from([0x61, lead])));
		t.false(validator.push(Buffer.from([second, 0x80, 0x80])), `${lead.toString(16)} ${second.toString(16)}`);
	}
});

test('Utf8Validator: end() is false inside a sequence, and resets for the next message', t => {
	const validator = new Utf8Validator();
	t.true(validator.push(Buffer.from('f09f98', 'hex')));
	t.false(validator.end());
	t.true(validator.push(Buffer.from('ok')));
	t.true(validator.end());
	t.false(validator.push(Buffer.from('ff', 'hex')));
	validator.reset();
	t.true(validator.push(Buffer.from('€')));
	t.true(validator.end());
});

test('Utf8Validator completes a sequence spread over several chunks', t => {
	const validator = new Utf8Validator();
	for (const byte of Buffer.from('😀')) {
		t.true(validator.push(Buffer.from([byte])));
	}

	t.true(validator.push(Buffer.alloc(0)));
	t.true(validator.end());
});

test('isToken accepts RFC 7230 token characters only', t => {
	for (const token of ['chat', 'permessage-deflate', 'v2.chat', "!#$%&'*+-.^_`|~", 'A1']) {
		t.true(isToken(token), token);
	}

	for (const notToken of ['', 'a b', 'a,b', 'a;b', 'a=b', '"a"', 'a/b', 'é', 'a\tb', '(a)', '[a]', '{a}', 'a:b', 'a\u0000']) {
		t.false(isToken(notToken), JSON.stringify(notToken));
	}
});

test('close codes a side may send: the receivable ones, 1010 from a client only, 1011–1014 from a server only, 1005 = empty', t => {
	for (let code = -1; code <= 5001; code++) {
		const client = isValidSentCloseCode(code, 'client');
		const server = isValidSentCloseCode(code, 'server');
		if (code === 1005) {
			t.true(client && server);
		} else if (code === 1010) {
			t.true(client && !server);
		} else if (code >= 1011 && code <= 1014) {
			t.true(!client && server, String(code));
		} else {
			t.is(client, isValidReceivedCloseCode(code), String(code));
			t.is(server, isValidReceivedCloseCode(code), String(code));
		}
	}

	t.false(isValidSentCloseCode(1000.5, 'client'));
	t.false(isValidSentCloseCode(Number.NaN, 'server'));
});
