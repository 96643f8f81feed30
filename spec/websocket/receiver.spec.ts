// The Receiver alone, without a stream or a connection: bytes pushed in, reports to its owner out.
// Frames are built with encodeFrame (masked, as a client sends them to our server role).

import test from 'ava';
import {CloseCode, Opcode, WebsocketDataType} from '../../lib/websocket/constants.ts';
import type {WebsocketError} from '../../lib/websocket/errors.ts';
import {WebsocketExtension, type FrameInfo} from '../../lib/websocket/extensions/extension.ts';
import {encodeClosePayload, encodeFrame, generateMaskKey} from '../../lib/websocket/frame.ts';
import {
	kReadFailed,
	kReadHeld,
	kReadReleased,
	kReceivedControl,
	kReceivedMessage,
	Receiver,
	type ReceiverOptions,
	type ReceiverOwner,
} from '../../lib/websocket/receiver.ts';
import {IdleTimer} from '../../lib/websocket/timer.ts';
import {withTimeout} from '../helpers/signals.ts';

const frame = (opcode: number, payload: Buffer | string, options: {fin?: boolean; rsv?: number} = {}): Buffer =>
	Buffer.concat(encodeFrame(opcode, typeof payload === 'string' ? Buffer.from(payload) : payload, {...options, maskKey: generateMaskKey()}));

/** An owner that writes down each report, in order, as a short string (messages keep their data). */
class Recorder implements ReceiverOwner {
	readonly events: string[] = [];
	readonly messages: Buffer[] = [];
	readonly errors: WebsocketError[] = [];
	#released: (() => void) | undefined;

	[kReceivedMessage](type: WebsocketDataType, data: Buffer): void {
		this.messages.push(data);
		this.events.push(`${type === WebsocketDataType.TEXT ? 'text' : 'binary'}:${data.length > 16 ? data.length : data.toString()}`);
	}

	[kReceivedControl](opcode: number, payload: Buffer): void {
		const name = opcode === Opcode.CLOSE ? 'close' : opcode === Opcode.PING ? 'ping' : 'pong';
		this.events.push(`${name}:${opcode === Opcode.CLOSE ? payload.readUInt16BE(0) : payload.toString()}`);
	}

	[kReadFailed](error: WebsocketError): void {
		this.errors.push(error);
		this.events.push(`error:${error.code}`);
	}

	[kReadHeld](): void {
		this.events.push('held');
	}

	[kReadReleased](): void {
		this.events.push('released');
		this.#released?.();
	}

	/** Resolves at the next `released` report. */
	released(): Promise<void> {
		return withTimeout(
			new Promise<void>(resolve => {
				this.#released = resolve;
			}),
			5000,
			'the receiver to release the frames that waited',
		);
	}
}

function receiver(options: Partial<ReceiverOptions> = {}): {owner: Recorder; receiver: Receiver} {
	const owner = new Recorder();
	return {
		owner,
		receiver: new Receiver(owner, {role: 'server', extensions: [], maxPayloadSize: 0, maxTotalMessageSize: 0, maxIncomingFragments: 0, ...options}),
	};
}

test('a message in one frame is reported as a view into the chunk it arrived in, not a copy', t => {
	const {owner, receiver: r} = receiver();
	const chunk = frame(Opcode.BINARY, Buffer.alloc(100, 7));
	r.push(chunk);
	t.deepEqual(owner.events, ['binary:100']);
	t.is(owner.messages[0]!.buffer, chunk.buffer);
});

test('fragments are assembled into one message; a control frame between them is reported at once', t => {
	const {owner, receiver: r} = receiver();
	r.push(
		Buffer.concat([
			frame(Opcode.TEXT, 'hel', {fin: false}),
			frame(Opcode.PING, 'p'),
			frame(Opcode.CONTINUATION, 'lo ', {fin: false}),
			frame(Opcode.CONTINUATION, 'world'),
		]),
	);
	t.deepEqual(owner.events, ['ping:p', 'text:hello world']);
});

test('invalid UTF-8 fails at the chunk that makes it invalid, before the frame is complete (1007)', t => {
	const {owner, receiver: r} = receiver();
	const bytes = frame(Opcode.TEXT, Buffer.concat([Buffer.from('a'.repeat(50)), Buffer.from([0xff]), Buffer.from('b'.repeat(50))]));
	// Header (2 + 4 bytes of mask) and the first 60 payload bytes: the 0xff is among them.
	r.push(bytes.subarray(0, 66));
	t.deepEqual(owner.events, ['error:1007']);
	r.push(bytes.subarray(66));
	t.deepEqual(owner.events, ['error:1007'], 'the receiver reads nothing after it');
});

test('once our Close is out, text is checked when its frame is complete', t => {
	const {owner, receiver: r} = receiver();
	r.closeSent();
	const bytes = frame(Opcode.TEXT, Buffer.concat([Buffer.from('a'.repeat(50)), Buffer.from([0xff]), Buffer.from('b'.repeat(50))]));
	r.push(bytes.subarray(0, 66));
	t.deepEqual(owner.events, []);
	r.push(bytes.subarray(66));
	t.deepEqual(owner.events, ['error:1007']);
});

test('max-total-message-size counts the assembled message: 1009 at the fragment that passes it', t => {
	const {owner, receiver: r} = receiver({maxTotalMessageSize: 10});
	r.push(Buffer.concat([frame(Opcode.BINARY, '123456', {fin: false}), frame(Opcode.CONTINUATION, '789', {fin: false})]));
	t.deepEqual(owner.events, []);
	r.push(frame(Opcode.CONTINUATION, 'AB'));
	t.deepEqual(owner.events, ['error:1009']);
	t.is(owner.errors[0]!.reason, 'WS_ERR_MESSAGE_TOO_BIG');
});

