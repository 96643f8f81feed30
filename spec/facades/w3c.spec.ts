// Tests for lib/facades/w3c.ts: the WHATWG-shaped WebSocket client, against ws and websoup servers.

import {Blob} from 'node:buffer';
import {once} from 'node:events';
import {createServer, type Server} from 'node:http';
import type {AddressInfo} from 'node:net';
import test, {type ExecutionContext} from 'ava';
import {WebSocketServer, type WebSocket as WsSocket} from 'ws';
import {CloseEvent, WebSocket} from '../../lib/facades/w3c.ts';
import {addWebsocketHandler} from '../../lib/node/server.ts';
import type {WebsocketConnection} from '../../lib/websocket/connection.ts';
import {until, withTimeout} from '../helpers/signals.ts';
import {listen, refusedPort, scriptedServer, switching} from '../node/fixtures.ts';

interface Peer {
	url: string;
	/** Closes every server-side connection with a Close frame. */
	closeAll(code?: number, reason?: string): void;
	/** Drops every server-side TCP connection without a Close frame. */
	dropAll(): void;
	/** Resolves with the close code and reason the server received on its first connection. */
	received(): Promise<{code: number; reason: string}>;
}

/** A ws echo server on 127.0.0.1 that selects the first offered subprotocol. */
async function wsPeer(t: ExecutionContext): Promise<Peer> {
	const server = new WebSocketServer({
		host: '127.0.0.1',
		port: 0,
		handleProtocols: protocols => [...protocols][0] ?? false,
	});
	await once(server, 'listening');
	const sockets: WsSocket[] = [];
	let firstResolve: ((value: {code: number; reason: string}) => void) | undefined;
	const first = new Promise<{code: number; reason: string}>(resolve => {
		firstResolve = resolve;
	});
	server.on('connection', socket => {
		sockets.push(socket);
		socket.on('message', (data, isBinary) => {
			socket.send(data, {binary: isBinary});
		});
		if (sockets.length === 1) {
			socket.on('close', (code, reason) => firstResolve?.({code, reason: reason.toString()}));
		}
	});
	t.teardown(async () => {
		for (const socket of sockets) {
			socket.terminate();
		}

		await new Promise(resolve => {
			server.close(resolve);
		});
	});
	const {port} = server.address() as AddressInfo;
	return {
		url: `ws://127.0.0.1:${port}/echo`,
		closeAll(code, reason) {
			for (const socket of sockets) {
				socket.close(code, reason);
			}
		},
		dropAll() {
			for (const socket of sockets) {
				socket.terminate();
			}
		},
		async received() {
			return first;
		},
	};
}

/** A websoup echo server (addWebsocketHandler at /echo, subprotocols chat and superchat). */
async function websoupPeer(t: ExecutionContext): Promise<Peer> {
	const server: Server = createServer();
	const connections: WebsocketConnection[] = [];
	addWebsocketHandler(server, '/echo', null, ['chat', 'superchat'], (_server, _msg, _path, connection) => {
		connections.push(connection);
		connection.connect('message', (self, type, data) => {
			self.sendMessage(type, data);
		});
	});
	const port = await listen(t, server);
	t.teardown(() => {
		for (const connection of connections) {
			connection.getIoStream().destroy();
		}
	});
	return {
		url: `ws://127.0.0.1:${port}/echo`,
		closeAll(code, reason) {
			for (const connection of connections) {
				connection.close(code ?? 1005, reason ?? null);
			}
		},
		dropAll() {
			for (const connection of connections) {
				connection.getIoStream().destroy();
			}
		},
		async received() {
			const connection = connections[0];
			if (connection === undefined) {
				throw new Error('no connection');
			}

			await connection.closed;
			return {code: connection.getCloseCode(), reason: connection.getCloseData() ?? ''};
		},
	};
}

/** Each server, and the code it answers an empty Close frame with (libsoup replies 1000, ws echoes it empty). */
const peers = [
	['ws', wsPeer, 1005],
	['websoup', websoupPeer, 1000],
] as const;

