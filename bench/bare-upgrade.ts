// The floor the bench sets beside the libraries on node:http: an upgraded socket with no WebSocket
// library at all. Used by bench/server.ts, bench/handshake-cpu.ts and bench/topics-server.ts.

import {createHash} from 'node:crypto';
import type {IncomingMessage, Server} from 'node:http';
import type {Duplex} from 'node:stream';

const CLOSE_1000 = Buffer.from([0x88, 0x02, 0x03, 0xe8]);

/** Writes the 101 for `request` on its upgraded `socket`, checking nothing. */
export function writeBare101(request: IncomingMessage, socket: Duplex): void {
	const key = String(request.headers['sec-websocket-key']);
	const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
	socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
}

/**
 * Answers every upgrade on `server` with the bare 101 and the generator's Close (its only frame)
 * with a Close and FIN: what no library on node:http can go below.
 *
 * @returns The sockets open now (a peer that goes away leaves the set).
 */
export function serveBareUpgrades(server: Server): Set<Duplex> {
	const open = new Set<Duplex>();
	server.on('upgrade', (request: IncomingMessage, socket: Duplex) => {
		writeBare101(request, socket);
		open.add(socket);
		socket.on('close', () => open.delete(socket));
		socket.on('data', (chunk: Buffer) => {
			if ((chunk[0]! & 0x0f) === 0x8) {
				socket.end(CLOSE_1000);
			}
		});
		// The peer gone: close our side too, so the count of open sockets drops.
		socket.on('end', () => socket.destroy());
		socket.on('error', () => socket.destroy());
	});
	return open;
}
