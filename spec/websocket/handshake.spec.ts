// Tests for lib/websocket/handshake.ts: libsoup 3's check tables, in order, and round trips with real peers.

import {once} from 'node:events';
import {createServer, type IncomingMessage} from 'node:http';
import {connect, type AddressInfo, type Socket} from 'node:net';
import test, {type ExecutionContext} from 'ava';
import WebSocket, {WebSocketServer} from 'ws';
import {WebsocketError, WebsocketErrorCode, type WebsocketErrorReason} from '../../lib/websocket/errors.ts';
import {WebsocketExtension} from '../../lib/websocket/extensions/extension.ts';
import {
	chooseSubprotocol,
	clientPrepareHandshake,
	clientVerifyHandshake,
	computeAcceptKey,
	serverCheckHandshake,
	serverProcessHandshake,
} from '../../lib/websocket/handshake.ts';
import {findHeadEnd, formatRequestHead, formatResponseHead, parseResponseHead, writeResponseHead} from '../../lib/http/head.ts';
import {Message} from '../../lib/http/message.ts';
import {messageFromIncomingMessage} from '../../lib/node/incoming-message.ts';

const sampleKey = 'dGhlIHNhbXBsZSBub25jZQ==';
const sampleAccept = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

/** The request of RFC 6455 §1.2, which passes every check. */
function validRequest(): Message {
	const msg = new Message('GET', 'ws://server.example.com/chat');
	msg.requestHeaders.append('Host', 'server.example.com');
	msg.requestHeaders.append('Upgrade', 'websocket');
	msg.requestHeaders.append('Connection', 'Upgrade');
	msg.requestHeaders.append('Sec-WebSocket-Key', sampleKey);
	msg.requestHeaders.append('Origin', 'http://example.com');
	msg.requestHeaders.append('Sec-WebSocket-Protocol', 'chat, superchat');
	msg.requestHeaders.append('Sec-WebSocket-Version', '13');
	return msg;
}

const badRequestBody = (message: string): string =>
	`<html><head><title>400 Bad Request</title></head>\r\n<body>Received invalid WebSocket request: ${message}</body></html>\r\n`;
const forbiddenBody = '<html><head><title>403 Forbidden</title></head>\r\n<body>Received invalid WebSocket request</body></html>\r\n';

function assertError(
	t: ExecutionContext,
	error: unknown,
	expected: {code: number; reason: WebsocketErrorReason; message: string},
): void {
	t.true(error instanceof WebsocketError);
	if (error instanceof WebsocketError) {
		t.is(error.code, expected.code);
		t.is(error.reason, expected.reason);
		t.is(error.message, expected.message);
	}
}

test('computeAcceptKey: RFC 6455 §1.3 example', t => {
	t.is(computeAcceptKey(sampleKey), sampleAccept);
});

// clientPrepareHandshake

test('clientPrepareHandshake: sets the handshake headers', t => {
	const msg = new Message('ws://example.com/chat');
	clientPrepareHandshake(msg, 'http://example.com', ['chat', 'superchat']);
	const headers = msg.requestHeaders;
	t.is(headers.getOne('Upgrade'), 'websocket');
	t.is(headers.getOne('Connection'), 'Upgrade');
	t.is(headers.getOne('Sec-WebSocket-Version'), '13');
	t.is(headers.getOne('Origin'), 'http://example.com');
	t.is(headers.getOne('Sec-WebSocket-Protocol'), 'chat, superchat');
	t.false(headers.has('Sec-WebSocket-Extensions'));
	const key = headers.getOne('Sec-WebSocket-Key') ?? '';
	t.regex(key, /^[A-Za-z0-9+/]{22}==$/);
	t.is(Buffer.from(key, 'base64').length, 16);
	t.is(msg.method, 'GET');
});

test('clientPrepareHandshake: appends Upgrade to an existing Connection header', t => {
	const msg = new Message('ws://example.com/');
	msg.requestHeaders.append('Connection', 'keep-alive');
	clientPrepareHandshake(msg, null, null);
	t.is(msg.requestHeaders.getList('Connection'), 'keep-alive, Upgrade');
	t.true(msg.requestHeaders.headerContains('Connection', 'upgrade'));
});

test('clientPrepareHandshake: a fresh random key every time, replacing the old one', t => {
	const msg = new Message('ws://example.com/');
	clientPrepareHandshake(msg, null, null);
	const first = msg.requestHeaders.getOne('Sec-WebSocket-Key');
	clientPrepareHandshake(msg, null, null);
	const second = msg.requestHeaders.getOne('Sec-WebSocket-Key');
	t.not(first, second);
	t.is(second?.length, 24);
});

test('clientPrepareHandshake: no Origin when null, other headers untouched', t => {
	const msg = new Message('ws://example.com/');
	msg.requestHeaders.append('Authorization', 'Bearer x');
	clientPrepareHandshake(msg, null, null);
	t.false(msg.requestHeaders.has('Origin'));
	t.is(msg.requestHeaders.getOne('Authorization'), 'Bearer x');
});

for (const [title, protocols] of [
	['null', null],
	['[]', []],
	['[""]', ['']],
] as const) {
	test(`clientPrepareHandshake: protocols ${title} send no Sec-WebSocket-Protocol`, t => {
		const msg = new Message('ws://example.com/');
		clientPrepareHandshake(msg, null, protocols);
		t.false(msg.requestHeaders.has('Sec-WebSocket-Protocol'));
	});
}

