// The example of docs/scaling.md, tested: two chat servers, each on its own RedisBroker (as two
// processes would be), against a real redis-server; ws clients on either see each other's messages.

import {once} from 'node:events';
import {readFileSync} from 'node:fs';
import http from 'node:http';
import type {AddressInfo} from 'node:net';
import {createClient} from '@redis/client';
import test from 'ava';
import {WebSocket} from 'ws';
import {addWebsocketHandler, RedisBroker, WebsocketHub} from '../../lib/index.ts';
import {RedisServer} from '../helpers/redis-server.ts';
import {until, withTimeout} from '../helpers/signals.ts';

// --- The example of docs/scaling.md, as printed there (from 'websoup' becomes '../../lib/index.ts') ---

// One chat server process: its clients and those of every other process on the same Redis chat together.
export async function startChat(redisUrl: string, port: number): Promise<http.Server> {
	const broker = await RedisBroker.connect(redisUrl);
	const hub = new WebsocketHub({broker, maxBackpressure: 1024 * 1024, backpressurePolicy: 'drop'});
	hub.connect('dropped', (_hub, connection, topic) => {
		console.warn(`${connection.getUri().href}: too slow, missed a message on ${topic}`);
	});
	hub.connect('broker-error', (_hub, error) => {
		console.warn(`redis: ${error.message} (messages reach this process's clients only until it is back)`);
	});

	const server = http.createServer();
	addWebsocketHandler(server, '/chat', null, null, (_server, _msg, _path, connection) => {
		hub.subscribe(connection, 'room');
		connection.connect('message', (self, type, data) => {
			hub.publish('room', type, data, {except: self});
		});
	});
	server.on('close', () => {
		hub.dispose();
		void broker.close();
	});
	server.listen(port, '127.0.0.1');
	await once(server, 'listening');
	return server;
}

// --- The tests --------------------------------------------------------------------------------

test('docs/scaling.md prints the example as it is tested here', t => {
	const source = readFileSync(new URL(import.meta.url), 'utf8');
	const example = source.slice(source.indexOf('// One chat server process'), source.indexOf('// --- The tests'));
	const docs = readFileSync(new URL('../../docs/scaling.md', import.meta.url), 'utf8');
	t.true(example.length > 500);
	t.true(docs.includes(example.trimEnd()), 'the example in docs/scaling.md differs from the one tested');
	t.true(docs.includes("import {addWebsocketHandler, RedisBroker, WebsocketHub} from 'websoup';"));
});

test('two chat servers on one Redis: each client gets the others\' messages, not its own', async t => {
	const redis = await RedisServer.start(t);
	const servers = [await startChat(redis.url, 0), await startChat(redis.url, 0)];
	t.teardown(() => {
		for (const server of servers) {
			server.closeAllConnections();
			server.close();
		}
	});
	const clients: Array<{ws: WebSocket; received: string[]}> = [];
	for (const server of [...servers, ...servers]) {
		const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/chat`);
		t.teardown(() => ws.terminate());
		const received: string[] = [];
		ws.on('message', (data: Buffer) => received.push(data.toString()));
		await withTimeout(once(ws, 'open'), 10_000, 'open');
		clients.push({ws, received});
	}

	// Each server subscribed 'room' at its first client: wait until Redis counts both subscriptions.
	const raw = createClient({url: redis.url});
	raw.on('error', () => {});
	await raw.connect();
	t.teardown(() => raw.destroy());
	// Redis says nothing when a subscription lands: ask it, one round trip after another, within a deadline.
	let subscribers = 0;
	const deadline = Date.now() + 10_000;
	while (subscribers < 2 && Date.now() < deadline) {
		const reply = (await raw.sendCommand(['PUBSUB', 'SHARDNUMSUB', 'websoup:room'])) as [string, number];
		subscribers = Number(reply[1]);
	}

	t.is(subscribers, 2);
	for (const [index, client] of clients.entries()) {
		client.ws.send(`from ${index}`);
	}

	await until(() => clients.every(client => client.received.length === 3), 10_000, 'every message');
	for (const [index, client] of clients.entries()) {
		t.deepEqual(client.received.sort(), ['from 0', 'from 1', 'from 2', 'from 3'].filter(text => text !== `from ${index}`));
	}
});
