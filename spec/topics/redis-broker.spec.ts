// RedisBroker against a real redis-server (Debian's, started by the spec on a free loopback port):
// hubs on separate brokers (as separate processes would be), binary-safe, order per publisher,
// resubscription after a server restart, behaviour during an outage, misuse. Serial: each test runs
// a redis-server of its own, and several at once would load the cores other specs' processes need.

import {createClient} from '@redis/client';
import test, {type ExecutionContext} from 'ava';
import {RedisBroker} from '../../lib/topics/redis-broker.ts';
import type {TopicReceiver} from '../../lib/topics/broker.ts';
import {WebsocketDataType} from '../../lib/websocket/constants.ts';
import {RedisServer} from '../helpers/redis-server.ts';
import {until, withTimeout} from '../helpers/signals.ts';

interface Received {
	topic: string;
	type: WebsocketDataType;
	data: Buffer;
}

/** A receiver standing in for a hub: records deliveries and failures. */
function recorder(): TopicReceiver & {received: Received[]; errors: Error[]} {
	const received: Received[] = [];
	const errors: Error[] = [];
	return {
		received,
		errors,
		deliver(topic, type, data) {
			// Copy: the broker's buffer is a view of the message Redis sent.
			received.push({topic, type, data: Buffer.from(data)});
		},
		fail(error) {
			errors.push(error);
		},
	};
}

async function broker(t: ExecutionContext, url: string, options: {sharded?: boolean} = {}): Promise<RedisBroker> {
	const result = await RedisBroker.connect({url, maxReconnectDelay: 100, ...options});
	t.teardown(async () => result.close());
	return result;
}

for (const sharded of [true, false]) {
	const mode = sharded ? 'SSUBSCRIBE/SPUBLISH' : 'SUBSCRIBE/PUBLISH';

	test.serial(`${mode}: a message published on one broker reaches the subscribers of the others, not its own publisher`, async t => {
		const redis = await RedisServer.start(t);
		const [one, two, three] = [await broker(t, redis.url, {sharded}), await broker(t, redis.url, {sharded}), await broker(t, redis.url, {sharded})];
		const [a, b, c] = [recorder(), recorder(), recorder()];
		one.attach(a);
		two.attach(b);
		three.attach(c);
		await Promise.all([one.subscribe(a, 'chat'), two.subscribe(b, 'chat'), three.subscribe(c, 'other')]);
		one.publish(a, 'chat', WebsocketDataType.TEXT, Buffer.from('hello'));
		await until(() => b.received.length === 1, 10_000, 'delivery');
		t.deepEqual(b.received, [{topic: 'chat', type: WebsocketDataType.TEXT, data: Buffer.from('hello')}]);
		// Its own broker skips it when Redis hands it back; the other topic's subscriber never sees it.
		two.publish(b, 'chat', WebsocketDataType.TEXT, Buffer.from('back'));
		await until(() => a.received.length === 1, 10_000, 'delivery');
		t.is(a.received[0]!.data.toString(), 'back');
		t.is(b.received.length, 1);
		t.is(c.received.length, 0);
		t.deepEqual([...a.errors, ...b.errors, ...c.errors], []);
	});
}

test.serial('binary-safe: every byte value, empty and 1 MiB payloads arrive as they were sent', async t => {
	const redis = await RedisServer.start(t);
	const [one, two] = [await broker(t, redis.url), await broker(t, redis.url)];
	const [a, b] = [recorder(), recorder()];
	one.attach(a);
	two.attach(b);
	await two.subscribe(b, 'bin');
	const all = Buffer.from(Array.from({length: 256}, (_, index) => index));
	const big = Buffer.alloc(1024 * 1024);
	for (let index = 0; index < big.length; index++) {
		big[index] = (index * 7919) & 0xff;
	}

	const messages = [all, Buffer.alloc(0), big, Buffer.from('\r\n$-1\r\n*0\r\n')];
	for (const message of messages) {
		one.publish(a, 'bin', WebsocketDataType.BINARY, message);
	}

	// Text too, with characters outside ASCII.
	one.publish(a, 'bin', WebsocketDataType.TEXT, Buffer.from('héllo ✓ 🎉'));
	await until(() => b.received.length === 5, 10_000, 'deliveries');
	for (const [index, message] of messages.entries()) {
		t.true(b.received[index]!.data.equals(message), `message ${index}`);
		t.is(b.received[index]!.type, WebsocketDataType.BINARY);
	}

	t.is(b.received[4]!.type, WebsocketDataType.TEXT);
	t.is(b.received[4]!.data.toString('utf8'), 'héllo ✓ 🎉');
});

