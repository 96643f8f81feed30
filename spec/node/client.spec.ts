// Tests for lib/node/client.ts: websocketConnect, as libsoup's soup_session_websocket_connect_async.

import {once} from 'node:events';
import {createServer} from 'node:http';
import {createServer as createHttpsServer} from 'node:https';
import {connect as netConnect, type Socket} from 'node:net';
import type {TLSSocket} from 'node:tls';
import test, {type ExecutionContext} from 'ava';
import {MAX_REFUSED_BODY_SIZE, websocketConnect} from '../../lib/node/client.ts';
import {addWebsocketHandler, type WebsocketHandlerOptions} from '../../lib/node/server.ts';
import {WebsocketConnectionType, WebsocketDataType, WebsocketState} from '../../lib/websocket/constants.ts';
import {WebsocketConnection} from '../../lib/websocket/connection.ts';
import {WebsocketError, WebsocketErrorCode} from '../../lib/websocket/errors.ts';
import {computeAcceptKey} from '../../lib/websocket/handshake.ts';
import {Message} from '../../lib/http/message.ts';
import {runNode} from '../helpers/cli.ts';
import {until, waitForSignal, withTimeout} from '../helpers/signals.ts';
import {listen, outcome, rawServer, scriptedServer, selfSignedCertificate, switching} from './fixtures.ts';

/** An echo server made with addWebsocketHandler; resolves with its port and the server-side connections. */
async function echoServer(
	t: ExecutionContext,
	protocols: readonly string[] | null = null,
	options: WebsocketHandlerOptions = {},
): Promise<{port: number; connections: WebsocketConnection[]; messages: Message[]}> {
	const server = createServer();
	const connections: WebsocketConnection[] = [];
	const messages: Message[] = [];
	addWebsocketHandler(
		server,
		'/echo',
		null,
		protocols,
		(_server, msg, _path, connection) => {
			connections.push(connection);
			messages.push(msg);
			connection.connect('message', (self, type, data) => {
				self.sendMessage(type, data);
			});
		},
		options,
	);
	const port = await listen(t, server);
	t.teardown(() => {
		for (const connection of connections) {
			connection.getIoStream().destroy();
		}
	});
	return {port, connections, messages};
}

/** Closes a client connection cleanly and waits for it. */
async function closeClient(connection: WebsocketConnection): Promise<void> {
	if (connection.getState() === WebsocketState.OPEN) {
		connection.close(1000);
	}

	await withTimeout(connection.closed, 5000, 'closed');
}

async function rejection(t: ExecutionContext, promise: Promise<unknown>): Promise<Error> {
	const error = await t.throwsAsync(withTimeout(promise, 10_000, 'websocketConnect'));
	if (error === undefined) {
		throw new Error('expected a rejection');
	}

	return error;
}

test('connects to a ws: URL and exchanges messages; the connection has libsoup\'s properties', async t => {
	const {port, messages} = await echoServer(t, ['chat', 'superchat']);
	const connection = await websocketConnect(`ws://127.0.0.1:${port}/echo?room=1`, 'http://example.com', [
		'superchat',
		'chat',
	]);
	t.teardown(() => connection.getIoStream().destroy());
	t.is(connection.getConnectionType(), WebsocketConnectionType.CLIENT);
	t.is(connection.getUri().href, `ws://127.0.0.1:${port}/echo?room=1`);
	t.is(connection.getOrigin(), 'http://example.com');
	t.is(connection.getProtocol(), 'chat'); // the server's order wins
	t.is(connection.getState(), WebsocketState.OPEN);
	connection.sendText('héllo, wörld ✓');
	const [type, data] = await waitForSignal(connection, 'message');
	t.is(type, WebsocketDataType.TEXT);
	t.is(data.toString('utf8'), 'héllo, wörld ✓');
	t.is(messages[0]?.requestHeaders.getOne('Origin'), 'http://example.com');
	await closeClient(connection);
});

