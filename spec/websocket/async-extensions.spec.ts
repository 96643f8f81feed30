// Frames in order behind asynchronous extensions (the incoming backlog, the outgoing pipeline): failures,
// limits, the peer's Close and the end of the stream behind a pending inflate or deflate; backpressure with them.

import {randomBytes} from 'node:crypto';
import type {Duplex} from 'node:stream';
import zlib from 'node:zlib';
import test, {type ExecutionContext} from 'ava';
import {WebsocketConnection} from '../../lib/websocket/connection.ts';
import {WebsocketConnectionType} from '../../lib/websocket/constants.ts';
import {WebsocketExtension, type FrameInfo} from '../../lib/websocket/extensions/extension.ts';
import {WebsocketExtensionDeflate} from '../../lib/websocket/extensions/deflate.ts';
import {zlibLimiter} from '../../lib/websocket/extensions/limiter.ts';
import {encodeFrame, generateMaskKey} from '../../lib/websocket/frame.ts';
import {WebsocketFramer} from '../../lib/websocket/framer.ts';
import {FailingExtension} from '../helpers/extensions.ts';
import {both, connectionPair, modes, rawPeer, type Mode} from '../helpers/modes.ts';
import {until, withTimeout} from '../helpers/signals.ts';

function deflate(type: WebsocketConnectionType): WebsocketExtensionDeflate {
	const extension = new WebsocketExtensionDeflate();
	extension.configure(type, new Map());
	return extension;
}

/** Raw deflate with a sync flush and the 00 00 ff ff trailer removed (RFC 7692 §7.2.1). */
function compress(data: Buffer): Buffer {
	return zlib.deflateRawSync(data, {finishFlush: zlib.constants.Z_SYNC_FLUSH}).subarray(0, -4);
}

const masked = (opcode: number, payload: Buffer, options: {fin?: boolean; rsv?: number} = {}): Buffer =>
	Buffer.concat(encodeFrame(opcode, payload, {...options, maskKey: generateMaskKey()}));

/** Records the order of a connection's signals. */
function record(connection: WebsocketConnection): string[] {
	const events: string[] = [];
	connection.connect('message', (_self, _type, data) => events.push(`message:${data.length > 20 ? data.length : data.toString()}`));
	connection.connect('error', (_self, error) => events.push(`error:${(error as {code?: unknown}).code}`));
	connection.connect('closing', () => events.push('closing'));
	connection.connect('closed', () => events.push('closed'));
	return events;
}

/** A server connection with permessage-deflate, `limits` applied, a raw peer on the other end, and its signals recorded. */
async function deflateServer(
	t: ExecutionContext,
	mode: Mode,
	limits: {maxIncomingPayloadSize?: number; maxTotalMessageSize?: number} = {},
): Promise<{connection: WebsocketConnection; raw: Duplex; events: string[]}> {
	const {connection, raw} = await rawPeer(t, mode, WebsocketConnectionType.SERVER, {extensions: [deflate(WebsocketConnectionType.SERVER)], ...limits});
	return {connection, raw, events: record(connection)};
}

/** A compressed text message "compressed A" (inflated asynchronously), as a client sends it. */
const compressedA = (): Buffer => masked(0x1, compress(Buffer.from('compressed A')), {rsv: 0x40});

// --- An outgoing extension that fails while a Close waits behind its frame ----------------------

test('an outgoing extension failing while the Close waits behind its frame: the Close still goes out', async t => {
	const {connection, received} = await rawPeer(t, 'tcp', WebsocketConnectionType.SERVER, {extensions: [new FailingExtension()], closeTimeout: 4000});
	connection.connect('error', () => {});
	connection.sendText('fail'); // held by the extension
	connection.close(1000, 'bye'); // queued behind it
	// The extension fails; the frame is dropped and the Close, already queued, must be written.
	await until(() => received().length >= 2, 1500, 'a Close frame on the wire (it stays queued until the close timeout)');
	const frames = new WebsocketFramer({mode: 'client'}).readFrames(received());
	t.is(frames[0]!.opcode, 0x8);
});

// --- Frames waiting behind an asynchronous inflate when the connection fails or closes ----------

