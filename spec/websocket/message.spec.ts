// Tests for lib/websocket/message.ts: MessageHeaders, Message, and the Node adapters.

import {once} from 'node:events';
import {readFileSync} from 'node:fs';
import {createServer, type IncomingMessage} from 'node:http';
import {connect, type AddressInfo, type Socket} from 'node:net';
import test from 'ava';
import {WebsocketError, WebsocketErrorCode} from '../../lib/websocket/errors.ts';
import {
	MAX_HEAD_SIZE,
	Message,
	MessageHeaders,
	findHeadEnd,
	formatRequestHead,
	formatResponseHead,
	messageFromIncomingMessage,
	parseResponseHead,
	splitHeaderList,
	writeResponseHead,
} from '../../lib/websocket/message.ts';

// MessageHeaders

test('headers: names are case-insensitive and keep the spelling they were given', t => {
	const headers = new MessageHeaders();
	headers.append('Sec-WebSocket-Key', 'abc');
	t.is(headers.getOne('sec-websocket-key'), 'abc');
	t.is(headers.getOne('SEC-WEBSOCKET-KEY'), 'abc');
	t.true(headers.has('sec-WebSocket-KEY'));
	t.deepEqual([...headers], [['Sec-WebSocket-Key', 'abc']]);
});

test('headers: repeated names keep every value in insertion order', t => {
	const headers = new MessageHeaders([
		['Accept', 'a'],
		['Host', 'example.com'],
		['accept', 'b'],
	]);
	t.is(headers.size, 3);
	t.is(headers.getList('Accept'), 'a, b');
	t.deepEqual([...headers], [
		['Accept', 'a'],
		['Host', 'example.com'],
		['accept', 'b'],
	]);
	const seen: string[] = [];
	headers.forEach((name, value) => seen.push(`${name}=${value}`));
	t.deepEqual(seen, ['Accept=a', 'Host=example.com', 'accept=b']);
});

test('headers: getOne joins a duplicated header like getList, so single-valued checks fail', t => {
	const headers = new MessageHeaders([
		['Sec-WebSocket-Version', '13'],
		['Sec-WebSocket-Version', '13'],
	]);
	t.is(headers.getOne('Sec-WebSocket-Version'), '13, 13');
	t.false(headers.headerEquals('Sec-WebSocket-Version', '13'));
});

test('headers: getOne and getList return null for an absent header, "" for an empty one', t => {
	const headers = new MessageHeaders([['X-Empty', '']]);
	t.is(headers.getOne('X-Missing'), null);
	t.is(headers.getList('X-Missing'), null);
	t.is(headers.getOne('X-Empty'), '');
});

test('headers: replace removes every copy and appends one at the end', t => {
	const headers = new MessageHeaders([
		['Upgrade', 'h2c'],
		['Host', 'a'],
		['upgrade', 'foo'],
	]);
	headers.replace('UPGRADE', 'websocket');
	t.deepEqual([...headers], [
		['Host', 'a'],
		['UPGRADE', 'websocket'],
	]);
});

test('headers: remove and clear', t => {
	const headers = new MessageHeaders([
		['A', '1'],
		['B', '2'],
		['a', '3'],
	]);
	headers.remove('a');
	t.deepEqual([...headers], [['B', '2']]);
	headers.remove('missing');
	t.is(headers.size, 1);
	headers.clear();
	t.is(headers.size, 0);
	t.false(headers.has('B'));
});

test('headers: headerContains finds a token in a comma list, case-insensitively', t => {
	const headers = new MessageHeaders([
		['Connection', 'keep-alive, Upgrade'],
		['X-List', 'a, "b, upgrade", c'],
	]);
	t.true(headers.headerContains('Connection', 'upgrade'));
	t.true(headers.headerContains('connection', 'KEEP-ALIVE'));
	t.false(headers.headerContains('Connection', 'close'));
	t.false(headers.headerContains('Connection', 'keep'));
	t.false(headers.headerContains('Missing', 'upgrade'));
	// A comma inside a quoted string does not separate elements.
	t.false(headers.headerContains('X-List', 'upgrade'));
	t.true(headers.headerContains('X-List', '"b, upgrade"'));
});

