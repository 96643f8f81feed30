import {randomBytes} from 'node:crypto';
import http from 'node:http';
import type {AddressInfo} from 'node:net';
import zlib from 'node:zlib';
import test from 'ava';
import {WebSocket, WebSocketServer} from 'ws';
import {addWebsocketHandler} from '../../lib/node/server.ts';
import {websocketConnect} from '../../lib/node/client.ts';
import type {WebsocketConnection} from '../../lib/websocket/connection.ts';
import {CloseCode, WebsocketConnectionType, WebsocketDataType} from '../../lib/websocket/constants.ts';
import {WebsocketError, WebsocketErrorCode, type WebsocketErrorReason} from '../../lib/websocket/errors.ts';
import {WebsocketExtensionDeflate} from '../../lib/websocket/extensions/deflate.ts';
import {Limiter} from '../../lib/websocket/extensions/limiter.ts';
import {encodeFrame, generateMaskKey} from '../../lib/websocket/frame.ts';
import {WebsocketFramer} from '../../lib/websocket/framer.ts';
import {clientPrepareHandshake, clientVerifyHandshake, serverProcessHandshake} from '../../lib/websocket/handshake.ts';
import {Message} from '../../lib/http/message.ts';
import {both, connectionPair, rawPeer} from '../helpers/modes.ts';
import {until, waitForSignal, withTimeout} from '../helpers/signals.ts';

const params = (entries: Array<[string, string | null]>): Map<string, string | null> => new Map(entries);

function configured(type: WebsocketConnectionType, entries: Array<[string, string | null]>): WebsocketExtensionDeflate {
	const extension = new WebsocketExtensionDeflate();
	extension.configure(type, params(entries));
	return extension;
}

/** A compressible text of `size` bytes. */
function prose(size: number): string {
	const words = ['websocket', 'frame', 'deflate', 'libsoup', 'signal', 'property', 'héllo', '日本'];
	let text = '';
	for (let i = 0; text.length < size; i++) {
		text += `${words[i % words.length]} `;
	}

	return text.slice(0, size);
}

/** Raw deflate with a sync flush and the 00 00 ff ff trailer removed, as RFC 7692 §7.2.1 sends it. */
function compress(data: Buffer): Buffer {
	const out = zlib.deflateRawSync(data, {finishFlush: zlib.constants.Z_SYNC_FLUSH});
	return out.subarray(0, -4);
}

test('configure: each parameter, and libsoup\'s errors for unknown ones and bad values', t => {
	t.is(configured(WebsocketConnectionType.SERVER, []).getResponseParams(), null);
	t.is(
		configured(WebsocketConnectionType.SERVER, [['client_max_window_bits', null]]).getResponseParams(),
		'; client_max_window_bits=15',
	);
	t.is(
		configured(WebsocketConnectionType.SERVER, [
			['client_max_window_bits', '10'],
			['server_max_window_bits', '12'],
			['client_no_context_takeover', null],
			['server_no_context_takeover', null],
		]).getResponseParams(),
		'; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=10',
	);
	const bad: Array<[Array<[string, string | null]>, string]> = [
		[[['foo', null]], "Invalid parameter 'foo' in permessage-deflate extension header"],
		[[['server_max_window_bits', null]], "Invalid value of parameter 'server_max_window_bits' in permessage-deflate extension header"],
		[[['server_max_window_bits', '7']], "Invalid value of parameter 'server_max_window_bits' in permessage-deflate extension header"],
		[[['client_max_window_bits', '16']], "Invalid value of parameter 'client_max_window_bits' in permessage-deflate extension header"],
		[[['client_max_window_bits', '9x']], "Invalid value of parameter 'client_max_window_bits' in permessage-deflate extension header"],
		[[['server_no_context_takeover', '1']], "Invalid value of parameter 'server_no_context_takeover' in permessage-deflate extension header"],
	];
	for (const [entries, message] of bad) {
		const error = t.throws(() => configured(WebsocketConnectionType.SERVER, entries), {instanceOf: WebsocketError, message});
		t.is(error?.code, WebsocketErrorCode.BAD_HANDSHAKE);
	}
});

