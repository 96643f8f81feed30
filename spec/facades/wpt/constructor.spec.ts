// WPT websockets/Create-*: the constructor's URL and subprotocol steps, and undici's options form.

import {connect, next, opened, thrown, throwsDom, throwsType, wpt, wptServer} from './harness.ts';

wpt('Create-no-argument: new WebSocket() throws TypeError', (t, {WebSocket}) => {
	throwsType(t, () => new (WebSocket as unknown as new () => unknown)());
});

wpt('Create-invalid-urls: an unparsable or relative URL, or another scheme, throws SyntaxError', (t, {WebSocket}) => {
	for (const url of ['ws://foo bar.com/', 'wss://foo bar.com/', 'ftp://example.com/', 'mailto:nobody@example.com', 'about:blank', 'file:///x', './test', 'test', '?test', '', 'javascript:alert(1)']) {
		throwsDom(t, 'SyntaxError', () => new WebSocket(url), url);
	}
});

wpt('Create-url-with-fragment: a fragment, even empty, throws SyntaxError', (t, {WebSocket}) => {
	for (const url of ['ws://127.0.0.1:1/#frag', 'ws://127.0.0.1:1/#', 'wss://127.0.0.1:1/path?q#x']) {
		throwsDom(t, 'SyntaxError', () => new WebSocket(url), url);
	}
});

wpt('Create-http-urls: http and https map to ws and wss; url is the serialized URL', async (t, impl) => {
	const server = await wptServer(t);
	const plain = connect(t, impl, `http://127.0.0.1:${server.port}/echo?x=1`);
	t.is(plain.url, `ws://127.0.0.1:${server.port}/echo?x=1`);
	await next(plain, 'open');
	const object = connect(t, impl, new URL(`${server.origin}/echo`) as unknown as string);
	t.is(object.url, `${server.origin}/echo`);
	await next(object, 'open');
	const secure = new impl.WebSocket('https://127.0.0.1:1/');
	secure.onerror = () => {};
	t.is(secure.url, 'wss://127.0.0.1:1/');
	secure.close();
});

wpt('Create-valid-url: readyState is CONNECTING, protocol and extensions empty, binaryType blob', async (t, impl) => {
	const server = await wptServer(t);
	const ws = connect(t, impl, `${server.origin}/echo`);
	t.is(ws.readyState, impl.WebSocket.CONNECTING);
	t.is(ws.protocol, '');
	t.is(ws.extensions, '');
	t.is(ws.binaryType, 'blob');
	t.is(ws.bufferedAmount, 0);
	await next(ws, 'open');
	t.is(ws.readyState, impl.WebSocket.OPEN);
});

wpt('Create-url-normalization: the host is lowercased and the path percent-encoded', (t, {WebSocket}) => {
	const ws = new WebSocket('ws://127.0.0.1:1/a b/ü?q=é');
	ws.onerror = () => {};
	t.is(ws.url, 'ws://127.0.0.1:1/a%20b/%C3%BC?q=%C3%A9');
	ws.close();
	const upper = new WebSocket('WS://LOCALHOST:1/');
	upper.onerror = () => {};
	t.is(upper.url, 'ws://localhost:1/');
	upper.close();
});

wpt('Create-protocol-with-space and other non-tokens throw SyntaxError', (t, {WebSocket}) => {
	for (const protocols of ['ec ho', ['ec ho'], [''], '', ['chat', 'sup{er'], 'ä', ['a\u0000b'], ['a,b']]) {
		throwsDom(t, 'SyntaxError', () => new WebSocket('ws://127.0.0.1:1/', protocols), JSON.stringify(protocols));
	}
});

wpt('Create-protocols-repeated throws SyntaxError', (t, {WebSocket}) => {
	throwsDom(t, 'SyntaxError', () => new WebSocket('ws://127.0.0.1:1/', ['echo', 'echo']));
});

wpt('Create-protocols-repeated-case-insensitive throws SyntaxError', (t, {WebSocket}) => {
	throwsDom(t, 'SyntaxError', () => new WebSocket('ws://127.0.0.1:1/', ['echo', 'eCho']));
});

wpt('Create-valid-url-protocol-string: a string is a list of one; the server selects it', async (t, impl) => {
	const server = await wptServer(t);
	const ws = connect(t, impl, `${server.origin}/protocol`, 'echo');
	t.is(ws.protocol, '');
	await next(ws, 'open');
	t.is(ws.protocol, 'echo');
	t.is(server.requests[0]?.headers['sec-websocket-protocol'], 'echo');
});

wpt('Create-valid-url-array-protocols: offered in order; protocol is the selected one', async (t, impl) => {
	const server = await wptServer(t);
	const ws = await opened(t, impl, `${server.origin}/protocol`, ['echo', 'chat']);
	t.is(ws.protocol, 'echo');
	t.is(server.requests[0]?.headers['sec-websocket-protocol'], 'echo, chat');
});

wpt('Create-valid-url-protocol-empty: no protocols offered, no header sent, protocol is empty', async (t, impl) => {
	const server = await wptServer(t);
	const ws = await opened(t, impl, `${server.origin}/echo`, []);
	t.is(ws.protocol, '');
	t.is(server.requests[0]?.headers['sec-websocket-protocol'], undefined);
});

wpt('Create-protocols-sequence: any iterable of strings is a sequence', async (t, impl) => {
	const server = await wptServer(t);
	const ws = await opened(t, impl, `${server.origin}/protocol`, new Set(['chat', 'echo']) as unknown as string[]);
	t.is(ws.protocol, 'chat');
});

wpt('options: new WebSocket(url, {protocols, headers}) offers the protocols and sends the headers', async (t, impl) => {
	const server = await wptServer(t);
	const ws = new impl.WebSocket(`${server.origin}/protocol`, {protocols: ['chat'], headers: {'X-Test': 'yes'}});
	t.teardown(() => {
		ws.close();
	});
	await next(ws, 'open');
	t.is(ws.protocol, 'chat');
	t.is(server.requests[0]?.headers['x-test'], 'yes');
});

wpt('options: a header with CR or LF in its value throws TypeError from the constructor', (t, {WebSocket}) => {
	throwsType(t, () => new WebSocket('ws://127.0.0.1:1/', {headers: {'X-Evil': 'a\r\nInjected: 1'}}));
	throwsType(t, () => new WebSocket('ws://127.0.0.1:1/', {headers: {'Bad Name': 'v'}}));
});

wpt('options: invalid protocols in the options object throw SyntaxError', (t, {WebSocket}) => {
	throwsDom(t, 'SyntaxError', () => new WebSocket('ws://127.0.0.1:1/', {protocols: ['a', 'A']}));
});

wpt('Create-url-with-lone-surrogate: the URL is a USVString (U+FFFD, percent-encoded)', (t, {WebSocket}) => {
	const ws = new WebSocket('ws://127.0.0.1:1/\uD800');
	ws.onerror = () => {};
	t.is(ws.url, 'ws://127.0.0.1:1/%EF%BF%BD');
	ws.close();
});

wpt('Create-url-symbol: a Symbol URL throws TypeError', (t, {WebSocket}) => {
	const error = thrown(() => new WebSocket(Symbol('url') as unknown as string));
	t.true(error instanceof TypeError);
});
