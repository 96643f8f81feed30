// The Sender alone, on an in-memory Duplex that holds writes until the test lets them through:
// masking, order (NORMAL / URGENT / LAST), 'drain', the batch, extensions and the end.

import {Duplex} from 'node:stream';
import test from 'ava';
import {Opcode} from '../../lib/websocket/constants.ts';
import type {WebsocketError} from '../../lib/websocket/errors.ts';
import {WebsocketExtension, type FrameInfo} from '../../lib/websocket/extensions/extension.ts';
import {FrameDecoder} from '../../lib/websocket/frame-decoder.ts';
import {QueueFlags} from '../../lib/websocket/outgoing-queue.ts';
import {kLastFrameWritten, kQueueFlushed, kSendFailed, Sender, type SenderOwner} from '../../lib/websocket/sender.ts';
import {until} from '../helpers/signals.ts';

/** A Duplex whose writes complete only while `open` (or when `release()` is called); it keeps every chunk. */
class Wire extends Duplex {
	readonly chunks: Buffer[] = [];
	/** How many times the stream handed bytes on (a vectored write counts once). */
	writes = 0;
	open = true;
	#held: Array<() => void> = [];

	override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
		this.writes++;
		this.chunks.push(Buffer.from(chunk));
		this.#finish(callback);
	}

	override _writev(chunks: Array<{chunk: Buffer}>, callback: (error?: Error | null) => void): void {
		this.writes++;
		for (const {chunk} of chunks) {
			this.chunks.push(Buffer.from(chunk));
		}

		this.#finish(callback);
	}

	override _read(): void {}

	/** Completes the writes held so far. */
	release(): void {
		this.open = true;
		const held = this.#held;
		this.#held = [];
		for (const callback of held) {
			callback();
		}
	}

	/** What was written, decoded as frames (`role` is the side that reads them). */
	frames(role: 'client' | 'server'): Array<{opcode: number; rsv: number; payload: string}> {
		const frames: Array<{opcode: number; rsv: number; payload: string}> = [];
		new FrameDecoder(
			{
				onFrame: (_fin, rsv, opcode, payload) => frames.push({opcode, rsv, payload: payload.length > 16 ? `${payload.length} bytes` : payload.toString()}),
				onError(error) {
					throw error;
				},
			},
			{role, maxPayloadSize: 0, allowedRsv: 0x40},
		).push(Buffer.concat(this.chunks));
		return frames;
	}

	#finish(callback: () => void): void {
		if (this.open) {
			callback();
		} else {
			this.#held.push(callback);
		}
	}
}

class Owner implements SenderOwner {
	readonly events: string[] = [];
	flushes = 0;

	[kLastFrameWritten](): void {
		this.events.push('last written');
	}

	[kQueueFlushed](): void {
		this.flushes++;
	}

	[kSendFailed](error: unknown): void {
		this.events.push(`failed: ${(error as Error).message}`);
	}
}

function sender(client = false, extensions: WebsocketExtension[] = []): {wire: Wire; owner: Owner; sender: Sender} {
	const wire = new Wire();
	const owner = new Owner();
	return {wire, owner, sender: new Sender(owner, wire, client, extensions)};
}

const text = (s: string): Buffer => Buffer.from(s);
/** More than the sender lets the stream hold before frames wait in its queue for 'drain' (1 MiB). */
const big = Buffer.alloc(1024 * 1024 + 1);

test('a server\'s frames are not masked, a client\'s are (the decoder of each peer refuses the other)', t => {
	const server = sender(false);
	server.sender.sendData(Opcode.TEXT, text('to the client'));
	t.deepEqual(server.wire.frames('client'), [{opcode: Opcode.TEXT, rsv: 0, payload: 'to the client'}]);
	const client = sender(true);
	client.sender.sendData(Opcode.BINARY, text('to the server'));
	client.sender.sendControl(Opcode.PING, text('p'), QueueFlags.NORMAL);
	t.deepEqual(client.wire.frames('server'), [
		{opcode: Opcode.BINARY, rsv: 0, payload: 'to the server'},
		{opcode: Opcode.PING, rsv: 0, payload: 'p'},
	]);
	const error = t.throws(() => client.wire.frames('client'));
	t.is((error as WebsocketError).reason, 'WS_ERR_UNEXPECTED_MASK');
});

