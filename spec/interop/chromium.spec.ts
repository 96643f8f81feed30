// Interop with headless Chromium (Debian's /usr/bin/chromium through playwright-core): the browser's
// WebSocket, in a page served by the websoup server under test (same origin, so Chromium's
// LocalNetworkAccessChecks don't apply), against addWebsocketHandler.

import type {IncomingMessage, ServerResponse} from 'node:http';
import test from 'ava';
import type {Page} from 'playwright-core';
import {WebsocketDataType} from '../../lib/websocket/constants.ts';
import {until, waitForSignal, withTimeout} from '../helpers/signals.ts';
import {closeChromium, launchChromium, newPage, type RunningBrowser} from './browser.ts';
import {BINARY_SIZES, CLIENT_PROTOCOLS, EXPECTED_PROTOCOL, TEXT, pattern, sha256, PAGE_PATTERN_AND_SHA256} from './peer.ts';
import {extensionNames, PEER_CLOSE, VARIANTS, WEBSOUP_CLOSE, websoupServer, type Variant, type WebsoupEnd} from './scenario.ts';

/**
 * The test page: `window.interop` opens the WebSocket to /ws on the same host, queues what arrives,
 * and records the close event. `pattern()` is the same as in peer.ts.
 */
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>websoup interop</title></head>
<body><p id="status">idle</p>
<script>
"use strict";
${PAGE_PATTERN_AND_SHA256}window.interop = {
  socket: null,
  queue: [],
  waiting: [],
  closeEvent: null,
  open(protocols) {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket("ws://" + location.host + "/ws", protocols);
      socket.binaryType = "arraybuffer";
      this.socket = socket;
      socket.onopen = () => {
        document.getElementById("status").textContent = "open";
        resolve({protocol: socket.protocol, extensions: socket.extensions});
      };
      socket.onerror = () => reject(new Error("WebSocket error"));
      socket.onmessage = event => {
        const waiter = this.waiting.shift();
        if (waiter) waiter(event.data); else this.queue.push(event.data);
      };
      socket.onclose = event => {
        this.closeEvent = {code: event.code, reason: event.reason, wasClean: event.wasClean};
        document.getElementById("status").textContent = "closed";
      };
    });
  },
  next() {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift());
    return new Promise(resolve => this.waiting.push(resolve));
  },
  async describe(data) {
    if (typeof data === "string") return {kind: "string", text: data, sha256: await sha256(data)};
    return {kind: data instanceof ArrayBuffer ? "arraybuffer" : typeof data, size: data.byteLength, sha256: await sha256(data)};
  },
  async sendText(text) {
    this.socket.send(text);
    return this.describe(await this.next());
  },
  async sendBinary(size) {
    this.socket.send(pattern(size).buffer);
    return this.describe(await this.next());
  },
};
</script></body></html>
`;

/** What the page's `window.interop` returns for a message it received. */
interface Described {
	kind: string;
	text?: string;
	size?: number;
	sha256: string;
}

/** The page's `window.interop`, as the functions given to page.evaluate see it (`globalThis` is the window). */
interface PageGlobal {
	interop: {
		open(protocols: string[]): Promise<{protocol: string; extensions: string}>;
		sendText(text: string): Promise<Described>;
		sendBinary(size: number): Promise<Described>;
		socket: {close(code: number, reason: string): void};
		closeEvent: {code: number; reason: string; wasClean: boolean} | null;
	};
}

function servePage(request: IncomingMessage, response: ServerResponse): void {
	if (request.url === '/favicon.ico') {
		response.writeHead(204).end();
		return;
	}

	if (request.url === '/') {
		response.writeHead(200, {'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store'}).end(PAGE);
		return;
	}

	response.writeHead(404).end();
}

let running: RunningBrowser | undefined;

test.before(async () => {
	running = await launchChromium();
});

test.after.always(async () => {
	await closeChromium(running);
});

/** A websoup server serving the page, and Chromium's WebSocket open to it. */
async function openPage(
	t: import('ava').ExecutionContext,
	variant: Variant,
): Promise<{page: Page; end: WebsoupEnd; opened: {protocol: string; extensions: string}}> {
	const {port, nextConnection} = await websoupServer(t, variant, servePage, null);
	const page = await newPage(t, running!);
	await page.goto(`http://127.0.0.1:${port}/`);
	const opened = await withTimeout(
		page.evaluate(async protocols => (globalThis as unknown as PageGlobal).interop.open(protocols), [...CLIENT_PROTOCOLS]),
		20_000,
		'the WebSocket to open in Chromium',
	);
	const end = await nextConnection();
	t.is(opened.protocol, EXPECTED_PROTOCOL, 'Chromium’s protocol');
	t.is(end.connection.getProtocol(), EXPECTED_PROTOCOL, 'websoup’s protocol');
	t.is(end.connection.getOrigin(), `http://127.0.0.1:${port}`, 'Chromium sent the page’s Origin');
	if (variant === 'deflate') {
		t.regex(opened.extensions, /^permessage-deflate\b/, 'Chromium’s extensions');
		t.deepEqual(extensionNames(end), ['permessage-deflate']);
	} else {
		t.is(opened.extensions, '', 'Chromium offered permessage-deflate and websoup declined');
		t.deepEqual(extensionNames(end), []);
	}

	return {page, end, opened};
}


