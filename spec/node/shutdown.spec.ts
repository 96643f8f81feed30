// The handler's graceful shutdown: 503 + Retry-After for new handshakes, a Close to every connection, the rest terminated at the deadline.

import {randomBytes} from 'node:crypto';
import {once} from 'node:events';
import {createServer} from 'node:http';
import type {AddressInfo, Socket} from 'node:net';
import {setFlagsFromString} from 'node:v8';
import {runInNewContext} from 'node:vm';
import test from 'ava';
import {WebSocket} from 'ws';
import {websocketConnect} from '../../lib/node/client.ts';
import {addWebsocketHandler} from '../../lib/node/server.ts';
import type {WebsocketConnection} from '../../lib/websocket/connection.ts';
import {CloseCode, WebsocketState} from '../../lib/websocket/constants.ts';
import {WebsocketError} from '../../lib/websocket/errors.ts';
import {Message} from '../../lib/http/message.ts';
import {client, handlerServer} from '../helpers/handler.ts';
import {until, withTimeout} from '../helpers/signals.ts';
import {readHead, tcpConnect, upgradeRequest, wsClosed} from '../helpers/ws-peer.ts';

/** A client that completes the handshake by hand and then never reads: it never answers a Close. */
async function deafClient(t: Parameters<typeof tcpConnect>[0], port: number): Promise<Socket> {
	const socket = await tcpConnect(t, port);
	socket.on('error', () => {});
	socket.write(upgradeRequest(port, randomBytes(16).toString('base64')).replace('GET /chat', 'GET /ws'));
	const head = await readHead(socket);
	t.regex(head.startLine, /^HTTP\/1\.1 101 /);
	// Paused by readHead, and left so: nothing it is sent is read.
	return socket;
}

async function openWs(t: Parameters<typeof tcpConnect>[0], url: string): Promise<WebSocket> {
	const ws = new WebSocket(url);
	t.teardown(() => ws.terminate());
	ws.on('error', () => {});
	await withTimeout(once(ws, 'open'), 10_000, 'ws open');
	return ws;
}

test('close(): every connection gets Close 1001 with the reason; resolves with the counts; later handshakes get 503 + Retry-After', async t => {
	const host = await handlerServer(t);
	const first = await client(t, host.url);
	const second = await client(t, host.url);
	const ws = await openWs(t, host.url);
	await host.nth(2);
	const wsClose = wsClosed(ws);
	const result = await withTimeout(host.handler.close({reason: 'restarting', retryAfter: 7}), 10_000, 'shutdown');
	t.deepEqual(result, {clean: 3, dirty: 0, terminated: 0});
	for (const connection of [first, second]) {
		t.is(connection.getState(), WebsocketState.CLOSED);
		t.is(connection.getCloseCode(), CloseCode.GOING_AWAY);
		t.is(connection.getCloseData(), 'restarting');
	}

	t.deepEqual(await wsClose, {code: 1001, reason: 'restarting'});
	for (const connection of host.accepted) {
		t.is(connection.getCloseCode(), CloseCode.GOING_AWAY, 'the echo came back');
	}

	// The same promise again.
	t.is(host.handler.close(), host.handler.close());
	t.deepEqual(await host.handler.close({code: 1000}), result);

	const msg = new Message(host.url);
	const refused = await t.throwsAsync(websocketConnect(msg), {instanceOf: WebsocketError});
	t.is((refused as WebsocketError).reason, 'WS_ERR_UNEXPECTED_RESPONSE');
	t.is(msg.statusCode, 503);
	t.is(msg.responseHeaders.getOne('Retry-After'), '7');
	t.is(msg.responseHeaders.getOne('Connection'), 'close');
	t.is(host.accepted.length, 3);

	// Once removed, the path is no one's: 404 (another handler keeps websoup's listeners on the server).
	addWebsocketHandler(host.server, '/other', null, null, () => {});
	host.handler.remove();
	const gone = new Message(host.url);
	await t.throwsAsync(websocketConnect(gone));
	t.is(gone.statusCode, 404);
});