test('max-incoming-fragments bounds the frames of one message; a limit can be changed between messages', t => {
	const {owner, receiver: r} = receiver({maxIncomingFragments: 2});
	r.push(Buffer.concat([frame(Opcode.BINARY, 'a', {fin: false}), frame(Opcode.CONTINUATION, 'b')]));
	t.deepEqual(owner.events, ['binary:ab']);
	r.maxIncomingFragments = 0;
	r.push(Buffer.concat([frame(Opcode.BINARY, 'a', {fin: false}), frame(Opcode.CONTINUATION, 'b', {fin: false}), frame(Opcode.CONTINUATION, 'c')]));
	t.deepEqual(owner.events, ['binary:ab', 'binary:abc']);
	r.maxIncomingFragments = 2;
	r.push(Buffer.concat([frame(Opcode.BINARY, 'a', {fin: false}), frame(Opcode.CONTINUATION, 'b', {fin: false}), frame(Opcode.CONTINUATION, 'c')]));
	t.deepEqual(owner.events, ['binary:ab', 'binary:abc', 'error:1009']);
	t.is(owner.errors[0]!.reason, 'WS_ERR_TOO_MANY_FRAGMENTS');
});

test('max-incoming-payload-size is the decoder\'s, refused at the header, and settable', t => {
	const {owner, receiver: r} = receiver({maxPayloadSize: 4});
	t.is(r.maxPayloadSize, 4);
	r.push(frame(Opcode.BINARY, '1234'));
	r.push(frame(Opcode.BINARY, '12345').subarray(0, 2));
	t.deepEqual(owner.events, ['binary:1234', 'error:1009']);
});

test('nothing after a Close frame is read: the receiver stops there', t => {
	const {owner, receiver: r} = receiver();
	r.push(Buffer.concat([frame(Opcode.TEXT, 'before'), frame(Opcode.CLOSE, encodeClosePayload(1000, 'bye')), frame(Opcode.TEXT, 'after'), frame(Opcode.PING, 'p')]));
	t.deepEqual(owner.events, ['text:before', 'close:1000']);
});

test('discardData(): data frames are dropped, control frames still reported', t => {
	const {owner, receiver: r} = receiver();
	r.discardData();
	r.push(Buffer.concat([frame(Opcode.TEXT, 'dropped'), frame(Opcode.PING, 'p'), frame(Opcode.CLOSE, encodeClosePayload(1002))]));
	t.deepEqual(owner.events, ['ping:p', 'close:1002']);
});

test('reserved bits no extension negotiated: 1002 from the decoder; stop() forgets a message under way', t => {
	const first = receiver();
	first.receiver.push(frame(Opcode.TEXT, 'x', {rsv: 0x40}));
	t.deepEqual(first.owner.events, [`error:${CloseCode.PROTOCOL_ERROR}`]);
	const second = receiver();
	second.receiver.push(frame(Opcode.TEXT, 'par', {fin: false}));
	second.receiver.stop();
	second.receiver.push(frame(Opcode.CONTINUATION, 'tial'));
	t.deepEqual(second.owner.events, []);
});

/** Upper-cases incoming payloads with RSV1 set, one immediate later (an asynchronous inflate's shape). */
class SlowUpper extends WebsocketExtension {
	static override readonly extensionName = 'x-slow-upper';

	override get reservedBits(): number {
		return 0x40;
	}

	override processIncoming(frameInfo: FrameInfo, payload: Buffer): Buffer | Promise<Buffer> {
		if ((frameInfo.rsv & 0x40) === 0) {
			return payload;
		}

		frameInfo.rsv &= ~0x40;
		const copy = Buffer.from(payload);
		return new Promise(resolve => {
			setImmediate(() => {
				resolve(Buffer.from(copy.toString().toUpperCase()));
			});
		});
	}
}

test('an asynchronous extension holds the frames behind it in order, then releases them; the decoder\'s error waits its turn', async t => {
	const {owner, receiver: r} = receiver({extensions: [new SlowUpper()], maxPayloadSize: 10});
	r.push(Buffer.concat([frame(Opcode.TEXT, 'slow', {rsv: 0x40}), frame(Opcode.TEXT, 'plain'), frame(Opcode.PING, 'p'), frame(Opcode.BINARY, Buffer.alloc(11))]));
	t.true(r.busy);
	t.deepEqual(owner.events, ['held']);
	await owner.released();
	t.false(r.busy);
	t.deepEqual(owner.events, ['held', 'text:SLOW', 'text:plain', 'ping:p', 'error:1009', 'released']);
});

test('stop() while an extension works: what waited behind it is dropped, and the release is still reported', async t => {
	const {owner, receiver: r} = receiver({extensions: [new SlowUpper()]});
	r.push(Buffer.concat([frame(Opcode.TEXT, 'slow', {rsv: 0x40}), frame(Opcode.TEXT, 'plain')]));
	const released = owner.released();
	r.stop();
	await released;
	t.deepEqual(owner.events, ['held', 'released']);
});

/** An idle timer that counts its touches. */
class CountingIdleTimer extends IdleTimer {
	touches = 0;

	override touch(): void {
		this.touches++;
		super.touch();
	}
}

test('the idle timer is touched by data frames only', t => {
	const {receiver: r} = receiver();
	const timer = new CountingIdleTimer(() => {}, 3_600_000);
	t.teardown(() => {
		timer.clear();
	});
	r.idleTimer = timer;
	r.push(Buffer.concat([frame(Opcode.PING, 'p'), frame(Opcode.TEXT, 'a', {fin: false}), frame(Opcode.PONG, 'q'), frame(Opcode.CONTINUATION, 'b')]));
	t.is(timer.touches, 2);
});