test('handshake: the client offers "; client_max_window_bits", the server answers with a value', t => {
	const msg = new Message('GET', 'ws://127.0.0.1/');
	clientPrepareHandshake(msg, null, null, [WebsocketExtensionDeflate]);
	t.is(msg.requestHeaders.getOne('Sec-WebSocket-Extensions'), 'permessage-deflate; client_max_window_bits');
	const result = serverProcessHandshake(msg, null, null, [WebsocketExtensionDeflate]);
	t.true(result.accepted);
	t.is(msg.responseHeaders.getOne('Sec-WebSocket-Extensions'), 'permessage-deflate; client_max_window_bits=15');
	const accepted = clientVerifyHandshake(msg, [WebsocketExtensionDeflate]);
	t.is(accepted.length, 1);
	t.true(accepted[0] instanceof WebsocketExtensionDeflate);
});

for (const [name, serverParams] of [
	['context takeover', []],
	['no context takeover, 9-bit windows', [
		['server_no_context_takeover', null],
		['client_no_context_takeover', null],
		['server_max_window_bits', '9'],
		['client_max_window_bits', '9'],
	]],
	['8-bit windows', [['server_max_window_bits', '8'], ['client_max_window_bits', '8']]],
] as Array<[string, Array<[string, string | null]>]>) {
	both(`messages round-trip compressed (${name})`, async (t, mode) => {
		const {client, server} = await connectionPair(
			t,
			mode,
			{extensions: [configured(WebsocketConnectionType.CLIENT, serverParams)], maxIncomingPayloadSize: 0},
			{extensions: [configured(WebsocketConnectionType.SERVER, serverParams)], maxIncomingPayloadSize: 0},
		);
		const messages: Array<[WebsocketDataType, Buffer]> = [
			[WebsocketDataType.TEXT, Buffer.from(prose(10_000))],
			[WebsocketDataType.BINARY, randomBytes(70_000)],
			[WebsocketDataType.TEXT, Buffer.from('')],
			[WebsocketDataType.TEXT, Buffer.from(prose(10_000))],
			[WebsocketDataType.BINARY, Buffer.alloc(1024 * 1024, 0x61)],
		];
		const received: Array<[number, Buffer]> = [];
		server.connect('message', (self, type, data) => {
			received.push([type, data]);
			self.sendMessage(type, data);
		});
		const echoed: Buffer[] = [];
		client.connect('message', (_self, _type, data) => echoed.push(data));
		for (const [type, data] of messages) {
			client.sendMessage(type, data);
		}

		await until(() => echoed.length === messages.length, 10_000, 'the echoes');
		t.deepEqual(
			received.map(([type]) => type),
			messages.map(([type]) => type),
		);
		for (const [i, [, data]] of messages.entries()) {
			t.true(received[i]![1].equals(data));
			t.true(echoed[i]!.equals(data));
		}
	});
}

both('compressed frames carry RSV1 and are smaller on the wire', async (t, mode) => {
	const {connection, received} = await rawPeer(t, mode, WebsocketConnectionType.SERVER, {
		extensions: [configured(WebsocketConnectionType.SERVER, [])],
	});
	const text = prose(5000);
	connection.sendText(text);
	await until(() => received().length > 0);
	const [frame] = new WebsocketFramer({mode: 'client', allowedRsv: 0x40}).readFrames(received());
	t.is(frame!.rsv, 0x40);
	t.true(frame!.payload.length < 1000);
	t.is(zlib.inflateRawSync(Buffer.concat([frame!.payload, Buffer.from([0, 0, 0xff, 0xff])]), {finishFlush: zlib.constants.Z_SYNC_FLUSH}).toString(), text);
});

