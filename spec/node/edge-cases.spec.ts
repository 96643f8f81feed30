// Edge cases of the Node glue and the CLI: bounded refused bodies, options and signals checked up front, handlers removed mid-handshake, CLI wording and SIGINT.

import {spawn} from 'node:child_process';
import {once} from 'node:events';
import {createServer} from 'node:http';
import type {Socket} from 'node:net';
import test from 'ava';
import {WebSocketServer} from 'ws';
import {websocketConnect} from '../../lib/node/client.ts';
import {addWebsocketHandler} from '../../lib/node/server.ts';
import type {WebsocketConnection} from '../../lib/websocket/connection.ts';
import {WebsocketError, WebsocketErrorCode} from '../../lib/websocket/errors.ts';
import {computeAcceptKey} from '../../lib/websocket/handshake.ts';
import {Message} from '../../lib/http/message.ts';
import {until, withTimeout} from '../helpers/signals.ts';
import {root, runCli} from '../helpers/cli.ts';
import {keyOf, listen, rawServer, scriptedServer} from './fixtures.ts';

async function outcome(promise: Promise<WebsocketConnection>, timeout = 5000): Promise<WebsocketConnection | Error> {
	return withTimeout(
		promise.then(
			connection => connection,
			(error: unknown) => error as Error,
		),
		timeout,
		'websocketConnect to settle',
	);
}

// --- client ------------------------------------------------------------------------------------

test('client: a refused chunked body whose chunk-size line never ends is not buffered without bound', async t => {
	// docs/node.md: the body of a refused handshake is kept "at most 64 KiB". A chunk-size line
	// with an endless chunk extension never yields body bytes, so the body never reaches
	// MAX_REFUSED_BODY_SIZE: the client must stop reading anyway (Node's parser ends such a line
	// with HPE_CHUNK_EXTENSIONS_OVERFLOW).
	let written = 0;
	const limit = 8 * 1024 * 1024;
	const port = await scriptedServer(t, (_request, socket) => {
		socket.write('HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n1;ext=');
		const chunk = Buffer.alloc(64 * 1024, 'a');
		const pump = (): void => {
			while (written < limit && !socket.destroyed) {
				written += chunk.length;
				if (!socket.write(chunk)) {
					socket.once('drain', pump);
					return;
				}
			}
		};

		pump();
	});
	const msg = new Message(`ws://127.0.0.1:${port}/`);
	const started = Date.now();
	const result = await outcome(websocketConnect(msg, null, null, {handshakeTimeout: 30_000}), 10_000).catch((error: Error) => error);
	t.true(result instanceof WebsocketError, `expected NOT_WEBSOCKET, got ${String(result)}`);
	t.is((result as WebsocketError).code, WebsocketErrorCode.NOT_WEBSOCKET);
	t.is(msg.statusCode, 403);
	// The client should give up reading long before the server pushed 8 MiB (or the 30 s timeout).
	t.true(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
	t.true(written < limit, `the client read all ${written} bytes of a refused response`);
});

test('client: an invalid connection option is refused before any connection is made', async t => {
	// docs/node.md: an invalid option rejects with TypeError. The limits are only checked by the
	// WebsocketConnection constructor after the server accepted the handshake, so the server gets
	// a 101 and a connection that is dropped at once.
	const server = createServer();
	const accepted: WebsocketConnection[] = [];
	addWebsocketHandler(server, '/ws', null, null, (_server, _msg, _path, connection) => {
		accepted.push(connection);
	});
	let tcpConnections = 0;
	server.on('connection', () => {
		tcpConnections++;
	});
	const port = await listen(t, server);
	t.teardown(() => {
		for (const connection of accepted) {
			connection.getIoStream().destroy();
		}
	});

	const result = await outcome(websocketConnect(`ws://127.0.0.1:${port}/ws`, null, null, {maxIncomingPayloadSize: -1}));
	t.true(result instanceof TypeError, `expected a TypeError, got ${String(result)}`);
	t.is(accepted.length, 0, 'the server accepted a WebSocket for a call that could never succeed');
	t.is(tcpConnections, 0);
});

test('client: a `signal` that is not an AbortSignal rejects without leaving a live socket behind', async t => {
	// Passing the AbortController instead of its signal is an easy mistake in JavaScript. The socket
	// is opened before the promise executor calls signal.addEventListener(); when that throws the
	// promise rejects, but the socket stays connected with the handshake's listeners on it, and
	// the next event on it runs cleanup(), whose signal.removeEventListener() throws: an uncaught
	// exception that kills the process. Run in a child so the crash cannot take the test worker.
	const serverSockets: Socket[] = [];
	const port = await rawServer(t, socket => {
		serverSockets.push(socket);
	});
	const script = `
		const {websocketConnect} = await import('./lib/node/client.ts');
		try {
			await websocketConnect('ws://127.0.0.1:${port}/', null, null, {signal: new AbortController()});
			console.log('resolved');
		} catch (error) {
			console.log('rejected ' + error.constructor.name);
		}
	`;
	const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {cwd: root});
	t.teardown(() => {
		if (child.exitCode === null && child.signalCode === null) {
			child.kill('SIGKILL');
		}
	});
	let stdout = '';
	let stderr = '';
	child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
		stdout += chunk;
	});
	child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
		stderr += chunk;
	});
	const exited = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
	await until(() => stdout.includes('rejected'), 15_000, 'the call to reject');
	t.is(stdout.trim(), 'rejected TypeError');
	// With nothing left open, the child's event loop is empty and it exits on its own.
	const [code] = await withTimeout(exited, 5000, 'the child to exit on its own (a socket was left open)');
	t.is(code, 0, stderr);
	t.true(serverSockets.every(socket => socket.destroyed || socket.readableEnded));
});

