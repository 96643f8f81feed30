// WebSocketStream (WHATWG draft): opened/closed, the stream pair, close(), signal, WebSocketError, and backpressure both
// ways — against ws and websoup servers; the basic checks run against undici's WebSocketStream too.

import test, {type ExecutionContext} from 'ava';
import {WebSocketError as UndiciWebSocketError, WebSocketStream as UndiciWebSocketStream} from 'undici';
import {WebSocketError, WebSocketStream} from '../../lib/facades/w3c.ts';
import {until, withTimeout} from '../helpers/signals.ts';
import {refusedPort} from '../node/fixtures.ts';
import {peers, websoupPeer, wsPeer} from './stream-peers.ts';
import {thrown} from './wpt/harness.ts';

interface StreamImpl {
	name: 'websoup' | 'undici';
	WebSocketStream: typeof WebSocketStream;
	WebSocketError: typeof WebSocketError;
}

const impls: StreamImpl[] = [
	{name: 'websoup', WebSocketStream, WebSocketError},
	{
		name: 'undici',
		WebSocketStream: UndiciWebSocketStream as unknown as typeof WebSocketStream,
		WebSocketError: UndiciWebSocketError as unknown as typeof WebSocketError,
	},
];

/** The reason `promise` rejects with (ava's throwsAsync wants an Error; a DOMException is not one in Node 20). */
async function rejection(promise: Promise<unknown>, what = 'rejection'): Promise<unknown> {
	return withTimeout(
		promise.then(
			value => {
				throw new Error(`expected a rejection, got ${String(value)}`);
			},
			(error: unknown) => error,
		),
		10_000,
		what,
	);
}

function stream(t: ExecutionContext, impl: StreamImpl, url: string, options?: ConstructorParameters<typeof WebSocketStream>[1]): WebSocketStream {
	const wss = new impl.WebSocketStream(url, options);
	t.teardown(() => {
		try {
			wss.close();
		} catch {
			// already closed
		}
	});
	return wss;
}