test('clientPrepareHandshake: rejects arguments of the wrong type', t => {
	const msg = new Message('ws://example.com/');
	t.throws(() => clientPrepareHandshake(msg, 5 as unknown as string, null), {instanceOf: TypeError, message: /`origin`/});
	t.throws(() => clientPrepareHandshake(msg, null, 'chat' as unknown as string[]), {
		instanceOf: TypeError,
		message: /`protocols`/,
	});
	t.throws(() => clientPrepareHandshake(msg, null, [1] as unknown as string[]), {instanceOf: TypeError, message: /`protocols`/});
	t.throws(() => clientPrepareHandshake(msg, 'http://a\r\nX: y', null), {instanceOf: TypeError, message: /`value`/});
});

// serverCheckHandshake / serverProcessHandshake: libsoup's table, row by row.

interface ServerRow {
	title: string;
	mutate: (msg: Message) => void;
	origin?: string | null;
	protocols?: readonly string[] | null;
	code: number;
	reason: WebsocketErrorReason;
	message: string;
}

const serverRows: ServerRow[] = [
	{
		title: '#1 method POST',
		mutate(msg) {
			msg.method = 'POST';
		},
		code: WebsocketErrorCode.NOT_WEBSOCKET,
		reason: 'WS_ERR_NOT_WEBSOCKET',
		message: 'WebSocket handshake expected',
	},
	{
		title: '#1 method in lower case',
		mutate(msg) {
			msg.method = 'get';
		},
		code: WebsocketErrorCode.NOT_WEBSOCKET,
		reason: 'WS_ERR_NOT_WEBSOCKET',
		message: 'WebSocket handshake expected',
	},
	{
		title: '#2 no Upgrade',
		mutate(msg) {
			msg.requestHeaders.remove('Upgrade');
		},
		code: WebsocketErrorCode.NOT_WEBSOCKET,
		reason: 'WS_ERR_NOT_WEBSOCKET',
		message: 'WebSocket handshake expected',
	},
	{
		title: '#2 Upgrade not websocket',
		mutate(msg) {
			msg.requestHeaders.replace('Upgrade', 'websocket, h2c');
		},
		code: WebsocketErrorCode.NOT_WEBSOCKET,
		reason: 'WS_ERR_NOT_WEBSOCKET',
		message: 'WebSocket handshake expected',
	},
	{
		title: '#2 no Connection',
		mutate(msg) {
			msg.requestHeaders.remove('Connection');
		},
		code: WebsocketErrorCode.NOT_WEBSOCKET,
		reason: 'WS_ERR_NOT_WEBSOCKET',
		message: 'WebSocket handshake expected',
	},
	{
		title: '#2 Connection without upgrade',
		mutate(msg) {
			msg.requestHeaders.replace('Connection', 'keep-alive, upgraded');
		},
		code: WebsocketErrorCode.NOT_WEBSOCKET,
		reason: 'WS_ERR_NOT_WEBSOCKET',
		message: 'WebSocket handshake expected',
	},
	{
		title: '#3 no Sec-WebSocket-Version',
		mutate(msg) {
			msg.requestHeaders.remove('Sec-WebSocket-Version');
		},
		code: WebsocketErrorCode.BAD_HANDSHAKE,
		reason: 'WS_ERR_NO_VERSION',
		message: 'Unsupported WebSocket version',
	},
	{
		title: '#3 Sec-WebSocket-Version 8',
		mutate(msg) {
			msg.requestHeaders.replace('Sec-WebSocket-Version', '8');
		},
		code: WebsocketErrorCode.BAD_HANDSHAKE,
		reason: 'WS_ERR_UNSUPPORTED_VERSION',
		message: 'Unsupported WebSocket version',
	},
	{
		title: '#3 Sec-WebSocket-Version twice',
		mutate(msg) {
			msg.requestHeaders.append('Sec-WebSocket-Version', '13');
		},
		code: WebsocketErrorCode.BAD_HANDSHAKE,
		reason: 'WS_ERR_UNSUPPORTED_VERSION',
		message: 'Unsupported WebSocket version',
	},
	{
		title: '#4 no Sec-WebSocket-Key',
		mutate(msg) {
			msg.requestHeaders.remove('Sec-WebSocket-Key');
		},
		code: WebsocketErrorCode.BAD_HANDSHAKE,
		reason: 'WS_ERR_INVALID_KEY',
		message: 'Invalid WebSocket key',
	},
	{
		title: '#4 key of 23 characters',
		mutate(msg) {
			msg.requestHeaders.replace('Sec-WebSocket-Key', sampleKey.slice(1));
		},
		code: WebsocketErrorCode.BAD_HANDSHAKE,
		reason: 'WS_ERR_INVALID_KEY',
		message: 'Invalid WebSocket key',
	},
	{
		title: '#4 key of 24 characters decoding to 18 bytes',
		mutate(msg) {
			msg.requestHeaders.replace('Sec-WebSocket-Key', 'A'.repeat(24));
		},
		code: WebsocketErrorCode.BAD_HANDSHAKE,
		reason: 'WS_ERR_INVALID_KEY',
		message: 'Invalid WebSocket key',
	},
	{
		title: '#4 key with a character outside base64',
		mutate(msg) {
			msg.requestHeaders.replace('Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZ!==');
		},
		code: WebsocketErrorCode.BAD_HANDSHAKE,
		reason: 'WS_ERR_INVALID_KEY',
		message: 'Invalid WebSocket key',
	},
	{
		title: '#4 key twice',
		mutate(msg) {
			msg.requestHeaders.append('Sec-WebSocket-Key', sampleKey);
		},
		code: WebsocketErrorCode.BAD_HANDSHAKE,
		reason: 'WS_ERR_INVALID_KEY',
		message: 'Invalid WebSocket key',
	},
	{
		title: '#5 Origin missing when required',
		mutate(msg) {
			msg.requestHeaders.remove('Origin');
		},
		origin: 'http://example.com',
		code: WebsocketErrorCode.BAD_ORIGIN,
		reason: 'WS_ERR_BAD_ORIGIN',
		message: 'Incorrect WebSocket “Origin” header',
	},
	{
		title: '#5 Origin different',
		mutate() {},
		origin: 'http://example.org',
		code: WebsocketErrorCode.BAD_ORIGIN,
		reason: 'WS_ERR_BAD_ORIGIN',
		message: 'Incorrect WebSocket “Origin” header',
	},
	{
		title: '#5 Origin differing in non-ASCII case only (no Unicode folding)',
		mutate(msg) {
			msg.requestHeaders.replace('Origin', 'http://É.example');
		},
		origin: 'http://é.example',
		code: WebsocketErrorCode.BAD_ORIGIN,
		reason: 'WS_ERR_BAD_ORIGIN',
		message: 'Incorrect WebSocket “Origin” header',
	},
	{
		title: '#6 no protocol in common',
		mutate() {},
		protocols: ['mqtt'],
		code: WebsocketErrorCode.BAD_HANDSHAKE,
		reason: 'WS_ERR_UNSUPPORTED_SUBPROTOCOL',
		message: 'Unsupported WebSocket subprotocol',
	},
	{
		title: '#6 empty Sec-WebSocket-Protocol',
		mutate(msg) {
			msg.requestHeaders.replace('Sec-WebSocket-Protocol', '');
		},
		protocols: ['chat'],
		code: WebsocketErrorCode.BAD_HANDSHAKE,
		reason: 'WS_ERR_UNSUPPORTED_SUBPROTOCOL',
		message: 'Unsupported WebSocket subprotocol',
	},
	{
		title: '#7 extension element without a name',
		mutate(msg) {
			msg.requestHeaders.append('Sec-WebSocket-Extensions', '; level=1');
		},
		code: WebsocketErrorCode.BAD_HANDSHAKE,
		reason: 'WS_ERR_INVALID_EXTENSION_HEADER',
		message: 'Incorrect WebSocket “Sec-WebSocket-Extensions” header',
	},
	// First failure wins.
	{
		title: 'order: #1 before #2',
		mutate(msg) {
			msg.method = 'POST';
			msg.requestHeaders.remove('Upgrade');
		},
		code: WebsocketErrorCode.NOT_WEBSOCKET,
		reason: 'WS_ERR_NOT_WEBSOCKET',
		message: 'WebSocket handshake expected',
	},
	{
		title: 'order: #2 before #3',
		mutate(msg) {
			msg.requestHeaders.remove('Connection');
			msg.requestHeaders.remove('Sec-WebSocket-Version');
		},
		code: WebsocketErrorCode.NOT_WEBSOCKET,
		reason: 'WS_ERR_NOT_WEBSOCKET',
		message: 'WebSocket handshake expected',
	},
	{
		title: 'order: #3 before #4 and #5',
		mutate(msg) {
			msg.requestHeaders.replace('Sec-WebSocket-Version', '12');
			msg.requestHeaders.remove('Sec-WebSocket-Key');
			msg.requestHeaders.remove('Origin');
		},
		origin: 'http://example.com',
		code: WebsocketErrorCode.BAD_HANDSHAKE,
		reason: 'WS_ERR_UNSUPPORTED_VERSION',
		message: 'Unsupported WebSocket version',
	},
	{
		title: 'order: #3 before #5',
		mutate(msg) {
			msg.requestHeaders.remove('Sec-WebSocket-Version');
		},
		origin: 'http://other.example',
		code: WebsocketErrorCode.BAD_HANDSHAKE,
		reason: 'WS_ERR_NO_VERSION',
		message: 'Unsupported WebSocket version',
	},
	{
		title: 'order: #4 before #5',
		mutate(msg) {
			msg.requestHeaders.replace('Sec-WebSocket-Key', 'short');
		},
		origin: 'http://other.example',
		code: WebsocketErrorCode.BAD_HANDSHAKE,
		reason: 'WS_ERR_INVALID_KEY',
		message: 'Invalid WebSocket key',
	},
	{
		title: 'order: #5 before #6',
		mutate() {},
		origin: 'http://other.example',
		protocols: ['mqtt'],
		code: WebsocketErrorCode.BAD_ORIGIN,
		reason: 'WS_ERR_BAD_ORIGIN',
		message: 'Incorrect WebSocket “Origin” header',
	},
	{
		title: 'order: #6 before #7',
		mutate(msg) {
			msg.requestHeaders.append('Sec-WebSocket-Extensions', ';');
		},
		protocols: ['mqtt'],
		code: WebsocketErrorCode.BAD_HANDSHAKE,
		reason: 'WS_ERR_UNSUPPORTED_SUBPROTOCOL',
		message: 'Unsupported WebSocket subprotocol',
	},
];