test('headers: headerContains reads repeated headers as one list', t => {
	const headers = new MessageHeaders([
		['Connection', 'keep-alive'],
		['Connection', 'Upgrade'],
	]);
	t.true(headers.headerContains('Connection', 'upgrade'));
});

test('headers: headerContainsCaseSensitive compares exactly', t => {
	const headers = new MessageHeaders([['Sec-WebSocket-Protocol', 'chat, Superchat']]);
	t.true(headers.headerContainsCaseSensitive('Sec-WebSocket-Protocol', 'chat'));
	t.true(headers.headerContainsCaseSensitive('Sec-WebSocket-Protocol', 'Superchat'));
	t.false(headers.headerContainsCaseSensitive('Sec-WebSocket-Protocol', 'Chat'));
	t.false(headers.headerContainsCaseSensitive('Sec-WebSocket-Protocol', ''));
});

test('headers: headerEquals compares the whole value, ASCII case-insensitively', t => {
	const headers = new MessageHeaders([
		['Upgrade', 'WebSocket'],
		['X-Latin', 'ä'],
	]);
	t.true(headers.headerEquals('Upgrade', 'websocket'));
	t.false(headers.headerEquals('Upgrade', 'websocket2'));
	t.false(headers.headerEquals('Missing', 'websocket'));
	// Like g_ascii_strcasecmp: no case folding outside ASCII.
	t.false(headers.headerEquals('X-Latin', 'Ä'));
});

test('headers: toObject groups repeated names for Node, without a prototype', t => {
	const headers = new MessageHeaders([
		['Set-Cookie', 'a=1'],
		['Host', 'example.com'],
		['set-cookie', 'b=2'],
		['__proto__', 'x'],
	]);
	const object = headers.toObject();
	t.is(Object.getPrototypeOf(object), null);
	t.deepEqual(Object.keys(object), ['Set-Cookie', 'Host', '__proto__']);
	t.deepEqual(object['Set-Cookie'], ['a=1', 'b=2']);
	t.is(object['Host'], 'example.com');
	t.is(object['__proto__'], 'x');
});

for (const [title, name, value, argument] of [
	['CRLF in a value', 'X-Test', 'a\r\nInjected: yes', 'value'],
	['LF in a value', 'X-Test', 'a\nInjected: yes', 'value'],
	['CR in a value', 'X-Test', 'a\rb', 'value'],
	['NUL in a value', 'X-Test', 'a\0b', 'value'],
	['DEL in a value', 'X-Test', 'a\u007fb', 'value'],
	['a character above U+00FF in a value', 'X-Test', 'snow ☃', 'value'],
	['a space in a name', 'X Test', 'a', 'name'],
	['a colon in a name', 'X-Test:', 'a', 'name'],
	['CRLF in a name', 'X-Test\r\nInjected', 'a', 'name'],
	['an empty name', '', 'a', 'name'],
] as const) {
	test(`headers: header injection is rejected: ${title}`, t => {
		const headers = new MessageHeaders([['Host', 'example.com']]);
		for (const method of ['append', 'replace'] as const) {
			const error = t.throws(() => {
				headers[method](name, value);
			}, {instanceOf: TypeError});
			t.regex(error.message, new RegExp(`\`${argument}\``));
		}

		t.deepEqual([...headers], [['Host', 'example.com']]);
	});
}

test('headers: tabs and Latin-1 characters are valid in values', t => {
	const headers = new MessageHeaders();
	headers.append('X-Test', 'a\tb é');
	t.is(headers.getOne('x-test'), 'a\tb é');
});

test('headers: non-string arguments are rejected with a TypeError naming them', t => {
	const headers = new MessageHeaders();
	t.throws(() => {
		headers.append('X-Test', 5 as unknown as string);
	}, {instanceOf: TypeError, message: /`value`/});
	t.throws(() => headers.getOne(undefined as unknown as string), {instanceOf: TypeError, message: /`name`/});
});

