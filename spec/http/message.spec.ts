// Tests for lib/http/message.ts: Message (libsoup's SoupMessage and SoupServerMessage) and its reason phrases.

import test from 'ava';
import {Message} from '../../lib/http/message.ts';

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

test('message: setStatus gives the reason phrase Node\'s own server writes, for every status Node knows', async t => {
	const {STATUS_CODES} = await import('node:http');
	const msg = new Message('ws://example.com/');
	for (const [code, phrase] of Object.entries(STATUS_CODES)) {
		msg.setStatus(Number(code));
		t.is<string | undefined, string | undefined>(msg.reasonPhrase, phrase, `status ${code}`);
	}
});
