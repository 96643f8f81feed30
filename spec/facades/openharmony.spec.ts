// Tests for lib/facades/openharmony.ts: OpenHarmony's net_websocket client over websoup, against a ws server.

import type {IncomingMessage} from 'node:http';
import {createServer, type AddressInfo} from 'node:net';
import test, {type ExecutionContext} from 'ava';
import {WebSocketServer, type WebSocket as WsSocket} from 'ws';
import {
	WebSocketClient,
	WebSocketErrCode,
	type WebSocketClientCallbacks,
	type WebSocketCloseResult,
	type WebSocketErrorResult,
	type WebSocketOpenResult,
} from '../../lib/facades/openharmony.ts';
import {until, withTimeout} from '../helpers/signals.ts';

interface Server {
	url: string;
	wss: WebSocketServer;
	/** Server-side sockets and their upgrade requests, in connection order. */
	peers: Array<{ws: WsSocket; request: IncomingMessage}>;
	/** Messages the server received: [data, isBinary]. */
	received: Array<[Buffer, boolean]>;
}

async function startServer(t: ExecutionContext, echo = true): Promise<Server> {
	const wss = new WebSocketServer({host: '127.0.0.1', port: 0});
	await withTimeout(new Promise<void>(resolve => wss.once('listening', () => resolve())), 5000, 'listening');
	const server: Server = {url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/path`, wss, peers: [], received: []};
	wss.on('connection', (ws, request) => {
		server.peers.push({ws, request});
		ws.on('error', () => {});
		ws.on('message', (data, isBinary) => {
			const buffer = data as Buffer;
			server.received.push([buffer, isBinary]);
			if (echo) {
				ws.send(buffer, {binary: isBinary});
			}
		});
	});
	t.teardown(async () => {
		for (const client of wss.clients) {
			client.terminate();
		}

		await new Promise<void>(resolve => {
			wss.close(() => resolve());
		});
	});
	return server;
}

/** A client recording every callback, closed and destroyed on teardown. */
function recordingClient(t: ExecutionContext) {
	const events = {
		opens: [] as WebSocketOpenResult[],
		messages: [] as Array<{data: string | Buffer; length: number}>,
		errors: [] as WebSocketErrorResult[],
		closes: [] as WebSocketCloseResult[],
		order: [] as string[],
	};
	const callbacks: WebSocketClientCallbacks = {
		onOpen(_client, result) {
			events.opens.push(result);
			events.order.push('open');
		},
		onMessage(_client, data, length) {
			events.messages.push({data, length});
			events.order.push('message');
		},
		onError(_client, result) {
			events.errors.push(result);
			events.order.push('error');
		},
		onClose(_client, result) {
			events.closes.push(result);
			events.order.push('close');
		},
	};
	const client = new WebSocketClient(callbacks);
	t.teardown(() => {
		client.destroy();
	});
	return {client, events};
}

async function openClient(t: ExecutionContext, server: Server, options = {}) {
	const recorded = recordingClient(t);
	t.is(recorded.client.connect(server.url, options), WebSocketErrCode.OK);
	await until(() => recorded.events.opens.length > 0 || recorded.events.errors.length > 0, 5000, 'onOpen');
	t.deepEqual(recorded.events.errors, []);
	return recorded;
}

/**
 * A wait on signals instead of a sleep, before asserting that nothing more was reported: a second
 * client's whole handshake with `server` (several turns of I/O), by whose onOpen every callback the
 * client under test still had in flight has been delivered.
 */
async function barrier(t: ExecutionContext, server: Server): Promise<void> {
	const {client} = await openClient(t, server);
	client.destroy();
}

test('error codes follow net_websocket_type.h (E_BASE + n)', t => {
	t.is(WebSocketErrCode.E_BASE, 1000);
	t.is(WebSocketErrCode.CONNECTION_ERROR, 1003);
	t.is(WebSocketErrCode.CONNECTION_PARSE_URL_ERROR, 1005);
	t.is(WebSocketErrCode.CONNECTION_CLOSED_BY_PEER, 1007);
	t.is(WebSocketErrCode.DESTROYED, 1008);
	t.is(WebSocketErrCode.PROTOCOL_ERROR, 1009);
	t.is(WebSocketErrCode.DATA_LENGTH_EXCEEDED, 1012);
	t.is(WebSocketErrCode.QUEUE_LENGTH_EXCEEDED, 1013);
	t.is(WebSocketErrCode.HEADER_EXCEEDED, 1016);
	t.is(WebSocketErrCode.NO_CONNECTION, 1017);
});

test('connect returns 0 and onOpen follows asynchronously', async t => {
	const server = await startServer(t);
	const {client, events} = recordingClient(t);
	t.is(client.connect(server.url), WebSocketErrCode.OK);
	t.deepEqual(events.opens, [], 'onOpen is not called synchronously');
	await until(() => events.opens.length > 0, 5000, 'onOpen');
	t.deepEqual(events.opens, [{code: 101, reason: 'Switching Protocols'}]);
	t.is(server.peers.length, 1);
	t.is(server.peers[0]?.request.url, '/path');
});

test('a second connect while connecting or open is CONNECTION_ERROR', async t => {
	const server = await startServer(t);
	const {client, events} = recordingClient(t);
	t.is(client.connect(server.url), WebSocketErrCode.OK);
	t.is(client.connect(server.url), WebSocketErrCode.CONNECTION_ERROR);
	await until(() => events.opens.length > 0, 5000, 'onOpen');
	t.is(client.connect(server.url), WebSocketErrCode.CONNECTION_ERROR);
});

test('addHeader and options.headers/protocols/origin reach the server', async t => {
	const server = await startServer(t);
	const {client} = recordingClient(t);
	t.is(client.addHeader('X-Token', 'abc'), WebSocketErrCode.OK);
	t.is(
		client.connect(server.url, {headers: {'X-Extra': '1'}, protocols: ['chat'], origin: 'http://example.test'}),
		WebSocketErrCode.OK,
	);
	await until(() => server.peers.length > 0, 5000, 'server connection');
	const {request, ws} = server.peers[0]!;
	t.is(request.headers['x-token'], 'abc');
	t.is(request.headers['x-extra'], '1');
	t.is(request.headers.origin, 'http://example.test');
	t.is(ws.protocol, 'chat');
});

test('addHeader rejects header injection and too many or too large headers with HEADER_EXCEEDED', t => {
	const client = new WebSocketClient();
	t.is(client.addHeader('X-Evil', 'a\r\nInjected: yes'), WebSocketErrCode.HEADER_EXCEEDED);
	t.is(client.addHeader('X-Evil', 'a\nb'), WebSocketErrCode.HEADER_EXCEEDED);
	t.is(client.addHeader('Bad Name', 'v'), WebSocketErrCode.HEADER_EXCEEDED);
	t.is(client.addHeader('Bad\r\nName', 'v'), WebSocketErrCode.HEADER_EXCEEDED);
	t.is(client.addHeader('X-Big', 'x'.repeat(9000)), WebSocketErrCode.HEADER_EXCEEDED);
	for (let index = 0; index < 64; index++) {
		t.is(client.addHeader(`X-H${index}`, 'v'), WebSocketErrCode.OK);
	}

	t.is(client.addHeader('X-One-Too-Many', 'v'), WebSocketErrCode.HEADER_EXCEEDED);
});

test('connect rejects bad options.headers with HEADER_EXCEEDED', async t => {
	const server = await startServer(t);
	const {client} = recordingClient(t);
	t.is(client.connect(server.url, {headers: [['X-Evil', 'a\r\nb']]}), WebSocketErrCode.HEADER_EXCEEDED);
});

test('a bad URL is CONNECTION_PARSE_URL_ERROR, with no callbacks', async t => {
	const {client, events} = recordingClient(t);
	t.is(client.connect('not a url'), WebSocketErrCode.CONNECTION_PARSE_URL_ERROR);
	t.is(client.connect('http://127.0.0.1:1/'), WebSocketErrCode.CONNECTION_PARSE_URL_ERROR);
	t.is(client.connect('ftp://example.test/'), WebSocketErrCode.CONNECTION_PARSE_URL_ERROR);
	await barrier(t, await startServer(t));
	t.deepEqual(events.order, []);
});

test('connection refused: onError CONNECTION_ERROR then onClose 1006', async t => {
	const probe = createServer();
	await new Promise<void>(resolve => probe.listen(0, '127.0.0.1', resolve));
	const {port} = probe.address() as AddressInfo;
	await new Promise<void>(resolve => probe.close(() => resolve()));
	const {client, events} = recordingClient(t);
	t.is(client.connect(`ws://127.0.0.1:${port}/`), WebSocketErrCode.OK);
	await until(() => events.closes.length > 0, 5000, 'onClose');
	t.deepEqual(events.order, ['error', 'close']);
	t.is(events.errors[0]?.errorCode, WebSocketErrCode.CONNECTION_ERROR);
	t.regex(events.errors[0]?.errorMessage ?? '', /ECONNREFUSED/);
	t.is(events.closes[0]?.code, 1006);
	t.is(client.send('x'), WebSocketErrCode.NO_CONNECTION);
});

