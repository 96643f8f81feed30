// WebsocketConnection against an independent implementation, ws v8, over loopback TCP with hand-written handshakes.

import {randomBytes} from 'node:crypto';
import {createServer, type Socket} from 'node:net';
import test, {type ExecutionContext} from 'ava';
import {WebSocket} from 'ws';
import {WebsocketConnection} from '../../lib/websocket/connection.ts';
import {CloseCode, WebsocketConnectionType, WebsocketDataType, WebsocketState} from '../../lib/websocket/constants.ts';
import {WebsocketError, type WebsocketErrorReason} from '../../lib/websocket/errors.ts';
import {computeAcceptKey} from '../../lib/websocket/handshake.ts';
import {waitForSignal, withTimeout} from '../helpers/signals.ts';
import {listen} from '../node/fixtures.ts';
import {
	collectUntilEnd,
	connectWebsoupClient,
	directions,
	mask,
	openPair,
	rawUpgrade,
	readBytes,
	readHead,
	smallFrame,
	startWebsoupServer,
	startWsServer,
	wsClosed,
	wsClientToWebsoupServer,
	websoupClientToWsServer,
	wsMessage,
	type Direction,
} from '../helpers/ws-peer.ts';

// --- Helpers ------------------------------------------------------------------------------------

type Body = (t: ExecutionContext, direction: Direction) => Promise<void>;

/** Runs a body once per direction: websoup as the client of a ws server, and as the server of a ws client. */
const interop = test.macro({
	async exec(t, body: Body, direction: Direction) {
		await body(t, direction);
	},
	title: (provided = '', _body, direction) => `${provided} [${direction}]`,
});

function bothWays(title: string, body: Body): void {
	for (const direction of directions) {
		test(title, interop, body, direction);
	}
}

/** The peer websoup names in its error messages: the other end. */
function peerOf(direction: Direction): 'client' | 'server' {
	return direction === 'websoup client ⇄ ws server' ? 'server' : 'client';
}

/** Records `closing`, `error` and `closed` in order, and the errors. */
function record(conn: WebsocketConnection): {events: string[]; errors: Error[]} {
	const events: string[] = [];
	const errors: Error[] = [];
	conn.connect('closing', () => {
		events.push('closing');
	});
	conn.connect('error', (_self, error) => {
		events.push('error');
		errors.push(error);
	});
	conn.connect('closed', () => {
		events.push('closed');
	});
	return {events, errors};
}

/** Settles with the next `count` websoup messages. */
async function websoupMessages(
	conn: WebsocketConnection,
	count: number,
	timeout = 5000,
): Promise<Array<{type: number; data: Buffer}>> {
	const messages: Array<{type: number; data: Buffer}> = [];
	let id = 0;
	const all = new Promise<Array<{type: number; data: Buffer}>>(resolve => {
		id = conn.connect('message', (_self, type, data) => {
			messages.push({type, data});
			if (messages.length === count) {
				resolve(messages);
			}
		});
	});
	try {
		return await withTimeout(all, timeout, `${count} websoup messages`);
	} finally {
		conn.disconnect(id);
	}
}

/** Settles with the next `count` ws messages. */
async function wsMessages(ws: WebSocket, count: number, timeout = 5000): Promise<Array<{data: Buffer; isBinary: boolean}>> {
	const messages: Array<{data: Buffer; isBinary: boolean}> = [];
	let resolveAll!: (value: Array<{data: Buffer; isBinary: boolean}>) => void;
	const all = new Promise<Array<{data: Buffer; isBinary: boolean}>>(resolve => {
		resolveAll = resolve;
	});
	const onMessage = (data: Buffer, isBinary: boolean): void => {
		messages.push({data, isBinary});
		if (messages.length === count) {
			resolveAll(messages);
		}
	};

	ws.on('message', onMessage);
	try {
		return await withTimeout(all, timeout, `${count} ws messages`);
	} finally {
		ws.off('message', onMessage);
	}
}

async function websoupClosed(conn: WebsocketConnection, timeout = 5000): Promise<void> {
	await withTimeout(conn.closed, timeout, "websoup 'closed'");
}

/** Waits for websoup's `closed` after a clean close: `closing` then `closed`, no error. */
async function closedAfterClosing(t: ExecutionContext, conn: WebsocketConnection, log: ReturnType<typeof record>): Promise<void> {
	await websoupClosed(conn);
	t.deepEqual(log.events, ['closing', 'closed']);
	t.deepEqual(log.errors, []);
}

