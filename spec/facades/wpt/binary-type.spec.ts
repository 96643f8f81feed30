// WPT websockets/binaryType-* and Send-binary-blob receive side: how binary messages reach the page.

import {Blob} from 'node:buffer';
import {inbox, opened, throwsType, wpt, wptServer} from './harness.ts';

wpt('binaryType: "blob" by default; only "blob" and "arraybuffer" are taken, other values ignored', (t, {WebSocket}) => {
	const ws = new WebSocket('ws://127.0.0.1:1/');
	ws.onerror = () => {};
	t.is(ws.binaryType, 'blob');
	ws.binaryType = 'arraybuffer';
	t.is(ws.binaryType, 'arraybuffer');
	for (const value of ['nodebuffer', '', 'Blob', 'ARRAYBUFFER', null, undefined, 0]) {
		ws.binaryType = value as unknown as 'blob';
		t.is(ws.binaryType as string, 'arraybuffer', String(value));
	}

	ws.binaryType = {toString: () => 'blob'} as unknown as 'blob';
	t.is(ws.binaryType as string, 'blob', 'converted with ToString');
	ws.close();
}, {undiciDiffers: 'undici sets binaryType to "blob" for any value other than "arraybuffer"; WebIDL ignores a value outside the enum'});

wpt('binaryType = Symbol throws TypeError (DOMString conversion)', (t, {WebSocket}) => {
	const ws = new WebSocket('ws://127.0.0.1:1/');
	ws.onerror = () => {};
	throwsType(t, () => {
		ws.binaryType = Symbol('blob') as unknown as 'blob';
	});
	t.is(ws.binaryType, 'blob');
	ws.close();
}, {undiciDiffers: 'undici does not convert binaryType with ToString, so a Symbol does not throw'});

wpt('binaryType blob: a binary message is a Blob with its bytes and an empty type', async (t, impl) => {
	const server = await wptServer(t);
	const ws = await opened(t, impl, `${server.origin}/echo`);
	const messages = inbox(ws);
	ws.send(new Uint8Array([1, 2, 3]));
	const data = await messages.next();
	t.true(data instanceof Blob);
	t.is((data as Blob).type, '');
	t.deepEqual([...new Uint8Array(await (data as Blob).arrayBuffer())], [1, 2, 3]);
});

wpt('binaryType arraybuffer: a binary message is an ArrayBuffer of exactly its bytes', async (t, impl) => {
	const server = await wptServer(t);
	const ws = await opened(t, impl, `${server.origin}/echo`);
	ws.binaryType = 'arraybuffer';
	const messages = inbox(ws);
	ws.send(new Uint8Array([4, 5, 6, 7]).subarray(1));
	const data = await messages.next();
	t.true(data instanceof ArrayBuffer);
	t.deepEqual([...new Uint8Array(data as ArrayBuffer)], [5, 6, 7]);
	ws.send(new ArrayBuffer(0));
	t.is(((await messages.next()) as ArrayBuffer).byteLength, 0);
});

wpt('binaryType is read when each message is dispatched; text stays a string', async (t, impl) => {
	const server = await wptServer(t);
	const ws = await opened(t, impl, `${server.origin}/echo`);
	const kinds: string[] = [];
	ws.onmessage = event => {
		kinds.push(typeof event.data === 'string' ? 'string' : event.data instanceof ArrayBuffer ? 'arraybuffer' : 'blob');
		ws.binaryType = ws.binaryType === 'blob' ? 'arraybuffer' : 'blob';
	};
	const messages = inbox(ws);
	for (const data of [new Uint8Array(1), new Uint8Array(1), 'text', new Uint8Array(1)]) {
		ws.send(data);
	}

	for (let i = 0; i < 4; i++) {
		await messages.next();
	}

	t.deepEqual(kinds, ['blob', 'arraybuffer', 'string', 'arraybuffer']);
});
