// Tests for lib/node/incoming-message.ts: messageFromIncomingMessage, a Message from a Node request and the connection it came on.

import {once} from 'node:events';
import {createServer, type IncomingMessage} from 'node:http';
import {connect, type AddressInfo, type Socket} from 'node:net';
import test from 'ava';
import {WebsocketError, WebsocketErrorCode} from '../../lib/websocket/errors.ts';
import {messageFromIncomingMessage} from '../../lib/node/incoming-message.ts';

async function captureUpgrade(t: import('ava').ExecutionContext, rawRequest: string): Promise<{req: IncomingMessage; socket: Socket}> {
	const server = createServer();
	const upgraded = new Promise<{req: IncomingMessage; socket: Socket}>(resolve => {
		server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
			resolve({req, socket});
		});
	});
	server.listen(0, '127.0.0.1');
	await once(server, 'listening');
	const {port} = server.address() as AddressInfo;
	const client = connect(port, '127.0.0.1');
	t.teardown(() => {
		client.destroy();
		server.closeAllConnections();
		server.close();
	});
	client.write(rawRequest.replaceAll('{port}', String(port)));
	const result = await upgraded;
	t.teardown(() => result.socket.destroy());
	return result;
}

test('messageFromIncomingMessage: a real request, repeated headers kept in order', async t => {
	const {req} = await captureUpgrade(
		t,
		'GET /chat/room?id=1&x=%20 HTTP/1.1\r\n' +
			'Host: 127.0.0.1:{port}\r\n' +
			'Upgrade: websocket\r\n' +
			'Connection: keep-alive\r\n' +
			'connection: Upgrade\r\n' +
			'Sec-WebSocket-Protocol: a\r\n' +
			'Sec-WebSocket-Protocol: b\r\n' +
			'\r\n',
	);
	const msg = messageFromIncomingMessage(req);
	t.is(msg.method, 'GET');
	t.is(msg.uri.protocol, 'ws:');
	t.is(msg.uri.pathname, '/chat/room');
	t.is(msg.uri.search, '?id=1&x=%20');
	t.is(msg.uri.hostname, '127.0.0.1');
	t.is(msg.httpVersion, '1.1');
	t.is(msg.remoteAddress, '127.0.0.1');
	t.deepEqual([...msg.requestHeaders].slice(1), [
		['Upgrade', 'websocket'],
		['Connection', 'keep-alive'],
		['connection', 'Upgrade'],
		['Sec-WebSocket-Protocol', 'a'],
		['Sec-WebSocket-Protocol', 'b'],
	]);
	t.true(msg.requestHeaders.headerContains('Connection', 'upgrade'));
	t.is(msg.requestHeaders.getList('Sec-WebSocket-Protocol'), 'a, b');
	t.is(msg.statusCode, 0);

	t.is(messageFromIncomingMessage(req, {secure: true}).uri.protocol, 'wss:');
});

function fakeRequest(fields: {url?: string; httpVersion?: string; method?: string; rawHeaders: string[]}): IncomingMessage {
	return {
		method: fields.method ?? 'GET',
		url: fields.url ?? '/',
		httpVersion: fields.httpVersion ?? '1.1',
		rawHeaders: fields.rawHeaders,
		socket: {remoteAddress: '::1', localAddress: '::1', localPort: 8080, encrypted: true},
	} as unknown as IncomingMessage;
}

test('messageFromIncomingMessage: a TLS socket makes the URI wss:', t => {
	const msg = messageFromIncomingMessage(fakeRequest({url: '/x', rawHeaders: ['Host', 'example.com']}));
	t.is(msg.uri.href, 'wss://example.com/x');
	t.is(msg.remoteAddress, '::1');
	t.is(messageFromIncomingMessage(fakeRequest({rawHeaders: ['Host', 'example.com']}), {secure: false}).uri.href, 'ws://example.com/');
});

