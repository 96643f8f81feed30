// WebSockets over HTTP/2 (RFC 8441): addWebsocketHandler on node:http2 servers, websocketConnect({http2}).

import {once} from 'node:events';
import http2, {type ServerHttp2Stream} from 'node:http2';
import https from 'node:https';
import test from 'ava';
import {websocketConnect} from '../../lib/node/client.ts';
import {addWebsocketHandler} from '../../lib/node/server.ts';
import {CloseCode, WebsocketDataType, WebsocketState} from '../../lib/websocket/constants.ts';
import type {WebsocketConnection} from '../../lib/websocket/connection.ts';
import {WebsocketError, WebsocketErrorCode} from '../../lib/websocket/errors.ts';
import {WebsocketExtensionDeflate} from '../../lib/websocket/extensions/deflate.ts';
import {serverProcessHandshake} from '../../lib/websocket/handshake.ts';
import {writeResponseHead} from '../../lib/http/head.ts';
import {Message} from '../../lib/http/message.ts';
import {messageFromIncomingMessage} from '../../lib/node/incoming-message.ts';
import {clientSession, h2cServer, h2Server, listenHttp2, rawExtendedConnect} from '../helpers/http2.ts';
import {waitForSignal, withTimeout} from '../helpers/signals.ts';
import {listen, patternBytes, selfSignedCertificate} from './fixtures.ts';

/** Echoes every message back; records the server connections. */
function echo(connections: WebsocketConnection[] = []) {
	return (_server: unknown, _msg: Message, _path: string, connection: WebsocketConnection): void => {
		connections.push(connection);
		connection.connect('message', (self, type, data) => {
			self.sendMessage(type, data);
		});
	};
}

async function roundTrip(connection: WebsocketConnection, text: string): Promise<string> {
	const reply = waitForSignal(connection, 'message', 10_000);
	connection.sendText(text);
	const [type, data] = await reply;
	return type === WebsocketDataType.TEXT ? Buffer.from(data).toString('utf8') : `binary:${data.length}`;
}

test('h2c: a client with http2: true echoes text and binary over an extended CONNECT stream', async t => {
	const server = h2cServer();
	const streams: Array<{method: unknown; protocol: unknown}> = [];
	server.on('stream', (_stream, headers) => streams.push({method: headers[':method'], protocol: headers[':protocol']}));
	const connections: WebsocketConnection[] = [];
	addWebsocketHandler(server, '/ws', null, ['chat'], echo(connections));
	const port = await listenHttp2(t, server);

	const client = await websocketConnect(`ws://127.0.0.1:${port}/ws`, 'http://127.0.0.1', ['other', 'chat'], {http2: true});
	t.is(client.getProtocol(), 'chat');
	t.is(await roundTrip(client, 'hello over h2'), 'hello over h2');
	const binary = waitForSignal(client, 'message', 10_000);
	client.sendBinary(patternBytes(200_000).subarray(0, 100_000));
	const [type, data] = await binary;
	t.is(type, WebsocketDataType.BINARY);
	t.true(Buffer.from(data).equals(patternBytes(200_000).subarray(0, 100_000)));
	t.deepEqual(streams, [{method: 'CONNECT', protocol: 'websocket'}]);
	t.is(connections[0]!.getOrigin(), 'http://127.0.0.1');
	t.is(connections[0]!.getUri().href, `ws://127.0.0.1:${port}/ws`);

	const closed = waitForSignal(connections[0]!, 'closed', 10_000);
	client.close(CloseCode.NORMAL, 'bye');
	await waitForSignal(client, 'closed', 10_000);
	await closed;
	t.is(connections[0]!.getCloseCode(), CloseCode.NORMAL);
	t.is(connections[0]!.getCloseData(), 'bye');
});

test('h2 over TLS with allowHTTP1: HTTP/2 and HTTP/1.1 WebSockets on the same port', async t => {
	const server = await h2Server({allowHTTP1: true});
	let upgrades = 0;
	let extendedConnects = 0;
	server.on('upgrade', () => upgrades++);
	server.on('stream', (_stream, headers) => {
		if (headers[':protocol'] === 'websocket') {
			extendedConnects++;
		}
	});
	addWebsocketHandler(server, '/ws', null, null, echo());
	const port = await listenHttp2(t, server);
	const {cert} = await selfSignedCertificate();

	const overH2 = await websocketConnect(`wss://127.0.0.1:${port}/ws`, null, null, {http2: true, tls: {ca: cert}});
	t.is(await roundTrip(overH2, 'h2'), 'h2');
	const overH1 = await websocketConnect(`wss://127.0.0.1:${port}/ws`, null, null, {tls: {ca: cert}});
	t.is(await roundTrip(overH1, 'h1'), 'h1');
	t.is(extendedConnects, 1);
	t.is(upgrades, 1);
	overH2.close();
	overH1.close();
	await Promise.all([waitForSignal(overH2, 'closed', 10_000), waitForSignal(overH1, 'closed', 10_000)]);
});