/** What `fn` threw (DOMException is not an Error subclass to ava in Node 20). */
function thrown(fn: () => unknown): DOMException | undefined {
	try {
		fn();
	} catch (error) {
		return error as DOMException;
	}

	return undefined;
}

/** Makes a client closed at teardown. */
function client(t: ExecutionContext, url: string, protocols?: string | string[]): WebSocket {
	const ws = new WebSocket(url, protocols);
	t.teardown(() => {
		if (ws.readyState === WebSocket.OPEN) {
			ws.close();
		}
	});
	return ws;
}

/** Resolves with the next event of `type`. */
async function next<E extends Event>(ws: WebSocket, type: string, timeout = 5000): Promise<E> {
	return withTimeout(
		new Promise<E>(resolve => {
			ws.addEventListener(type, event => resolve(event as E), {once: true});
		}),
		timeout,
		`'${type}'`,
	);
}

/** Records the types of every event, in order, until `close`; resolves with them and the CloseEvent. */
async function recordUntilClose(ws: WebSocket, timeout = 5000): Promise<{types: string[]; close: CloseEvent; states: number[]}> {
	const types: string[] = [];
	const states: number[] = [];
	for (const type of ['open', 'message', 'error']) {
		ws.addEventListener(type, () => {
			types.push(type);
			states.push(ws.readyState);
		});
	}

	const close = await next<CloseEvent>(ws, 'close', timeout);
	types.push('close');
	states.push(ws.readyState);
	return {types, close, states};
}

test('constants are on the class and on instances', t => {
	t.deepEqual([WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED], [0, 1, 2, 3]);
	const ws = new WebSocket('ws://127.0.0.1:1/');
	ws.onerror = () => {};
	t.deepEqual([ws.CONNECTING, ws.OPEN, ws.CLOSING, ws.CLOSED], [0, 1, 2, 3]);
	ws.close();
});

test('the constructor validates the URL and maps http(s) to ws(s)', t => {
	for (const url of ['not a url', 'ftp://example.com/', 'ws://example.com/#frag', 'ws://example.com/#', 'file:///x']) {
		const error = thrown(() => new WebSocket(url));
		t.true(error instanceof DOMException, url);
		t.is(error?.name, 'SyntaxError', url);
	}

	const a = new WebSocket('http://127.0.0.1:1/path?q=1');
	const b = new WebSocket(new URL('https://127.0.0.1:1/'));
	for (const ws of [a, b]) {
		ws.onerror = () => {};
		ws.close();
	}

	t.is(a.url, 'ws://127.0.0.1:1/path?q=1');
	t.is(b.url, 'wss://127.0.0.1:1/');
});

test('the constructor rejects duplicate or invalid subprotocols', t => {
	for (const protocols of [['chat', 'chat'], ['a b'], [''], ['chat', 'sup{er'], 'ä']) {
		const error = thrown(() => new WebSocket('ws://127.0.0.1:1/', protocols));
		t.true(error instanceof DOMException);
		t.is(error?.name, 'SyntaxError', String(protocols));
	}
});

