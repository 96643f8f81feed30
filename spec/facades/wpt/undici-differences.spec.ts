// Where undici's WebSocket departs from the standard, checks that websoup passes but undici fails (see docs/facades.md).
// Each test pins undici's actual behaviour, so a fixed undici shows up here and the check can run against it again.

import test from 'ava';
import {CloseEvent as UndiciCloseEvent, WebSocket as UndiciWebSocket} from 'undici';
import {next, wptServer} from './harness.ts';

function detached(): InstanceType<typeof UndiciWebSocket> {
	const ws = new UndiciWebSocket('ws://127.0.0.1:1/');
	ws.onerror = () => {};
	return ws;
}

test('undici: replacing an event handler moves its listener to the end', async t => {
	const server = await wptServer(t);
	const ws = new UndiciWebSocket(`${server.origin}/echo`);
	t.teardown(() => {
		ws.close();
	});
	const calls: string[] = [];
	ws.addEventListener('open', () => calls.push('listener 1'));
	ws.onopen = () => calls.push('first handler');
	ws.addEventListener('open', () => calls.push('listener 2'));
	ws.onopen = () => calls.push('second handler');
	await next(ws as unknown as EventTarget, 'open');
	t.deepEqual(calls, ['listener 1', 'listener 2', 'second handler']);
});

test('undici: send() takes a SharedArrayBuffer, and sends the text "[object SharedArrayBuffer]"', async t => {
	const server = await wptServer(t);
	const ws = new UndiciWebSocket(`${server.origin}/echo`);
	t.teardown(() => {
		ws.close();
	});
	await next(ws as unknown as EventTarget, 'open');
	const shared = new SharedArrayBuffer(4);
	new Uint8Array(shared).set([1, 2, 3, 250]);
	const echo = next<MessageEvent>(ws as unknown as EventTarget, 'message');
	t.notThrows(() => {
		ws.send(shared as unknown as ArrayBuffer);
	});
	// It goes out as text, the SharedArrayBuffer stringified, not as its bytes: the echo server returns that string.
	t.is((await echo).data, '[object SharedArrayBuffer]');
});

test('undici: close() takes a BigInt code', t => {
	const ws = detached();
	t.notThrows(() => {
		ws.close(1000n as unknown as number);
	});
	// The call went through: a close() while CONNECTING fails the connection, leaving CLOSING.
	t.is(ws.readyState, UndiciWebSocket.CLOSING);
});

test('undici: the error event is an ErrorEvent', async t => {
	const server = await wptServer(t);
	const ws = new UndiciWebSocket(`${server.origin}/refuse`);
	const closed = next(ws as unknown as EventTarget, 'close');
	const error = await next(ws as unknown as EventTarget, 'error');
	t.is(error.constructor.name, 'ErrorEvent');
	t.not(error.constructor, Event);
	await closed;
});

test('undici: binaryType becomes "blob" for any other value, and a Symbol does not throw', t => {
	const ws = detached();
	ws.binaryType = 'arraybuffer';
	ws.binaryType = 'nodebuffer' as 'blob';
	t.is(ws.binaryType, 'blob');
	t.notThrows(() => {
		ws.binaryType = Symbol('x') as unknown as 'blob';
	});
	t.is(ws.binaryType, 'blob');
	ws.close();
});

test('undici: send() once CLOSING does not add to bufferedAmount', async t => {
	const server = await wptServer(t);
	const ws = new UndiciWebSocket(`${server.origin}/echo`);
	await next(ws as unknown as EventTarget, 'open');
	ws.close();
	ws.send('12345');
	t.is(ws.bufferedAmount, 0);
	const close = await next<InstanceType<typeof UndiciCloseEvent>>(ws as unknown as EventTarget, 'close');
	t.true(close.wasClean);
});

test('undici: WebSocketStream opened.extensions is a Map, not the DOMString the draft gives', async t => {
	const {WebSocketStream} = await import('undici');
	const {websoupPeer} = await import('../stream-peers.ts');
	const peer = await websoupPeer(t);
	const wss = new WebSocketStream(peer.url);
	const {extensions} = await wss.opened;
	t.true((extensions as unknown) instanceof Map);
	wss.close({closeCode: 1000});
	await wss.closed;
});