test("http2: 'auto' rides HTTP/2 where the server offers it, HTTP/1.1 where it does not", async t => {
	const {cert, key} = await selfSignedCertificate();
	const h2 = await h2Server({allowHTTP1: true});
	let extendedConnects = 0;
	h2.on('stream', () => extendedConnects++);
	addWebsocketHandler(h2, '/ws', null, null, echo());
	const h2Port = await listenHttp2(t, h2);

	const h1 = https.createServer({key, cert});
	addWebsocketHandler(h1, '/ws', null, null, echo());
	const h1Port = await listen(t, h1);

	// An HTTP/2 server that does not allow extended CONNECT, answering HTTP/1.1 upgrades itself.
	const noConnect = http2.createSecureServer({key, cert, allowHTTP1: true});
	let fallbackUpgrades = 0;
	noConnect.on('upgrade', (req, socket) => {
		fallbackUpgrades++;
		const msg = messageFromIncomingMessage(req);
		serverProcessHandshake(msg, null, null);
		writeResponseHead(socket, msg);
		// A Close frame (1000) at once: the client answers it and the server ends the socket.
		socket.write(Buffer.from('880203e8', 'hex'));
		socket.once('data', () => socket.end());
	});
	const noConnectPort = await listenHttp2(t, noConnect);

	const viaH2 = await websocketConnect(`wss://127.0.0.1:${h2Port}/ws`, null, null, {http2: 'auto', tls: {ca: cert}});
	t.is(await roundTrip(viaH2, 'auto h2'), 'auto h2');
	t.is(extendedConnects, 1);
	t.is(viaH2.getIoStream().constructor.name, 'ClientHttp2Stream');

	const viaH1 = await websocketConnect(`wss://127.0.0.1:${h1Port}/ws`, null, null, {http2: 'auto', tls: {ca: cert}});
	t.is(await roundTrip(viaH1, 'auto h1'), 'auto h1');
	t.not(viaH1.getIoStream().constructor.name, 'ClientHttp2Stream');

	const viaFallback = await websocketConnect(`wss://127.0.0.1:${noConnectPort}/ws`, null, null, {http2: 'auto', tls: {ca: cert}});
	t.is(fallbackUpgrades, 1);
	t.is((await withTimeout(viaFallback.closed, 10_000, 'fallback closed')).code, CloseCode.NORMAL);
	t.not(viaFallback.getIoStream().constructor.name, 'ClientHttp2Stream');

	// Without 'auto', a server that does not allow extended CONNECT is a clear error.
	const error = await t.throwsAsync(
		websocketConnect(`wss://127.0.0.1:${noConnectPort}/ws`, null, null, {http2: true, tls: {ca: cert}}),
		{instanceOf: WebsocketError},
	);
	t.is(error?.code, WebsocketErrorCode.NOT_WEBSOCKET);
	t.is(error?.reason, 'WS_ERR_NO_EXTENDED_CONNECT');
	for (const connection of [viaH2, viaH1, viaFallback]) {
		connection.close();
	}

	await withTimeout(Promise.all([viaH2.closed, viaH1.closed, viaFallback.closed]), 10_000, 'all closed');
});

test('addWebsocketHandler refuses an HTTP/2 server created without enableConnectProtocol', t => {
	const server = http2.createServer();
	t.throws(() => addWebsocketHandler(server, '/ws', null, null, () => {}), {
		instanceOf: TypeError,
		message: /enableConnectProtocol/,
	});
	t.is(server.listenerCount('stream'), 0);
	t.is(server.listenerCount('request'), 0);
});