test('Chromium version', t => {
	t.log(`Chromium ${running!.version} (playwright-core, ${running!.pid})`);
	t.regex(running!.version, /^\d+\./);
});

for (const variant of VARIANTS) {
	test(`Chromium → websoup server (${variant}): subprotocol, text and ArrayBuffer 0 B – 1 MiB both ways`, async t => {
		const {page, end} = await openPage(t, variant);
		// The server echoes, so the page sees websoup's messages, and websoup checks what it received.
		end.connection.connect('message', (self, type, data) => {
			self.sendMessage(type, data);
		});
		let index = 0;
		const text = await withTimeout(
			page.evaluate(async value => (globalThis as unknown as PageGlobal).interop.sendText(value), TEXT),
			20_000,
			'the text echo in Chromium',
		);
		await until(() => end.received.length > index, 15_000, 'text at websoup');
		t.is(end.received[index]!.type, WebsocketDataType.TEXT);
		t.is(end.received[index++]!.data.toString('utf8'), TEXT, 'websoup received Chromium’s text');
		t.deepEqual(text, {kind: 'string', text: TEXT, sha256: sha256(TEXT)}, 'Chromium received the echo');

		for (const size of BINARY_SIZES) {
			const echo = await withTimeout(
				page.evaluate(async value => (globalThis as unknown as PageGlobal).interop.sendBinary(value), size),
				20_000,
				`the ${size} B echo in Chromium`,
			);
			await until(() => end.received.length > index, 15_000, `${size} B at websoup`);
			const received = end.received[index++]!;
			t.is(received.type, WebsocketDataType.BINARY, `${size} B type at websoup`);
			t.true(received.data.equals(pattern(size)), `websoup received Chromium’s ${size} B`);
			t.deepEqual(echo, {kind: 'arraybuffer', size, sha256: sha256(pattern(size))}, `Chromium received the ${size} B echo`);
		}

		t.deepEqual(end.log, [], 'no error or close at websoup');
	});

	test(`Chromium → websoup server (${variant}): websoup ping, Chromium's pong`, async t => {
		const {end} = await openPage(t, variant);
		const payload = Buffer.from('ping ✓ from websoup');
		const pong = waitForSignal(end.connection, 'pong', 10_000);
		end.connection.ping(payload);
		const [data] = await pong;
		t.true(Buffer.from(data).equals(payload), 'Chromium’s pong carried the payload');
	});

	test(`Chromium → websoup server (${variant}): Chromium closes with code and reason`, async t => {
		const {page, end} = await openPage(t, variant);
		await page.evaluate(({code, reason}) => {
			(globalThis as unknown as PageGlobal).interop.socket.close(code, reason);
		}, PEER_CLOSE);
		const info = await withTimeout(end.connection.closed, 15_000, 'websoup closed');
		t.is(info.code, PEER_CLOSE.code, 'websoup received Chromium’s code');
		t.is(info.reason, PEER_CLOSE.reason, 'websoup received Chromium’s reason');
		t.true(info.wasClean);
		t.deepEqual(end.log, ['closing', 'closed']);
		await page.waitForFunction(() => (globalThis as unknown as PageGlobal).interop.closeEvent !== null);
		const closeEvent = await page.evaluate(() => (globalThis as unknown as PageGlobal).interop.closeEvent);
		t.deepEqual(closeEvent, {...PEER_CLOSE, wasClean: true}, 'Chromium received websoup’s echo');
	});

	test(`Chromium → websoup server (${variant}): websoup closes with code and reason`, async t => {
		const {page, end} = await openPage(t, variant);
		end.connection.close(WEBSOUP_CLOSE.code, WEBSOUP_CLOSE.reason);
		await page.waitForFunction(() => (globalThis as unknown as PageGlobal).interop.closeEvent !== null);
		const closeEvent = await page.evaluate(() => (globalThis as unknown as PageGlobal).interop.closeEvent);
		t.deepEqual(closeEvent, {...WEBSOUP_CLOSE, wasClean: true}, 'Chromium received websoup’s code and reason');
		const info = await withTimeout(end.connection.closed, 15_000, 'websoup closed');
		t.log(`Chromium echoed ${info.code} ${JSON.stringify(info.reason)}`);
		t.is(info.code, WEBSOUP_CLOSE.code, 'Chromium echoed the code');
		t.true(info.wasClean);
		t.deepEqual(end.log, ['closing', 'closed']);
	});
}