both('an uncompressed message passes through when deflate was negotiated', async (t, mode) => {
	const {connection, raw} = await rawPeer(t, mode, WebsocketConnectionType.SERVER, {
		extensions: [configured(WebsocketConnectionType.SERVER, [])],
	});
	raw.write(Buffer.concat(encodeFrame(0x1, Buffer.from('plain'), {maskKey: generateMaskKey()})));
	const [, data] = await waitForSignal(connection, 'message');
	t.is(data.toString(), 'plain');
});

both('a fragmented compressed message is inflated across its frames', async (t, mode) => {
	const {connection, raw} = await rawPeer(t, mode, WebsocketConnectionType.SERVER, {
		extensions: [configured(WebsocketConnectionType.SERVER, [])],
	});
	const text = prose(3000);
	const compressed = compress(Buffer.from(text));
	const half = Math.floor(compressed.length / 2);
	raw.write(Buffer.concat(encodeFrame(0x1, compressed.subarray(0, half), {fin: false, rsv: 0x40, maskKey: generateMaskKey()})));
	raw.write(Buffer.concat(encodeFrame(0x9, Buffer.from('p'), {maskKey: generateMaskKey()})));
	raw.write(Buffer.concat(encodeFrame(0x0, compressed.subarray(half), {maskKey: generateMaskKey()})));
	const [type, data] = await waitForSignal(connection, 'message');
	t.is(type, WebsocketDataType.TEXT);
	t.is(data.toString(), text);
});

both('a compressed text continuation frame that arrives in pieces is not taken for UTF-8 before it is inflated', async (t, mode) => {
	const {connection, raw, received} = await rawPeer(t, mode, WebsocketConnectionType.SERVER, {
		extensions: [configured(WebsocketConnectionType.SERVER, [])],
	});
	const events: string[] = [];
	connection.connect('message', (_self, type, data) => events.push(`message:${type}:${data.toString()}`));
	connection.connect('error', (_self, error) => events.push(`error:${error.message}`));
	const text = prose(3000);
	const compressed = compress(Buffer.from(text));
	const half = Math.floor(compressed.length / 2);
	const continuation = Buffer.concat(encodeFrame(0x0, compressed.subarray(half), {maskKey: generateMaskKey()}));
	const split = Math.floor(continuation.length / 2);
	raw.write(Buffer.concat(encodeFrame(0x1, compressed.subarray(0, half), {fin: false, rsv: 0x40, maskKey: generateMaskKey()})));
	raw.write(Buffer.concat(encodeFrame(0x9, Buffer.from('p'), {maskKey: generateMaskKey()})));
	raw.write(continuation.subarray(0, split));
	// The Pong shows the Ping was read: the rest of the continuation frame comes in a later chunk.
	await until(() => received().length > 0, 5000, 'the pong');
	raw.write(continuation.subarray(split));
	await until(() => events.length > 0, 5000, 'the message');
	t.deepEqual(events, [`message:${WebsocketDataType.TEXT}:${text}`]);
});

/** Checks that the raw peer's frames make the connection fail with `code`, `reason` and `message`. */
async function expectFailure(
	t: Parameters<Parameters<typeof both>[1]>[0],
	mode: Parameters<Parameters<typeof both>[1]>[1],
	frames: Buffer[],
	expected: {code: number; reason: WebsocketErrorReason; message: string | RegExp},
	options: {maxTotalMessageSize?: number; maxIncomingPayloadSize?: number} = {},
): Promise<WebsocketConnection> {
	const {connection, raw} = await rawPeer(t, mode, WebsocketConnectionType.SERVER, {
		...options,
		extensions: [configured(WebsocketConnectionType.SERVER, [])],
	});
	let messages = 0;
	connection.connect('message', () => messages++);
	const errorPromise = waitForSignal(connection, 'error');
	for (const frame of frames) {
		raw.write(frame);
	}

	const [error] = await errorPromise;
	t.true(error instanceof WebsocketError);
	t.is((error as WebsocketError).code, expected.code);
	t.is((error as WebsocketError).reason, expected.reason);
	if (typeof expected.message === 'string') {
		t.is(error.message, expected.message);
	} else {
		t.regex(error.message, expected.message);
	}

	raw.end();
	await withTimeout(connection.closed);
	t.is(messages, 0);
	return connection;
}

