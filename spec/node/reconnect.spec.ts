// websocketReconnect: a new connection after each loss, full-jitter exponential backoff, retry only what may succeed later.

import {once} from 'node:events';
import {createServer, type Server} from 'node:http';
import type {AddressInfo, Socket} from 'node:net';
import test from 'ava';
import {
	backoffDelay,
	isRetryableClose,
	isRetryableHandshakeError,
	websocketReconnect,
	type WebsocketRetryEvent,
} from '../../lib/node/reconnect.ts';
import {addWebsocketHandler} from '../../lib/node/server.ts';
import type {WebsocketCloseInfo, WebsocketConnection} from '../../lib/websocket/connection.ts';
import {CloseCode, WebsocketState} from '../../lib/websocket/constants.ts';
import {pongTimeoutError, protocolError, WebsocketError} from '../../lib/websocket/errors.ts';
import {Message} from '../../lib/websocket/message.ts';
import {handlerServer} from '../helpers/handler.ts';
import {until, withTimeout} from '../helpers/signals.ts';

const fast = {initial: 50, factor: 2, maximum: 400};

function closeInfo(code: number, error: Error | null = null): WebsocketCloseInfo {
	return {code, reason: null, wasClean: error === null && code !== 0, error};
}

test('backoffDelay: full jitter between 0 and min(maximum, initial × factor^n)', t => {
	const backoff = {initial: 100, factor: 3, maximum: 1000};
	t.is(backoffDelay(0, backoff, () => 0), 0);
	t.is(backoffDelay(0, backoff, () => 0.5), 50);
	t.is(backoffDelay(1, backoff, () => 0.5), 150);
	t.is(backoffDelay(2, backoff, () => 0.999_999), 899);
	t.is(backoffDelay(3, backoff, () => 0.999_999), 999, 'capped at maximum');
	t.is(backoffDelay(50, backoff, () => 0.5), 500);
	for (let n = 0; n < 20; n++) {
		const delay = backoffDelay(n, backoff);
		t.true(delay >= 0 && delay < Math.min(1000, 100 * 3 ** n));
	}
});

test('isRetryableClose: 1001, 1006 (or no Close), 1011, 1012, 1013, transport errors and the pong timeout; not 1000, 1008, others, or a close this side started', t => {
	for (const code of [1001, 1006, 0, 1011, 1012, 1013]) {
		t.true(isRetryableClose(closeInfo(code), false), String(code));
		t.false(isRetryableClose(closeInfo(code), true), `${code}, closed locally`);
	}

	for (const code of [1000, 1008, 1002, 1003, 1007, 1009, 1014, 4000]) {
		t.false(isRetryableClose(closeInfo(code), false), String(code));
	}

	const reset = Object.assign(new Error('read ECONNRESET'), {code: 'ECONNRESET'});
	t.true(isRetryableClose(closeInfo(0, reset), false));
	t.true(isRetryableClose(closeInfo(0, pongTimeoutError(5)), false));
	t.false(isRetryableClose(closeInfo(1002, protocolError('server', 'WS_ERR_INVALID_OPCODE')), false));
});

test('isRetryableHandshakeError: network failures and 5xx; not 4xx, a bad 101, TLS verification or misuse', t => {
	const msg = (status: number): Message => {
		const message = new Message('ws://127.0.0.1/');
		if (status > 0) {
			message.setStatus(status);
		}

		return message;
	};

	const refused = new WebsocketError(1, 'WS_ERR_UNEXPECTED_RESPONSE', 'The server did not accept the WebSocket handshake.');
	t.true(isRetryableHandshakeError(refused, msg(503)));
	t.true(isRetryableHandshakeError(refused, msg(500)));
	t.false(isRetryableHandshakeError(refused, msg(404)));
	t.false(isRetryableHandshakeError(refused, msg(429)));
	t.true(isRetryableHandshakeError(Object.assign(new Error('connect ECONNREFUSED'), {code: 'ECONNREFUSED'}), msg(0)));
	t.true(isRetryableHandshakeError(new WebsocketError(0, 'WS_ERR_HANDSHAKE_TIMEOUT', 'timed out'), msg(0)));
	t.true(isRetryableHandshakeError(new WebsocketError(0, 'WS_ERR_CONNECTION_CLOSED', 'closed'), msg(0)));
	t.false(isRetryableHandshakeError(new WebsocketError(2, 'WS_ERR_INVALID_ACCEPT', 'bad accept'), msg(101)));
	t.false(isRetryableHandshakeError(new WebsocketError(0, 'WS_ERR_ABORTED', 'aborted'), msg(0)));
	t.false(isRetryableHandshakeError(Object.assign(new Error('self-signed'), {code: 'DEPTH_ZERO_SELF_SIGNED_CERT'}), msg(0)));
	t.false(isRetryableHandshakeError(new TypeError('bad header'), msg(0)));
});

