// Tests for lib/node/server.ts: addWebsocketHandler, as libsoup's soup_server_add_websocket_handler.

import {createServer, get, type Server} from 'node:http';
import {createServer as createHttpsServer} from 'node:https';
import {connect, Socket as NetSocket, type Socket} from 'node:net';
import {TLSSocket} from 'node:tls';
import test, {type ExecutionContext} from 'ava';
import {websocketConnect} from '../../lib/node/client.ts';
import {addWebsocketHandler, type WebsocketHandlerOptions} from '../../lib/node/server.ts';
import {WebsocketConnectionType, WebsocketDataType, WebsocketState} from '../../lib/websocket/constants.ts';
import type {WebsocketConnection} from '../../lib/websocket/connection.ts';
import {WebsocketError, WebsocketErrorCode} from '../../lib/websocket/errors.ts';
import {encodeFrame} from '../../lib/websocket/frame.ts';
import {computeAcceptKey} from '../../lib/websocket/handshake.ts';
import {Message as MessageClass, type Message} from '../../lib/http/message.ts';
import {until, waitForSignal, withTimeout} from '../helpers/signals.ts';
import {handshakeRequest, listen, outcome, parseRaw, rawExchange, readUntil, selfSignedCertificate} from './fixtures.ts';

interface Accepted {
	server: Server;
	msg: Message;
	path: string;
	connection: WebsocketConnection;
	handler: string;
}

/** An HTTP server with teardown; every accepted connection is recorded and destroyed at the end. */
async function serve(
	t: ExecutionContext,
	setup: (server: Server, record: (handler: string) => (server: Server, msg: Message, path: string, connection: WebsocketConnection) => void) => void,
	server: Server = createServer(),
): Promise<{port: number; accepted: Accepted[]; next: () => Promise<Accepted>}> {
	const accepted: Accepted[] = [];
	const waiters: Array<(value: Accepted) => void> = [];
	const record =
		(handler: string) =>
		(s: Server, msg: Message, path: string, connection: WebsocketConnection): void => {
			const entry = {server: s, msg, path, connection, handler};
			accepted.push(entry);
			waiters.shift()?.(entry);
		};

	setup(server, record);
	const port = await listen(t, server);
	t.teardown(() => {
		for (const {connection} of accepted) {
			connection.getIoStream().destroy();
		}
	});
	let taken = 0;
	const next = async (): Promise<Accepted> => {
		const index = taken++;
		const ready = accepted[index];
		if (ready !== undefined) {
			return ready;
		}

		return withTimeout(
			new Promise<Accepted>(resolve => {
				waiters.push(resolve);
			}),
			5000,
			'an accepted connection',
		);
	};

	return {port, accepted, next};
}

async function closeClient(connection: WebsocketConnection): Promise<void> {
	if (connection.getState() === WebsocketState.OPEN) {
		connection.close(1000);
	}

	await withTimeout(connection.closed, 5000, 'closed');
}

const refusalBody = (why: string): string =>
	`<html><head><title>400 Bad Request</title></head>\r\n<body>Received invalid WebSocket request: ${why}</body></html>\r\n`;

test('the callback receives the server, the request Message, the path and a SERVER connection', async t => {
	const {port, next} = await serve(t, (server, record) => {
		addWebsocketHandler(server, '/ws', null, ['proto'], record('ws'));
	});
	const client = await websocketConnect(`ws://127.0.0.1:${port}/ws/sub?x=1`, 'http://origin.example', ['proto'], {
		headers: {'X-Hello': 'there'},
	});
	const {server, msg, path, connection} = await next();
	t.true(server instanceof Object && typeof server.listen === 'function');
	t.is(path, '/ws/sub');
	t.is(msg.uri.href, `ws://127.0.0.1:${port}/ws/sub?x=1`);
	t.is(msg.requestHeaders.getOne('X-Hello'), 'there');
	t.is(msg.remoteAddress, '127.0.0.1');
	t.is(msg.statusCode, 101);
	t.is(connection.getConnectionType(), WebsocketConnectionType.SERVER);
	t.is(connection.getUri().href, msg.uri.href);
	t.is(connection.getOrigin(), 'http://origin.example');
	t.is(connection.getProtocol(), 'proto');
	// SoupServer's default for the server side, and the HTTP server's idle timeout is gone.
	t.is(connection.getMaxTotalMessageSize(), 128 * 1024);
	t.is(connection.getMaxIncomingPayloadSize(), 128 * 1024);
	t.is((connection.getIoStream() as Socket).timeout ?? 0, 0);

	client.sendText('to server ✓');
	const [type, data] = await waitForSignal(connection, 'message');
	t.is(type, WebsocketDataType.TEXT);
	t.is(data.toString(), 'to server ✓');
	connection.sendText('to client');
	const [, reply] = await waitForSignal(client, 'message');
	t.is(reply.toString(), 'to client');
	await closeClient(client);
});

