// Limits at the defaults: a limit answers with a Close 1009 that says why, a flood of fragments costs
// about its bytes, and a peer that never reads cannot make the connection buffer without bound.

import net from 'node:net';
import zlib from 'node:zlib';
import test, {type ExecutionContext} from 'ava';
import {WebsocketConnection} from '../../lib/websocket/connection.ts';
import {CloseCode, Opcode, WebsocketConnectionType} from '../../lib/websocket/constants.ts';
import {WebsocketError} from '../../lib/websocket/errors.ts';
import {WebsocketExtensionDeflate} from '../../lib/websocket/extensions/deflate.ts';
import {encodeFrame, generateMaskKey} from '../../lib/websocket/frame.ts';
import {WebsocketFramer} from '../../lib/websocket/framer.ts';
import {both, rawPeer, streamPair} from '../helpers/modes.ts';
import {until, withTimeout} from '../helpers/signals.ts';

const masked = (opcode: number, payload: Buffer, options: {fin?: boolean; rsv?: number} = {}): Buffer =>
	Buffer.concat(encodeFrame(opcode, payload, {...options, maskKey: generateMaskKey()}));

function deflate(): WebsocketExtensionDeflate {
	const extension = new WebsocketExtensionDeflate();
	extension.configure(WebsocketConnectionType.SERVER, new Map());
	return extension;
}

/** Records the signals of the side that hits the limit. */
function record(connection: WebsocketConnection): string[] {
	const events: string[] = [];
	connection.connect('error', (_self, error) => events.push(`error ${(error as WebsocketError).code}`));
	connection.connect('closing', () => events.push('closing'));
	connection.connect('closed', () => events.push('closed'));
	return events;
}

/** The peer's view: the frames it received, and whether the stream then ended (FIN) rather than being reset. */
async function peerSees(received: () => Buffer, ended: Promise<void>): Promise<number[]> {
	await withTimeout(ended, 5000, 'the end of the stream');
	return new WebsocketFramer({mode: 'client'}).readFrames(received()).map(frame =>
		frame.opcode === Opcode.CLOSE ? frame.payload.readUInt16BE(0) : -frame.opcode,
	);
}

both('a frame over max-incoming-payload-size: error 1009 naming the limit and the size, then a Close 1009 and FIN', async (t, mode) => {
	const {connection, raw, received, ended} = await rawPeer(t, mode, WebsocketConnectionType.SERVER);
	const events = record(connection);
	let error: WebsocketError | undefined;
	connection.connect('error', (_self, caught) => {
		error = caught as WebsocketError;
	});
	// A masked binary frame announcing 200,000 bytes, and some of them: the rest never comes.
	raw.write(Buffer.concat([Buffer.from([0x82, 0xff, 0, 0, 0, 0, 0, 0x03, 0x0d, 0x40, 1, 2, 3, 4]), Buffer.alloc(1000)]));
	t.deepEqual(await peerSees(received, ended), [CloseCode.TOO_BIG]);
	await withTimeout(connection.closed);
	t.deepEqual(events, ['error 1009', 'closed']);
	t.is(error?.reason, 'WS_ERR_PAYLOAD_TOO_BIG');
	t.regex(error!.message, /larger than configured max-incoming-payload-size/);
	t.regex(error!.message, /200000 bytes/);
	t.regex(error!.message, /131072/);
});

both('a message over max-total-message-size in small fragments: a Close 1009 and FIN', async (t, mode) => {
	const {connection, raw, received, ended} = await rawPeer(t, mode, WebsocketConnectionType.SERVER, {maxTotalMessageSize: 10_000});
	const events = record(connection);
	let error: WebsocketError | undefined;
	connection.connect('error', (_self, caught) => {
		error = caught as WebsocketError;
	});
	const fragments = [masked(Opcode.BINARY, Buffer.alloc(4000), {fin: false})];
	for (let i = 0; i < 5; i++) {
		fragments.push(masked(Opcode.CONTINUATION, Buffer.alloc(4000), {fin: false}));
	}

	raw.write(Buffer.concat(fragments));
	t.deepEqual(await peerSees(received, ended), [CloseCode.TOO_BIG]);
	await withTimeout(connection.closed);
	t.deepEqual(events, ['error 1009', 'closed']);
	t.is(error?.reason, 'WS_ERR_MESSAGE_TOO_BIG');
	t.regex(error!.message, /max-total-message-size/);
	t.regex(error!.message, /12000 bytes/);
	t.regex(error!.message, /10000/);
});