/** A supported extension for row #7 (any class with a name makes the server parse the header). */
class NamedExtension extends WebsocketExtension {
	static override readonly extensionName: string = 'x-named';
}

for (const row of serverRows) {
	test(`serverCheckHandshake: ${row.title}`, t => {
		const msg = validRequest();
		row.mutate(msg);
		const error = t.throws(() => serverCheckHandshake(msg, row.origin ?? null, row.protocols ?? null, [NamedExtension]));
		assertError(t, error, row);
		t.is(msg.statusCode, 0);
		t.is(msg.responseHeaders.size, 0);
	});

	test(`serverProcessHandshake: ${row.title} fills the error response`, t => {
		const msg = validRequest();
		row.mutate(msg);
		const result = serverProcessHandshake(msg, row.origin ?? null, row.protocols ?? null, [NamedExtension]);
		t.false(result.accepted);
		if (result.accepted) {
			return;
		}

		assertError(t, result.error, row);
		const forbidden = row.code === WebsocketErrorCode.BAD_ORIGIN;
		t.is(msg.statusCode, forbidden ? 403 : 400);
		t.is(msg.reasonPhrase, forbidden ? 'Forbidden' : 'Bad Request');
		t.deepEqual([...msg.responseHeaders], [
			['Connection', 'close'],
			['Content-Type', 'text/html'],
		]);
		const body = forbidden ? forbiddenBody : badRequestBody(row.message);
		t.is(msg.responseBody?.toString('utf8'), body);
		t.is(
			formatResponseHead(msg),
			`HTTP/1.1 ${forbidden ? '403 Forbidden' : '400 Bad Request'}\r\nConnection: close\r\nContent-Type: text/html\r\n` +
				`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`,
		);
	});
}