for (const [name, makePeer, emptyCloseReply] of peers) {
	test(`${name}: open sets readyState, protocol, url, extensions`, async t => {
		const peer = await makePeer(t);
		const ws = client(t, peer.url, ['chat', 'superchat']);
		t.is(ws.readyState, WebSocket.CONNECTING);
		t.is(ws.protocol, '');
		t.is(ws.url, peer.url);
		t.is(ws.binaryType, 'blob');
		const event = await next(ws, 'open');
		t.is(event.type, 'open');
		t.is(ws.readyState, WebSocket.OPEN);
		t.is(ws.protocol, 'chat');
		t.is(ws.extensions, '');
		t.is(ws.bufferedAmount, 0);
	});

	test(`${name}: text and binary messages with binaryType arraybuffer and blob`, async t => {
		const peer = await makePeer(t);
		const ws = client(t, peer.url);
		await next(ws, 'open');

		ws.send('héllo');
		const text = await next<MessageEvent>(ws, 'message');
		t.is(text.data, 'héllo');
		t.is(text.origin, new URL(peer.url).origin);

		ws.binaryType = 'arraybuffer';
		(ws as {binaryType: string}).binaryType = 'nodebuffer'; // ignored
		t.is(ws.binaryType, 'arraybuffer');
		ws.send(new Uint8Array([1, 2, 3]));
		const buffer = await next<MessageEvent>(ws, 'message');
		t.true(buffer.data instanceof ArrayBuffer);
		t.deepEqual([...new Uint8Array(buffer.data as ArrayBuffer)], [1, 2, 3]);

		ws.binaryType = 'blob';
		ws.send(new Uint8Array([4, 5]).buffer);
		const blob = await next<MessageEvent>(ws, 'message');
		t.true(blob.data instanceof Blob);
		t.deepEqual([...new Uint8Array(await (blob.data as Blob).arrayBuffer())], [4, 5]);

		// A Blob is read before it is sent; later sends keep their order.
		const received: unknown[] = [];
		ws.binaryType = 'arraybuffer';
		ws.onmessage = event => {
			received.push(typeof event.data === 'string' ? event.data : [...new Uint8Array(event.data as ArrayBuffer)]);
		};
		ws.send(new Blob([new Uint8Array([9, 8, 7])]));
		ws.send('after');
		await until(() => received.length === 2, 5000, 'two messages');
		t.deepEqual(received, [[9, 8, 7], 'after']);
	});

	test(`${name}: a clean close from the client reports the peer's code and reason`, async t => {
		const peer = await makePeer(t);
		const ws = client(t, peer.url);
		await next(ws, 'open');
		const recorded = recordUntilClose(ws);
		ws.close(4000, 'bye');
		t.is(ws.readyState, WebSocket.CLOSING);
		ws.close(4001); // ignored once CLOSING
		const {close, types} = await recorded;
		t.true(close instanceof CloseEvent);
		t.true(close.wasClean);
		t.is(close.code, 4000);
		t.is(close.reason, 'bye');
		t.deepEqual(types, ['close']);
		t.is(ws.readyState, WebSocket.CLOSED);
		t.deepEqual(await withTimeout(peer.received()), {code: 4000, reason: 'bye'});
	});

	test(`${name}: close() without a code sends an empty Close frame`, async t => {
		const peer = await makePeer(t);
		const ws = client(t, peer.url);
		await next(ws, 'open');
		const recorded = recordUntilClose(ws);
		ws.close();
		const {close} = await recorded;
		t.true(close.wasClean);
		t.is(close.code, emptyCloseReply);
		t.is(close.reason, '');
	});

	test(`${name}: a clean close from the server`, async t => {
		const peer = await makePeer(t);
		const ws = client(t, peer.url);
		await next(ws, 'open');
		const recorded = recordUntilClose(ws);
		peer.closeAll(4001, 'server bye');
		const {close, types} = await recorded;
		t.true(close.wasClean);
		t.is(close.code, 4001);
		t.is(close.reason, 'server bye');
		t.deepEqual(types, ['close']);
	});

	test(`${name}: the server dropping TCP closes with 1006, not clean`, async t => {
		const peer = await makePeer(t);
		const ws = client(t, peer.url);
		await next(ws, 'open');
		const recorded = recordUntilClose(ws);
		peer.dropAll();
		const {close, types} = await recorded;
		t.false(close.wasClean);
		t.is(close.code, 1006);
		t.is(close.reason, '');
		t.is(types.at(-1), 'close');
		t.is(ws.readyState, WebSocket.CLOSED);
	});
}

test('send while CONNECTING throws InvalidStateError; after close it only grows bufferedAmount', async t => {
	const peer = await wsPeer(t);
	const ws = client(t, peer.url);
	const error = thrown(() => {
		ws.send('too early');
	});
	t.true(error instanceof DOMException);
	t.is(error?.name, 'InvalidStateError');
	await next(ws, 'open');
	ws.close(1000);
	ws.send('12345');
	ws.send(new Uint8Array(3));
	t.is(ws.bufferedAmount, 8);
	const close = await next<CloseEvent>(ws, 'close');
	t.true(close.wasClean);
	t.is(close.code, 1000);
});

