// The servers the bench measures, websoup's and ws's: the hardened http.Server of docs/node.md and
// the echo handler a user would write. One home for bench/server.ts and bench/handshake-cpu.ts.

import http from 'node:http';
import type {WebsocketConnection} from '../lib/websocket/connection.ts';
import {PAYLOAD_LIMIT, type Library} from './settings.ts';

/** docs/node.md, "Limits that belong to the HTTP server": the hardened server. */
export function hardenedServer(): http.Server {
	return http.createServer({
		headersTimeout: 10_000,
		requestTimeout: 10_000,
		connectionsCheckingInterval: 1000,
		maxHeaderSize: 16 * 1024,
	});
}

/**
 * websoup's echo on `server`: `addWebsocketHandler`, each message sent back with `sendMessage`.
 *
 * @returns The open connections: an application keeps its connections somewhere, as ws's server
 *   does (clientTracking).
 */
export function serveWebsoupEcho(server: http.Server, library: Library): Set<WebsocketConnection> {
	const open = new Set<WebsocketConnection>();
	library.addWebsocketHandler(
		server,
		null,
		null,
		null,
		(_server, _msg, _path, connection) => {
			open.add(connection);
			connection.connect('message', (self, type, data) => self.sendMessage(type, data));
			connection.connect('closed', () => open.delete(connection));
		},
		{maxIncomingPayloadSize: PAYLOAD_LIMIT, maxTotalMessageSize: PAYLOAD_LIMIT},
	);
	return open;
}

/**
 * ws's echo on `server`: a `WebSocketServer`, each message sent back with `send(data, {binary})`.
 *
 * @returns ws's own set of open connections.
 */
export async function serveWsEcho(server: http.Server, deflate: boolean): Promise<{readonly size: number}> {
	const {WebSocketServer} = await import('ws');
	const wss = new WebSocketServer({server, perMessageDeflate: deflate, maxPayload: PAYLOAD_LIMIT});
	wss.on('connection', socket => {
		socket.on('message', (data, isBinary) => {
			socket.send(data as Buffer, {binary: isBinary});
		});
	});
	return wss.clients;
}
