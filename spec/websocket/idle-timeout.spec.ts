// idle-timeout: no data frame received for so long closes with 1001 "idle timeout"; pings and pongs are not activity.

import test from 'ava';
import {WebsocketConnection} from '../../lib/websocket/connection.ts';
import {CloseCode, WebsocketConnectionType, WebsocketState} from '../../lib/websocket/constants.ts';
import {duplexPair} from '../helpers/duplex-pair.ts';
import {gluePair} from '../helpers/handler.ts';
import {waitForSignal, withTimeout} from '../helpers/signals.ts';
import {openPair, wsClosed} from '../helpers/ws-peer.ts';

test('a silent peer is closed with 1001 "idle timeout": closing, no error, a clean close on both ends', async t => {
	const {client, server} = await gluePair(t, {idleTimeout: 1});
	t.is(server.idleTimeout, 1);
	const errors: Error[] = [];
	server.connect('error', (_self, error) => errors.push(error));
	const closing = waitForSignal(server, 'closing', 10_000);
	const [serverInfo, clientInfo] = await withTimeout(Promise.all([server.closed, client.closed]), 10_000, 'both closed');
	await closing;
	t.deepEqual(errors, []);
	t.deepEqual(clientInfo, {code: CloseCode.GOING_AWAY, reason: 'idle timeout', wasClean: true, error: null});
	// The client echoed the code and reason.
	t.deepEqual(serverInfo, {code: CloseCode.GOING_AWAY, reason: 'idle timeout', wasClean: true, error: null});
});

test('keepalive pings and their pongs are not activity: the connection still closes idle, after latency was measured', async t => {
	// The server pings every second and the client answers; the client never sends data.
	const {client, server} = await gluePair(t, {idleTimeout: 3, keepaliveInterval: 1});
	let pongs = 0;
	server.connect('pong', () => pongs++);
	const info = await withTimeout(client.closed, 15_000, 'client closed');
	t.is(info.code, CloseCode.GOING_AWAY);
	t.is(info.reason, 'idle timeout');
	t.true(pongs >= 1, `${pongs} pongs before the idle close`);
	t.true(server.latency > 0);
});

test('data resets the wait: a peer that sends more often than the idle timeout stays open until it stops', async t => {
	const {conn, ws} = await openPair(t, 'ws client ⇄ websoup server');
	conn.setIdleTimeout(3);
	let received = 0;
	conn.connect('message', () => received++);
	const closed = wsClosed(ws, 20_000);
	// Fifteen messages, 300 ms apart: four and a half seconds of activity against a three-second timeout.
	let sent = 0;
	const sender = setInterval(() => {
		ws.send(`tick ${++sent}`);
		if (sent === 15) {
			clearInterval(sender);
		}
	}, 300);
	t.teardown(() => clearInterval(sender));
	const close = await closed;
	t.is(close.code, CloseCode.GOING_AWAY);
	t.is(close.reason, 'idle timeout');
	// Every message arrived before the idle close: the wait only began after the last.
	t.is(received, 15);
	t.is(sent, 15);
});

test('setting idle-timeout: notify, 0 turns it off, a bad value is a TypeError naming the property', async t => {
	const uri = new URL('ws://127.0.0.1/');
	const [a, b] = duplexPair();
	const [c, d] = duplexPair();
	t.teardown(() => {
		for (const stream of [a, b, c, d]) {
			stream.destroy();
		}
	});
	const conn = new WebsocketConnection({ioStream: a, connectionType: WebsocketConnectionType.SERVER, uri, idleTimeout: 1});
	const notified: number[] = [];
	conn.connect('notify::idle-timeout', self => notified.push(self.getIdleTimeout()));
	conn.setIdleTimeout(0);
	conn.idleTimeout = 0;
	t.deepEqual(notified, [0]);
	t.throws(() => conn.setIdleTimeout(-1), {instanceOf: TypeError, message: /idle-timeout/});
	t.throws(() => conn.setProperty('idle-timeout', 1.5), {instanceOf: TypeError, message: /idle-timeout/});
	t.is(conn.getIdleTimeout(), 0);
	// A control made after it with the same timeout: once it starts closing, the first, turned off, is still open.
	const control = new WebsocketConnection({ioStream: c, connectionType: WebsocketConnectionType.SERVER, uri, idleTimeout: 1});
	await waitForSignal(control, 'closing', 10_000);
	t.is(conn.getState(), WebsocketState.OPEN);
	t.is(control.getState(), WebsocketState.CLOSING);
});

test('construction: idleTimeout is an option of websocketConnect and addWebsocketHandler, checked when called', async t => {
	const {client} = await gluePair(t, {}, {idleTimeout: 1});
	t.is(client.idleTimeout, 1);
	const info = await withTimeout(client.closed, 10_000, 'closed');
	t.is(info.code, CloseCode.GOING_AWAY);
	t.is(info.reason, 'idle timeout');
	const {websocketConnect} = await import('../../lib/node/client.ts');
	await t.throwsAsync(websocketConnect('ws://127.0.0.1:1/', null, null, {idleTimeout: -5}), {
		instanceOf: TypeError,
		message: /idleTimeout/,
	});
});
