// WPT websockets/ failure checks: "fail the WebSocket connection" — error, then close 1006 — and what must never reach TCP.

import {computeAcceptKey} from '../../../lib/websocket/handshake.ts';
import {keyOf, refusedPort, scriptedServer, switching} from '../../node/fixtures.ts';
import {assertFailed, connect, recordUntilClose, wpt, wptServer} from './harness.ts';
import type {ExecutionContext} from 'ava';

/** A raw server answering the handshake with 101 and `extraHeaders`, then writing `after`. */
async function scripted(t: ExecutionContext, extraHeaders: (key: string) => string, after?: Buffer): Promise<number> {
	return scriptedServer(t, (request, socket) => {
		socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${extraHeaders(keyOf(request))}\r\n`);
		if (after !== undefined) {
			socket.write(after);
		}
	});
}

wpt('connection refused: error, then close 1006', async (t, impl) => {
	// A port that was just listened on and closed: nothing listens there now.
	const port = await refusedPort();
	const ws = connect(t, impl, `ws://127.0.0.1:${port}/`);
	assertFailed(t, await recordUntilClose(ws));
});

wpt('a refused handshake (404): error, then close 1006; never open', async (t, impl) => {
	const server = await wptServer(t);
	const ws = connect(t, impl, `${server.origin}/refuse`);
	assertFailed(t, await recordUntilClose(ws));
	t.is(ws.protocol, '');
});

wpt('abnormal closure: the server drops TCP after the handshake → open, error, close 1006', async (t, impl) => {
	const server = await wptServer(t);
	const ws = connect(t, impl, `${server.origin}/drop`);
	assertFailed(t, await recordUntilClose(ws), ['open']);
});

wpt('abnormal closure after a message: open, message, error, close 1006', async (t, impl) => {
	const server = await wptServer(t);
	const ws = connect(t, impl, `${server.origin}/message-then-drop`);
	const recording = await recordUntilClose(ws);
	assertFailed(t, recording, ['open', 'message']);
	t.is((recording.events[1] as MessageEvent).data, 'hello');
});

wpt('protocols asked, none selected (no Sec-WebSocket-Protocol): the connection fails, never opens', async (t, impl) => {
	const server = await wptServer(t);
	const ws = connect(t, impl, `${server.origin}/no-protocol`, ['chat']);
	assertFailed(t, await recordUntilClose(ws));
	t.is(ws.protocol, '');
});

wpt('a subprotocol that was not offered fails the connection', async (t, impl) => {
	const port = await scripted(t, key => `Sec-WebSocket-Accept: ${computeAcceptKey(key)}\r\nSec-WebSocket-Protocol: other\r\n`);
	const ws = connect(t, impl, `ws://127.0.0.1:${port}/`, ['chat']);
	assertFailed(t, await recordUntilClose(ws));
});

wpt('a wrong Sec-WebSocket-Accept fails the connection', async (t, impl) => {
	const port = await scripted(t, () => 'Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n');
	const ws = connect(t, impl, `ws://127.0.0.1:${port}/`);
	assertFailed(t, await recordUntilClose(ws));
});

wpt('an extension that was not offered fails the connection', async (t, impl) => {
	const port = await scripted(t, key => `Sec-WebSocket-Accept: ${computeAcceptKey(key)}\r\nSec-WebSocket-Extensions: x-unknown\r\n`);
	const ws = connect(t, impl, `ws://127.0.0.1:${port}/`);
	assertFailed(t, await recordUntilClose(ws));
});

wpt('a protocol error from the server (reserved opcode): open, error, close 1006', async (t, impl) => {
	const port = await scripted(t, key => `Sec-WebSocket-Accept: ${computeAcceptKey(key)}\r\n`, Buffer.from('8300', 'hex')); // FIN + opcode 3
	const ws = connect(t, impl, `ws://127.0.0.1:${port}/`);
	assertFailed(t, await recordUntilClose(ws), ['open']);
});

wpt('a protocol error stays a failure when the server answers the Close: open, error, close 1006', async (t, impl) => {
	const port = await scriptedServer(t, (request, socket) => {
		socket.write(switching(request));
		socket.write(Buffer.from('8300', 'hex')); // FIN + reserved opcode 3
		// Whatever the client sends next (its Close), answer with a Close 1002 and end TCP.
		socket.once('data', () => {
			socket.end(Buffer.from('880203ea', 'hex')); // FIN+CLOSE, len 2, 1002
		});
	});
	const ws = connect(t, impl, `ws://127.0.0.1:${port}/`);
	assertFailed(t, await recordUntilClose(ws), ['open']);
});

wpt('invalid UTF-8 in a text message: open, error, close 1006', async (t, impl) => {
	const port = await scripted(t, key => `Sec-WebSocket-Accept: ${computeAcceptKey(key)}\r\n`, Buffer.from('8102c328', 'hex')); // FIN+TEXT, "\xc3\x28"
	const ws = connect(t, impl, `ws://127.0.0.1:${port}/`);
	assertFailed(t, await recordUntilClose(ws), ['open']);
});

wpt('a masked frame from the server: open, error, close 1006', async (t, impl) => {
	// FIN+TEXT, MASK, len 2, key 00000000, "hi"
	const port = await scripted(t, key => `Sec-WebSocket-Accept: ${computeAcceptKey(key)}\r\n`, Buffer.from('8182000000006869', 'hex'));
	const ws = connect(t, impl, `ws://127.0.0.1:${port}/`);
	assertFailed(t, await recordUntilClose(ws), ['open']);
});