/** Waits for websoup's `closed` after a failure: `error` then `closed` (no `closing`), the error being `expected`. */
async function failedWith(
	t: ExecutionContext,
	conn: WebsocketConnection,
	log: ReturnType<typeof record>,
	expected: {code: number; reason: WebsocketErrorReason; message: string},
): Promise<void> {
	await websoupClosed(conn);
	t.deepEqual(log.events, ['error', 'closed']);
	assertWebsocketError(t, log.errors[0], expected);
}

function assertWebsocketError(
	t: ExecutionContext,
	error: unknown,
	expected: {code: number; reason: WebsocketErrorReason; message: string},
): void {
	t.true(error instanceof WebsocketError, `expected a WebsocketError, got ${String(error)}`);
	if (error instanceof WebsocketError) {
		t.is(error.code, expected.code);
		t.is(error.reason, expected.reason);
		t.is(error.message, expected.message);
	}
}

const MiB = 1024 * 1024;

// --- Handshake ----------------------------------------------------------------------------------

bothWays('handshake: the hand-made upgrade opens the connection with the chosen subprotocol', async (t, direction) => {
	const {conn, ws} = await openPair(t, direction, {protocols: ['chat', 'superchat']});
	t.is(conn.getState(), WebsocketState.OPEN);
	t.is(conn.getProtocol(), 'chat');
	t.is(ws.protocol, 'chat');
	t.is(ws.readyState, WebSocket.OPEN);
});

test('handshake: a frame ws writes right after the 101 reaches websoup (bytes past the head are unshifted)', async t => {
	// ws writes the 101 and, from its 'connection' handler, a frame: often one segment, never lost.
	const {wss, port} = await startWsServer(t);
	wss.on('connection', ws => {
		ws.on('error', () => {});
		ws.send('first');
		ws.send(Buffer.from([1, 2, 3]));
	});
	const {conn, socket} = await connectWebsoupClient(t, port);
	t.teardown(() => {
		socket.destroy();
	});
	const messages = await websoupMessages(conn, 2);
	t.deepEqual(
		messages.map(({type, data}) => [type, data.toString('hex')]),
		[
			[WebsocketDataType.TEXT, Buffer.from('first').toString('hex')],
			[WebsocketDataType.BINARY, '010203'],
		],
	);
});

test('handshake: a socket left paused after reading the head is read once wrapped ("reading starts at construction")', async t => {
	const {wss, port} = await startWsServer(t);
	wss.on('connection', ws => {
		ws.on('error', () => {});
		ws.send('after pause');
	});
	const {socket, head} = await rawUpgrade(t, port); // readHead leaves the socket paused
	t.true(socket.isPaused());
	if (head.rest.length > 0) {
		socket.unshift(head.rest);
	}

	const conn = new WebsocketConnection({
		ioStream: socket,
		connectionType: WebsocketConnectionType.CLIENT,
		uri: new URL(`ws://127.0.0.1:${port}/chat`),
	});
	const [type, data] = await waitForSignal(conn, 'message', 2000);
	t.is(type, WebsocketDataType.TEXT);
	t.is(data.toString('utf8'), 'after pause');
});

// --- Text ---------------------------------------------------------------------------------------

const texts = ['hello', 'héllo wörld ✓ 𝄞 日本語 🎉', 'embedded\u0000NUL', 'x'.repeat(125), 'y'.repeat(126), ''];

bothWays('text: ASCII, multi-byte UTF-8, NUL, 125/126 bytes and empty, both ways, in order', async (t, direction) => {
	const {conn, ws} = await openPair(t, direction);

	const toWebsoup = websoupMessages(conn, texts.length);
	for (const text of texts) {
		ws.send(text);
	}

	const received = await toWebsoup;
	t.deepEqual(
		received.map(({type}) => type),
		texts.map(() => WebsocketDataType.TEXT),
	);
	t.deepEqual(
		received.map(({data}) => data.toString('utf8')),
		texts,
	);

	const toWs = wsMessages(ws, texts.length);
	for (const text of texts) {
		conn.sendText(text);
	}

	const echoed = await toWs;
	t.deepEqual(
		echoed.map(({isBinary}) => isBinary),
		texts.map(() => false),
	);
	t.deepEqual(
		echoed.map(({data}) => data.toString('utf8')),
		texts,
	);
});

bothWays('text: sendMessage(TEXT) reaches ws as text', async (t, direction) => {
	const {conn, ws} = await openPair(t, direction);
	const received = wsMessage(ws);
	conn.sendMessage(WebsocketDataType.TEXT, Buffer.from('ünïcødé', 'utf8'));
	const {data, isBinary} = await received;
	t.false(isBinary);
	t.is(data.toString('utf8'), 'ünïcødé');
});

// --- Binary -------------------------------------------------------------------------------------

