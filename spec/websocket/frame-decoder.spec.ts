// Tests of FrameDecoder: chunking, zero copy, every error reason, fail-fast limits, fuzzing.

import test from 'ava';
import {CloseCode, Opcode} from '../../lib/websocket/constants.ts';
import {WebsocketError, type WebsocketErrorDetail, type WebsocketErrorReason} from '../../lib/websocket/errors.ts';
import {FrameDecoder, type FrameDecoderOptions} from '../../lib/websocket/frame-decoder.ts';
import {MAX_HEADER_SIZE, encodeFrame} from '../../lib/websocket/frame.ts';
import {prng} from '../helpers/random.ts';

interface Frame {
	fin: boolean;
	rsv: number;
	opcode: number;
	payload: Buffer;
}

/** A decoder that records what it reports; payloads are copied so later pushes cannot alter them. */
function record(options: FrameDecoderOptions) {
	const frames: Frame[] = [];
	const errors: WebsocketError[] = [];
	const decoder = new FrameDecoder(
		{
			onFrame(fin, rsv, opcode, payload) {
				frames.push({fin, rsv, opcode, payload: Buffer.from(payload)});
			},
			onError(error) {
				errors.push(error);
			},
		},
		options,
	);
	return {decoder, frames, errors};
}


const hello = Buffer.from('810548656c6c6f', 'hex'); // FIN+TEXT, len 5, "Hello"
const maskedHello = Buffer.from('818537fa213d7f9f4d5158', 'hex'); // FIN+TEXT, masked (37 fa 21 3d), len 5, "Hello"

test('client: decodes an unmasked frame', t => {
	const {decoder, frames, errors} = record({role: 'client'});
	decoder.push(hello);
	t.deepEqual(errors, []);
	t.deepEqual(frames, [{fin: true, rsv: 0, opcode: Opcode.TEXT, payload: Buffer.from('Hello')}]);
	t.is(decoder.bufferedBytes, 0);
	t.is(decoder.end(), null);
});

test('server: decodes and unmasks a masked frame', t => {
	const {decoder, frames, errors} = record({role: 'server'});
	decoder.push(Buffer.from(maskedHello));
	t.deepEqual(errors, []);
	t.deepEqual(frames, [{fin: true, rsv: 0, opcode: Opcode.TEXT, payload: Buffer.from('Hello')}]);
});

test('a frame within one chunk is delivered as a view into it (zero copy)', t => {
	const chunk = Buffer.concat([Buffer.from(maskedHello), Buffer.from(maskedHello)]);
	const views: Buffer[] = [];
	const decoder = new FrameDecoder(
		{
			onFrame(_fin, _rsv, _opcode, payload) {
				views.push(payload);
			},
			onError(error) {
				t.fail(error.message);
			},
		},
		{role: 'server'},
	);
	decoder.push(chunk);
	t.is(views.length, 2);
	for (const [index, view] of views.entries()) {
		t.is(view.buffer, chunk.buffer);
		t.is(view.byteOffset, chunk.byteOffset + index * maskedHello.length + 6);
		t.is(view.toString(), 'Hello'); // unmasked in place
	}
});

test('decodes byte by byte', t => {
	const {decoder, frames, errors} = record({role: 'server'});
	const wire = Buffer.concat([
		maskedHello,
		...encodeFrame(Opcode.BINARY, Buffer.alloc(300, 9), {maskKey: Buffer.from('01020304', 'hex')}),
		Buffer.from('8980', 'hex'), // FIN+PING, masked, len 0: the 4 key bytes still follow
		Buffer.from('00000000', 'hex'), // masking key
	]);
	for (const byte of wire) {
		decoder.push(Buffer.from([byte]));
		t.true(decoder.bufferedBytes <= MAX_HEADER_SIZE + 300);
	}

	t.deepEqual(errors, []);
	t.is(frames.length, 3);
	t.is(frames[0]!.payload.toString(), 'Hello');
	t.deepEqual(frames[1]!.payload, Buffer.alloc(300, 9));
	t.deepEqual(frames[2], {fin: true, rsv: 0, opcode: Opcode.PING, payload: Buffer.alloc(0)});
	t.is(decoder.end(), null);
});