test('close() validates code and reason', async t => {
	const peer = await wsPeer(t);
	const ws = client(t, peer.url);
	for (const code of [0, 999, 1001, 1005, 1006, 2999, 5000]) {
		const error = thrown(() => {
			ws.close(code);
		});
		t.is(error?.name, 'InvalidAccessError', String(code));
	}

	const tooLong = thrown(() => {
		ws.close(1000, 'é'.repeat(62)); // 124 bytes
	});
	t.is(tooLong?.name, 'SyntaxError');
	t.is(ws.readyState, WebSocket.CONNECTING);
	await next(ws, 'open');
	const close = next<CloseEvent>(ws, 'close');
	ws.close(1000, 'x'.repeat(123));
	t.is((await close).reason, 'x'.repeat(123));
});

test('connection refused fires error, then close 1006', async t => {
	const port = await refusedPort();
	const ws = client(t, `ws://127.0.0.1:${port}/`);
	const {types, close, states} = await recordUntilClose(ws);
	t.deepEqual(types, ['error', 'close']);
	t.deepEqual(states, [WebSocket.CLOSED, WebSocket.CLOSED]);
	t.false(close.wasClean);
	t.is(close.code, 1006);
});

test('a refused handshake (404) fires error, then close 1006', async t => {
	const peer = await websoupPeer(t);
	const ws = client(t, peer.url.replace('/echo', '/nowhere'));
	const {types, close} = await recordUntilClose(ws);
	t.deepEqual(types, ['error', 'close']);
	t.false(close.wasClean);
	t.is(close.code, 1006);
	t.is(ws.protocol, '');
});

test('close() while CONNECTING fails the connection', async t => {
	const peer = await wsPeer(t);
	const ws = client(t, peer.url);
	const recorded = recordUntilClose(ws);
	ws.close();
	t.is(ws.readyState, WebSocket.CLOSING);
	const {types, close} = await recorded;
	t.deepEqual(types, ['error', 'close']);
	t.is(close.code, 1006);
	t.false(close.wasClean);
});

test('onX handlers and addEventListener both fire, in registration order', async t => {
	const peer = await wsPeer(t);
	const ws = client(t, peer.url);
	const calls: string[] = [];
	ws.addEventListener('open', () => calls.push('listener:open'));
	ws.onopen = function (event) {
		t.is(this, ws);
		calls.push(`onopen:${event.type}`);
	};
	ws.onmessage = event => calls.push(`onmessage:${String(event.data)}`);
	ws.addEventListener('message', () => calls.push('listener:message'));
	ws.onclose = event => calls.push(`onclose:${event.code}`);
	ws.addEventListener('close', () => calls.push('listener:close'));
	ws.onerror = () => calls.push('onerror');
	t.is(typeof ws.onopen, 'function');

	await next(ws, 'open');
	ws.send('ping');
	await next(ws, 'message');
	const replaced = () => calls.push('replaced');
	ws.onclose = replaced; // keeps the handler's position
	t.is(ws.onclose, replaced);
	ws.onmessage = null;
	t.is(ws.onmessage, null);
	ws.close(1000);
	await next(ws, 'close');
	t.deepEqual(calls, ['listener:open', 'onopen:open', 'onmessage:ping', 'listener:message', 'replaced', 'listener:close']);
});

test('a protocol error from the server fires error, then close 1006', async t => {
	const port = await scriptedServer(t, (request, socket) => {
		socket.write(switching(request));
		socket.write(Buffer.from([0x83, 0x00])); // reserved opcode 3
	});
	const ws = client(t, `ws://127.0.0.1:${port}/`);
	const {types, close} = await recordUntilClose(ws);
	t.deepEqual(types, ['open', 'error', 'close']);
	t.false(close.wasClean);
	t.is(close.code, 1006);
});

test('the peer dropping TCP is an abnormal closure: error, then close 1006', async t => {
	const peer = await wsPeer(t);
	const ws = client(t, peer.url);
	await next(ws, 'open');
	const recorded = recordUntilClose(ws);
	peer.dropAll();
	const {types} = await recorded;
	t.deepEqual(types, ['error', 'close']);
});
