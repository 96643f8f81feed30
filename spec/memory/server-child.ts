// The server of spec/memory/hostile-peers.spec.ts, in a process of its own so its RSS is its own:
// an echo handler from addWebsocketHandler on http.createServer() at 127.0.0.1, port 0.
//
// Run with `node --import tsx --expose-gc spec/memory/server-child.ts '<config JSON>'` under
// child_process.fork(). It sends {type: 'ready', port} once listening, then answers each request
// ({type: 'reset' | 'measure' | 'exit', id}) over the IPC channel.

import http from 'node:http';
import type {AddressInfo, Socket} from 'node:net';
import {addWebsocketHandler, type WebsocketHandlerOptions} from '../../lib/node/server.ts';
import type {WebsocketConnection} from '../../lib/websocket/connection.ts';

/** What the test passes on the command line. */
export interface ChildConfig {
	/** Passed as is to addWebsocketHandler, so a new option needs no change here. */
	handlerOptions?: Record<string, unknown>;
	/** Set with setProperty on each connection, in the callback, before it reads; unknown names are reported. */
	properties?: Record<string, number>;
	/**
	 * `false`: only the first connection (the test's well-behaved client) is echoed; the others' messages
	 * are read and dropped, so nothing is queued (the control). Default: every connection is echoed.
	 */
	echo?: boolean;
	/**
	 * Run a full GC each time the server's sockets have read this many bytes (all together), so the
	 * peak is of what the connections hold, plus at most this much garbage. 0 or absent: collection
	 * is left to V8.
	 */
	gcStep?: number;
}

/** A request from the test. */
export interface ChildRequest {
	type: 'reset' | 'measure' | 'exit';
	id: number;
}

/** How a connection ended, as the server saw it. */
export interface ConnectionEnd {
	error: string | null;
	closeCode: number;
	bytesRead: number;
}

/** The answer to 'reset' and 'measure'; sizes in bytes. */
export interface ChildReport {
	type: 'report';
	id: number;
	/** RSS now. */
	rss: number;
	/** RSS at the last reset (after a full GC): the baseline. */
	baselineRss: number;
	/**
	 * The highest RSS since the last reset: the sampled maximum, or the process's peak
	 * (getrusage ru_maxrss) when that rose after the reset, which catches a peak the sampler
	 * missed while the event loop was busy.
	 */
	peakRss: number;
	/** getrusage's ru_maxrss, the lifetime peak. */
	maxRss: number;
	heapUsed: number;
	external: number;
	arrayBuffers: number;
	/** Connections open now. */
	open: number;
	/** Bytes queued on the open connections, not yet written (their bufferedAmount). */
	bufferedAmount: number;
	/**
	 * Writes waiting in the open connections' sockets (Node's internal write queue, for the log
	 * only; 0 where that is not available): each costs far more than its bytes when frames are small.
	 */
	bufferedWrites: number;
	/** Bytes the open connections' sockets have read. */
	bytesRead: number;
	/** Connections that ended since the last reset. */
	ended: ConnectionEnd[];
	/** Full collections run since the last reset (see gcStep). */
	collections: number;
	/** Names in `properties` that WebsocketConnection does not have or would not set (with why). */
	unknownProperties: string[];
}

const config = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
const send = (message: unknown): void => {
	process.send!(message);
};

const gc = (globalThis as {gc?: () => void}).gc;
const SAMPLE_INTERVAL_MS = 5;
const maxRssBytes = (): number => process.resourceUsage().maxRSS * 1024;

let baselineRss = process.memoryUsage.rss();
let maxRssAtReset = maxRssBytes();
let sampledPeak = baselineRss;
const sampler = setInterval(() => {
	sampledPeak = Math.max(sampledPeak, process.memoryUsage.rss());
}, SAMPLE_INTERVAL_MS);

const gcStep = config.gcStep ?? 0;
let readSinceGc = 0;
let collections = 0;
/** Counts what a connection's socket reads; a full GC every gcStep bytes read, all connections together. */
const countRead = (chunk: Buffer): void => {
	readSinceGc += chunk.length;
	if (readSinceGc >= gcStep) {
		readSinceGc = 0;
		collections++;
		gc!();
		// The collection may have freed a peak the sampler has not seen yet; this one it has.
		sampledPeak = Math.max(sampledPeak, process.memoryUsage.rss());
	}
};

