// The server under test: an echo server (websoup, ws, uWebSockets.js, or a raw TCP echo), at the
// settings docs/node.md recommends, with the echo handler a user would write; driven over IPC by bench/run.ts.
// Usage (by run.ts only): node --import tsx --expose-gc bench/server.ts websoup|ws|uws|tcp|socket [deflate]
// `deflate`: ws and uWebSockets.js with permessage-deflate on (websoup's addWebsocketHandler accepts it by default).

import net from 'node:net';
import type {AddressInfo} from 'node:net';
import {Session} from 'node:inspector';
import {readFileSync, writeFileSync} from 'node:fs';
import {getHeapSpaceStatistics, writeHeapSnapshot} from 'node:v8';
import {cpuMs, serve} from './child.ts';
import {hardenedServer, serveWebsoupEcho, serveWsEcho} from './echo-servers.ts';
import {loadLibrary, PAYLOAD_LIMIT, wsHelpers} from './settings.ts';

const impl = process.argv[2];
const deflate = process.argv[3] === 'deflate';
const server = hardenedServer();
/** The port listened on, when it is not `server`'s (uWebSockets.js, the TCP echo). */
let ownPort: number | undefined;
/** The open connections, as the application (websoup) or ws's clientTracking holds them. */
let tracked: {readonly size: number} = new Set();

if (impl === 'websoup') {
	tracked = serveWebsoupEcho(server, await loadLibrary());
} else if (impl === 'ws') {
	tracked = await serveWsEcho(server, deflate);
} else if (impl === 'uws') {
	// uWebSockets.js from the npm package uws-pack (a devDependency; run.ts checks it loads first).
	const uwsName = 'uws-pack';
	const uws = (await import(uwsName)) as UwsModule;
	const open = new Set<unknown>();
	const port = await new Promise<number>((resolve, reject) => {
		uws
			.App()
			.ws('/*', {
				compression: deflate ? uws.SHARED_COMPRESSOR : uws.DISABLED,
				maxPayloadLength: PAYLOAD_LIMIT,
				maxBackpressure: PAYLOAD_LIMIT,
				idleTimeout: 0,
				open: socket => open.add(socket),
				message: (socket, message, isBinary) => socket.send(message, isBinary, deflate),
				close: socket => open.delete(socket),
			})
			.listen('127.0.0.1', 0, token => {
				if (token === false) {
					reject(new Error('uWebSockets.js could not listen'));
				} else {
					resolve(uws.us_socket_local_port(token));
				}
			});
	});
	ownPort = port;
	tracked = open;
} else if (impl === 'tcp') {
	// The physical limit in Node for the echo figures: bytes echoed back, no WebSocket framing.
	const open = new Set<net.Socket>();
	const tcp = net.createServer({noDelay: true}, socket => {
		open.add(socket);
		socket.on('close', () => open.delete(socket));
		socket.on('error', () => socket.destroy());
		socket.pipe(socket);
	});
	await new Promise<void>(resolve => {
		tcp.listen({host: '127.0.0.1', port: 0, backlog: 4096}, resolve);
	});
	ownPort = (tcp.address() as AddressInfo).port;
	tracked = open;
} else if (impl === 'socket') {
	// The floor of the memory and handshake figures on node:http (bench/bare-upgrade.ts).
	const {serveBareUpgrades} = await import('./bare-upgrade.ts');
	tracked = serveBareUpgrades(server);
} else {
	throw new TypeError(`Expected websoup, ws, uws, tcp or socket, got ${String(impl)}`);
}

/** The part of uWebSockets.js this server uses. */
interface UwsSocket {
	send(message: ArrayBuffer, isBinary: boolean, compress: boolean): number;
}

interface UwsModule {
	DISABLED: number;
	SHARED_COMPRESSOR: number;
	us_socket_local_port(token: unknown): number;
	App(): {
		ws(pattern: string, behavior: {
			compression: number;
			maxPayloadLength: number;
			maxBackpressure: number;
			idleTimeout: number;
			open: (socket: UwsSocket) => void;
			message: (socket: UwsSocket, message: ArrayBuffer, isBinary: boolean) => void;
			close: (socket: UwsSocket) => void;
		}): {listen(host: string, port: number, callback: (token: unknown) => void): void};
	};
}

function openCount(): number {
	return tracked.size;
}

if (ownPort === undefined) {
	await new Promise<void>(resolve => {
		server.listen({host: '127.0.0.1', port: 0, backlog: 4096}, resolve);
	});
}

let profiler: Session | undefined;

async function post(method: string): Promise<unknown> {
	return new Promise((resolve, reject) => {
		profiler!.post(method, (error, result) => {
			if (error) {
				reject(error);
			} else {
				resolve(result);
			}
		});
	});
}

function collect(): void {
	const gc = (globalThis as {gc?: () => void}).gc;
	gc?.();
	gc?.();
}

/** The resident bytes of malloc's main arena (the `[heap]` mapping; V8's own heap is mapped elsewhere), 0 where /proc is not there. */
function mallocRss(): number {
	try {
		const smaps = readFileSync('/proc/self/smaps', 'latin1');
		const at = smaps.indexOf('[heap]');
		if (at === -1) {
			return 0;
		}

		const rss = /\nRss:\s+(\d+) kB/.exec(smaps.slice(at));
		return rss === null ? 0 : Number(rss[1]) * 1024;
	} catch {
		return 0;
	}
}

serve({
	info: () => ({port: ownPort ?? (server.address() as AddressInfo).port, helpers: wsHelpers()}),
	cpu: () => ({cpuMs: cpuMs()}),
	async mem() {
		collect();
		// Let finalizers and freed socket buffers settle, then collect again.
		await new Promise(resolve => setTimeout(resolve, 50));
		collect();
		const usage = process.memoryUsage();
		const spaces = Object.fromEntries(getHeapSpaceStatistics().map(space => [space.space_name, space.space_size]));
		return {rss: usage.rss, heapUsed: usage.heapUsed, heapTotal: usage.heapTotal, external: usage.external, open: openCount(), spaces, mallocRss: mallocRss()};
	},
	/** A CPU profile of what runs from now until `profileStop` (one phase of a longer run). */
	async profileStart() {
		profiler ??= new Session();
		profiler.connect();
		await post('Profiler.enable');
		await post('Profiler.start');
		return {};
	},
	async profileStop(request) {
		const {profile} = (await post('Profiler.stop')) as {profile: unknown};
		profiler?.disconnect();
		writeFileSync(request['path'] as string, JSON.stringify(profile));
		return {};
	},
	/** A heap snapshot (for bench/profile.ts memory … DIR): where the bytes of idle connections live. */
	snapshot(request) {
		collect();
		return {path: writeHeapSnapshot(request['path'] as string)};
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
