import test, {type ExecutionContext} from 'ava';
import type {WebsocketConnection} from '../../lib/websocket/connection.ts';
import {CloseCode, WebsocketConnectionType, WebsocketState} from '../../lib/websocket/constants.ts';
import {WebsocketError, type WebsocketErrorReason} from '../../lib/websocket/errors.ts';
import {encodeClosePayload, encodeFrame, generateMaskKey} from '../../lib/websocket/frame.ts';
import {WebsocketFramer} from '../../lib/websocket/framer.ts';
import {both, connectionPair, modes, rawPeer, type Mode} from '../helpers/modes.ts';
import {until, waitForSignal, withTimeout} from '../helpers/signals.ts';

/** Records the signals of a connection as `name` or `name:detail` strings. */
function record(conn: WebsocketConnection, tag: string, log: string[]): void {
	conn.connect('closing', () => log.push(`${tag} closing`));
	conn.connect('closed', self => log.push(`${tag} closed ${self.getCloseCode()}`));
	conn.connect('error', (_self, error) => log.push(`${tag} error ${(error as WebsocketError).code ?? ''}`));
	conn.connect('notify::state', self => log.push(`${tag} state ${self.getState()}`));
}

const masked = (opcode: number, payload: Buffer, fin = true): Buffer =>
	Buffer.concat(encodeFrame(opcode, payload, {fin, maskKey: generateMaskKey()}));
const unmasked = (opcode: number, payload: Buffer, fin = true): Buffer => Buffer.concat(encodeFrame(opcode, payload, {fin}));

both('close-clean-client: closing on both sides, then closed once each, with the code and reason', async (t, mode) => {
	const {client, server} = await connectionPair(t, mode);
	const log: string[] = [];
	record(client, 'C', log);
	record(server, 'S', log);
	client.close(CloseCode.NORMAL, 'bye');
	// libsoup: closing is emitted inside close(), and the state is CLOSING when it returns.
	t.deepEqual(log, ['C closing', 'C state 2']);
	t.is(client.getState(), WebsocketState.CLOSING);
	const [clientInfo, serverInfo] = await withTimeout(Promise.all([client.closed, server.closed]));
	t.deepEqual(clientInfo, {code: 1000, reason: 'bye', wasClean: true, error: null});
	t.deepEqual(serverInfo, {code: 1000, reason: 'bye', wasClean: true, error: null});
	t.is(server.getCloseData(), 'bye');
	t.is(client.getCloseData(), 'bye');
	const serverLog = log.filter(entry => entry.startsWith('S'));
	t.deepEqual(serverLog, ['S closing', 'S state 2', 'S state 3', 'S closed 1000']);
	t.deepEqual(
		log.filter(entry => entry.startsWith('C')),
		['C closing', 'C state 2', 'C state 3', 'C closed 1000'],
	);
	t.is(client.getState(), WebsocketState.CLOSED);
	t.is(client.getProperty('state'), WebsocketState.CLOSED);
});

both('close-clean-server: both sides report the server\'s code and reason', async (t, mode) => {
	const {client, server} = await connectionPair(t, mode);
	const log: string[] = [];
	record(client, 'C', log);
	record(server, 'S', log);
	server.close(CloseCode.GOING_AWAY, 'going');
	await withTimeout(Promise.all([client.closed, server.closed]));
	t.is(client.getCloseCode(), 1001);
	t.is(client.getCloseData(), 'going');
	t.is(server.getCloseCode(), 1001);
	t.is(server.getCloseData(), 'going');
	t.is(log[0], 'S closing');
	t.true(log.includes('C closing'));
	t.false(log.some(entry => entry.includes('error')));
});

both('close with no status: the server sees 1005, the client gets 1000 back', async (t, mode) => {
	const {client, server} = await connectionPair(t, mode);
	client.close();
	await withTimeout(Promise.all([client.closed, server.closed]));
	t.is(server.getCloseCode(), CloseCode.NO_STATUS);
	t.is(server.getCloseData(), null);
	t.is(client.getCloseCode(), CloseCode.NORMAL);
});

