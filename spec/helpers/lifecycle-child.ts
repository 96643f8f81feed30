// Run as a child process by spec/node/timers.spec.ts: every lifecycle timer set, everything closed, then no process.exit().
// The process must end by itself; it prints the resources still active at the end.

import {once} from 'node:events';
import {createServer} from 'node:http';
import type {AddressInfo} from 'node:net';
import {websocketConnect} from '../../lib/node/client.ts';
import {websocketReconnect} from '../../lib/node/reconnect.ts';
import {addWebsocketHandler} from '../../lib/node/server.ts';
import type {WebsocketConnection} from '../../lib/websocket/connection.ts';

// An hour each: any of these timers left armed would keep the process alive for the test's whole timeout.
const long = {keepaliveInterval: 3600, keepalivePongTimeout: 3600, idleTimeout: 3600};
const server = createServer();
const accepted: WebsocketConnection[] = [];
const handler = addWebsocketHandler(server, '/ws', null, null, (_server, _msg, _path, connection) => accepted.push(connection), {
	...long,
	handshakeTimeout: 3_600_000,
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`;

// A clean close with a ping answered and one still pending.
const clean = await websocketConnect(url, null, null, {...long, handshakeTimeout: 3_600_000});
await clean.ping('answered');
void clean.ping('pending');
clean.close(1000);
await clean.closed;

// terminate().
const terminated = await websocketConnect(url, null, null, long);
void terminated.ping('pending');
terminated.terminate();
await terminated.closed;

// The reconnect loop, ended by this side's close.
for await (const connection of websocketReconnect(url, null, null, {...long, backoff: {initial: 3_600_000, maximum: 3_600_000}})) {
	connection.close(1000);
}

// The handler's shutdown, with an hour's deadline: resolves as soon as the last connection closed.
const last = await websocketConnect(url, null, null, long);
const result = await handler.close({timeout: 3_600_000});
await last.closed;
await Promise.all(accepted.map(async connection => connection.closed));
server.close();
await once(server, 'close');
process.stdout.write(`${JSON.stringify({result, resources: process.getActiveResourcesInfo()})}\n`);