test.serial('order per publisher: 3 publishers × 2000 messages interleaved, each one\'s in order at every subscriber', async t => {
	const redis = await RedisServer.start(t);
	const publishers = [await broker(t, redis.url), await broker(t, redis.url), await broker(t, redis.url)];
	const subscribers = [await broker(t, redis.url), await broker(t, redis.url)];
	const receivers = subscribers.map(() => recorder());
	for (const [index, subscriber] of subscribers.entries()) {
		subscriber.attach(receivers[index]!);
		await subscriber.subscribe(receivers[index]!, 'seq');
	}

	const origins = publishers.map(() => recorder());
	for (let sequence = 0; sequence < 2000; sequence++) {
		for (const [index, publisher] of publishers.entries()) {
			publisher.attach(origins[index]!);
			const data = Buffer.alloc(8);
			data.writeUInt32BE(index, 0);
			data.writeUInt32BE(sequence, 4);
			publisher.publish(origins[index]!, 'seq', WebsocketDataType.BINARY, data);
		}
	}

	await until(() => receivers.every(receiver => receiver.received.length === 6000), 30_000, 'every message');
	for (const receiver of receivers) {
		const next = [0, 0, 0];
		for (const {data} of receiver.received) {
			const publisher = data.readUInt32BE(0);
			t.is(data.readUInt32BE(4), next[publisher]!, `publisher ${publisher}`);
			next[publisher]!++;
		}

		t.deepEqual(next, [2000, 2000, 2000]);
	}
});

test.serial('a redis-server restart: the subscriptions come back by themselves; during the outage nothing is queued', async t => {
	const redis = await RedisServer.start(t);
	const [one, two] = [await broker(t, redis.url), await broker(t, redis.url)];
	const [a, b] = [recorder(), recorder()];
	one.attach(a);
	two.attach(b);
	await two.subscribe(b, 'chat');
	one.publish(a, 'chat', WebsocketDataType.TEXT, Buffer.from('before'));
	await until(() => b.received.length === 1, 10_000, 'delivery');

	await redis.stop();
	await until(() => !one.isConnected && !two.isConnected, 10_000, 'both brokers see the outage');
	// Published during the outage: lost for the other processes, reported once, nothing held.
	for (let index = 0; index < 100; index++) {
		one.publish(a, 'chat', WebsocketDataType.TEXT, Buffer.from(`during ${index}`));
	}

	await until(() => one.lostCount === 100, 10_000, 'publishes refused');
	t.is(a.errors.length, 1);
	t.true(b.errors.length >= 1);

	await redis.restart();
	await until(() => one.isConnected && two.isConnected, 20_000, 'both brokers reconnected');
	// Resubscribed without anyone asking: messages flow again.
	let probe = 0;
	await until(
		() => {
			if (b.received.some(message => message.data.toString().startsWith('after'))) {
				return true;
			}

			one.publish(a, 'chat', WebsocketDataType.TEXT, Buffer.from(`after ${probe++}`));
			return false;
		},
		20_000,
		'a message after the restart',
	);
	t.false(b.received.some(message => message.data.toString().startsWith('during')));
	t.is(b.received[0]!.data.toString(), 'before');
	// Never twice: every message at most once.
	const texts = b.received.map(message => message.data.toString());
	t.is(new Set(texts).size, texts.length);
});

test.serial('a message in another format on our channel is ignored; one in websoup format from elsewhere is delivered', async t => {
	const redis = await RedisServer.start(t);
	const one = await broker(t, redis.url);
	const a = recorder();
	one.attach(a);
	await one.subscribe(a, 'chat');
	const raw = createClient({url: redis.url});
	raw.on('error', () => {});
	await raw.connect();
	t.teardown(() => raw.destroy());
	await raw.sPublish('websoup:chat', 'not ours');
	await raw.sPublish('websoup:chat', Buffer.concat([Buffer.from([0x57, 0x53, 1, 1]), Buffer.alloc(16), Buffer.from([0xff])])); // TEXT, not UTF-8
	await raw.sPublish('websoup:chat', Buffer.concat([Buffer.from([0x57, 0x53, 1, 2]), Buffer.alloc(16, 1), Buffer.from('ok')]));
	await until(() => a.received.length === 1, 10_000, 'delivery');
	t.is(a.received[0]!.data.toString(), 'ok');
	t.is(a.received[0]!.type, WebsocketDataType.BINARY);
});

test.serial('connect: a server that is not there, or a bad URL, is a clear error', async t => {
	const redis = await RedisServer.start(t);
	const {port} = redis;
	await redis.stop();
	const error = await withTimeout(
		t.throwsAsync(RedisBroker.connect({url: `redis://127.0.0.1:${port}`, maxReconnectDelay: 50})),
		30_000,
		'connect failure',
	);
	t.regex(error!.message, /cannot connect to redis:\/\/127\.0\.0\.1/);
	await t.throwsAsync(RedisBroker.connect('http://127.0.0.1:1'), {instanceOf: TypeError, message: /`url`/});
	await t.throwsAsync(RedisBroker.connect({url: 'redis://127.0.0.1:1', maxReconnectDelay: 0}), {
		instanceOf: TypeError,
		message: /`maxReconnectDelay`/,
	});
});
