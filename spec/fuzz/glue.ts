// Fuzz cases through the Node glue: the frames share the first write with the HTTP handshake, as a peer may send them.
//
// Server: a raw client writes the upgrade request and the first frames in one write to
// addWebsocketHandler(). Client: websocketConnect() talks to a raw server that answers 101 and the
// first frames in one write. Either way the connection must find the frames behind the head.

import {createHash, randomBytes} from 'node:crypto';
import {once} from 'node:events';
import http from 'node:http';
import net, {type AddressInfo} from 'node:net';
import {websocketConnect} from '../../lib/node/client.ts';
import {addWebsocketHandler} from '../../lib/node/server.ts';
import {WEBSOCKET_GUID} from '../../lib/websocket/constants.ts';
import type {WebsocketConnection} from '../../lib/websocket/connection.ts';
import {WebsocketExtensionDeflate} from '../../lib/websocket/extensions/deflate.ts';
import {withTimeout} from '../helpers/signals.ts';
import {CLOSE_TIMEOUT_MS} from './harness.ts';
import type {FuzzCase} from './generate.ts';
import type {Opened} from './harness.ts';

async function listen(server: net.Server): Promise<number> {
	server.listen(0, '127.0.0.1');
	await once(server, 'listening');
	return (server.address() as AddressInfo).port;
}

async function close(server: net.Server): Promise<void> {
	await new Promise<void>(resolve => {
		server.close(() => resolve());
	});
}

/** A generated case as the glue runs it: over TCP. */
export function glueCase(c: FuzzCase): FuzzCase {
	return {...c, transport: 'tcp'};
}

/** The opener for the case's role: addWebsocketHandler() for a server, websocketConnect() for a client. */
export function glueOpener(c: FuzzCase): (c: FuzzCase) => Promise<Opened> {
	return c.role === 'server' ? openServerGlue : openClientGlue;
}

/** Writes `head` and the first chunk together, then the other chunks. */
function writeAfter(socket: net.Socket, head: string, chunks: Buffer[]): void {
	const [first = Buffer.alloc(0), ...rest] = chunks;
	socket.write(Buffer.concat([Buffer.from(head, 'latin1'), first]));
	for (const chunk of rest) {
		socket.write(chunk);
	}
}

/** The case's connection made by addWebsocketHandler() on a plain http.Server; the raw peer is a TCP client. */
export async function openServerGlue(c: FuzzCase): Promise<Opened> {
	const server = http.createServer();
	let accept: (connection: WebsocketConnection) => void = () => {};
	const connection = new Promise<WebsocketConnection>(resolve => {
		accept = resolve;
	});
	addWebsocketHandler(server, '/fuzz', null, null, (_server, _msg, _path, accepted) => accept(accepted), {
		extensions: c.deflate ? [WebsocketExtensionDeflate] : null,
		maxIncomingPayloadSize: c.maxIncomingPayloadSize,
		maxTotalMessageSize: c.maxTotalMessageSize,
		maxIncomingFragments: c.maxIncomingFragments,
		closeTimeout: CLOSE_TIMEOUT_MS,
	});
	const port = await listen(server);
	const socket = net.connect({port, host: '127.0.0.1', allowHalfOpen: true, noDelay: true});
	await once(socket, 'connect');
	const request = [
		'GET /fuzz HTTP/1.1',
		`Host: 127.0.0.1:${port}`,
		'Upgrade: websocket',
		'Connection: Upgrade',
		`Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
		'Sec-WebSocket-Version: 13',
		...(c.deflate ? ['Sec-WebSocket-Extensions: permessage-deflate'] : []),
		'',
		'',
	].join('\r\n');
	return {
		connection,
		remote: socket,
		async feed(chunks) {
			writeAfter(socket, request, chunks);
		},
		skipHead: true,
		async cleanup() {
			server.closeAllConnections();
			await close(server);
		},
	};
}

/** Reads an HTTP head (up to the blank line) from `socket`. */
async function readHead(socket: net.Socket): Promise<string> {
	let text = '';
	return withTimeout(
		new Promise<string>(resolve => {
			const onData = (chunk: Buffer): void => {
				text += chunk.toString('latin1');
				if (text.includes('\r\n\r\n')) {
					socket.off('data', onData);
					resolve(text);
				}
			};

			socket.on('data', onData);
		}),
		5000,
		'the request head',
	);
}

/** The case's connection made by websocketConnect() against a raw server that answers 101 itself. */
export async function openClientGlue(c: FuzzCase): Promise<Opened> {
	const server = net.createServer({allowHalfOpen: true});
	const port = await listen(server);
	const accepted = once(server, 'connection') as Promise<[net.Socket]>;
	const connection = websocketConnect(`ws://127.0.0.1:${port}/fuzz`, null, null, {
		extensions: c.deflate ? [WebsocketExtensionDeflate] : null,
		maxIncomingPayloadSize: c.maxIncomingPayloadSize,
		maxTotalMessageSize: c.maxTotalMessageSize,
		maxIncomingFragments: c.maxIncomingFragments,
		closeTimeout: CLOSE_TIMEOUT_MS,
	});
	// An early rejection is reported by the harness when it awaits the connection.
	connection.catch(() => {});
	const [socket] = await withTimeout(accepted, 5000, 'the client');
	socket.setNoDelay(true);
	const head = await readHead(socket);
	const key = /^sec-websocket-key:\s*(\S+)\s*$/im.exec(head)?.[1] ?? '';
	const response = [
		'HTTP/1.1 101 Switching Protocols',
		'Upgrade: websocket',
		'Connection: Upgrade',
		`Sec-WebSocket-Accept: ${createHash('sha1').update(key + WEBSOCKET_GUID).digest('base64')}`,
		...(c.deflate && /permessage-deflate/i.test(head) ? ['Sec-WebSocket-Extensions: permessage-deflate'] : []),
		'',
		'',
	].join('\r\n');
	return {
		connection,
		remote: socket,
		async feed(chunks) {
			writeAfter(socket, response, chunks);
		},
		skipHead: false,
		async cleanup() {
			await close(server);
		},
	};
}