both('close-after-close: a second close() is ignored', async (t, mode) => {
	const {client, server} = await connectionPair(t, mode);
	let closings = 0;
	client.connect('closing', () => closings++);
	client.close(1000, 'first');
	client.close(4000, 'second');
	await withTimeout(Promise.all([client.closed, server.closed]));
	t.is(closings, 1);
	t.is(server.getCloseData(), 'first');
	client.close(1000);
});

both('close() from a closing handler is ignored', async (t, mode) => {
	const {client, server} = await connectionPair(t, mode);
	let closings = 0;
	client.connect('closing', self => {
		closings++;
		self.close(4001);
	});
	client.close(1000);
	await withTimeout(Promise.all([client.closed, server.closed]));
	t.is(closings, 1);
	t.is(server.getCloseCode(), 1000);
});

test('close(): codes that may not be sent and long reasons throw, leaving the connection open', async t => {
	const {client, server} = await connectionPair(t, 'direct');
	for (const code of [0, 999, 1004, 1006, 1011, 1012, 1015, 2999, 5000, 65_535]) {
		t.throws(() => client.close(code), {instanceOf: RangeError, message: `Expected \`code\` to be a close code this client may send, got \`${code}\``});
	}

	for (const code of [1010, 1016]) {
		t.throws(() => server.close(code), {instanceOf: RangeError});
	}

	t.throws(() => client.close(1000, 'x'.repeat(124)), {
		instanceOf: RangeError,
		message: 'Expected `reason` to be at most 123 bytes of UTF-8, got `124`',
	});
	t.throws(() => client.close(1000, 'é'.repeat(62)), {instanceOf: RangeError});
	t.throws(() => client.close(1005, 'reason'), {instanceOf: RangeError});
	t.throws(() => client.close(1.5), {instanceOf: TypeError});
	t.throws(() => client.close(1000, 5 as never), {instanceOf: TypeError});
	t.is(client.getState(), WebsocketState.OPEN);
	client.close(1000, 'x'.repeat(123));
	await withTimeout(server.closed);
	t.is(server.getCloseData(), 'x'.repeat(123));
});

both('close codes 1011-1014 from a server and 1010 from a client are sent and received', async (t, mode) => {
	for (const code of [1011, 1012, 1013, 1014]) {
		const {client, server} = await connectionPair(t, mode);
		server.close(code, 'later');
		await withTimeout(client.closed);
		t.is(client.getCloseCode(), code);
	}

	const {client, server} = await connectionPair(t, mode);
	client.close(1010, 'need ext');
	await withTimeout(server.closed);
	t.is(server.getCloseCode(), 1010);
});

both('message-after-closing: data still arrives after a local close until the peer\'s Close', async (t, mode) => {
	const {connection: client, raw} = await rawPeer(t, mode, WebsocketConnectionType.CLIENT);
	client.close(1000, 'bye');
	raw.write(unmasked(0x1, Buffer.from('late')));
	const [, data] = await waitForSignal(client, 'message');
	t.is(data.toString(), 'late');
	raw.write(unmasked(0x8, encodeClosePayload(1000)));
	raw.end();
	await withTimeout(client.closed);
	t.is(client.getCloseCode(), 1000);
});

async function sendsAfterCloseAreDropped(t: ExecutionContext, mode: Mode): Promise<void> {
	const {client, server} = await connectionPair(t, mode);
	const warnings: Error[] = [];
	const onWarning = (warning: Error): void => {
		if (warning.name === 'WebsocketWarning') {
			warnings.push(warning);
		}
	};

	process.on('warning', onWarning);
	t.teardown(() => process.off('warning', onWarning));
	let received = 0;
	server.connect('message', () => received++);
	client.close(1000);
	client.sendText('dropped');
	client.sendBinary(Buffer.from('dropped'));
	await withTimeout(Promise.all([client.closed, server.closed]));
	client.sendText('dropped');
	await until(() => warnings.length > 0);
	t.is(received, 0);
	// The client sent three times after close(): one warning for the connection (LIBSOUP.md difference 3).
	t.is(warnings.length, 1);
	t.regex(warnings[0]!.message, /WebsocketConnection\.sendText\(\) while the connection is not open: data dropped/);
}