both('a zip bomb fails with 1009 once the inflated size passes max-total-message-size', async (t, mode) => {
	const bomb = compress(Buffer.alloc(50 * 1024 * 1024));
	t.true(bomb.length < 128 * 1024, 'the compressed frame is within max-incoming-payload-size');
	await expectFailure(
		t,
		mode,
		[Buffer.concat(encodeFrame(0x2, bomb, {rsv: 0x40, maskKey: generateMaskKey()}))],
		{code: CloseCode.TOO_BIG, reason: 'WS_ERR_MESSAGE_TOO_BIG', message: /^Received WebSocket payload from the client larger than configured max-total-message-size \(more than \d+ bytes, limit 131072\)$/},
		{maxTotalMessageSize: 128 * 1024},
	);
});

both('with max-total-message-size 0, max-incoming-payload-size bounds the inflated size', async (t, mode) => {
	const bomb = compress(Buffer.alloc(10 * 1024 * 1024));
	await expectFailure(
		t,
		mode,
		[Buffer.concat(encodeFrame(0x2, bomb, {rsv: 0x40, maskKey: generateMaskKey()}))],
		{code: CloseCode.TOO_BIG, reason: 'WS_ERR_MESSAGE_TOO_BIG', message: /^Received WebSocket payload from the client larger than configured max-total-message-size \(more than \d+ bytes, limit 131072\)$/},
	);
});

both('RSV1 on a continuation frame fails with 1002', async (t, mode) => {
	await expectFailure(
		t,
		mode,
		[
			Buffer.concat(encodeFrame(0x1, compress(Buffer.from('ab')), {fin: false, rsv: 0x40, maskKey: generateMaskKey()})),
			Buffer.concat(encodeFrame(0x0, Buffer.from('x'), {rsv: 0x40, maskKey: generateMaskKey()})),
		],
		{code: CloseCode.PROTOCOL_ERROR, reason: 'WS_ERR_INVALID_RSV_BITS', message: 'Received a non-first frame with RSV1 flag set'},
	);
});

both('corrupt compressed data fails with 1002', async (t, mode) => {
	await expectFailure(
		t,
		mode,
		[Buffer.concat(encodeFrame(0x2, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00]), {rsv: 0x40, maskKey: generateMaskKey()}))],
		{code: CloseCode.PROTOCOL_ERROR, reason: 'WS_ERR_EXTENSION_FAILED', message: 'Failed to uncompress incoming frame'},
	);
});