// libsoup's client-context test: inside the callback, SoupServerMessage gives the local address,
// the remote address, the remote host and the socket.
test('the callback\'s Message knows its connection: local and remote address, remote host, socket (ws:)', async t => {
	const {port, next} = await serve(t, (server, record) => {
		addWebsocketHandler(server, '/ws', null, null, record('ws'));
	});
	const client = await websocketConnect(`ws://127.0.0.1:${port}/ws`);
	const clientPort = (client.getIoStream() as Socket).localPort!;
	const {msg, connection} = await next();
	t.deepEqual(msg.getLocalAddress(), {address: '127.0.0.1', family: 'IPv4', port});
	t.deepEqual(msg.getRemoteAddress(), {address: '127.0.0.1', family: 'IPv4', port: clientPort});
	t.is(msg.getRemoteHost(), '127.0.0.1');
	const socket = msg.getSocket();
	t.true(socket instanceof NetSocket);
	t.false(socket instanceof TLSSocket);
	t.is<unknown, unknown>(socket, connection.getIoStream());
	t.is(socket?.remotePort, clientPort);

	// Like libsoup's, an address asked for once is kept: it outlives the socket.
	await closeClient(client);
	await withTimeout(connection.closed, 5000, 'the server side closed');
	t.deepEqual(msg.getRemoteAddress(), {address: '127.0.0.1', family: 'IPv4', port: clientPort});
	t.is(msg.getRemoteHost(), '127.0.0.1');
	t.deepEqual(msg.getLocalAddress(), {address: '127.0.0.1', family: 'IPv4', port});
});

// libsoup reads an address from the socket when first asked for (soup_server_connection_get_remote_address,
// soup_server_message_get_remote_host): a handshake nobody asks costs no getsockname/getpeername.
test('the callback\'s Message reads its addresses when first asked for: first asked after the close, they are null', async t => {
	const {port, next} = await serve(t, (server, record) => {
		addWebsocketHandler(server, '/ws', null, null, record('ws'));
	});
	const client = await websocketConnect(`ws://127.0.0.1:${port}/ws`);
	const {msg, connection} = await next();
	const socket = connection.getIoStream() as Socket;
	t.is(msg.getSocket(), socket);
	await closeClient(client);
	await withTimeout(connection.closed, 5000, 'the server side closed');
	t.true(socket.destroyed);
	t.is(msg.getRemoteAddress(), null);
	t.is(msg.getLocalAddress(), null);
	t.is(msg.getRemoteHost(), null);
	t.is(msg.remoteAddress, null);
	// Set by the application, it is what the message answers.
	msg.remoteAddress = '192.0.2.1';
	t.is(msg.getRemoteHost(), '192.0.2.1');
	t.throws(() => {
		msg.remoteAddress = 42 as unknown as string;
	}, {instanceOf: TypeError, message: /remoteAddress/});
});

test('the callback\'s Message knows its connection over wss: the socket is the TLSSocket', async t => {
	const {key, cert} = await selfSignedCertificate();
	const {port, next} = await serve(
		t,
		(server, record) => {
			addWebsocketHandler(server, '/ws', null, null, record('ws'));
		},
		createHttpsServer({key, cert}) as unknown as Server,
	);
	const client = await websocketConnect(`wss://127.0.0.1:${port}/ws`, null, null, {tls: {ca: cert}});
	const clientSocket = client.getIoStream() as TLSSocket;
	const {msg, connection} = await next();
	t.is(msg.uri.protocol, 'wss:');
	t.deepEqual(msg.getLocalAddress(), {address: '127.0.0.1', family: 'IPv4', port});
	t.deepEqual(msg.getRemoteAddress(), {address: '127.0.0.1', family: 'IPv4', port: clientSocket.localPort!});
	t.is(msg.getRemoteHost(), '127.0.0.1');
	const socket = msg.getSocket();
	t.true(socket instanceof TLSSocket);
	t.true((socket as TLSSocket).encrypted);
	t.is<unknown, unknown>(socket, connection.getIoStream());
	await closeClient(client);
});

