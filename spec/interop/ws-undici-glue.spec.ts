// Interop with independent peers over real sockets: ws and undici clients against addWebsocketHandler,
// websocketConnect against a ws server; ws:// and wss:// (self-signed certificate made in the test).

import {once} from 'node:events';
import {createServer as createHttpServer, type Server as HttpServer} from 'node:http';
import {createServer as createHttpsServer} from 'node:https';
import test, {type ExecutionContext} from 'ava';
import {Agent, WebSocket as UndiciWebSocket, type CloseEvent, type ErrorEvent, type MessageEvent} from 'undici';
import {WebSocket as WsWebSocket, WebSocketServer, type RawData} from 'ws';
import {websocketConnect} from '../../lib/node/client.ts';
import {addWebsocketHandler} from '../../lib/node/server.ts';
import {WebsocketDataType} from '../../lib/websocket/constants.ts';
import type {WebsocketConnection} from '../../lib/websocket/connection.ts';
import {waitForSignal, withTimeout} from '../helpers/signals.ts';
import {listen, patternBytes, selfSignedCertificate} from '../node/fixtures.ts';

type Scheme = 'ws' | 'wss';
type Closer = 'client' | 'server';

const ORIGIN = 'https://app.example';
const TEXT = 'Grüße, 世界 🌍 — ✓';
const LARGE = patternBytes(1024 * 1024);
const BINARY = Buffer.from(Array.from({length: 256}, (_, i) => i));
const LIMIT = 2 * 1024 * 1024;
const CLIENT_CLOSE = {code: 4001, reason: 'client bye ✓'};
const SERVER_CLOSE = {code: 4002, reason: 'server bye ✓'};

/** An http or https server on 127.0.0.1:0; for wss the URL uses `localhost`, which the certificate names. */
async function httpServer(t: ExecutionContext, scheme: Scheme): Promise<{server: HttpServer; base: string; ca: Buffer | null}> {
	if (scheme === 'ws') {
		const server = createHttpServer();
		const port = await listen(t, server);
		return {server, base: `ws://127.0.0.1:${port}`, ca: null};
	}

	const {key, cert} = await selfSignedCertificate();
	const server = createHttpsServer({key, cert}) as unknown as HttpServer;
	const port = await listen(t, server);
	return {server, base: `wss://localhost:${port}`, ca: cert};
}

/** addWebsocketHandler echo server on /chat, requiring ORIGIN, speaking v1.chat or v2.chat. */
async function websoupServer(
	t: ExecutionContext,
	scheme: Scheme,
): Promise<{url: string; ca: Buffer | null; next: () => Promise<WebsocketConnection>}> {
	const {server, base, ca} = await httpServer(t, scheme);
	const connections: WebsocketConnection[] = [];
	let waiting: ((connection: WebsocketConnection) => void) | undefined;
	addWebsocketHandler(
		server,
		'/chat',
		ORIGIN,
		['v1.chat', 'v2.chat'],
		(_server, _msg, _path, connection) => {
			connections.push(connection);
			connection.connect('message', (self, type, data) => {
				self.sendMessage(type, data);
			});
			waiting?.(connection);
		},
		{maxIncomingPayloadSize: LIMIT, maxTotalMessageSize: LIMIT},
	);
	t.teardown(() => {
		for (const connection of connections) {
			connection.getIoStream().destroy();
		}
	});
	const next = async (): Promise<WebsocketConnection> =>
		connections[0] ??
		withTimeout(
			new Promise<WebsocketConnection>(resolve => {
				waiting = resolve;
			}),
			5000,
			'server connection',
		);
	return {url: `${base}/chat/room?id=7`, ca, next};
}

// --- ws client → addWebsocketHandler -------------------------------------------------------------