test('bad arguments are TypeErrors at the call, before any attempt', t => {
	t.throws(() => websocketReconnect('not a url'), {instanceOf: TypeError});
	t.throws(() => websocketReconnect('ftp://127.0.0.1/'), {instanceOf: TypeError});
	t.throws(() => websocketReconnect('ws://127.0.0.1/', null, null, {backoff: {factor: 0.5}}), {instanceOf: TypeError, message: /backoff\.factor/});
	t.throws(() => websocketReconnect('ws://127.0.0.1/', null, null, {backoff: {initial: -1}}), {instanceOf: TypeError, message: /backoff\.initial/});
	t.throws(() => websocketReconnect('ws://127.0.0.1/', null, null, {backoff: {initial: 500, maximum: 100}}), {instanceOf: RangeError});
	t.throws(() => websocketReconnect('ws://127.0.0.1/', null, null, {idleTimeout: -1}), {instanceOf: TypeError, message: /idleTimeout/});
	t.throws(() => websocketReconnect('ws://127.0.0.1/', null, null, {onRetry: 5 as unknown as () => void}), {instanceOf: TypeError});
});

test('a close that means "try again" (1012) brings a new connection; 1000 ends the loop', async t => {
	const host = await handlerServer(t);
	const events: WebsocketRetryEvent[] = [];
	const yielded: WebsocketConnection[] = [];
	for await (const connection of websocketReconnect(host.url, null, null, {backoff: fast, onRetry: event => events.push(event)})) {
		yielded.push(connection);
		const server = await host.nth(yielded.length - 1);
		server.close(yielded.length === 1 ? CloseCode.SERVICE_RESTART : CloseCode.NORMAL, 'from the server');
	}

	t.is(yielded.length, 2);
	t.is(yielded[0]!.getCloseCode(), CloseCode.SERVICE_RESTART);
	t.is(yielded[1]!.getCloseCode(), CloseCode.NORMAL);
	t.is(events.length, 1);
	t.is(events[0]!.attempt, 1);
	t.is(events[0]!.close?.code, CloseCode.SERVICE_RESTART);
	t.is(events[0]!.error, null);
	t.true(events[0]!.delay >= 0 && events[0]!.delay < fast.initial);
});

test('5xx refusals are retried with growing bounds; a 4xx is thrown out of the loop', async t => {
	let refusals = 3;
	let status = 503;
	const host = await handlerServer(t, {
		check(msg) {
			if (refusals > 0) {
				refusals--;
				msg.setStatus(status);
			}
		},
	});
	const events: WebsocketRetryEvent[] = [];
	for await (const connection of websocketReconnect(host.url, null, null, {backoff: fast, onRetry: event => events.push(event)})) {
		connection.close(CloseCode.NORMAL);
	}

	t.deepEqual(events.map(event => event.attempt), [1, 2, 3]);
	events.forEach((event, n) => {
		t.true(event.error instanceof WebsocketError);
		t.true(event.delay < Math.min(fast.maximum, fast.initial * fast.factor ** n));
	});
	t.is(host.accepted.length, 1);

	refusals = 1;
	status = 403;
	const seen: WebsocketConnection[] = [];
	const error = await t.throwsAsync(async () => {
		for await (const connection of websocketReconnect(host.url, null, null, {backoff: fast})) {
			seen.push(connection);
		}
	}, {instanceOf: WebsocketError});
	t.is((error as WebsocketError).reason, 'WS_ERR_UNEXPECTED_RESPONSE');
	t.is(seen.length, 0);
});

test('a close this side starts ends the loop, even with 1001', async t => {
	const host = await handlerServer(t);
	let count = 0;
	for await (const connection of websocketReconnect(host.url, null, null, {backoff: fast})) {
		count++;
		connection.close(CloseCode.GOING_AWAY, 'leaving');
	}

	t.is(count, 1);
	t.is((await host.nth(0)).getCloseCode(), CloseCode.GOING_AWAY);
});

test('AbortSignal: aborting closes the open connection with 1000 and ends the loop; aborting a wait ends it too', async t => {
	const host = await handlerServer(t);
	const controller = new AbortController();
	let count = 0;
	for await (const connection of websocketReconnect(host.url, null, null, {backoff: fast, signal: controller.signal})) {
		count++;
		controller.abort();
		t.is(connection.getState(), WebsocketState.CLOSING);
	}

	t.is(count, 1);
	t.is((await host.nth(0)).getCloseCode(), CloseCode.NORMAL);

	// Nothing listens at this port: attempts fail (ECONNREFUSED) and wait; the abort ends a wait.
	const port = await freePort();
	const waiting = new AbortController();
	const events: WebsocketRetryEvent[] = [];
	const loop = (async () => {
		for await (const _connection of websocketReconnect(`ws://127.0.0.1:${port}/`, null, null, {
			backoff: {initial: 60_000, factor: 1, maximum: 60_000},
			signal: waiting.signal,
			onRetry: event => events.push(event),
		})) {
			t.fail('no server there');
		}
	})();
	await until(() => events.length === 1, 5000, 'the first retry');
	t.is((events[0]!.error as NodeJS.ErrnoException).code, 'ECONNREFUSED');
	waiting.abort();
	await withTimeout(loop, 5000, 'the loop to end');
});