test('splitHeaderList: trims elements, skips empty ones, respects quoted strings', t => {
	t.deepEqual(splitHeaderList(' a ,b,, ,\tc '), ['a', 'b', 'c']);
	t.deepEqual(splitHeaderList(''), []);
	t.deepEqual(splitHeaderList(' , '), []);
	t.deepEqual(splitHeaderList('a; x="1,2", b'), ['a; x="1,2"', 'b']);
	t.deepEqual(splitHeaderList('a; x="q\\"uo,te", b'), ['a; x="q\\"uo,te"', 'b']);
	t.deepEqual(splitHeaderList('a; b=1;; c', ';'), ['a', 'b=1', 'c']);
});

// Message

test('message: defaults', t => {
	const msg = new Message('ws://example.com/chat');
	t.is(msg.method, 'GET');
	t.is(msg.uri.href, 'ws://example.com/chat');
	t.is(msg.httpVersion, '1.1');
	t.is(msg.statusCode, 0);
	t.is(msg.reasonPhrase, '');
	t.is(msg.responseBody, null);
	t.is(msg.remoteAddress, null);
	t.is(msg.requestHeaders.size, 0);
	t.is(msg.responseHeaders.size, 0);
});

test('message: method and URI, the URL copied', t => {
	const url = new URL('wss://example.com:8443/a?b=c');
	const msg = new Message('GET', url);
	url.pathname = '/changed';
	t.is(msg.uri.href, 'wss://example.com:8443/a?b=c');
	t.not(msg.uri, url);
	msg.uri = 'http://example.org/';
	t.is(msg.uri.host, 'example.org');
});

test('message: invalid method or URI throws a TypeError naming the argument', t => {
	t.throws(() => new Message('GE T', 'ws://example.com/'), {instanceOf: TypeError, message: /`method`/});
	t.throws(() => new Message('GET\r\n', 'ws://example.com/'), {instanceOf: TypeError, message: /`method`/});
	t.throws(() => new Message('GET', 'not a uri'), {instanceOf: TypeError, message: /`uri`/});
	t.throws(() => new Message('GET', '/relative'), {instanceOf: TypeError, message: /`uri`/});
	t.throws(() => new Message('GET', 'ftp://example.com/'), {instanceOf: TypeError, message: /`uri`/});
	t.throws(() => new Message('GET', 42 as unknown as string), {instanceOf: TypeError, message: /`uri`/});
	const msg = new Message('ws://example.com/');
	t.throws(() => {
		msg.method = '';
	}, {instanceOf: TypeError, message: /`method`/});
	t.throws(() => {
		msg.httpVersion = '2.0' as '1.1';
	}, {instanceOf: TypeError, message: /`httpVersion`/});
	t.is(msg.method, 'GET');
});

test('message: setStatus uses the standard reason phrase by default', t => {
	const msg = new Message('ws://example.com/');
	msg.setStatus(101);
	t.is(msg.statusCode, 101);
	t.is(msg.reasonPhrase, 'Switching Protocols');
	msg.setStatus(403);
	t.is(msg.reasonPhrase, 'Forbidden');
	msg.setStatus(599);
	t.is(msg.reasonPhrase, 'Unknown');
	msg.setStatus(400, 'Nope');
	t.is(msg.reasonPhrase, 'Nope');
	msg.setStatus(200, '');
	t.is(msg.reasonPhrase, '');
});

test('message: setStatus rejects bad codes and reason phrases, leaving the status alone', t => {
	const msg = new Message('ws://example.com/');
	msg.setStatus(101);
	t.throws(() => msg.setStatus(99), {instanceOf: RangeError, message: /`code`/});
	t.throws(() => msg.setStatus(600), {instanceOf: RangeError, message: /`code`/});
	t.throws(() => msg.setStatus(101.5), {instanceOf: TypeError, message: /`code`/});
	t.throws(() => msg.setStatus(400, 'Bad\r\nX-Injected: 1'), {instanceOf: TypeError, message: /`reason`/});
	t.is(msg.statusCode, 101);
	t.is(msg.reasonPhrase, 'Switching Protocols');
});