test('accepts an http: URL for the same thing, as libsoup does', async t => {
	const {port} = await echoServer(t);
	const connection = await websocketConnect(`http://127.0.0.1:${port}/echo`);
	t.is(connection.getUri().protocol, 'http:');
	connection.sendBinary(Buffer.from([1, 2, 3]));
	const [type, data] = await waitForSignal(connection, 'message');
	t.is(type, WebsocketDataType.BINARY);
	t.deepEqual([...data], [1, 2, 3]);
	await closeClient(connection);
});

test('sends the Message\'s request headers and the `headers` option, and keeps the 101 on the Message', async t => {
	const {port, messages} = await echoServer(t, null, {responseHeaders: {'Set-Cookie': 'session=1'}});
	const msg = new Message(`ws://127.0.0.1:${port}/echo`);
	msg.requestHeaders.append('Connection', 'keep-alive');
	msg.requestHeaders.append('X-From-Message', 'yes');
	const connection = await websocketConnect(msg, null, null, {
		headers: {Authorization: 'Bearer token', 'X-Multi': ['a', 'b']},
	});
	const request = messages[0]!.requestHeaders;
	t.is(request.getOne('X-From-Message'), 'yes');
	t.is(request.getOne('Authorization'), 'Bearer token');
	t.is(request.getList('X-Multi'), 'a, b');
	t.is(request.getList('Connection'), 'keep-alive, Upgrade');
	t.is(msg.statusCode, 101);
	t.is(msg.responseHeaders.getOne('Set-Cookie'), 'session=1');
	t.is(msg.responseHeaders.getOne('Sec-WebSocket-Accept'), computeAcceptKey(request.getOne('Sec-WebSocket-Key')!));
	await closeClient(connection);
});

test('the request head is the Message\'s, byte for byte: its Host, names as spelled, order, repeats, Latin-1, and no header of Node\'s own', async t => {
	let head = '';
	const port = await scriptedServer(t, (request, socket) => {
		head = request;
		socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
	});
	const msg = new Message(`ws://127.0.0.1:${port}/chat?room=1`);
	msg.requestHeaders.append('HOST', 'virtual.example');
	msg.requestHeaders.append('x-lower', 'caf\u00e9');
	msg.requestHeaders.append('X-Twice', '1');
	msg.requestHeaders.append('x-twice', '2');
	await rejection(t, websocketConnect(msg, 'http://origin.example', ['chat']));
	const key = msg.requestHeaders.getOne('Sec-WebSocket-Key')!;
	t.is(
		head,
		'GET /chat?room=1 HTTP/1.1\r\nHOST: virtual.example\r\nx-lower: caf\u00e9\r\nX-Twice: 1\r\nx-twice: 2\r\n' +
			[...msg.requestHeaders].slice(4).map(([name, value]) => `${name}: ${value}\r\n`).join('') +
			'\r\n',
	);
	t.true(head.includes(`Sec-WebSocket-Key: ${key}\r\n`));
	t.true(head.includes('Origin: http://origin.example\r\n'));
	t.false(/^(?:content-length|transfer-encoding):/im.test(head));
});

test('without a Host header the request gets the URI\'s, first', async t => {
	let head = '';
	const port = await scriptedServer(t, (request, socket) => {
		head = request;
		socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
	});
	await rejection(t, websocketConnect(`ws://127.0.0.1:${port}/`));
	t.true(head.startsWith(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`), head);
	t.is(head.match(/^host:/gim)?.length, 1);
});

test('the headers option also takes name/value pairs', async t => {
	const {port, messages} = await echoServer(t);
	const connection = await websocketConnect(`ws://127.0.0.1:${port}/echo`, null, null, {
		headers: [
			['X-Pair', 'one'],
			['X-Pair', 'two'],
		],
	});
	t.is(messages[0]!.requestHeaders.getList('X-Pair'), 'one, two');
	await closeClient(connection);
});