test('decodes many frames in one chunk, empty ones included', t => {
	const {decoder, frames, errors} = record({role: 'client'});
	const parts: Buffer[] = [];
	for (let i = 0; i < 100; i++) {
		parts.push(...encodeFrame(Opcode.BINARY, Buffer.alloc(i % 7, i)));
	}

	decoder.push(Buffer.concat(parts));
	t.deepEqual(errors, []);
	t.is(frames.length, 100);
	for (const [i, frame] of frames.entries()) {
		t.deepEqual(frame.payload, Buffer.alloc(i % 7, i));
	}
});

test('decodes lengths 0, 125, 126, 65535 and 65536 whatever the chunking', t => {
	const random = prng(5);
	for (const length of [0, 125, 126, 65_535, 65_536]) {
		const payload = Buffer.alloc(length);
		for (let i = 0; i < length; i++) {
			payload[i] = (i * 31) & 0xff;
		}

		for (const role of ['client', 'server'] as const) {
			const maskKey = role === 'server' ? Buffer.from('deadbeef', 'hex') : null;
			const encoded = Buffer.concat(encodeFrame(Opcode.BINARY, payload, {maskKey}));
			for (let round = 0; round < 4; round++) {
				// A fresh copy each round: the decoder unmasks in place.
				const wire = Buffer.from(encoded);
				const {decoder, frames, errors} = record({role});
				let offset = 0;
				while (offset < wire.length) {
					const size = round === 0 ? wire.length : 1 + Math.floor(random() * (round === 1 ? 3 : 20_000));
					decoder.push(wire.subarray(offset, offset + size));
					offset += size;
				}

				t.deepEqual(errors, []);
				t.is(frames.length, 1);
				t.true(frames[0]!.payload.equals(payload), `${role} ${length} round ${round}`);
			}
		}
	}
});

test('a payload spanning chunks is copied into one buffer of exactly its size', t => {
	const payloads: Buffer[] = [];
	const decoder = new FrameDecoder(
		{
			onFrame(_fin, _rsv, _opcode, payload) {
				payloads.push(payload);
			},
			onError(error) {
				t.fail(error.message);
			},
		},
		{role: 'client'},
	);
	const wire = Buffer.concat(encodeFrame(Opcode.BINARY, Buffer.alloc(5000, 7)));
	decoder.push(wire.subarray(0, 1000));
	t.is(decoder.bufferedBytes, 996);
	decoder.push(wire.subarray(1000));
	t.is(payloads.length, 1);
	t.is(payloads[0]!.length, 5000);
	t.not(payloads[0]!.buffer, wire.buffer);
	t.true(payloads[0]!.every(byte => byte === 7));
});

test('a header at the very end of a chunk still allows a zero-copy payload', t => {
	const chunks = [Buffer.from('827e00c8', 'hex'), Buffer.alloc(200, 3)]; // FIN+BINARY, len 200 | payload
	const views: Buffer[] = [];
	const decoder = new FrameDecoder(
		{
			onFrame(_fin, _rsv, _opcode, payload) {
				views.push(payload);
			},
			onError(error) {
				t.fail(error.message);
			},
		},
		{role: 'client'},
	);
	decoder.push(chunks[0]!);
	decoder.push(chunks[1]!);
	t.is(views.length, 1);
	t.is(views[0]!.buffer, chunks[1]!.buffer);
});

test('control frames between fragments are delivered in order', t => {
	const {decoder, frames, errors} = record({role: 'client'});
	decoder.push(Buffer.from('010348656c', 'hex')); // TEXT, no FIN, "Hel"
	decoder.push(Buffer.from('8900', 'hex')); // FIN+PING, len 0
	decoder.push(Buffer.from('000120', 'hex')); // CONTINUATION, no FIN, " "
	decoder.push(Buffer.from('8a0170', 'hex')); // FIN+PONG, "p"
	decoder.push(Buffer.from('80026c6f', 'hex')); // FIN+CONTINUATION, "lo"
	decoder.push(hello); // a new message may start now
	t.deepEqual(errors, []);
	t.deepEqual(
		frames.map(frame => [frame.fin, frame.opcode, frame.payload.toString()]),
		[
			[false, Opcode.TEXT, 'Hel'],
			[true, Opcode.PING, ''],
			[false, Opcode.CONTINUATION, ' '],
			[true, Opcode.PONG, 'p'],
			[true, Opcode.CONTINUATION, 'lo'],
			[true, Opcode.TEXT, 'Hello'],
		],
	);
});

