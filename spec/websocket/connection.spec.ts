import test from 'ava';
import {WebsocketConnection} from '../../lib/websocket/connection.ts';
import {CloseCode, WebsocketConnectionType, WebsocketDataType, WebsocketState} from '../../lib/websocket/constants.ts';
import {WebsocketError} from '../../lib/websocket/errors.ts';
import {encodeFrame, generateMaskKey} from '../../lib/websocket/frame.ts';
import {WebsocketFramer} from '../../lib/websocket/framer.ts';
import {duplexPair} from '../helpers/duplex-pair.ts';
import {both, connectionPair, rawPeer, streamPair} from '../helpers/modes.ts';
import {until, waitForSignal, withTimeout} from '../helpers/signals.ts';

const uri = new URL('ws://127.0.0.1/');

test('properties: defaults and flags as libsoup declares them', t => {
	const [a] = duplexPair();
	const conn = new WebsocketConnection({ioStream: a, connectionType: WebsocketConnectionType.CLIENT, uri});
	t.is(conn.getState(), WebsocketState.OPEN);
	t.is(conn.getProperty('state'), WebsocketState.OPEN);
	t.is(conn.getConnectionType(), WebsocketConnectionType.CLIENT);
	t.is(conn.getIoStream(), a);
	t.is(conn.getUri(), uri);
	t.is(conn.getOrigin(), null);
	t.is(conn.getProtocol(), null);
	t.deepEqual(conn.getExtensions(), []);
	t.is(conn.keepaliveInterval, 0);
	t.is(conn.keepalivePongTimeout, 0);
	t.is(conn.maxIncomingPayloadSize, 131_072);
	t.is(conn.maxTotalMessageSize, 0);
	t.is(conn.maxIncomingFragments, 4096);
	t.is(conn.maxBufferedAmount, 0); // a client's default; a server's is 1 MiB
	t.is(conn.getProperty('close-timeout'), 5000); // libsoup's fixed 5 s
	t.is(conn.getCloseCode(), 0);
	t.is(conn.getCloseData(), null);
	t.deepEqual(
		WebsocketConnection.listProperties().map(spec => spec.name),
		[
			'connection-type',
			'io-stream',
			'uri',
			'origin',
			'protocol',
			'extensions',
			'state',
			'keepalive-interval',
			'keepalive-pong-timeout',
			'max-incoming-payload-size',
			'max-total-message-size',
			'max-incoming-fragments',
			'max-buffered-amount',
			'close-timeout',
			'idle-timeout',
			'latency',
		],
	);
	t.is(conn.idleTimeout, 0);
	t.is(conn.latency, 0);
	a.destroy();
});

test('properties: construct-only ones are fixed, settable ones notify on change only', t => {
	const [a] = duplexPair();
	const conn = new WebsocketConnection({
		ioStream: a,
		connectionType: WebsocketConnectionType.SERVER,
		uri,
		origin: 'http://example.test',
		protocol: 'chat',
		maxIncomingPayloadSize: 10,
	});
	t.is(conn.getOrigin(), 'http://example.test');
	t.is(conn.getProtocol(), 'chat');
	t.is(conn.getMaxIncomingPayloadSize(), 10);
	const seen: string[] = [];
	conn.connect('notify', (_self, pspec) => seen.push(pspec.name));
	conn.setMaxIncomingPayloadSize(10);
	conn.setMaxIncomingPayloadSize(20);
	conn.maxTotalMessageSize = 100;
	conn.keepalivePongTimeout = 3;
	t.deepEqual(seen, ['max-incoming-payload-size', 'max-total-message-size', 'keepalive-pong-timeout']);
	t.throws(() => conn.setProperty('protocol' as never, 'x' as never), {
		instanceOf: TypeError,
		message: "WebsocketConnection: construct-only property 'protocol' can't be set after construction",
	});
	t.throws(() => conn.setKeepaliveInterval(-1), {instanceOf: TypeError, message: /property 'keepalive-interval'/});
	a.destroy();
});

test('construction: the stream, the URI and a known type are required', t => {
	const [a] = duplexPair();
	t.throws(() => new WebsocketConnection({connectionType: WebsocketConnectionType.CLIENT, uri}), {
		instanceOf: TypeError,
		message: 'Expected `ioStream` to be a Duplex stream, got `null`',
	});
	t.throws(() => new WebsocketConnection({ioStream: a, connectionType: WebsocketConnectionType.CLIENT}), {
		message: 'Expected `uri` to be a URL, got `null`',
	});
	t.throws(() => new WebsocketConnection({ioStream: a, uri}), {
		message: 'Expected `connectionType` to be CLIENT or SERVER, got UNKNOWN',
	});
	t.throws(() => new WebsocketConnection({ioStream: 'x' as never, connectionType: 1, uri}), {
		message: /invalid value `"x"` for property 'io-stream'/,
	});
	a.destroy();
});