test('break leaves the connection to the caller and stops reconnecting', async t => {
	const host = await handlerServer(t);
	let events = 0;
	let kept: WebsocketConnection | undefined;
	for await (const connection of websocketReconnect(host.url, null, null, {backoff: fast, onRetry: () => events++})) {
		kept = connection;
		break;
	}

	t.teardown(() => kept?.getIoStream().destroy());
	t.is(kept!.getState(), WebsocketState.OPEN);
	kept!.sendText('still mine');
	const server = await host.nth(0);
	const closed = kept!.closed;
	server.close(CloseCode.SERVICE_RESTART);
	t.is((await withTimeout(closed, 5000, 'closed')).code, CloseCode.SERVICE_RESTART);
	t.is(events, 0);
	t.is(host.accepted.length, 1);
});

/** A port nothing listens on (found by listening on port 0 and closing). */
async function freePort(): Promise<number> {
	const server = createServer();
	server.listen(0, '127.0.0.1');
	await once(server, 'listening');
	const {port} = server.address() as AddressInfo;
	await new Promise<void>(resolve => {
		server.close(() => resolve());
	});
	return port;
}

test('a server that restarts: 200 reconnecting clients come back, their attempts spread by the jitter (at most 40 per 100 ms window), none gives up', async t => {
	const clients = 200;
	// Stated bound: without jitter all 200 would come in one window; spread over 2 s, about 10 per 100 ms.
	const maxPerWindow = 40;
	const backoff = {initial: 2000, factor: 2, maximum: 8000};
	const first = await handlerServer(t);
	const {port} = first;
	const controllers: AbortController[] = [];
	const connectionsPerClient = Array.from({length: clients}, () => 0);
	const attemptTimes: number[] = [];
	const loops: Array<Promise<void>> = [];
	let gaveUp = 0;
	for (let i = 0; i < clients; i++) {
		const controller = new AbortController();
		controllers.push(controller);
		loops.push(
			(async () => {
				try {
					for await (const connection of websocketReconnect(first.url, null, null, {
						backoff,
						signal: controller.signal,
						onRetry: event => attemptTimes.push(Date.now() + event.delay),
					})) {
						connectionsPerClient[i]!++;
						t.teardown(() => connection.getIoStream().destroy());
					}
				} catch {
					gaveUp++;
				}

				if (!controller.signal.aborted) {
					gaveUp++;
				}
			})(),
		);
	}

	t.teardown(() => {
		for (const controller of controllers) {
			controller.abort();
		}
	});
	await first.nth(clients - 1, 30_000);
	await until(() => connectionsPerClient.every(count => count === 1), 10_000, 'every client connected');

	// The restart: stop listening, close every connection with 1012 "service restart", listen again on the same port.
	first.server.close();
	const result = await withTimeout(first.handler.close({code: CloseCode.SERVICE_RESTART, reason: 'restart'}), 15_000, 'shutdown');
	t.deepEqual(result, {clean: clients, dirty: 0, terminated: 0});
	const second = createServer();
	const arrivals: number[] = [];
	const sockets = new Set<Socket>();
	second.on('connection', (socket: Socket) => {
		arrivals.push(Date.now());
		sockets.add(socket);
	});
	let accepted = 0;
	addWebsocketHandler(second, '/ws', null, null, () => accepted++);
	second.listen(port, '127.0.0.1');
	await withTimeout(once(second, 'listening'), 5000, 'listening again');
	t.teardown(async () => {
		for (const socket of sockets) {
			socket.destroy();
		}

		await closeServer(second);
	});

	await until(() => accepted === clients && connectionsPerClient.every(count => count === 2), 45_000, 'every client back');
	t.is(gaveUp, 0);
	const busiest = (times: number[]): number => {
		const windows = new Map<number, number>();
		for (const time of times) {
			windows.set(Math.floor(time / 100), (windows.get(Math.floor(time / 100)) ?? 0) + 1);
		}

		return Math.max(...windows.values());
	};

	const scheduled = busiest(attemptTimes);
	const arrived = busiest(arrivals);
	t.log(`${attemptTimes.length} attempts, at most ${scheduled} scheduled and ${arrived} arriving in one 100 ms window`);
	t.true(attemptTimes.length >= clients);
	t.true(scheduled <= maxPerWindow, `${scheduled} attempts scheduled in one 100 ms window`);
	// Client and server share this process: a stalled event loop bunches arrivals, so their bound is looser.
	t.true(arrived <= 2 * maxPerWindow, `${arrived} attempts arrived in one 100 ms window`);
	t.true(arrivals.length >= clients);
	for (const controller of controllers) {
		controller.abort();
	}

	await withTimeout(Promise.all(loops), 15_000, 'every loop to end');
	t.is(gaveUp, 0);
});

async function closeServer(server: Server): Promise<void> {
	await new Promise<void>(resolve => {
		server.close(() => resolve());
	});
}