test('message: setResponse sets Content-Type and the body', t => {
	const msg = new Message('ws://example.com/');
	msg.setResponse('text/html', '<p>“hi”</p>');
	t.is(msg.responseHeaders.getOne('Content-Type'), 'text/html');
	t.deepEqual(msg.responseBody, Buffer.from('<p>“hi”</p>', 'utf8'));
	msg.setResponse('application/octet-stream', new Uint8Array([1, 2, 3]));
	t.is(msg.responseHeaders.getList('content-type'), 'application/octet-stream');
	t.deepEqual(msg.responseBody, Buffer.from([1, 2, 3]));
	msg.setResponse(null, null);
	t.false(msg.responseHeaders.has('Content-Type'));
	t.is(msg.responseBody, null);
	t.throws(() => msg.setResponse('text/html\r\nX: y', 'a'), {instanceOf: TypeError, message: /`value`/});
});

// formatRequestHead

test('formatRequestHead: request line, Host first, headers in order, blank line', t => {
	const msg = new Message('GET', 'ws://example.com:8080/chat?room=1#frag');
	msg.requestHeaders.append('Upgrade', 'websocket');
	msg.requestHeaders.append('Connection', 'Upgrade');
	t.is(
		formatRequestHead(msg),
		'GET /chat?room=1 HTTP/1.1\r\nHost: example.com:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
	);
	t.false(msg.requestHeaders.has('Host'));
});

test('formatRequestHead: keeps an explicit Host, omits default ports, brackets IPv6', t => {
	const msg = new Message('ws://[::1]:80');
	t.is(formatRequestHead(msg), 'GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n');
	const explicit = new Message('wss://example.com:443/x');
	explicit.requestHeaders.append('X-First', '1');
	explicit.requestHeaders.append('host', 'proxy.example');
	explicit.httpVersion = '1.0';
	t.is(formatRequestHead(explicit), 'GET /x HTTP/1.0\r\nX-First: 1\r\nhost: proxy.example\r\n\r\n');
});

// formatResponseHead and writeResponseHead

test('formatResponseHead: 101 has no Content-Length and no body', t => {
	const msg = new Message('ws://example.com/');
	msg.setStatus(101);
	msg.responseHeaders.append('Upgrade', 'websocket');
	msg.responseHeaders.append('Content-Length', '5');
	msg.responseBody = Buffer.from('ignored');
	t.is(formatResponseHead(msg), 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n');
});

test('formatResponseHead: other statuses get Content-Length for the body, replacing any framing header', t => {
	const msg = new Message('ws://example.com/');
	msg.setStatus(400);
	msg.responseHeaders.append('Connection', 'close');
	msg.responseHeaders.append('Transfer-Encoding', 'chunked');
	msg.responseHeaders.append('Content-Length', '999');
	msg.setResponse('text/html', 'héllo');
	t.is(
		formatResponseHead(msg),
		'HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/html\r\nContent-Length: 6\r\n\r\n',
	);
	const empty = new Message('ws://example.com/');
	empty.setStatus(404);
	t.is(formatResponseHead(empty), 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
});

test('formatResponseHead: throws a RangeError before a status is set', t => {
	t.throws(() => formatResponseHead(new Message('ws://example.com/')), {instanceOf: RangeError});
});

test('writeResponseHead: head and body in one write, header values as Latin-1', t => {
	const writes: Array<string | Buffer> = [];
	const socket = {
		write(data: string | Buffer) {
			writes.push(data);
			return true;
		},
	};
	const msg = new Message('ws://example.com/');
	msg.setStatus(403);
	msg.responseHeaders.append('X-Latin', 'é');
	msg.setResponse('text/html', '“x”');
	writeResponseHead(socket, msg);
	t.is(writes.length, 1);
	const head = 'HTTP/1.1 403 Forbidden\r\nX-Latin: é\r\nContent-Type: text/html\r\nContent-Length: 7\r\n\r\n';
	t.deepEqual(writes[0], Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from('“x”', 'utf8')]));

	writes.length = 0;
	msg.setStatus(101);
	writeResponseHead(socket, msg);
	t.deepEqual(writes, [Buffer.from('HTTP/1.1 101 Switching Protocols\r\nX-Latin: é\r\nContent-Type: text/html\r\n\r\n', 'latin1')]);
});

// parseResponseHead and findHeadEnd