both('a deflated message that inflates past the limit: a Close 1009 and FIN, not a reset', async (t, mode) => {
	const {connection, raw, received, ended} = await rawPeer(t, mode, WebsocketConnectionType.SERVER, {
		extensions: [deflate()],
		maxTotalMessageSize: 128 * 1024,
	});
	const events = record(connection);
	const bomb = zlib.deflateRawSync(Buffer.alloc(16 * 1024 * 1024), {finishFlush: zlib.constants.Z_SYNC_FLUSH}).subarray(0, -4);
	t.true(bomb.length < 128 * 1024);
	raw.write(masked(Opcode.BINARY, bomb, {rsv: 0x40}));
	t.deepEqual(await peerSees(received, ended), [CloseCode.TOO_BIG]);
	await withTimeout(connection.closed);
	t.deepEqual(events, ['error 1009', 'closed']);
});

test('websoup to websoup: the sender of a message over the limit gets the Close 1009, with clean signals', async t => {
	const [a, b] = await streamPair(t, 'tcp');
	const uri = new URL('ws://127.0.0.1/');
	const client = new WebsocketConnection({ioStream: a, connectionType: WebsocketConnectionType.CLIENT, uri});
	const server = new WebsocketConnection({ioStream: b, connectionType: WebsocketConnectionType.SERVER, uri});
	const clientEvents = record(client);
	client.sendBinary(Buffer.alloc(200_000));
	const [clientInfo, serverInfo] = await withTimeout(Promise.all([client.closed, server.closed]));
	t.is(clientInfo.code, CloseCode.TOO_BIG);
	t.is(clientInfo.error, null);
	t.deepEqual(clientEvents, ['closing', 'closed']);
	t.is(serverInfo.code, 0);
	t.true(serverInfo.error instanceof WebsocketError);
});

// --- Fragments --------------------------------------------------------------------------------

test('max-incoming-fragments: a property with a default, checked like the other limits', t => {
	const [a] = [new net.Socket()];
	const connection = new WebsocketConnection({ioStream: a, connectionType: WebsocketConnectionType.SERVER, uri: new URL('ws://x/')});
	t.teardown(() => a.destroy());
	t.is(connection.maxIncomingFragments, 4096);
	t.is(connection.getProperty('max-incoming-fragments'), 4096);
	connection.maxIncomingFragments = 10;
	t.is(connection.getMaxIncomingFragments(), 10);
	t.throws(() => connection.setProperty('max-incoming-fragments', -1), {instanceOf: TypeError, message: /max-incoming-fragments/});
});

both('a message in more fragments than max-incoming-fragments fails with 1009 naming the limit', async (t, mode) => {
	const {connection, raw, received, ended} = await rawPeer(t, mode, WebsocketConnectionType.SERVER, {
		maxIncomingFragments: 100,
		maxTotalMessageSize: 0,
	});
	const events = record(connection);
	let error: WebsocketError | undefined;
	connection.connect('error', (_self, caught) => {
		error = caught as WebsocketError;
	});
	const frames = [masked(Opcode.TEXT, Buffer.from('a'), {fin: false})];
	for (let i = 0; i < 150; i++) {
		frames.push(masked(Opcode.CONTINUATION, Buffer.from('a'), {fin: false}));
	}

	raw.write(Buffer.concat(frames));
	t.deepEqual(await peerSees(received, ended), [CloseCode.TOO_BIG]);
	await withTimeout(connection.closed);
	t.deepEqual(events, ['error 1009', 'closed']);
	t.is(error?.reason, 'WS_ERR_TOO_MANY_FRAGMENTS');
	t.regex(error!.message, /max-incoming-fragments \(limit 100\)/);
});

both('a message of many small fragments arrives whole, in order, at the limit exactly', async (t, mode) => {
	const {connection, raw} = await rawPeer(t, mode, WebsocketConnectionType.SERVER, {maxIncomingFragments: 1000});
	const expected = Buffer.alloc(1000);
	const frames: Buffer[] = [];
	for (let i = 0; i < 1000; i++) {
		expected[i] = i & 0xff;
		frames.push(masked(i === 0 ? Opcode.BINARY : Opcode.CONTINUATION, Buffer.from([i & 0xff]), {fin: i === 999}));
	}

	const message = new Promise<Buffer>(resolve => {
		connection.connect('message', (_self, _type, data) => resolve(data));
	});
	raw.write(Buffer.concat(frames));
	t.true((await withTimeout(message)).equals(expected));
});