interface ErrorCase {
	title: string;
	role: 'client' | 'server';
	/** Bytes pushed before the bad one, if the check needs earlier frames. */
	before?: string;
	/** The bad frame, or its first bytes: the error is due once all of them are pushed. */
	bad: string;
	reason: WebsocketErrorReason;
	detail: WebsocketErrorDetail;
	code: number;
	options?: Partial<FrameDecoderOptions>;
}

const errorCases: ErrorCase[] = [
	{
		title: 'client receives a masked frame',
		role: 'client',
		bad: '8185', // FIN+TEXT, masked, len 5
		reason: 'WS_ERR_UNEXPECTED_MASK',
		detail: 'ProtocolViolation',
		code: CloseCode.PROTOCOL_ERROR,
	},
	{
		title: 'server receives an unmasked frame',
		role: 'server',
		bad: '8105', // FIN+TEXT, unmasked, len 5
		reason: 'WS_ERR_EXPECTED_MASK',
		detail: 'UnmaskedClientFrame',
		code: CloseCode.PROTOCOL_ERROR,
	},
	{
		title: 'RSV1 without an extension',
		role: 'client',
		bad: 'c105', // FIN+RSV1+TEXT, len 5
		reason: 'WS_ERR_INVALID_RSV_BITS',
		detail: 'InvalidRsvBits',
		code: CloseCode.PROTOCOL_ERROR,
	},
	{
		title: 'RSV2 while only RSV1 is allowed',
		role: 'client',
		bad: 'a105', // FIN+RSV2+TEXT, len 5
		reason: 'WS_ERR_INVALID_RSV_BITS',
		detail: 'InvalidRsvBits',
		code: CloseCode.PROTOCOL_ERROR,
		options: {allowedRsv: 0x40},
	},
	{
		title: 'RSV3',
		role: 'server',
		bad: '9185', // FIN+RSV3+TEXT, masked, len 5
		reason: 'WS_ERR_INVALID_RSV_BITS',
		detail: 'InvalidRsvBits',
		code: CloseCode.PROTOCOL_ERROR,
	},
	{
		title: 'reserved data opcode 3',
		role: 'client',
		bad: '8300', // FIN+opcode 3, len 0
		reason: 'WS_ERR_INVALID_OPCODE',
		detail: 'InvalidOpcode',
		code: CloseCode.PROTOCOL_ERROR,
	},
	{
		title: 'reserved data opcode 7',
		role: 'server',
		bad: '8780', // FIN+opcode 7, masked, len 0
		reason: 'WS_ERR_INVALID_OPCODE',
		detail: 'InvalidOpcode',
		code: CloseCode.PROTOCOL_ERROR,
	},
	{
		title: 'reserved control opcode 0xB',
		role: 'client',
		bad: '8b00', // FIN+opcode 0xB, len 0
		reason: 'WS_ERR_INVALID_OPCODE',
		detail: 'InvalidOpcode',
		code: CloseCode.PROTOCOL_ERROR,
	},
	{
		title: 'reserved control opcode 0xF',
		role: 'client',
		bad: '8f00', // FIN+opcode 0xF, len 0
		reason: 'WS_ERR_INVALID_OPCODE',
		detail: 'InvalidOpcode',
		code: CloseCode.PROTOCOL_ERROR,
	},
	{
		title: 'fragmented ping',
		role: 'client',
		bad: '0900', // PING without FIN, len 0
		reason: 'WS_ERR_FRAGMENTED_CONTROL_FRAME',
		detail: 'ProtocolViolation',
		code: CloseCode.PROTOCOL_ERROR,
	},
	{
		title: 'fragmented close',
		role: 'server',
		bad: '0880', // CLOSE without FIN, masked, len 0
		reason: 'WS_ERR_FRAGMENTED_CONTROL_FRAME',
		detail: 'ProtocolViolation',
		code: CloseCode.PROTOCOL_ERROR,
	},
	{
		title: 'ping with a 16-bit length',
		role: 'client',
		bad: '897e', // FIN+PING, 16-bit length follows
		reason: 'WS_ERR_CONTROL_FRAME_TOO_LONG',
		detail: 'ProtocolViolation',
		code: CloseCode.PROTOCOL_ERROR,
	},
	{
		title: 'close with a 64-bit length',
		role: 'server',
		bad: '88ff', // FIN+CLOSE, masked, 64-bit length follows
		reason: 'WS_ERR_CONTROL_FRAME_TOO_LONG',
		detail: 'ProtocolViolation',
		code: CloseCode.PROTOCOL_ERROR,
	},
	{
		title: '16-bit length of 125',
		role: 'client',
		bad: '827e007d', // FIN+BINARY, 16-bit length 125
		reason: 'WS_ERR_NON_MINIMAL_LENGTH',
		detail: 'ProtocolViolation',
		code: CloseCode.PROTOCOL_ERROR,
	},
	{
		title: '64-bit length of 65535',
		role: 'server',
		bad: '82ff000000000000ffff', // FIN+BINARY, masked, 64-bit length 65535
		reason: 'WS_ERR_NON_MINIMAL_LENGTH',
		detail: 'ProtocolViolation',
		code: CloseCode.PROTOCOL_ERROR,
	},
	{
		title: '64-bit length with the most significant bit set',
		role: 'client',
		bad: '827f8000000000000000', // FIN+BINARY, 64-bit length 2^63
		reason: 'WS_ERR_INVALID_LENGTH',
		detail: 'ProtocolViolation',
		code: CloseCode.PROTOCOL_ERROR,
	},
	{
		title: '64-bit length above Number.MAX_SAFE_INTEGER',
		role: 'client',
		bad: '827f0020000000000000', // FIN+BINARY, 64-bit length 2^53
		reason: 'WS_ERR_INVALID_LENGTH',
		detail: 'ProtocolViolation',
		code: CloseCode.PROTOCOL_ERROR,
		options: {maxPayloadSize: 0},
	},
	{
		title: 'continuation without a message in progress',
		role: 'client',
		bad: '8001', // FIN+CONTINUATION, len 1
		reason: 'WS_ERR_UNEXPECTED_CONTINUATION',
		detail: 'ProtocolViolation',
		code: CloseCode.PROTOCOL_ERROR,
	},
	{
		title: 'continuation after the message ended',
		role: 'client',
		before: '010161' + '800162', // TEXT, no FIN, "a" | FIN+CONTINUATION, "b"
		bad: '8001', // FIN+CONTINUATION, len 1
		reason: 'WS_ERR_UNEXPECTED_CONTINUATION',
		detail: 'ProtocolViolation',
		code: CloseCode.PROTOCOL_ERROR,
	},
	{
		title: 'new data frame while a fragmented message is in progress',
		role: 'client',
		before: '010161' + '8900', // TEXT, no FIN, "a" | FIN+PING, len 0
		bad: '8201', // FIN+BINARY, len 1
		reason: 'WS_ERR_EXPECTED_CONTINUATION',
		detail: 'ProtocolViolation',
		code: CloseCode.PROTOCOL_ERROR,
	},
	{
		title: 'payload over max-incoming-payload-size (7-bit length)',
		role: 'client',
		bad: '8264', // FIN+BINARY, len 100
		reason: 'WS_ERR_PAYLOAD_TOO_BIG',
		detail: 'PayloadTooBig',
		code: CloseCode.TOO_BIG,
		options: {maxPayloadSize: 99},
	},
	{
		title: 'payload over the default max-incoming-payload-size',
		role: 'server',
		bad: '82ff0000000000020001', // FIN+BINARY, masked, 64-bit length 131073
		reason: 'WS_ERR_PAYLOAD_TOO_BIG',
		detail: 'PayloadTooBig',
		code: CloseCode.TOO_BIG,
	},
	{
		title: 'payload of 2^40 bytes',
		role: 'client',
		bad: '827f0000010000000000', // FIN+BINARY, 64-bit length 2^40
		reason: 'WS_ERR_PAYLOAD_TOO_BIG',
		detail: 'PayloadTooBig',
		code: CloseCode.TOO_BIG,
	},
	{
		title: 'payload larger than any buffer, with no limit set',
		role: 'client',
		bad: '827f0000010000000000', // FIN+BINARY, 64-bit length 2^40
		reason: 'WS_ERR_PAYLOAD_TOO_BIG',
		detail: 'PayloadTooBig',
		code: CloseCode.TOO_BIG,
		options: {maxPayloadSize: 0},
	},
];

