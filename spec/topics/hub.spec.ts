// WebsocketHub in one process: fan-out to many real subscribers (ws clients over loopback TCP),
// order per publisher, except, one encoding for all, unsubscribe and close during a publish, misuse.

import {once} from 'node:events';
import http from 'node:http';
import type {Duplex} from 'node:stream';
import test, {type ExecutionContext} from 'ava';
import {WebSocket} from 'ws';
import {addWebsocketHandler} from '../../lib/node/server.ts';
import {InProcessBroker} from '../../lib/topics/broker.ts';
import {WebsocketHub} from '../../lib/topics/hub.ts';
import {WebsocketConnection} from '../../lib/websocket/connection.ts';
import {CloseCode, WebsocketConnectionType, WebsocketDataType, WebsocketState} from '../../lib/websocket/constants.ts';
import {connectionPair} from '../helpers/modes.ts';
import {until, waitForSignal, withTimeout} from '../helpers/signals.ts';
import {listen} from '../node/fixtures.ts';

interface Subscriber {
	ws: WebSocket;
	/** What it received: text as strings, binary as Buffers. */
	received: Array<string | Buffer>;
	/** Its connection on the server. */
	connection: WebsocketConnection;
}

/** A server whose connections subscribe to the topics of `?topics=a,b`, and `count` ws clients. */
async function hubWithSubscribers(
	t: ExecutionContext,
	hub: WebsocketHub,
	count: number,
	topics = 'news',
	perMessageDeflate = true,
): Promise<Subscriber[]> {
	const server = http.createServer();
	const connections: WebsocketConnection[] = [];
	addWebsocketHandler(server, '/ws', null, null, (_server, msg, _path, connection) => {
		for (const topic of (msg.uri.searchParams.get('topics') ?? '').split(',')) {
			hub.subscribe(connection, topic);
		}

		connections.push(connection);
	});
	const port = await listen(t, server);
	const subscribers: Subscriber[] = [];
	for (let index = 0; index < count; index++) {
		const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?topics=${topics}`, {perMessageDeflate});
		t.teardown(() => ws.terminate());
		const received: Array<string | Buffer> = [];
		ws.on('message', (data: Buffer, isBinary: boolean) => {
			received.push(isBinary ? data : data.toString('utf8'));
		});
		await withTimeout(once(ws, 'open'), 10_000, 'ws open');
		subscribers.push({ws, received, connection: undefined as unknown as WebsocketConnection});
	}

	await until(() => connections.length === count, 10_000, 'server connections');
	// Clients connected one after the other, so the server's connections come in the same order.
	for (const [index, subscriber] of subscribers.entries()) {
		subscriber.connection = connections[index]!;
	}

	return subscribers;
}

test('publish: 100 subscribers get every message exactly once, in the publisher\'s order', async t => {
	const hub = new WebsocketHub();
	const subscribers = await hubWithSubscribers(t, hub, 100);
	t.is(hub.getSubscriberCount('news'), 100);
	const expected: Array<string | Buffer> = [];
	for (let index = 0; index < 200; index++) {
		if (index % 2 === 0) {
			t.is(hub.publishText('news', `message ${index}`), 100);
			expected.push(`message ${index}`);
		} else {
			const data = Buffer.from([index & 0xff, 0, 0xff, 0x80]);
			t.is(hub.publishBinary('news', data), 100);
			expected.push(data);
		}
	}

	await until(() => subscribers.every(subscriber => subscriber.received.length >= 200), 30_000, 'every message');
	for (const subscriber of subscribers) {
		t.deepEqual(subscriber.received, expected);
	}
});

test('publish: the same frame buffers are queued on every subscriber (encoded once)', async t => {
	const hub = new WebsocketHub();
	const {server: a} = await connectionPair(t, 'direct');
	const {server: b} = await connectionPair(t, 'direct');
	const written: Buffer[][] = [[], []];
	for (const [index, connection] of [a, b].entries()) {
		const stream = connection.getIoStream();
		const write = stream.write.bind(stream);
		stream.write = ((chunk: Buffer, ...rest: never[]) => {
			written[index]!.push(chunk);
			return write(chunk, ...rest);
		}) as typeof stream.write;
		hub.subscribe(connection, 'x');
	}

	t.is(hub.publishText('x', 'hello'), 2);
	t.is(written[0]!.length, 1);
	t.is(written[0]![0], written[1]![0]);
	t.is(written[0]![0]!.toString('hex'), '810568656c6c6f'); // FIN+TEXT, len 5, "hello", unmasked
});

test('publish: a burst of publishes in one tick leaves in one vectored write per subscriber', async t => {
	const hub = new WebsocketHub();
	const subscribers = await hubWithSubscribers(t, hub, 3);
	const calls = subscribers.map(() => ({write: 0, writev: 0, chunks: 0}));
	for (const [index, subscriber] of subscribers.entries()) {
		const socket = subscriber.connection.getIoStream() as Duplex & {
			_write: (...args: unknown[]) => void;
			_writev: (chunks: unknown[], ...rest: unknown[]) => void;
		};
		const write = socket._write.bind(socket);
		const writev = socket._writev.bind(socket);
		socket._write = (...args) => {
			calls[index]!.write++;
			write(...args);
		};
		socket._writev = (chunks, ...rest) => {
			calls[index]!.writev++;
			calls[index]!.chunks += chunks.length;
			writev(chunks, ...rest);
		};
	}

	for (let index = 0; index < 10; index++) {
		t.is(hub.publishText('news', `burst ${index}`), 3);
	}

	await until(() => subscribers.every(subscriber => subscriber.received.length === 10), 10_000, 'the burst');
	t.deepEqual(calls, subscribers.map(() => ({write: 0, writev: 1, chunks: 10})));
	t.deepEqual(subscribers[2]!.received, Array.from({length: 10}, (_, index) => `burst ${index}`));
});

test('publish: except leaves out the sender, and the count says so', async t => {
	const hub = new WebsocketHub();
	const subscribers = await hubWithSubscribers(t, hub, 5);
	const sender = subscribers[0]!;
	t.is(hub.publishText('news', 'from 0', {except: sender.connection}), 4);
	t.is(hub.publishText('news', 'not to 0 nor 1', {except: [sender.connection, subscribers[1]!.connection]}), 3);
	t.is(hub.publishText('news', 'to all'), 5);
	await until(() => subscribers.slice(2).every(subscriber => subscriber.received.length === 3), 10_000, 'messages');
	await until(() => sender.received.length === 1 && subscribers[1]!.received.length === 2, 10_000, 'messages');
	t.deepEqual(sender.received, ['to all']);
	t.deepEqual(subscribers[1]!.received, ['from 0', 'to all']);
	t.deepEqual(subscribers[4]!.received, ['from 0', 'not to 0 nor 1', 'to all']);
});

test('publish: only the subscribers of the topic get it; a topic nobody subscribed to counts 0', async t => {
	const hub = new WebsocketHub();
	const both = await hubWithSubscribers(t, hub, 2, 'a,b');
	const onlyB = await hubWithSubscribers(t, hub, 2, 'b');
	t.is(hub.publishText('a', 'to a'), 2);
	t.is(hub.publishText('b', 'to b'), 4);
	t.is(hub.publishText('c', 'to nobody'), 0);
	await until(() => both.every(s => s.received.length === 2) && onlyB.every(s => s.received.length === 1), 10_000, 'messages');
	t.deepEqual(both[0]!.received, ['to a', 'to b']);
	t.deepEqual(onlyB[0]!.received, ['to b']);
	t.deepEqual(hub.getTopics().sort(), ['a', 'b']);
	t.deepEqual(hub.getConnectionTopics(both[0]!.connection).sort(), ['a', 'b']);
});

test('publish: subscribers without permessage-deflate and with it both get the message (uncompressed frame, RSV1 clear)', async t => {
	const hub = new WebsocketHub();
	const plain = await hubWithSubscribers(t, hub, 2, 'news', false);
	const deflate = await hubWithSubscribers(t, hub, 2, 'news', true);
	t.is(deflate[0]!.connection.getExtensions().length, 1);
	t.is(plain[0]!.connection.getExtensions().length, 0);
	// The connection's own compressed sends and the hub's frames stay in order.
	deflate[0]!.connection.sendText('own 1');
	hub.publishText('news', 'x'.repeat(5000));
	deflate[0]!.connection.sendText('own 2');
	await until(() => deflate[0]!.received.length === 3 && plain[0]!.received.length === 1, 10_000, 'messages');
	t.deepEqual(deflate[0]!.received, ['own 1', 'x'.repeat(5000), 'own 2']);
	t.deepEqual(plain[0]!.received, ['x'.repeat(5000)]);
});

test('unsubscribe during a publish: a handler that unsubscribes others stops their delivery at once', async t => {
	const hub = new WebsocketHub({maxBackpressure: 1});
	const subscribers = await hubWithSubscribers(t, hub, 4);
	// With max-backpressure 1 byte every subscriber overflows; the first `dropped` handler unsubscribes the rest.
	let dropped = 0;
	hub.connect('dropped', (_hub, connection) => {
		dropped++;
		for (const other of subscribers) {
			if (other.connection !== connection) {
				hub.unsubscribe(other.connection, 'news');
			}
		}
	});
	t.is(hub.publishText('news', 'x'), 0);
	t.is(dropped, 1);
	t.is(hub.getSubscriberCount('news'), 1);
});

test('subscribe during a publish: a connection subscribed by a handler does not get the message under way', async t => {
	const hub = new WebsocketHub();
	const [first, second] = await hubWithSubscribers(t, hub, 2, 'other');
	hub.subscribe(first!.connection, 'news');
	hub.setProperty('max-backpressure', 1);
	hub.connect('dropped', () => {
		hub.subscribe(second!.connection, 'news');
	});
	t.is(hub.publishText('news', 'x'), 0);
	t.true(hub.isSubscribed(second!.connection, 'news'));
	hub.setProperty('max-backpressure', 0);
	t.is(hub.publishText('news', 'y'), 2);
	await until(() => second!.received.length === 1, 10_000, 'message');
	t.deepEqual(second!.received, ['y']);
});

test('close during a publish: a connection closed by a handler is not queued for, and leaves its topics once closed', async t => {
	const hub = new WebsocketHub({maxBackpressure: 1});
	const subscribers = await hubWithSubscribers(t, hub, 3, 'news,other');
	hub.connect('dropped', () => {
		subscribers[2]!.connection.close(CloseCode.GOING_AWAY);
	});
	// The first overflow closes the third; it is CLOSING when the loop reaches it: skipped, no `dropped`.
	let drops = 0;
	hub.connect('dropped', () => drops++);
	t.is(hub.publishText('news', 'x'), 0);
	t.is(drops, 2);
	await waitForSignal(subscribers[2]!.connection, 'closed', 10_000);
	t.false(hub.isSubscribed(subscribers[2]!.connection, 'news'));
	t.deepEqual(hub.getConnectionTopics(subscribers[2]!.connection), []);
	t.is(hub.getSubscriberCount('news'), 2);
	t.is(hub.getSubscriberCount('other'), 2);
});

test('a connection that closes leaves its topics by itself, and a closed one is not subscribed', async t => {
	const hub = new WebsocketHub();
	const subscribers = await hubWithSubscribers(t, hub, 3, 'a,b');
	subscribers[0]!.ws.close(1000);
	await waitForSignal(subscribers[0]!.connection, 'closed', 10_000);
	t.is(hub.getSubscriberCount('a'), 2);
	t.is(hub.getSubscriberCount('b'), 2);
	t.false(hub.subscribe(subscribers[0]!.connection, 'a'));
	for (const subscriber of subscribers.slice(1)) {
		subscriber.ws.terminate();
		await waitForSignal(subscriber.connection, 'closed', 10_000);
	}

	t.deepEqual(hub.getTopics(), []);
});

test('close policy: the overflowing subscriber is closed with 1013, or the code set', async t => {
	for (const code of [CloseCode.TRY_AGAIN_LATER, CloseCode.POLICY_VIOLATION]) {
		const hub = new WebsocketHub({maxBackpressure: 1, backpressurePolicy: 'close', backpressureCloseCode: code});
		const [subscriber] = await hubWithSubscribers(t, hub, 1);
		const closed = once(subscriber!.ws, 'close');
		t.is(hub.publishText('news', 'x'), 0);
		t.is(subscriber!.connection.getState(), WebsocketState.CLOSING);
		const [wsCode, reason] = (await withTimeout(closed, 10_000, 'ws close')) as [number, Buffer];
		t.is(wsCode, code);
		t.is(reason.toString(), 'subscriber too slow');
	}
});

test('unsubscribe returns whether the connection was subscribed; unsubscribeAll how many topics it left', async t => {
	const hub = new WebsocketHub();
	const [subscriber] = await hubWithSubscribers(t, hub, 1, 'a,b,c');
	t.false(hub.subscribe(subscriber!.connection, 'a'));
	t.true(hub.unsubscribe(subscriber!.connection, 'a'));
	t.false(hub.unsubscribe(subscriber!.connection, 'a'));
	t.is(hub.unsubscribeAll(subscriber!.connection), 2);
	t.is(hub.unsubscribeAll(subscriber!.connection), 0);
	t.deepEqual(hub.getTopics(), []);
});

test('an InProcessBroker passes messages between hubs of one process, never back to the publisher\'s hub', async t => {
	const broker = new InProcessBroker();
	const one = new WebsocketHub({broker});
	const two = new WebsocketHub({broker});
	t.is(one.getBroker(), broker);
	const [a] = await hubWithSubscribers(t, one, 1);
	const [b] = await hubWithSubscribers(t, two, 1);
	t.is(one.publishText('news', 'from one'), 1);
	t.is(two.publishText('news', 'from two'), 1);
	await until(() => a!.received.length === 2 && b!.received.length === 2, 10_000, 'messages');
	t.deepEqual(a!.received, ['from one', 'from two']);
	t.deepEqual(b!.received, ['from one', 'from two']);
	two.dispose();
	t.is(one.publishText('news', 'after dispose'), 1);
	await until(() => a!.received.length === 3, 10_000, 'message');
	t.is(b!.received.length, 2);
});

test('misuse: wrong arguments throw a TypeError naming them; nothing is published', async t => {
	const hub = new WebsocketHub();
	const {client, server} = await connectionPair(t, 'direct');
	t.throws(() => hub.subscribe(client, 'a'), {instanceOf: TypeError, message: /server connection/});
	t.throws(() => hub.subscribe({} as WebsocketConnection, 'a'), {instanceOf: TypeError, message: /`connection`/});
	t.throws(() => hub.subscribe(server, ''), {instanceOf: TypeError, message: /`topic`/});
	t.throws(() => hub.subscribe(server, 7 as unknown as string), {instanceOf: TypeError, message: /`topic`/});
	t.true(hub.subscribe(server, 'a'));
	t.throws(() => hub.publish('a', 9 as WebsocketDataType, Buffer.alloc(1)), {instanceOf: TypeError, message: /`type`/});
	t.throws(() => hub.publish('a', WebsocketDataType.BINARY, 'x' as unknown as Buffer), {instanceOf: TypeError, message: /`data`/});
	t.throws(() => hub.publish('a', WebsocketDataType.TEXT, Buffer.from([0xff])), {instanceOf: TypeError, message: /UTF-8/});
	t.throws(() => hub.publishText('a', 1 as unknown as string), {instanceOf: TypeError, message: /`text`/});
	t.is(server.bufferedAmount, 0);
	t.throws(() => new WebsocketHub({backpressurePolicy: 'queue' as 'drop'}), {instanceOf: TypeError, message: /backpressure-policy/});
	t.throws(() => new WebsocketHub({backpressureCloseCode: 1000}), {instanceOf: TypeError, message: /backpressure-close-code/});
	t.throws(() => new WebsocketHub({maxBackpressure: -1}), {instanceOf: TypeError, message: /max-backpressure/});
	t.is(new WebsocketHub().maxBackpressure, 1024 * 1024);
	t.is(new WebsocketHub().backpressurePolicy, 'drop');
	t.is(server.getConnectionType(), WebsocketConnectionType.SERVER);
});