// --- server ------------------------------------------------------------------------------------

test('server: a handler removed while its check hook is running does not get the connection', async t => {
	// libsoup's complete_websocket_upgrade looks the handler up again before stealing the
	// connection; websoup keeps the entry captured before `await check()`, so a removed (or
	// replaced) handler's callback still receives a connection after remove().
	const server = createServer();
	const received: WebsocketConnection[] = [];
	let release!: () => void;
	const gate = new Promise<void>(resolve => {
		release = resolve;
	});
	let entered = false;
	const handler = addWebsocketHandler(
		server,
		'/ws',
		null,
		null,
		(_server, _msg, _path, connection) => {
			received.push(connection);
		},
		{
			async check() {
				entered = true;
				await gate;
			},
		},
	);
	const port = await listen(t, server);
	t.teardown(() => {
		release();
		for (const connection of received) {
			connection.getIoStream().destroy();
		}
	});

	const attempt = outcome(websocketConnect(`ws://127.0.0.1:${port}/ws`, null, null, {handshakeTimeout: 5000}));
	await until(() => entered, 5000, 'the check hook');
	handler.remove();
	release();
	const result = await attempt;
	if (!(result instanceof Error)) {
		result.getIoStream().destroy();
	}

	t.is(received.length, 0, 'the removed handler\'s callback was called');
	t.true(result instanceof WebsocketError, 'the client was given a WebSocket by a removed handler');
});

// --- CLI ---------------------------------------------------------------------------------------

test('cli: connect reports a 101 that fails verification as a failed handshake, not "rejected: HTTP 101"', async t => {
	// describeConnectError() treats every NOT_WEBSOCKET with a status as a refusal, but
	// clientVerifyHandshake's NOT_WEBSOCKET "Server ignored WebSocket handshake" comes with a 101.
	const port = await scriptedServer(t, (request, socket) => {
		socket.end(
			'HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n' +
				`Sec-WebSocket-Accept: ${computeAcceptKey(keyOf(request))}\r\n\r\n`,
		);
	});
	const cli = runCli(t, ['connect', `ws://127.0.0.1:${port}/`]);
	cli.child.stdin.end();
	t.is((await cli.exited()).code, 1);
	const errors = cli.stderr().split('\n').filter(line => line !== '');
	t.is(errors.length, 1, cli.stderr());
	t.notRegex(errors[0] ?? '', /handshake rejected: HTTP 101/);
	t.regex(errors[0] ?? '', /Server ignored WebSocket handshake/);
});

test('cli: connect closes with 1000 on SIGINT and exits 0', async t => {
	// Covers docs/cli.md "Ctrl-C closes with 1000 too": no spec sends a signal to `connect`.
	const server = new WebSocketServer({host: '127.0.0.1', port: 0});
	await withTimeout(once(server, 'listening'), 5000, 'ws server');
	const closes: number[] = [];
	server.on('connection', socket => {
		socket.on('message', (data, isBinary) => {
			socket.send(data, {binary: isBinary});
		});
		socket.on('close', code => {
			closes.push(code);
		});
	});
	t.teardown(() => {
		for (const client of server.clients) {
			client.terminate();
		}

		server.close();
	});
	const {port} = server.address() as {port: number};
	const cli = runCli(t, ['connect', `ws://127.0.0.1:${port}/`]);
	cli.child.stdin.write('hello\n');
	await until(() => cli.stdout().includes('< hello\n'), 15_000, 'the echo');
	cli.child.kill('SIGINT');
	const exit = await cli.exited();
	t.is(exit.code, 0, cli.stderr());
	await until(() => closes.length === 1, 5000, 'the server to see the close');
	t.deepEqual(closes, [1000]);
});
