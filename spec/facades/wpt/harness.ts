// A web-platform-tests-style harness for the W3C facade: every check runs against websoup's WebSocket and undici's, in one run.

import {once} from 'node:events';
import {createServer, type IncomingMessage} from 'node:http';
import type {AddressInfo, Socket} from 'node:net';
import test, {type ExecutionContext} from 'ava';
import {CloseEvent as UndiciCloseEvent, WebSocket as UndiciWebSocket} from 'undici';
import {WebSocketServer, type WebSocket as WsSocket} from 'ws';
import {CloseEvent, WebSocket} from '../../../lib/facades/w3c.ts';
import {withTimeout} from '../../helpers/signals.ts';

/** One implementation under test. Both are driven only through the standard interface. */
export interface Implementation {
	name: 'websoup' | 'undici';
	WebSocket: typeof WebSocket;
	CloseEvent: typeof CloseEvent;
}

export const websoup: Implementation = {name: 'websoup', WebSocket, CloseEvent};
export const undici: Implementation = {
	name: 'undici',
	WebSocket: UndiciWebSocket as unknown as typeof WebSocket,
	CloseEvent: UndiciCloseEvent as unknown as typeof CloseEvent,
};
export const implementations: readonly Implementation[] = [websoup, undici];

/** A check run once per implementation: `websoup › title` and `undici › title`. */
export type Check = (t: ExecutionContext, impl: Implementation) => Promise<void> | void;

/**
 * Registers `check` for every implementation. `undiciDiffers` names why undici fails this check:
 * then it runs for websoup only, and a test of its own (see the group files) shows undici's behaviour.
 */
export function wpt(title: string, check: Check, options: {undiciDiffers?: string; serial?: boolean} = {}): void {
	for (const impl of implementations) {
		if (impl === undici && options.undiciDiffers !== undefined) {
			continue;
		}

		(options.serial === true ? test.serial : test)(`${impl.name} › ${title}`, async t => {
			await check(t, impl);
		});
	}
}

/**
 * The WPT handlers this suite needs, on one ws server at 127.0.0.1, by path:
 * - `/echo`: echoes every message; on the text "Goodbye" closes with 1000 (WPT's echo_wsh).
 * - `/protocol`: selects the first offered subprotocol and echoes.
 * - `/no-protocol`: answers without `Sec-WebSocket-Protocol` whatever was offered.
 * - `/drop`: drops TCP right after the handshake, without a Close frame.
 * - `/message-then-drop`: sends "hello", then drops TCP.
 * - `/close?code=C&reason=R`: closes with code C and reason R right after the handshake.
 * - `/close-empty`: sends an empty Close frame right after the handshake.
 * - `/send?size=N`: sends one binary message of N bytes (byte i is i % 251), then echoes.
 * - `/refuse`: answers the upgrade with 404.
 * - `/echo-headers`: sends the request's headers as one JSON text message.
 * Everything else: 404.
 */
export interface WptServer {
	/** `ws://127.0.0.1:PORT` */
	origin: string;
	port: number;
	/** Every upgrade request the server saw, in order. */
	requests: IncomingMessage[];
	/** The close code and reason each server-side socket received, in connection order. */
	closes: Array<Promise<{code: number; reason: string}>>;
	/** Server-side sockets, in connection order. */
	sockets: WsSocket[];
}

/** The byte at index `i` of a `/send` message. */
export function patternByte(i: number): number {
	return i % 251;
}

export async function wptServer(t: ExecutionContext): Promise<WptServer> {
	const http = createServer();
	const wss = new WebSocketServer({
		noServer: true,
		maxPayload: 0,
		handleProtocols: (protocols, request) => (request.url?.startsWith('/protocol') ? ([...protocols][0] ?? false) : false),
	});
	const raw = new Set<Socket>();
	const server: WptServer = {origin: '', port: 0, requests: [], closes: [], sockets: []};
	// A plain GET gets an empty, cross-origin-isolated page, so a browser can run the same checks
	// from this origin (spec/interop/w3c-chromium.spec.ts).
	http.on('request', (_request, response) => {
		response.writeHead(200, {
			'Content-Type': 'text/html; charset=utf-8',
			'Cross-Origin-Opener-Policy': 'same-origin',
			'Cross-Origin-Embedder-Policy': 'require-corp',
		});
		response.end('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>wpt</title></head><body></body></html>');
	});
	http.on('connection', socket => {
		raw.add(socket);
		socket.once('close', () => raw.delete(socket));
	});
	http.on('upgrade', (request: IncomingMessage, socket: Socket, head: Buffer) => {
		socket.on('error', () => {});
		const url = new URL(request.url ?? '/', 'ws://127.0.0.1');
		const known = ['/echo', '/protocol', '/no-protocol', '/drop', '/message-then-drop', '/close', '/close-empty', '/send', '/echo-headers'];
		if (!known.includes(url.pathname)) {
			socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
			return;
		}

		server.requests.push(request);
		wss.handleUpgrade(request, socket, head, ws => {
			server.sockets.push(ws);
			ws.on('error', () => {});
			server.closes.push(
				new Promise(resolve => {
					ws.on('close', (code, reason) => resolve({code, reason: reason.toString()}));
				}),
			);
			const echo = (): void => {
				ws.on('message', (data, isBinary) => {
					if (!isBinary && data.toString() === 'Goodbye') {
						ws.close(1000);
						return;
					}

					ws.send(data, {binary: isBinary});
				});
			};

			switch (url.pathname) {
				case '/drop': {
					ws.terminate();
					break;
				}

				case '/message-then-drop': {
					ws.send('hello', () => {
						ws.terminate();
					});
					break;
				}

				case '/close': {
					ws.close(Number(url.searchParams.get('code') ?? 1000), url.searchParams.get('reason') ?? '');
					break;
				}

				case '/close-empty': {
					ws.close();
					break;
				}

				case '/send': {
					const size = Number(url.searchParams.get('size') ?? 0);
					const data = Buffer.alloc(size);
					for (let i = 0; i < size; i++) {
						data[i] = patternByte(i);
					}

					ws.send(data, {binary: true});
					echo();
					break;
				}

				case '/echo-headers': {
					ws.send(JSON.stringify(request.headers));
					echo();
					break;
				}

				default: {
					echo();
				}
			}
		});
	});
	http.listen(0, '127.0.0.1');
	await once(http, 'listening');
	server.port = (http.address() as AddressInfo).port;
	server.origin = `ws://127.0.0.1:${server.port}`;
	t.teardown(async () => {
		for (const socket of raw) {
			socket.destroy();
		}

		wss.close();
		await new Promise(resolve => {
			http.close(resolve);
		});
	});
	return server;
}