test('a refused handshake is NOT_WEBSOCKET, and the Message keeps status, headers and body', async t => {
	const {port} = await echoServer(t, null, {
		check(msg) {
			msg.setStatus(401);
			msg.responseHeaders.append('WWW-Authenticate', 'Basic realm="chat"');
			msg.setResponse('text/plain', 'who are you?');
		},
	});
	const msg = new Message(`ws://127.0.0.1:${port}/echo`);
	const error = await rejection(t, websocketConnect(msg));
	t.true(error instanceof WebsocketError);
	const wsError = error as WebsocketError;
	t.is(wsError.code, WebsocketErrorCode.NOT_WEBSOCKET);
	t.is(wsError.reason, 'WS_ERR_UNEXPECTED_RESPONSE');
	t.is(wsError.message, 'The server did not accept the WebSocket handshake.');
	t.is(msg.statusCode, 401);
	t.is(msg.reasonPhrase, 'Unauthorized');
	t.is(msg.responseHeaders.getOne('WWW-Authenticate'), 'Basic realm="chat"');
	t.is(msg.responseBody?.toString(), 'who are you?');
});

test('a 400 from the server is NOT_WEBSOCKET too (libsoup verifies only a 101), with libsoup\'s body', async t => {
	const {port} = await echoServer(t, ['only-this']);
	const msg = new Message(`ws://127.0.0.1:${port}/echo`);
	const error = (await rejection(t, websocketConnect(msg, null, ['other']))) as WebsocketError;
	t.is(error.code, WebsocketErrorCode.NOT_WEBSOCKET);
	t.is(msg.statusCode, 400);
	t.is(
		msg.responseBody?.toString(),
		'<html><head><title>400 Bad Request</title></head>\r\n<body>Received invalid WebSocket request: Unsupported WebSocket subprotocol</body></html>\r\n',
	);
});

test('the body of a refused handshake is read when chunked, and when delimited by the end of the connection', async t => {
	const chunked = await scriptedServer(t, (_request, socket) => {
		socket.end(
			'HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n',
		);
	});
	const first = new Message(`ws://127.0.0.1:${chunked}/`);
	await rejection(t, websocketConnect(first));
	t.is(first.statusCode, 503);
	t.is(first.responseBody?.toString(), 'hello world');

	const untilClose = await scriptedServer(t, (_request, socket) => {
		socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nplain old page');
	});
	const second = new Message(`ws://127.0.0.1:${untilClose}/`);
	await rejection(t, websocketConnect(second));
	t.is(second.statusCode, 200);
	t.is(second.responseBody?.toString(), 'plain old page');
});

test('a refused body whose chunk framing Node\'s parser rejects keeps what was decoded before it, and is still NOT_WEBSOCKET', async t => {
	// Node 20's llhttp refuses whitespace before a chunk extension (HPE_STRICT), which RFC 9112
	// §7.1.1 allows as BWS: the chunks before that line are the body.
	const port = await scriptedServer(t, (_request, socket) => {
		socket.end(
			'HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6 ;ext=1\r\n world\r\n0\r\n\r\n',
		);
	});
	const msg = new Message(`ws://127.0.0.1:${port}/`);
	const error = (await rejection(t, websocketConnect(msg))) as WebsocketError;
	t.is(error.code, WebsocketErrorCode.NOT_WEBSOCKET);
	t.is(error.reason, 'WS_ERR_UNEXPECTED_RESPONSE');
	t.is(msg.statusCode, 503);
	t.is(msg.responseBody?.toString(), 'hello');
});

test('a refused body is kept up to MAX_REFUSED_BODY_SIZE (64 KiB), with Content-Length or chunked, and the rest is not awaited', async t => {
	const size = 1024 * 1024;
	for (const chunked of [false, true]) {
		const port = await scriptedServer(t, (_request, socket) => {
			// The head and the first 96 KiB now; the rest of the 1 MiB would never come.
			const part = Buffer.alloc(96 * 1024, 'b');
			socket.write(
				chunked
					? `HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n${size.toString(16)}\r\n`
					: `HTTP/1.1 500 Internal Server Error\r\nContent-Length: ${size}\r\n\r\n`,
			);
			socket.write(part);
		});
		const msg = new Message(`ws://127.0.0.1:${port}/`);
		const error = (await rejection(t, websocketConnect(msg, null, null, {handshakeTimeout: 30_000}))) as WebsocketError;
		t.is(error.code, WebsocketErrorCode.NOT_WEBSOCKET, chunked ? 'chunked' : 'Content-Length');
		t.is(msg.statusCode, 500);
		t.is(msg.responseBody?.length, MAX_REFUSED_BODY_SIZE);
		t.true(msg.responseBody?.every(byte => byte === 0x62));
	}
});