for (const impl of impls) {
	for (const makePeer of peers) {
		test(`${impl.name} client, ${makePeer === wsPeer ? 'ws' : 'websoup'} server: opened gives the pair; text and binary round-trip`, async t => {
			const peer = await makePeer(t);
			const wss = stream(t, impl, peer.url);
			t.is(wss.url, peer.url);
			const {readable, writable, protocol, extensions} = await withTimeout(wss.opened, 10_000, 'opened');
			t.is(protocol, '');
			if (impl.name === 'websoup') {
				t.is(extensions, ''); // undici's is a Map (see undici-differences.spec.ts)
			}

			const writer = writable.getWriter();
			const reader = readable.getReader();
			await writer.write('héllo');
			await writer.write(new Uint8Array([1, 2, 3]));
			await writer.write(new Uint16Array([0x0201]).buffer);
			t.deepEqual(await reader.read(), {done: false, value: 'héllo'});
			const binary = await reader.read();
			t.true(binary.value instanceof Uint8Array);
			t.deepEqual([...(binary.value as Uint8Array)], [1, 2, 3]);
			t.deepEqual([...((await reader.read()).value as Uint8Array)], [1, 2]);
			writer.releaseLock();
			reader.releaseLock();
			wss.close({closeCode: 1000});
			t.is((await wss.closed).closeCode, 1000);
		});

		test(`${impl.name} client, ${makePeer === wsPeer ? 'ws' : 'websoup'} server: close({closeCode, reason}) is a clean close; the readable ends`, async t => {
			const peer = await makePeer(t);
			const wss = stream(t, impl, peer.url);
			const {readable} = await wss.opened;
			const side = await peer.nextSide();
			wss.close({closeCode: 4000, reason: 'bye'});
			t.deepEqual(await withTimeout(wss.closed, 10_000, 'closed'), {closeCode: 4000, reason: 'bye'});
			t.deepEqual(await side.closed, {code: 4000, reason: 'bye'});
			t.deepEqual(await readable.getReader().read(), {done: true, value: undefined});
		});

		test(`${impl.name} client, ${makePeer === wsPeer ? 'ws' : 'websoup'} server: the server's close delivers every message first`, async t => {
			const peer = await makePeer(t, {echo: false});
			const wss = stream(t, impl, peer.url);
			const {readable} = await wss.opened;
			const side = await peer.nextSide();
			for (let i = 0; i < 50; i++) {
				side.send(`message ${i}`);
			}

			side.close(4001, 'done');
			const received: unknown[] = [];
			for await (const chunk of readable as unknown as AsyncIterable<unknown>) {
				received.push(chunk);
			}

			t.deepEqual(received, Array.from({length: 50}, (_, i) => `message ${i}`));
			t.deepEqual(await wss.closed, {closeCode: 4001, reason: 'done'});
		});

		test(`${impl.name} client, ${makePeer === wsPeer ? 'ws' : 'websoup'} server: the server dropping TCP rejects closed with a WebSocketError 1006`, async t => {
			const peer = await makePeer(t);
			const wss = stream(t, impl, peer.url);
			const {readable} = await wss.opened;
			(await peer.nextSide()).drop();
			const error = await rejection(wss.closed, 'closed');
			t.true(error instanceof impl.WebSocketError);
			t.is((error as WebSocketError).closeCode, 1006);
			t.true((await rejection(readable.getReader().read())) instanceof impl.WebSocketError);
		});
	}

	test(`${impl.name}: connection refused rejects opened and closed`, async t => {
		const wss = new impl.WebSocketStream(`ws://127.0.0.1:${await refusedPort()}/`);
		t.true((await rejection(wss.opened)) instanceof impl.WebSocketError);
		t.true((await rejection(wss.closed)) instanceof impl.WebSocketError);
	});

	test(`${impl.name}: an aborted signal rejects opened with its reason`, async t => {
		const peer = await websoupPeer(t);
		const controller = new AbortController();
		const reason = new Error('changed my mind');
		controller.abort(reason);
		const wss = new impl.WebSocketStream(peer.url, {signal: controller.signal});
		t.is(await rejection(wss.opened), reason);
		await rejection(wss.closed);
	});

	test(`${impl.name}: close() validates like WebSocket.close()`, t => {
		const wss = new impl.WebSocketStream('ws://127.0.0.1:1/');
		wss.opened.catch(() => {});
		wss.closed.catch(() => {});
		t.is((thrown(() => wss.close({closeCode: 1001})) as DOMException).name, 'InvalidAccessError');
		t.is((thrown(() => wss.close({closeCode: 1000, reason: 'x'.repeat(124)})) as DOMException).name, 'SyntaxError');
		wss.close();
	});

	test(`${impl.name}: the interfaces as WebIDL lays them out`, t => {
		for (const [object, names] of [
			[impl.WebSocketStream.prototype, ['url', 'opened', 'closed']],
			[impl.WebSocketError.prototype, ['closeCode', 'reason']],
		] as const) {
			for (const name of names) {
				const descriptor = Object.getOwnPropertyDescriptor(object, name);
				t.is(typeof descriptor?.get, 'function', name);
				t.is(descriptor?.set, undefined, name);
				t.true(descriptor?.enumerable, name);
			}
		}

		t.true(Object.getOwnPropertyDescriptor(impl.WebSocketStream.prototype, 'close')?.enumerable);
		t.is(impl.WebSocketStream.length, 1);
		t.is(impl.WebSocketStream.prototype.close.length, 0);
		t.is(impl.WebSocketError.length, 0);
		t.is(Object.prototype.toString.call(impl.WebSocketStream.prototype), '[object WebSocketStream]');
		t.is(Object.getPrototypeOf(impl.WebSocketError.prototype), DOMException.prototype);
	});

	test(`${impl.name}: WebSocketError is a DOMException with closeCode and reason`, t => {
		const error = new impl.WebSocketError('message', {closeCode: 4000, reason: 'why'});
		t.true(error instanceof DOMException);
		t.is(error.name, 'WebSocketError');
		t.is(error.message, 'message');
		t.is(error.closeCode, 4000);
		t.is(error.reason, 'why');
		t.is(new impl.WebSocketError().closeCode, null);
		t.is(new impl.WebSocketError('', {reason: 'only'}).closeCode, 1000);
		t.is((thrown(() => new impl.WebSocketError('', {closeCode: 1005})) as DOMException).name, 'InvalidAccessError');
		t.is((thrown(() => new impl.WebSocketError('', {reason: 'é'.repeat(62)})) as DOMException).name, 'SyntaxError');
	});
}

