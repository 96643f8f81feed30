// WPT websockets/bufferedAmount-* and the Send-* bufferedAmount checks: counted at send(), dropped only between tasks.

import {Blob} from 'node:buffer';
import {until} from '../../helpers/signals.ts';
import {inbox, next, opened, wpt, wptServer} from './harness.ts';

wpt('bufferedAmount: 0 while CONNECTING and right after open', async (t, impl) => {
	const server = await wptServer(t);
	const ws = await opened(t, impl, `${server.origin}/echo`);
	t.is(ws.bufferedAmount, 0);
});

wpt('Send-data, Send-unicode-data, Send-paired-surrogates: UTF-8 bytes are counted at once', async (t, impl) => {
	const server = await wptServer(t);
	const ws = await opened(t, impl, `${server.origin}/echo`);
	ws.send('Message to send');
	t.is(ws.bufferedAmount, 15);
	ws.send('¥¥¥');
	t.is(ws.bufferedAmount, 15 + 6);
	ws.send('\uD801\uDC07');
	t.is(ws.bufferedAmount, 15 + 6 + 4);
});

wpt('Send-Unpaired-Surrogates: a lone surrogate counts as U+FFFD, 3 bytes', async (t, impl) => {
	const server = await wptServer(t);
	const ws = await opened(t, impl, `${server.origin}/echo`);
	ws.send('\uD807');
	t.is(ws.bufferedAmount, 3);
});

wpt('Send-binary-*: a buffer, any view (its byteLength) and a Blob (its size) are counted at once', async (t, impl) => {
	const server = await wptServer(t);
	const ws = await opened(t, impl, `${server.origin}/echo`);
	let expected = 0;
	const data: Array<ArrayBuffer | ArrayBufferView | Blob> = [
		new ArrayBuffer(65_000),
		new Float64Array(new ArrayBuffer(64), 8, 3),
		new DataView(new ArrayBuffer(10), 3, 4),
		Buffer.from(new ArrayBuffer(100), 10, 50),
		new BigInt64Array(2),
		new Blob(['Message', new Uint8Array(9)]),
	];
	for (const item of data) {
		ws.send(item);
		expected += item instanceof Blob ? item.size : item.byteLength;
		t.is(ws.bufferedAmount, expected);
	}
});

wpt('bufferedAmount does not drop while script runs (microtasks and a busy loop included)', async (t, impl) => {
	const server = await wptServer(t);
	const ws = await opened(t, impl, `${server.origin}/echo`);
	const size = 4 * 1024 * 1024;
	ws.send(new Uint8Array(size));
	t.is(ws.bufferedAmount, size);
	for (let i = 0; i < 100; i++) {
		await Promise.resolve();
	}

	t.is(ws.bufferedAmount, size, 'after microtasks');
	// Like bufferedAmount-unchanged-by-sync-xhr: the event loop does not turn while script runs.
	const end = Date.now() + 50;
	while (Date.now() < end) {
		t.is(ws.bufferedAmount, size);
	}
});

wpt('bufferedAmount drops to 0 once everything was transmitted', async (t, impl) => {
	const server = await wptServer(t);
	const ws = await opened(t, impl, `${server.origin}/echo`);
	const messages = inbox(ws);
	ws.send(new Uint8Array(1024 * 1024));
	ws.send('text');
	t.is(ws.bufferedAmount, 1024 * 1024 + 4);
	await messages.next();
	await messages.next();
	await until(() => ws.bufferedAmount === 0, 10_000, 'bufferedAmount 0');
	t.is(ws.bufferedAmount, 0);
});

wpt('after close(), send() still adds to bufferedAmount, which never drops again', async (t, impl) => {
	const server = await wptServer(t);
	const ws = await opened(t, impl, `${server.origin}/echo`);
	ws.close();
	ws.send('12345');
	ws.send(new Uint8Array(3));
	t.is(ws.bufferedAmount, 8);
	await next(ws, 'close');
	ws.send('x');
	t.is(ws.bufferedAmount, 9);
	await new Promise(resolve => {
		setImmediate(resolve);
	});
	t.is(ws.bufferedAmount, 9);
}, {undiciDiffers: 'undici does not count send() calls made once CLOSING or CLOSED; the standard says every send() that does not throw adds its bytes'});
