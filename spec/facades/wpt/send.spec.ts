// WPT websockets/Send-*: what send() accepts, what reaches the server, and in which order.

import {Blob} from 'node:buffer';
import {connect, inbox, next, opened, throwsDom, throwsType, wpt, wptServer, type Implementation, type Inbox} from './harness.ts';
import type {ExecutionContext} from 'ava';
import type {WebSocket} from '../../../lib/facades/w3c.ts';

/** An open WebSocket to the echo handler, binaryType arraybuffer, with an inbox for the echoes. */
async function echo(t: ExecutionContext, impl: Implementation): Promise<WebSocket & {inbox: Inbox}> {
	const server = await wptServer(t);
	const ws = await opened(t, impl, `${server.origin}/echo`);
	ws.binaryType = 'arraybuffer';
	return Object.assign(ws, {inbox: inbox(ws)});
}

async function nextData(ws: {inbox: Inbox}): Promise<unknown> {
	return ws.inbox.next();
}

function bytesOf(data: unknown): number[] {
	return [...new Uint8Array(data as ArrayBuffer)];
}

wpt('Send-before-open: send() while CONNECTING throws InvalidStateError', async (t, impl) => {
	const server = await wptServer(t);
	const ws = connect(t, impl, `${server.origin}/echo`);
	throwsDom(t, 'InvalidStateError', () => {
		ws.send('too early');
	});
	t.is(ws.bufferedAmount, 0);
});

wpt('send-no-argument: send() without an argument throws TypeError', async (t, impl) => {
	const ws = await echo(t, impl);
	throwsType(t, () => {
		(ws.send as () => void)();
	});
});

wpt('Send-data: a string is a text message, echoed as sent', async (t, impl) => {
	const ws = await echo(t, impl);
	ws.send('Message to send');
	t.is(await nextData(ws), 'Message to send');
});

wpt('Send-0byte-data: an empty string', async (t, impl) => {
	const ws = await echo(t, impl);
	ws.send('');
	t.is(ws.bufferedAmount, 0);
	t.is(await nextData(ws), '');
});

wpt('Send-null and other values: converted with ToString', async (t, impl) => {
	const ws = await echo(t, impl);
	ws.send(null as unknown as string);
	t.is(await nextData(ws), 'null');
	ws.send(undefined as unknown as string);
	t.is(await nextData(ws), 'undefined');
	ws.send(42 as unknown as string);
	t.is(await nextData(ws), '42');
	ws.send({toString: () => 'object'} as unknown as string);
	t.is(await nextData(ws), 'object');
});

wpt('Send-unicode-data and Send-paired-surrogates: UTF-8 on the wire', async (t, impl) => {
	const ws = await echo(t, impl);
	ws.send('¥¥¥');
	t.is(await nextData(ws), '¥¥¥');
	ws.send('\uD801\uDC07');
	t.is(await nextData(ws), '\uD801\uDC07');
});

wpt('Send-Unpaired-Surrogates: a lone surrogate is sent as U+FFFD', async (t, impl) => {
	const ws = await echo(t, impl);
	ws.send('\uD807');
	t.is(await nextData(ws), '\uFFFD');
	ws.send('a\uDC00b');
	t.is(await nextData(ws), 'a\uFFFDb');
});

wpt('Send-65K-data and a 1 MiB string: sent whole', async (t, impl) => {
	const ws = await echo(t, impl);
	const small = 'x'.repeat(65_000);
	ws.send(small);
	t.is(await nextData(ws), small);
	const large = 'é'.repeat(512 * 1024);
	ws.send(large);
	t.is(await nextData(ws), large);
});

wpt('Send-binary-arraybuffer: an ArrayBuffer is a binary message of its bytes', async (t, impl) => {
	const ws = await echo(t, impl);
	ws.send(new Uint8Array([1, 2, 3, 255]).buffer);
	t.deepEqual(bytesOf(await nextData(ws)), [1, 2, 3, 255]);
	ws.send(new ArrayBuffer(0));
	t.is((await nextData(ws) as ArrayBuffer).byteLength, 0);
});