for (const size of [0, 1, 125, 126, 65_535, 65_536, 16 * 1024 * 1024]) {
	both(`send-receive: binary of ${size} bytes both ways`, async (t, mode) => {
		const limits = {maxIncomingPayloadSize: 0};
		const {client, server} = await connectionPair(t, mode, limits, limits);
		const payload = Buffer.alloc(size);
		for (let i = 0; i < size; i += 997) {
			payload[i] = i & 0xff;
		}

		client.sendBinary(payload);
		const [type, data] = await waitForSignal(server, 'message', 20_000);
		t.is(type, WebsocketDataType.BINARY);
		t.true(payload.equals(data));
		server.sendBinary(data);
		const [, echoed] = await waitForSignal(client, 'message', 20_000);
		t.true(payload.equals(echoed));
	});
}

both('send-receive: text with multi-byte UTF-8, in order', async (t, mode) => {
	const {client, server} = await connectionPair(t, mode);
	const texts = ['', 'hello', 'héllo wörld', '日本語テキスト', '🎉'.repeat(40)];
	const received: string[] = [];
	server.connect('message', (_self, type, data) => {
		t.is(type, WebsocketDataType.TEXT);
		received.push(data.toString('utf8'));
	});
	for (const text of texts) {
		client.sendText(text);
	}

	await withTimeout(
		new Promise<void>(resolve => {
			server.connect('message', () => received.length === texts.length && resolve());
		}),
	);
	t.deepEqual(received, texts);
});

both('send: sendMessage checks its type and UTF-8; send calls check their arguments', async (t, mode) => {
	const {client, server} = await connectionPair(t, mode);
	t.throws(() => client.sendMessage(7 as never, Buffer.from('x')), {instanceOf: TypeError});
	t.throws(() => client.sendMessage(WebsocketDataType.TEXT, Buffer.from([0xff])), {
		instanceOf: TypeError,
		message: 'Expected `data` of a TEXT message to be valid UTF-8',
	});
	t.throws(() => client.sendText(5 as never), {instanceOf: TypeError, message: 'Expected `text` to be a string, got `number`'});
	t.throws(() => client.sendBinary('x' as never), {instanceOf: TypeError});
	t.throws(() => client.ping(Buffer.alloc(126)), {instanceOf: RangeError});
	client.sendMessage(WebsocketDataType.TEXT, new TextEncoder().encode('ok'));
	const [type, data] = await waitForSignal(server, 'message');
	t.is(type, WebsocketDataType.TEXT);
	t.is(data.toString(), 'ok');
	client.sendBinary(new Uint16Array([1, 2]).buffer);
	const [, bytes] = await waitForSignal(server, 'message');
	t.is(bytes.length, 4);
});

both('ping: the peer answers with a pong carrying the payload', async (t, mode) => {
	const {client, server} = await connectionPair(t, mode);
	client.ping('are you there');
	const [data] = await waitForSignal(client, 'pong');
	t.is(data.toString(), 'are you there');
	server.ping(Buffer.from([1, 2, 3]));
	const [bytes] = await waitForSignal(server, 'pong');
	t.deepEqual([...bytes], [1, 2, 3]);
});

both('fragments: reassembled, with control frames in between', async (t, mode) => {
	const {connection, raw} = await rawPeer(t, mode, WebsocketConnectionType.SERVER);
	const key = generateMaskKey;
	raw.write(Buffer.concat(encodeFrame(0x1, Buffer.from('hel'), {fin: false, maskKey: key()})));
	raw.write(Buffer.concat(encodeFrame(0x9, Buffer.from('ping!'), {maskKey: key()}))); // PING between fragments
	raw.write(Buffer.concat(encodeFrame(0x0, Buffer.from('lo '), {fin: false, maskKey: key()})));
	raw.write(Buffer.concat(encodeFrame(0x0, Buffer.from('wörld'), {maskKey: key()})));
	const [type, data] = await waitForSignal(connection, 'message');
	t.is(type, WebsocketDataType.TEXT);
	t.is(data.toString(), 'hello wörld');
});

both('bufferedAmount counts bytes not yet written; all arrive in order after a slow reader resumes', async (t, mode) => {
	const {client, server} = await connectionPair(t, mode);
	server.getIoStream().pause();
	const chunk = Buffer.alloc(64 * 1024, 7);
	let sent = 0;
	// Bounded: stop once the transport pushes back or after 256 messages (16 MiB).
	while (sent < 256 && client.bufferedAmount < 4 * 1024 * 1024) {
		chunk.writeUInt32BE(sent, 0);
		client.sendBinary(chunk);
		sent++;
	}

	t.true(client.bufferedAmount > 0);
	const received: number[] = [];
	const done = new Promise<void>(resolve => {
		server.connect('message', (_self, _type, data) => {
			received.push(data.readUInt32BE(0));
			if (received.length === sent) {
				resolve();
			}
		});
	});
	server.getIoStream().resume();
	await withTimeout(done, 20_000);
	t.deepEqual(
		received,
		Array.from({length: sent}, (_, i) => i),
	);
	await until(() => client.bufferedAmount === 0);
	t.is(client.bufferedAmount, 0);
});