test('a Message that did not come from a server has no connection', t => {
	const msg = new MessageClass('ws://127.0.0.1/');
	t.is(msg.getLocalAddress(), null);
	t.is(msg.getRemoteAddress(), null);
	t.is(msg.getRemoteHost(), null);
	t.is(msg.getSocket(), null);
});

test('handler options set the connection\'s limits and keepalive', async t => {
	const options: WebsocketHandlerOptions = {
		maxIncomingPayloadSize: 10,
		maxTotalMessageSize: 20,
		keepaliveInterval: 60,
		keepalivePongTimeout: 5,
		closeTimeout: 750,
	};
	const {port, next} = await serve(t, (server, record) => {
		addWebsocketHandler(server, '/ws', null, null, record('ws'), options);
	});
	const client = await websocketConnect(`ws://127.0.0.1:${port}/ws`);
	const {connection} = await next();
	t.is(connection.getMaxIncomingPayloadSize(), 10);
	t.is(connection.getMaxTotalMessageSize(), 20);
	t.is(connection.getKeepaliveInterval(), 60);
	t.is(connection.getKeepalivePongTimeout(), 5);
	t.is(connection.getProperty('close-timeout'), 750);
	await closeClient(client);
});

for (const [title, headers, handlerOrigin, protocols, status, body] of [
	['an invalid key', {'Sec-WebSocket-Key': 'short'}, null, null, 400, refusalBody('Invalid WebSocket key')],
	['a missing key', {'Sec-WebSocket-Key': null}, null, null, 400, refusalBody('Invalid WebSocket key')],
	['an unsupported version', {'Sec-WebSocket-Version': '8'}, null, null, 400, refusalBody('Unsupported WebSocket version')],
	['Upgrade other than websocket', {Upgrade: 'h2c'}, null, null, 400, refusalBody('WebSocket handshake expected')],
	[
		'an unsupported subprotocol',
		{'Sec-WebSocket-Protocol': 'nope'},
		null,
		['yes'],
		400,
		refusalBody('Unsupported WebSocket subprotocol'),
	],
	[
		'a wrong origin',
		{Origin: 'http://evil.example'},
		'http://good.example',
		null,
		403,
		'<html><head><title>403 Forbidden</title></head>\r\n<body>Received invalid WebSocket request</body></html>\r\n',
	],
	[
		'a missing origin',
		{},
		'http://good.example',
		null,
		403,
		'<html><head><title>403 Forbidden</title></head>\r\n<body>Received invalid WebSocket request</body></html>\r\n',
	],
] as const) {
	test(`a handshake with ${title} is answered ${status} with libsoup's body and the socket closed`, async t => {
		const {port, accepted} = await serve(t, (server, record) => {
			addWebsocketHandler(server, '/ws', handlerOrigin, protocols, record('ws'));
		});
		const {text, closed} = await rawExchange(t, port, handshakeRequest('/ws', headers));
		const response = parseRaw(text);
		t.is(response.status, status);
		t.is(response.headers.get('connection'), 'close');
		t.is(response.headers.get('content-type'), 'text/html');
		t.is(response.body, body);
		t.true(closed);
		t.is(accepted.length, 0);
	});
}

test('a POST with Upgrade headers is answered 400 "WebSocket handshake expected"', async t => {
	const {port} = await serve(t, (server, record) => {
		addWebsocketHandler(server, '/ws', null, null, record('ws'));
	});
	const request = handshakeRequest('/ws').replace('GET', 'POST');
	const {text} = await rawExchange(t, port, request);
	t.is(parseRaw(text).status, 400);
	t.is(parseRaw(text).body, refusalBody('WebSocket handshake expected'));
});