const connections = new Set<WebsocketConnection>();
let accepted = 0;
let ended: ConnectionEnd[] = [];
const unknownProperties = new Set<string>();

const server = http.createServer();
addWebsocketHandler(
	server,
	null,
	null,
	null,
	(_server, _msg, _path, connection) => {
		for (const [name, value] of Object.entries(config.properties ?? {})) {
			if ((connection.constructor as typeof WebsocketConnection).findProperty(name) === null) {
				unknownProperties.add(name);
				continue;
			}

			try {
				(connection as unknown as {setProperty(name: string, value: unknown): void}).setProperty(name, value);
			} catch (error) {
				// A construct-only property: handlerOptions must carry it instead.
				unknownProperties.add(`${name} (${error instanceof Error ? error.message : String(error)})`);
			}
		}

		connections.add(connection);
		const socket = connection.getIoStream() as Socket;
		if (gcStep > 0 && gc !== undefined) {
			// A listener only: it neither resumes a paused socket nor reads ahead of the connection.
			socket.prependListener('data', countRead);
		}

		let error: string | null = null;
		if (config.echo !== false || accepted++ === 0) {
			connection.connect('message', (self, type, data) => {
				self.sendMessage(type, data);
			});
		}
		connection.connect('error', (_self, caught) => {
			const reason = (caught as {reason?: unknown}).reason;
			error = `${typeof reason === 'string' ? `${reason}: ` : ''}${caught.message}`;
		});
		connection.connect('closed', self => {
			connections.delete(self);
			ended.push({error, closeCode: self.getCloseCode(), bytesRead: socket.bytesRead});
		});
	},
	config.handlerOptions as WebsocketHandlerOptions,
);

function report(id: number): ChildReport {
	const memory = process.memoryUsage();
	const maxRss = maxRssBytes();
	sampledPeak = Math.max(sampledPeak, memory.rss);
	let bufferedAmount = 0;
	let bytesRead = 0;
	let bufferedWrites = 0;
	for (const connection of connections) {
		const socket = connection.getIoStream() as Socket & {_writableState?: {buffered?: unknown[]; bufferedIndex?: number}};
		bufferedAmount += connection.bufferedAmount;
		bytesRead += socket.bytesRead;
		const state = socket._writableState;
		bufferedWrites += (state?.buffered?.length ?? 0) - (state?.bufferedIndex ?? 0);
	}

	return {
		type: 'report',
		id,
		rss: memory.rss,
		baselineRss,
		peakRss: maxRss > maxRssAtReset ? Math.max(maxRss, sampledPeak) : sampledPeak,
		maxRss,
		heapUsed: memory.heapUsed,
		external: memory.external,
		arrayBuffers: memory.arrayBuffers,
		open: connections.size,
		bufferedAmount,
		bufferedWrites,
		bytesRead,
		ended,
		collections,
		unknownProperties: [...unknownProperties],
	};
}

process.on('message', (request: ChildRequest) => {
	switch (request.type) {
		case 'reset': {
			// Two full collections: the second frees what the first's finalizers released.
			gc?.();
			gc?.();
			ended = [];
			collections = 0;
			baselineRss = process.memoryUsage.rss();
			readSinceGc = 0;
			sampledPeak = baselineRss;
			maxRssAtReset = maxRssBytes();
			send(report(request.id));
			break;
		}

		case 'measure': {
			send(report(request.id));
			break;
		}

		case 'exit': {
			clearInterval(sampler);
			for (const connection of connections) {
				(connection.getIoStream() as Socket).destroy();
			}

			server.close();
			process.disconnect();
			break;
		}
	}
});

// The test is the only reason to live: if it goes, so does this process.
process.on('disconnect', () => {
	clearInterval(sampler);
	process.exit(0);
});

server.listen(0, '127.0.0.1', () => {
	send({type: 'ready', port: (server.address() as AddressInfo).port});
});
