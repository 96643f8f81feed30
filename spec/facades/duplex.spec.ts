// createWebSocketStream: a Node Duplex over a websoup client connection, piped through ws and websoup servers.

import {randomBytes} from 'node:crypto';
import {once} from 'node:events';
import {createReadStream, createWriteStream} from 'node:fs';
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {createServer as createHttpServer} from 'node:http';
import {join} from 'node:path';
import {Writable} from 'node:stream';
import {pipeline} from 'node:stream/promises';
import test, {type ExecutionContext} from 'ava';
import {WebSocket as WsClient} from 'ws';
import {createWebSocketStream} from '../../lib/facades/w3c.ts';
import {websocketConnect} from '../../lib/node/client.ts';
import {addWebsocketHandler} from '../../lib/node/server.ts';
import {WebsocketError} from '../../lib/websocket/errors.ts';
import {until, withTimeout} from '../helpers/signals.ts';
import {listen} from '../node/fixtures.ts';
import {peers, wsPeer, type StreamPeer} from './stream-peers.ts';

async function tempDir(t: ExecutionContext): Promise<string> {
	const directory = await mkdtemp(join(tmpdir(), 'websoup-duplex-'));
	t.teardown(async () => {
		await rm(directory, {recursive: true, force: true});
	});
	return directory;
}

async function clientOf(t: ExecutionContext, peer: StreamPeer) {
	const connection = await websocketConnect(peer.url, null, null, {maxIncomingPayloadSize: 0});
	t.teardown(() => {
		connection.getIoStream().destroy();
	});
	return connection;
}

