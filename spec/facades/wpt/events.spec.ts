// WPT websockets/ event checks: which events fire, of which class, in which order, with what, from which task.

import {inbox, next, opened, recordUntilClose, wpt, wptServer, connect, patternByte} from './harness.ts';
import type {CloseEvent} from '../../../lib/facades/w3c.ts';

wpt('open: a plain Event, not bubbling, not cancelable, fired from a later task', async (t, impl) => {
	const server = await wptServer(t);
	const ws = connect(t, impl, `${server.origin}/echo`);
	let synchronous = true;
	const event = next(ws, 'open');
	synchronous = false;
	const open = await event;
	t.false(synchronous);
	t.is(open.constructor, Event);
	t.is(open.type, 'open');
	t.false(open.bubbles);
	t.false(open.cancelable);
	t.is(open.target, ws);
	t.is(ws.readyState, impl.WebSocket.OPEN);
});

wpt('error: a plain Event, not bubbling, not cancelable', async (t, impl) => {
	const server = await wptServer(t);
	const ws = connect(t, impl, `${server.origin}/refuse`);
	const error = await next(ws, 'error');
	t.is(error.constructor, Event);
	t.is(error.type, 'error');
	t.false(error.bubbles);
	t.false(error.cancelable);
}, {undiciDiffers: 'undici fires an ErrorEvent (with a message) where the standard fires a plain Event'});

wpt('message: a MessageEvent with data, origin, empty lastEventId, null source, no ports', async (t, impl) => {
	const server = await wptServer(t);
	const ws = await opened(t, impl, `${server.origin}/echo`);
	ws.send('hello');
	const message = await next<MessageEvent>(ws, 'message');
	t.true(message instanceof Event);
	t.is(message.constructor.name, 'MessageEvent');
	t.is(message.type, 'message');
	t.is(message.data, 'hello');
	t.is(message.origin, server.origin);
	t.is(message.lastEventId, '');
	t.is(message.source, null);
	t.deepEqual([...message.ports], []);
	t.false(message.bubbles);
	t.false(message.cancelable);
});

wpt('close: a CloseEvent, type close, not bubbling, not cancelable, [object CloseEvent]', async (t, impl) => {
	const server = await wptServer(t);
	const ws = await opened(t, impl, `${server.origin}/echo`);
	const closed = next<CloseEvent>(ws, 'close');
	ws.close(1000);
	const close = await closed;
	t.true(close instanceof impl.CloseEvent);
	t.true(close instanceof Event);
	t.is(close.type, 'close');
	t.false(close.bubbles);
	t.false(close.cancelable);
	t.is(Object.prototype.toString.call(close), '[object CloseEvent]');
});

wpt('order: open, every message in order, then close; readyState OPEN for each message', async (t, impl) => {
	const server = await wptServer(t);
	const ws = await opened(t, impl, `${server.origin}/echo`);
	const recording = recordUntilClose(ws);
	for (let i = 0; i < 100; i++) {
		ws.send(`message ${i}`);
	}

	ws.send('Goodbye');
	const {types, states, events, close} = await recording;
	t.deepEqual(types, [...Array.from({length: 100}, () => 'message'), 'close']);
	t.deepEqual(
		events.slice(0, 100).map(event => (event as MessageEvent).data),
		Array.from({length: 100}, (_, i) => `message ${i}`),
	);
	t.true(states.slice(0, 100).every(state => state === impl.WebSocket.OPEN));
	t.is(states[100], impl.WebSocket.CLOSED);
	t.true(close.wasClean);
});

wpt('receive: no frame limit — a 200 KiB and a 1 MiB binary message arrive whole', async (t, impl) => {
	const server = await wptServer(t);
	for (const size of [200 * 1024, 1024 * 1024]) {
		const ws = connect(t, impl, `${server.origin}/send?size=${size}`);
		ws.binaryType = 'arraybuffer';
		const messages = inbox(ws);
		const data = new Uint8Array((await messages.next()) as ArrayBuffer);
		t.is(data.length, size);
		t.true(data.every((byte, i) => byte === patternByte(i)), `${size} bytes intact`);
		t.is(ws.readyState, impl.WebSocket.OPEN);
	}
});

wpt('receive: a 4 MiB text message echoed back whole', async (t, impl) => {
	const server = await wptServer(t);
	const ws = await opened(t, impl, `${server.origin}/echo`);
	const text = 'websoup '.repeat(512 * 1024);
	ws.send(text);
	t.is(await inbox(ws).next(), text);
});

wpt('messages after close() are not dispatched', async (t, impl) => {
	const server = await wptServer(t);
	const ws = await opened(t, impl, `${server.origin}/echo`);
	const recording = recordUntilClose(ws);
	ws.send('echoed after close()');
	ws.close();
	const {types} = await recording;
	t.deepEqual(types, ['close']);
});