test('interop: the ws client with permessage-deflate against addWebsocketHandler', async t => {
	const server = http.createServer();
	t.teardown(() => {
		server.closeAllConnections();
		server.close();
	});
	addWebsocketHandler(
		server,
		'/ws',
		null,
		null,
		(_server, _msg, _path, connection) => {
			connection.connect('message', (self, type, data) => self.sendMessage(type, data));
		},
		{extensions: [WebsocketExtensionDeflate], maxIncomingPayloadSize: 4 * 1024 * 1024, maxTotalMessageSize: 4 * 1024 * 1024},
	);
	await new Promise<void>(resolve => {
		server.listen(0, '127.0.0.1', resolve);
	});
	const {port} = server.address() as AddressInfo;
	for (const perMessageDeflate of [{}, {serverNoContextTakeover: true, clientNoContextTakeover: true}, {serverMaxWindowBits: 10, clientMaxWindowBits: 11}]) {
		const client = new WebSocket(`ws://127.0.0.1:${port}/ws`, {perMessageDeflate: {...perMessageDeflate, threshold: 0}});
		await withTimeout(
			new Promise<void>((resolve, reject) => {
				client.once('open', resolve);
				client.once('error', reject);
			}),
		);
		t.regex(client.extensions, /^permessage-deflate/);
		const payloads = [prose(20_000), randomBytes(100_000), prose(2_000_000)] as const;
		const echoes: Buffer[] = [];
		const done = new Promise<void>(resolve => {
			client.on('message', (data: Buffer) => {
				echoes.push(data);
				if (echoes.length === payloads.length) {
					resolve();
				}
			});
		});
		for (const payload of payloads) {
			client.send(payload);
		}

		await withTimeout(done, 10_000);
		t.is(echoes[0]!.toString(), payloads[0]);
		t.true(echoes[1]!.equals(payloads[1]));
		t.is(echoes[2]!.toString(), payloads[2]);
		const closed = new Promise<number>(resolve => {
			client.once('close', resolve);
		});
		client.close(1000);
		t.is(await withTimeout(closed), 1000);
	}
});

test('interop: websocketConnect with deflate against a ws server', async t => {
	const wss = new WebSocketServer({port: 0, host: '127.0.0.1', perMessageDeflate: {threshold: 0}});
	t.teardown(() => {
		for (const client of wss.clients) {
			client.terminate();
		}

		wss.close();
	});
	await new Promise<void>(resolve => {
		wss.once('listening', resolve);
	});
	wss.on('connection', socket => {
		socket.on('message', (data, isBinary) => socket.send(data, {binary: isBinary}));
	});
	const {port} = wss.address() as AddressInfo;
	const connection = await websocketConnect(`ws://127.0.0.1:${port}/`, null, null, {
		extensions: [WebsocketExtensionDeflate],
		maxIncomingPayloadSize: 0,
	});
	t.is(connection.getExtensions().length, 1);
	const text = prose(300_000);
	connection.sendText(text);
	const [, data] = await waitForSignal(connection, 'message');
	t.is(data.toString(), text);
	connection.close(1000, 'done');
	await withTimeout(connection.closed);
	t.is(connection.getCloseCode(), 1000);
});

test('Limiter: at most N jobs at once, in order', async t => {
	const limiter = new Limiter(2);
	let running = 0;
	let peak = 0;
	const order: number[] = [];
	await Promise.all(
		Array.from({length: 6}, async (_, i) =>
			limiter.run(async () => {
				running++;
				peak = Math.max(peak, running);
				await new Promise(resolve => {
					setImmediate(resolve);
				});
				order.push(i);
				running--;
			}),
		),
	);
	t.is(peak, 2);
	t.deepEqual(order, [0, 1, 2, 3, 4, 5]);
	t.throws(() => new Limiter(0), {instanceOf: RangeError});
});

// --- End of stream and final blocks (nothing lost with deflate) -----------------------------------

test('websoup to websoup with deflate: the server\'s last messages before its Close all arrive, and the close is clean', async t => {
	const server = http.createServer();
	t.teardown(() => {
		server.closeAllConnections();
		server.close();
	});
	addWebsocketHandler(server, '/', null, null, (_server, _msg, _path, connection) => {
		connection.connect('message', self => {
			for (let i = 1; i <= 5; i++) {
				self.sendText(`${prose(2000)} #${i}`);
			}
		});
	});
	await new Promise<void>(resolve => {
		server.listen(0, '127.0.0.1', resolve);
	});
	const {port} = server.address() as AddressInfo;
	for (let run = 0; run < 3; run++) {
		const connection = await websocketConnect(`ws://127.0.0.1:${port}/`, null, null, {extensions: [WebsocketExtensionDeflate]});
		t.is(connection.getExtensions().length, 1);
		const received: string[] = [];
		connection.connect('message', (_self, _type, data) => received.push(data.toString().slice(-2)));
		connection.sendText('go');
		connection.close(CloseCode.NORMAL);
		const info = await withTimeout(connection.closed, 5000, `run ${run}`);
		t.deepEqual(received, ['#1', '#2', '#3', '#4', '#5'], `run ${run}`);
		t.is(info.code, CloseCode.NORMAL);
		t.true(info.wasClean);
	}
});