test('serverCheckHandshake: the RFC 6455 example passes, with and without an origin', t => {
	t.notThrows(() => serverCheckHandshake(validRequest(), null, null));
	t.notThrows(() => serverCheckHandshake(validRequest(), 'http://example.com', ['chat']));
	t.notThrows(() => serverCheckHandshake(validRequest(), 'HTTP://EXAMPLE.COM', null));
});

test('serverCheckHandshake: header names and the Upgrade/Connection values are case-insensitive', t => {
	const msg = new Message('ws://example.com/');
	msg.requestHeaders.append('upgrade', 'WebSocket');
	msg.requestHeaders.append('CONNECTION', 'keep-alive, UPGRADE');
	msg.requestHeaders.append('sec-websocket-key', sampleKey);
	msg.requestHeaders.append('SEC-WEBSOCKET-VERSION', '13');
	t.notThrows(() => serverCheckHandshake(msg, null, null));
});

test('serverCheckHandshake: Connection may be split over several headers', t => {
	const msg = validRequest();
	msg.requestHeaders.replace('Connection', 'keep-alive');
	msg.requestHeaders.append('Connection', 'Upgrade');
	t.notThrows(() => serverCheckHandshake(msg, null, null));
});

test('serverProcessHandshake: success fills the 101 response', t => {
	const msg = validRequest();
	msg.responseHeaders.append('Server', 'websoup');
	const result = serverProcessHandshake(msg, 'http://example.com', ['superchat', 'chat']);
	t.deepEqual(result, {accepted: true, extensions: [], protocol: 'superchat'});
	t.is(msg.statusCode, 101);
	t.is(msg.reasonPhrase, 'Switching Protocols');
	t.deepEqual([...msg.responseHeaders], [
		['Server', 'websoup'],
		['Upgrade', 'websocket'],
		['Connection', 'Upgrade'],
		['Sec-WebSocket-Accept', sampleAccept],
		['Sec-WebSocket-Protocol', 'superchat'],
	]);
	t.is(
		formatResponseHead(msg),
		'HTTP/1.1 101 Switching Protocols\r\nServer: websoup\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
			`Sec-WebSocket-Accept: ${sampleAccept}\r\nSec-WebSocket-Protocol: superchat\r\n\r\n`,
	);
});

test('serverProcessHandshake: no protocol header when none is chosen', t => {
	const msg = validRequest();
	const result = serverProcessHandshake(msg, null, null);
	t.deepEqual(result, {accepted: true, extensions: [], protocol: null});
	t.false(msg.responseHeaders.has('Sec-WebSocket-Protocol'));
	t.false(msg.responseHeaders.has('Sec-WebSocket-Extensions'));
});

test('serverProcessHandshake: the 400 body is HTML-escaped', t => {
	class Tricky extends NamedExtension {
		static override readonly extensionName = 'x-tricky';
		override configure(): void {
			throw new WebsocketError(WebsocketErrorCode.BAD_HANDSHAKE, 'WS_ERR_INVALID_EXTENSION_HEADER', 'bad <script> & co');
		}
	}

	const msg = validRequest();
	msg.requestHeaders.append('Sec-WebSocket-Extensions', 'x-tricky');
	const result = serverProcessHandshake(msg, null, null, [Tricky]);
	t.false(result.accepted);
	t.is(msg.responseBody?.toString(), badRequestBody('bad &lt;script&gt; &amp; co'));
});

test('serverProcessHandshake: rejects arguments of the wrong type', t => {
	t.throws(() => serverProcessHandshake(validRequest(), 1 as unknown as string, null), {
		instanceOf: TypeError,
		message: /`expectedOrigin`/,
	});
	t.throws(() => serverCheckHandshake(validRequest(), null, null, [{} as never]), {
		instanceOf: TypeError,
		message: /`supportedExtensions`/,
	});
});

// chooseSubprotocol