const sizes: Array<[string, number]> = [
	['0 bytes', 0],
	['125 bytes', 125],
	['126 bytes', 126],
	['65535 bytes', 65_535],
	['65536 bytes', 65_536],
	['1 MiB', MiB],
	['16 MiB', 16 * MiB],
];

for (const [label, size] of sizes) {
	bothWays(`binary: ${label} from ws to websoup and back`, async (t, direction) => {
		const large = size > 64 * 1024;
		const limit = 32 * MiB;
		const timeout = size >= MiB ? 30_000 : 5000;
		const {conn, ws} = await openPair(
			t,
			direction,
			large ? {maxIncomingPayloadSize: limit, maxTotalMessageSize: limit, maxPayload: limit} : {},
		);
		const payload = randomBytes(size);

		const toWebsoup = waitForSignal(conn, 'message', timeout);
		ws.send(payload);
		const [type, data] = await toWebsoup;
		t.is(type, WebsocketDataType.BINARY);
		t.is(data.length, size);
		t.true(data.equals(payload), 'websoup received the bytes ws sent');

		const toWs = wsMessage(ws, timeout);
		conn.sendBinary(data);
		const echoed = await toWs;
		t.true(echoed.isBinary);
		t.is(echoed.data.length, size);
		t.true(echoed.data.equals(payload), 'ws received the bytes websoup sent');
	});
}

bothWays('binary: sendBinary accepts a Uint8Array view with an offset', async (t, direction) => {
	const {conn, ws} = await openPair(t, direction);
	const backing = new Uint8Array([9, 9, 1, 2, 3, 4, 9]);
	const received = wsMessage(ws);
	conn.sendBinary(backing.subarray(2, 6));
	const {data, isBinary} = await received;
	t.true(isBinary);
	t.is(data.toString('hex'), '01020304');
});

bothWays('backpressure: 32 messages of 1 MiB sent while ws is paused all arrive intact, in order', async (t, direction) => {
	const {conn, ws} = await openPair(t, direction);
	ws.pause();
	const payloads = Array.from({length: 32}, (_, i) => Buffer.alloc(MiB, i));
	const received = wsMessages(ws, payloads.length, 30_000);
	for (const payload of payloads) {
		conn.sendBinary(payload);
	}

	t.true(conn.bufferedAmount > 0, 'what TCP has not taken yet is counted');
	ws.resume();
	const messages = await received;
	t.true(messages.every(({data}, i) => data.equals(payloads[i]!)));
	// Bounded wait for the queue to empty once ws reads again.
	for (let i = 0; i < 1000 && conn.bufferedAmount > 0; i++) {
		await new Promise(resolve => setImmediate(resolve));
	}

	t.is(conn.bufferedAmount, 0);
});

bothWays('backpressure: a slow for-await reader gets every message ws sent, then the loop ends on close', async (t, direction) => {
	const {conn, ws} = await openPair(t, direction);
	const count = 200;
	for (let i = 0; i < count; i++) {
		ws.send(Buffer.alloc(10 * 1024, i % 256));
	}

	ws.close(1000, 'done');
	const read = (async () => {
		const seen: number[] = [];
		for await (const {type, data} of conn) {
			t.is(type, WebsocketDataType.BINARY);
			seen.push(data[0]!);
			await new Promise(resolve => setImmediate(resolve)); // lag behind the socket
		}

		return seen;
	})();
	const seen = await withTimeout(read, 10_000, 'the for-await loop');
	t.deepEqual(
		seen,
		Array.from({length: count}, (_, i) => i % 256),
	);
	t.is(conn.getCloseCode(), 1000);
});

// --- Fragmentation ------------------------------------------------------------------------------

bothWays('fragments: ws splits a text message inside code points, websoup reassembles it', async (t, direction) => {
	const {conn, ws} = await openPair(t, direction);
	const text = Buffer.from('a𝄞b✓', 'utf8'); // 61 f09d849e 62 e29c93
	const received = waitForSignal(conn, 'message');
	ws.send(text.subarray(0, 2), {binary: false, fin: false}); // "a" and the first byte of U+1D11E
	ws.send(text.subarray(2, 4), {binary: false, fin: false});
	ws.send(text.subarray(4, 7), {binary: false, fin: false});
	ws.send(text.subarray(7), {binary: false, fin: false}); // the last two bytes of U+2713
	ws.send(Buffer.alloc(0), {binary: false, fin: true}); // an empty final fragment
	const [type, data] = await received;
	t.is(type, WebsocketDataType.TEXT);
	t.is(data.toString('utf8'), 'a𝄞b✓');
});