test('a server that keeps the connection open after a Content-Length body does not hold the promise', async t => {
	const port = await scriptedServer(t, (_request, socket) => {
		socket.write('HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 4\r\n\r\nmove');
	});
	const msg = new Message(`ws://127.0.0.1:${port}/`);
	const error = (await rejection(t, websocketConnect(msg))) as WebsocketError;
	t.is(error.code, WebsocketErrorCode.NOT_WEBSOCKET);
	t.is(msg.statusCode, 302);
	t.is(msg.responseHeaders.getOne('Location'), '/elsewhere');
	t.is(msg.responseBody?.toString(), 'move');
});

test('bytes sent in the same segment as the 101 reach the connection', async t => {
	const port = await scriptedServer(t, (request, socket) => {
		// 0x81 0x05 "hello": FIN+TEXT, then 0x82 0x02 0x01 0x02: FIN+BINARY [1, 2]; one write.
		socket.write(Buffer.concat([Buffer.from(switching(request), 'latin1'), Buffer.from('810568656c6c6f82020102', 'hex')]));
	});
	const connection = await websocketConnect(`ws://127.0.0.1:${port}/`);
	t.teardown(() => connection.getIoStream().destroy());
	const received: Array<[number, string]> = [];
	const both = new Promise<void>(resolve => {
		connection.connect('message', (_self, type, data) => {
			received.push([type, data.toString('hex')]);
			if (received.length === 2) {
				resolve();
			}
		});
	});
	await withTimeout(both, 5000, 'two messages');
	t.deepEqual(received, [
		[WebsocketDataType.TEXT, Buffer.from('hello').toString('hex')],
		[WebsocketDataType.BINARY, '0102'],
	]);
});

test('nothing of the handshake stays on the socket: it carries the listeners a connection puts on a fresh socket, and no more', async t => {
	const {port} = await echoServer(t);
	const connection = await websocketConnect(`ws://127.0.0.1:${port}/echo`);
	const socket = connection.getIoStream() as Socket;
	const fresh = netConnect({host: '127.0.0.1', port});
	const bare = new WebsocketConnection({ioStream: fresh, connectionType: WebsocketConnectionType.CLIENT, uri: new URL(`ws://127.0.0.1:${port}/echo`)});
	bare.connect('error', () => {});
	t.teardown(() => fresh.destroy());
	for (const event of ['data', 'end', 'close', 'error', 'drain', 'timeout']) {
		t.is(socket.listenerCount(event), fresh.listenerCount(event), `'${event}' listeners`);
	}

	t.is(socket.timeout ?? 0, 0);
	bare.close(1000);
	await closeClient(connection);
});

test('a 100 Continue before the 101 is skipped', async t => {
	const port = await scriptedServer(t, (request, socket) => {
		socket.write(`HTTP/1.1 100 Continue\r\n\r\n${switching(request)}`);
	});
	const connection = await websocketConnect(`ws://127.0.0.1:${port}/`);
	t.teardown(() => connection.getIoStream().destroy());
	t.is(connection.getState(), WebsocketState.OPEN);
});

test('interim responses (100, 103 with headers) before the 101 are skipped, and the Message keeps only the 101', async t => {
	const port = await scriptedServer(t, (request, socket) => {
		socket.write(`HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n${switching(request)}`);
	});
	const msg = new Message(`ws://127.0.0.1:${port}/`);
	const connection = await websocketConnect(msg);
	t.teardown(() => connection.getIoStream().destroy());
	t.is(connection.getState(), WebsocketState.OPEN);
	t.is(msg.statusCode, 101);
	t.is(msg.responseHeaders.getOne('Link'), null);
});

