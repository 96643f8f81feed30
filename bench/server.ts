// The server under test: an echo server, websoup or ws, with the same settings; driven over IPC by bench/run.ts.
// Usage (by run.ts only): node --import tsx --expose-gc bench/server.ts websoup|ws

import http from 'node:http';
import type {AddressInfo} from 'node:net';
import type {WebsocketConnection} from '../lib/websocket/connection.ts';
import {cpuMs, serve} from './child.ts';
import {loadLibrary, PAYLOAD_LIMIT, wsHelpers} from './settings.ts';

const impl = process.argv[2];
const server = http.createServer();
/** The open connections, as the application (websoup) or ws's clientTracking holds them. */
let tracked: {readonly size: number} = new Set();

if (impl === 'websoup') {
	const {addWebsocketHandler} = await loadLibrary();
	// An application keeps its connections somewhere; ws's server does the same (clientTracking).
	const open = new Set<WebsocketConnection>();
	addWebsocketHandler(
		server,
		null,
		null,
		null,
		(_server, _msg, _path, connection) => {
			open.add(connection);
			connection.connect('message', (self, type, data) => {
				self.sendMessage(type, data);
			});
			connection.connect('closed', self => {
				open.delete(self);
			});
		},
		{maxIncomingPayloadSize: PAYLOAD_LIMIT, maxTotalMessageSize: PAYLOAD_LIMIT},
	);
	tracked = open;
} else if (impl === 'ws') {
	const {WebSocketServer} = await import('ws');
	const wss = new WebSocketServer({server, perMessageDeflate: false, maxPayload: PAYLOAD_LIMIT});
	wss.on('connection', socket => {
		socket.on('message', (data, isBinary) => {
			socket.send(data as Buffer, {binary: isBinary});
		});
	});
	tracked = wss.clients;
} else if (impl === 'socket') {
	// The floor for the memory figure: the upgraded socket kept open with no WebSocket library at all.
	const {createHash} = await import('node:crypto');
	const open = new Set<import('node:stream').Duplex>();
	server.on('upgrade', (request, socket) => {
		const key = String(request.headers['sec-websocket-key']);
		const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
		socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
		open.add(socket);
		socket.on('close', () => open.delete(socket));
	});
	tracked = open;
} else {
	throw new TypeError(`Expected websoup, ws or socket, got ${String(impl)}`);
}

function openCount(): number {
	return tracked.size;
}

await new Promise<void>(resolve => {
	server.listen({host: '127.0.0.1', port: 0, backlog: 4096}, resolve);
});

function collect(): void {
	const gc = (globalThis as {gc?: () => void}).gc;
	gc?.();
	gc?.();
}

serve({
	info: () => ({port: (server.address() as AddressInfo).port, helpers: wsHelpers()}),
	cpu: () => ({cpuMs: cpuMs()}),
	async mem() {
		collect();
		// Let finalizers and freed socket buffers settle, then collect again.
		await new Promise(resolve => setTimeout(resolve, 50));
		collect();
		const usage = process.memoryUsage();
		return {rss: usage.rss, heapUsed: usage.heapUsed, heapTotal: usage.heapTotal, external: usage.external, open: openCount()};
	},
	async waitOpen(request) {
		const target = request['count'] as number;
		const deadline = Date.now() + 30_000;
		while (openCount() !== target && Date.now() < deadline) {
			await new Promise(resolve => setTimeout(resolve, 20));
		}

		return {open: openCount()};
	},
});