function offering(value: string | null): Message {
	const msg = validRequest();
	msg.requestHeaders.remove('Sec-WebSocket-Protocol');
	if (value !== null) {
		msg.requestHeaders.append('Sec-WebSocket-Protocol', value);
	}

	return msg;
}

test('chooseSubprotocol: the server\'s order decides', t => {
	t.is(chooseSubprotocol(offering('a, b, c'), ['c', 'b']), 'c');
	t.is(chooseSubprotocol(offering('a, b, c'), ['x', 'b', 'a']), 'b');
});

test('chooseSubprotocol: case-sensitive', t => {
	t.is(chooseSubprotocol(offering('Chat, chat'), ['chat']), 'chat');
	const error = t.throws(() => chooseSubprotocol(offering('Chat'), ['chat']));
	assertError(t, error, {
		code: WebsocketErrorCode.BAD_HANDSHAKE,
		reason: 'WS_ERR_UNSUPPORTED_SUBPROTOCOL',
		message: 'Unsupported WebSocket subprotocol',
	});
});

test('chooseSubprotocol: splits on every comma and every space, like g_strsplit_set', t => {
	t.is(chooseSubprotocol(offering('a b'), ['b']), 'b');
	t.is(chooseSubprotocol(offering('a,b'), ['b']), 'b');
	t.is(chooseSubprotocol(offering('a,,  b'), ['b']), 'b');
	// A tab is not a separator.
	t.throws(() => chooseSubprotocol(offering('a,\tb'), ['b']), {instanceOf: WebsocketError});
	// Repeated headers are one list.
	const msg = offering('a');
	msg.requestHeaders.append('Sec-WebSocket-Protocol', 'b');
	t.is(chooseSubprotocol(msg, ['b']), 'b');
});

test('chooseSubprotocol: an empty protocol in the server list never matches the empty tokens', t => {
	t.throws(() => chooseSubprotocol(offering('a, b'), ['']), {instanceOf: WebsocketError});
	t.is(chooseSubprotocol(offering('a, b'), ['', 'b']), 'b');
});

test('chooseSubprotocol: accepted with none chosen when either side has no list', t => {
	t.is(chooseSubprotocol(offering(null), ['chat']), null);
	t.is(chooseSubprotocol(offering('chat'), null), null);
	t.is(chooseSubprotocol(offering(''), null), null);
	t.is(chooseSubprotocol(offering(null), null), null);
});

test('chooseSubprotocol: an empty header is rejected when the server has a list', t => {
	t.throws(() => chooseSubprotocol(offering(''), ['chat']), {instanceOf: WebsocketError, message: 'Unsupported WebSocket subprotocol'});
	t.throws(() => chooseSubprotocol(offering(''), []), {instanceOf: WebsocketError});
	t.throws(() => chooseSubprotocol(offering('chat'), []), {instanceOf: WebsocketError});
});

test('serverProcessHandshake: a client offering protocols to a server with none gets no protocol', t => {
	const msg = offering('chat, superchat');
	t.deepEqual(serverProcessHandshake(msg, null, null), {accepted: true, extensions: [], protocol: null});
	t.false(msg.responseHeaders.has('Sec-WebSocket-Protocol'));
});

// clientVerifyHandshake: libsoup's table, row by row.

/** A request prepared by us and the response a correct server gives to it. */
function validExchange(protocols: readonly string[] | null = ['chat', 'superchat']): Message {
	const msg = new Message('ws://server.example.com/chat');
	clientPrepareHandshake(msg, 'http://example.com', protocols);
	msg.setStatus(101);
	msg.responseHeaders.append('Upgrade', 'websocket');
	msg.responseHeaders.append('Connection', 'Upgrade');
	msg.responseHeaders.append('Sec-WebSocket-Accept', computeAcceptKey(msg.requestHeaders.getOne('Sec-WebSocket-Key') ?? ''));
	return msg;
}

interface ClientRow {
	title: string;
	mutate: (msg: Message) => void;
	code: number;
	reason: WebsocketErrorReason;
	message: string;
}