bothWays('fragments: 256 binary fragments of 1 KiB arrive as one 256 KiB message', async (t, direction) => {
	const {conn, ws} = await openPair(t, direction, {maxTotalMessageSize: MiB});
	const payload = randomBytes(256 * 1024);
	const received = waitForSignal(conn, 'message');
	for (let offset = 0; offset < payload.length; offset += 1024) {
		ws.send(payload.subarray(offset, offset + 1024), {binary: true, fin: offset + 1024 === payload.length});
	}

	const [type, data] = await received;
	t.is(type, WebsocketDataType.BINARY);
	t.true(data.equals(payload));
});

bothWays('fragments: a ping between fragments is answered at once and the message still arrives', async (t, direction) => {
	const {conn, ws} = await openPair(t, direction);
	const events: string[] = [];
	conn.connect('message', (_self, _type, data) => {
		events.push(`message ${data.toString('utf8')}`);
	});
	const pong = new Promise<Buffer>(resolve => {
		ws.once('pong', (data: Buffer) => {
			events.push('ws pong');
			resolve(data);
		});
	});
	const message = waitForSignal(conn, 'message');
	ws.send('frag', {fin: false});
	ws.ping('between');
	// Wait for the pong before finishing the message: websoup must answer mid-message.
	t.is((await withTimeout(pong, 5000, "ws 'pong'")).toString('utf8'), 'between');
	ws.send('mented', {fin: true});
	const [type, data] = await message;
	t.is(type, WebsocketDataType.TEXT);
	t.is(data.toString('utf8'), 'fragmented');
	t.deepEqual(events, ['ws pong', 'message fragmented']);
});

bothWays('fragments: a fragmented message is kept apart from the whole messages around it', async (t, direction) => {
	const {conn, ws} = await openPair(t, direction);
	const received = websoupMessages(conn, 3);
	ws.send(Buffer.from([1]), {binary: true, fin: false});
	ws.send(Buffer.from([2]), {binary: true, fin: true});
	ws.send('whole');
	ws.send('a', {fin: false});
	ws.send('b', {fin: true});
	const messages = await received;
	t.deepEqual(
		messages.map(({type, data}) => [type, data.toString('hex')]),
		[
			[WebsocketDataType.BINARY, '0102'],
			[WebsocketDataType.TEXT, Buffer.from('whole').toString('hex')],
			[WebsocketDataType.TEXT, Buffer.from('ab').toString('hex')],
		],
	);
});

// --- Ping and pong ------------------------------------------------------------------------------

bothWays('ping: ws pings, websoup answers with a pong carrying the same payload', async (t, direction) => {
	const {ws} = await openPair(t, direction);
	for (const payload of [Buffer.alloc(0), Buffer.from('abc'), randomBytes(125)]) {
		const pong = new Promise<Buffer>(resolve => {
			ws.once('pong', resolve);
		});
		ws.ping(payload);
		t.true((await withTimeout(pong, 5000, "ws 'pong'")).equals(payload));
	}
});

bothWays("ping: websoup's ping() is answered by ws; the pong signal carries the payload", async (t, direction) => {
	const {conn, ws} = await openPair(t, direction);
	const wsPings: Buffer[] = [];
	ws.on('ping', (data: Buffer) => wsPings.push(data));
	for (const payload of [Buffer.alloc(0), Buffer.from('xyz'), randomBytes(125)]) {
		const pong = waitForSignal(conn, 'pong');
		conn.ping(payload);
		const [data] = await pong;
		t.true(Buffer.from(data).equals(payload));
	}

	t.deepEqual(
		wsPings.map(data => data.length),
		[0, 3, 125],
	);
	const pong = waitForSignal(conn, 'pong');
	conn.ping('text payload ✓');
	t.is(Buffer.from((await pong)[0]).toString('utf8'), 'text payload ✓');
});

// --- Closing ------------------------------------------------------------------------------------

bothWays('close: websoup closes with a code and reason; both ends see them', async (t, direction) => {
	const {conn, ws} = await openPair(t, direction);
	const {events, errors} = record(conn);
	const wsClose = wsClosed(ws);
	conn.close(4001, 'bye ✓');
	t.deepEqual(events, ['closing'], "'closing' is emitted inside close()");
	t.is(conn.getState(), WebsocketState.CLOSING);
	t.deepEqual(await wsClose, {code: 4001, reason: 'bye ✓'});
	const info = await withTimeout(conn.closed, 5000, 'websoup closed');
	t.deepEqual(events, ['closing', 'closed']);
	t.deepEqual(errors, []);
	// ws echoes the code and reason it received.
	t.is(conn.getCloseCode(), 4001);
	t.is(conn.getCloseData(), 'bye ✓');
	t.is(conn.getState(), WebsocketState.CLOSED);
	t.deepEqual(info, {code: 4001, reason: 'bye ✓', wasClean: true, error: null});
});

