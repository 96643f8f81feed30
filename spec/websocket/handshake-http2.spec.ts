// The handshake helpers in RFC 8441's form (msg.httpVersion '2'), and the HTTP/2 message adapters.

import test from 'ava';
import {WebsocketError, WebsocketErrorCode} from '../../lib/websocket/errors.ts';
import {WebsocketExtensionDeflate} from '../../lib/websocket/extensions/deflate.ts';
import {
	clientPrepareHandshake,
	clientVerifyHandshake,
	computeAcceptKey,
	serverCheckHandshake,
	serverProcessHandshake,
} from '../../lib/websocket/handshake.ts';
import {http2ResponseHeaders, messageFromHttp2Headers} from '../../lib/node/http2-message.ts';
import {Message} from '../../lib/http/message.ts';

/** An RFC 8441 §5.1 request, as a server sees it. */
function h2Request(headers: Record<string, string> = {}): Message {
	return messageFromHttp2Headers({
		':method': 'CONNECT',
		':protocol': 'websocket',
		':scheme': 'https',
		':path': '/chat?room=1',
		':authority': 'server.example.com',
		'sec-websocket-protocol': 'chat, superchat',
		'sec-websocket-version': '13',
		origin: 'http://www.example.com',
		...headers,
	});
}

test('clientPrepareHandshake over HTTP/2: extended CONNECT, no Upgrade, Connection or key', t => {
	const msg = new Message('wss://server.example.com/chat');
	msg.httpVersion = '2';
	msg.requestHeaders.append('Connection', 'keep-alive');
	msg.requestHeaders.append('Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ==');
	clientPrepareHandshake(msg, 'http://www.example.com', ['chat', 'superchat'], [WebsocketExtensionDeflate]);
	t.is(msg.method, 'CONNECT');
	t.is(msg.connectProtocol, 'websocket');
	t.is(msg.requestHeaders.getOne('Upgrade'), null);
	t.is(msg.requestHeaders.getOne('Connection'), null);
	t.is(msg.requestHeaders.getOne('Sec-WebSocket-Key'), null);
	t.is(msg.requestHeaders.getOne('Sec-WebSocket-Version'), '13');
	t.is(msg.requestHeaders.getOne('Origin'), 'http://www.example.com');
	t.is(msg.requestHeaders.getOne('Sec-WebSocket-Protocol'), 'chat, superchat');
	t.regex(msg.requestHeaders.getOne('Sec-WebSocket-Extensions') ?? '', /^permessage-deflate/);
});

test('clientVerifyHandshake over HTTP/2: 200 without accept passes; 101 or another status does not', t => {
	const prepared = (): Message => {
		const msg = new Message('wss://server.example.com/chat');
		msg.httpVersion = '2';
		clientPrepareHandshake(msg, null, ['chat'], null);
		return msg;
	};

	const ok = prepared();
	ok.setStatus(200);
	ok.responseHeaders.append('Sec-WebSocket-Protocol', 'chat');
	t.deepEqual(clientVerifyHandshake(ok, null), []);

	const switching = prepared();
	switching.setStatus(101);
	const notWebsocket = t.throws(() => clientVerifyHandshake(switching, null), {instanceOf: WebsocketError});
	t.is(notWebsocket?.code, WebsocketErrorCode.NOT_WEBSOCKET);

	const rejected = prepared();
	rejected.setStatus(400);
	t.is(t.throws(() => clientVerifyHandshake(rejected, null), {instanceOf: WebsocketError})?.reason, 'WS_ERR_HANDSHAKE_REJECTED');

	const wrongProtocol = prepared();
	wrongProtocol.setStatus(200);
	wrongProtocol.responseHeaders.append('Sec-WebSocket-Protocol', 'other');
	t.is(t.throws(() => clientVerifyHandshake(wrongProtocol, null), {instanceOf: WebsocketError})?.reason, 'WS_ERR_UNSUPPORTED_SUBPROTOCOL');
});

test('serverProcessHandshake over HTTP/2: 200 with protocol, no Upgrade, Connection or accept', t => {
	const msg = h2Request();
	const result = serverProcessHandshake(msg, 'http://www.example.com', ['superchat', 'chat']);
	t.true(result.accepted);
	t.is(msg.statusCode, 200);
	t.is(msg.responseHeaders.getOne('Sec-WebSocket-Protocol'), 'superchat');
	t.is(msg.responseHeaders.getOne('Upgrade'), null);
	t.is(msg.responseHeaders.getOne('Connection'), null);
	t.is(msg.responseHeaders.getOne('Sec-WebSocket-Accept'), null);
	t.deepEqual(http2ResponseHeaders(msg), {':status': 200, 'sec-websocket-protocol': 'superchat'});
});

test('serverProcessHandshake over HTTP/2: a key sent anyway (undici 7) gets its accept', t => {
	const msg = h2Request({'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ=='});
	t.true(serverProcessHandshake(msg, null, ['chat']).accepted);
	t.is(msg.responseHeaders.getOne('Sec-WebSocket-Accept'), computeAcceptKey('dGhlIHNhbXBsZSBub25jZQ=='));
});

