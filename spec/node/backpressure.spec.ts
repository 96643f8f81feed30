// Reading backpressure across the Node glue: a server stops reading while it cannot send, a client
// reads on, so two websoup peers pushing large messages both ways never wait on each other.

import http from 'node:http';
import type {AddressInfo} from 'node:net';
import test, {type ExecutionContext} from 'ava';
import {websocketConnect} from '../../lib/node/client.ts';
import {addWebsocketHandler} from '../../lib/node/server.ts';
import type {WebsocketConnection} from '../../lib/websocket/connection.ts';
import {withTimeout} from '../helpers/signals.ts';

async function echoServer(t: ExecutionContext, options: Parameters<typeof addWebsocketHandler>[5] = {}): Promise<{url: string; connections: WebsocketConnection[]}> {
	const server = http.createServer();
	const connections: WebsocketConnection[] = [];
	addWebsocketHandler(
		server,
		'/',
		null,
		null,
		(_server, _msg, _path, connection) => {
			connections.push(connection);
			connection.connect('message', (self, type, data) => self.sendMessage(type, data));
		},
		{maxIncomingPayloadSize: 0, maxTotalMessageSize: 0, ...options},
	);
	await new Promise<void>(resolve => {
		server.listen(0, '127.0.0.1', resolve);
	});
	t.teardown(() => {
		server.closeAllConnections();
		server.close();
	});
	return {url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`, connections};
}

test('defaults: 1 MiB on the server glue\'s connections, 0 on the client\'s; both can be given', async t => {
	const {url, connections} = await echoServer(t);
	const client = await websocketConnect(url, null, null);
	t.teardown(() => client.getIoStream().destroy());
	await withTimeout(
		new Promise<void>(resolve => {
			client.connect('message', () => resolve());
			client.sendText('hello');
		}),
	);
	t.is(client.maxBufferedAmount, 0);
	t.is(connections[0]!.maxBufferedAmount, 1024 * 1024);
	t.is(connections[0]!.maxIncomingFragments, 4096);

	const {url: url2, connections: connections2} = await echoServer(t, {maxBufferedAmount: 5000, maxIncomingFragments: 7});
	const client2 = await websocketConnect(url2, null, null, {maxBufferedAmount: 4000, maxIncomingFragments: 9});
	t.teardown(() => client2.getIoStream().destroy());
	await withTimeout(
		new Promise<void>(resolve => {
			client2.connect('message', () => resolve());
			client2.sendText('hello');
		}),
	);
	t.is(client2.maxBufferedAmount, 4000);
	t.is(client2.maxIncomingFragments, 9);
	t.is(connections2[0]!.maxBufferedAmount, 5000);
	t.is(connections2[0]!.maxIncomingFragments, 7);
	await t.throwsAsync(websocketConnect(url, null, null, {maxBufferedAmount: -1}), {instanceOf: TypeError, message: /maxBufferedAmount/});
});

test('32 MiB pipelined both ways between a websoup client and a websoup echo server, at the defaults: every echo comes back', async t => {
	t.timeout(60_000);
	const {url} = await echoServer(t);
	const client = await websocketConnect(url, null, null, {maxIncomingPayloadSize: 0});
	t.teardown(() => client.getIoStream().destroy());
	const count = 32;
	let echoes = 0;
	const done = new Promise<void>(resolve => {
		client.connect('message', (_self, _type, data) => {
			t.is(data.length, 1024 * 1024);
			if (++echoes === count) {
				resolve();
			}
		});
	});
	for (let i = 0; i < count; i++) {
		client.sendBinary(Buffer.alloc(1024 * 1024, i));
	}

	await withTimeout(done, 30_000, 'every echo');
	t.is(echoes, count);
});