bothWays('close: ws closes with a code and reason; websoup emits closing, echoes, then closed', async (t, direction) => {
	const {conn, ws} = await openPair(t, direction);
	const {events, errors} = record(conn);
	const wsClose = wsClosed(ws);
	ws.close(1001, 'going away ✓');
	const info = await withTimeout(conn.closed, 5000, 'websoup closed');
	t.deepEqual(events, ['closing', 'closed']);
	t.deepEqual(errors, []);
	t.is(conn.getCloseCode(), 1001);
	t.is(conn.getCloseData(), 'going away ✓');
	t.deepEqual(info, {code: 1001, reason: 'going away ✓', wasClean: true, error: null});
	// websoup echoes the peer's code and reason.
	t.deepEqual(await wsClose, {code: 1001, reason: 'going away ✓'});
});

bothWays('close: a reason of 123 bytes of UTF-8, the most that fits, reaches ws intact', async (t, direction) => {
	const {conn, ws} = await openPair(t, direction);
	const reason = `${'é'.repeat(61)}x`; // 123 bytes
	t.is(Buffer.byteLength(reason), 123);
	const wsClose = wsClosed(ws);
	conn.close(CloseCode.NORMAL, reason);
	t.deepEqual(await wsClose, {code: 1000, reason});
	await websoupClosed(conn);
	t.is(conn.getCloseCode(), 1000);
	t.is(conn.getCloseData(), reason);
});

bothWays('close: websoup close() with no code sends an empty Close; ws sees 1005', async (t, direction) => {
	const {conn, ws} = await openPair(t, direction);
	const log = record(conn);
	const wsClose = wsClosed(ws);
	conn.close();
	t.deepEqual(await wsClose, {code: CloseCode.NO_STATUS, reason: ''});
	await closedAfterClosing(t, conn, log);
	// ws answers an empty Close with an empty Close.
	t.is(conn.getCloseCode(), CloseCode.NO_STATUS);
	t.is(conn.getCloseData(), null);
});

bothWays('close: ws close() with no code; websoup records 1005 and echoes 1000', async (t, direction) => {
	const {conn, ws} = await openPair(t, direction);
	const log = record(conn);
	const wsClose = wsClosed(ws);
	ws.close();
	await closedAfterClosing(t, conn, log);
	t.is(conn.getCloseCode(), CloseCode.NO_STATUS);
	t.is(conn.getCloseData(), null);
	t.deepEqual(await wsClose, {code: CloseCode.NORMAL, reason: ''});
});

bothWays('close: messages ws sent before its Close all arrive, in order, before closing', async (t, direction) => {
	const {conn, ws} = await openPair(t, direction);
	const events: string[] = [];
	conn.connect('message', (_self, _type, data) => {
		events.push(data.toString('utf8'));
	});
	conn.connect('closing', () => {
		events.push('closing');
	});
	const wsClose = wsClosed(ws);
	const expected: string[] = [];
	for (let i = 0; i < 50; i++) {
		expected.push(`message ${i}`);
		ws.send(`message ${i}`);
	}

	ws.close(1000, 'done');
	await websoupClosed(conn);
	t.deepEqual(events, [...expected, 'closing']);
	t.deepEqual(await wsClose, {code: 1000, reason: 'done'});
});

bothWays('close: messages websoup sent before close() all reach ws, in order, before its close event', async (t, direction) => {
	const {conn, ws} = await openPair(t, direction);
	const events: string[] = [];
	ws.on('message', (data: Buffer) => events.push(data.toString('utf8')));
	const wsClose = wsClosed(ws).then(close => {
		events.push('close');
		return close;
	});
	const expected: string[] = [];
	for (let i = 0; i < 50; i++) {
		expected.push(`message ${i}`);
		conn.sendText(`message ${i}`);
	}

	conn.close(1000, 'done');
	t.deepEqual(await wsClose, {code: 1000, reason: 'done'});
	t.deepEqual(events, [...expected, 'close']);
	await websoupClosed(conn);
});

bothWays('close: ws terminates the TCP connection; websoup emits closed with code 0 and no error', async (t, direction) => {
	const {conn, ws} = await openPair(t, direction);
	const {events, errors} = record(conn);
	ws.terminate();
	const info = await withTimeout(conn.closed, 5000, 'websoup closed');
	t.deepEqual(events, ['closed']);
	t.deepEqual(errors, []);
	t.is(conn.getCloseCode(), 0);
	t.is(conn.getCloseData(), null);
	t.is(conn.getState(), WebsocketState.CLOSED);
	t.deepEqual(info, {code: 0, reason: null, wasClean: false, error: null});
});