// Serial: warnings are process-wide, so no other test of this file may drop data meanwhile.
for (const mode of modes) {
	test.serial(`sends after close are dropped with one warning [${mode}]`, async t => sendsAfterCloseAreDropped(t, mode));
}

both('peer drops TCP without a Close frame: closed with code 0 and no error', async (t, mode) => {
	const {connection, raw} = await rawPeer(t, mode, WebsocketConnectionType.SERVER);
	const log: string[] = [];
	record(connection, 'S', log);
	raw.destroy();
	const info = await withTimeout(connection.closed);
	t.deepEqual(info, {code: 0, reason: null, wasClean: false, error: null});
	t.deepEqual(log, ['S state 2', 'S state 3', 'S closed 0']);
});

both('peer ends mid-frame: closed with code 0, no error', async (t, mode) => {
	const {connection, raw} = await rawPeer(t, mode, WebsocketConnectionType.CLIENT);
	raw.write(unmasked(0x2, Buffer.alloc(100)).subarray(0, 50));
	raw.end();
	const info = await withTimeout(connection.closed);
	t.is(info.code, 0);
	t.is(info.error, null);
});

/** Sends `frame` from a raw peer and checks the error, its code, reason, and the Close frame (or none) answered. */
async function expectError(
	t: Parameters<Parameters<typeof both>[1]>[0],
	mode: Parameters<Parameters<typeof both>[1]>[1],
	type: WebsocketConnectionType,
	frames: Buffer[],
	expected: {code: number; reason: WebsocketErrorReason; message: RegExp; closeFrame: number | null},
	options: Parameters<typeof rawPeer>[3] = {},
): Promise<void> {
	const {connection, raw, received, ended} = await rawPeer(t, mode, type, options);
	const log: string[] = [];
	record(connection, 'X', log);
	const errorPromise = waitForSignal(connection, 'error');
	for (const frame of frames) {
		raw.write(frame);
	}

	const [error] = await errorPromise;
	t.true(error instanceof WebsocketError);
	t.is((error as WebsocketError).code, expected.code);
	t.is((error as WebsocketError).reason, expected.reason);
	t.regex(error.message, expected.message);
	if (expected.closeFrame === null) {
		await withTimeout(connection.closed);
		await withTimeout(ended);
		t.is(received().length, 0, 'no Close frame with prejudice');
	} else {
		await withTimeout(ended);
		const framer = new WebsocketFramer({mode: type === WebsocketConnectionType.SERVER ? 'client' : 'server'});
		const sent = framer.readFrames(received());
		const close = sent.find(frame => frame.opcode === 0x8);
		t.truthy(close, 'a Close frame was sent');
		t.is(close!.payload.readUInt16BE(0), expected.closeFrame);
		t.is(close!.payload.length, 2, 'no reason text on an error close');
		raw.end();
		await withTimeout(connection.closed);
	}

	// error before closed, no closing on the side that hit the error.
	t.false(log.includes('X closing'));
	t.true(log.indexOf(`X error ${expected.code}`) < log.findIndex(entry => entry.startsWith('X closed')));
	t.is(log.filter(entry => entry.startsWith('X closed')).length, 1);
	t.is(log.filter(entry => entry.startsWith('X error')).length, 1);
}

both('a client fails a masked frame with 1002', async (t, mode) => {
	await expectError(t, mode, WebsocketConnectionType.CLIENT, [masked(0x1, Buffer.from('x'))], {
		code: 1002,
		reason: 'WS_ERR_UNEXPECTED_MASK',
		message: /^Received invalid WebSocket response from the server$/,
		closeFrame: 1002,
	});
});

both('a server fails an unmasked frame with 1002', async (t, mode) => {
	await expectError(t, mode, WebsocketConnectionType.SERVER, [unmasked(0x1, Buffer.from('x'))], {
		code: 1002,
		reason: 'WS_ERR_EXPECTED_MASK',
		message: /^Received invalid WebSocket response from the client$/,
		closeFrame: 1002,
	});
});

