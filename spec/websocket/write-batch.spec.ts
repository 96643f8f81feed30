// Small frames sent while one chunk is decoded leave in one batch (write-batch.ts); every frame
// still goes out in the order it was sent, whatever its size or kind, and bufferedAmount counts it.

import test from 'ava';
import type {Duplex} from 'node:stream';
import {Opcode, WebsocketConnectionType, WebsocketDataType} from '../../lib/websocket/constants.ts';
import {FrameDecoder} from '../../lib/websocket/frame-decoder.ts';
import {encodeClosePayload, encodeFrame, generateMaskKey} from '../../lib/websocket/frame.ts';
import {batchedBytes, batchSlab, beginBatch, endBatch, reserve, takeBatch} from '../../lib/websocket/write-batch.ts';
import {both, rawPeer} from '../helpers/modes.ts';
import {withTimeout} from '../helpers/signals.ts';

const masked = (opcode: number, payload: Buffer): Buffer => Buffer.concat(encodeFrame(opcode, payload, {maskKey: generateMaskKey()}));

interface Seen {
	opcode: number;
	payload: Buffer;
}

/** Decodes what a server connection wrote to the raw peer. */
function decodeAll(bytes: Buffer): Seen[] {
	const frames: Seen[] = [];
	const decoder = new FrameDecoder(
		{
			onFrame: (_fin, _rsv, opcode, payload) => frames.push({opcode, payload: Buffer.from(payload)}),
			onError(error) {
				throw error;
			},
		},
		{role: 'client', maxPayloadSize: 0},
	);
	decoder.push(bytes);
	return frames;
}

both('frames sent from message handlers leave in the order sent: small, large, ping replies, Close', async (t, mode) => {
	const {connection, raw, received, ended} = await rawPeer(t, mode, WebsocketConnectionType.SERVER, {maxIncomingPayloadSize: 0});
	const large = Buffer.alloc(70_000, 0x6c);
	let count = 0;
	connection.connect('message', (self, _type, data) => {
		count++;
		const text = Buffer.from(data).toString();
		self.sendText(`small ${text}`);
		if (count === 2) {
			// Larger than a batched frame: it must follow the small ones already sent.
			self.sendBinary(large);
			self.sendText('after large');
		}

		if (count === 4) {
			self.close(1000, 'done');
		}
	});
	const closed = new Promise(resolve => connection.connect('closed', resolve));
	// One write: four text frames with a Ping between the second and the third.
	raw.write(
		Buffer.concat([
			masked(Opcode.TEXT, Buffer.from('1')),
			masked(Opcode.TEXT, Buffer.from('2')),
			masked(Opcode.PING, Buffer.from('p')),
			masked(Opcode.TEXT, Buffer.from('3')),
			masked(Opcode.TEXT, Buffer.from('4')),
		]),
	);
	await withTimeout(
		new Promise<void>(resolve => {
			const check = (): void => {
				if (decodeAll(received()).some(frame => frame.opcode === Opcode.CLOSE)) {
					resolve();
				} else {
					raw.once('data', check);
				}
			};

			check();
		}),
		10_000,
		'the Close',
	);
	raw.write(masked(Opcode.CLOSE, encodeClosePayload(1000, '')));
	await withTimeout(closed, 10_000, 'closed');
	await withTimeout(ended, 10_000, 'the end of the stream');
	const frames = decodeAll(received());
	t.deepEqual(
		frames.map(frame => (frame.opcode === Opcode.BINARY ? `binary ${frame.payload.length}` : frame.opcode === Opcode.PONG ? `pong ${frame.payload.toString()}` : frame.opcode === Opcode.CLOSE ? 'close' : frame.payload.toString())),
		['small 1', 'small 2', 'binary 70000', 'after large', 'pong p', 'small 3', 'small 4', 'close'],
	);
	t.true(frames[2]!.payload.equals(large));
});

both('bufferedAmount counts the frames a handler has sent while its chunk is still decoded', async (t, mode) => {
	const {connection, raw} = await rawPeer(t, mode, WebsocketConnectionType.SERVER);
	const amounts: number[] = [];
	const done = new Promise<void>(resolve => {
		connection.connect('message', self => {
			const before = self.bufferedAmount;
			self.sendMessage(WebsocketDataType.TEXT, Buffer.from('0123456789'));
			// A 10-byte payload makes a 12-byte frame; Node's stream may have written earlier batches already.
			amounts.push(self.bufferedAmount - before);
			if (amounts.length === 2) {
				resolve();
			}
		});
	});
	raw.write(Buffer.concat([masked(Opcode.TEXT, Buffer.from('a')), masked(Opcode.TEXT, Buffer.from('b'))]));
	await withTimeout(done, 10_000, 'two messages');
	t.deepEqual(amounts, [12, 12]);
	connection.close(1000);
});