test('close: the websoup server sends 1012 (service restart) and ws accepts it', async t => {
	const {conn, ws} = await wsClientToWebsoupServer(t);
	const wsClose = wsClosed(ws);
	conn.close(CloseCode.SERVICE_RESTART, 'restart');
	t.deepEqual(await wsClose, {code: 1012, reason: 'restart'});
	await websoupClosed(conn);
	t.is(conn.getCloseCode(), 1012);
});

test('close: the ws server sends 1013 (try again later) and the websoup client accepts it', async t => {
	const {conn, ws} = await websoupClientToWsServer(t);
	const log = record(conn);
	const wsClose = wsClosed(ws);
	ws.close(CloseCode.TRY_AGAIN_LATER, 'later');
	await closedAfterClosing(t, conn, log);
	t.is(conn.getCloseCode(), 1013);
	t.is(conn.getCloseData(), 'later');
	t.deepEqual(await wsClose, {code: 1013, reason: 'later'});
});

// --- Limits -------------------------------------------------------------------------------------

bothWays('limits: a frame of exactly max-incoming-payload-size (128 KiB by default) is accepted', async (t, direction) => {
	const {conn, ws} = await openPair(t, direction);
	t.is(conn.getMaxIncomingPayloadSize(), 128 * 1024);
	const payload = randomBytes(128 * 1024);
	const received = waitForSignal(conn, 'message');
	ws.send(payload);
	const [, data] = await received;
	t.true(data.equals(payload));
});

// LIBSOUP.md difference 8: where libsoup drops TCP, websoup sends a Close 1009 first.
bothWays('limits: a frame one byte over max-incoming-payload-size fails with 1009 and the peer gets a Close 1009', async (t, direction) => {
	const {conn, ws} = await openPair(t, direction);
	const log = record(conn);
	const wsClose = wsClosed(ws);
	ws.send(randomBytes(128 * 1024 + 1));
	await failedWith(t, conn, log, {
		code: CloseCode.TOO_BIG,
		reason: 'WS_ERR_PAYLOAD_TOO_BIG',
		message: `Received WebSocket payload from the ${peerOf(direction)} larger than configured max-incoming-payload-size (131073 bytes, limit 131072)`,
	});
	t.is(conn.getCloseCode(), 0);
	// ws learns why: a Close 1009, not a dropped connection (1006).
	t.is((await wsClose).code, CloseCode.TOO_BIG);
});

bothWays('limits: fragments adding up past max-total-message-size fail with 1009 and the peer gets a Close 1009', async (t, direction) => {
	const {conn, ws} = await openPair(t, direction, {maxTotalMessageSize: 100_000});
	const log = record(conn);
	const messages: Buffer[] = [];
	conn.connect('message', (_self, _type, data) => messages.push(data));
	const wsClose = wsClosed(ws);
	ws.send(randomBytes(40_000), {binary: true, fin: false});
	ws.send(randomBytes(40_000), {binary: true, fin: false});
	ws.send(randomBytes(40_000), {binary: true, fin: true});
	await failedWith(t, conn, log, {
		code: CloseCode.TOO_BIG,
		reason: 'WS_ERR_MESSAGE_TOO_BIG',
		message: `Received WebSocket payload from the ${peerOf(direction)} larger than configured max-total-message-size (120000 bytes, limit 100000)`,
	});
	t.deepEqual(messages, []);
	t.is(conn.getCloseCode(), 0);
	t.is((await wsClose).code, CloseCode.TOO_BIG);
});

// --- UTF-8 --------------------------------------------------------------------------------------

bothWays('utf-8: ws sends invalid UTF-8 as text; websoup fails with 1007 and ws gets Close 1007', async (t, direction) => {
	const {conn, ws} = await openPair(t, direction);
	const log = record(conn);
	const messages: Buffer[] = [];
	conn.connect('message', (_self, _type, data) => messages.push(data));
	const wsClose = wsClosed(ws);
	ws.send(Buffer.from([0xc3, 0x28]), {binary: false}); // a lead byte followed by "("
	t.is((await wsClose).code, CloseCode.BAD_DATA);
	// The side that hits the error emits no 'closing'.
	await failedWith(t, conn, log, {
		code: CloseCode.BAD_DATA,
		reason: 'WS_ERR_INVALID_UTF8',
		message: `Received invalid WebSocket data from the ${peerOf(direction)}`,
	});
	t.deepEqual(messages, []);
	if (direction === 'websoup client ⇄ ws server') {
		// LIBSOUP.md §1.4: the client waits for the server's echo, so it ends with 1007 too.
		t.is(conn.getCloseCode(), CloseCode.BAD_DATA);
	}
});