test('a wrong Sec-WebSocket-Accept fails with clientVerifyHandshake\'s error', async t => {
	const port = await scriptedServer(t, (_request, socket) => {
		socket.write(
			'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n',
		);
	});
	const error = (await rejection(t, websocketConnect(`ws://127.0.0.1:${port}/`))) as WebsocketError;
	t.is(error.code, WebsocketErrorCode.BAD_HANDSHAKE);
	t.is(error.reason, 'WS_ERR_INVALID_ACCEPT');
	t.is(error.message, 'Server returned incorrect “Sec-WebSocket-Accept” key');
});

test('a subprotocol the client did not offer fails with BAD_HANDSHAKE', async t => {
	const port = await scriptedServer(t, (request, socket) => {
		socket.write(switching(request, 'Sec-WebSocket-Protocol: Chat\r\n'));
	});
	const error = (await rejection(t, websocketConnect(`ws://127.0.0.1:${port}/`, null, ['chat']))) as WebsocketError;
	t.is(error.code, WebsocketErrorCode.BAD_HANDSHAKE);
	t.is(error.message, 'Server requested unsupported protocol');
});

test('a 101 without Upgrade fails with NOT_WEBSOCKET "Server ignored WebSocket handshake"', async t => {
	const port = await scriptedServer(t, (_request, socket) => {
		socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n');
	});
	const error = (await rejection(t, websocketConnect(`ws://127.0.0.1:${port}/`))) as WebsocketError;
	t.is(error.code, WebsocketErrorCode.NOT_WEBSOCKET);
	t.is(error.message, 'Server ignored WebSocket handshake');
});

test('a connection closed before the response head is complete fails with WS_ERR_CONNECTION_CLOSED', async t => {
	const port = await scriptedServer(t, (_request, socket) => {
		socket.end('HTTP/1.1 101 Switching');
	});
	const error = (await rejection(t, websocketConnect(`ws://127.0.0.1:${port}/`))) as WebsocketError;
	t.is(error.code, WebsocketErrorCode.FAILED);
	t.is(error.reason, 'WS_ERR_CONNECTION_CLOSED');
});

test('a response head over 16 KiB fails with WS_ERR_HEADERS_TOO_LARGE', async t => {
	const port = await scriptedServer(t, (_request, socket) => {
		socket.write(`HTTP/1.1 101 Switching Protocols\r\nX-Big: ${'x'.repeat(20_000)}\r\n\r\n`);
	});
	const error = (await rejection(t, websocketConnect(`ws://127.0.0.1:${port}/`))) as WebsocketError;
	t.is(error.reason, 'WS_ERR_HEADERS_TOO_LARGE');
});

test('a malformed response head fails with WS_ERR_INVALID_HTTP', async t => {
	const port = await scriptedServer(t, (_request, socket) => {
		socket.write('SSH-2.0-OpenSSH_9.0\r\n\r\n');
	});
	const error = (await rejection(t, websocketConnect(`ws://127.0.0.1:${port}/`))) as WebsocketError;
	t.is(error.reason, 'WS_ERR_INVALID_HTTP');
});

test('a control character in a response header value, or a status outside 100–599, fails with WS_ERR_INVALID_HTTP', async t => {
	for (const head of [
		'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nX-Bad: a\u0001b\r\n\r\n',
		'HTTP/1.1 403 Forbidden\r\nX-Bad: a\u007fb\r\nContent-Length: 0\r\n\r\n',
		'HTTP/1.1 999 Nope\r\nContent-Length: 0\r\n\r\n',
	]) {
		const port = await scriptedServer(t, (_request, socket) => {
			socket.end(Buffer.from(head, 'latin1'));
		});
		const error = (await rejection(t, websocketConnect(`ws://127.0.0.1:${port}/`))) as WebsocketError;
		t.true(error instanceof WebsocketError, JSON.stringify(head));
		t.is(error.code, WebsocketErrorCode.FAILED);
		t.is(error.reason, 'WS_ERR_INVALID_HTTP', JSON.stringify(head));
		t.regex(error.message, /^Invalid HTTP response: /);
	}
});

