// terminate(): the stream closed now, no close handshake; `closed` without `error` (code 0 here, 1006 in the W3C facade).

import {once} from 'node:events';
import test from 'ava';
import {WebSocket as W3CWebSocket, type CloseEvent} from '../../lib/facades/w3c.ts';
import {WebsocketConnection} from '../../lib/websocket/connection.ts';
import {WebsocketConnectionType, WebsocketState} from '../../lib/websocket/constants.ts';
import {gluePair, handlerServer} from '../helpers/handler.ts';
import {rawPeer} from '../helpers/modes.ts';
import {until, waitForSignal, withTimeout} from '../helpers/signals.ts';
import {openPair, wsClosed} from '../helpers/ws-peer.ts';

/** Counts a connection's signals. */
function record(connection: WebsocketConnection): {closing: number; closed: number; errors: Error[]; states: number[]} {
	const seen = {closing: 0, closed: 0, errors: [] as Error[], states: [] as number[]};
	connection.connect('closing', () => seen.closing++);
	connection.connect('closed', () => seen.closed++);
	connection.connect('error', (_self, error) => seen.errors.push(error));
	connection.connect('notify::state', self => seen.states.push(self.state));
	return seen;
}

test('open: terminate() closes at once, no closing, no error, closed once with code 0; the websoup peer sees code 0 too', async t => {
	const {client, server} = await gluePair(t);
	const onServer = record(server);
	const onClient = record(client);
	const clientClosed = client.closed;
	server.terminate();
	// The stream is closing from this call on.
	t.is(server.getState(), WebsocketState.CLOSING);
	const info = await withTimeout(server.closed, 5000, 'server closed');
	t.deepEqual(info, {code: 0, reason: null, wasClean: false, error: null});
	t.is(onServer.closing, 0);
	t.deepEqual(onServer.errors, []);
	t.is(onServer.closed, 1);
	t.deepEqual(onServer.states, [WebsocketState.CLOSING, WebsocketState.CLOSED]);
	t.is(server.getCloseCode(), 0);

	const peer = await withTimeout(clientClosed, 5000, 'client closed');
	t.is(peer.code, 0);
	t.false(peer.wasClean);
	t.is(onClient.closing, 0);

	// Once CLOSED, nothing more happens.
	server.terminate();
	client.terminate();
	t.is(onServer.closed, 1);
	t.is(onClient.closed, 1);
});

test('a ws client sees 1006 when the websoup server terminates', async t => {
	const {conn, ws} = await openPair(t, 'ws client ⇄ websoup server');
	const closed = wsClosed(ws);
	conn.terminate();
	t.is((await closed).code, 1006);
	await withTimeout(conn.closed, 5000, 'closed');
});

test('the W3C facade reports 1006, wasClean false, when the server terminates', async t => {
	const host = await handlerServer(t);
	const socket = new W3CWebSocket(host.url);
	await withTimeout(once(socket as unknown as EventTarget, 'open'), 5000, 'open');
	const server = await host.nth(0);
	const closeEvent = new Promise<CloseEvent>(resolve => {
		socket.addEventListener('close', event => resolve(event as CloseEvent));
	});
	server.terminate();
	const event = await withTimeout(closeEvent, 5000, 'close event');
	t.is(event.code, 1006);
	t.false(event.wasClean);
	t.is(server.getCloseCode(), 0);
});

test('closing: terminate() does not wait for the peer that never answers the Close', async t => {
	// A close timeout longer than the test's wait: only terminate() can close it in time.
	const {connection, received} = await rawPeer(t, 'tcp', WebsocketConnectionType.SERVER, {closeTimeout: 60_000});
	const seen = record(connection);
	connection.close(1000, 'bye');
	t.is(connection.getState(), WebsocketState.CLOSING);
	await until(() => received().length > 0, 5000, 'the Close frame');
	connection.terminate();
	await withTimeout(waitForSignal(connection, 'closed'), 5000, 'closed');
	t.is(seen.closing, 1);
	t.deepEqual(seen.errors, []);
	t.is(seen.closed, 1);
	t.is(received()[0], 0x88); // FIN+CLOSE, sent before the terminate
});

test('terminate() drops frames still queued', async t => {
	const {connection, received, ended} = await rawPeer(t, 'tcp', WebsocketConnectionType.SERVER);
	const socket = connection.getIoStream();
	// Fill the socket's buffer so later frames wait in the connection's queue.
	const big = Buffer.alloc(4 * 1024 * 1024);
	connection.sendBinary(big);
	connection.sendText('queued');
	t.true(connection.bufferedAmount > big.length);
	connection.terminate();
	await withTimeout(connection.closed, 5000, 'closed');
	await withTimeout(ended, 5000, 'peer end');
	t.true(socket.destroyed);
	t.true(received().length < big.length, 'not everything was written');
});