for (const errorCase of errorCases) {
	for (const feeding of ['at once', 'byte by byte'] as const) {
		test(`fails: ${errorCase.title} → ${errorCase.reason} (${feeding})`, t => {
			const {decoder, frames, errors} = record({role: errorCase.role, ...errorCase.options});
			if (errorCase.before !== undefined) {
				decoder.push(Buffer.from(errorCase.before, 'hex'));
				t.deepEqual(errors, []);
			}

			const framesBefore = frames.length;
			const bad = Buffer.from(errorCase.bad, 'hex');
			if (feeding === 'at once') {
				decoder.push(bad);
			} else {
				// Fail fast: nothing until the last byte that reveals the problem.
				for (const [index, byte] of bad.entries()) {
					t.is(errors.length, 0, `error before byte ${index}`);
					decoder.push(Buffer.from([byte]));
				}
			}

			t.is(errors.length, 1);
			const [error] = errors;
			t.true(error instanceof WebsocketError);
			t.is(error!.code, errorCase.code);
			t.is(error!.reason, errorCase.reason);
			t.is(error!.detail, errorCase.detail);
			const peer = errorCase.role === 'server' ? 'client' : 'server';
			t.regex(error!.message, new RegExp(`from the ${peer}`));
			t.is(frames.length, framesBefore);
			t.true(decoder.stopped);
			t.is(decoder.bufferedBytes, 0);
			// Stopped: later input is ignored and no second error comes.
			decoder.push(Buffer.from(errorCase.role === 'server' ? maskedHello : hello));
			t.is(errors.length, 1);
			t.is(frames.length, framesBefore);
			t.is(decoder.end(), null);
		});
	}
}