test('serverCheckHandshake over HTTP/2: RFC 8441 §5 checks, in order', t => {
	t.notThrows(() => serverCheckHandshake(h2Request(), null, null));

	const expectError = (msg: Message, code: number, reason: string, origin: string | null = null): void => {
		const error = t.throws(() => serverCheckHandshake(msg, origin, ['chat']), {instanceOf: WebsocketError});
		t.is(error?.code, code);
		t.is(error?.reason, reason as never);
	};

	const get = h2Request();
	get.method = 'GET';
	expectError(get, WebsocketErrorCode.NOT_WEBSOCKET, 'WS_ERR_NOT_WEBSOCKET');
	expectError(h2Request({':protocol': 'webtransport'}), WebsocketErrorCode.NOT_WEBSOCKET, 'WS_ERR_NOT_WEBSOCKET');
	const noVersion = h2Request();
	noVersion.requestHeaders.remove('Sec-WebSocket-Version');
	expectError(noVersion, WebsocketErrorCode.BAD_HANDSHAKE, 'WS_ERR_NO_VERSION');
	expectError(h2Request({'sec-websocket-version': '8'}), WebsocketErrorCode.BAD_HANDSHAKE, 'WS_ERR_UNSUPPORTED_VERSION');
	expectError(h2Request(), WebsocketErrorCode.BAD_ORIGIN, 'WS_ERR_BAD_ORIGIN', 'https://other.example');
	expectError(h2Request({'sec-websocket-protocol': 'mqtt'}), WebsocketErrorCode.BAD_HANDSHAKE, 'WS_ERR_UNSUPPORTED_SUBPROTOCOL');
	// No key is needed over HTTP/2; an HTTP/1.1 request without one still fails.
	const h1 = new Message('ws://example.com/');
	h1.requestHeaders.append('Upgrade', 'websocket');
	h1.requestHeaders.append('Connection', 'Upgrade');
	h1.requestHeaders.append('Sec-WebSocket-Version', '13');
	t.is(t.throws(() => serverCheckHandshake(h1, null, null), {instanceOf: WebsocketError})?.reason, 'WS_ERR_INVALID_KEY');
});

test('serverProcessHandshake over HTTP/2: a refusal has libsoup\'s status and body, without Connection: close', t => {
	const origin = h2Request();
	t.false(serverProcessHandshake(origin, 'https://other.example', null).accepted);
	t.is(origin.statusCode, 403);
	t.is(origin.responseHeaders.getOne('Connection'), null);
	const headers = http2ResponseHeaders(origin);
	t.is(headers[':status'], 403);
	t.is(headers['content-type'], 'text/html');
	t.is(headers['content-length'], origin.responseBody?.length);

	const version = h2Request({'sec-websocket-version': '7'});
	t.false(serverProcessHandshake(version, null, null).accepted);
	t.is(version.statusCode, 400);
	t.regex(version.responseBody?.toString('utf8') ?? '', /Unsupported WebSocket version/);
});

test('messageFromHttp2Headers: URI, method, :protocol, headers; repeated fields kept', t => {
	const msg = messageFromHttp2Headers({
		':method': 'CONNECT',
		':protocol': 'websocket',
		':scheme': 'http',
		':path': '//evil.example/x?y=1',
		':authority': '127.0.0.1:8080',
		'sec-websocket-version': '13',
		'set-cookie': ['a=1', 'b=2'],
	});
	t.is(msg.uri.href, 'ws://127.0.0.1:8080//evil.example/x?y=1');
	t.is(msg.uri.host, '127.0.0.1:8080');
	t.is(msg.method, 'CONNECT');
	t.is(msg.connectProtocol, 'websocket');
	t.is(msg.httpVersion, '2');
	t.deepEqual([...msg.requestHeaders].filter(([name]) => name === 'set-cookie').map(([, value]) => value), ['a=1', 'b=2']);
	t.is(msg.getSocket(), null);
	t.is(h2Request().uri.href, 'wss://server.example.com/chat?room=1');
});

test('messageFromHttp2Headers: headers that cannot make a request are a WS_ERR_INVALID_HTTP error', t => {
	const base = {':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'https', ':path': '/', ':authority': 'a.example'};
	for (const [name, value] of [
		[':method', undefined],
		[':scheme', 'ftp'],
		[':path', 'relative'],
		[':path', undefined],
		[':authority', undefined],
		[':authority', 'user@host'],
		[':authority', 'bad host'],
	] as const) {
		const headers: Record<string, string | undefined> = {...base, [name]: value};
		const error = t.throws(() => messageFromHttp2Headers(headers), {instanceOf: WebsocketError}, `${name} ${String(value)}`);
		t.is(error?.reason, 'WS_ERR_INVALID_HTTP');
	}

	t.is(t.throws(() => messageFromHttp2Headers({...base, 'bad name': 'x'}), {instanceOf: WebsocketError})?.reason, 'WS_ERR_INVALID_HTTP');
});

test('http2ResponseHeaders: connection-specific fields left out, repeats kept, no status is a RangeError', t => {
	const msg = new Message('ws://example.com/');
	msg.httpVersion = '2';
	msg.setStatus(401);
	msg.responseHeaders.append('Connection', 'close');
	msg.responseHeaders.append('Keep-Alive', 'timeout=5');
	msg.responseHeaders.append('Set-Cookie', 'a=1');
	msg.responseHeaders.append('Set-Cookie', 'b=2');
	t.deepEqual(http2ResponseHeaders(msg), {':status': 401, 'set-cookie': ['a=1', 'b=2'], 'content-length': 0});
	t.throws(() => http2ResponseHeaders(new Message('ws://example.com/')), {instanceOf: RangeError});
});

test("Message: httpVersion takes '2'", t => {
	const msg = new Message('ws://example.com/');
	msg.httpVersion = '2';
	t.is(msg.httpVersion, '2');
	t.is(msg.connectProtocol, null);
	t.throws(() => {
		msg.httpVersion = '3' as '2';
	}, {instanceOf: TypeError, message: /'1.0', '1.1' or '2'/});
});