both('reserved bits, reserved opcodes, long or fragmented control frames fail with 1002', async (t, mode) => {
	const cases: Array<[Buffer, WebsocketErrorReason]> = [
		[Buffer.concat(encodeFrame(0x1, Buffer.from('x'), {rsv: 0x40, maskKey: generateMaskKey()})), 'WS_ERR_INVALID_RSV_BITS'],
		[masked(0x3, Buffer.from('x')), 'WS_ERR_INVALID_OPCODE'],
		[masked(0xb, Buffer.alloc(0)), 'WS_ERR_INVALID_OPCODE'],
		[masked(0x9, Buffer.alloc(126)), 'WS_ERR_CONTROL_FRAME_TOO_LONG'],
		[masked(0x9, Buffer.alloc(1), false), 'WS_ERR_FRAGMENTED_CONTROL_FRAME'],
		[masked(0x0, Buffer.from('x')), 'WS_ERR_UNEXPECTED_CONTINUATION'],
		[Buffer.concat([masked(0x1, Buffer.from('a'), false), masked(0x2, Buffer.from('b'))]), 'WS_ERR_EXPECTED_CONTINUATION'],
		[masked(0x8, Buffer.from([0x03])), 'WS_ERR_INVALID_CLOSE_PAYLOAD'],
		[masked(0x8, encodeClosePayload(1006)), 'WS_ERR_INVALID_CLOSE_CODE'],
		[masked(0x8, encodeClosePayload(2999)), 'WS_ERR_INVALID_CLOSE_CODE'],
	];
	for (const [frame, reason] of cases) {
		await expectError(t, mode, WebsocketConnectionType.SERVER, [frame], {
			code: 1002,
			reason,
			message: /from the client$/,
			closeFrame: 1002,
		});
	}
});

// LIBSOUP.md difference 9: libsoup answers 1002; RFC 6455 §8.1 calls invalid UTF-8 invalid data (1007).
both('a Close whose reason is not UTF-8 fails with 1007', async (t, mode) => {
	await expectError(t, mode, WebsocketConnectionType.SERVER, [masked(0x8, Buffer.from([0x03, 0xe8, 0xff]))], {
		code: 1007,
		reason: 'WS_ERR_INVALID_CLOSE_REASON',
		message: /^Received invalid WebSocket data from the client$/,
		closeFrame: 1007,
	});
});

both('one text frame read in two chunks fails at the chunk that makes it invalid, before the frame is complete', async (t, mode) => {
	const payload = Buffer.concat([Buffer.from('valid start '), Buffer.from([0xc3, 0x28]), Buffer.alloc(100_000, 0x61)]);
	const frame = unmasked(0x1, payload);
	// The first chunk holds the header and valid text; the second the invalid bytes; the rest never comes.
	await expectError(t, mode, WebsocketConnectionType.CLIENT, [frame.subarray(0, 14), frame.subarray(14, 30)], {
		code: 1007,
		reason: 'WS_ERR_INVALID_UTF8',
		message: /^Received invalid WebSocket data from the server$/,
		closeFrame: 1007,
	});
});

both('one text frame read in many chunks, valid, split inside characters: delivered whole', async (t, mode) => {
	const {connection, raw} = await rawPeer(t, mode, WebsocketConnectionType.CLIENT);
	const text = 'héllo wörld € 日本 '.repeat(500);
	const frame = unmasked(0x1, Buffer.from(text));
	const message = new Promise<string>(resolve => {
		connection.connect('message', (_self, _type, data) => resolve(data.toString()));
	});
	for (let offset = 0; offset < frame.length; offset += 7) {
		raw.write(frame.subarray(offset, offset + 7));
	}

	t.is(await withTimeout(message), text);
});

both('invalid UTF-8 in a text message fails with 1007', async (t, mode) => {
	await expectError(t, mode, WebsocketConnectionType.CLIENT, [unmasked(0x1, Buffer.from([0x68, 0xc3, 0x28]))], {
		code: 1007,
		reason: 'WS_ERR_INVALID_UTF8',
		message: /^Received invalid WebSocket data from the server$/,
		closeFrame: 1007,
	});
});

