// The example of docs/guide-custom-server.md, tested: a raw 'upgrade' listener using only the public handshake helpers.

import {once} from 'node:events';
import {createServer, type IncomingMessage} from 'node:http';
import type {Duplex} from 'node:stream';
import test from 'ava';
import {WebSocket} from 'ws';
import {
	messageFromIncomingMessage,
	serverProcessHandshake,
	WebsocketConnection,
	WebsocketConnectionType,
	writeResponseHead,
} from '../../lib/index.ts';
import {withTimeout} from '../helpers/signals.ts';
import {handshakeRequest, listen, parseRaw, rawExchange} from './fixtures.ts';

// --- The guide's example, as printed there (imports from 'websoup' become '../../lib/index.ts') ---

const server = createServer((_req, res) => {
	res.end('an ordinary HTTP route\n');
});

const connections = new Set<WebsocketConnection>();

server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
	socket.on('error', () => socket.destroy()); // Node leaves no error listener on an upgraded socket

	let msg;
	try {
		msg = messageFromIncomingMessage(req); // method, ws:/wss: URI, headers, remote address
	} catch {
		socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
		return;
	}

	if (msg.uri.pathname !== '/chat') {
		socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
		return;
	}

	// libsoup's checks; fills 101 or 400/403 (with Connection: close and a body) into msg.
	const result = serverProcessHandshake(msg, null, ['chat.v2', 'chat.v1'], null);
	writeResponseHead(socket, msg);
	if (!result.accepted) {
		socket.once('finish', () => socket.destroy());
		socket.end();
		return;
	}

	// Bytes the HTTP parser read past the request belong to the WebSocket.
	if (head.length > 0) {
		socket.unshift(head);
	}

	const connection = new WebsocketConnection({
		ioStream: socket,
		connectionType: WebsocketConnectionType.SERVER,
		uri: msg.uri,
		origin: msg.requestHeaders.getOne('Origin'),
		protocol: result.protocol,
		extensions: result.extensions,
		maxTotalMessageSize: 128 * 1024, // SoupServer's default
	});
	connections.add(connection);
	connection.connect('message', (self, type, data) => {
		self.sendMessage(type, data); // echo
	});
	connection.connect('closed', () => {
		connections.delete(connection);
	});
});

// --- The tests --------------------------------------------------------------------------------

test.serial('the custom server accepts a ws client, negotiates the subprotocol and echoes', async t => {
	const port = await listen(t, server);
	t.teardown(() => {
		for (const connection of connections) {
			connection.getIoStream().destroy();
		}
	});
	const client = new WebSocket(`ws://127.0.0.1:${port}/chat`, ['chat.v1', 'chat.v2']);
	t.teardown(() => client.terminate());
	await withTimeout(once(client, 'open'), 5000, 'open');
	t.is(client.protocol, 'chat.v2'); // the server's order
	const reply = once(client, 'message');
	client.send('héllo');
	const [data] = (await withTimeout(reply, 5000, 'echo')) as [Buffer];
	t.is(data.toString(), 'héllo');
	const closed = once(client, 'close') as Promise<[number, Buffer]>;
	client.close(1000, 'done');
	const [code, reason] = await withTimeout(closed, 5000, 'close');
	t.is(code, 1000);
	t.is(reason.toString(), 'done');
});

test.serial('the custom server answers a bad handshake with libsoup\'s 400, an unknown path with 404, plain HTTP as usual', async t => {
	const port = await listen(t, server);
	const bad = parseRaw((await rawExchange(t, port, handshakeRequest('/chat', {'Sec-WebSocket-Version': '7'}))).text);
	t.is(bad.status, 400);
	t.is(bad.headers.get('connection'), 'close');
	t.is(
		bad.body,
		'<html><head><title>400 Bad Request</title></head>\r\n<body>Received invalid WebSocket request: Unsupported WebSocket version</body></html>\r\n',
	);
	const missing = parseRaw((await rawExchange(t, port, handshakeRequest('/nope'))).text);
	t.is(missing.status, 404);
	const plain = parseRaw((await rawExchange(t, port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).text);
	t.is(plain.status, 200);
	t.is(plain.body, 'an ordinary HTTP route\n');
});