// --- A peer that never reads --------------------------------------------------------------------

test('max-buffered-amount: 1 MiB by default on a server, 0 on a client; 0 turns it off', t => {
	const socket = new net.Socket();
	t.teardown(() => socket.destroy());
	const connection = new WebsocketConnection({ioStream: socket, connectionType: WebsocketConnectionType.SERVER, uri: new URL('ws://x/')});
	t.is(connection.maxBufferedAmount, 1024 * 1024);
	connection.maxBufferedAmount = 0;
	t.is(connection.getMaxBufferedAmount(), 0);
	const clientSocket = new net.Socket();
	t.teardown(() => clientSocket.destroy());
	const client = new WebsocketConnection({ioStream: clientSocket, connectionType: WebsocketConnectionType.CLIENT, uri: new URL('ws://x/')});
	t.is(client.maxBufferedAmount, 0);
	const chosen = new net.Socket();
	t.teardown(() => chosen.destroy());
	t.is(
		new WebsocketConnection({ioStream: chosen, connectionType: WebsocketConnectionType.CLIENT, uri: new URL('ws://x/'), maxBufferedAmount: 2048})
			.maxBufferedAmount,
		2048,
	);
});

both('max-buffered-amount below the stream\'s own high-water mark: an echo past it does not stop reading for good', async (t, mode) => {
	// 4 KiB: below the 16 KiB past which the stream asks for 'drain', so none may come.
	const {connection, raw, received} = await rawPeer(t, mode, WebsocketConnectionType.SERVER, {maxBufferedAmount: 4096});
	t.true(connection.getIoStream().writableHighWaterMark > 6000);
	let messages = 0;
	connection.connect('message', (self, _type, data) => {
		messages++;
		self.sendBinary(Buffer.alloc(6000, data[0]));
	});
	raw.write(masked(Opcode.BINARY, Buffer.from([1])));
	await until(() => received().length >= 6004, 5000, 'the first echo');
	raw.write(masked(Opcode.BINARY, Buffer.from([2])));
	await until(() => messages === 2, 5000, 'the second message to be read');
	await until(() => received().length >= 2 * 6004, 5000, 'the second echo');
	t.is(received().length, 2 * 6004);
});

/** A raw TCP peer of an echo server that writes `frame` until the server stops reading, never reading itself. */
async function floodNeverReading(
	t: ExecutionContext,
	frame: Buffer,
	maxBytes: number,
): Promise<{server: WebsocketConnection; peer: net.Socket; sent: number; peakBuffered: number}> {
	const [peerStream, serverSide] = await streamPair(t, 'tcp');
	const peer = peerStream as net.Socket;
	const server = new WebsocketConnection({
		ioStream: serverSide,
		connectionType: WebsocketConnectionType.SERVER,
		uri: new URL('ws://127.0.0.1/'),
	});
	let peakBuffered = 0;
	server.connect('message', (self, type, data) => {
		self.sendMessage(type, data);
		peakBuffered = Math.max(peakBuffered, self.bufferedAmount);
	});
	peer.pause();
	// The connection starts reading from an immediate after its construction.
	await until(() => !serverSide.isPaused(), 5000, 'the server to start reading');
	let sent = 0;
	let stopped = false;
	while (sent < maxBytes && !stopped) {
		sent += frame.length;
		if (!peer.write(frame)) {
			// Wait for room, unless the server has stopped reading from its stream.
			// eslint-disable-next-line no-await-in-loop -- one write at a time
			stopped = await Promise.race([
				new Promise<boolean>(resolve => {
					peer.once('drain', () => resolve(false));
				}),
				until(() => serverSide.isPaused(), 30_000, 'the server to stop reading').then(() => true),
			]);
		}

		peakBuffered = Math.max(peakBuffered, server.bufferedAmount);
	}

	return {server, peer, sent, peakBuffered};
}