// libsoup's server reads a request body with HTTP framing before the handshake; websoup refuses
// one, so no byte of it can ever reach the frame decoder (a body would otherwise be read as frames).
for (const [name, framing, body] of [
	['Content-Length: 5', {'Content-Length': '5'}, 'hello'],
	['Transfer-Encoding: chunked', {'Transfer-Encoding': 'chunked'}, '5\r\nhello\r\n0\r\n\r\n'],
] as const) {
	test(`an upgrade request with a body (${name}) is answered 400 and closed, and no connection is made`, async t => {
		const {port, accepted} = await serve(t, (server, record) => {
			addWebsocketHandler(server, '/ws', null, null, record('ws'));
		});
		const {text, closed} = await rawExchange(t, port, handshakeRequest('/ws', framing) + body);
		const response = parseRaw(text);
		t.is(response.status, 400);
		t.is(response.headers.get('connection'), 'close');
		t.is(response.headers.get('content-type'), 'text/html');
		t.is(response.body, refusalBody('WebSocket handshake request must not have a body'));
		t.true(closed);
		t.is(accepted.length, 0);
	});
}

test('an upgrade request with Content-Length: 0 has no body and is accepted', async t => {
	const {port, next} = await serve(t, (server, record) => {
		addWebsocketHandler(server, '/ws', null, null, (s, msg, path, connection) => {
			connection.connect('message', (self, _type, data) => {
				self.sendText(`got ${data.toString()}`);
			});
			record('ws')(s, msg, path, connection);
		});
	});
	const frame = Buffer.concat(encodeFrame(0x1, Buffer.from('hi'), {maskKey: Buffer.from([1, 2, 3, 4])}));
	const socket = connect({host: '127.0.0.1', port});
	t.teardown(() => socket.destroy());
	socket.write(Buffer.concat([Buffer.from(handshakeRequest('/ws', {'Content-Length': '0'}), 'latin1'), frame]));
	const text = await readUntil(socket, received => received.includes('got hi'));
	t.true(text.startsWith('HTTP/1.1 101 '));
	t.true(text.endsWith('\u0081\u0006got hi'));
	await next();
});

test('an upgrade request no handler matches is answered 404 and closed', async t => {
	const {port} = await serve(t, (server, record) => {
		addWebsocketHandler(server, '/ws', null, null, record('ws'));
	});
	const {text, closed} = await rawExchange(t, port, handshakeRequest('/elsewhere'));
	t.is(parseRaw(text).status, 404);
	t.is(parseRaw(text).headers.get('connection'), 'close');
	t.true(closed);
});