bothWays('utf-8: a first fragment that can never be valid fails with 1007 before the final fragment', async (t, direction) => {
	const {conn, ws} = await openPair(t, direction);
	const log = record(conn);
	const wsClose = wsClosed(ws);
	ws.send(Buffer.from([0x61, 0xff]), {binary: false, fin: false}); // "a", then a byte UTF-8 never uses
	// No final fragment is ever sent: websoup must fail fast.
	t.is((await wsClose).code, CloseCode.BAD_DATA);
	await failedWith(t, conn, log, {
		code: CloseCode.BAD_DATA,
		reason: 'WS_ERR_INVALID_UTF8',
		message: `Received invalid WebSocket data from the ${peerOf(direction)}`,
	});
});

// --- Raw frames over real TCP -------------------------------------------------------------------

/** A websoup server and a raw TCP client that did the handshake by hand. */
async function rawClientToWebsoupServer(
	t: ExecutionContext,
	extra?: Buffer,
): Promise<{conn: WebsocketConnection; socket: Socket; rest: Buffer; log: ReturnType<typeof record>}> {
	const {port, connection} = await startWebsoupServer(t);
	const {socket, head} = await rawUpgrade(t, port, extra === undefined ? {} : {extra});
	const {conn} = await withTimeout(connection, 5000, 'websoup server connection');
	return {conn, socket, rest: head.rest, log: record(conn)};
}

const KEY = Buffer.from('37fa213d', 'hex');

test('raw client: an unmasked frame fails with 1002 WS_ERR_EXPECTED_MASK; websoup sends Close 1002 and closes TCP', async t => {
	const {conn, socket, rest, log} = await rawClientToWebsoupServer(t);
	const received = collectUntilEnd(socket, rest);
	socket.write(Buffer.from('810548656c6c6f', 'hex')); // FIN+TEXT, unmasked, len 5, "Hello"
	t.is((await received).toString('hex'), '880203ea'); // FIN+CLOSE, len 2, 1002
	await failedWith(t, conn, log, {
		code: CloseCode.PROTOCOL_ERROR,
		reason: 'WS_ERR_EXPECTED_MASK',
		message: 'Received invalid WebSocket response from the client',
	});
	t.is(conn.getCloseCode(), 0);
});

test('raw client: invalid UTF-8 in a text frame fails with 1007; websoup sends Close 1007 and closes TCP', async t => {
	const {conn, socket, rest, log} = await rawClientToWebsoupServer(t);
	const received = collectUntilEnd(socket, rest);
	socket.write(smallFrame(0x81, Buffer.from('ceba e1bd b9cf 83ce bcce b5ed a080 65 64 69 74 65 64'.replaceAll(' ', ''), 'hex'), KEY)); // κόσμε, a surrogate (ed a0 80), "edited"
	t.is((await received).toString('hex'), '880203ef'); // FIN+CLOSE, len 2, 1007
	await failedWith(t, conn, log, {
		code: CloseCode.BAD_DATA,
		reason: 'WS_ERR_INVALID_UTF8',
		message: 'Received invalid WebSocket data from the client',
	});
});

test('raw client: a frame header over max-incoming-payload-size fails with 1009: a Close 1009, then TCP closes', async t => {
	const {conn, socket, rest, log} = await rawClientToWebsoupServer(t);
	const received = collectUntilEnd(socket, rest);
	// FIN+BINARY, masked, 64-bit length 131073 (one over 128 KiB), mask key; no payload follows.
	socket.write(Buffer.concat([Buffer.from('82ff0000000000020001', 'hex'), KEY]));
	// LIBSOUP.md difference 8: libsoup sends nothing; websoup a Close 1009 (FIN+CLOSE, len 2, 1009).
	t.is((await received).toString('hex'), '880203f1');
	await failedWith(t, conn, log, {
		code: CloseCode.TOO_BIG,
		reason: 'WS_ERR_PAYLOAD_TOO_BIG',
		message: 'Received WebSocket payload from the client larger than configured max-incoming-payload-size (131073 bytes, limit 131072)',
	});
	t.is(conn.getCloseCode(), 0);
});

test('raw client: frames written in the same segment as the upgrade request are delivered', async t => {
	const frames = Buffer.concat([
		smallFrame(0x81, Buffer.from('early'), KEY), // FIN+TEXT "early"
		smallFrame(0x89, Buffer.from('p'), KEY), // FIN+PING "p"
	]);
	const {port, connection} = await startWebsoupServer(t);
	const message = connection.then(async ({conn}) => waitForSignal(conn, 'message'));
	const {socket, head} = await rawUpgrade(t, port, {extra: frames});
	const [type, data] = await withTimeout(message, 5000, 'the early message');
	t.is(type, WebsocketDataType.TEXT);
	t.is(data.toString('utf8'), 'early');
	// The pong for the early ping, unmasked from the server: FIN+PONG, len 1, "p".
	const pong = Buffer.from('8a0170', 'hex');
	const bytes = await readBytes(socket, pong.length, head.rest);
	t.is(bytes.toString('hex'), pong.toString('hex'));
});