test('a handler sending on another connection writes there at once, outside the batch', async t => {
	const pair = await rawPeer(t, 'direct', WebsocketConnectionType.SERVER);
	const other = await rawPeer(t, 'direct', WebsocketConnectionType.SERVER);
	const relayed = new Promise<Buffer>(resolve => {
		(other.raw as Duplex).once('data', resolve);
	});
	pair.connection.connect('message', (_self, _type, data) => {
		other.connection.sendText(`relay ${Buffer.from(data).toString()}`);
		t.is(batchedBytes(other.connection), 0);
	});
	pair.raw.write(masked(Opcode.TEXT, Buffer.from('x')));
	const bytes = await withTimeout(relayed, 10_000, 'the relayed frame');
	t.deepEqual(decodeAll(bytes).map(frame => frame.payload.toString()), ['relay x']);
	pair.connection.close(1000);
	other.connection.close(1000);
});

test('the batch: one owner at a time; a full slab is replaced, never overwritten', t => {
	const a = {};
	const b = {};
	t.true(beginBatch(a));
	t.false(beginBatch(b));
	t.true(reserve(1000) >= 0);
	t.is(batchedBytes(a), 1000);
	t.is(batchedBytes(b), 0);
	// Fill the slab until it refuses: the caller must take the batch first.
	let offset = 0;
	let reserved = 1;
	for (let i = 0; i < 100 && offset >= 0; i++) {
		offset = reserve(1000);
		reserved += offset >= 0 ? 1 : 0;
	}

	t.is(offset, -1);
	t.is(batchedBytes(a), reserved * 1000);
	const taken = takeBatch();
	t.is(taken?.length, reserved * 1000, 'the batch is every byte reserved');
	const before = Buffer.from(taken!);
	// The next reservation starts a new slab, at its start: the bytes taken are not written over.
	t.is(reserve(1000), 0);
	t.not(batchSlab().buffer, taken!.buffer);
	batchSlab().fill(0xaa, 0, 1000);
	t.true(taken!.equals(before));
	t.is(takeBatch()!.length, 1000);
	t.is(takeBatch(), null);
	endBatch();
	t.true(beginBatch(b));
	endBatch();
});

test('a client writes its first reply of a chunk at once, before the chunk\'s other messages are handled; the rest leave together', async t => {
	const {connection, raw} = await rawPeer(t, 'direct', WebsocketConnectionType.CLIENT);
	const stream = connection.getIoStream();
	const events: string[] = [];
	// What reaches the stream's underlying write, and when (a corked stream writes only at uncork).
	const write = stream._write.bind(stream);
	stream._write = (chunk, encoding, callback) => {
		events.push(`write ${decodeMasked(chunk as Buffer).join(',')}`);
		write(chunk, encoding, callback);
	};

	const writev = stream._writev?.bind(stream);
	if (writev !== undefined) {
		stream._writev = (chunks, callback) => {
			events.push(`write ${chunks.flatMap(({chunk}) => decodeMasked(chunk as Buffer)).join(',')}`);
			writev(chunks, callback);
		};
	}

	const handled = new Promise<void>(resolve => {
		connection.connect('message', (self, _type, data) => {
			const text = Buffer.from(data).toString();
			events.push(`message ${text}`);
			self.sendText(`re ${text}`);
			if (text === '3') {
				resolve();
			}
		});
	});
	// Three unmasked server frames in one chunk.
	raw.write(Buffer.concat(['1', '2', '3'].flatMap(text => encodeFrame(Opcode.TEXT, Buffer.from(text)))));
	await withTimeout(handled, 10_000, 'three messages');
	await withTimeout(new Promise<void>(resolve => setImmediate(resolve)), 1000, 'a turn');
	t.deepEqual(events, ['message 1', 'write re 1', 'message 2', 'message 3', 'write re 2,re 3']);
	connection.close(1000);
});

/** The payloads of the masked frames in `bytes` (what a client wrote). */
function decodeMasked(bytes: Buffer): string[] {
	const payloads: string[] = [];
	const decoder = new FrameDecoder(
		{
			onFrame: (_fin, _rsv, _opcode, payload) => payloads.push(payload.toString()),
			onError(error) {
				throw error;
			},
		},
		{role: 'server', maxPayloadSize: 0},
	);
	decoder.push(bytes);
	return payloads;
}
