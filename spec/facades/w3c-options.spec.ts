// The W3C facade's Node-only options object (WebSocketInit): limits, TLS, handshake timeout, origin, and bad options.

import {once} from 'node:events';
import {createServer as createHttpsServer} from 'node:https';
import type {AddressInfo} from 'node:net';
import test from 'ava';
import {WebSocketServer} from 'ws';
import {WebSocket, type CloseEvent} from '../../lib/facades/w3c.ts';
import {listen, rawServer, selfSignedCertificate} from '../node/fixtures.ts';
import {assertFailed, inbox, next, recordUntilClose, wptServer} from './wpt/harness.ts';

test('maxIncomingPayloadSize: a larger frame fails the connection, and the server hears 1009', async t => {
	const server = await wptServer(t);
	const ws = new WebSocket(`${server.origin}/send?size=2048`, {maxIncomingPayloadSize: 1024});
	assertFailed(t, await recordUntilClose(ws), ['open']);
	t.is((await server.closes[0])?.code, 1009);
});

test('maxTotalMessageSize: a larger message fails the connection; one at the limit arrives', async t => {
	const server = await wptServer(t);
	const ok = new WebSocket(`${server.origin}/send?size=4096`, {maxTotalMessageSize: 4096});
	ok.binaryType = 'arraybuffer';
	t.is(((await inbox(ok).next()) as ArrayBuffer).byteLength, 4096);
	ok.close();
	const tooBig = new WebSocket(`${server.origin}/send?size=4097`, {maxTotalMessageSize: 4096});
	assertFailed(t, await recordUntilClose(tooBig), ['open']);
});

test('by default there is no limit: 16 MiB in one frame arrives', async t => {
	const server = await wptServer(t);
	const size = 16 * 1024 * 1024;
	const ws = new WebSocket(`${server.origin}/send?size=${size}`);
	ws.binaryType = 'arraybuffer';
	t.teardown(() => {
		ws.close();
	});
	t.is(((await inbox(ws).next(30_000)) as ArrayBuffer).byteLength, size);
});

test('handshakeTimeout: a server that never answers fails the connection', async t => {
	const port = await rawServer(t, () => {});
	const ws = new WebSocket(`ws://127.0.0.1:${port}/`, {handshakeTimeout: 200});
	assertFailed(t, await recordUntilClose(ws));
});

test('tls: wss with the server certificate as ca opens; without it the connection fails', async t => {
	const {key, cert} = await selfSignedCertificate();
	const https = createHttpsServer({key, cert});
	const wss = new WebSocketServer({server: https});
	wss.on('connection', socket => {
		socket.on('message', (data, isBinary) => {
			socket.send(data, {binary: isBinary});
		});
	});
	const port = await listen(t, https);
	t.teardown(() => {
		wss.close();
	});
	const trusted = new WebSocket(`wss://127.0.0.1:${port}/`, {tls: {ca: cert}});
	await next(trusted, 'open');
	trusted.send('over tls');
	t.is(await inbox(trusted).next(), 'over tls');
	const closed = next<CloseEvent>(trusted, 'close');
	trusted.close(1000);
	t.true((await closed).wasClean);

	const untrusted = new WebSocket(`wss://127.0.0.1:${port}/`);
	assertFailed(t, await recordUntilClose(untrusted));
});

test('header values are converted to strings; an array repeats the header', async t => {
	const server = await wptServer(t);
	const ws = new WebSocket(`${server.origin}/echo-headers`, {headers: {'X-Num': 5 as unknown as string, 'X-Rep': ['a', 'b']}});
	const headers = JSON.parse((await inbox(ws).next()) as string) as Record<string, string>;
	t.is(headers['x-num'], '5');
	t.is(headers['x-rep'], 'a, b');
	ws.close();
});

test('origin and headers (object or pairs) are sent', async t => {
	const server = await wptServer(t);
	const ws = new WebSocket(`${server.origin}/echo-headers`, {
		origin: 'https://app.example',
		headers: [
			['X-One', '1'],
			['X-Two', '2'],
		],
	});
	const headers = JSON.parse((await inbox(ws).next()) as string) as Record<string, string>;
	t.is(headers['origin'], 'https://app.example');
	t.is(headers['x-one'], '1');
	t.is(headers['x-two'], '2');
	ws.close();
});

test('options of the wrong type throw TypeError naming the option, before any connection', async t => {
	const server = createHttpsServer();
	let connections = 0;
	server.on('connection', () => connections++);
	server.listen(0, '127.0.0.1');
	await once(server, 'listening');
	t.teardown(() => {
		server.close();
	});
	const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
	const bad: Array<[object, RegExp]> = [
		[{maxIncomingPayloadSize: -1}, /maxIncomingPayloadSize/],
		[{maxTotalMessageSize: 'big'}, /maxTotalMessageSize/],
		[{handshakeTimeout: 1.5}, /handshakeTimeout/],
		[{tls: 'yes'}, /tls/],
		[{origin: 42}, /origin/],
		[{headers: 'X-A: 1'}, /headers/],
		[{headers: [['X-A', '1', 'extra']]}, /headers/],
		[{headers: [['X-A']]}, /headers/],
	];
	for (const [options, message] of bad) {
		t.throws(() => new WebSocket(url, options as object), {instanceOf: TypeError, message}, JSON.stringify(options));
	}

	t.is(connections, 0);
});