test('an upgrade request no handler matches is left to another upgrade listener', async t => {
	const {port} = await serve(t, (server, record) => {
		addWebsocketHandler(server, '/ws', null, null, record('ws'));
		server.on('upgrade', (req, socket: Socket) => {
			if (req.url === '/other') {
				socket.end('HTTP/1.1 418 I\'m a Teapot\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
			}
		});
	});
	const {text} = await rawExchange(t, port, handshakeRequest('/other'));
	t.is(parseRaw(text).status, 418);
});

test('a request with an invalid Host is answered 400', async t => {
	const {port} = await serve(t, (server, record) => {
		addWebsocketHandler(server, null, null, null, record('default'));
	});
	const {text} = await rawExchange(t, port, handshakeRequest('/ws', {Host: 'bad host/x'}));
	t.is(parseRaw(text).status, 400);
});

test('the check hook can refuse with its own status, headers and body', async t => {
	const seen: string[] = [];
	const {port, accepted} = await serve(t, (server, record) => {
		addWebsocketHandler(server, '/ws', null, null, record('ws'), {
			async check(msg) {
				seen.push(msg.requestHeaders.getOne('Authorization') ?? '');
				await Promise.resolve();
				if (msg.requestHeaders.getOne('Authorization') !== 'secret') {
					msg.setStatus(401);
					msg.responseHeaders.append('WWW-Authenticate', 'Bearer');
					msg.setResponse('text/plain', 'no entry');
				}
			},
		});
	});
	const {text, closed} = await rawExchange(t, port, handshakeRequest('/ws', {Authorization: 'wrong'}));
	const response = parseRaw(text);
	t.is(response.status, 401);
	t.is(response.headers.get('www-authenticate'), 'Bearer');
	t.is(response.headers.get('connection'), 'close');
	t.is(response.body, 'no entry');
	t.true(closed);
	t.is(accepted.length, 0);

	const client = await websocketConnect(`ws://127.0.0.1:${port}/ws`, null, null, {headers: {Authorization: 'secret'}});
	t.deepEqual(seen, ['wrong', 'secret']);
	await closeClient(client);
});

test('headers the check hook adds without a status, and the responseHeaders option, go out on the 101', async t => {
	const {port} = await serve(t, (server, record) => {
		addWebsocketHandler(server, '/ws', null, null, record('ws'), {
			check(msg) {
				msg.responseHeaders.append('Set-Cookie', 'from-check=1');
			},
			responseHeaders: {'Set-Cookie': ['a=1', 'b=2'], 'X-Server': 'websoup'},
		});
	});
	const socket = connect({host: '127.0.0.1', port});
	t.teardown(() => socket.destroy());
	socket.write(handshakeRequest('/ws'));
	const text = await readUntil(socket, received => received.includes('\r\n\r\n'));
	const lines = text.split('\r\n');
	t.is(lines[0], 'HTTP/1.1 101 Switching Protocols');
	t.deepEqual(
		lines.filter(line => line.startsWith('Set-Cookie')),
		['Set-Cookie: from-check=1', 'Set-Cookie: a=1', 'Set-Cookie: b=2'],
	);
	t.true(lines.includes('X-Server: websoup'));
	t.true(lines.includes(`Sec-WebSocket-Accept: ${computeAcceptKey('dGhlIHNhbXBsZSBub25jZQ==')}`));
});

test('a check hook that throws is answered 500', async t => {
	const {port} = await serve(t, (server, record) => {
		addWebsocketHandler(server, '/ws', null, null, record('ws'), {
			check() {
				throw new Error('database down');
			},
		});
	});
	const {text, closed} = await rawExchange(t, port, handshakeRequest('/ws'));
	t.is(parseRaw(text).status, 500);
	t.true(closed);
});

test('a check hook that never finishes is cut by the handshake timeout with 503', async t => {
	const {port} = await serve(t, (server, record) => {
		addWebsocketHandler(server, '/ws', null, null, record('ws'), {
			handshakeTimeout: 100,
			async check() {
				await new Promise(() => {});
			},
		});
	});
	const {text, closed} = await rawExchange(t, port, handshakeRequest('/ws'));
	t.is(parseRaw(text).status, 503);
	t.true(closed);
});

test('several handlers: the longest matching path wins (string prefix, as SoupPathMap), null is the default', async t => {
	const handlers: Record<string, ReturnType<typeof addWebsocketHandler>> = {};
	const {port, next} = await serve(t, (server, record) => {
		handlers['chat'] = addWebsocketHandler(server, '/chat', null, null, record('chat'));
		handlers['room'] = addWebsocketHandler(server, '/chat/room', null, null, record('room'));
		handlers['default'] = addWebsocketHandler(server, null, null, null, record('default'));
	});
	const cases: Array<[string, string]> = [
		['/chat', 'chat'],
		['/chat/', 'chat'],
		['/chat/room', 'room'],
		['/chat/room/42?since=1', 'room'],
		['/chatty', 'chat'],
		['/', 'default'],
		['/other/path', 'default'],
	];
	for (const [target, expected] of cases) {
		const client = await websocketConnect(`ws://127.0.0.1:${port}${target}`);
		const accepted = await next();
		t.is(accepted.handler, expected, target);
		t.is(accepted.path, target.split('?')[0]!, target);
		await closeClient(client);
	}

	t.is(handlers['default']!.path, null);
	handlers['default']!.remove();
	const {text} = await rawExchange(t, port, handshakeRequest('/other/path'));
	t.is(parseRaw(text).status, 404);
});

test('a handler added at a path that has one replaces it; removing the last one detaches the listeners', async t => {
	let server!: Server;
	const {port, next} = await serve(t, (s, record) => {
		server = s;
		addWebsocketHandler(s, '/ws', null, null, record('first'));
	});
	const second = addWebsocketHandler(server, '/ws', null, null, (s, msg, path, connection) => {
		t.teardown(() => connection.getIoStream().destroy());
		connection.sendText(`second ${path} ${msg.uri.pathname} ${s === server}`);
	});
	const client = await websocketConnect(`ws://127.0.0.1:${port}/ws`);
	const [, data] = await waitForSignal(client, 'message');
	t.is(data.toString(), 'second /ws /ws true');
	await closeClient(client);
	t.is(server.listenerCount('upgrade'), 1);
	second.remove();
	t.is(server.listenerCount('upgrade'), 0);
	t.is(server.listenerCount('request'), 0);
	void next;
});

test('a plain HTTP route on the same server keeps working, and plain requests at a WebSocket path reach it', async t => {
	const server = createServer((req, res) => {
		res.setHeader('Content-Type', 'text/plain');
		res.end(`plain ${req.url}`);
	});
	const {port, next} = await serve(
		t,
		(s, record) => {
			addWebsocketHandler(s, '/ws', null, null, record('ws'));
		},
		server,
	);
	const fetchText = async (path: string): Promise<[number, string]> =>
		withTimeout(
			new Promise((resolve, reject) => {
				get({host: '127.0.0.1', port, path, agent: false}, res => {
					let body = '';
					res.setEncoding('utf8');
					res.on('data', (chunk: string) => {
						body += chunk;
					});
					res.on('end', () => resolve([res.statusCode ?? 0, body]));
				}).on('error', reject);
			}),
			5000,
			'GET',
		);
	t.deepEqual(await fetchText('/hello'), [200, 'plain /hello']);
	t.deepEqual(await fetchText('/ws'), [200, 'plain /ws']);
	const client = await websocketConnect(`ws://127.0.0.1:${port}/ws`);
	await next();
	t.deepEqual(await fetchText('/hello'), [200, 'plain /hello']);
	await closeClient(client);
});

test('with no request listener of its own, a server answers plain requests so none hangs', async t => {
	const {port} = await serve(t, (server, record) => {
		addWebsocketHandler(server, '/ws', null, null, record('ws'));
	});
	const atWs = parseRaw((await rawExchange(t, port, 'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')).text);
	t.is(atWs.status, 400);
	t.is(atWs.body, refusalBody('WebSocket handshake expected'));
	const elsewhere = parseRaw((await rawExchange(t, port, 'GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')).text);
	t.is(elsewhere.status, 404);
});

test('frames sent in the same segment as the handshake request reach the connection', async t => {
	const {port, next} = await serve(t, (server, record) => {
		addWebsocketHandler(server, '/ws', null, null, (s, msg, path, connection) => {
			connection.connect('message', (self, _type, data) => {
				self.sendText(`got ${data.toString()}`);
			});
			record('ws')(s, msg, path, connection);
		});
	});
	const frame = Buffer.concat(encodeFrame(0x1, Buffer.from('early'), {maskKey: Buffer.from([1, 2, 3, 4])}));
	const socket = connect({host: '127.0.0.1', port});
	t.teardown(() => socket.destroy());
	socket.write(Buffer.concat([Buffer.from(handshakeRequest('/ws'), 'latin1'), frame]));
	// 101 head, then an unmasked text frame "got early" (0x81, length 9).
	const text = await readUntil(socket, received => received.includes('got early'));
	t.true(text.startsWith('HTTP/1.1 101 '));
	t.true(text.endsWith('\u0081\u0009got early'));
	await next();
});

test('a client that never finishes its request is cut off by the server\'s headersTimeout (slowloris)', async t => {
	const server = createServer({headersTimeout: 200, requestTimeout: 400, connectionsCheckingInterval: 50});
	const {port, accepted} = await serve(
		t,
		(s, record) => {
			addWebsocketHandler(s, '/ws', null, null, record('ws'));
		},
		server,
	);
	const partial = handshakeRequest('/ws').slice(0, 60);
	const {text, closed} = await rawExchange(t, port, partial, 5000);
	t.true(closed);
	t.is(parseRaw(text).status, 408);
	t.is(accepted.length, 0);
});

test('a request head over the server\'s maxHeaderSize is answered 431', async t => {
	const {port, accepted} = await serve(t, (server, record) => {
		addWebsocketHandler(server, '/ws', null, null, record('ws'));
	});
	const {text, closed} = await rawExchange(t, port, handshakeRequest('/ws', {'X-Padding': 'p'.repeat(20_000)}));
	t.is(parseRaw(text).status, 431);
	t.true(closed);
	t.is(accepted.length, 0);
});

test('a client error during the handshake does not crash the server', async t => {
	let started!: () => void;
	const checking = new Promise<void>(resolve => {
		started = resolve;
	});
	let finish!: () => void;
	const {port, accepted} = await serve(t, (server, record) => {
		addWebsocketHandler(server, '/ws', null, null, record('ws'), {
			async check(msg) {
				if (msg.requestHeaders.getOne('X-First') === null) {
					return;
				}

				started();
				await new Promise<void>(resolve => {
					finish = resolve;
				});
			},
		});
	});
	const socket = connect({host: '127.0.0.1', port});
	socket.on('error', () => {});
	socket.write(handshakeRequest('/ws', {'X-First': '1'}));
	await withTimeout(checking, 5000, 'check');
	socket.resetAndDestroy();
	await new Promise(resolve => {
		socket.once('close', resolve);
	});
	finish();
	// The server is still there and answers the next client.
	const client = await websocketConnect(`ws://127.0.0.1:${port}/ws`);
	await closeClient(client);
	// The reset may go unseen until the 101 is written (nothing reads the socket meanwhile); then
	// the connection made for it fails on its first write and closes.
	for (const entry of accepted.filter(({msg}) => msg.requestHeaders.has('X-First'))) {
		const info = await withTimeout(entry.connection.closed, 5000, 'the reset connection to close');
		t.false(info.wasClean);
	}

	t.true(accepted.some(({msg}) => !msg.requestHeaders.has('X-First')));
});

test('invalid arguments throw TypeError', t => {
	const server = createServer();
	const callback = (): void => {};
	t.throws(() => addWebsocketHandler(server, 'no-slash', null, null, callback), {instanceOf: TypeError});
	t.throws(() => addWebsocketHandler(server, '/ws', null, ['a', 1 as unknown as string], callback), {
		instanceOf: TypeError,
	});
	t.throws(() => addWebsocketHandler(server, '/ws', null, null, callback, {handshakeTimeout: 1.5}), {
		instanceOf: TypeError,
	});
	t.is(server.listenerCount('upgrade'), 0);
});

test('a refused client sees the server\'s refusal as libsoup\'s NOT_WEBSOCKET', async t => {
	const {port} = await serve(t, (server, record) => {
		addWebsocketHandler(server, '/ws', 'http://good.example', null, record('ws'));
	});
	const error = await t.throwsAsync(websocketConnect(`ws://127.0.0.1:${port}/ws`, 'http://bad.example'));
	t.true(error instanceof WebsocketError);
	t.is((error as WebsocketError).code, WebsocketErrorCode.NOT_WEBSOCKET);
});

test('invalid limits in the options throw at once, naming the option', t => {
	const server = createServer();
	const cases: Array<[WebsocketHandlerOptions, RegExp]> = [
		[{maxIncomingPayloadSize: -1}, /^Expected `maxIncomingPayloadSize` to be a uint64 in \[0, 9007199254740991\], got `-1`$/],
		[{maxTotalMessageSize: 1.5}, /^Expected `maxTotalMessageSize` to be a uint64/],
		[{keepaliveInterval: 2 ** 32}, /^Expected `keepaliveInterval` to be a uint in \[0, 4294967295\]/],
		[{keepalivePongTimeout: '5' as unknown as number}, /^Expected `keepalivePongTimeout` to be a uint/],
		[{closeTimeout: 0}, /^Expected `closeTimeout` to be a uint in \[1, 4294967295\], got `0`$/],
	];
	for (const [options, message] of cases) {
		t.throws(() => addWebsocketHandler(server, '/ws', null, null, () => {}, options), {instanceOf: TypeError, message});
	}

	t.is(server.listenerCount('upgrade'), 0);
});

test('server: a handler removed while its check hook is running does not get the connection', async t => {
	// libsoup's complete_websocket_upgrade looks the handler up again before stealing the
	// connection; websoup keeps the entry captured before `await check()`, so a removed (or
	// replaced) handler's callback still receives a connection after remove().
	const server = createServer();
	const received: WebsocketConnection[] = [];
	let release!: () => void;
	const gate = new Promise<void>(resolve => {
		release = resolve;
	});
	let entered = false;
	const handler = addWebsocketHandler(
		server,
		'/ws',
		null,
		null,
		(_server, _msg, _path, connection) => {
			received.push(connection);
		},
		{
			async check() {
				entered = true;
				await gate;
			},
		},
	);
	const port = await listen(t, server);
	t.teardown(() => {
		release();
		for (const connection of received) {
			connection.getIoStream().destroy();
		}
	});

	const attempt = outcome(websocketConnect(`ws://127.0.0.1:${port}/ws`, null, null, {handshakeTimeout: 5000}));
	await until(() => entered, 5000, 'the check hook');
	handler.remove();
	release();
	const result = await attempt;
	if (!(result instanceof Error)) {
		result.getIoStream().destroy();
	}

	t.is(received.length, 0, 'the removed handler\'s callback was called');
	t.true(result instanceof WebsocketError, 'the client was given a WebSocket by a removed handler');
});