wpt('Send-binary-65K-arraybuffer: 65000 bytes', async (t, impl) => {
	const ws = await echo(t, impl);
	ws.send(new ArrayBuffer(65_000));
	t.is((await nextData(ws) as ArrayBuffer).byteLength, 65_000);
});

wpt('Send-binary-arraybufferview-*: every view sends exactly its own bytes', async (t, impl) => {
	const ws = await echo(t, impl);
	const buffer = new ArrayBuffer(16);
	new Uint8Array(buffer).set(Array.from({length: 16}, (_, i) => i + 1));
	const views: Array<[string, ArrayBufferView]> = [
		['Int8Array', new Int8Array(buffer)],
		['Int16Array offset', new Int16Array(buffer, 2)],
		['Int32Array', new Int32Array(buffer)],
		['Uint8Array offset length', new Uint8Array(buffer, 2, 6)],
		['Uint16Array offset length', new Uint16Array(buffer, 2, 3)],
		['Uint32Array offset', new Uint32Array(buffer, 4)],
		['Float32Array', new Float32Array(buffer)],
		['Float64Array offset', new Float64Array(buffer, 8)],
		['BigInt64Array', new BigInt64Array(buffer, 8, 1)],
		['DataView offset length', new DataView(buffer, 3, 5)],
		['Buffer with an offset', Buffer.from(buffer, 5, 7)],
		['Uint8ClampedArray', new Uint8ClampedArray(buffer, 15)],
	];
	for (const [name, view] of views) {
		ws.send(view);
		const expected = [...new Uint8Array(view.buffer, view.byteOffset, view.byteLength)];
		t.deepEqual(bytesOf(await nextData(ws)), expected, name);
	}
});

wpt('Send-binary-blob: a Blob is a binary message of its bytes', async (t, impl) => {
	const ws = await echo(t, impl);
	ws.send(new Blob(['Message', new Uint8Array([0, 255])]));
	t.deepEqual(bytesOf(await nextData(ws)), [...Buffer.from('Message'), 0, 255]);
});

wpt('send order: Blobs, strings and buffers arrive in the order of the calls', async (t, impl) => {
	const ws = await echo(t, impl);
	ws.send(new Blob([new Uint8Array(64 * 1024).fill(1)]));
	ws.send('second');
	ws.send(new Uint8Array([3]));
	ws.send(new Blob(['fourth']));
	ws.send('fifth');
	const received: unknown[] = [];
	for (let i = 0; i < 5; i++) {
		const data = await nextData(ws);
		received.push(typeof data === 'string' ? data : bytesOf(data));
	}

	t.is((received[0] as number[]).length, 64 * 1024);
	t.deepEqual(received.slice(1), ['second', [3], [...Buffer.from('fourth')], 'fifth']);
});

wpt('send copies: changing a buffer after send() does not change what is sent', async (t, impl) => {
	const ws = await echo(t, impl);
	const data = new Uint8Array([1, 2, 3]);
	ws.send(new Blob(['wait']));
	ws.send(data);
	data.fill(9);
	t.deepEqual(bytesOf(await nextData(ws)), [...Buffer.from('wait')]);
	t.deepEqual(bytesOf(await nextData(ws)), [1, 2, 3]);
});

wpt('send(SharedArrayBuffer) throws TypeError (BufferSource is not [AllowShared])', async (t, impl) => {
	const ws = await echo(t, impl);
	throwsType(t, () => {
		ws.send(new SharedArrayBuffer(4) as unknown as ArrayBuffer);
	});
	throwsType(t, () => {
		ws.send(new Uint8Array(new SharedArrayBuffer(4)));
	});
	t.is(ws.bufferedAmount, 0);
}, {undiciDiffers: 'undici sends the bytes of a SharedArrayBuffer (or a view on one); WebIDL BufferSource without [AllowShared] throws TypeError'});

wpt('send after close(): no exception, and nothing reaches the server', async (t, impl) => {
	const server = await wptServer(t);
	const ws = await opened(t, impl, `${server.origin}/echo`);
	const received: unknown[] = [];
	server.sockets[0]!.on('message', data => received.push(data));
	ws.close();
	ws.send('after close');
	ws.send(new Uint8Array(3));
	await next(ws, 'close');
	ws.send('after CLOSED');
	await server.closes[0];
	t.deepEqual(received, []);
});