test("a compatibility 'request' listener does not end the CONNECT stream, before or after the handler", async t => {
	for (const order of ['request first', 'handler first'] as const) {
		const server = h2cServer();
		const onRequest = (_req: http2.Http2ServerRequest, res: http2.Http2ServerResponse): void => {
			res.end('page');
		};

		if (order === 'request first') {
			server.on('request', onRequest);
		}

		addWebsocketHandler(server, '/ws', null, null, echo());
		if (order === 'handler first') {
			server.on('request', onRequest);
		}

		const port = await listenHttp2(t, server);
		const session = await clientSession(t, `http://127.0.0.1:${port}`);
		const connection = await websocketConnect(`ws://127.0.0.1:${port}/ws`, null, null, {http2: session});
		t.is(await roundTrip(connection, order), order, order);

		// Plain requests still reach the application's listener, on the same session.
		const page = session.request({':path': '/'});
		page.setEncoding('utf8');
		let body = '';
		page.on('data', (chunk: string) => {
			body += chunk;
		});
		await withTimeout(once(page, 'end'), 10_000, 'page');
		t.is(body, 'page', order);

		// A CONNECT that is not websoup's gets Node's 405.
		const other = session.request({':method': 'CONNECT', ':authority': 'example.com:443'});
		other.on('error', () => {});
		const [headers] = (await withTimeout(once(other, 'response'), 10_000, 'CONNECT response')) as [http2.IncomingHttpHeaders];
		t.is(Number(headers[':status']), 405, order);
		// The refused stream is then reset with NO_ERROR (RFC 9113 §8.1), not left half-open.
		await withTimeout(once(other, 'close'), 10_000, 'refused stream closed');
		t.is(other.rstCode, http2.constants.NGHTTP2_NO_ERROR, order);
		t.false(session.closed, order);
		connection.close();
		await waitForSignal(connection, 'closed', 10_000);
	}
});

test('100 simultaneous WebSockets on one session each echo and close on their own; the session survives every close', async t => {
	const server = h2cServer();
	const connections: WebsocketConnection[] = [];
	addWebsocketHandler(server, '/ws', null, null, echo(connections));
	const port = await listenHttp2(t, server);
	const session = await clientSession(t, `http://127.0.0.1:${port}`);
	let sessionClosed = false;
	session.once('close', () => {
		sessionClosed = true;
	});

	const count = 100;
	const clients = await Promise.all(
		Array.from({length: count}, async (_, i) => websocketConnect(`ws://127.0.0.1:${port}/ws?n=${i}`, null, null, {http2: session})),
	);
	t.is(connections.length, count);
	const replies = await Promise.all(clients.map(async (client, i) => roundTrip(client, `message ${i}`)));
	t.deepEqual(replies, Array.from({length: count}, (_, i) => `message ${i}`));

	// Close them one by one, odd ones from the client and even ones from the server; the others stay open.
	for (let i = 0; i < count; i++) {
		const client = clients[i]!;
		const peer = connections.find(connection => connection.getUri().search === `?n=${i}`)!;
		const closed = Promise.all([waitForSignal(client, 'closed', 10_000), waitForSignal(peer, 'closed', 10_000)]);
		if (i % 2 === 0) {
			peer.close(CloseCode.NORMAL, `server ${i}`);
		} else {
			client.close(CloseCode.NORMAL, `client ${i}`);
		}

		await closed;
		t.is(client.getCloseCode(), CloseCode.NORMAL);
		t.false(session.closed || session.destroyed || sessionClosed, `session after close ${i}`);
		const next = clients[i + 1];
		if (next !== undefined) {
			t.is(next.getState(), WebsocketState.OPEN);
			t.is(await roundTrip(next, `still ${i + 1}`), `still ${i + 1}`);
		}
	}

	// The session takes new WebSockets afterwards.
	const again = await websocketConnect(`ws://127.0.0.1:${port}/ws`, null, null, {http2: session});
	t.is(await roundTrip(again, 'again'), 'again');
	again.close();
	await waitForSignal(again, 'closed', 10_000);
	t.false(sessionClosed);
});