both('frames behind a pending inflate are processed in order, and nothing after the peer\'s Close', async (t, mode) => {
	const {connection, raw, events} = await deflateServer(t, mode, {maxIncomingPayloadSize: 1000});
	// One chunk: a compressed message (inflated asynchronously), a plain one and a Close wait behind
	// it; then a frame over max-incoming-payload-size, which comes after the Close and is not read.
	raw.write(
		Buffer.concat([
			compressedA(),
			masked(0x1, Buffer.from('plain B')),
			masked(0x8, Buffer.from([0x03, 0xe8])),
			Buffer.from([0x82, 0xfe, 0x10, 0x00]), // binary, masked, 4096 bytes: over the limit
		]),
	);
	await withTimeout(connection.closed, 5000, 'closed');
	await until(() => zlibLimiter.running === 0 && zlibLimiter.pending === 0, 5000, 'the inflate to finish');
	for (let i = 0; i < 5; i++) {
		await new Promise(resolve => {
			setImmediate(resolve);
		});
	}

	t.deepEqual(events, ['message:compressed A', 'message:plain B', 'closing', 'closed']);
	t.is(connection.getCloseCode(), 1000);
});

both('an oversized frame behind a pending inflate fails the connection after the earlier messages', async (t, mode) => {
	const {connection, raw, events} = await deflateServer(t, mode, {maxIncomingPayloadSize: 1000});
	raw.write(
		Buffer.concat([
			compressedA(),
			masked(0x1, Buffer.from('plain B')),
			Buffer.from([0x82, 0xfe, 0x10, 0x00]), // binary, masked, 4096 bytes: over the limit
		]),
	);
	await withTimeout(connection.closed, 5000, 'closed');
	t.deepEqual(events, ['message:compressed A', 'message:plain B', 'error:1009', 'closed']);
	t.is(connection.getCloseCode(), 0);
});

both('a message decoded behind an inflate that overflows is not delivered after the 1009 error', async (t, mode) => {
	const {connection, raw, events} = await deflateServer(t, mode, {maxTotalMessageSize: 64 * 1024});
	raw.write(
		Buffer.concat([
			masked(0x2, compress(Buffer.alloc(1024 * 1024)), {rsv: 0x40}), // inflates past the limit
			masked(0x1, Buffer.from('plain B')),
		]),
	);
	await withTimeout(connection.closed, 5000, 'closed');
	t.deepEqual(events, ['error:1009', 'closed']);
});

// --- for-await backpressure with an asynchronous extension -------------------------------------

both('for await pauses a lagging consumer\'s stream with permessage-deflate too', async (t, mode) => {
	const {client, server} = await connectionPair(
		t,
		mode,
		{extensions: [deflate(WebsocketConnectionType.CLIENT)]},
		{extensions: [deflate(WebsocketConnectionType.SERVER)]},
	);
	let decoded = 0;
	client.connect('message', () => decoded++);
	const count = 4000;
	for (let i = 0; i < count; i++) {
		server.sendBinary(randomBytes(512)); // 2 MB in all, far more than one read
	}

	const iterator = client[Symbol.asyncIterator]();
	t.teardown(async () => iterator.return());
	await withTimeout(iterator.next(), 5000, 'the first message');
	// The consumer now lags: the stream must stay paused with about 16 messages unread, not
	// decode all 4000 into the iterator's buffer.
	const all = await until(() => decoded === count, 2000).then(
		() => true,
		() => false,
	);
	t.false(all, `decoded ${decoded} of ${count} messages while the consumer held one`);
	t.true(client.getIoStream().isPaused());
});

// --- bufferedAmount when the connection closes during an outgoing deflate ----------------------

async function bufferedAmountAfterLateDeflate(t: ExecutionContext, mode: Mode): Promise<void> {
	const {connection} = await rawPeer(t, mode, WebsocketConnectionType.CLIENT, {
		extensions: [deflate(WebsocketConnectionType.CLIENT)],
	});
	connection.sendText('a'.repeat(200_000)); // compresses to a few hundred bytes
	t.is(connection.bufferedAmount, 200_000); // the payload, counted before compression
	connection.getIoStream().destroy(); // the connection goes away while the message is being compressed
	await withTimeout(connection.closed, 5000, 'closed');
	await until(() => zlibLimiter.running === 0 && zlibLimiter.pending === 0, 20_000, 'the deflate to finish');
	for (let i = 0; i < 5; i++) {
		await new Promise(resolve => {
			setImmediate(resolve);
		});
	}

	t.is(connection.bufferedAmount, 0);
}