test('close(): a client that never answers the Close is terminated at the deadline; one that drops counts as dirty', async t => {
	const host = await handlerServer(t);
	const polite = await client(t, host.url);
	await deafClient(t, host.port);
	const rude = await client(t, host.url);
	// The rude client drops TCP as soon as the Close arrives.
	rude.connect('closing', self => self.getIoStream().destroy());
	await host.nth(2);
	const deafServerSide = host.accepted[1]!;
	const errors: Error[] = [];
	deafServerSide.connect('error', (_self, error) => errors.push(error));
	const result = await withTimeout(host.handler.close({timeout: 500}), 10_000, 'shutdown');
	t.deepEqual(result, {clean: 1, dirty: 1, terminated: 1});
	t.is(polite.getCloseCode(), CloseCode.GOING_AWAY);
	t.is(deafServerSide.getState(), WebsocketState.CLOSED);
	t.deepEqual(errors, [], 'terminated without an error');
});

test('close(): no connections resolves at once with zeros; bad options throw synchronously', async t => {
	const host = await handlerServer(t);
	t.throws(() => host.handler.close({code: 1005}), {instanceOf: RangeError, message: /`code`/});
	t.throws(() => host.handler.close({code: 1010}), {instanceOf: RangeError, message: /`code`/});
	t.throws(() => host.handler.close({reason: 'x'.repeat(124)}), {instanceOf: RangeError, message: /`reason`/});
	t.throws(() => host.handler.close({timeout: -1}), {instanceOf: TypeError, message: /`timeout`/});
	t.throws(() => host.handler.close({timeout: 1.5}), {instanceOf: TypeError, message: /`timeout`/});
	t.throws(() => host.handler.close({retryAfter: '5' as unknown as number}), {instanceOf: TypeError, message: /`retryAfter`/});
	t.throws(() => host.handler.close(42 as unknown as object), {instanceOf: TypeError, message: /`options`/});
	// Nothing was started by the refused calls: a handshake still succeeds.
	const open = await client(t, host.url);
	open.close(1000);
	await withTimeout(open.closed, 5000, 'closed');
	t.deepEqual(await host.handler.close({code: 4000, timeout: 0}), {clean: 0, dirty: 0, terminated: 0});
});

test('close(): a handshake whose check hook is still running when the shutdown starts gets 503', async t => {
	let release!: () => void;
	const held = new Promise<void>(resolve => {
		release = resolve;
	});
	let entered!: () => void;
	const inCheck = new Promise<void>(resolve => {
		entered = resolve;
	});
	const host = await handlerServer(t, {
		async check() {
			entered();
			await held;
		},
	});
	const msg = new Message(host.url);
	const attempt = websocketConnect(msg);
	attempt.catch(() => {});
	await withTimeout(inCheck, 5000, 'the check hook');
	const shutdown = host.handler.close();
	release();
	await t.throwsAsync(attempt, {instanceOf: WebsocketError});
	t.is(msg.statusCode, 503);
	t.deepEqual(await shutdown, {clean: 0, dirty: 0, terminated: 0});
	t.is(host.accepted.length, 0);
});