both('compressed fragments and the end of the stream in one write: the message arrives before closed', async (t, mode) => {
	const {connection, raw} = await rawPeer(t, mode, WebsocketConnectionType.CLIENT, {
		extensions: [configured(WebsocketConnectionType.CLIENT, [])],
	});
	const events: string[] = [];
	connection.connect('message', (_self, _type, data) => events.push(`message:${data.toString()}`));
	connection.connect('closed', () => events.push('closed'));
	const compressed = compress(Buffer.from('three compressed fragments'));
	const third = Math.ceil(compressed.length / 3);
	raw.end(
		Buffer.concat([
			...encodeFrame(0x1, compressed.subarray(0, third), {fin: false, rsv: 0x40}),
			...encodeFrame(0x0, compressed.subarray(third, 2 * third), {fin: false}),
			...encodeFrame(0x0, compressed.subarray(2 * third), {fin: true}),
		]),
	);
	await withTimeout(connection.closed);
	t.deepEqual(events, ['message:three compressed fragments', 'closed']);
});

both('compressed messages, then the peer\'s Close, then the end of the stream: every message, then a clean close', async (t, mode) => {
	const {connection, raw} = await rawPeer(t, mode, WebsocketConnectionType.CLIENT, {
		extensions: [configured(WebsocketConnectionType.CLIENT, [])],
	});
	const received: string[] = [];
	connection.connect('message', (_self, _type, data) => received.push(data.toString()));
	const deflater = zlib.createDeflateRaw();
	const sync = async (text: string): Promise<Buffer> =>
		new Promise(resolve => {
			const chunks: Buffer[] = [];
			const onData = (chunk: Buffer): void => {
				chunks.push(chunk);
			};

			deflater.on('data', onData);
			deflater.write(text);
			deflater.flush(zlib.constants.Z_SYNC_FLUSH, () => {
				deflater.off('data', onData);
				resolve(Buffer.concat(chunks).subarray(0, -4));
			});
		});
	const frames: Buffer[] = [];
	for (let i = 0; i < 5; i++) {
		frames.push(...encodeFrame(0x1, await sync(`message ${i}`), {rsv: 0x40}));
	}

	raw.write(Buffer.concat([...frames, ...encodeFrame(0x8, Buffer.from([0x03, 0xe8]))]));
	raw.end();
	const info = await withTimeout(connection.closed);
	t.deepEqual(received, ['message 0', 'message 1', 'message 2', 'message 3', 'message 4']);
	t.is(info.code, CloseCode.NORMAL);
});

both('RFC 7692 §7.2.3: every example message, in sequence on one connection, then a message after a final block', async (t, mode) => {
	const {connection, raw} = await rawPeer(t, mode, WebsocketConnectionType.CLIENT, {
		extensions: [configured(WebsocketConnectionType.CLIENT, [])],
	});
	const received: string[] = [];
	connection.connect('message', (_self, _type, data) => received.push(data.toString()));
	const hex = (text: string): Buffer => Buffer.from(text.replaceAll(' ', ''), 'hex');
	raw.write(
		Buffer.concat([
			hex('c1 07 f2 48 cd c9 c9 07 00'), // §7.2.3.1: "Hello", one compressed frame
			hex('41 03 f2 48 cd'), // §7.2.3.1: "Hello" in two fragments, the first with RSV1
			hex('80 04 c9 c9 07 00'),
			hex('c1 05 f2 00 11 00 00'), // §7.2.3.2: "Hello" again, sharing the LZ77 window
			hex('c1 0b 00 05 00 fa ff 48 65 6c 6c 6f 00'), // §7.2.3.3: a DEFLATE block with no compression
			hex('c1 08 f3 48 cd c9 c9 07 00 00'), // §7.2.3.4: a DEFLATE block with BFINAL set
			hex('c1 0d f2 48 05 00 00 00 ff ff ca c9 c9 07 00'), // §7.2.3.5: two DEFLATE blocks in one message
			...encodeFrame(0x1, zlib.deflateRawSync('after a final block'), {rsv: 0x40}),
			...encodeFrame(0x1, compress(Buffer.from('and one more')), {rsv: 0x40}),
		]),
	);
	await until(() => received.length >= 8, 5000, 'eight messages');
	t.deepEqual(received, ['Hello', 'Hello', 'Hello', 'Hello', 'Hello', 'Hello', 'after a final block', 'and one more']);
	t.is(connection.getState(), 1);
});