test('a clean close ends both sides of the stream (END_STREAM), no RST_STREAM; the session stays open', async t => {
	const server = h2cServer();
	const serverStreams: ServerHttp2Stream[] = [];
	server.on('stream', stream => serverStreams.push(stream));
	const connections: WebsocketConnection[] = [];
	addWebsocketHandler(server, '/ws', null, null, echo(connections));
	const port = await listenHttp2(t, server);
	const session = await clientSession(t, `http://127.0.0.1:${port}`);
	const client = await websocketConnect(`ws://127.0.0.1:${port}/ws`, null, null, {http2: session});
	const stream = client.getIoStream() as http2.ClientHttp2Stream;
	const streamClosed = once(stream, 'close');
	client.close(CloseCode.GOING_AWAY);
	await Promise.all([waitForSignal(client, 'closed', 10_000), waitForSignal(connections[0]!, 'closed', 10_000)]);
	await withTimeout(streamClosed, 10_000, 'stream close');
	t.is(stream.rstCode, http2.constants.NGHTTP2_NO_ERROR);
	t.true(stream.readableEnded);
	t.true(serverStreams[0]!.readableEnded);
	t.is(connections[0]!.getCloseCode(), CloseCode.GOING_AWAY);
	t.false(session.closed);
});

test('a stream reset by the peer closes only its WebSocket (dirty, like a TCP reset)', async t => {
	const server = h2cServer();
	const connections: WebsocketConnection[] = [];
	addWebsocketHandler(server, '/ws', null, null, echo(connections));
	const port = await listenHttp2(t, server);
	const session = await clientSession(t, `http://127.0.0.1:${port}`);
	const first = await websocketConnect(`ws://127.0.0.1:${port}/ws`, null, null, {http2: session});
	const second = await websocketConnect(`ws://127.0.0.1:${port}/ws`, null, null, {http2: session});
	const serverClosed = waitForSignal(connections[0]!, 'closed', 10_000);
	(first.getIoStream() as http2.ClientHttp2Stream).close(http2.constants.NGHTTP2_CANCEL);
	await serverClosed;
	t.is(connections[0]!.getCloseCode(), 0);
	t.is(await roundTrip(second, 'unaffected'), 'unaffected');
	second.close();
	await waitForSignal(second, 'closed', 10_000);
});

test('refusals over HTTP/2 keep their status and body, and the session goes on', async t => {
	const server = h2cServer();
	addWebsocketHandler(server, '/ws', 'https://good.example', ['chat'], echo(), {
		check(msg) {
			if (msg.uri.searchParams.has('deny')) {
				msg.setStatus(401);
				msg.responseHeaders.append('WWW-Authenticate', 'Bearer');
			}
		},
	});
	const port = await listenHttp2(t, server);
	const session = await clientSession(t, `http://127.0.0.1:${port}`);

	const badOrigin = new Message(`ws://127.0.0.1:${port}/ws`);
	const originError = await t.throwsAsync(websocketConnect(badOrigin, 'https://evil.example', ['chat'], {http2: session}), {
		instanceOf: WebsocketError,
	});
	t.is(originError?.reason, 'WS_ERR_UNEXPECTED_RESPONSE');
	t.is(badOrigin.statusCode, 403);
	t.regex(badOrigin.responseBody?.toString('utf8') ?? '', /403 Forbidden/);
	t.is(badOrigin.responseHeaders.getOne('Connection'), null);

	const denied = new Message(`ws://127.0.0.1:${port}/ws?deny`);
	await t.throwsAsync(websocketConnect(denied, 'https://good.example', ['chat'], {http2: session}));
	t.is(denied.statusCode, 401);
	t.is(denied.responseHeaders.getOne('WWW-Authenticate'), 'Bearer');

	const wrongProtocol = new Message(`ws://127.0.0.1:${port}/ws`);
	await t.throwsAsync(websocketConnect(wrongProtocol, 'https://good.example', ['other'], {http2: session}));
	t.is(wrongProtocol.statusCode, 400);

	const notFound = new Message(`ws://127.0.0.1:${port}/elsewhere`);
	await t.throwsAsync(websocketConnect(notFound, null, null, {http2: session}));
	t.is(notFound.statusCode, 404);

	// RFC 8441 §5 checks on a raw stream: no version, another :protocol.
	const noVersion = await rawExtendedConnect(session, port, '/ws', {'sec-websocket-version': undefined, origin: 'https://good.example'});
	t.is(Number(noVersion.response[':status']), 400);
	t.regex(await noVersion.body(), /Unsupported WebSocket version/);
	const otherProtocol = await rawExtendedConnect(session, port, '/ws', {':protocol': 'webtransport', origin: 'https://good.example'});
	t.is(Number(otherProtocol.response[':status']), 400);
	t.regex(await otherProtocol.body(), /WebSocket handshake expected/);

	// A plain GET at the handled path, with no other request listener: 400, as over HTTP/1.1.
	const plain = session.request({':path': '/ws'});
	plain.on('error', () => {});
	const [plainHeaders] = (await withTimeout(once(plain, 'response'), 10_000, 'plain response')) as [http2.IncomingHttpHeaders];
	t.is(Number(plainHeaders[':status']), 400);

	const good = await websocketConnect(`ws://127.0.0.1:${port}/ws`, 'https://good.example', ['chat'], {http2: session});
	t.is(await roundTrip(good, 'after refusals'), 'after refusals');
	t.false(session.closed);
	good.close();
	await waitForSignal(good, 'closed', 10_000);
});