test('a refused handshake (HTTP 401) is CONNECTION_ERROR', async t => {
	const wss = new WebSocketServer({
		host: '127.0.0.1',
		port: 0,
		verifyClient: (_info: unknown, done: (result: boolean, code?: number) => void) => {
			done(false, 401);
		},
	});
	await withTimeout(new Promise<void>(resolve => wss.once('listening', () => resolve())), 5000, 'listening');
	t.teardown(async () => new Promise<void>(resolve => wss.close(() => resolve())));
	const {client, events} = recordingClient(t);
	t.is(client.connect(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`), WebSocketErrCode.OK);
	await until(() => events.closes.length > 0, 5000, 'onClose');
	t.deepEqual(events.order, ['error', 'close']);
	t.is(events.errors[0]?.errorCode, WebSocketErrCode.CONNECTION_ERROR);
});

test('text and binary both ways', async t => {
	const server = await startServer(t);
	const {client, events} = await openClient(t, server);
	t.is(client.send('héllo'), WebSocketErrCode.OK);
	t.is(client.send(new Uint8Array([1, 2, 3])), WebSocketErrCode.OK);
	await until(() => events.messages.length >= 2, 5000, 'echoes');
	t.deepEqual(server.received, [
		[Buffer.from('héllo'), false],
		[Buffer.from([1, 2, 3]), true],
	]);
	t.deepEqual(events.messages[0], {data: 'héllo', length: Buffer.byteLength('héllo')});
	const binary = events.messages[1]!;
	t.true(Buffer.isBuffer(binary.data));
	t.deepEqual([...(binary.data as Buffer)], [1, 2, 3]);
	t.is(binary.length, 3);
});

test('send before connect, or while connecting, is NO_CONNECTION', async t => {
	const server = await startServer(t);
	const {client, events} = recordingClient(t);
	t.is(client.send('early'), WebSocketErrCode.NO_CONNECTION);
	t.is(client.close({code: 1000, reason: ''}), WebSocketErrCode.NO_CONNECTION);
	t.is(client.connect(server.url), WebSocketErrCode.OK);
	t.is(client.send('connecting'), WebSocketErrCode.NO_CONNECTION);
	await until(() => events.opens.length > 0, 5000, 'onOpen');
	t.is(client.send('now'), WebSocketErrCode.OK);
});

test('send of neither a string nor bytes is SEND_DATA_NULL', async t => {
	const server = await startServer(t);
	const {client} = await openClient(t, server);
	t.is(client.send(null as unknown as string), WebSocketErrCode.SEND_DATA_NULL);
});

test('a send over maxPayload is DATA_LENGTH_EXCEEDED (default 4 MiB)', async t => {
	const server = await startServer(t, false);
	const {client} = await openClient(t, server, {maxPayload: 1024});
	t.is(client.send('x'.repeat(1025)), WebSocketErrCode.DATA_LENGTH_EXCEEDED);
	t.is(client.send(new Uint8Array(1025)), WebSocketErrCode.DATA_LENGTH_EXCEEDED);
	t.is(client.send('x'.repeat(1024)), WebSocketErrCode.OK);

	const other = await openClient(t, server);
	t.is(other.client.send(new Uint8Array(4 * 1024 * 1024 + 1)), WebSocketErrCode.DATA_LENGTH_EXCEEDED);
});

test('a send that would overfill the queue is QUEUE_LENGTH_EXCEEDED', async t => {
	const server = await startServer(t, false);
	const {client} = await openClient(t, server, {maxQueueSize: 1000});
	t.is(client.send(new Uint8Array(1001)), WebSocketErrCode.QUEUE_LENGTH_EXCEEDED);
	t.is(client.send(new Uint8Array(500)), WebSocketErrCode.OK);
});

test('close({code, reason}) runs the close handshake; onClose has the server echo', async t => {
	const server = await startServer(t);
	const {client, events} = await openClient(t, server);
	const serverClose = new Promise<[number, string]>(resolve => {
		server.peers[0]!.ws.once('close', (code, reason) => resolve([code, reason.toString()]));
	});
	t.is(client.close({code: 4000, reason: 'bye'}), WebSocketErrCode.OK);
	t.deepEqual(await withTimeout(serverClose, 5000, 'server close'), [4000, 'bye']);
	await until(() => events.closes.length > 0, 5000, 'onClose');
	t.deepEqual(events.closes, [{code: 4000, reason: 'bye'}]);
	t.deepEqual(events.errors, []);
	t.is(client.send('late'), WebSocketErrCode.NO_CONNECTION);
	t.is(client.close(), WebSocketErrCode.NO_CONNECTION);
});

test('close with a code a client may not send is PROTOCOL_ERROR, and the connection stays open', async t => {
	const server = await startServer(t);
	const {client, events} = await openClient(t, server);
	t.is(client.close({code: 1006, reason: ''}), WebSocketErrCode.PROTOCOL_ERROR);
	t.is(client.close({code: 999, reason: ''}), WebSocketErrCode.PROTOCOL_ERROR);
	t.is(client.close({code: 1000, reason: 'x'.repeat(124)}), WebSocketErrCode.PROTOCOL_ERROR);
	t.is(client.send('still open'), WebSocketErrCode.OK);
	await until(() => events.messages.length > 0, 5000, 'echo');
});

test('destroy tears down: onError DESTROYED, onClose 1006, later calls return DESTROYED', async t => {
	const server = await startServer(t);
	const {client, events} = await openClient(t, server);
	const serverClosed = new Promise<number>(resolve => {
		server.peers[0]!.ws.once('close', code => resolve(code));
	});
	t.is(client.destroy(), WebSocketErrCode.OK);
	t.true(client.destroyed);
	t.is(client.send('x'), WebSocketErrCode.DESTROYED);
	t.is(client.close(), WebSocketErrCode.DESTROYED);
	t.is(client.connect(server.url), WebSocketErrCode.DESTROYED);
	t.is(client.addHeader('X-A', 'b'), WebSocketErrCode.DESTROYED);
	t.is(client.destroy(), WebSocketErrCode.DESTROYED);
	t.is(await withTimeout(serverClosed, 5000, 'server sees the socket go'), 1006);
	await until(() => events.closes.length > 0, 5000, 'onClose');
	await barrier(t, server);
	t.deepEqual(events.order, ['open', 'error', 'close']);
	t.is(events.errors[0]?.errorCode, WebSocketErrCode.DESTROYED);
	t.is(events.closes[0]?.code, 1006);
});

test('destroy while connecting aborts the handshake with one DESTROYED error', async t => {
	const server = await startServer(t);
	const {client, events} = recordingClient(t);
	t.is(client.connect(server.url), WebSocketErrCode.OK);
	t.is(client.destroy(), WebSocketErrCode.OK);
	await until(() => events.closes.length > 0, 5000, 'onClose');
	await barrier(t, server);
	t.deepEqual(events.order, ['error', 'close']);
	t.is(events.errors[0]?.errorCode, WebSocketErrCode.DESTROYED);
});

test('the peer terminating the TCP connection is CLOSED_BY_PEER, then onClose 1006', async t => {
	const server = await startServer(t);
	const {events} = await openClient(t, server);
	server.peers[0]!.ws.terminate();
	await until(() => events.closes.length > 0, 5000, 'onClose');
	t.deepEqual(events.order, ['open', 'error', 'close']);
	t.is(events.errors[0]?.errorCode, WebSocketErrCode.CONNECTION_CLOSED_BY_PEER);
	t.is(events.closes[0]?.code, 1006);
});

test('the peer closing cleanly gives onClose with its code and no error', async t => {
	const server = await startServer(t);
	const {events} = await openClient(t, server);
	server.peers[0]!.ws.close(4001, 'done');
	await until(() => events.closes.length > 0, 5000, 'onClose');
	t.deepEqual(events.order, ['open', 'close']);
	t.deepEqual(events.closes, [{code: 4001, reason: 'done'}]);
});

test('a protocol violation by the peer is PROTOCOL_ERROR', async t => {
	const server = await startServer(t);
	const {events} = await openClient(t, server);
	// A masked frame from the server (RFC 6455 §5.1: the client must fail the connection).
	const socket = (server.peers[0]!.ws as unknown as {_socket: import('node:net').Socket})._socket;
	socket.write(Buffer.from([0x81, 0x81, 0, 0, 0, 0, 0x61]));
	await until(() => events.closes.length > 0, 5000, 'onClose');
	t.is(events.errors[0]?.errorCode, WebSocketErrCode.PROTOCOL_ERROR);
	t.is(events.order.at(-1), 'close');
});

test('the client can connect again after a close', async t => {
	const server = await startServer(t);
	const {client, events} = await openClient(t, server);
	t.is(client.close(), WebSocketErrCode.OK);
	await until(() => events.closes.length > 0, 5000, 'onClose');
	t.is(client.connect(server.url), WebSocketErrCode.OK);
	await until(() => events.opens.length > 1, 5000, 'second onOpen');
	t.is(client.send('again'), WebSocketErrCode.OK);
	await until(() => events.messages.length > 0, 5000, 'echo');
	t.is(events.messages[0]?.data, 'again');
});