test('websoup: the constructor throws SyntaxError for a bad URL or protocols, TypeError without arguments', t => {
	t.is((thrown(() => new WebSocketStream('ftp://x/')) as DOMException).name, 'SyntaxError');
	t.is((thrown(() => new WebSocketStream('ws://x/', {protocols: ['a', 'a']})) as DOMException).name, 'SyntaxError');
	t.true(thrown(() => new (WebSocketStream as unknown as new () => unknown)()) instanceof TypeError);
	t.is(Object.prototype.toString.call(WebSocketStream.prototype), '[object WebSocketStream]');
});

test('websoup: close() before open rejects opened and closed with closeCode 1006', async t => {
	const peer = await websoupPeer(t);
	const wss = new WebSocketStream(peer.url);
	wss.close();
	const error = (await rejection(wss.opened)) as WebSocketError;
	t.is(error.closeCode, 1006);
	await rejection(wss.closed);
});

test('websoup: protocols are offered and the selected one reported', async t => {
	const peer = await wsPeer(t);
	const wss = stream(t, impls[0]!, peer.url, {protocols: ['chat']});
	// ws selects the first offered protocol by default.
	t.is((await wss.opened).protocol, 'chat');
});

for (const makePeer of peers) {
	const server = makePeer === wsPeer ? 'ws' : 'websoup';

	test(`websoup: reader.cancel(WebSocketError) and writer.abort(WebSocketError) close with its code [${server}]`, async t => {
		const peer = await makePeer(t);
		const first = stream(t, impls[0]!, peer.url);
		await (await first.opened).readable.cancel(new WebSocketError('', {closeCode: 4002, reason: 'cancelled'}));
		t.deepEqual(await (await peer.nextSide()).closed, {code: 4002, reason: 'cancelled'});
		const second = stream(t, impls[0]!, peer.url);
		await (await second.opened).writable.abort(new WebSocketError('', {closeCode: 4003, reason: 'aborted'}));
		t.deepEqual(await (await peer.nextSide()).closed, {code: 4003, reason: 'aborted'});
		const third = stream(t, impls[0]!, peer.url);
		await (await third.opened).writable.close();
		t.is((await third.closed).closeCode, server === 'ws' ? 1005 : 1000);
	});

	test(`websoup: writes wait for a slow reader — the writer runs at most a bounded amount ahead [${server} server]`, async t => {
		const peer = await makePeer(t, {echo: false, readDelay: 2});
		const wss = stream(t, impls[0]!, peer.url);
		const writer = (await wss.opened).writable.getWriter();
		const side = await peer.nextSide();
		const chunk = new Uint8Array(256 * 1024).fill(7);
		const total = 160;
		let maxLead = 0;
		for (let i = 0; i < total; i++) {
			await writer.ready;
			await writer.write(chunk);
			maxLead = Math.max(maxLead, (i + 1) * chunk.length - side.bytes);
		}

		await until(() => side.messages.length === total, 60_000, 'every message at the server');
		// 40 MiB written; without backpressure every write would resolve at once, ~40 MiB ahead.
		// The lead is the connection's mark plus what the kernels of both ends hold.
		t.log(`the writer ran at most ${maxLead} bytes ahead, of ${total * chunk.length}`);
		t.true(maxLead <= 24 * 1024 * 1024, `the writer ran ${maxLead} bytes ahead`);
		t.is(side.bytes, total * chunk.length);
	});

	test(`websoup: a slow reader makes the server wait — the client does not buffer the stream [${server} server]`, async t => {
		const peer = await makePeer(t, {echo: false});
		const wss = stream(t, impls[0]!, peer.url);
		const reader = (await wss.opened).readable.getReader();
		const side = await peer.nextSide();
		const chunk = Buffer.alloc(256 * 1024, 3);
		const total = 160;
		for (let i = 0; i < total; i++) {
			side.send(chunk);
		}

		let read = 0;
		let maxInFlight = 0;
		for (let i = 0; i < total; i++) {
			const {value} = await reader.read();
			read += (value as Uint8Array).length;
			// What left the server's buffers and was not yet read here: kernel buffers and the client's own.
			maxInFlight = Math.max(maxInFlight, total * chunk.length - side.bufferedAmount() - read);
			// A slow reader: each read takes a little while.
			await new Promise(resolve => {
				setTimeout(resolve, 2);
			});
		}

		t.is(read, total * chunk.length);
		t.log(`at most ${maxInFlight} bytes in flight, of ${total * chunk.length}`);
		t.true(maxInFlight <= 24 * 1024 * 1024, `${maxInFlight} bytes were in flight or buffered by the client`);
	});
}