both('invalid UTF-8 fails fast, on the first bad fragment', async (t, mode) => {
	// The message is never finished: the error comes from the first fragment alone.
	await expectError(t, mode, WebsocketConnectionType.SERVER, [masked(0x1, Buffer.from([0x61, 0xed, 0xa0, 0x80]), false)], {
		code: 1007,
		reason: 'WS_ERR_INVALID_UTF8',
		message: /from the client$/,
		closeFrame: 1007,
	});
});

both('a text message split inside a multi-byte character is valid', async (t, mode) => {
	const {connection, raw} = await rawPeer(t, mode, WebsocketConnectionType.CLIENT);
	const bytes = Buffer.from('€uro');
	raw.write(unmasked(0x1, bytes.subarray(0, 1), false));
	raw.write(unmasked(0x0, bytes.subarray(1, 2), false));
	raw.write(unmasked(0x0, bytes.subarray(2)));
	const [, data] = await waitForSignal(connection, 'message');
	t.is(data.toString(), '€uro');
});

// LIBSOUP.md difference 8: libsoup drops TCP without a Close at a limit; websoup sends a Close 1009 first.
both('a frame over max-incoming-payload-size fails with 1009, sends a Close 1009 and closes', async (t, mode) => {
	const header = Buffer.from([0x82, 0x80 | 127, 0, 0, 0, 1, 0, 0, 0, 0]); // BINARY, masked, 2^32 bytes: only the header is sent
	await expectError(
		t,
		mode,
		WebsocketConnectionType.SERVER,
		[header],
		{
			code: 1009,
			reason: 'WS_ERR_PAYLOAD_TOO_BIG',
			message: /^Received WebSocket payload from the client larger than configured max-incoming-payload-size \(4294967296 bytes, limit 1024\)$/,
			closeFrame: 1009,
		},
		{maxIncomingPayloadSize: 1024},
	);
});

both('fragments over max-total-message-size fail with 1009, send a Close 1009 and close', async (t, mode) => {
	const frames = Array.from({length: 20}, (_, i) => masked(i === 0 ? 0x2 : 0x0, Buffer.alloc(100), false));
	await expectError(
		t,
		mode,
		WebsocketConnectionType.SERVER,
		frames,
		{
			code: 1009,
			reason: 'WS_ERR_MESSAGE_TOO_BIG',
			message: /larger than configured max-total-message-size \(1100 bytes, limit 1000\)$/,
			closeFrame: 1009,
		},
		{maxTotalMessageSize: 1000},
	);
});

both('the payload limit allows exactly the limit', async (t, mode) => {
	const {client, server} = await connectionPair(t, mode, {}, {maxIncomingPayloadSize: 1000});
	client.sendBinary(Buffer.alloc(1000));
	const [, data] = await waitForSignal(server, 'message');
	t.is(data.length, 1000);
});

both('data frames after an error-initiated close are dropped', async (t, mode) => {
	const {connection, raw} = await rawPeer(t, mode, WebsocketConnectionType.CLIENT);
	let messages = 0;
	connection.connect('message', () => messages++);
	const error = waitForSignal(connection, 'error');
	raw.write(Buffer.concat([unmasked(0x1, Buffer.from([0xff])), unmasked(0x1, Buffer.from('after'))]));
	await error;
	raw.write(unmasked(0x1, Buffer.from('later')));
	raw.end();
	await withTimeout(connection.closed);
	t.is(messages, 0);
});

both('a Close frame from the peer is echoed with its code and reason', async (t, mode) => {
	const {connection, raw, received, ended} = await rawPeer(t, mode, WebsocketConnectionType.SERVER);
	const log: string[] = [];
	record(connection, 'S', log);
	raw.write(masked(0x8, encodeClosePayload(4321, 'custom')));
	await withTimeout(connection.closed);
	await withTimeout(ended);
	const [close] = new WebsocketFramer({mode: 'client'}).readFrames(received());
	t.is(close!.opcode, 0x8);
	t.is(close!.payload.readUInt16BE(0), 4321);
	t.is(close!.payload.subarray(2).toString(), 'custom');
	t.is(connection.getCloseCode(), 4321);
	t.deepEqual(log, ['S closing', 'S state 2', 'S state 3', 'S closed 4321']);
});