const clientRows: ClientRow[] = [
	{
		title: '#1 status 400',
		mutate(msg) {
			msg.setStatus(400);
		},
		code: WebsocketErrorCode.BAD_HANDSHAKE,
		reason: 'WS_ERR_HANDSHAKE_REJECTED',
		message: 'Server rejected WebSocket handshake',
	},
	{
		title: '#2 status 200',
		mutate(msg) {
			msg.setStatus(200);
		},
		code: WebsocketErrorCode.NOT_WEBSOCKET,
		reason: 'WS_ERR_NOT_WEBSOCKET',
		message: 'Server ignored WebSocket handshake',
	},
	{
		title: '#2 status 403',
		mutate(msg) {
			msg.setStatus(403);
		},
		code: WebsocketErrorCode.NOT_WEBSOCKET,
		reason: 'WS_ERR_NOT_WEBSOCKET',
		message: 'Server ignored WebSocket handshake',
	},
	{
		title: '#3 no Upgrade',
		mutate(msg) {
			msg.responseHeaders.remove('Upgrade');
		},
		code: WebsocketErrorCode.NOT_WEBSOCKET,
		reason: 'WS_ERR_NOT_WEBSOCKET',
		message: 'Server ignored WebSocket handshake',
	},
	{
		title: '#3 Upgrade not websocket',
		mutate(msg) {
			msg.responseHeaders.replace('Upgrade', 'h2c');
		},
		code: WebsocketErrorCode.NOT_WEBSOCKET,
		reason: 'WS_ERR_NOT_WEBSOCKET',
		message: 'Server ignored WebSocket handshake',
	},
	{
		title: '#3 Connection without upgrade',
		mutate(msg) {
			msg.responseHeaders.replace('Connection', 'close');
		},
		code: WebsocketErrorCode.NOT_WEBSOCKET,
		reason: 'WS_ERR_NOT_WEBSOCKET',
		message: 'Server ignored WebSocket handshake',
	},
	{
		title: '#4 protocol not offered',
		mutate(msg) {
			msg.responseHeaders.append('Sec-WebSocket-Protocol', 'mqtt');
		},
		code: WebsocketErrorCode.BAD_HANDSHAKE,
		reason: 'WS_ERR_UNSUPPORTED_SUBPROTOCOL',
		message: 'Server requested unsupported protocol',
	},
	{
		title: '#4 protocol offered in another case',
		mutate(msg) {
			msg.responseHeaders.append('Sec-WebSocket-Protocol', 'Chat');
		},
		code: WebsocketErrorCode.BAD_HANDSHAKE,
		reason: 'WS_ERR_UNSUPPORTED_SUBPROTOCOL',
		message: 'Server requested unsupported protocol',
	},
	{
		title: '#4 protocol when the request offered none',
		mutate(msg) {
			msg.requestHeaders.remove('Sec-WebSocket-Protocol');
			msg.responseHeaders.append('Sec-WebSocket-Protocol', 'chat');
		},
		code: WebsocketErrorCode.BAD_HANDSHAKE,
		reason: 'WS_ERR_UNSUPPORTED_SUBPROTOCOL',
		message: 'Server requested unsupported protocol',
	},
	{
		title: '#4 an empty protocol header',
		mutate(msg) {
			msg.responseHeaders.append('Sec-WebSocket-Protocol', '');
		},
		code: WebsocketErrorCode.BAD_HANDSHAKE,
		reason: 'WS_ERR_UNSUPPORTED_SUBPROTOCOL',
		message: 'Server requested unsupported protocol',
	},
	{
		title: '#4 two protocols',
		mutate(msg) {
			msg.responseHeaders.append('Sec-WebSocket-Protocol', 'chat');
			msg.responseHeaders.append('Sec-WebSocket-Protocol', 'superchat');
		},
		code: WebsocketErrorCode.BAD_HANDSHAKE,
		reason: 'WS_ERR_UNSUPPORTED_SUBPROTOCOL',
		message: 'Server requested unsupported protocol',
	},
	{
		title: '#5 an extension the client does not support',
		mutate(msg) {
			msg.responseHeaders.append('Sec-WebSocket-Extensions', 'permessage-deflate');
		},
		code: WebsocketErrorCode.BAD_HANDSHAKE,
		reason: 'WS_ERR_UNSUPPORTED_EXTENSION',
		message: 'Server requested unsupported extension',
	},
	{
		title: '#6 no Sec-WebSocket-Accept',
		mutate(msg) {
			msg.responseHeaders.remove('Sec-WebSocket-Accept');
		},
		code: WebsocketErrorCode.BAD_HANDSHAKE,
		reason: 'WS_ERR_INVALID_ACCEPT',
		message: 'Server returned incorrect “Sec-WebSocket-Accept” key',
	},
	{
		title: '#6 wrong Sec-WebSocket-Accept',
		mutate(msg) {
			msg.responseHeaders.replace('Sec-WebSocket-Accept', sampleAccept);
		},
		code: WebsocketErrorCode.BAD_HANDSHAKE,
		reason: 'WS_ERR_INVALID_ACCEPT',
		message: 'Server returned incorrect “Sec-WebSocket-Accept” key',
	},
	{
		title: '#6 Sec-WebSocket-Accept twice',
		mutate(msg) {
			msg.responseHeaders.append('Sec-WebSocket-Accept', msg.responseHeaders.getOne('Sec-WebSocket-Accept') ?? '');
		},
		code: WebsocketErrorCode.BAD_HANDSHAKE,
		reason: 'WS_ERR_INVALID_ACCEPT',
		message: 'Server returned incorrect “Sec-WebSocket-Accept” key',
	},
	{
		title: '#6 no key in the request',
		mutate(msg) {
			msg.requestHeaders.remove('Sec-WebSocket-Key');
		},
		code: WebsocketErrorCode.BAD_HANDSHAKE,
		reason: 'WS_ERR_INVALID_ACCEPT',
		message: 'Server returned incorrect “Sec-WebSocket-Accept” key',
	},
	// First failure wins.
	{
		title: 'order: #1 before #3 and #6',
		mutate(msg) {
			msg.setStatus(400);
			msg.responseHeaders.clear();
		},
		code: WebsocketErrorCode.BAD_HANDSHAKE,
		reason: 'WS_ERR_HANDSHAKE_REJECTED',
		message: 'Server rejected WebSocket handshake',
	},
	{
		title: 'order: #3 before #4',
		mutate(msg) {
			msg.responseHeaders.remove('Upgrade');
			msg.responseHeaders.append('Sec-WebSocket-Protocol', 'mqtt');
		},
		code: WebsocketErrorCode.NOT_WEBSOCKET,
		reason: 'WS_ERR_NOT_WEBSOCKET',
		message: 'Server ignored WebSocket handshake',
	},
	{
		title: 'order: #4 before #5 and #6',
		mutate(msg) {
			msg.responseHeaders.append('Sec-WebSocket-Protocol', 'mqtt');
			msg.responseHeaders.append('Sec-WebSocket-Extensions', 'permessage-deflate');
			msg.responseHeaders.remove('Sec-WebSocket-Accept');
		},
		code: WebsocketErrorCode.BAD_HANDSHAKE,
		reason: 'WS_ERR_UNSUPPORTED_SUBPROTOCOL',
		message: 'Server requested unsupported protocol',
	},
	{
		title: 'order: #5 before #6',
		mutate(msg) {
			msg.responseHeaders.append('Sec-WebSocket-Extensions', 'permessage-deflate');
			msg.responseHeaders.remove('Sec-WebSocket-Accept');
		},
		code: WebsocketErrorCode.BAD_HANDSHAKE,
		reason: 'WS_ERR_UNSUPPORTED_EXTENSION',
		message: 'Server requested unsupported extension',
	},
];

