// Tests for lib/http/head.ts: formatting request and response heads, finding and parsing a response head.

import test from 'ava';
import {WebsocketError, WebsocketErrorCode} from '../../lib/websocket/errors.ts';
import {MAX_HEAD_SIZE, findHeadEnd, formatRequestHead, formatResponseHead, parseResponseHead, writeResponseHead} from '../../lib/http/head.ts';
import {Message} from '../../lib/http/message.ts';

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

	// An ASCII head goes out as the string itself: its UTF-8 is the same bytes, and no Buffer is made.
	writes.length = 0;
	msg.responseHeaders.remove('X-Latin');
	writeResponseHead(socket, msg);
	t.deepEqual(writes, ['HTTP/1.1 101 Switching Protocols\r\nContent-Type: text/html\r\n\r\n']);
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