test('close-after-timeout: a peer that never answers the Close is cut off after the connection\'s close-timeout', async t => {
	const {connection} = await rawPeer(t, 'tcp', WebsocketConnectionType.CLIENT, {closeTimeout: 100});
	t.is(connection.getProperty('close-timeout'), 100);
	connection.close(1000);
	const info = await withTimeout(connection.closed, 2000);
	t.is(info.code, 0);
	t.false(info.wasClean);
});

test('keepalive: pings every interval; a missing pong fails with 1008', async t => {
	const {connection, received, ended} = await rawPeer(t, 'tcp', WebsocketConnectionType.SERVER, {
		keepaliveInterval: 1,
		keepalivePongTimeout: 1,
	});
	const [error] = await waitForSignal(connection, 'error', 5000);
	t.is((error as WebsocketError).code, CloseCode.POLICY_VIOLATION);
	t.is((error as WebsocketError).reason, 'WS_ERR_PONG_TIMEOUT');
	t.is(error.message, 'Did not receive keepalive pong within 1 seconds');
	await withTimeout(ended);
	const frames = new WebsocketFramer({mode: 'client'}).readFrames(received());
	t.is(frames[0]!.opcode, 0x9);
	t.is(frames[0]!.payload.toString(), 'websoup-keepalive-1');
	const close = frames.find(frame => frame.opcode === 0x8);
	t.is(close!.payload.readUInt16BE(0), 1008);
});

test('keepalive: a peer that answers only the latest Ping (RFC 6455 §5.5.3) does not time out', async t => {
	const {connection, raw, received} = await rawPeer(t, 'tcp', WebsocketConnectionType.SERVER, {
		keepaliveInterval: 1,
		keepalivePongTimeout: 2,
	});
	let errors = 0;
	connection.connect('error', () => errors++);
	const pings = (): Buffer[] =>
		new WebsocketFramer({mode: 'client', maxPayloadSize: 0})
			.readFrames(received())
			.filter(frame => frame.opcode === 0x9)
			.map(frame => frame.payload);
	// Ping 1 goes unanswered; Ping 2's Pong must settle both (ping 1's timer would fire at 3 s).
	await until(() => pings().length >= 2, 10_000, 'two keepalive pings');
	raw.write(masked(0xa, pings()[1]!));
	await until(() => pings().length >= 4, 10_000, 'two more pings');
	raw.write(masked(0xa, pings()[3]!));
	t.is(errors, 0);
	t.is(connection.getState(), WebsocketState.OPEN);
	connection.setKeepaliveInterval(0);
});

test('keepalive: answered pings keep the connection open', async t => {
	const {client, server} = await connectionPair(t, 'tcp', {}, {keepaliveInterval: 1, keepalivePongTimeout: 5});
	let pongs = 0;
	server.connect('pong', (_self, data) => {
		t.regex(data.toString(), /^websoup-keepalive-\d+$/);
		pongs++;
	});
	await until(() => pongs >= 2, 10_000, 'two keepalive pongs');
	t.is(server.getState(), WebsocketState.OPEN);
	server.setKeepaliveInterval(0);
	client.close(1000);
	await withTimeout(server.closed);
});

both('a write to a peer that is gone ends in closed, never an uncaught exception', async (t, mode) => {
	const {client, server} = await connectionPair(t, mode);
	server.getIoStream().destroy();
	await withTimeout(server.closed);
	// Bounded: the client learns of the loss from EOF or from a failed write.
	for (let i = 0; i < 50 && client.getState() !== WebsocketState.CLOSED; i++) {
		client.sendBinary(Buffer.alloc(1024));
		await new Promise(resolve => {
			setImmediate(resolve);
		});
	}

	const info = await withTimeout(client.closed);
	t.is(info.code, 0);
	t.false(info.wasClean);
});

both('close state: Open, CloseSent on the initiator, CloseReceived never lingers on the echoing side, Closed at the end', async (t, mode) => {
	const {client, server} = await connectionPair(t, mode);
	const serverStates: string[] = [];
	server.connect('closing', self => serverStates.push(self.getCloseState()));
	t.is(client.getCloseState(), 'Open');
	client.close(1000);
	t.is(client.getCloseState(), 'CloseSent');
	await withTimeout(Promise.all([client.closed, server.closed]));
	// The server emits closing on the peer's Close, before echoing it.
	t.deepEqual(serverStates, ['CloseReceived']);
	t.is(client.getCloseState(), 'Closed');
	t.is(server.getCloseState(), 'Closed');
});