for (const row of clientRows) {
	test(`clientVerifyHandshake: ${row.title}`, t => {
		const msg = validExchange();
		row.mutate(msg);
		const error = t.throws(() => clientVerifyHandshake(msg));
		assertError(t, error, row);
	});
}

test('clientVerifyHandshake: a correct response passes', t => {
	const msg = validExchange();
	t.deepEqual(clientVerifyHandshake(msg), []);
	msg.responseHeaders.append('Sec-WebSocket-Protocol', 'superchat');
	t.deepEqual(clientVerifyHandshake(msg, null), []);
});

test('clientVerifyHandshake: the accept key is compared case-insensitively, as libsoup does', t => {
	const msg = validExchange();
	const accept = msg.responseHeaders.getOne('Sec-WebSocket-Accept') ?? '';
	msg.responseHeaders.replace('Sec-WebSocket-Accept', accept.toUpperCase());
	t.notThrows(() => clientVerifyHandshake(msg));
});

test('clientVerifyHandshake: Upgrade and Connection are ASCII case-insensitive', t => {
	const msg = validExchange();
	msg.responseHeaders.replace('upgrade', 'WEBSOCKET');
	msg.responseHeaders.replace('connection', 'keep-alive, UPGRADE');
	t.notThrows(() => clientVerifyHandshake(msg));
});

// Round trips.

/** Copies a client request into a fresh server-side message, as the wire would. */
function toServer(client: Message): Message {
	const server = new Message(client.method, client.uri);
	for (const [name, value] of client.requestHeaders) {
		server.requestHeaders.append(name, value);
	}

	return server;
}

/** Copies a server response back to the client message. */
function toClient(server: Message, client: Message): void {
	client.setStatus(server.statusCode, server.reasonPhrase);
	client.responseHeaders.clear();
	for (const [name, value] of server.responseHeaders) {
		client.responseHeaders.append(name, value);
	}
}

test('round trip: prepare → process → verify, with a protocol', t => {
	const client = new Message('ws://example.com/socket');
	clientPrepareHandshake(client, 'https://example.com', ['v2.chat', 'v1.chat']);
	const server = toServer(client);
	const result = serverProcessHandshake(server, 'https://EXAMPLE.com', ['v1.chat', 'v2.chat']);
	t.true(result.accepted);
	t.is(result.accepted && result.protocol, 'v1.chat');
	toClient(server, client);
	t.deepEqual(clientVerifyHandshake(client), []);
	t.is(client.responseHeaders.getOne('Sec-WebSocket-Protocol'), 'v1.chat');
});

test('round trip: a rejected handshake reaches the client as BAD_HANDSHAKE or NOT_WEBSOCKET', t => {
	const client = new Message('ws://example.com/socket');
	clientPrepareHandshake(client, 'https://evil.example', ['chat']);
	const forbidden = toServer(client);
	t.false(serverProcessHandshake(forbidden, 'https://example.com', ['chat']).accepted);
	toClient(forbidden, client);
	t.is((t.throws(() => clientVerifyHandshake(client)) as WebsocketError).code, WebsocketErrorCode.NOT_WEBSOCKET);

	const mismatch = toServer(client);
	t.false(serverProcessHandshake(mismatch, null, ['mqtt']).accepted);
	toClient(mismatch, client);
	t.is((t.throws(() => clientVerifyHandshake(client)) as WebsocketError).code, WebsocketErrorCode.BAD_HANDSHAKE);
});

/** Starts an HTTP server whose 'upgrade' listener runs `onUpgrade`; returns its port. */
async function upgradeServer(
	t: ExecutionContext,
	onUpgrade: (req: IncomingMessage, socket: Socket, head: Buffer) => void,
): Promise<number> {
	const server = createServer((_req, res) => {
		res.writeHead(426).end();
	});
	server.on('upgrade', onUpgrade);
	server.listen(0, '127.0.0.1');
	await once(server, 'listening');
	t.teardown(() => {
		server.closeAllConnections();
		server.close();
	});
	return (server.address() as AddressInfo).port;
}