for (const makePeer of peers) {
	const server = makePeer === wsPeer ? 'ws' : 'websoup';

	test(`pipeline(file, duplex): every byte reaches the server, then a clean close [${server} server]`, async t => {
		const directory = await tempDir(t);
		const file = join(directory, 'upload.bin');
		const content = randomBytes(8 * 1024 * 1024 + 123);
		await writeFile(file, content);
		const peer = await makePeer(t, {echo: false});
		const connection = await clientOf(t, peer);
		const side = await peer.nextSide();
		await withTimeout(pipeline(createReadStream(file), createWebSocketStream(connection)), 30_000, 'pipeline');
		const info = await connection.closed;
		t.true(info.wasClean);
		t.true(Buffer.concat(side.messages as Buffer[]).equals(content));
	});

	test(`pipeline(duplex, file): the server's messages become the file, the stream ends at its clean close [${server} server]`, async t => {
		const directory = await tempDir(t);
		const file = join(directory, 'download.bin');
		const parts = Array.from({length: 64}, () => randomBytes(64 * 1024));
		const peer = await makePeer(t, {echo: false});
		const connection = await clientOf(t, peer);
		const side = await peer.nextSide();
		const done = pipeline(createWebSocketStream(connection), createWriteStream(file));
		for (const part of parts) {
			side.send(part);
		}

		side.close(1000, 'done');
		await withTimeout(done, 30_000, 'pipeline');
		t.true((await readFile(file)).equals(Buffer.concat(parts)));
	});

	test(`an abnormal close destroys the duplex with a WebsocketError 1006 [${server} server]`, async t => {
		const peer = await makePeer(t);
		const connection = await clientOf(t, peer);
		const side = await peer.nextSide();
		const duplex = createWebSocketStream(connection);
		const failed = pipeline(duplex, new Writable({write: (_chunk, _encoding, callback) => callback()}));
		side.drop();
		const error = await t.throwsAsync(withTimeout(failed, 10_000, 'pipeline'));
		t.true(error instanceof Error);
		if (error instanceof WebsocketError) {
			t.is(error.code, 1006);
			t.is(error.reason, 'WS_ERR_CONNECTION_CLOSED');
		} else {
			t.is((error as NodeJS.ErrnoException).code, 'ECONNRESET');
		}
	});

	test(`writes wait for a slow reader: the connection never holds more than the mark and a chunk [${server} server]`, async t => {
		const peer = await makePeer(t, {echo: false, readDelay: 2});
		const connection = await clientOf(t, peer);
		const side = await peer.nextSide();
		const mark = 64 * 1024;
		const duplex = createWebSocketStream(connection, {connectionHighWaterMark: mark});
		const chunk = Buffer.alloc(256 * 1024, 5);
		const total = 160;
		let maxBuffered = 0;
		let maxLead = 0;
		for (let i = 0; i < total; i++) {
			await new Promise<void>((resolve, reject) => {
				duplex.write(chunk, error => {
					if (error) {
						reject(error);
						return;
					}

					maxBuffered = Math.max(maxBuffered, connection.bufferedAmount);
					maxLead = Math.max(maxLead, (i + 1) * chunk.length - side.bytes);
					resolve();
				});
			});
		}

		duplex.end();
		await until(() => side.messages.length === total, 60_000, 'every message at the server');
		const writeLimit = Math.max(mark, connection.getIoStream().writableHighWaterMark);
		t.true(maxBuffered <= writeLimit, `the connection held ${maxBuffered} bytes at a write callback`);
		t.log(`the writer ran at most ${maxLead} bytes ahead, of ${total * chunk.length}`);
		t.true(maxLead <= 24 * 1024 * 1024, `the writer ran ${maxLead} bytes ahead of the server`);
		t.true((await connection.closed).wasClean);
	});

	test(`a slow consumer makes the server wait: the client does not read the stream ahead [${server} server]`, async t => {
		const peer = await makePeer(t, {echo: false});
		const connection = await clientOf(t, peer);
		const side = await peer.nextSide();
		const chunk = Buffer.alloc(256 * 1024, 9);
		const total = 160;
		for (let i = 0; i < total; i++) {
			side.send(chunk);
		}

		let read = 0;
		let count = 0;
		let maxInFlight = 0;
		await pipeline(
			createWebSocketStream(connection),
			new Writable({
				highWaterMark: 1,
				write(data: Buffer, _encoding, callback) {
					read += data.length;
					maxInFlight = Math.max(maxInFlight, total * chunk.length - side.bufferedAmount() - read);
					// The server closes once everything was read (a slow read on a busy machine could
					// outlast its close timeout, which would make the close abnormal).
					if (read === total * chunk.length) {
						side.close(1000, '');
					}

					// A slow consumer: each chunk takes a little while.
					count++;
					setTimeout(callback, 2);
				},
			}),
		);
		t.is(read, total * chunk.length);
		t.log(`at most ${maxInFlight} bytes in flight, of ${total * chunk.length}`);
		t.is(count, total);
		t.true(maxInFlight <= 24 * 1024 * 1024, `${maxInFlight} bytes were in flight or buffered by the client`);
	});

	test(`destroy() tears the connection down; the server sees no close frame [${server} server]`, async t => {
		const peer = await makePeer(t);
		const connection = await clientOf(t, peer);
		const side = await peer.nextSide();
		const duplex = createWebSocketStream(connection);
		duplex.on('error', () => {});
		duplex.destroy();
		t.is((await side.closed).code, 1006);
		t.false((await connection.closed).wasClean);
	});

	test(`text messages come out as their UTF-8 bytes; with decodeStrings false a string is sent as text [${server} server]`, async t => {
		const peer = await makePeer(t);
		const connection = await clientOf(t, peer);
		const side = await peer.nextSide();
		const duplex = createWebSocketStream(connection, {decodeStrings: false});
		duplex.write('héllo');
		const [data] = (await withTimeout(
			new Promise(resolve => {
				duplex.once('data', (...args) => resolve(args));
			}),
			10_000,
			'data',
		)) as [Buffer];
		t.true(Buffer.isBuffer(data));
		t.is(data.toString('utf8'), 'héllo');
		t.deepEqual(side.messages, ['héllo']);
		duplex.destroy();
	});
}

test('createWebSocketStream refuses a connection that is not OPEN, and a bad mark', async t => {
	const peer = await wsPeer(t);
	const connection = await clientOf(t, peer);
	t.throws(() => createWebSocketStream(connection, {connectionHighWaterMark: -1}), {instanceOf: TypeError, message: /connectionHighWaterMark/});
	connection.close(1000);
	t.throws(() => createWebSocketStream(connection), {instanceOf: TypeError, message: /OPEN/});
});

test('on a server connection: a ws client uploads through the Duplex into a file, then closes cleanly', async t => {
	const directory = await tempDir(t);
	const file = join(directory, 'received.bin');
	const http = createHttpServer();
	const piped = new Promise<void>((resolve, reject) => {
		addWebsocketHandler(http, '/upload', null, null, (_server, _msg, _path, connection) => {
			pipeline(createWebSocketStream(connection), createWriteStream(file)).then(resolve, reject);
		});
	});
	const port = await listen(t, http);
	const client = new WsClient(`ws://127.0.0.1:${port}/upload`);
	await once(client, 'open');
	const parts = Array.from({length: 32}, () => randomBytes(100 * 1024));
	for (const part of parts) {
		client.send(part);
	}

	client.close(1000);
	await withTimeout(piped, 30_000, 'pipeline on the server');
	t.true((await readFile(file)).equals(Buffer.concat(parts)));
});