test('permessage-deflate and the message limits work unchanged over a stream', async t => {
	const server = h2cServer();
	const connections: WebsocketConnection[] = [];
	addWebsocketHandler(server, '/ws', null, null, echo(connections), {maxTotalMessageSize: 64 * 1024});
	const port = await listenHttp2(t, server);
	const session = await clientSession(t, `http://127.0.0.1:${port}`);

	const deflated = await websocketConnect(`ws://127.0.0.1:${port}/ws`, null, null, {
		http2: session,
		extensions: [WebsocketExtensionDeflate],
	});
	t.is(deflated.getExtensions().length, 1);
	t.is(connections[0]!.getExtensions()[0]?.name, 'permessage-deflate');
	const text = 'compressible '.repeat(4000);
	t.is(await roundTrip(deflated, text), text);

	const limited = await websocketConnect(`ws://127.0.0.1:${port}/ws`, null, null, {http2: session});
	const serverError = waitForSignal(connections[1]!, 'error', 10_000);
	const closed = waitForSignal(limited, 'closed', 10_000);
	limited.sendBinary(new Uint8Array(65 * 1024));
	const [error] = await serverError;
	t.is((error as WebsocketError).reason, 'WS_ERR_MESSAGE_TOO_BIG');
	await closed;
	t.is(limited.getCloseCode(), CloseCode.TOO_BIG);
	t.is(await roundTrip(deflated, 'still here'), 'still here');
	deflated.close();
	await waitForSignal(deflated, 'closed', 10_000);
});

test('websocketConnect refuses a bad http2 option with a TypeError', async t => {
	await t.throwsAsync(websocketConnect('ws://127.0.0.1:1/', null, null, {http2: 'yes' as 'auto'}), {
		instanceOf: TypeError,
		message: /`http2`/,
	});
});

test("undici 7's WebSocket over HTTP/2 (Agent allowH2) talks to addWebsocketHandler on an extended CONNECT stream", async t => {
	const {Agent, WebSocket} = await import('undici');
	const server = await h2Server();
	const methods: unknown[] = [];
	server.on('stream', (_stream, headers) => methods.push(headers[':method']));
	const connections: WebsocketConnection[] = [];
	addWebsocketHandler(server, '/ws', null, ['chat'], echo(connections));
	const port = await listenHttp2(t, server);
	const {cert} = await selfSignedCertificate();
	const agent = new Agent({allowH2: true, connect: {ca: cert}});
	t.teardown(async () => agent.close());
	// undici warns once that its WebSocket over HTTP/2 is experimental.
	const onWarning = (): void => {};
	process.on('warning', onWarning);
	t.teardown(() => process.removeListener('warning', onWarning));

	const socket = new WebSocket(`wss://127.0.0.1:${port}/ws`, {protocols: ['chat'], dispatcher: agent});
	socket.binaryType = 'arraybuffer';
	const events: string[] = [];
	const done = new Promise<{code: number; reason: string; wasClean: boolean}>((resolve, reject) => {
		socket.onopen = () => {
			events.push(`open ${socket.protocol} ${socket.extensions}`);
			socket.send('text from undici');
		};

		socket.onmessage = event => {
			if (typeof event.data === 'string') {
				events.push(`text ${event.data}`);
				socket.send(patternBytes(70_000));
			} else {
				events.push(`binary ${(event.data as ArrayBuffer).byteLength} ${Buffer.from(event.data as ArrayBuffer).equals(patternBytes(70_000))}`);
				socket.close(4000, 'undici bye');
			}
		};

		socket.onerror = event => reject(new Error(`undici WebSocket error: ${String((event as unknown as {error?: unknown}).error)}`));
		socket.onclose = event => resolve({code: event.code, reason: event.reason, wasClean: event.wasClean});
	});
	const close = await withTimeout(done, 15_000, 'undici close');
	t.deepEqual(events, ['open chat permessage-deflate; client_max_window_bits=15', 'text text from undici', 'binary 70000 true']);
	t.deepEqual(close, {code: 4000, reason: 'undici bye', wasClean: true});
	t.deepEqual(methods, ['CONNECT']);
	await withTimeout(connections[0]!.closed, 10_000, 'server closed');
	t.is(connections[0]!.getCloseCode(), 4000);
});