test('past 1 MiB in the stream, frames wait in the queue for \'drain\', where a Pong goes before data not yet started', async t => {
	const {wire, sender: s} = sender();
	wire.open = false;
	s.sendData(Opcode.BINARY, big);
	s.sendData(Opcode.TEXT, text('queued 1'));
	s.sendData(Opcode.TEXT, text('queued 2'));
	s.sendPong(text('pong'));
	t.true(s.hasQueued);
	t.is(s.queuedBytes, 3 * 2 + 8 + 8 + 4);
	t.is(s.bufferedAmount, s.queuedBytes + wire.writableLength);
	wire.release();
	await until(() => !s.hasQueued, 5000, 'the queue to be flushed after drain');
	t.deepEqual(
		wire.frames('client').map(frame => frame.payload),
		[`${big.length} bytes`, 'pong', 'queued 1', 'queued 2'],
	);
});

test('the LAST frame is the last written, and the owner hears once it is out; later frames are dropped', async t => {
	const {wire, owner, sender: s} = sender();
	s.sendControl(Opcode.CLOSE, Buffer.from([0x03, 0xe8]), QueueFlags.LAST);
	s.sendData(Opcode.TEXT, text('after'));
	await until(() => owner.events.length > 0, 5000, 'the last frame written');
	t.deepEqual(owner.events, ['last written']);
	t.deepEqual(wire.frames('client').map(frame => frame.opcode), [Opcode.CLOSE, Opcode.TEXT]);
	// A LAST frame clears what waits behind it; a frame written directly after it is the owner's to
	// prevent (the connection refuses sends once closing). The queue case:
	const second = sender();
	second.wire.open = false;
	second.sender.sendData(Opcode.BINARY, big);
	second.sender.sendData(Opcode.TEXT, text('queued'));
	second.sender.sendControl(Opcode.CLOSE, Buffer.from([0x03, 0xe8]), QueueFlags.URGENT | QueueFlags.LAST);
	second.wire.release();
	await until(() => second.owner.events.length > 0, 5000, 'the urgent last frame written');
	t.deepEqual(second.wire.frames('client').map(frame => frame.opcode), [Opcode.BINARY, Opcode.CLOSE]);
});

test('the frames of one chunk leave in one write, after any written before, and bufferedAmount counts the batch', t => {
	const {wire, sender: s} = sender();
	const batching = s.beginChunk();
	t.true(batching);
	s.sendData(Opcode.TEXT, text('one'));
	s.sendData(Opcode.TEXT, text('two'));
	t.is(s.bufferedAmount, 2 * 5);
	s.sendControl(Opcode.PING, text('p'), QueueFlags.NORMAL); // not batched: the batch goes first
	s.sendData(Opcode.TEXT, text('three'));
	s.endChunk(batching);
	t.is(wire.writes, 1, 'one vectored write for the whole chunk');
	t.deepEqual(wire.frames('client').map(frame => frame.payload), ['one', 'two', 'p', 'three']);
	t.is(s.bufferedAmount, 0);
});

test('only one sender batches at a time: a second one writes directly', t => {
	const first = sender();
	const second = sender();
	const batching = first.sender.beginChunk();
	const other = second.sender.beginChunk();
	t.false(other);
	second.sender.sendData(Opcode.TEXT, text('direct'));
	second.sender.endChunk(other);
	t.is(second.wire.frames('client').length, 1);
	first.sender.endChunk(batching);
});

/** Sets RSV1 and reverses the payload one immediate later; fails on "fail". */
class SlowReverse extends WebsocketExtension {
	static override readonly extensionName = 'x-slow-reverse';

	override get reservedBits(): number {
		return 0x40;
	}

	override async processOutgoing(frame: FrameInfo, payload: Buffer): Promise<Buffer> {
		await new Promise(resolve => {
			setImmediate(resolve);
		});
		if (payload.toString() === 'fail') {
			throw new Error('cannot process');
		}

		frame.rsv |= 0x40;
		return Buffer.from(payload).reverse();
	}
}

