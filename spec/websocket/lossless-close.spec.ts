// Nothing lost at a clean close: after the close handshake the stream is half-closed and drained
// until the peer's FIN, so unread bytes never turn the close into a reset (LIBSOUP.md difference 10).

import {spawn, type ChildProcess} from 'node:child_process';
import net from 'node:net';
import test, {type ExecutionContext} from 'ava';
import {WebsocketConnection} from '../../lib/websocket/connection.ts';
import {CloseCode, Opcode, WebsocketConnectionType} from '../../lib/websocket/constants.ts';
import {FrameDecoder} from '../../lib/websocket/frame-decoder.ts';
import {encodeClosePayload, encodeFrame, generateMaskKey} from '../../lib/websocket/frame.ts';
import {withTimeout} from '../helpers/signals.ts';

const masked = (opcode: number, payload: Buffer): Buffer =>
	Buffer.concat(encodeFrame(opcode, payload, {maskKey: generateMaskKey()}));

/** Keeps both cores busy for the length of the test, as a loaded machine would be. */
function spinners(t: ExecutionContext, count = 2): void {
	const children: ChildProcess[] = [];
	for (let i = 0; i < count; i++) {
		children.push(spawn(process.execPath, ['-e', 'const end = Date.now() + 120_000; while (Date.now() < end) {}'], {stdio: 'ignore'}));
	}

	t.teardown(() => {
		for (const child of children) {
			child.kill('SIGKILL');
		}
	});
}

/** An echo server built on WebsocketConnection alone (no HTTP), on 127.0.0.1 port 0. */
async function echoServer(t: ExecutionContext): Promise<{port: number; closes: Promise<number>[]; sockets: net.Socket[]}> {
	const closes: Array<Promise<number>> = [];
	const sockets: net.Socket[] = [];
	const server = net.createServer({allowHalfOpen: true}, socket => {
		sockets.push(socket);
		const connection = new WebsocketConnection({
			ioStream: socket,
			connectionType: WebsocketConnectionType.SERVER,
			uri: new URL('ws://127.0.0.1/'),
			maxIncomingPayloadSize: 0,
		});
		connection.connect('message', (self, type, data) => {
			self.sendMessage(type, data);
		});
		closes.push(connection.closed.then(info => info.code));
	});
	await new Promise<void>(resolve => {
		server.listen(0, '127.0.0.1', resolve);
	});
	t.teardown(() => {
		server.close();
	});
	return {port: (server.address() as net.AddressInfo).port, closes, sockets};
}

interface Received {
	frames: Array<{opcode: number; payload: Buffer}>;
	error: Error | null;
}

/** Writes `burst` in one go, then reads every frame until the server's FIN (or an error). */
async function exchange(port: number, burst: Buffer): Promise<Received> {
	const socket = net.connect({port, host: '127.0.0.1', allowHalfOpen: true});
	const received: Received = {frames: [], error: null};
	const decoder = new FrameDecoder(
		{
			onFrame(_fin, _rsv, opcode, payload) {
				received.frames.push({opcode, payload: Buffer.from(payload)});
			},
			onError(error) {
				received.error = error;
			},
		},
		{role: 'client', maxPayloadSize: 0},
	);
	socket.on('data', (chunk: Buffer) => {
		decoder.push(chunk);
	});
	await new Promise<void>((resolve, reject) => {
		socket.once('connect', resolve);
		socket.once('error', reject);
	});
	socket.write(burst);
	await new Promise<void>(resolve => {
		socket.on('error', error => {
			received.error = error;
			resolve();
		});
		socket.on('end', () => {
			// The server closed its side after its Close: ours follows, as a client does.
			socket.end();
			resolve();
		});
	});
	socket.destroy();
	return received;
}

test('a Close followed by a Ping in one burst: every echo and the server\'s Close arrive, on a busy machine', async t => {
	t.timeout(90_000);
	spinners(t);
	const {port, closes} = await echoServer(t);
	const messages = Array.from({length: 10}, (_, i) => Buffer.alloc(256 * 1024, 0x61 + i));
	const burst = Buffer.concat([
		...messages.map(message => masked(Opcode.TEXT, message)),
		masked(Opcode.CLOSE, encodeClosePayload(CloseCode.NORMAL)),
		masked(Opcode.PING, Buffer.from('after the close')),
	]);
	const iterations = 30;
	const failures: string[] = [];
	for (let i = 0; i < iterations; i++) {
		// eslint-disable-next-line no-await-in-loop -- one connection at a time, as the report did
		const {frames, error} = await withTimeout(exchange(port, burst), 20_000, `iteration ${i}`);
		const echoes = frames.filter(frame => frame.opcode === Opcode.TEXT);
		const last = frames.at(-1);
		const inOrder = echoes.length === messages.length && echoes.every((frame, j) => frame.payload.equals(messages[j]!));
		const closedCleanly = last?.opcode === Opcode.CLOSE && last.payload.readUInt16BE(0) === CloseCode.NORMAL;
		if (error !== null || !inOrder || !closedCleanly || frames.length !== messages.length + 1) {
			failures.push(`iteration ${i}: ${echoes.length} echoes, last opcode ${last?.opcode}, error ${error?.message ?? 'none'}`);
		}
	}

	t.deepEqual(failures, []);
	t.deepEqual(await withTimeout(Promise.all(closes), 10_000, 'the server connections'), Array.from({length: iterations}, () => 1000));
});

