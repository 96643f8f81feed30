// latency and ping(): each answered ping (keepalive or ping()) measures the round trip; ping() resolves with it.

import test from 'ava';
import {WebsocketConnection} from '../../lib/websocket/connection.ts';
import {CloseCode, Opcode, WebsocketConnectionType, WebsocketState} from '../../lib/websocket/constants.ts';
import {WebsocketError} from '../../lib/websocket/errors.ts';
import {encodeFrame, generateMaskKey} from '../../lib/websocket/frame.ts';
import {WebsocketFramer} from '../../lib/websocket/framer.ts';
import {LongTimer} from '../../lib/websocket/timer.ts';
import {rawPeer} from '../helpers/modes.ts';
import {until, waitForSignal, withTimeout} from '../helpers/signals.ts';
import {openPair} from '../helpers/ws-peer.ts';

/** A frame as a client sends it (masked). */
function clientFrame(opcode: number, payload: string | Buffer): Buffer {
	return Buffer.concat(encodeFrame(opcode, Buffer.from(payload), {maskKey: generateMaskKey()}));
}

test('ping() against ws: resolves with the round trip, which becomes latency (notify::latency once), and the pong signal carries the payload', async t => {
	const {conn} = await openPair(t, 'websoup client ⇄ ws server');
	t.is(conn.latency, 0);
	const notified: number[] = [];
	conn.connect('notify::latency', self => notified.push(self.latency));
	const pong = waitForSignal(conn, 'pong');
	const roundTrip = await withTimeout(conn.ping('are you there'), 5000, 'ping');
	t.is(typeof roundTrip, 'number');
	t.true(roundTrip > 0 && Number.isFinite(roundTrip));
	t.is(conn.latency, roundTrip);
	t.is(conn.getLatency(), roundTrip);
	t.is(conn.getProperty('latency'), roundTrip);
	t.deepEqual(notified, [roundTrip]);
	t.is((await pong)[0].toString(), 'are you there');
	t.throws(() => (conn as unknown as {setProperty(name: string, value: number): void}).setProperty('latency', 5), {
		instanceOf: TypeError,
		message: /latency/,
	});
});

test('keepalive: each pong measures the round trip (the ws client answers websoup\'s keepalive pings)', async t => {
	const {conn} = await openPair(t, 'ws client ⇄ websoup server');
	const measured = waitForSignal(conn, 'notify::latency', 10_000);
	conn.setKeepaliveInterval(1);
	await measured;
	t.true(conn.latency > 0);
	conn.setKeepaliveInterval(0);
});

test('a pong for the latest ping answers the earlier ones too (RFC 6455 §5.5.3); equal payloads are answered in order', async t => {
	const {connection, raw, received} = await rawPeer(t, 'tcp', WebsocketConnectionType.SERVER);
	const first = connection.ping('a');
	const second = connection.ping('b');
	const third = connection.ping('b');
	const framer = new WebsocketFramer({mode: 'client'});
	await until(() => framer.readFrames(received()).length === 3, 5000, 'three pings');
	raw.write(clientFrame(Opcode.PONG, 'b'));
	const [a, b] = await withTimeout(Promise.all([first, second]), 5000, 'the first two');
	t.true(a >= b);
	t.is(connection.latency, b);
	let thirdDone = false;
	void third.then(() => {
		thirdDone = true;
	});
	// The third waits for a pong of its own: the peer's own ping is answered, and the third is still pending.
	raw.write(clientFrame(Opcode.PING, 'sync'));
	await until(
		() => framer.readFrames(received()).some(frame => frame.opcode === Opcode.PONG && frame.payload.toString() === 'sync'),
		5000,
		'the pong of the peer\'s ping',
	);
	t.false(thirdDone);
	raw.write(clientFrame(Opcode.PONG, 'b'));
	const c = await withTimeout(third, 5000, 'the third');
	t.true(c >= 0);
	// The third's own round trip is now the connection's latency.
	t.is(connection.latency, c);
	// An unsolicited pong changes nothing.
	const latency = connection.latency;
	raw.write(clientFrame(Opcode.PONG, 'zzz'));
	await waitForSignal(connection, 'pong');
	t.is(connection.latency, latency);
});