async function wsClientAgainstWebsoup(t: ExecutionContext, scheme: Scheme, closer: Closer): Promise<void> {
	const {url, ca, next} = await websoupServer(t, scheme);
	const client = new WsWebSocket(url, ['v2.chat', 'v1.chat'], {origin: ORIGIN, ...(ca === null ? {} : {ca})});
	t.teardown(() => client.terminate());
	await withTimeout(once(client, 'open'), 5000, 'open');
	const server = await next();
	t.is(client.protocol, 'v1.chat'); // the server's order wins
	t.is(server.getProtocol(), 'v1.chat');
	t.is(server.getOrigin(), ORIGIN);
	t.is(server.getUri().protocol, `${scheme}:`);

	const echo = async (data: string | Buffer, binary: boolean): Promise<[Buffer, boolean]> => {
		const reply = once(client, 'message') as Promise<[RawData, boolean]>;
		client.send(data, {binary});
		const [received, isBinary] = await withTimeout(reply, 10_000, 'echo');
		return [received as Buffer, isBinary];
	};

	const [text, textIsBinary] = await echo(TEXT, false);
	t.false(textIsBinary);
	t.is(text.toString('utf8'), TEXT);
	const [binary, binaryIsBinary] = await echo(BINARY, true);
	t.true(binaryIsBinary);
	t.true(binary.equals(BINARY));
	const [large] = await echo(LARGE, true);
	t.true(large.equals(LARGE));

	const clientClosed = once(client, 'close') as Promise<[number, Buffer]>;
	if (closer === 'client') {
		client.close(CLIENT_CLOSE.code, CLIENT_CLOSE.reason);
		const info = await withTimeout(server.closed, 5000, 'server closed');
		t.is(info.code, CLIENT_CLOSE.code);
		t.is(info.reason, CLIENT_CLOSE.reason);
		t.true(info.wasClean);
		const [code, reason] = await withTimeout(clientClosed, 5000, 'client close');
		t.is(code, CLIENT_CLOSE.code); // websoup echoes the peer's code and reason, as libsoup
		t.is(reason.toString(), CLIENT_CLOSE.reason);
	} else {
		server.close(SERVER_CLOSE.code, SERVER_CLOSE.reason);
		const [code, reason] = await withTimeout(clientClosed, 5000, 'client close');
		t.is(code, SERVER_CLOSE.code);
		t.is(reason.toString(), SERVER_CLOSE.reason);
		const info = await withTimeout(server.closed, 5000, 'server closed');
		t.is(info.code, SERVER_CLOSE.code); // ws echoes the code and reason
		t.is(info.reason, SERVER_CLOSE.reason);
		t.true(info.wasClean);
	}
}

// --- undici WebSocket → addWebsocketHandler ------------------------------------------------------

async function undiciAgainstWebsoup(t: ExecutionContext, scheme: Scheme, closer: Closer): Promise<void> {
	const {url, ca, next} = await websoupServer(t, scheme);
	const dispatcher = new Agent(ca === null ? {} : {connect: {ca}});
	t.teardown(async () => dispatcher.close());
	const client = new UndiciWebSocket(url, {protocols: ['v2.chat', 'v1.chat'], dispatcher, headers: {Origin: ORIGIN}});
	client.binaryType = 'arraybuffer';
	t.teardown(() => {
		if (client.readyState < 2) {
			client.close();
		}
	});
	const event = async <E extends Event>(name: string): Promise<E> =>
		withTimeout(
			new Promise<E>((resolve, reject) => {
				client.addEventListener(name, value => resolve(value as E), {once: true});
				if (name !== 'error') {
					client.addEventListener('error', error => reject(new Error(`undici error: ${String((error as ErrorEvent).message)}`)), {once: true});
				}
			}),
			10_000,
			name,
		);
	await event('open');
	const server = await next();
	t.is(client.protocol, 'v1.chat');
	t.is(server.getProtocol(), 'v1.chat');
	t.is(server.getOrigin(), ORIGIN);

	const echo = async (data: string | Buffer): Promise<string | ArrayBuffer> => {
		const reply = event<MessageEvent>('message');
		client.send(data);
		return (await reply).data as string | ArrayBuffer;
	};

	t.is(await echo(TEXT), TEXT);
	t.true(Buffer.from((await echo(BINARY)) as ArrayBuffer).equals(BINARY));
	t.true(Buffer.from((await echo(LARGE)) as ArrayBuffer).equals(LARGE));

	const clientClosed = event<CloseEvent>('close');
	if (closer === 'client') {
		client.close(CLIENT_CLOSE.code, CLIENT_CLOSE.reason);
		const info = await withTimeout(server.closed, 5000, 'server closed');
		t.is(info.code, CLIENT_CLOSE.code);
		t.is(info.reason, CLIENT_CLOSE.reason);
		const closeEvent = await clientClosed;
		t.true(closeEvent.wasClean);
		t.is(closeEvent.code, CLIENT_CLOSE.code);
		t.is(closeEvent.reason, CLIENT_CLOSE.reason);
	} else {
		server.close(SERVER_CLOSE.code, SERVER_CLOSE.reason);
		const closeEvent = await clientClosed;
		t.true(closeEvent.wasClean);
		t.is(closeEvent.code, SERVER_CLOSE.code);
		t.is(closeEvent.reason, SERVER_CLOSE.reason);
		const info = await withTimeout(server.closed, 5000, 'server closed');
		t.is(info.code, SERVER_CLOSE.code);
		t.true(info.wasClean);
	}
}

// --- websocketConnect → ws WebSocketServer -------------------------------------------------------