both('for await: yields messages in order and pauses the stream while the consumer lags', async (t, mode) => {
	const {client, server} = await connectionPair(t, mode);
	const count = 100;
	for (let i = 0; i < count; i++) {
		client.sendText(`m${i}`);
	}

	const seen: string[] = [];
	let sawPause = false;
	const iterate = async (): Promise<void> => {
		for await (const message of server) {
			seen.push(message.data.toString());
			if (seen.length === 1) {
				// A consumer that lags: everything is sent before it takes the second message, and
				// the stream is paused meanwhile.
				await until(() => client.bufferedAmount === 0, 5000, 'the client to flush');
				await until(() => server.getIoStream().isPaused(), 5000, 'the stream to pause');
				sawPause = true;
			}

			if (seen.length === count) {
				client.close(1000, 'done');
			}
		}
	};

	await withTimeout(iterate(), 10_000, 'iteration');
	t.is(seen.length, count);
	t.is(seen[0], 'm0');
	t.is(seen.at(-1), `m${count - 1}`);
	t.true(sawPause);
	t.is(server.getCloseCode(), 1000);
});

both('for await: throws the error that closed the connection', async (t, mode) => {
	const {connection, raw} = await rawPeer(t, mode, WebsocketConnectionType.SERVER);
	raw.write(Buffer.concat(encodeFrame(0x1, Buffer.from([0xc3, 0x28]), {maskKey: generateMaskKey()}))); // invalid UTF-8
	const error = await t.throwsAsync(async () => {
		for await (const _message of connection) {
			t.fail('no message expected');
		}
	});
	t.true(error instanceof WebsocketError);
	t.is((error as WebsocketError).code, CloseCode.BAD_DATA);
});

test('for await: one iterator at a time', async t => {
	const [a, b] = duplexPair();
	const conn = new WebsocketConnection({ioStream: a, connectionType: WebsocketConnectionType.CLIENT, uri});
	const first = conn[Symbol.asyncIterator]();
	const pending = first.next();
	await t.throwsAsync(async () => conn[Symbol.asyncIterator]().next(), {
		instanceOf: TypeError,
		message: 'WebsocketConnection: already being iterated',
	});
	b.destroy();
	t.deepEqual(await withTimeout(pending), {done: true, value: undefined});
});

both('a server frame is never masked, a client frame always is', async (t, mode) => {
	const {connection: server, raw: fromServer, received: serverBytes} = await rawPeer(t, mode, WebsocketConnectionType.SERVER);
	const {connection: client, received: clientBytes} = await rawPeer(t, mode, WebsocketConnectionType.CLIENT);
	server.sendText('abc');
	client.sendText('abc');
	await until(() => serverBytes().length >= 5 && clientBytes().length >= 9);
	t.is(serverBytes().toString('hex'), '8103616263'); // FIN+TEXT, len 3, unmasked
	t.is(clientBytes()[1], 0x80 | 3); // MASK bit + len 3
	const frames = new WebsocketFramer({mode: 'server'}).readFrames(clientBytes());
	t.is(frames[0]!.payload.toString(), 'abc');
	void fromServer;
});

test('a second connection on a stream that already has one throws, and the first is untouched', async t => {
	const {client, server} = await connectionPair(t, 'tcp');
	const stream = server.getIoStream();
	t.throws(
		() => new WebsocketConnection({ioStream: stream, connectionType: WebsocketConnectionType.SERVER, uri: new URL('ws://127.0.0.1/')}),
		{instanceOf: TypeError, message: /ioStream.*already/},
	);
	const received: string[] = [];
	server.connect('message', (_self, _type, data) => received.push(data.toString()));
	client.sendText('once');
	await until(() => received.length > 0, 5000, 'the message');
	client.close(1000);
	await withTimeout(server.closed);
	t.deepEqual(received, ['once']);
});

test('reading starts from an immediate of its own: one queued before the connection was made still runs first, though another connection was made in the same turn', async t => {
	const [[ourA, peerA], [ourB, peerB]] = await Promise.all([streamPair(t, 'tcp'), streamPair(t, 'tcp')]);
	// Each peer's message is there before its connection is made.
	for (const [peer, text] of [[peerA, 'a'], [peerB, 'b']] as const) {
		peer.write(Buffer.concat(encodeFrame(0x1, Buffer.from(text), {maskKey: generateMaskKey()})));
	}

	await until(() => ourA.readableLength > 0 && ourB.readableLength > 0, 5000, 'the bytes on both sockets');
	const received: string[] = [];
	const a = new WebsocketConnection({ioStream: ourA, connectionType: WebsocketConnectionType.SERVER, uri});
	a.connect('message', (_self, _type, data) => received.push(data.toString()));
	let b: WebsocketConnection | undefined;
	// Queued before b is made: b's handler is connected before b reads.
	setImmediate(() => {
		b!.connect('message', (_self, _type, data) => received.push(data.toString()));
	});
	b = new WebsocketConnection({ioStream: ourB, connectionType: WebsocketConnectionType.SERVER, uri});
	await until(() => received.length === 2, 5000, 'both messages');
	t.deepEqual(received.sort(), ['a', 'b']);
});