test('the connection closing first rejects ping() with WS_ERR_CLOSED_BEFORE_PONG; an ignored promise is no unhandled rejection', async t => {
	const {connection, raw} = await rawPeer(t, 'tcp', WebsocketConnectionType.SERVER);
	const pending = connection.ping('never answered');
	// This one is ignored on purpose: ava fails the test on an unhandled rejection.
	void connection.ping(new Uint8Array([1, 2, 3]));
	raw.write(clientFrame(Opcode.CLOSE, Buffer.from([0x03, 0xe8]))); // Close 1000
	const error = await t.throwsAsync(withTimeout(pending, 5000, 'rejection'), {instanceOf: WebsocketError});
	t.is((error as WebsocketError).reason, 'WS_ERR_CLOSED_BEFORE_PONG');
	t.is((error as WebsocketError).message, 'The connection closed before the pong arrived');
	await withTimeout(connection.closed, 5000, 'closed');
	// Once closed, ping() rejects at once (and warns once, as every send after close does).
	const late = await t.throwsAsync(connection.ping(), {instanceOf: WebsocketError});
	t.is((late as WebsocketError).reason, 'WS_ERR_CLOSED_BEFORE_PONG');
	t.throws(() => connection.ping(Buffer.alloc(126)), {instanceOf: RangeError});
	t.throws(() => connection.ping(42 as unknown as string), {instanceOf: TypeError});
});

test('keepalive-pong-timeout: an unanswered ping() rejects with WS_ERR_PONG_TIMEOUT and fails the connection with 1008, as a keepalive ping does', async t => {
	const {connection, received} = await rawPeer(t, 'tcp', WebsocketConnectionType.SERVER, {keepalivePongTimeout: 1});
	const errorSignal = waitForSignal(connection, 'error', 10_000);
	const error = await t.throwsAsync(withTimeout(connection.ping('hello?'), 10_000, 'rejection'), {instanceOf: WebsocketError});
	t.is((error as WebsocketError).reason, 'WS_ERR_PONG_TIMEOUT');
	t.is((error as WebsocketError).code, CloseCode.POLICY_VIOLATION);
	t.is((await errorSignal)[0], error);
	const framer = new WebsocketFramer({mode: 'client'});
	await until(() => framer.readFrames(received()).some(frame => frame.opcode === Opcode.CLOSE), 5000, 'the Close');
	const close = framer.readFrames(received()).find(frame => frame.opcode === Opcode.CLOSE)!;
	t.is(close.payload.readUInt16BE(0), CloseCode.POLICY_VIOLATION);
	t.is(connection.latency, 0);
});

test('ping() resolves on both ends of a websoup pair over TCP', async t => {
	const {connectionPair} = await import('../helpers/modes.ts');
	const {client, server} = await connectionPair(t, 'tcp');
	const [fromClient, fromServer] = await withTimeout(Promise.all([client.ping('c'), server.ping('s')]), 5000, 'both pings');
	t.true(fromClient > 0);
	t.true(fromServer > 0);
	t.true(client instanceof WebsocketConnection);
});

test('keepalive-pong-timeout set to 0 stops the timeouts of pings already sent: they wait, the connection stays open', async t => {
	const {connection} = await rawPeer(t, 'tcp', WebsocketConnectionType.SERVER, {keepalivePongTimeout: 1});
	let settled = false;
	void connection.ping('unanswered').then(
		() => {
			settled = true;
		},
		() => {
			settled = true;
		},
	);
	connection.setKeepalivePongTimeout(0);
	// Longer than the timeout that was set.
	const control = new LongTimer(() => {}, 1500);
	await until(() => !control.pending, 10_000, 'the control timer');
	t.false(settled);
	t.is(connection.getState(), WebsocketState.OPEN);
});