test('Latin-1 in a refused response\'s headers reaches the Message byte for byte', async t => {
	const port = await scriptedServer(t, (_request, socket) => {
		socket.end(Buffer.from('HTTP/1.1 403 Forbidden\r\nX-Name: caf\u00e9 \u00ff\r\nContent-Length: 0\r\n\r\n', 'latin1'));
	});
	const msg = new Message(`ws://127.0.0.1:${port}/`);
	const error = (await rejection(t, websocketConnect(msg))) as WebsocketError;
	t.is(error.code, WebsocketErrorCode.NOT_WEBSOCKET);
	t.is(msg.responseHeaders.getOne('X-Name'), 'caf\u00e9 \u00ff');
	t.is(msg.responseBody, null);
});

test('a refused TCP connection is reported as the Node error (ECONNREFUSED)', async t => {
	const server = createServer();
	const port = await listen(t, server);
	await new Promise<void>(resolve => {
		server.close(() => resolve());
	});
	const error = await rejection(t, websocketConnect(`ws://127.0.0.1:${port}/`));
	t.false(error instanceof WebsocketError);
	t.is((error as NodeJS.ErrnoException).code, 'ECONNREFUSED');
});

test('the handshake timeout fails a server that never answers, and the socket is closed', async t => {
	let serverSocket: Socket | undefined;
	let resolveClosed!: () => void;
	const closed = new Promise<void>(resolve => {
		resolveClosed = resolve;
	});
	const port = await rawServer(t, socket => {
		serverSocket = socket;
		socket.resume(); // read, so the client's FIN is seen
		socket.on('close', () => resolveClosed());
	});
	const error = (await rejection(
		t,
		websocketConnect(`ws://127.0.0.1:${port}/`, null, null, {handshakeTimeout: 150}),
	)) as WebsocketError;
	t.is(error.code, WebsocketErrorCode.FAILED);
	t.is(error.reason, 'WS_ERR_HANDSHAKE_TIMEOUT');
	t.is(error.message, 'WebSocket handshake timed out after 150 ms');
	await withTimeout(closed, 5000, 'server socket close');
	t.truthy(serverSocket);
});

test('an AbortSignal aborts the handshake with WS_ERR_ABORTED and destroys the socket', async t => {
	let resolveSocket!: (socket: Socket) => void;
	const connected = new Promise<Socket>(resolve => {
		resolveSocket = resolve;
	});
	const port = await rawServer(t, socket => {
		resolveSocket(socket);
	});
	const controller = new AbortController();
	const promise = websocketConnect(`ws://127.0.0.1:${port}/`, null, null, {signal: controller.signal});
	const socket = await withTimeout(connected, 5000, 'connection');
	const socketClosed = new Promise<void>(resolve => socket.once('close', () => resolve()));
	const reason = new Error('user gave up');
	controller.abort(reason);
	const error = (await rejection(t, promise)) as WebsocketError;
	t.true(error instanceof WebsocketError);
	t.is(error.code, WebsocketErrorCode.FAILED);
	t.is(error.reason, 'WS_ERR_ABORTED');
	t.is(error.cause, reason);
	await withTimeout(socketClosed, 5000, 'server socket close');
	t.pass();
});

test('an already aborted signal rejects at once', async t => {
	const error = (await rejection(
		t,
		websocketConnect('ws://127.0.0.1:9/', null, null, {signal: AbortSignal.abort()}),
	)) as WebsocketError;
	t.is(error.reason, 'WS_ERR_ABORTED');
});

test('invalid arguments reject with TypeError', async t => {
	await t.throwsAsync(websocketConnect('ftp://example.com/'), {instanceOf: TypeError});
	await t.throwsAsync(websocketConnect('not a url'), {instanceOf: TypeError});
	await t.throwsAsync(websocketConnect('ws://127.0.0.1:9/', null, null, {handshakeTimeout: -1}), {
		instanceOf: TypeError,
	});
	await t.throwsAsync(websocketConnect('ws://127.0.0.1:9/', null, null, {headers: {'Bad Name': 'x'}}), {
		instanceOf: TypeError,
	});
});

