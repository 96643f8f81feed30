// Tests of frame encoding: header layout and minimal lengths, masking, mask keys, Close payloads.

import test from 'ava';
import {unmask} from '../../lib/websocket/buffer-util.ts';
import {Opcode} from '../../lib/websocket/constants.ts';
import {FrameDecoder} from '../../lib/websocket/frame-decoder.ts';
import {
	COPY_THRESHOLD,
	encodeClosePayload,
	encodeFrame,
	generateMaskKey,
} from '../../lib/websocket/frame.ts';

const hex = (buffers: Buffer[]) => Buffer.concat(buffers).toString('hex');

test('encodes the RFC 6455 §5.7 examples', t => {
	const hello = Buffer.from('Hello');
	t.is(hex(encodeFrame(Opcode.TEXT, hello)), '810548656c6c6f'); // FIN+TEXT, len 5, "Hello"
	t.is(
		hex(encodeFrame(Opcode.TEXT, hello, {maskKey: Buffer.from('37fa213d', 'hex')})),
		'818537fa213d7f9f4d5158', // FIN+TEXT, masked with 37 fa 21 3d, len 5, "Hello"
	);
	t.is(hex(encodeFrame(Opcode.TEXT, Buffer.from('Hel'), {fin: false})), '010348656c'); // TEXT, no FIN, "Hel"
	t.is(hex(encodeFrame(Opcode.CONTINUATION, Buffer.from('lo'))), '80026c6f'); // FIN+CONTINUATION, "lo"
	t.is(hex(encodeFrame(Opcode.PING, hello)), '890548656c6c6f'); // FIN+PING, "Hello"
	t.is(
		hex(encodeFrame(Opcode.PONG, hello, {maskKey: Buffer.from('37fa213d', 'hex')})),
		'8a8537fa213d7f9f4d5158', // FIN+PONG, masked, "Hello"
	);
});

test('uses the minimal length encoding at each boundary', t => {
	const cases = [
		[0, '8200'], // FIN+BINARY, len 0
		[125, '827d'], // 7-bit length 125
		[126, '827e007e'], // 16-bit length 126
		[65_535, '827effff'], // 16-bit length 65535
		[65_536, '827f0000000000010000'], // 64-bit length 65536
	] as const;
	for (const [length, header] of cases) {
		const frame = Buffer.concat(encodeFrame(Opcode.BINARY, Buffer.alloc(length, 0x5a)));
		t.is(frame.subarray(0, header.length / 2).toString('hex'), header, String(length));
		t.is(frame.length, header.length / 2 + length);
		t.true(frame.subarray(header.length / 2).every(byte => byte === 0x5a));
	}
});

test('sets FIN and the reserved bits as asked', t => {
	t.is(hex(encodeFrame(Opcode.TEXT, Buffer.alloc(0), {fin: false, rsv: 0x40})), '4100'); // RSV1+TEXT, no FIN
	t.is(hex(encodeFrame(Opcode.BINARY, Buffer.alloc(0), {rsv: 0x70})), 'f200'); // FIN+RSV1-3+BINARY
});

test('copies small unmasked payloads behind the header, returns large ones as is', t => {
	const small = Buffer.alloc(COPY_THRESHOLD, 1);
	const smallFrame = encodeFrame(Opcode.BINARY, small);
	t.is(smallFrame.length, 1);
	t.is(smallFrame[0]!.length, 4 + COPY_THRESHOLD);

	const large = Buffer.alloc(COPY_THRESHOLD + 1, 2);
	const largeFrame = encodeFrame(Opcode.BINARY, large);
	t.is(largeFrame.length, 2);
	t.is(largeFrame[0]!.toString('hex'), '827e0401'); // FIN+BINARY, 16-bit length 1025
	t.is(largeFrame[1], large); // not copied
});