both('message-after-closing: what the server sends in its closing handler reaches the client before the Close', async (t, mode) => {
	const {client, server} = await connectionPair(t, mode);
	server.connect('closing', self => {
		// libsoup: the server is still OPEN here, before it echoes the client's Close.
		t.is(self.getState(), WebsocketState.OPEN);
		self.sendText('sent while closing');
	});
	const received: string[] = [];
	client.connect('message', (_self, _type, data) => received.push(data.toString()));
	client.close(CloseCode.GOING_AWAY, 'another reason');
	await withTimeout(Promise.all([client.closed, server.closed]));
	t.deepEqual(received, ['sent while closing']);
	t.is(client.getCloseCode(), CloseCode.GOING_AWAY);
	t.is(client.getCloseData(), 'another reason');
});

both('a Close with a code and no reason: getCloseData() is null on both sides, as in libsoup', async (t, mode) => {
	const {client, server} = await connectionPair(t, mode);
	client.close(CloseCode.NORMAL);
	await withTimeout(Promise.all([client.closed, server.closed]));
	t.is(server.getCloseCode(), CloseCode.NORMAL);
	t.is(server.getCloseData(), null);
	t.is(client.getCloseCode(), CloseCode.NORMAL);
	t.is(client.getCloseData(), null);
	t.is((await client.closed).reason, null);
});

both('after a protocol error, a later frame over the limit does not tear down the Close already sent', async (t, mode) => {
	const {connection, raw, received, ended} = await rawPeer(t, mode, WebsocketConnectionType.CLIENT);
	const errors: number[] = [];
	connection.connect('error', (_self, error) => errors.push((error as WebsocketError).code));
	// TEXT "\xff" (invalid UTF-8), then a BINARY header announcing 1 MiB (over 128 KiB).
	raw.write(Buffer.from('8101ff827f0000000000100000', 'hex'));
	await withTimeout(connection.closed);
	await withTimeout(ended);
	const frames = new WebsocketFramer({mode: 'server'}).readFrames(received());
	t.deepEqual(frames.map(frame => [frame.opcode, frame.payload.readUInt16BE(0)]), [[0x8, CloseCode.BAD_DATA]]);
	t.deepEqual(errors, [CloseCode.BAD_DATA]);
});

// --- Simultaneous close while the send queue waits for 'drain' --------------------------------

both('simultaneous close while frames wait for drain: queued data and our Close still go out', async (t, mode) => {
	const {client, server} = await connectionPair(t, mode);
	const clientErrors: Error[] = [];
	client.connect('error', (_self, error) => clientErrors.push(error));
	let received = 0;
	server.connect('message', () => received++);
	// Wait until both are reading.
	client.sendText('hello');
	await until(() => received === 1);
	// The server reads nothing for now, so past WRITE_BUFFER_LIMIT (1 MiB) frames wait in the client's queue.
	const serverStream = server.getIoStream();
	serverStream.pause();
	const chunk = Buffer.alloc(64 * 1024, 1);
	let count = 0;
	while (count < 1024 && client.bufferedAmount <= client.getIoStream().writableLength) {
		client.sendBinary(chunk);
		count++;
	}

	t.true(client.bufferedAmount > client.getIoStream().writableLength, 'frames wait in the connection\'s queue');
	client.close(1000, 'client bye');
	server.close(1000, 'server bye'); // the peers' Close frames cross
	await until(() => client.getCloseCode() === 1000, 5000, 'the server\'s Close at the client');
	serverStream.resume();
	await withTimeout(Promise.all([client.closed, server.closed]), 8000, 'both closed');
	t.is(received, count + 1, 'every message sent before close() arrives');
	t.is(server.getCloseCode(), 1000, 'the server gets the client\'s Close');
	t.is(server.getCloseData(), 'client bye');
	t.deepEqual(clientErrors, [], 'no error on a clean close');
});