test('an asynchronous outgoing extension keeps the order; a failed message is dropped and reported, the rest go', async t => {
	const {wire, owner, sender: s} = sender(false, [new SlowReverse()]);
	s.sendData(Opcode.TEXT, text('abc'));
	s.sendData(Opcode.TEXT, text('fail'));
	s.sendControl(Opcode.PING, text('p'), QueueFlags.NORMAL);
	s.sendData(Opcode.TEXT, text('xyz'));
	t.deepEqual(wire.frames('client'), [], 'the Ping waits behind the message the extension holds');
	await until(() => !s.hasQueued, 5000, 'the extension to finish');
	t.deepEqual(owner.events, ['failed: cannot process']);
	t.deepEqual(wire.frames('client'), [
		{opcode: Opcode.TEXT, rsv: 0x40, payload: 'cba'},
		{opcode: Opcode.PING, rsv: 0, payload: 'p'},
		{opcode: Opcode.TEXT, rsv: 0x40, payload: 'zyx'},
	]);
});

test('a flood of Pongs while the stream is full costs a few frames: past 8 queued, the last takes the newest payload', async t => {
	const {wire, sender: s} = sender();
	wire.open = false;
	s.sendData(Opcode.BINARY, big);
	for (let i = 1; i <= 20; i++) {
		s.sendPong(text(`${i}`));
	}

	wire.release();
	await until(() => !s.hasQueued, 5000, 'the queue to be flushed');
	t.deepEqual(
		wire.frames('client').slice(1).map(frame => frame.payload),
		['1', '2', '3', '4', '5', '6', '7', '20'],
	);
});

test('refuse(): new frames are dropped, queued ones still flushed; endWhenFlushed() ends after them', async t => {
	const {wire, owner, sender: s} = sender();
	wire.open = false;
	s.sendData(Opcode.BINARY, big);
	s.sendData(Opcode.TEXT, text('queued'));
	s.refuse();
	s.sendData(Opcode.TEXT, text('refused'));
	s.endWhenFlushed();
	t.false(wire.writableEnded);
	const finished = new Promise(resolve => wire.once('finish', resolve));
	wire.release();
	await finished;
	t.deepEqual(wire.frames('client').map(frame => frame.payload), [`${big.length} bytes`, 'queued']);
	t.true(owner.flushes > 0);
});

test('clear() drops what waits; end() ends the stream now, after the batch', async t => {
	const {wire, sender: s} = sender();
	wire.open = false;
	s.sendData(Opcode.BINARY, big);
	s.sendData(Opcode.TEXT, text('dropped'));
	s.clear();
	t.false(s.hasQueued);
	t.is(s.queuedBytes, 0);
	const finished = new Promise(resolve => wire.once('finish', resolve));
	s.end();
	wire.release();
	await finished;
	t.deepEqual(wire.frames('client').map(frame => frame.payload), [`${big.length} bytes`]);

	const second = sender();
	const batching = second.sender.beginChunk();
	second.sender.sendData(Opcode.TEXT, text('batched'));
	second.sender.end();
	second.sender.endChunk(batching);
	t.true(second.wire.writableEnded);
	await new Promise(resolve => second.wire.once('finish', resolve));
	t.deepEqual(second.wire.frames('client').map(frame => frame.payload), ['batched']);
});

test('written callbacks: null once the frame is handed on; a frame dropped behind a LAST one, or refused, hears WS_ERR_NOT_SENT', async t => {
	const {wire, sender: s} = sender();
	const reports: string[] = [];
	const report = (name: string) => (error: Error | null) => reports.push(`${name} ${error === null ? 'written' : (error as WebsocketError).reason}`);
	wire.open = false;
	s.sendData(Opcode.BINARY, big, report('big'));
	s.sendData(Opcode.TEXT, text('queued'), report('queued'));
	s.sendControl(Opcode.CLOSE, Buffer.from([0x03, 0xe8]), QueueFlags.URGENT | QueueFlags.LAST);
	s.refuse();
	s.sendData(Opcode.TEXT, text('refused'), report('refused'));
	t.deepEqual(reports, [], 'never from within the call');
	wire.release();
	await until(() => reports.length === 3, 5000, 'three reports');
	t.deepEqual(reports.sort(), ['big written', 'queued WS_ERR_NOT_SENT', 'refused WS_ERR_NOT_SENT']);
	t.deepEqual(wire.frames('client').map(frame => frame.opcode), [Opcode.BINARY, Opcode.CLOSE]);
});
