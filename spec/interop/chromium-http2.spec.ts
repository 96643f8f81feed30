// Interop with headless Chromium over HTTP/2 (RFC 8441): the page comes from a websoup HTTP/2 TLS
// server (self-signed certificate made by the test, trusted by its key's hash), and Chromium's
// WebSocket rides that session as an extended CONNECT stream, not an HTTP/1.1 upgrade.

import {createHash, createPublicKey} from 'node:crypto';
import type {Http2ServerRequest, Http2ServerResponse, IncomingHttpHeaders} from 'node:http2';
import test from 'ava';
import {addWebsocketHandler} from '../../lib/node/server.ts';
import {CloseCode, WebsocketDataType} from '../../lib/websocket/constants.ts';
import type {WebsocketConnection} from '../../lib/websocket/connection.ts';
import {h2Server, listenHttp2} from '../helpers/http2.ts';
import {until, waitForSignal, withTimeout} from '../helpers/signals.ts';
import {selfSignedCertificate} from '../node/fixtures.ts';
import {closeChromium, launchChromium, newPage, type RunningBrowser} from './browser.ts';
import {LIMIT, pattern, PAGE_PATTERN_AND_SHA256, sha256, TEXT} from './peer.ts';

/** The page: `window.h2` opens the WebSocket to /ws on the same host and echoes nothing itself. */
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>websoup over HTTP/2</title></head>
<body><script>
"use strict";
${PAGE_PATTERN_AND_SHA256}window.h2 = {
  socket: null, queue: [], waiting: [], closeEvent: null,
  open() {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket("wss://" + location.host + "/ws", ["h2.interop"]);
      socket.binaryType = "arraybuffer";
      this.socket = socket;
      socket.onopen = () => resolve({protocol: socket.protocol, extensions: socket.extensions});
      socket.onerror = () => reject(new Error("WebSocket error"));
      socket.onmessage = event => {
        const waiter = this.waiting.shift();
        if (waiter) waiter(event.data); else this.queue.push(event.data);
      };
      socket.onclose = event => { this.closeEvent = {code: event.code, reason: event.reason, wasClean: event.wasClean}; };
    });
  },
  next() {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift());
    return new Promise(resolve => this.waiting.push(resolve));
  },
  async exchange(data) {
    this.socket.send(data);
    const reply = await this.next();
    if (typeof reply === "string") return {kind: "string", text: reply};
    return {kind: "arraybuffer", size: reply.byteLength, sha256: await sha256(reply)};
  },
  sendText(text) { return this.exchange(text); },
  sendBinary(size) { return this.exchange(pattern(size).buffer); },
};
</script></body></html>
`;

interface PageGlobal {
	h2: {
		open(): Promise<{protocol: string; extensions: string}>;
		sendText(text: string): Promise<{kind: string; text?: string}>;
		sendBinary(size: number): Promise<{kind: string; size?: number; sha256?: string}>;
		socket: {close(code: number, reason: string): void};
		closeEvent: {code: number; reason: string; wasClean: boolean} | null;
	};
}

let running: RunningBrowser | undefined;

test.before(async () => {
	// Chromium trusts the test's self-signed certificate by the SHA-256 of its public key, so the
	// page and its WebSocket are an ordinary secure origin (no certificate-error interstitial).
	const {cert} = await selfSignedCertificate();
	const spki = createPublicKey(cert).export({type: 'spki', format: 'der'});
	const hash = createHash('sha256').update(spki).digest('base64');
	running = await launchChromium([`--ignore-certificate-errors-spki-list=${hash}`]);
});

test.after.always(async () => {
	await closeChromium(running);
});

test('Chromium opens wss:// over HTTP/2 (extended CONNECT) to a websoup server and exchanges text and binary', async t => {
	const server = await h2Server({allowHTTP1: true});
	const sessionProtocols: string[] = [];
	const extendedConnects: IncomingHttpHeaders[] = [];
	let upgrades = 0;
	server.on('session', session => {
		sessionProtocols.push(String(session.alpnProtocol));
	});
	server.on('stream', (_stream, headers) => {
		if (headers[':method'] === 'CONNECT') {
			extendedConnects.push(headers);
		}
	});
	server.on('upgrade', () => upgrades++);
	server.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) => {
		if (req.url === '/') {
			res.writeHead(200, {'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store'}).end(PAGE);
		} else if (req.url !== '/ws') {
			res.writeHead(404).end();
		}
	});
	const connections: WebsocketConnection[] = [];
	const received: Array<{type: number; data: Buffer}> = [];
	addWebsocketHandler(server, '/ws', null, ['h2.interop'], (_server, _msg, _path, connection) => {
		connections.push(connection);
		connection.connect('message', (self, type, data) => {
			received.push({type, data: Buffer.from(data)});
			self.sendMessage(type, data);
		});
	}, {maxIncomingPayloadSize: LIMIT, maxTotalMessageSize: LIMIT});
	const port = await listenHttp2(t, server);

	const page = await newPage(t, running!);
	const response = await page.goto(`https://127.0.0.1:${port}/`);
	t.is(response?.status(), 200);
	const opened = await withTimeout(
		page.evaluate(async () => (globalThis as unknown as PageGlobal).h2.open()),
		20_000,
		'the WebSocket to open in Chromium',
	);
	t.is(opened.protocol, 'h2.interop');
	t.regex(opened.extensions, /^permessage-deflate\b/);

	// The proof that the WebSocket rode HTTP/2: an extended CONNECT stream on the page's h2 session, no upgrade.
	t.deepEqual(sessionProtocols, ['h2']);
	t.is(extendedConnects.length, 1);
	t.is(extendedConnects[0]![':protocol'], 'websocket');
	t.is(extendedConnects[0]![':path'], '/ws');
	t.is(extendedConnects[0]!['sec-websocket-version'], '13');
	t.is(extendedConnects[0]!['sec-websocket-key'], undefined);
	t.is(upgrades, 0);
	t.is(connections.length, 1);
	t.is(connections[0]!.getIoStream().constructor.name, 'ServerHttp2Stream');
	t.is(connections[0]!.getOrigin(), `https://127.0.0.1:${port}`);

	const text = await withTimeout(page.evaluate(async value => (globalThis as unknown as PageGlobal).h2.sendText(value), TEXT), 20_000, 'text echo');
	t.deepEqual(text, {kind: 'string', text: TEXT});
	t.is(received[0]!.type, WebsocketDataType.TEXT);
	t.is(received[0]!.data.toString('utf8'), TEXT);
	for (const size of [0, 125, 65_536, 1024 * 1024]) {
		const echo = await withTimeout(
			page.evaluate(async value => (globalThis as unknown as PageGlobal).h2.sendBinary(value), size),
			30_000,
			`the ${size} B echo`,
		);
		t.deepEqual(echo, {kind: 'arraybuffer', size, sha256: sha256(pattern(size))}, `${size} B echoed`);
		const last = received.at(-1)!;
		t.is(last.type, WebsocketDataType.BINARY);
		t.true(last.data.equals(pattern(size)), `websoup received Chromium's ${size} B`);
	}

	// Chromium closes; websoup sees the code and reason, the session stays up for the page.
	const closed = waitForSignal(connections[0]!, 'closed', 15_000);
	await page.evaluate(() => {
		(globalThis as unknown as PageGlobal).h2.socket.close(4000, 'bye over h2');
	});
	await closed;
	t.is(connections[0]!.getCloseCode(), 4000);
	t.is(connections[0]!.getCloseData(), 'bye over h2');
	await page.waitForFunction(() => (globalThis as unknown as PageGlobal).h2.closeEvent !== null, undefined, {timeout: 15_000});
	const closeEvent = await page.evaluate(() => (globalThis as unknown as PageGlobal).h2.closeEvent);
	t.deepEqual(closeEvent, {code: 4000, reason: 'bye over h2', wasClean: true});

	// A second WebSocket from the page rides the same session; websoup closes it this time.
	await withTimeout(page.evaluate(async () => (globalThis as unknown as PageGlobal).h2.open()), 20_000, 'second open');
	t.is(extendedConnects.length, 2);
	t.deepEqual(sessionProtocols, ['h2']);
	await until(() => connections.length === 2, 10_000, 'second connection');
	const secondClosed = waitForSignal(connections[1]!, 'closed', 15_000);
	connections[1]!.close(CloseCode.GOING_AWAY, 'server bye');
	await secondClosed;
	t.is(connections[1]!.getCloseCode(), CloseCode.GOING_AWAY);
});