test('masks into one new buffer and leaves the caller\'s payload alone', t => {
	const key = Buffer.from('a1b2c3d4', 'hex');
	for (const length of [0, 5, 125, 126, 1000, 5000, 65_536]) {
		for (let offset = 0; offset < 4; offset++) {
			// The payload at an unaligned byteOffset inside a larger buffer.
			const backing = Buffer.alloc(length + 8);
			for (let i = 0; i < backing.length; i++) {
				backing[i] = (i * 7) & 0xff;
			}

			const payload = backing.subarray(offset, offset + length);
			const original = Buffer.from(payload);
			const frames = encodeFrame(Opcode.BINARY, payload, {maskKey: key});
			t.is(frames.length, 1);
			const frame = frames[0]!;
			t.deepEqual(payload, original);
			const headerSize = frame.length - length;
			t.is(frame[1]! & 0x80, 0x80); // MASK bit
			t.deepEqual(frame.subarray(headerSize - 4, headerSize), key);
			const body = Buffer.from(frame.subarray(headerSize));
			unmask(body, key);
			t.deepEqual(body, original);
		}
	}
});

test('encodes and decodes a 16 MiB frame', t => {
	const size = 16 * 1024 * 1024;
	const payload = Buffer.alloc(size);
	for (let i = 0; i < size; i += 4096) {
		payload[i] = i >>> 12;
	}

	const frames = encodeFrame(Opcode.BINARY, payload, {maskKey: generateMaskKey()});
	const wire = frames[0]!;
	t.is(wire.subarray(0, 10).toString('hex'), '82ff0000000001000000'); // FIN+BINARY, masked, 64-bit length 2^24
	const received: Buffer[] = [];
	const decoder = new FrameDecoder(
		{
			onFrame(_fin, _rsv, _opcode, data) {
				received.push(data);
			},
			onError(error) {
				t.fail(error.message);
			},
		},
		{role: 'server', maxPayloadSize: size},
	);
	// In 64 KiB chunks, as a socket delivers it.
	for (let offset = 0; offset < wire.length; offset += 65_536) {
		decoder.push(wire.subarray(offset, offset + 65_536));
	}

	t.is(received.length, 1);
	t.true(received[0]!.equals(payload));
});

test('rejects a bad opcode, reserved bits or key', t => {
	const payload = Buffer.alloc(1);
	t.throws(() => encodeFrame(16, payload), {instanceOf: RangeError, message: /`opcode`/});
	t.throws(() => encodeFrame(-1, payload), {instanceOf: RangeError});
	t.throws(() => encodeFrame(Opcode.TEXT, payload, {rsv: 0x80}), {instanceOf: RangeError, message: /`rsv`/});
	t.throws(() => encodeFrame(Opcode.TEXT, payload, {maskKey: Buffer.alloc(5)}), {
		instanceOf: RangeError,
		message: /`maskKey`/,
	});
});

test('generateMaskKey returns 4 random bytes that stay stable', t => {
	const first = generateMaskKey();
	const firstCopy = Buffer.from(first);
	t.is(first.length, 4);
	const seen = new Set<string>();
	// More keys than one pool holds, so the pool is replaced at least once.
	for (let i = 0; i < 5000; i++) {
		seen.add(generateMaskKey().toString('hex'));
	}

	t.deepEqual(first, firstCopy);
	// 5000 draws from 2^32: a collision or two is possible, a stuck generator is not.
	t.true(seen.size > 4990);
});

test('encodeClosePayload builds code and reason', t => {
	t.is(encodeClosePayload(null).length, 0);
	t.is(encodeClosePayload(1000).toString('hex'), '03e8');
	t.is(encodeClosePayload(1001, 'bye').toString('hex'), '03e9627965');
	t.is(encodeClosePayload(4000, Buffer.from([0xc3, 0xa9])).toString('hex'), '0fa0c3a9');
	t.is(encodeClosePayload(1000, 'é'.repeat(61) + 'x').length, 125); // 123 bytes of reason
});

test('encodeClosePayload rejects a long reason, a bad code, a reason without a code', t => {
	t.throws(() => encodeClosePayload(1000, 'x'.repeat(124)), {instanceOf: RangeError, message: /`reason`/});
	t.throws(() => encodeClosePayload(1000, 'é'.repeat(62)), {instanceOf: RangeError});
	t.throws(() => encodeClosePayload(65_536), {instanceOf: RangeError, message: /`code`/});
	t.throws(() => encodeClosePayload(1000.5), {instanceOf: RangeError});
	t.throws(() => encodeClosePayload(null, 'why'), {instanceOf: RangeError});
});