/** Sends a prepared request over a raw socket and reads the response head into `msg`. */
async function rawHandshake(t: ExecutionContext, port: number, msg: Message): Promise<{socket: Socket; rest: Buffer}> {
	const socket = connect(port, '127.0.0.1');
	t.teardown(() => socket.destroy());
	await once(socket, 'connect');
	socket.write(formatRequestHead(msg), 'latin1');
	return new Promise((resolve, reject) => {
		let received = Buffer.alloc(0);
		const onData = (chunk: Buffer): void => {
			received = Buffer.concat([received, chunk]);
			try {
				const end = findHeadEnd(received);
				if (end !== -1) {
					socket.off('data', onData);
					socket.pause();
					parseResponseHead(msg, received.subarray(0, end));
					resolve({socket, rest: received.subarray(end)});
				}
			} catch (error) {
				reject(error as Error);
			}
		};

		socket.on('data', onData);
		socket.once('end', () => reject(new Error('connection closed before the response head')));
	});
}

/** Reads what is left of a socket until the peer closes it. */
async function readToEnd(socket: Socket, start: Buffer): Promise<Buffer> {
	const chunks = [start];
	socket.on('data', (chunk: Buffer) => chunks.push(chunk));
	socket.resume();
	await once(socket, 'end');
	return Buffer.concat(chunks);
}

test('round trip over TCP: our client helpers against our server helpers on node:http', async t => {
	const port = await upgradeServer(t, (req, socket) => {
		const msg = messageFromIncomingMessage(req);
		const result = serverProcessHandshake(msg, null, ['chat']);
		writeResponseHead(socket, msg);
		if (result.accepted) {
			socket.write(Buffer.from('810548656c6c6f', 'hex')); // FIN+TEXT, len 5, "Hello"
		} else {
			socket.end();
		}
	});

	const msg = new Message(`ws://127.0.0.1:${port}/`);
	clientPrepareHandshake(msg, null, ['chat']);
	const {rest} = await rawHandshake(t, port, msg);
	t.is(msg.statusCode, 101);
	t.deepEqual(clientVerifyHandshake(msg), []);
	t.is(msg.responseHeaders.getOne('Sec-WebSocket-Protocol'), 'chat');
	// Whatever followed the head in the same packet is kept for the frame decoder.
	t.true(rest.length === 0 || rest.equals(Buffer.from('810548656c6c6f', 'hex')));
});

test('round trip over TCP: a failed handshake gets the 400 response and its body', async t => {
	const port = await upgradeServer(t, (req, socket) => {
		const msg = messageFromIncomingMessage(req);
		serverProcessHandshake(msg, null, null);
		writeResponseHead(socket, msg);
		socket.end();
	});

	const msg = new Message(`ws://127.0.0.1:${port}/`);
	clientPrepareHandshake(msg, null, null);
	msg.requestHeaders.replace('Sec-WebSocket-Version', '7');
	const {socket, rest} = await rawHandshake(t, port, msg);
	t.is(msg.statusCode, 400);
	t.is(msg.responseHeaders.getOne('Connection'), 'close');
	const body = await readToEnd(socket, rest);

	t.is(body.toString('utf8'), badRequestBody('Unsupported WebSocket version'));
	t.is(Number(msg.responseHeaders.getOne('Content-Length')), body.length);
	const error = t.throws(() => clientVerifyHandshake(msg));
	assertError(t, error, {
		code: WebsocketErrorCode.BAD_HANDSHAKE,
		reason: 'WS_ERR_HANDSHAKE_REJECTED',
		message: 'Server rejected WebSocket handshake',
	});
});

test('independent peer: the ws client connects to our server helpers', async t => {
	const port = await upgradeServer(t, (req, socket) => {
		const msg = messageFromIncomingMessage(req);
		serverProcessHandshake(msg, `http://127.0.0.1:${port}`, ['b', 'a']);
		writeResponseHead(socket, msg);
	});

	const ws = new WebSocket(`ws://127.0.0.1:${port}/path`, ['a', 'b'], {origin: `http://127.0.0.1:${port}`});
	ws.on('error', () => {});
	t.teardown(() => ws.terminate());
	await once(ws, 'open');
	t.is(ws.protocol, 'b');
});

test('independent peer: the ws client sees our 403 for a wrong origin', async t => {
	const port = await upgradeServer(t, (req, socket) => {
		const msg = messageFromIncomingMessage(req);
		serverProcessHandshake(msg, 'https://example.com', null);
		writeResponseHead(socket, msg);
		socket.end();
	});

	const ws = new WebSocket(`ws://127.0.0.1:${port}/`, {origin: 'https://evil.example'});
	ws.on('error', () => {});
	t.teardown(() => ws.terminate());
	const [, response] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
	t.is(response.statusCode, 403);
	t.is(response.headers['content-type'], 'text/html');
	let body = '';
	for await (const chunk of response) {
		body += String(chunk);
	}

	t.is(body, forbiddenBody);
});

test('independent peer: our client helpers against a ws server', async t => {
	const wss = new WebSocketServer({
		port: 0,
		host: '127.0.0.1',
		perMessageDeflate: false,
		handleProtocols: protocols => (protocols.has('two') ? 'two' : false),
	});
	t.teardown(() => {
		for (const client of wss.clients) {
			client.terminate();
		}

		wss.close();
	});
	await once(wss, 'listening');
	wss.on('connection', ws => ws.send('hi'));
	const {port} = wss.address() as AddressInfo;

	const msg = new Message(`ws://127.0.0.1:${port}/`);
	clientPrepareHandshake(msg, 'http://localhost', ['one', 'two']);
	await rawHandshake(t, port, msg);
	t.is(msg.statusCode, 101);
	t.deepEqual(clientVerifyHandshake(msg), []);
	t.is(msg.responseHeaders.getOne('Sec-WebSocket-Protocol'), 'two');
});