// Serial: the zlib limiter is process-wide, and concurrent tests of this file keep it busy.
for (const mode of modes) {
	test.serial(`bufferedAmount is 0 after closed, even when a deflate finishes after the stream closed [${mode}]`, async t =>
		bufferedAmountAfterLateDeflate(t, mode));
}

// --- Event order: a frame decoded before a protocol error is delivered before the error ----------

both('a compressed message before an invalid frame is delivered before the 1002 error', async (t, mode) => {
	const {connection, raw, events} = await deflateServer(t, mode);
	raw.write(
		Buffer.concat([
			compressedA(),
			masked(0x1, Buffer.from('bad'), {rsv: 0x20}), // RSV2: no extension defines it
		]),
	);
	await withTimeout(connection.closed, 5000, 'closed');
	// libsoup processes frames in order: the valid message first, then the protocol error.
	t.deepEqual(events, ['message:compressed A', 'error:1002', 'closed']);
});

// --- The end of the stream behind an asynchronous incoming extension --------------------------

/** Passes every data frame through after a turn of the event loop, as an asynchronous codec would. */
class SlowIncomingExtension extends WebsocketExtension {
	static override readonly extensionName = 'x-slow-incoming';

	override async processIncoming(frame: FrameInfo, payload: Buffer): Promise<Buffer> {
		if (frame.opcode >= 0x8) {
			return payload;
		}

		const copy = Buffer.from(payload);
		await new Promise(resolve => {
			setImmediate(resolve);
		});
		return copy;
	}
}

both('messages, a Close and the end of the stream in one write, behind an asynchronous extension: all of them, in order', async (t, mode) => {
	const {connection, raw} = await rawPeer(t, mode, WebsocketConnectionType.CLIENT, {extensions: [new SlowIncomingExtension()]});
	const events = record(connection);
	const frames = Array.from({length: 5}, (_, i) => Buffer.concat(encodeFrame(0x1, Buffer.from(`m${i}`))));
	raw.end(Buffer.concat([...frames, ...encodeFrame(0x8, Buffer.from([0x03, 0xe8]))]));
	const info = await withTimeout(connection.closed);
	t.deepEqual(events, ['message:m0', 'message:m1', 'message:m2', 'message:m3', 'message:m4', 'closing', 'closed']);
	t.is(info.code, 1000);
});

both('fragments and the end of the stream in one write, behind an asynchronous extension: the message, then closed', async (t, mode) => {
	const {connection, raw} = await rawPeer(t, mode, WebsocketConnectionType.CLIENT, {extensions: [new SlowIncomingExtension()]});
	const events = record(connection);
	raw.end(
		Buffer.concat([
			...encodeFrame(0x1, Buffer.from('one '), {fin: false}),
			...encodeFrame(0x0, Buffer.from('two '), {fin: false}),
			...encodeFrame(0x0, Buffer.from('three')),
		]),
	);
	await withTimeout(connection.closed);
	t.deepEqual(events, ['message:one two three', 'closed']);
});

both('a text fragment validated as it arrived, then held by an asynchronous extension while the next fragment starts: validated once', async (t, mode) => {
	const {connection, raw, received} = await rawPeer(t, mode, WebsocketConnectionType.CLIENT, {extensions: [new SlowIncomingExtension()]});
	const events = record(connection);
	let chunks = 0;
	connection.getIoStream().on('data', () => chunks++);
	const send = async (bytes: Buffer): Promise<void> => {
		const before = chunks;
		raw.write(bytes);
		await until(() => chunks > before, 5000, 'the chunk to be read');
	};

	const frame = (opcode: number, payload: Buffer, fin: boolean): Buffer => Buffer.concat(encodeFrame(opcode, payload, {fin}));
	// "x", then the Ping's Pong: the extension has handed the first fragment over.
	raw.write(Buffer.concat([frame(0x1, Buffer.from('x'), false), frame(0x9, Buffer.from('p'), true)]));
	await until(() => received().length > 0, 5000, 'the pong');
	const second = frame(0x0, Buffer.from('aéb'), false); // 61 c3 a9 62
	const third = frame(0x0, Buffer.from('cde'), true);
	// The second fragment in two pieces, the first ending inside "é"; the third starts with the second's end.
	await send(second.subarray(0, 2 + 2));
	await send(Buffer.concat([second.subarray(4), third.subarray(0, 3)]));
	await send(third.subarray(3));
	await until(() => events.length > 0, 5000, 'the message');
	t.deepEqual(events, ['message:xaébcde']);
});
