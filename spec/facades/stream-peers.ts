// Servers for the stream facades' specs: a ws server and a websoup server, each echoing or sinking, optionally reading slowly.

import {once} from 'node:events';
import {createServer} from 'node:http';
import type {AddressInfo} from 'node:net';
import {setTimeout as delay} from 'node:timers/promises';
import type {ExecutionContext} from 'ava';
import {WebSocketServer, type WebSocket as WsSocket} from 'ws';
import {addWebsocketHandler} from '../../lib/node/server.ts';
import {WebsocketDataType} from '../../lib/websocket/constants.ts';
import type {WebsocketConnection} from '../../lib/websocket/connection.ts';
import {listen} from '../node/fixtures.ts';

export interface PeerOptions {
	/** Echo every message back (default), or only record it. */
	echo?: boolean;
	/** Milliseconds the server waits after each message before it reads the next: a slow reader. */
	readDelay?: number;
}

/** The server side of one connection, as the specs need to see and drive it. */
export interface ServerSide {
	/** Messages received, in order (Buffers for binary, strings for text). */
	messages: Array<Buffer | string>;
	/** Bytes of payload received. */
	bytes: number;
	send(data: Buffer | string): void;
	close(code: number, reason: string): void;
	/** Drops TCP without a Close frame. */
	drop(): void;
	/** Bytes the server has accepted to send and not yet handed to its socket's kernel buffer. */
	bufferedAmount(): number;
	/** The code and reason the server received (or 1006 when none). */
	closed: Promise<{code: number; reason: string}>;
}

export interface StreamPeer {
	name: 'ws' | 'websoup';
	url: string;
	/** Server sides, in connection order. */
	sides: ServerSide[];
	/** Resolves with the server side of the next connection. */
	nextSide(): Promise<ServerSide>;
}

function sideQueue(): {sides: ServerSide[]; add(side: ServerSide): void; nextSide(): Promise<ServerSide>} {
	const sides: ServerSide[] = [];
	const waiters: Array<(side: ServerSide) => void> = [];
	let handedOut = 0;
	return {
		sides,
		add(side) {
			sides.push(side);
			waiters.shift()?.(side);
		},
		async nextSide() {
			const index = handedOut++;
			const existing = sides[index];
			return existing ?? new Promise(resolve => waiters.push(resolve));
		},
	};
}

export async function wsPeer(t: ExecutionContext, options: PeerOptions = {}): Promise<StreamPeer> {
	const {echo = true, readDelay = 0} = options;
	const http = createServer();
	const wss = new WebSocketServer({server: http, maxPayload: 0});
	const queue = sideQueue();
	const sockets: WsSocket[] = [];
	wss.on('connection', ws => {
		sockets.push(ws);
		ws.on('error', () => {});
		const side: ServerSide = {
			messages: [],
			bytes: 0,
			send: data => ws.send(data),
			close: (code, reason) => ws.close(code, reason),
			drop: () => ws.terminate(),
			bufferedAmount: () => ws.bufferedAmount,
			closed: new Promise(resolve => {
				ws.on('close', (code, reason) => resolve({code, reason: reason.toString()}));
			}),
		};
		ws.on('message', (data: Buffer, isBinary) => {
			side.messages.push(isBinary ? data : data.toString());
			side.bytes += data.length;
			if (echo) {
				ws.send(data, {binary: isBinary});
			}

			if (readDelay > 0) {
				ws.pause();
				setTimeout(() => ws.resume(), readDelay);
			}
		});
		queue.add(side);
	});
	const port = await listen(t, http);
	t.teardown(() => {
		for (const socket of sockets) {
			socket.terminate();
		}

		wss.close();
	});
	return {name: 'ws', url: `ws://127.0.0.1:${port}/`, sides: queue.sides, nextSide: queue.nextSide};
}

export async function websoupPeer(t: ExecutionContext, options: PeerOptions = {}): Promise<StreamPeer> {
	const {echo = true, readDelay = 0} = options;
	const http = createServer();
	const queue = sideQueue();
	const connections: WebsocketConnection[] = [];
	addWebsocketHandler(
		http,
		'/',
		null,
		null,
		(_server, _msg, _path, connection) => {
			connections.push(connection);
			const side: ServerSide = {
				messages: [],
				bytes: 0,
				send: data => (typeof data === 'string' ? connection.sendText(data) : connection.sendBinary(data)),
				close: (code, reason) => connection.close(code, reason),
				drop: () => connection.getIoStream().destroy(),
				bufferedAmount: () => connection.bufferedAmount,
				closed: connection.closed.then(info => ({code: info.code || 1006, reason: info.reason ?? ''})),
			};
			// Pull-style reading: the connection stops reading its socket while messages wait here.
			void (async () => {
				try {
					for await (const {type, data} of connection) {
						side.messages.push(type === WebsocketDataType.TEXT ? data.toString('utf8') : data);
						side.bytes += data.length;
						if (echo && connection.getState() === 1) {
							connection.sendMessage(type, data);
						}

						if (readDelay > 0) {
							await delay(readDelay);
						}
					}
				} catch {
					// the connection failed; `closed` reports it
				}
			})();
			queue.add(side);
		},
		{maxIncomingPayloadSize: 0, maxTotalMessageSize: 0},
	);
	http.listen(0, '127.0.0.1');
	await once(http, 'listening');
	const {port} = http.address() as AddressInfo;
	t.teardown(async () => {
		for (const connection of connections) {
			connection.getIoStream().destroy();
		}

		await new Promise(resolve => {
			http.close(resolve);
		});
	});
	return {name: 'websoup', url: `ws://127.0.0.1:${port}/`, sides: queue.sides, nextSide: queue.nextSide};
}

export const peers = [wsPeer, websoupPeer] as const;