test('raw client: EOF in the middle of a frame ends in closed, code 0, no error', async t => {
	const {conn, socket, log} = await rawClientToWebsoupServer(t);
	// FIN+TEXT, masked, len 5, the key, then only 2 of the 5 payload bytes.
	socket.end(smallFrame(0x81, Buffer.from('Hello'), KEY).subarray(0, 8));
	const info = await withTimeout(conn.closed, 5000, 'websoup closed');
	t.deepEqual(log.events, ['closed']);
	t.is(conn.getCloseCode(), 0);
	t.false(info.wasClean);
	t.is(info.error, null);
});

test('raw client: a TCP reset is an I/O error, then closed with code 0', async t => {
	const {conn, socket, log} = await rawClientToWebsoupServer(t);
	socket.resetAndDestroy();
	const info = await withTimeout(conn.closed, 5000, 'websoup closed');
	t.deepEqual(log.events, ['error', 'closed']);
	t.false(log.errors[0] instanceof WebsocketError);
	t.is((log.errors[0] as NodeJS.ErrnoException | undefined)?.code, 'ECONNRESET');
	t.is(conn.getCloseCode(), 0);
	t.false(info.wasClean);
});

/** A raw TCP server that answers the upgrade by hand, and a websoup client connected to it. */
async function websoupClientToRawServer(
	t: ExecutionContext,
): Promise<{conn: WebsocketConnection; server: Socket; rest: Buffer; log: ReturnType<typeof record>}> {
	let accept!: (value: {server: Socket; rest: Buffer}) => void;
	const accepted = new Promise<{server: Socket; rest: Buffer}>(resolve => {
		accept = resolve;
	});
	const tcp = createServer({allowHalfOpen: true}, socket => {
		socket.on('error', () => {});
		void readHead(socket).then(request => {
			socket.write(
				'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
					`Sec-WebSocket-Accept: ${computeAcceptKey(request.headers.get('sec-websocket-key') ?? '')}\r\n\r\n`,
			);
			accept({server: socket, rest: request.rest});
		});
	});
	const port = await withTimeout(listen(t, tcp), 5000, 'raw server listening');
	const {conn} = await connectWebsoupClient(t, port);
	const {server, rest} = await withTimeout(accepted, 5000, 'raw server accept');
	return {conn, server, rest, log: record(conn)};
}

test('raw server: a masked frame fails with 1002 WS_ERR_UNEXPECTED_MASK; the client sends a masked Close 1002 and half-closes', async t => {
	const {conn, server, rest, log} = await websoupClientToRawServer(t);
	const received = collectUntilEnd(server, rest);
	server.write(smallFrame(0x81, Buffer.from('Hello'), KEY)); // FIN+TEXT, masked: servers must not mask
	const bytes = await received; // ends at the client's FIN (half-close)
	t.is(bytes.length, 8);
	t.is(bytes.toString('hex', 0, 2), '8882'); // FIN+CLOSE, masked, len 2
	t.is(mask(bytes.subarray(6), bytes.subarray(2, 6)).toString('hex'), '03ea'); // 1002
	t.false(conn.getState() === WebsocketState.CLOSED, 'the client waits for the server to close TCP');
	server.end();
	await failedWith(t, conn, log, {
		code: CloseCode.PROTOCOL_ERROR,
		reason: 'WS_ERR_UNEXPECTED_MASK',
		message: 'Received invalid WebSocket response from the server',
	});
	t.is(conn.getCloseCode(), 0);
});

test('raw server: invalid UTF-8 from the server fails with 1007; the client sends a masked Close 1007', async t => {
	const {conn, server, rest, log} = await websoupClientToRawServer(t);
	const received = collectUntilEnd(server, rest);
	server.write(Buffer.from('8102c328', 'hex')); // FIN+TEXT, len 2, c3 28: a lead byte then "("
	const bytes = await received;
	t.is(bytes.toString('hex', 0, 2), '8882');
	t.is(mask(bytes.subarray(6, 8), bytes.subarray(2, 6)).toString('hex'), '03ef'); // 1007
	server.end();
	await failedWith(t, conn, log, {
		code: CloseCode.BAD_DATA,
		reason: 'WS_ERR_INVALID_UTF8',
		message: 'Received invalid WebSocket data from the server',
	});
});