both('the peer\'s FIN only ends its side: frames still queued behind an outgoing deflate are written, then the Close', async (t, mode) => {
	const {connection, raw, received, ended} = await rawPeer(t, mode, WebsocketConnectionType.CLIENT, {
		extensions: [configured(WebsocketConnectionType.CLIENT, [])],
	});
	connection.connect('message', (self, type, data) => {
		self.sendMessage(type, data);
	});
	// A compressed "Hello" (RFC 7692 §7.2.3.1), a frame with the reserved opcode 3, then FIN.
	raw.end(Buffer.from('c107f248cdc9c907008300', 'hex'));
	await withTimeout(connection.closed);
	await withTimeout(ended);
	const frames = new WebsocketFramer({mode: 'server', allowedRsv: 0x40}).readFrames(received());
	t.deepEqual(
		frames.map(frame => frame.opcode),
		[0x1, 0x8],
	);
	t.is(frames[1]!.payload.readUInt16BE(0), CloseCode.PROTOCOL_ERROR);
});

both('a Close followed by FIN, behind a compressed echo still being made: the echo, then the Close, are written', async (t, mode) => {
	const {connection, raw, received, ended} = await rawPeer(t, mode, WebsocketConnectionType.CLIENT, {
		extensions: [configured(WebsocketConnectionType.CLIENT, [])],
	});
	connection.connect('message', (self, type, data) => {
		self.sendMessage(type, data);
	});
	// A compressed "Hello", a Close 1000, then FIN.
	raw.end(Buffer.from('c107f248cdc9c90700880203e8', 'hex'));
	const info = await withTimeout(connection.closed);
	await withTimeout(ended);
	const frames = new WebsocketFramer({mode: 'server', allowedRsv: 0x40}).readFrames(received());
	t.deepEqual(frames.map(frame => frame.opcode), [0x1, 0x8]);
	t.is(frames[1]!.payload.readUInt16BE(0), CloseCode.NORMAL);
	t.is(info.code, CloseCode.NORMAL);
	t.true(info.wasClean);
});

both('compressed fragments past what the message may inflate to fail with 1009, naming their size', async (t, mode) => {
	const {connection, raw} = await rawPeer(t, mode, WebsocketConnectionType.SERVER, {
		extensions: [configured(WebsocketConnectionType.SERVER, [])],
		maxTotalMessageSize: 1000,
	});
	const error = waitForSignal(connection, 'error');
	raw.write(
		Buffer.concat([
			...encodeFrame(0x2, randomBytes(600), {fin: false, rsv: 0x40, maskKey: generateMaskKey()}),
			...encodeFrame(0x0, randomBytes(600), {fin: false, maskKey: generateMaskKey()}),
		]),
	);
	const [caught] = await withTimeout(error);
	t.is((caught as WebsocketError).code, CloseCode.TOO_BIG);
	t.is(caught.message, 'Received WebSocket payload from the client larger than configured max-total-message-size (more than 1200 bytes, limit 1000)');
});
