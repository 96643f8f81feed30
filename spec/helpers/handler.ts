// A websoup server (addWebsocketHandler on node:http, 127.0.0.1:0) and websoup clients for it, torn down after the test.

import {once} from 'node:events';
import {createServer, type Server} from 'node:http';
import type {AddressInfo, Socket} from 'node:net';
import type {ExecutionContext} from 'ava';
import {websocketConnect, type WebsocketConnectOptions} from '../../lib/node/client.ts';
import {addWebsocketHandler, type WebsocketHandler, type WebsocketHandlerOptions} from '../../lib/node/server.ts';
import type {WebsocketConnection} from '../../lib/websocket/connection.ts';
import {withTimeout} from './signals.ts';

export interface HandlerServer {
	server: Server;
	handler: WebsocketHandler;
	port: number;
	url: string;
	/** Every connection the handler accepted, in order. */
	accepted: WebsocketConnection[];
	/** Resolves with the `n`-th accepted connection (0-based) once it exists. */
	nth(n: number, timeout?: number): Promise<WebsocketConnection>;
}

/** An http server on 127.0.0.1:0 with a handler at `/ws`; sockets destroyed and the server closed at teardown. */
export async function handlerServer(t: ExecutionContext, options: WebsocketHandlerOptions = {}): Promise<HandlerServer> {
	const server = createServer();
	const sockets = new Set<Socket>();
	server.on('connection', (socket: Socket) => {
		sockets.add(socket);
		socket.once('close', () => sockets.delete(socket));
	});
	const accepted: WebsocketConnection[] = [];
	const waiters: Array<() => void> = [];
	const handler = addWebsocketHandler(
		server,
		'/ws',
		null,
		null,
		(_server, _msg, _path, connection) => {
			accepted.push(connection);
			for (const wake of waiters.splice(0)) {
				wake();
			}
		},
		options,
	);
	server.listen(0, '127.0.0.1');
	await withTimeout(once(server, 'listening'), 5000, 'listening');
	t.teardown(async () => {
		for (const socket of sockets) {
			socket.destroy();
		}

		await new Promise<void>(resolve => {
			server.close(() => resolve());
		});
	});
	const actual = (server.address() as AddressInfo).port;
	return {
		server,
		handler,
		port: actual,
		url: `ws://127.0.0.1:${actual}/ws`,
		accepted,
		async nth(n, timeout = 5000) {
			// Woken by each accepted connection (the callback above), until the n-th is there.
			await withTimeout(
				new Promise<void>(resolve => {
					const check = (): void => {
						if (accepted.length > n) {
							resolve();
						} else {
							waiters.push(check);
						}
					};

					check();
				}),
				timeout,
				`connection ${n}`,
			);
			return accepted[n]!;
		},
	};
}

/** A websoup client connected to `url`, its socket destroyed at teardown. */
export async function client(t: ExecutionContext, url: string, options: WebsocketConnectOptions = {}): Promise<WebsocketConnection> {
	const connection = await websocketConnect(url, null, null, options);
	t.teardown(() => {
		connection.getIoStream().destroy();
	});
	return connection;
}

/** A connected client and the server connection that accepted it. */
export async function gluePair(
	t: ExecutionContext,
	serverOptions: WebsocketHandlerOptions = {},
	clientOptions: WebsocketConnectOptions = {},
): Promise<{client: WebsocketConnection; server: WebsocketConnection; host: HandlerServer}> {
	const host = await handlerServer(t, serverOptions);
	const connection = await client(t, host.url, clientOptions);
	const server = await host.nth(0);
	return {client: connection, server, host};
}
