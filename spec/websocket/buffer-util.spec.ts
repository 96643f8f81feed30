// Tests of buffer-util: word-at-a-time masking against a byte-loop reference, native and TypeScript paths; toBuffer.

import test from 'ava';
import {mask, maskTs, nativeMasking, toBuffer, unmask, unmaskTs} from '../../lib/websocket/buffer-util.ts';
import {prng} from '../helpers/random.ts';


function randomBytes(random: () => number, length: number): Buffer {
	const buffer = Buffer.alloc(length);
	for (let i = 0; i < length; i++) {
		buffer[i] = Math.floor(random() * 256);
	}

	return buffer;
}

/** The obvious definition, RFC 6455 §5.3: `j = i MOD 4; transformed-octet-i = original-octet-i XOR masking-key-octet-j`. */
function referenceMask(source: Uint8Array, key: Uint8Array): Buffer {
	const result = Buffer.alloc(source.length);
	for (let i = 0; i < source.length; i++) {
		result[i] = source[i]! ^ key[i % 4]!;
	}

	return result;
}

/** A view of `length` bytes at `byteOffset` within a fresh ArrayBuffer (so the offset is exact). */
function at(byteOffset: number, content: Buffer): Buffer {
	const buffer = Buffer.from(new ArrayBuffer(byteOffset + content.length + 8), byteOffset, content.length);
	content.copy(buffer);
	return buffer;
}

const lengths = [0, 1, 2, 3, 4, 5, 7, 8, 31, 63, 64, 65, 127, 191, 192, 193, 255, 256, 257, 511, 512, 513, 1023, 1025, 4099];
const maskAuto = mask;
const unmaskAuto = unmask;

// Every masking test runs over both paths: with bufferutil (native, for large payloads) and TypeScript only.
for (const [name, mask, unmask] of [
	['', maskTs, unmaskTs],
	[' [native when large]', maskAuto, unmaskAuto],
] as const) {
	test(`mask matches the byte-loop reference at every alignment and odd lengths${name}`, t => {
		const random = prng(1);
		let checked = 0;
		for (const length of lengths) {
			for (let sourceOffset = 0; sourceOffset < 4; sourceOffset++) {
				for (let outputOffset = 0; outputOffset < 8; outputOffset++) {
					const key = randomBytes(random, 4);
					const content = randomBytes(random, length);
					const source = at(sourceOffset, content);
					const output = at(3, Buffer.alloc(outputOffset + length + 2, 0xee));
					mask(source, key, output, outputOffset, length);
					t.deepEqual(output.subarray(outputOffset, outputOffset + length), referenceMask(content, key));
					// Nothing outside the range is touched, and the source is left alone.
					t.true(output.subarray(0, outputOffset).every(byte => byte === 0xee));
					t.true(output.subarray(outputOffset + length).every(byte => byte === 0xee));
					t.deepEqual(source, content);
					checked++;
				}
			}
		}

		t.is(checked, lengths.length * 32);
	});

	test(`mask into the same alignment and into a different one agree${name}`, t => {
		const random = prng(2);
		const key = Buffer.from('37fa213d', 'hex');
		const content = randomBytes(random, 5000);
		const source = at(1, content);
		const sameAlignment = at(1, Buffer.alloc(5000));
		const otherAlignment = at(2, Buffer.alloc(5000));
		mask(source, key, sameAlignment, 0, 5000);
		mask(source, key, otherAlignment, 0, 5000);
		t.deepEqual(sameAlignment, referenceMask(content, key));
		t.deepEqual(otherAlignment, referenceMask(content, key));
	});

	test(`mask reads only the first \`length\` bytes of a longer source${name}`, t => {
		const key = Buffer.from('01020304', 'hex');
		const output = Buffer.alloc(3);
		mask(Buffer.from('aabbccddee', 'hex'), key, output, 0, 3);
		t.is(output.toString('hex'), 'abb9cf');
	});

	test(`unmask works in place at unaligned offsets and is its own inverse${name}`, t => {
		const random = prng(3);
		for (const length of lengths) {
			for (let offset = 0; offset < 4; offset++) {
				const key = randomBytes(random, 4);
				const content = randomBytes(random, length);
				const buffer = at(offset, content);
				unmask(buffer, key);
				t.deepEqual(buffer, referenceMask(content, key));
				unmask(buffer, key);
				t.deepEqual(buffer, content);
			}
		}
	});

	test(`unmask gives the RFC 6455 §5.7 example${name}`, t => {
		const payload = Buffer.from('7f9f4d5158', 'hex'); // "Hello" masked with 37 fa 21 3d
		unmask(payload, Buffer.from('37fa213d', 'hex'));
		t.is(payload.toString(), 'Hello');
	});
}

test('bufferutil, a devDependency here, is loaded as the native masking helper unless turned off', t => {
	t.is(nativeMasking, (process.env['WEBSOUP_NO_BUFFER_UTIL'] ?? '') === '');
});

test('mask rejects a key that is not 4 bytes and ranges outside the buffers', t => {
	const source = Buffer.alloc(8);
	t.throws(() => {
		mask(source, Buffer.alloc(3), Buffer.alloc(8), 0, 8);
	}, {instanceOf: RangeError, message: /`maskKey`/});
	t.throws(() => {
		mask(source, Buffer.alloc(4), Buffer.alloc(8), 1, 8);
	}, {instanceOf: RangeError});
	t.throws(() => {
		mask(source, Buffer.alloc(4), Buffer.alloc(16), 0, 9);
	}, {instanceOf: RangeError});
});

test('toBuffer: a view over the same bytes for a Buffer, any ArrayBuffer view and an ArrayBuffer; TypeError naming the argument otherwise', t => {
	const buffer = Buffer.from('hello');
	t.is(toBuffer(buffer, 'data'), buffer);
	const backing = new ArrayBuffer(8);
	const view = new Uint16Array(backing, 2, 2);
	const fromView = toBuffer(view, 'data');
	t.is(fromView.buffer, backing);
	t.is(fromView.byteOffset, 2);
	t.is(fromView.length, 4);
	const fromDataView = toBuffer(new DataView(backing, 1, 3), 'data');
	t.is(fromDataView.byteOffset, 1);
	t.is(fromDataView.length, 3);
	const whole = toBuffer(backing, 'data');
	t.is(whole.buffer, backing);
	t.is(whole.length, 8);
	t.throws(() => toBuffer('text', 'payload'), {
		instanceOf: TypeError,
		message: 'Expected `payload` to be a Uint8Array, ArrayBuffer or ArrayBuffer view, got `string`',
	});
});
