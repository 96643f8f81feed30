// The OpenHarmony facade's `reconnect` option: websocketReconnect under connect(), onOpen/onClose per connection.

import type {AddressInfo} from 'node:net';
import test, {type ExecutionContext} from 'ava';
import {WebSocketServer, type WebSocket as WsSocket} from 'ws';
import {WebSocketClient, WebSocketErrCode, type WebSocketCloseResult} from '../../lib/facades/openharmony.ts';
import {until, withTimeout} from '../helpers/signals.ts';

async function wsServer(t: ExecutionContext): Promise<{url: string; peers: WsSocket[]}> {
	const wss = new WebSocketServer({host: '127.0.0.1', port: 0});
	await withTimeout(new Promise<void>(resolve => wss.once('listening', () => resolve())), 5000, 'listening');
	const peers: WsSocket[] = [];
	wss.on('connection', ws => {
		ws.on('error', () => {});
		peers.push(ws);
	});
	t.teardown(async () => {
		for (const client of wss.clients) {
			client.terminate();
		}

		await new Promise<void>(resolve => {
			wss.close(() => resolve());
		});
	});
	return {url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`, peers};
}

test('reconnect: a server close with 1012 is onClose(1012), then onOpen again; close() ends it after onClose(1000)', async t => {
	const {url, peers} = await wsServer(t);
	const order: string[] = [];
	const closes: WebSocketCloseResult[] = [];
	const client = new WebSocketClient({
		onOpen: () => order.push('open'),
		onClose: (_client, result) => {
			order.push('close');
			closes.push(result);
		},
		onError: (_client, error) => order.push(`error ${error.errorCode}`),
	});
	t.teardown(() => client.destroy());
	t.is(client.connect(url, {reconnect: {initial: 20, maximum: 100}}), WebSocketErrCode.OK);
	t.is(client.connect(url), WebSocketErrCode.CONNECTION_ERROR, 'already connecting');
	await until(() => order.length === 1 && peers.length === 1, 5000, 'the first open');
	peers[0]!.close(1012, 'restart');
	await until(() => order.length === 3, 5000, 'close and open again');
	t.deepEqual(order, ['open', 'close', 'open']);
	t.deepEqual(closes[0], {code: 1012, reason: 'restart'});
	t.is(peers.length, 2);
	t.is(client.send('still here'), WebSocketErrCode.OK);
	t.is(client.close({code: 1000, reason: 'done'}), WebSocketErrCode.OK);
	await until(() => order.length === 4, 5000, 'the last close');
	t.deepEqual(closes[1], {code: 1000, reason: 'done'});
	t.is(peers.length, 2, 'no third connection');
	t.is(client.send('gone'), WebSocketErrCode.NO_CONNECTION);
});

test('reconnect: destroy() during the wait stops it; a bad reconnect value is a TypeError', async t => {
	const {url, peers} = await wsServer(t);
	const order: string[] = [];
	const client = new WebSocketClient({
		onOpen: () => order.push('open'),
		onClose: (_client, result) => order.push(`close ${result.code}`),
		onError: (_client, error) => order.push(`error ${error.errorCode}`),
	});
	t.throws(() => client.connect(url, {reconnect: 5 as unknown as boolean}), {instanceOf: TypeError, message: /reconnect/});
	client.connect(url, {reconnect: {initial: 60_000, factor: 1, maximum: 60_000}});
	await until(() => peers.length === 1 && order.length === 1, 5000, 'open');
	// Dropped without a Close: 1006, then a long wait before the next attempt.
	peers[0]!.terminate();
	await until(() => order.length === 3, 5000, 'the loss');
	t.deepEqual(order, ['open', 'error 1007', 'close 1006']);
	t.is(client.destroy(), WebSocketErrCode.OK);
	t.is(client.connect(url, {reconnect: true}), WebSocketErrCode.DESTROYED);
	t.is(peers.length, 1);
});