test('2,000 connections, websoup and ws clients mixed: close({timeout: 5000}) closes all cleanly with 1001 on both ends; a client that never answers is terminated at the deadline', async t => {
	const host = await handlerServer(t);
	const websoup: WebsocketConnection[] = [];
	const wsClients: WebSocket[] = [];
	// Opened in batches, so the listen backlog is never the limit.
	for (let batch = 0; batch < 20; batch++) {
		// eslint-disable-next-line no-await-in-loop -- one batch at a time
		await Promise.all([
			...Array.from({length: 50}, async () => {
				websoup.push(await client(t, host.url));
			}),
			...Array.from({length: 50}, async () => {
				wsClients.push(await openWs(t, host.url));
			}),
		]);
	}

	await deafClient(t, host.port);
	await host.nth(2000, 30_000);
	t.is(websoup.length, 1000);
	t.is(wsClients.length, 1000);
	const wsCloses = wsClients.map(async ws => wsClosed(ws, 30_000));
	const started = Date.now();
	let lastClean = 0;
	for (const connection of host.accepted) {
		void connection.closed.then(info => {
			if (info.wasClean) {
				lastClean = Math.max(lastClean, Date.now() - started);
			}
		});
	}

	const result = await withTimeout(host.handler.close({timeout: 5000}), 40_000, 'shutdown');
	// Counted clean only if closed before the deadline; the deaf one was terminated at it.
	t.deepEqual(result, {clean: 2000, dirty: 0, terminated: 1});
	t.true(Date.now() - started >= 4900, 'the deaf client held it until the deadline');
	t.log(`the last of the 2,000 clean closes came ${lastClean} ms after close(), the deadline at 5000 ms`);
	for (const connection of websoup) {
		t.is(connection.getCloseCode(), CloseCode.GOING_AWAY);
	}

	for (const close of await Promise.all(wsCloses)) {
		t.is(close.code, 1001);
	}

	const serverCodes = new Map<number, number>();
	for (const connection of host.accepted) {
		t.is(connection.getState(), WebsocketState.CLOSED);
		serverCodes.set(connection.getCloseCode(), (serverCodes.get(connection.getCloseCode()) ?? 0) + 1);
	}

	// The clients echoed 1001; the deaf one sent nothing (code 0).
	t.deepEqual([...serverCodes].sort(), [[0, 1], [1001, 2000]]);
});

test('close(): connections that closed before it are not counted (the handler lets go of closed connections)', async t => {
	const host = await handlerServer(t);
	// 150 connections come and go (each leaves the handler's set as it closes), one stays.
	for (let i = 0; i < 150; i++) {
		// eslint-disable-next-line no-await-in-loop -- one after the other
		const passing = await client(t, host.url);
		passing.close(1000);
		// eslint-disable-next-line no-await-in-loop
		await withTimeout(passing.closed, 5000, 'closed');
	}

	const staying = await client(t, host.url);
	await host.nth(150);
	t.deepEqual(await withTimeout(host.handler.close(), 10_000, 'shutdown'), {clean: 1, dirty: 0, terminated: 0});
	t.is(staying.getCloseCode(), CloseCode.GOING_AWAY);
});

test('the handler lets go of the connections that closed: none is kept alive for a later shutdown', async t => {
	setFlagsFromString('--expose-gc');
	const gc = runInNewContext('gc') as () => void;
	const server = createServer();
	const refs: Array<WeakRef<WebsocketConnection>> = [];
	let closed = 0;
	addWebsocketHandler(server, '/ws', null, null, (_server, _msg, _path, connection) => {
		// The application lets go of each connection once it closes: only weak references here.
		refs.push(new WeakRef(connection));
		connection.connect('closed', () => {
			closed++;
		});
	});
	server.listen(0, '127.0.0.1');
	await withTimeout(once(server, 'listening'), 5000, 'listening');
	t.teardown(() => {
		server.close();
	});
	const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`;
	const count = 20;
	const clients = await Promise.all(Array.from({length: count}, async () => openWs(t, url)));
	for (const ws of clients) {
		ws.close(1000);
	}

	await until(() => closed === count, 10_000, 'every server connection closed');
	// Bounded: a few rounds of collection, each after the turn that finished the closes.
	for (let round = 0; round < 10 && refs.some(ref => ref.deref() !== undefined); round++) {
		await new Promise(resolve => setImmediate(resolve));
		gc();
	}

	t.is(refs.filter(ref => ref.deref() !== undefined).length, 0);
});