const response101 =
	'HTTP/1.1 101 Switching Protocols\r\n' +
	'Upgrade: websocket\r\n' +
	'Connection: Upgrade\r\n' +
	'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n' +
	'\r\n';

test('parseResponseHead: status, reason and headers from a complete head', t => {
	const msg = new Message('ws://example.com/');
	msg.responseHeaders.append('X-Stale', 'old');
	parseResponseHead(msg, Buffer.from(response101, 'latin1'));
	t.is(msg.statusCode, 101);
	t.is(msg.reasonPhrase, 'Switching Protocols');
	t.deepEqual([...msg.responseHeaders], [
		['Upgrade', 'websocket'],
		['Connection', 'Upgrade'],
		['Sec-WebSocket-Accept', 's3pPLMBiTxaQ9kYGzzhZRbK+xOo='],
	]);
});

test('parseResponseHead: accepts a head without the blank line, repeated headers, OWS and no reason', t => {
	const msg = new Message('ws://example.com/');
	parseResponseHead(msg, 'HTTP/1.0 426\r\nX-A:1\r\nx-a: \t2 \r\nX-Empty:\r\n');
	t.is(msg.statusCode, 426);
	t.is(msg.reasonPhrase, '');
	t.is(msg.responseHeaders.getList('X-A'), '1, 2');
	t.is(msg.responseHeaders.getOne('X-Empty'), '');
	parseResponseHead(msg, 'HTTP/1.1 200 OK');
	t.is(msg.statusCode, 200);
	t.is(msg.responseHeaders.size, 0);
});

test('parseResponseHead: obsolete line folding becomes a space (RFC 7230 §3.2.4)', t => {
	const msg = new Message('ws://example.com/');
	parseResponseHead(msg, 'HTTP/1.1 101 Switching Protocols\r\nX-Folded: a\r\n  b\r\n\tc\r\nUpgrade: websocket\r\n\r\n');
	t.is(msg.responseHeaders.getOne('X-Folded'), 'a b c');
	t.is(msg.responseHeaders.getOne('Upgrade'), 'websocket');
});