/** Makes a WebSocket that is torn down with the test (closed if still open). */
export function connect(t: ExecutionContext, impl: Implementation, url: string, protocols?: string | string[]): WebSocket {
	const ws = protocols === undefined ? new impl.WebSocket(url) : new impl.WebSocket(url, protocols);
	ws.addEventListener('error', () => {});
	t.teardown(() => {
		if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) {
			ws.close();
		}
	});
	return ws;
}

/** Resolves with the next event of `type` on `target`. */
export async function next<E extends Event = Event>(target: EventTarget, type: string, timeout = 10_000): Promise<E> {
	return withTimeout(
		new Promise<E>(resolve => {
			target.addEventListener(type, event => resolve(event as E), {once: true});
		}),
		timeout,
		`'${type}'`,
	);
}

/** A WebSocket that is open. */
export async function opened(t: ExecutionContext, impl: Implementation, url: string, protocols?: string | string[]): Promise<WebSocket> {
	const ws = connect(t, impl, url, protocols);
	await next(ws, 'open');
	return ws;
}

/** What happened up to `close`: event types in order, readyState at each, and the events themselves. */
export interface Recording {
	types: string[];
	states: number[];
	events: Event[];
	close: CloseEvent;
}

/** Records `open`, `message`, `error` and `close` on `ws` until `close`. */
export async function recordUntilClose(ws: WebSocket, timeout = 10_000): Promise<Recording> {
	const recording: Omit<Recording, 'close'> = {types: [], states: [], events: []};
	for (const type of ['open', 'message', 'error', 'close']) {
		ws.addEventListener(type, event => {
			recording.types.push(type);
			recording.states.push(ws.readyState);
			recording.events.push(event);
		});
	}

	const close = await next<CloseEvent>(ws, 'close', timeout);
	return {...recording, close};
}

/** What `fn` threw, or undefined. */
export function thrown(fn: () => unknown): unknown {
	try {
		fn();
	} catch (error) {
		return error;
	}

	return undefined;
}

/** Asserts that `fn` throws a DOMException named `name` (WPT's assert_throws_dom). */
export function throwsDom(t: ExecutionContext, name: string, fn: () => unknown, message?: string): void {
	const error = thrown(fn);
	t.true(error instanceof DOMException, message ?? `expected a DOMException ${name}, got ${String(error)}`);
	t.is((error as DOMException | undefined)?.name, name, message);
}

/** Asserts that `fn` throws a TypeError (WPT's assert_throws_js(TypeError)). */
export function throwsType(t: ExecutionContext, fn: () => unknown, message?: string): void {
	const error = thrown(fn);
	t.true(error instanceof TypeError, message ?? `expected a TypeError, got ${String(error)}`);
}

/** Messages received by `ws` from now on, read in order: none is missed between two reads. */
export interface Inbox {
	next(timeout?: number): Promise<unknown>;
	/** Everything received so far and not yet read. */
	readonly pending: unknown[];
}

export function inbox(ws: WebSocket): Inbox {
	const pending: unknown[] = [];
	const waiters: Array<(data: unknown) => void> = [];
	ws.addEventListener('message', event => {
		const waiter = waiters.shift();
		if (waiter === undefined) {
			pending.push(event.data);
		} else {
			waiter(event.data);
		}
	});
	return {
		pending,
		async next(timeout = 10_000) {
			if (pending.length > 0) {
				return pending.shift();
			}

			return withTimeout(
				new Promise(resolve => {
					waiters.push(resolve);
				}),
				timeout,
				'a message',
			);
		},
	};
}

/** Asserts "fail the WebSocket connection": the events `before`, then error and close (1006, not clean), readyState CLOSED at both. */
export function assertFailed(t: ExecutionContext, recording: Recording, before: string[] = []): void {
	t.deepEqual(recording.types, [...before, 'error', 'close']);
	t.is(recording.states.at(-1), 3);
	t.is(recording.states.at(-2), 3, 'readyState is CLOSED when error fires');
	t.false(recording.close.wasClean);
	t.is(recording.close.code, 1006);
	t.is(recording.close.reason, '');
}