async function websoupAgainstWsServer(t: ExecutionContext, scheme: Scheme, closer: Closer): Promise<void> {
	const {server: http, base, ca} = await httpServer(t, scheme);
	const seen: {origin?: string; url?: string} = {};
	const wss = new WebSocketServer({
		server: http,
		maxPayload: LIMIT,
		handleProtocols: protocols => (protocols.has('v1.chat') ? 'v1.chat' : false),
		verifyClient: (info: {origin: string}) => info.origin === ORIGIN,
	});
	t.teardown(() => {
		for (const peer of wss.clients) {
			peer.terminate();
		}

		wss.close();
	});
	const peerReady = withTimeout(
		new Promise<WsWebSocket>(resolve => {
			wss.on('connection', (peer, req) => {
				seen.origin = req.headers.origin ?? '';
				seen.url = req.url ?? '';
				peer.on('message', (data, isBinary) => {
					peer.send(data, {binary: isBinary});
				});
				resolve(peer);
			});
		}),
		5000,
		'ws connection',
	);
	const connection = await websocketConnect(`${base}/chat?id=7`, ORIGIN, ['v2.chat', 'v1.chat'], {
		maxIncomingPayloadSize: LIMIT,
		...(ca === null ? {} : {tls: {ca}}),
	});
	t.teardown(() => connection.getIoStream().destroy());
	const peer = await peerReady;
	t.is(connection.getProtocol(), 'v1.chat');
	t.is(peer.protocol, 'v1.chat');
	t.is(seen.origin, ORIGIN);
	t.is(seen.url, '/chat?id=7');

	const echo = async (send: () => void): Promise<[WebsocketDataType, Buffer]> => {
		const reply = waitForSignal(connection, 'message', 10_000);
		send();
		return reply;
	};

	const [textType, text] = await echo(() => connection.sendText(TEXT));
	t.is(textType, WebsocketDataType.TEXT);
	t.is(text.toString('utf8'), TEXT);
	const [binaryType, binary] = await echo(() => connection.sendBinary(BINARY));
	t.is(binaryType, WebsocketDataType.BINARY);
	t.true(binary.equals(BINARY));
	const [, large] = await echo(() => connection.sendBinary(LARGE));
	t.true(large.equals(LARGE));

	const peerClosed = once(peer, 'close') as Promise<[number, Buffer]>;
	if (closer === 'client') {
		connection.close(CLIENT_CLOSE.code, CLIENT_CLOSE.reason);
		const [code, reason] = await withTimeout(peerClosed, 5000, 'ws close');
		t.is(code, CLIENT_CLOSE.code);
		t.is(reason.toString(), CLIENT_CLOSE.reason);
		const info = await withTimeout(connection.closed, 5000, 'closed');
		t.is(info.code, CLIENT_CLOSE.code); // ws echoes the code and reason
		t.is(info.reason, CLIENT_CLOSE.reason);
		t.true(info.wasClean);
	} else {
		const closing = waitForSignal(connection, 'closing');
		peer.close(SERVER_CLOSE.code, SERVER_CLOSE.reason);
		await closing;
		const info = await withTimeout(connection.closed, 5000, 'closed');
		t.is(info.code, SERVER_CLOSE.code);
		t.is(info.reason, SERVER_CLOSE.reason);
		t.true(info.wasClean);
		const [code, reason] = await withTimeout(peerClosed, 5000, 'ws close');
		t.is(code, SERVER_CLOSE.code);
		t.is(reason.toString(), SERVER_CLOSE.reason);
	}
}

for (const scheme of ['ws', 'wss'] as const) {
	for (const closer of ['client', 'server'] as const) {
		test(`ws client → addWebsocketHandler over ${scheme}: subprotocol, origin, text/binary/1 MiB, ${closer} closes`, async t => {
			await wsClientAgainstWebsoup(t, scheme, closer);
		});
		test(`undici WebSocket → addWebsocketHandler over ${scheme}: subprotocol, origin, text/binary/1 MiB, ${closer} closes`, async t => {
			await undiciAgainstWebsoup(t, scheme, closer);
		});
		test(`websocketConnect → ws WebSocketServer over ${scheme}: subprotocol, origin, text/binary/1 MiB, ${closer} closes`, async t => {
			await websoupAgainstWsServer(t, scheme, closer);
		});
	}
}

test('ws client: a refused origin is an HTTP 403 with libsoup\'s body', async t => {
	const {url} = await websoupServer(t, 'ws');
	const client = new WsWebSocket(url, {origin: 'https://evil.example'});
	client.on('error', () => {});
	t.teardown(() => client.terminate());
	const [, response] = (await withTimeout(once(client, 'unexpected-response'), 5000, 'response')) as [
		unknown,
		import('node:http').IncomingMessage,
	];
	t.is(response.statusCode, 403);
	let body = '';
	response.setEncoding('utf8');
	for await (const chunk of response) {
		body += chunk as string;
	}

	t.is(body, '<html><head><title>403 Forbidden</title></head>\r\n<body>Received invalid WebSocket request</body></html>\r\n');
});

test('websocketConnect: a ws server refusing the origin is NOT_WEBSOCKET with the 401/403 kept on the message', async t => {
	const {server: http, base} = await httpServer(t, 'ws');
	const wss = new WebSocketServer({server: http, verifyClient: (info: {origin: string}) => info.origin === ORIGIN});
	t.teardown(() => wss.close());
	const {Message} = await import('../../lib/websocket/message.ts');
	const msg = new Message(`${base}/`);
	await t.throwsAsync(websocketConnect(msg, 'https://evil.example'), {
		message: 'The server did not accept the WebSocket handshake.',
	});
	t.is(msg.statusCode, 401);
});