test('messages name the other side', t => {
	const client = record({role: 'client'});
	client.decoder.push(Buffer.from('8300', 'hex')); // FIN+opcode 3
	t.is(client.errors[0]!.message, 'Received invalid WebSocket response from the server');
	const server = record({role: 'server', maxPayloadSize: 10});
	server.decoder.push(Buffer.from('828b', 'hex')); // FIN+BINARY, masked, len 11
	t.is(server.errors[0]!.message, 'Received WebSocket payload from the client larger than configured max-incoming-payload-size (11 bytes, limit 10)');
});

test('the limit fails from the header of a 2^40-byte frame, before any payload', t => {
	const {decoder, errors} = record({role: 'client'});
	decoder.push(Buffer.from('827f0000010000000000', 'hex')); // FIN+BINARY, 64-bit length 2^40
	t.is(errors.length, 1);
	t.is(errors[0]!.code, CloseCode.TOO_BIG);
	t.is(errors[0]!.reason, 'WS_ERR_PAYLOAD_TOO_BIG');
	t.is(decoder.bufferedBytes, 0);
});

test('a payload of exactly maxPayloadSize is fine', t => {
	const {decoder, frames, errors} = record({role: 'client', maxPayloadSize: 126});
	decoder.push(Buffer.concat(encodeFrame(Opcode.BINARY, Buffer.alloc(126))));
	t.deepEqual(errors, []);
	t.is(frames.length, 1);
});

test('maxPayloadSize changes take effect at the next header', t => {
	const {decoder, frames, errors} = record({role: 'client', maxPayloadSize: 1000});
	const wire = Buffer.concat(encodeFrame(Opcode.BINARY, Buffer.alloc(800)));
	decoder.push(wire.subarray(0, 100));
	decoder.maxPayloadSize = 500; // the frame in progress keeps its size
	decoder.push(wire.subarray(100));
	t.is(frames.length, 1);
	decoder.push(wire);
	t.is(errors.length, 1);
	t.is(errors[0]!.reason, 'WS_ERR_PAYLOAD_TOO_BIG');
	t.is(decoder.maxPayloadSize, 500);
});

test('allowedRsv lets an extension\'s bits through, and can change', t => {
	const {decoder, frames, errors} = record({role: 'client', allowedRsv: 0x40});
	t.is(decoder.allowedRsv, 0x40);
	decoder.push(Buffer.from('c10161', 'hex')); // FIN+RSV1+TEXT, "a"
	t.deepEqual(frames[0], {fin: true, rsv: 0x40, opcode: Opcode.TEXT, payload: Buffer.from('a')});
	decoder.allowedRsv = 0;
	decoder.push(Buffer.from('c10161', 'hex'));
	t.is(errors[0]?.reason, 'WS_ERR_INVALID_RSV_BITS');
});