test('bytes that arrive after the server has sent its last frame are drained, not answered with a reset', async t => {
	const {port, closes, sockets} = await echoServer(t);
	const messages = Array.from({length: 10}, (_, i) => Buffer.alloc(16 * 1024, 0x61 + i));
	const socket = net.connect({port, host: '127.0.0.1', allowHalfOpen: true});
	t.teardown(() => socket.destroy());
	await new Promise<void>((resolve, reject) => {
		socket.once('connect', resolve);
		socket.once('error', reject);
	});
	// A busy client: it writes its messages and its Close, and reads nothing for a while.
	socket.pause();
	socket.write(Buffer.concat([...messages.map(message => masked(Opcode.TEXT, message)), masked(Opcode.CLOSE, encodeClosePayload(1000))]));
	await withTimeout(
		new Promise(resolve => {
			const check = (): void => {
				if (sockets.length > 0) {
					sockets[0]!.once('finish', resolve);
				} else {
					setImmediate(check);
				}
			};

			check();
		}),
		10_000,
		'the server to end its side',
	);
	// The server's echoes and its Close sit unread in our receive buffer; a Ping follows late.
	socket.write(masked(Opcode.PING, Buffer.from('late')));
	const received: Buffer[] = [];
	let error: Error | null = null;
	socket.on('data', (chunk: Buffer) => received.push(chunk));
	await withTimeout(
		new Promise<void>(resolve => {
			socket.once('error', caught => {
				error = caught;
				resolve();
			});
			socket.once('end', () => {
				socket.end();
				resolve();
			});
			socket.resume();
		}),
		10_000,
		'the end of the server\'s stream',
	);
	t.is(error, null);
	const frames: Array<{opcode: number; payload: Buffer}> = [];
	const decoder = new FrameDecoder(
		{
			onFrame(_fin, _rsv, opcode, payload) {
				frames.push({opcode, payload: Buffer.from(payload)});
			},
			onError(decodeError) {
				t.fail(decodeError.message);
			},
		},
		{role: 'client', maxPayloadSize: 0},
	);
	decoder.push(Buffer.concat(received));
	t.is(frames.length, 11);
	t.true(frames.slice(0, 10).every((frame, i) => frame.opcode === Opcode.TEXT && frame.payload.equals(messages[i]!)));
	t.is(frames[10]!.opcode, Opcode.CLOSE);
	t.is(await withTimeout(closes[0]!, 10_000, 'the server\'s closed'), 1000);
});

test('a reset from the peer while the server drains after a complete close handshake: no error, a clean close', async t => {
	const server = net.createServer({allowHalfOpen: true});
	t.teardown(() => server.close());
	const accepted = new Promise<net.Socket>(resolve => {
		server.once('connection', resolve);
	});
	await new Promise<void>(resolve => {
		server.listen(0, '127.0.0.1', resolve);
	});
	const socket = net.connect({port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true});
	t.teardown(() => socket.destroy());
	const serverSide = await accepted;
	t.teardown(() => serverSide.destroy());
	const connection = new WebsocketConnection({ioStream: serverSide, connectionType: WebsocketConnectionType.SERVER, uri: new URL('ws://127.0.0.1/')});
	const errors: Error[] = [];
	connection.connect('error', (_self, error) => errors.push(error));
	const ended = new Promise<void>(resolve => {
		serverSide.once('finish', resolve);
	});
	socket.write(masked(Opcode.CLOSE, encodeClosePayload(1000)));
	// The server has echoed the Close and ended its side: it drains, waiting for our FIN. We reset instead.
	await withTimeout(ended, 5000, 'the server to end its side');
	socket.resetAndDestroy();
	const info = await withTimeout(connection.closed, 5000, 'closed');
	t.deepEqual(errors.map(error => error.message), []);
	t.is(info.code, 1000);
	t.true(info.wasClean);
});