test('messageFromIncomingMessage: the Message keeps the connection\'s addresses and socket (SoupServerMessage accessors)', t => {
	const socket = {
		remoteAddress: '::ffff:10.0.0.7',
		remoteFamily: 'IPv6',
		remotePort: 50_123,
		localAddress: '::1',
		localPort: 8080,
		encrypted: true,
	};
	const req = {...fakeRequest({rawHeaders: ['Host', 'example.com']}), socket} as unknown as IncomingMessage;
	const msg = messageFromIncomingMessage(req);
	t.deepEqual(msg.getRemoteAddress(), {address: '::ffff:10.0.0.7', family: 'IPv6', port: 50_123});
	// No localFamily on this socket: the family is read from the address.
	t.deepEqual(msg.getLocalAddress(), {address: '::1', family: 'IPv6', port: 8080});
	t.is(msg.getRemoteHost(), '::ffff:10.0.0.7');
	t.is<unknown, unknown>(msg.getSocket(), socket);
	// A snapshot: what the socket says later does not change the message.
	socket.remotePort = 1;
	t.is(msg.getRemoteAddress()?.port, 50_123);
});

test('messageFromIncomingMessage: a socket without an address or port gives null addresses', t => {
	const msg = messageFromIncomingMessage(fakeRequest({rawHeaders: ['Host', 'example.com']}));
	t.is(msg.getRemoteAddress(), null); // no remotePort on the fake socket
	t.is(msg.getRemoteHost(), '::1');
	t.deepEqual(msg.getLocalAddress(), {address: '::1', family: 'IPv6', port: 8080});
});

test('messageFromIncomingMessage: a target starting with // stays a path on the Host', t => {
	const msg = messageFromIncomingMessage(fakeRequest({url: '//evil.example/x?y', rawHeaders: ['Host', 'example.com']}));
	t.is(msg.uri.host, 'example.com');
	t.is(msg.uri.pathname, '//evil.example/x');
	t.is(msg.uri.search, '?y');
});

test('messageFromIncomingMessage: a # in the target is part of the path, not a fragment', t => {
	const msg = messageFromIncomingMessage(fakeRequest({url: '/a#b?c#d', rawHeaders: ['Host', 'example.com']}));
	t.is(msg.uri.host, 'example.com');
	t.is(msg.uri.pathname, '/a%23b');
	t.is(msg.uri.search, '?c%23d');
	t.is(msg.uri.hash, '');
});

test('messageFromIncomingMessage: path and query of an ordinary target, dot segments resolved', t => {
	const msg = messageFromIncomingMessage(fakeRequest({url: '/chat/../room/%7Ex?a=1&b=%20', rawHeaders: ['host', 'Example.COM:8080']}));
	t.is(msg.uri.href, 'wss://example.com:8080/room/%7Ex?a=1&b=%20');
});

test('messageFromIncomingMessage: absolute-form takes the host from the target (RFC 7230 §5.5)', t => {
	const msg = messageFromIncomingMessage(
		fakeRequest({url: 'http://target.example:81/p?q', rawHeaders: ['Host', 'ignored.example']}),
		{secure: false},
	);
	t.is(msg.uri.href, 'ws://target.example:81/p?q');
});

test('messageFromIncomingMessage: HTTP/1.0 without Host uses the local address', t => {
	const msg = messageFromIncomingMessage(fakeRequest({httpVersion: '1.0', rawHeaders: []}), {secure: false});
	t.is(msg.uri.href, 'ws://[::1]:8080/');
	t.is(msg.httpVersion, '1.0');
});

for (const [title, request] of [
	['no Host in HTTP/1.1', fakeRequest({rawHeaders: []})],
	['two Host headers', fakeRequest({rawHeaders: ['Host', 'a.example', 'host', 'b.example']})],
	['a Host with userinfo', fakeRequest({rawHeaders: ['Host', 'user@evil.example']})],
	['a Host with a path', fakeRequest({rawHeaders: ['Host', 'evil.example/x']})],
	['a Host with a bad port', fakeRequest({rawHeaders: ['Host', 'example.com:99999']})],
	['an asterisk target', fakeRequest({url: '*', rawHeaders: ['Host', 'example.com']})],
	['an authority-form target', fakeRequest({url: 'example.com:443', rawHeaders: ['Host', 'example.com']})],
	['an invalid header value', fakeRequest({rawHeaders: ['Host', 'example.com', 'X-Bad', 'a\r\nb']})],
	['an invalid method', fakeRequest({method: 'G ET', rawHeaders: ['Host', 'example.com']})],
] as const) {
	test(`messageFromIncomingMessage: rejects ${title}`, t => {
		const error = t.throws(() => messageFromIncomingMessage(request), {instanceOf: WebsocketError});
		t.is(error.code, WebsocketErrorCode.FAILED);
		t.is(error.reason, 'WS_ERR_INVALID_HTTP');
		t.regex(error.message, /^Invalid HTTP request: /);
	});
}