test('invalid options throw', t => {
	const handler = {onFrame() {}, onError() {}};
	t.throws(() => new FrameDecoder(handler, {role: 'client', maxPayloadSize: -1}), {instanceOf: RangeError});
	t.throws(() => new FrameDecoder(handler, {role: 'client', maxPayloadSize: 1.5}), {instanceOf: RangeError});
	t.throws(() => new FrameDecoder(handler, {role: 'client', allowedRsv: 0x80}), {instanceOf: RangeError});
	t.throws(() => new FrameDecoder(handler, {role: 'peer' as 'client'}), {instanceOf: TypeError});
	const decoder = new FrameDecoder(handler, {role: 'client'});
	t.is(decoder.maxPayloadSize, 131_072);
	t.throws(() => {
		decoder.maxPayloadSize = Number.NaN;
	}, {instanceOf: RangeError});
	t.throws(() => {
		decoder.allowedRsv = 1;
	}, {instanceOf: RangeError});
});

test('end() reports a frame cut short, mid-header or mid-payload', t => {
	for (const partial of ['81', '817e00', '8105486c', '827f00000000000100']) {
		const {decoder, errors} = record({role: 'client'});
		decoder.push(Buffer.from(partial, 'hex'));
		t.true(decoder.bufferedBytes > 0);
		const error = decoder.end();
		t.true(error instanceof WebsocketError, partial);
		t.is(error!.code, CloseCode.PROTOCOL_ERROR);
		t.is(error!.reason, 'WS_ERR_INCOMPLETE_FRAME');
		t.is(error!.detail, 'IncompleteFrame');
		t.deepEqual(errors, []); // returned, not reported
		t.true(decoder.stopped);
		t.is(decoder.end(), null);
	}
});

test('end() between frames is clean, even inside a fragmented message', t => {
	const {decoder} = record({role: 'client'});
	decoder.push(Buffer.from('010161', 'hex')); // TEXT, no FIN, len 1, "a"
	t.is(decoder.end(), null);
});

test('stop() from onFrame discards the rest of the chunk', t => {
	const seen: string[] = [];
	const decoder: FrameDecoder = new FrameDecoder(
		{
			onFrame(_fin, _rsv, _opcode, payload) {
				seen.push(payload.toString());
				decoder.stop();
			},
			onError(error) {
				t.fail(error.message);
			},
		},
		{role: 'client'},
	);
	decoder.push(Buffer.concat([hello, hello, Buffer.from('81', 'hex')]));
	t.deepEqual(seen, ['Hello']);
	t.true(decoder.stopped);
	decoder.push(hello);
	t.deepEqual(seen, ['Hello']);
});

test('push() from within the handler throws', t => {
	let caught: unknown;
	const decoder: FrameDecoder = new FrameDecoder(
		{
			onFrame() {
				try {
					decoder.push(hello);
				} catch (error: unknown) {
					caught = error;
				}
			},
			onError() {},
		},
		{role: 'client'},
	);
	decoder.push(hello);
	t.true(caught instanceof Error);
});

test('an exception from onFrame propagates, and decoding resumes with the next frame', t => {
	const seen: string[] = [];
	let throwOnce = true;
	const decoder = new FrameDecoder(
		{
			onFrame(_fin, _rsv, _opcode, payload) {
				seen.push(payload.toString());
				if (throwOnce) {
					throwOnce = false;
					throw new Error('handler failed');
				}
			},
			onError(error) {
				t.fail(error.message);
			},
		},
		{role: 'client'},
	);
	t.throws(() => {
		decoder.push(Buffer.concat([hello, hello]));
	}, {message: 'handler failed'});
	decoder.push(hello);
	t.deepEqual(seen, ['Hello', 'Hello']);
});

/** Builds a valid sequence of frames: messages, some fragmented, with control frames between. */
function validFrames(random: () => number, masked: boolean): Buffer {
	const parts: Buffer[] = [];
	const messageCount = 1 + Math.floor(random() * 4);
	const key = () => (masked ? Buffer.from([random() * 256, random() * 256, random() * 256, random() * 256]) : null);
	const payload = () => {
		const roll = random();
		const length =
			roll < 0.6 ? Math.floor(random() * 130) : roll < 0.9 ? 126 + Math.floor(random() * 2000) : 65_530 + Math.floor(random() * 20);
		return Buffer.alloc(length, Math.floor(random() * 256));
	};

	for (let message = 0; message < messageCount; message++) {
		const fragments = random() < 0.3 ? 2 + Math.floor(random() * 3) : 1;
		const opcode = random() < 0.5 ? Opcode.TEXT : Opcode.BINARY;
		for (let fragment = 0; fragment < fragments; fragment++) {
			parts.push(
				...encodeFrame(fragment === 0 ? opcode : Opcode.CONTINUATION, payload(), {
					fin: fragment === fragments - 1,
					maskKey: key(),
				}),
			);
			if (random() < 0.3) {
				const control = [Opcode.PING, Opcode.PONG, Opcode.CLOSE][Math.floor(random() * 3)]!;
				parts.push(...encodeFrame(control, Buffer.alloc(Math.floor(random() * 126), 1), {maskKey: key()}));
			}
		}
	}

	return Buffer.concat(parts);
}