test('a Message already in use by a handshake is refused, as libsoup refuses a queued message', async t => {
	const port = await rawServer(t, () => {});
	const msg = new Message(`ws://127.0.0.1:${port}/`);
	const controller = new AbortController();
	const first = websocketConnect(msg, null, null, {signal: controller.signal});
	await t.throwsAsync(websocketConnect(msg), {instanceOf: TypeError});
	controller.abort();
	await rejection(t, first);
});

test('connects over wss: with the TLS options passed through', async t => {
	const {key, cert} = await selfSignedCertificate();
	const server = createHttpsServer({key, cert});
	addWebsocketHandler(server, '/secure', null, ['v1'], (_server, msg, _path, connection) => {
		t.is(msg.uri.protocol, 'wss:');
		connection.connect('message', (self, _type, data) => {
			self.sendText(`secure ${data.toString()}`);
		});
	});
	const port = await listen(t, server);
	const connection = await websocketConnect(`wss://localhost:${port}/secure`, null, ['v1'], {
		tls: {ca: cert},
	});
	t.is(connection.getProtocol(), 'v1');
	connection.sendText('ping');
	const [, data] = await waitForSignal(connection, 'message');
	t.is(data.toString(), 'secure ping');
	await closeClient(connection);

	const untrusted = await rejection(t, websocketConnect(`wss://127.0.0.1:${port}/secure`));
	t.false(untrusted instanceof WebsocketError);
	t.is((untrusted as NodeJS.ErrnoException).code, 'DEPTH_ZERO_SELF_SIGNED_CERT');
});

test('over TLS the client names the host (SNI) and offers only http/1.1 by ALPN', async t => {
	const {key, cert} = await selfSignedCertificate();
	// The server would pick h2 if the client offered it.
	const server = createHttpsServer({key, cert, ALPNProtocols: ['h2', 'http/1.1']});
	const seen: Array<{servername: string | false | null; alpn: string | false | null}> = [];
	server.on('secureConnection', (tlsSocket: TLSSocket) => {
		seen.push({servername: tlsSocket.servername, alpn: tlsSocket.alpnProtocol});
	});
	addWebsocketHandler(server, '/secure', null, null, () => {});
	const port = await listen(t, server);
	const connection = await websocketConnect(`wss://localhost:${port}/secure`, null, null, {tls: {ca: cert}});
	t.deepEqual(seen, [{servername: 'localhost', alpn: 'http/1.1'}]);
	t.is((connection.getIoStream() as TLSSocket).alpnProtocol, 'http/1.1');
	await closeClient(connection);
});

test('connection options set the connection\'s limits and keepalive', async t => {
	const {port} = await echoServer(t);
	const connection = await websocketConnect(`ws://127.0.0.1:${port}/echo`, null, null, {
		maxIncomingPayloadSize: 1000,
		maxTotalMessageSize: 2000,
		keepaliveInterval: 30,
		keepalivePongTimeout: 10,
		closeTimeout: 1500,
	});
	t.is(connection.getProperty('close-timeout'), 1500);
	t.is(connection.getMaxIncomingPayloadSize(), 1000);
	t.is(connection.getMaxTotalMessageSize(), 2000);
	t.is(connection.getKeepaliveInterval(), 30);
	t.is(connection.getKeepalivePongTimeout(), 10);
	await closeClient(connection);
});

test('without options the client connection has libsoup\'s client defaults', async t => {
	const {port} = await echoServer(t);
	const connection = await websocketConnect(`ws://127.0.0.1:${port}/echo`);
	t.is(connection.getMaxIncomingPayloadSize(), 128 * 1024);
	t.is(connection.getMaxTotalMessageSize(), 0);
	t.is(connection.getKeepaliveInterval(), 0);
	t.is(connection.getProperty('close-timeout'), 5000);
	await closeClient(connection);
});