test('parseResponseHead: reads bytes as Latin-1', t => {
	const msg = new Message('ws://example.com/');
	parseResponseHead(msg, Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nX-Name: caf'), Buffer.from([0xe9]), Buffer.from('\r\n\r\n')]));
	t.is(msg.responseHeaders.getOne('X-Name'), 'café');
});

for (const [title, head] of [
	['an empty head', ''],
	['a blank line only', '\r\n\r\n'],
	['a status line that is not HTTP', 'ICY 200 OK\r\n\r\n'],
	['HTTP/2', 'HTTP/2 101 Switching Protocols\r\n\r\n'],
	['a four-digit status', 'HTTP/1.1 1010 Nope\r\n\r\n'],
	['a status below 100', 'HTTP/1.1 099 Nope\r\n\r\n'],
	['a missing space after the version', 'HTTP/1.1101 Switching Protocols\r\n\r\n'],
	['a bare LF line ending', 'HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\n\n'],
	['a bare LF inside a header', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\nX: y\r\n\r\n'],
	['a bare CR', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: web\rsocket\r\n\r\n'],
	['a header line without a colon', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade websocket\r\n\r\n'],
	['whitespace before the colon', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade : websocket\r\n\r\n'],
	['an empty header name', 'HTTP/1.1 101 Switching Protocols\r\n: websocket\r\n\r\n'],
	['a NUL in a value', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: web\0socket\r\n\r\n'],
	['a folded line before any header', 'HTTP/1.1 101 Switching Protocols\r\n folded\r\n\r\n'],
	['data after the blank line', `${response101}\u0081\u0000`],
	['a second head after the first', `${response101}${response101}`],
] as const) {
	test(`parseResponseHead: rejects ${title}, leaving the message unchanged`, t => {
		const msg = new Message('ws://example.com/');
		msg.setStatus(200);
		msg.responseHeaders.append('X-Before', '1');
		const error = t.throws(() => parseResponseHead(msg, head), {instanceOf: WebsocketError});
		t.is(error.code, WebsocketErrorCode.FAILED);
		t.is(error.reason, 'WS_ERR_INVALID_HTTP');
		t.regex(error.message, /^Invalid HTTP response: /);
		t.is(msg.statusCode, 200);
		t.deepEqual([...msg.responseHeaders], [['X-Before', '1']]);
	});
}

test('parseResponseHead: a head over 16 KiB is an error', t => {
	const msg = new Message('ws://example.com/');
	const filler = `X-Filler: ${'a'.repeat(MAX_HEAD_SIZE)}\r\n`;
	const error = t.throws(() => parseResponseHead(msg, `HTTP/1.1 101 Switching Protocols\r\n${filler}\r\n`), {
		instanceOf: WebsocketError,
	});
	t.is(error.code, WebsocketErrorCode.FAILED);
	t.is(error.reason, 'WS_ERR_HEADERS_TOO_LARGE');
	t.is(msg.statusCode, 0);

	// Exactly 16 KiB, blank line included, is accepted.
	const start = 'HTTP/1.1 101 Switching Protocols\r\nX-Filler: ';
	const exact = `${start}${'a'.repeat(MAX_HEAD_SIZE - start.length - 4)}\r\n\r\n`;
	t.is(exact.length, MAX_HEAD_SIZE);
	parseResponseHead(msg, exact);
	t.is(msg.statusCode, 101);
});

test('findHeadEnd: waits for the blank line, even split across chunks', t => {
	const bytes = Buffer.from(response101, 'latin1');
	const frame = Buffer.from('8105' + Buffer.from('Hello').toString('hex'), 'hex'); // FIN+TEXT, len 5, "Hello"
	const all = Buffer.concat([bytes, frame]);
	let received = Buffer.alloc(0);
	let end = -1;
	for (let i = 0; i < all.length && end === -1; i++) {
		received = Buffer.concat([received, all.subarray(i, i + 1)]);
		end = findHeadEnd(received);
		if (i < bytes.length - 1) {
			t.is(end, -1);
		}
	}

	t.is(end, bytes.length);
	const msg = new Message('ws://example.com/');
	parseResponseHead(msg, all.subarray(0, end));
	t.is(msg.statusCode, 101);
	t.deepEqual(all.subarray(end), frame);

	// "\r\n\r" then "\n": the terminator split in the middle.
	t.is(findHeadEnd(Buffer.from('HTTP/1.1 101 OK\r\n\r')), -1);
	t.is(findHeadEnd(Buffer.from('HTTP/1.1 101 OK\r\n\r\n')), 19);
	t.is(findHeadEnd(new Uint8Array(Buffer.from('HTTP/1.1 101 OK\r\n\r\nrest'))), 19);
});

test('findHeadEnd: a head that is or will be over the limit throws', t => {
	const long = Buffer.alloc(MAX_HEAD_SIZE, 0x61);
	const error = t.throws(() => findHeadEnd(long), {instanceOf: WebsocketError});
	t.is(error.reason, 'WS_ERR_HEADERS_TOO_LARGE');
	t.is(findHeadEnd(long.subarray(0, MAX_HEAD_SIZE - 1)), -1);
	const lateEnd = Buffer.concat([Buffer.alloc(MAX_HEAD_SIZE - 3, 0x61), Buffer.from('\r\n\r\n')]);
	t.throws(() => findHeadEnd(lateEnd), {instanceOf: WebsocketError, message: /16384/});
	t.is(findHeadEnd(Buffer.from('ab\r\n\r\n'), 6), 6);
	t.throws(() => findHeadEnd(Buffer.from('abc\r\n\r\n'), 6), {instanceOf: WebsocketError});
});

// messageFromIncomingMessage

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

test('message.ts stays independent of sockets: no runtime import of node:net or node:tls', t => {
	const source = readFileSync(new URL('../../lib/websocket/message.ts', import.meta.url), 'utf8');
	const imports = source.match(/^import\s[^;]*;/gm) ?? [];
	t.true(imports.length > 0);
	for (const line of imports) {
		if (/['"]node:(?:net|tls)['"]/.test(line)) {
			t.regex(line, /^import type /, `a runtime import of a socket module: ${line}`);
		}
	}
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