test('a custom HTTP/2 server does the handshake itself with the helpers; websocketConnect talks to it', async t => {
	const server = h2cServer();
	const {messageFromHttp2Headers, respondHttp2Stream} = await import('../../lib/node/http2-message.ts');
	const {WebsocketConnection} = await import('../../lib/websocket/connection.ts');
	const {WebsocketConnectionType} = await import('../../lib/websocket/constants.ts');
	const made: WebsocketConnection[] = [];
	server.on('stream', (stream, headers) => {
		const msg = messageFromHttp2Headers(headers, {stream});
		const result = serverProcessHandshake(msg, null, ['v1']);
		respondHttp2Stream(stream, msg);
		if (result.accepted) {
			const connection = new WebsocketConnection({
				ioStream: stream,
				connectionType: WebsocketConnectionType.SERVER,
				uri: msg.uri,
				protocol: result.protocol,
				extensions: result.extensions,
			});
			made.push(connection);
			connection.connect('message', (self, type, data) => {
				self.sendMessage(type, data);
			});
		}
	});
	const port = await listenHttp2(t, server);
	const msg = new Message(`ws://127.0.0.1:${port}/custom?x=1`);
	const client = await websocketConnect(msg, null, ['v1'], {http2: true});
	t.is(msg.httpVersion, '2');
	t.is(msg.method, 'CONNECT');
	t.is(msg.statusCode, 200);
	t.is(msg.responseHeaders.getOne('Sec-WebSocket-Protocol'), 'v1');
	t.is(msg.responseHeaders.getOne('Sec-WebSocket-Accept'), null);
	t.is(made[0]!.getUri().href, `ws://127.0.0.1:${port}/custom?x=1`);
	t.is(await roundTrip(client, 'custom'), 'custom');

	// A subprotocol the helpers refuse: the custom server's 400 reaches the client with its body.
	const refused = new Message(`ws://127.0.0.1:${port}/custom`);
	const error = await t.throwsAsync(websocketConnect(refused, null, ['v2'], {http2: true}), {instanceOf: WebsocketError});
	t.is(error?.reason, 'WS_ERR_UNEXPECTED_RESPONSE');
	t.is(refused.statusCode, 400);
	t.regex(refused.responseBody?.toString('utf8') ?? '', /Unsupported WebSocket subprotocol/);
	client.close();
	await waitForSignal(client, 'closed', 10_000);
});