test('client: a refused chunked body whose chunk-size line never ends is not buffered without bound', async t => {
	// docs/node.md: the body of a refused handshake is kept "at most 64 KiB". A chunk-size line
	// with an endless chunk extension never yields body bytes, so the body never reaches
	// MAX_REFUSED_BODY_SIZE: the client must stop reading anyway (Node's parser ends such a line
	// with HPE_CHUNK_EXTENSIONS_OVERFLOW).
	let written = 0;
	const limit = 8 * 1024 * 1024;
	const port = await scriptedServer(t, (_request, socket) => {
		socket.write('HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n1;ext=');
		const chunk = Buffer.alloc(64 * 1024, 'a');
		const pump = (): void => {
			while (written < limit && !socket.destroyed) {
				written += chunk.length;
				if (!socket.write(chunk)) {
					socket.once('drain', pump);
					return;
				}
			}
		};

		pump();
	});
	const msg = new Message(`ws://127.0.0.1:${port}/`);
	const result = await outcome(websocketConnect(msg, null, null, {handshakeTimeout: 30_000}), 10_000).catch((error: Error) => error);
	t.true(result instanceof WebsocketError, `expected NOT_WEBSOCKET, got ${String(result)}`);
	t.is((result as WebsocketError).code, WebsocketErrorCode.NOT_WEBSOCKET);
	t.is(msg.statusCode, 403);
	// The client gives up reading long before the server pushed 8 MiB (or the 30 s timeout).
	t.true(written < limit, `the client read all ${written} bytes of a refused response`);
});

test('client: an invalid connection option is refused before any connection is made', async t => {
	// docs/node.md: an invalid option rejects with TypeError. The limits are only checked by the
	// WebsocketConnection constructor after the server accepted the handshake, so the server gets
	// a 101 and a connection that is dropped at once.
	const server = createServer();
	const accepted: WebsocketConnection[] = [];
	addWebsocketHandler(server, '/ws', null, null, (_server, _msg, _path, connection) => {
		accepted.push(connection);
	});
	let tcpConnections = 0;
	server.on('connection', () => {
		tcpConnections++;
	});
	const port = await listen(t, server);
	t.teardown(() => {
		for (const connection of accepted) {
			connection.getIoStream().destroy();
		}
	});

	const result = await outcome(websocketConnect(`ws://127.0.0.1:${port}/ws`, null, null, {maxIncomingPayloadSize: -1}));
	t.true(result instanceof TypeError, `expected a TypeError, got ${String(result)}`);
	t.is(accepted.length, 0, 'the server accepted a WebSocket for a call that could never succeed');
	t.is(tcpConnections, 0);
});

test('client: a `signal` that is not an AbortSignal rejects without leaving a live socket behind', async t => {
	// Passing the AbortController instead of its signal is an easy mistake in JavaScript. The socket
	// used to be opened before the promise executor called signal.addEventListener(); when that threw
	// the promise rejected, but the socket stayed connected with the handshake's listeners on it, and
	// the next event on it ran cleanup(), whose signal.removeEventListener() threw: an uncaught
	// exception that killed the process. Run in a child so a crash cannot take the test worker.
	const serverSockets: Socket[] = [];
	const port = await rawServer(t, socket => {
		serverSockets.push(socket);
	});
	const script = `
		const {websocketConnect} = await import('./lib/node/client.ts');
		try {
			await websocketConnect('ws://127.0.0.1:${port}/', null, null, {signal: new AbortController()});
			console.log('resolved');
		} catch (error) {
			console.log('rejected ' + error.constructor.name);
		}
	`;
	const child = runNode(t, ['--input-type=module', '-e', script]);
	await child.waitFor(/rejected/, 15_000);
	t.is(child.stdout().trim(), 'rejected TypeError');
	// With nothing left open, the child's event loop is empty and it exits on its own (a socket left open would keep it).
	const {code} = await child.exited(5000);
	t.is(code, 0, child.stderr());
	// The argument is checked before any socket is opened: a control connection made after the child
	// exited is the first (and only) one the server accepts.
	const control = netConnect({host: '127.0.0.1', port});
	t.teardown(() => control.destroy());
	await withTimeout(once(control, 'connect'), 5000, 'the control connection');
	await until(() => serverSockets.length > 0, 5000, 'the server to accept the control connection');
	t.is(serverSockets.length, 1);
	t.is(serverSockets[0]!.remotePort, control.localPort);
});
