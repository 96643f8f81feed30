// Type tests for the long-lived API (idle-timeout, latency, ping(), terminate(), handler.close(), websocketReconnect): checked by tsc, never run.

import type {WebsocketHandlerCloseResult} from '../../lib/index.ts';
import {addWebsocketHandler, websocketReconnect, type WebsocketConnection, type WebsocketHandler} from '../../lib/index.ts';

declare const conn: WebsocketConnection;
declare const handler: WebsocketHandler;

const idle: number = conn.getProperty('idle-timeout');
const idleToo: number = conn.idleTimeout;
const latency: number = conn.getProperty('latency');
const latencyToo: number = conn.latency;
void [idle, idleToo, latency, latencyToo];
conn.setProperty('idle-timeout', 30);
conn.setProperty('idleTimeout', 30);
conn.idleTimeout = 30;
conn.setIdleTimeout(30);
conn.connect('notify::latency', self => {
	const ms: number = self.latency;
	void ms;
});
conn.connect('notify::idle-timeout', () => {});
// @ts-expect-error latency is read-only
conn.setProperty('latency', 1);
// @ts-expect-error latency has no setter
conn.latency = 1;
// @ts-expect-error a misspelt property in a detailed notify
conn.connect('notify::idle-timout', () => {});
// @ts-expect-error idle-timeout is a number of seconds
conn.setProperty('idle-timeout', '30');

const roundTrip: Promise<number> = conn.ping();
void roundTrip;
void conn.ping('payload');
// @ts-expect-error ping() takes bytes or a string
void conn.ping(42);
const nothing: void = conn.terminate();
void nothing;

const result: Promise<WebsocketHandlerCloseResult> = handler.close({code: 1012, reason: 'restart', timeout: 5000, retryAfter: 2});
void result;
void handler.close();
// @ts-expect-error the timeout is a number of milliseconds
void handler.close({timeout: '5s'});
// @ts-expect-error no such option
void handler.close({deadline: 5000});
declare const server: import('node:http').Server;
const added: WebsocketHandler = addWebsocketHandler(server, '/ws', null, null, () => {}, {idleTimeout: 60});
void added;

export async function loop(): Promise<void> {
	for await (const connection of websocketReconnect('ws://127.0.0.1/', null, null, {
		backoff: {initial: 100, factor: 2, maximum: 1000},
		idleTimeout: 60,
		onRetry: ({attempt, delay, error, close}) => void [attempt, delay, error, close],
	})) {
		const yielded: WebsocketConnection = connection;
		void yielded;
	}

	// @ts-expect-error backoff values are numbers
	websocketReconnect('ws://127.0.0.1/', null, null, {backoff: {initial: '1s'}});
}