/** Mutates `input`: flipped bits, overwritten, inserted or removed bytes, truncation. */
function mutate(random: () => number, input: Buffer): Buffer {
	let bytes = Buffer.from(input);
	const mutations = 1 + Math.floor(random() * 4);
	for (let i = 0; i < mutations && bytes.length > 0; i++) {
		const at = Math.floor(random() * Math.min(bytes.length, random() < 0.7 ? 16 : bytes.length));
		const kind = Math.floor(random() * 5);
		if (kind === 0) {
			bytes[at] = bytes[at]! ^ (1 << Math.floor(random() * 8));
		} else if (kind === 1) {
			bytes[at] = Math.floor(random() * 256);
		} else if (kind === 2) {
			bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from([Math.floor(random() * 256)]), bytes.subarray(at)]);
		} else if (kind === 3) {
			bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
		} else {
			bytes = bytes.subarray(0, at);
		}
	}

	return bytes;
}

test('fuzz: random and mutated input in random chunkings never throws, reports at most one error, stays bounded', t => {
	const random = prng(0x5e_ed);
	let framesSeen = 0;
	let errorsSeen = 0;
	for (let iteration = 0; iteration < 2000; iteration++) {
		const role = random() < 0.5 ? 'client' : 'server';
		const kind = iteration % 4;
		// Valid input stays under the limit (its frames reach 65549 bytes); the rest may not.
		const maxPayloadSize = kind !== 0 && random() < 0.5 ? 1000 : 70_000;
		const valid = validFrames(random, role === 'server');
		const input =
			kind === 0
				? valid
				: kind === 3
					? Buffer.from(Array.from({length: Math.floor(random() * 64)}, () => Math.floor(random() * 256)))
					: mutate(random, valid);

		let frameCount = 0;
		let errorCount = 0;
		let frameAfterError = false;
		const decoder = new FrameDecoder(
			{
				onFrame() {
					frameCount++;
					frameAfterError ||= errorCount > 0;
				},
				onError(error) {
					errorCount++;
					if (!(error instanceof WebsocketError)) {
						throw new TypeError('not a WebsocketError');
					}
				},
			},
			{role, maxPayloadSize},
		);

		let offset = 0;
		let pushes = 0;
		try {
			while (offset < input.length && pushes < 100_000) {
				const size = random() < 0.2 ? 1 : 1 + Math.floor(random() * (random() < 0.5 ? 16 : 4096));
				decoder.push(input.subarray(offset, offset + size));
				offset += size;
				pushes++;
				if (decoder.bufferedBytes > maxPayloadSize + MAX_HEADER_SIZE) {
					t.fail(`iteration ${iteration}: ${decoder.bufferedBytes} bytes buffered`);
					return;
				}
			}
		} catch (error: unknown) {
			t.fail(`iteration ${iteration}: push() threw ${String(error)}`);
			return;
		}

		if (errorCount > 1 || frameAfterError) {
			t.fail(`iteration ${iteration}: ${errorCount} errors, frame after error: ${frameAfterError}`);
			return;
		}

		if (kind === 0 && (errorCount !== 0 || decoder.end() !== null)) {
			t.fail(`iteration ${iteration}: valid input rejected`);
			return;
		}

		const ended = decoder.end();
		if (errorCount > 0 && ended !== null) {
			t.fail(`iteration ${iteration}: end() reported an error after onError`);
			return;
		}

		framesSeen += frameCount;
		errorsSeen += errorCount + (ended === null ? 0 : 1);
	}

	// Both outcomes were exercised.
	t.true(framesSeen > 1000);
	t.true(errorsSeen > 500);
});