test('server: a slow check hook gets 503 on its stream, a throwing one 500, a stream ended with its headers 400', async t => {
	const server = h2cServer();
	addWebsocketHandler(server, '/slow', null, null, echo(), {
		handshakeTimeout: 100,
		async check() {
			// Never finishes: only the handshake timeout can answer.
			await new Promise(() => {});
		},
	});
	addWebsocketHandler(server, '/throws', null, null, echo(), {
		check() {
			throw new Error('boom');
		},
	});
	addWebsocketHandler(server, '/ws', null, null, echo());
	const port = await listenHttp2(t, server);
	const session = await clientSession(t, `http://127.0.0.1:${port}`);
	const slow = await rawExtendedConnect(session, port, '/slow');
	t.is(Number(slow.response[':status']), 503);
	const throws = await rawExtendedConnect(session, port, '/throws');
	t.is(Number(throws.response[':status']), 500);

	const ended = session.request(
		{':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'http', ':path': '/ws', ':authority': `127.0.0.1:${port}`, 'sec-websocket-version': '13'},
		{endStream: true},
	);
	ended.on('error', () => {});
	const [headers] = (await withTimeout(once(ended, 'response'), 10_000, 'response')) as [http2.IncomingHttpHeaders];
	t.is(Number(headers[':status']), 400);
	t.false(session.closed);
});

test('server: a callback that throws closes that WebSocket with 1011 and warns; the session goes on', async t => {
	const server = h2cServer();
	addWebsocketHandler(server, '/ws', null, null, () => {
		throw new Error('callback bug');
	});
	const port = await listenHttp2(t, server);
	const session = await clientSession(t, `http://127.0.0.1:${port}`);
	const warned = once(process, 'warning');
	const client = await websocketConnect(`ws://127.0.0.1:${port}/ws`, null, null, {http2: session});
	const [warning] = (await withTimeout(warned, 10_000, 'warning')) as [Error & {code?: string}];
	t.is(warning.code, 'WEBSOCKET_CALLBACK_THREW');
	await waitForSignal(client, 'closed', 10_000);
	t.is(client.getCloseCode(), CloseCode.SERVER_ERROR);
	t.false(session.closed);
});

test('server with allowHTTP1: an HTTP/1.1 CONNECT nobody listens for is dropped, as Node does', async t => {
	const {connect} = await import('node:tls');
	const server = await h2Server({allowHTTP1: true});
	addWebsocketHandler(server, '/ws', null, null, echo());
	const port = await listenHttp2(t, server);
	const {cert} = await selfSignedCertificate();
	const socket = connect({host: '127.0.0.1', port, ca: cert, ALPNProtocols: ['http/1.1'], servername: 'localhost'});
	t.teardown(() => socket.destroy());
	socket.on('error', () => {});
	await withTimeout(once(socket, 'secureConnect'), 10_000, 'TLS');
	socket.write('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
	let data = '';
	socket.on('data', (chunk: Buffer) => {
		data += chunk.toString('latin1');
	});
	await withTimeout(once(socket, 'close'), 10_000, 'socket close');
	t.is(data, '');
});

test('client: the handshake timeout and the abort signal bound an HTTP/2 handshake; the shared session survives', async t => {
	const server = h2cServer();
	// Never answers its streams.
	server.on('stream', stream => {
		stream.on('error', () => {});
	});
	const port = await listenHttp2(t, server);
	const session = await clientSession(t, `http://127.0.0.1:${port}`);
	const timedOut = await t.throwsAsync(
		websocketConnect(`ws://127.0.0.1:${port}/ws`, null, null, {http2: session, handshakeTimeout: 200}),
		{instanceOf: WebsocketError},
	);
	t.is(timedOut?.reason, 'WS_ERR_HANDSHAKE_TIMEOUT');

	const controller = new AbortController();
	const aborted = websocketConnect(`ws://127.0.0.1:${port}/ws`, null, null, {http2: session, signal: controller.signal});
	setImmediate(() => controller.abort());
	t.is((await t.throwsAsync(aborted, {instanceOf: WebsocketError}))?.reason, 'WS_ERR_ABORTED');

	const owned = await t.throwsAsync(
		websocketConnect(`ws://127.0.0.1:${port}/ws`, null, null, {http2: true, handshakeTimeout: 200}),
		{instanceOf: WebsocketError},
	);
	t.is(owned?.reason, 'WS_ERR_HANDSHAKE_TIMEOUT');
	t.false(session.closed || session.destroyed);
});

test('client: a closed session is a TypeError; a refusal keeps at most 64 KiB of its body; a refused port is the transport error', async t => {
	const server = h2cServer();
	server.on('stream', stream => {
		stream.respond({':status': 418});
		stream.end(Buffer.alloc(100_000, 0x62));
	});
	const port = await listenHttp2(t, server);
	const session = await clientSession(t, `http://127.0.0.1:${port}`);
	const msg = new Message(`ws://127.0.0.1:${port}/ws`);
	const error = await t.throwsAsync(websocketConnect(msg, null, null, {http2: session}), {instanceOf: WebsocketError});
	t.is(error?.code, WebsocketErrorCode.NOT_WEBSOCKET);
	t.is(msg.statusCode, 418);
	t.is(msg.responseBody?.length, 64 * 1024);

	session.close();
	await withTimeout(once(session, 'close'), 10_000, 'session close');
	await t.throwsAsync(websocketConnect(`ws://127.0.0.1:${port}/ws`, null, null, {http2: session}), {
		instanceOf: TypeError,
		message: /open ClientHttp2Session/,
	});

	const closedPort = await new Promise<number>(resolve => {
		const probe = h2cServer();
		probe.listen(0, '127.0.0.1', () => {
			const {port: free} = probe.address() as import('node:net').AddressInfo;
			probe.close(() => resolve(free));
		});
	});
	const refused = await t.throwsAsync(websocketConnect(`ws://127.0.0.1:${closedPort}/ws`, null, null, {http2: true}));
	t.is((refused as NodeJS.ErrnoException | undefined)?.code, 'ECONNREFUSED');
});

test('a peer reset with NO_ERROR closes the WebSocket at once (a TCP reset), not after the close timeout', async t => {
	const server = h2cServer();
	const connections: WebsocketConnection[] = [];
	addWebsocketHandler(server, '/ws', null, null, echo(connections));
	const port = await listenHttp2(t, server);
	const session = await clientSession(t, `http://127.0.0.1:${port}`);
	// Only the reset can close the client within the wait below, not its close timeout.
	const client = await websocketConnect(`ws://127.0.0.1:${port}/ws`, null, null, {http2: session, closeTimeout: 120_000});
	(connections[0]!.getIoStream() as ServerHttp2Stream).close(http2.constants.NGHTTP2_NO_ERROR);
	const info = await withTimeout(client.closed, 20_000, 'client closed');
	t.is(info.code, 0);
	t.false(info.wasClean);
	t.false(session.closed);
});

test('the callback\'s Message over HTTP/2: an address asked for is kept; first asked after the session closed, it is null (no throw)', async t => {
	const server = h2cServer();
	const accepted: Array<{msg: Message; connection: WebsocketConnection}> = [];
	addWebsocketHandler(server, '/ws', null, null, (_server, msg, _path, connection) => {
		accepted.push({msg, connection});
		if (accepted.length === 1) {
			t.is(msg.getRemoteHost(), '127.0.0.1');
			t.is(msg.getRemoteAddress()?.address, '127.0.0.1');
			t.is(msg.getLocalAddress()?.address, '127.0.0.1');
		}
	});
	const port = await listenHttp2(t, server);
	const session = await clientSession(t, `http://127.0.0.1:${port}`);
	await websocketConnect(`ws://127.0.0.1:${port}/ws`, null, null, {http2: session});
	await websocketConnect(`ws://127.0.0.1:${port}/ws`, null, null, {http2: session});
	t.is(accepted.length, 2);
	const serverSession = (accepted[0]!.connection.getIoStream() as ServerHttp2Stream).session!;
	const sessionClosed = once(serverSession, 'close');
	session.destroy();
	await withTimeout(Promise.all([sessionClosed, ...accepted.map(async ({connection}) => connection.closed)]), 10_000, 'the server session closed');
	// Asked in the callback: kept.
	const [asked, unasked] = accepted;
	t.is(asked!.msg.getRemoteHost(), '127.0.0.1');
	t.is(asked!.msg.getLocalAddress()?.port, port);
	// Never asked while the session was open: Node's proxy of the session's socket throws
	// ERR_HTTP2_SOCKET_UNBOUND now; the message answers null, as for a closed TCP socket.
	t.is(unasked!.msg.getRemoteAddress(), null);
	t.is(unasked!.msg.getLocalAddress(), null);
	t.is(unasked!.msg.getRemoteHost(), null);
	t.is(unasked!.msg.remoteAddress, null);
});

test('handler.close() over HTTP/2: a connection that closed before is not counted, the open ones get 1001; later streams get 503', async t => {
	const server = h2cServer();
	const connections: WebsocketConnection[] = [];
	const handler = addWebsocketHandler(server, '/ws', null, null, echo(connections));
	const port = await listenHttp2(t, server);
	const session = await clientSession(t, `http://127.0.0.1:${port}`);
	const gone = await websocketConnect(`ws://127.0.0.1:${port}/ws`, null, null, {http2: session});
	const open = await Promise.all([1, 2].map(async () => websocketConnect(`ws://127.0.0.1:${port}/ws`, null, null, {http2: session})));
	gone.close(CloseCode.NORMAL);
	await withTimeout(connections[0]!.closed, 10_000, 'the first server connection closed');
	const result = await withTimeout(handler.close({timeout: 10_000}), 15_000, 'shutdown');
	t.deepEqual(result, {clean: 2, dirty: 0, terminated: 0});
	for (const client of open) {
		t.is((await withTimeout(client.closed, 10_000, 'client closed')).code, CloseCode.GOING_AWAY);
	}

	const refused = await rawExtendedConnect(session, port, '/ws');
	t.is(Number(refused.response[':status']), 503);
	t.is(refused.response['retry-after'], '5');
	t.false(session.closed);
});