test('an echo peer that never reads: the server stops reading past max-buffered-amount, then delivers everything once it reads', async t => {
	t.timeout(60_000);
	const frame = masked(Opcode.BINARY, Buffer.alloc(64 * 1024, 7));
	const {server, peer, sent, peakBuffered} = await floodNeverReading(t, frame, 100 * 1024 * 1024);
	t.log(`sent ${sent} bytes; server peak bufferedAmount ${peakBuffered}`);
	t.true(sent < 100 * 1024 * 1024, 'the server stopped reading');
	t.true(peakBuffered <= 1024 * 1024 + 2 * 64 * 1024, `peak bufferedAmount ${peakBuffered}`);
	// Now read: every echo arrives.
	let bytes = 0;
	peer.on('data', (chunk: Buffer) => {
		bytes += chunk.length;
	});
	peer.resume();
	const echoLength = frame.length - 4; // unmasked: no masking key
	await until(() => bytes >= (sent / frame.length) * echoLength, 30_000, 'every echo');
	t.is(bytes, (sent / frame.length) * echoLength);
	t.is(server.getState(), 1);
});

test('a peer that sends Pings and never reads: reading stops, and unsent Pongs are coalesced', async t => {
	t.timeout(60_000);
	const ping = masked(Opcode.PING, Buffer.alloc(125, 1));
	const burst = Buffer.concat(Array.from({length: 1000}, () => ping));
	const {server, sent, peakBuffered} = await floodNeverReading(t, burst, 200_000 * ping.length);
	t.log(`sent ${sent} bytes of Pings; server bufferedAmount at most ${peakBuffered}`);
	// Either reading stopped, or the Pongs coalesced: the server holds little either way.
	t.true(peakBuffered <= 1024 * 1024 + 128 * 1024, `bufferedAmount ${peakBuffered}`);
	t.true(server.bufferedAmount <= 1024 * 1024 + 128 * 1024, `bufferedAmount ${server.bufferedAmount}`);
});

test('Pongs that cannot be sent yet are coalesced: a few wait, the last with the newest Ping\'s payload', async t => {
	t.timeout(60_000);
	const [peerStream, serverSide] = await streamPair(t, 'tcp');
	const peer = peerStream as net.Socket;
	const server = new WebsocketConnection({
		ioStream: serverSide,
		connectionType: WebsocketConnectionType.SERVER,
		uri: new URL('ws://127.0.0.1/'),
		maxIncomingPayloadSize: 0,
		maxBufferedAmount: 0, // reading never stops: the queue itself must stay small
	});
	const marks: number[] = [];
	server.connect('message', (self, type, data) => {
		self.sendMessage(type, data);
		marks.push(self.bufferedAmount);
	});
	peer.pause();
	// An echo far larger than the socket buffers: the server's frames then wait for 'drain'.
	peer.write(masked(Opcode.BINARY, Buffer.alloc(16 * 1024 * 1024)));
	await until(() => marks.length === 1, 30_000, 'the large echo');
	const pings = Array.from({length: 1000}, (_, i) => masked(Opcode.PING, Buffer.from(`ping ${i}`)));
	peer.write(Buffer.concat([...pings, masked(Opcode.TEXT, Buffer.from('marker'))]));
	await until(() => marks.length === 2, 30_000, 'the marker');
	// The marker's echo (8 bytes) and at most eight Pongs (2 + 8 bytes each) were added.
	t.true(marks[1]! - marks[0]! <= 8 + 8 * 10 + 2, `${marks[1]! - marks[0]!} bytes added`);
	const pongs: string[] = [];
	const decoder = new WebsocketFramer({mode: 'client', maxPayloadSize: 0});
	const chunks: Buffer[] = [];
	peer.on('data', (chunk: Buffer) => chunks.push(chunk));
	peer.resume();
	// The echo (16 MiB and a 10-byte header), seven Pongs of 'ping 0'…'ping 6', one of 'ping 999', the marker.
	const expected = 16 * 1024 * 1024 + 10 + 7 * (2 + 6) + (2 + 8) + (2 + 6);
	await until(() => chunks.reduce((sum, chunk) => sum + chunk.length, 0) >= expected, 30_000, 'everything');
	for (const frame of decoder.readFrames(Buffer.concat(chunks))) {
		if (frame.opcode === Opcode.PONG) {
			pongs.push(frame.payload.toString());
		}
	}

	// The first seven are answered as they are (a keepalive peer that times each Ping sees its
	// Pongs); the eighth takes the payload of each later Ping, so 1000 Pings cost eight Pongs.
	t.deepEqual(pongs, ['ping 0', 'ping 1', 'ping 2', 'ping 3', 'ping 4', 'ping 5', 'ping 6', 'ping 999']);
	t.is(chunks.reduce((sum, chunk) => sum + chunk.length, 0), expected);
});
