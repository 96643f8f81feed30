// The server of spec/memory/slow-subscriber.spec.ts, in a process of its own so its RSS is its own:
// a WebsocketHub on addWebsocketHandler; every connection subscribes to "feed".
//
// Run under child_process.fork() with `--import tsx --expose-gc` and a config JSON argument. It sends
// {type: 'ready', port}, then answers {type: 'publish', count, size} with a PublishReport.

import http from 'node:http';
import type {AddressInfo} from 'node:net';
import {addWebsocketHandler} from '../../lib/node/server.ts';
import type {WebsocketConnection} from '../../lib/websocket/connection.ts';
import {WebsocketDataType} from '../../lib/websocket/constants.ts';
import {WebsocketHub, type BackpressurePolicy} from '../../lib/topics/hub.ts';

/** What the test passes on the command line. */
export interface HubChildConfig {
	policy: BackpressurePolicy;
	maxBackpressure: number;
}

/** The answer to 'publish'; sizes in bytes. */
export interface PublishReport {
	type: 'report';
	/** RSS after a full GC before publishing. */
	baselineRss: number;
	/** The highest RSS sampled while publishing and until every fast subscriber had it all. */
	peakRss: number;
	/** `dropped` emissions per stalled connection. */
	droppedPerStalled: number[];
	/** How many publishes reached how many connections (the sum of publish()'s results). */
	queued: number;
	/** The most bytes a stalled connection had waiting at any point. */
	maxStalledBuffered: number;
	/** States of the stalled connections at the end (1 OPEN, 2 CLOSING, 3 CLOSED). */
	stalledStates: number[];
}

const config = JSON.parse(process.argv[2] ?? '{}') as HubChildConfig;
const gc = (globalThis as {gc?: () => void}).gc;
const hub = new WebsocketHub({maxBackpressure: config.maxBackpressure, backpressurePolicy: config.policy});
const fast = new Set<WebsocketConnection>();
const stalled: WebsocketConnection[] = [];
const dropped = new Map<WebsocketConnection, number>();
hub.connect('dropped', (_hub, connection) => {
	dropped.set(connection, (dropped.get(connection) ?? 0) + 1);
});

const server = http.createServer();
addWebsocketHandler(server, '/ws', null, null, (_server, msg, _path, connection) => {
	if (msg.uri.searchParams.get('role') === 'stalled') {
		stalled.push(connection);
	} else {
		fast.add(connection);
	}

	connection.connect('closed', self => fast.delete(self));
	hub.subscribe(connection, 'feed');
	process.send!({type: 'connected', count: fast.size + stalled.length});
});

async function turn(): Promise<void> {
	return new Promise(resolve => {
		setImmediate(resolve);
	});
}

async function publish(count: number, size: number): Promise<PublishReport> {
	gc?.();
	const baselineRss = process.memoryUsage().rss;
	let peakRss = baselineRss;
	let maxStalledBuffered = 0;
	const sample = (): void => {
		peakRss = Math.max(peakRss, process.memoryUsage().rss);
		for (const connection of stalled) {
			maxStalledBuffered = Math.max(maxStalledBuffered, connection.bufferedAmount);
		}
	};

	const sampler = setInterval(sample, 10);
	let queued = 0;
	for (let sequence = 0; sequence < count; sequence++) {
		// A producer paced by its healthy consumers: the next message once each fast one has room.
		const deadline = Date.now() + 60_000;
		while ([...fast].some(connection => connection.bufferedAmount > 256 * 1024)) {
			if (Date.now() > deadline) {
				throw new Error('fast subscribers stopped reading for 60 s');
			}

			await turn();
		}

		const data = Buffer.alloc(size, sequence & 0xff);
		data.writeUInt32BE(sequence, 0);
		queued += hub.publish('feed', WebsocketDataType.BINARY, data);
		if (sequence % 16 === 0) {
			// Collect the published buffers nobody holds any more, so RSS shows what the connections hold.
			if (sequence % 512 === 0) {
				gc?.();
			}

			sample();
			await turn();
		}
	}

	const deadline = Date.now() + 60_000;
	while ([...fast].some(connection => connection.bufferedAmount > 0) && Date.now() < deadline) {
		await turn();
	}

	sample();
	clearInterval(sampler);
	return {
		type: 'report',
		baselineRss,
		peakRss,
		droppedPerStalled: stalled.map(connection => dropped.get(connection) ?? 0),
		queued,
		maxStalledBuffered,
		stalledStates: stalled.map(connection => connection.getState()),
	};
}

process.on('message', (request: {type: string; count?: number; size?: number}) => {
	if (request.type === 'publish') {
		void publish(request.count!, request.size!).then(
			report => process.send!(report),
			(error: unknown) => process.send!({type: 'error', message: String(error)}),
		);
	} else if (request.type === 'states') {
		process.send!({type: 'states', states: stalled.map(connection => connection.getState())});
	} else if (request.type === 'exit') {
		process.exit(0);
	}
});

server.listen(0, '127.0.0.1', () => {
	process.send!({type: 'ready', port: (server.address() as AddressInfo).port});
});
