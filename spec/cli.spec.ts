// The `websoup` command line: serve and connect as child processes, their output and their exit codes.

import {once} from 'node:events';
import {createServer as createHttpServer} from 'node:http';
import {connect, createServer as createNetServer, type AddressInfo} from 'node:net';
import ava, {type ExecutionContext} from 'ava';
import {WebSocket, WebSocketServer, type RawData} from 'ws';
import {computeAcceptKey} from '../lib/websocket/handshake.ts';
import {runCli, TIMEOUT, type Cli} from './helpers/cli.ts';
import {until, withTimeout} from './helpers/signals.ts';
import {keyOf, scriptedServer} from './node/fixtures.ts';

// One test at a time: each spawns `node --import tsx lib/cli.ts` (and often a second one); thirty of
// them starting at once on a busy two-core machine outran their 15 s waits (all failed, though each
// passes in about a second on its own). Serially the file takes about 25 s.
const test = ava.serial;

/** Starts `websoup serve --port 0 ...args` and resolves with the process and the port it printed. */
async function startServe(t: ExecutionContext, args: string[] = []): Promise<{cli: Cli; port: number}> {
	const cli = runCli(t, ['serve', '--port', '0', ...args]);
	const match = await cli.waitFor(/^listening on http:\/\/127\.0\.0\.1:(\d+)\//m);
	return {cli, port: Number(match[1])};
}

/** Terminates `ws` at teardown, whatever its state; errors after the test are not the test's concern. */
function closeAtTeardown(t: ExecutionContext, ws: WebSocket): void {
	ws.on('error', () => {});
	t.teardown(() => {
		if (ws.readyState !== WebSocket.CLOSED) {
			ws.terminate();
		}
	});
}

/** A `ws` client connected to `url`; closed at teardown. */
async function wsClient(t: ExecutionContext, url: string, protocols: string[] = []): Promise<WebSocket> {
	const ws = new WebSocket(url, protocols);
	closeAtTeardown(t, ws);
	await withTimeout(once(ws, 'open'), TIMEOUT, `ws open ${url}`);
	return ws;
}

async function nextMessage(ws: WebSocket): Promise<{data: RawData; isBinary: boolean}> {
	const [data, isBinary] = (await withTimeout(once(ws, 'message'), TIMEOUT, 'a ws message')) as [RawData, boolean];
	return {data, isBinary};
}

/** A `ws` echo server on 127.0.0.1, port 0; closed at teardown. */
async function wsEchoServer(t: ExecutionContext, options: {handleProtocols?: (protocols: Set<string>) => string | false} = {}): Promise<{server: WebSocketServer; url: string; closes: Array<{code: number; reason: string}>; headers: Array<Record<string, string | string[] | undefined>>}> {
	const server = new WebSocketServer({host: '127.0.0.1', port: 0, ...options});
	await withTimeout(once(server, 'listening'), TIMEOUT, 'ws server listening');
	const closes: Array<{code: number; reason: string}> = [];
	const headers: Array<Record<string, string | string[] | undefined>> = [];
	server.on('connection', (socket, req) => {
		headers.push(req.headers);
		socket.on('message', (data, isBinary) => {
			socket.send(data, {binary: isBinary});
		});
		socket.on('close', (code, reason) => {
			closes.push({code, reason: reason.toString()});
		});
	});
	t.teardown(() => {
		for (const client of server.clients) {
			client.terminate();
		}

		server.close();
	});
	const {port} = server.address() as AddressInfo;
	return {server, url: `ws://127.0.0.1:${port}/`, closes, headers};
}

/** Waits (bounded) for the ws server's side of a close: it can come just after the CLI has exited. */
async function closeSeen(closes: readonly unknown[]): Promise<void> {
	await until(() => closes.length > 0, TIMEOUT, "the ws server's side of the close");
}

/** A port on 127.0.0.1 with nothing listening on it. */
async function closedPort(): Promise<number> {
	const server = createNetServer();
	server.listen(0, '127.0.0.1');
	await once(server, 'listening');
	const {port} = server.address() as AddressInfo;
	server.close();
	await once(server, 'close');
	return port;
}

function lines(text: string): string[] {
	return text.split('\n').filter(line => line !== '');
}

// --- serve -------------------------------------------------------------------------------------

test('serve: prints the real port, serves the page, echoes, and closes clients with 1001 on SIGINT', async t => {
	const {cli, port} = await startServe(t);
	t.true(port > 0);

	const page = await withTimeout(fetch(`http://127.0.0.1:${port}/`), TIMEOUT, 'GET /');
	t.is(page.status, 200);
	t.regex(page.headers.get('content-type') ?? '', /^text\/html/);
	const html = await page.text();
	t.regex(html, /<!doctype html>/i);
	t.true(html.includes('new WebSocket('));

	const missing = await withTimeout(fetch(`http://127.0.0.1:${port}/nope`), TIMEOUT, 'GET /nope');
	t.is(missing.status, 404);
	await missing.arrayBuffer();

	const ws = await wsClient(t, `ws://127.0.0.1:${port}/ws`);
	const opened = await cli.waitFor(/^open (127\.0\.0\.1:\d+) protocol=-$/m);
	ws.send('hello, websoup');
	const text = await nextMessage(ws);
	t.false(text.isBinary);
	t.is(text.data.toString(), 'hello, websoup');
	ws.send(Buffer.from([0, 1, 2, 255]));
	const binary = await nextMessage(ws);
	t.true(binary.isBinary);
	t.deepEqual(Buffer.from(binary.data as Buffer), Buffer.from([0, 1, 2, 255]));

	const closed = once(ws, 'close');
	cli.child.kill('SIGINT');
	const [code, reason] = (await withTimeout(closed, TIMEOUT, 'ws close')) as [number, Buffer];
	t.is(code, 1001);
	t.is(reason.toString(), 'going away');
	const exit = await cli.exited();
	t.is(exit.code, 0);
	t.true(lines(cli.stdout()).includes(`close ${opened[1]} 1001 "going away"`), cli.stdout());
	t.is(cli.stderr(), '');
});

test('serve: chat mode sends every message to every client', async t => {
	const {cli, port} = await startServe(t, ['--mode', 'chat']);
	const html = await (await withTimeout(fetch(`http://127.0.0.1:${port}/`), TIMEOUT, 'GET /')).text();
	t.true(html.includes('"mode":"chat"'));
	const alice = await wsClient(t, `ws://127.0.0.1:${port}/ws`);
	const bob = await wsClient(t, `ws://127.0.0.1:${port}/ws`);
	// Both handshakes are done on the server's side once both open lines are logged.
	await cli.waitFor(/^open .*\n(?:.*\n)*open /m);
	const toAlice = nextMessage(alice);
	const toBob = nextMessage(bob);
	alice.send('hi all');
	t.is((await toAlice).data.toString(), 'hi all');
	t.is((await toBob).data.toString(), 'hi all');

	const bobAgain = nextMessage(bob);
	const aliceAgain = nextMessage(alice);
	bob.send('hi alice');
	t.is((await aliceAgain).data.toString(), 'hi alice');
	t.is((await bobAgain).data.toString(), 'hi alice');

	cli.child.kill('SIGTERM');
	t.is((await cli.exited()).code, 0);
});

test('serve: negotiates a --protocol and logs it; a client closing is logged with its code and reason', async t => {
	const {cli, port} = await startServe(t, ['--protocol', 'chat', '--protocol', 'superchat']);
	const ws = await wsClient(t, `ws://127.0.0.1:${port}/ws`, ['superchat']);
	t.is(ws.protocol, 'superchat');
	const [, name] = await cli.waitFor(/^open (\S+) protocol=superchat$/m);
	ws.close(4000, 'bye now');
	await withTimeout(once(ws, 'close'), TIMEOUT, 'ws close');
	await cli.waitFor(new RegExp(`^close ${name!.replaceAll('.', '\\.')} 4000 "bye now"$`, 'm'));
	cli.child.kill('SIGINT');
	t.is((await cli.exited()).code, 0);
});

test('serve: refuses a handshake from another --origin', async t => {
	const {cli, port} = await startServe(t, ['--origin', 'http://good.example']);
	const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, {origin: 'http://evil.example'});
	closeAtTeardown(t, ws);
	const [, response] = (await withTimeout(once(ws, 'unexpected-response'), TIMEOUT, 'refusal')) as [unknown, {statusCode: number}];
	t.is(response.statusCode, 403);
	cli.child.kill('SIGINT');
	t.is((await cli.exited()).code, 0);
});

test('serve: a port in use is one line on stderr and exit code 1', async t => {
	const blocker = createNetServer();
	blocker.listen(0, '127.0.0.1');
	await once(blocker, 'listening');
	t.teardown(() => {
		blocker.close();
	});
	const {port} = blocker.address() as AddressInfo;
	const cli = runCli(t, ['serve', '--port', String(port)]);
	const exit = await cli.exited();
	t.is(exit.code, 1);
	t.deepEqual(lines(cli.stderr()), [`websoup: cannot listen on 127.0.0.1:${port}: address already in use`]);
});

test('serve: an unreadable certificate is one line on stderr and exit code 1', async t => {
	const cli = runCli(t, ['serve', '--port', '0', '--tls-cert', '/nonexistent/cert.pem', '--tls-key', '/nonexistent/key.pem']);
	t.is((await cli.exited()).code, 1);
	t.deepEqual(lines(cli.stderr()), ['websoup: cannot read --tls-cert file "/nonexistent/cert.pem": ENOENT']);
});

// --- connect -----------------------------------------------------------------------------------

test('connect: sends stdin lines from a pipe, prints the echoes, closes with 1000 at EOF and exits 0', async t => {
	const {url, closes} = await wsEchoServer(t);
	const cli = runCli(t, ['connect', url], 'one\ntwo words\nünïcødé ✓\n');
	const exit = await cli.exited();
	t.is(exit.code, 0, cli.stderr());
	t.deepEqual(lines(cli.stdout()), ['< one', '< two words', '< ünïcødé ✓']);
	t.is(cli.stderr(), '');
	await closeSeen(closes);
	t.deepEqual(closes, [{code: 1000, reason: ''}]);
});

test('connect: --binary sends binary messages, printed in hex; /ping prints the pong', async t => {
	const {url} = await wsEchoServer(t);
	const cli = runCli(t, ['connect', '--binary', url], 'AB\n/ping hey\n');
	t.is((await cli.exited()).code, 0, cli.stderr());
	t.deepEqual(lines(cli.stdout()).sort(), ['< [binary 2 bytes] 4142', '< pong hey']);
});

test('connect: /close sends the code and reason', async t => {
	const {url, closes} = await wsEchoServer(t);
	const cli = runCli(t, ['connect', url], 'first\n/close 4001 all done\nnot sent\n');
	t.is((await cli.exited()).code, 0, cli.stderr());
	t.deepEqual(lines(cli.stdout()), ['< first']);
	await closeSeen(closes);
	t.deepEqual(closes, [{code: 4001, reason: 'all done'}]);
});

test('connect: a bad command is one line on stderr and the session goes on', async t => {
	const {url, closes} = await wsEchoServer(t);
	const cli = runCli(t, ['connect', url], '/close abc\n//slash\n');
	t.is((await cli.exited()).code, 0, cli.stderr());
	t.deepEqual(lines(cli.stderr()), ['websoup: /close expects a numeric close code such as 1000, got "abc"']);
	t.deepEqual(lines(cli.stdout()), ['< /slash']);
	await closeSeen(closes);
	t.deepEqual(closes, [{code: 1000, reason: ''}]);
});

test('connect: offers --protocol, sends --origin and -H headers', async t => {
	const {url, headers} = await wsEchoServer(t, {handleProtocols: protocols => (protocols.has('two') ? 'two' : false)});
	const cli = runCli(t, ['connect', '--protocol', 'one', '--protocol', 'two', '--origin', 'http://example.org', '-H', 'X-Token: abc 123', url], 'x\n');
	t.is((await cli.exited()).code, 0, cli.stderr());
	t.deepEqual(lines(cli.stdout()), ['< x']);
	t.is(headers[0]?.['sec-websocket-protocol'], 'one, two');
	t.is(headers[0]?.['origin'], 'http://example.org');
	t.is(headers[0]?.['x-token'], 'abc 123');
});

test('connect: talks to websoup serve', async t => {
	const {cli: server, port} = await startServe(t);
	const cli = runCli(t, ['connect', `ws://127.0.0.1:${port}/ws`], 'round trip\n');
	t.is((await cli.exited()).code, 0, cli.stderr());
	t.deepEqual(lines(cli.stdout()), ['< round trip']);
	await server.waitFor(/^close \S+ 1000 ""$/m);
	server.child.kill('SIGINT');
	t.is((await server.exited()).code, 0);
});

test('connect: a closed port is one line on stderr and a non-zero exit', async t => {
	const port = await closedPort();
	const cli = runCli(t, ['connect', `ws://127.0.0.1:${port}/`], '');
	const exit = await cli.exited();
	t.is(exit.code, 1);
	const errors = lines(cli.stderr());
	t.is(errors.length, 1, cli.stderr());
	t.regex(errors[0] ?? '', /^websoup: cannot connect to ws:\/\/127\.0\.0\.1:\d+\/: .*ECONNREFUSED/);
	t.is(cli.stdout(), '');
});

test('connect: a refused handshake reports the HTTP status', async t => {
	const server = createHttpServer((_req, res) => {
		res.writeHead(403, {'Content-Type': 'text/plain'}).end('no');
	});
	server.on('upgrade', (_req, socket) => {
		socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
	});
	server.listen(0, '127.0.0.1');
	await once(server, 'listening');
	t.teardown(() => {
		server.closeAllConnections();
		server.close();
	});
	const {port} = server.address() as AddressInfo;
	const cli = runCli(t, ['connect', `ws://127.0.0.1:${port}/`], '');
	t.is((await cli.exited()).code, 1);
	t.deepEqual(lines(cli.stderr()), [`websoup: cannot connect to ws://127.0.0.1:${port}/: handshake rejected: HTTP 403 Forbidden`]);
});

// --- usage -------------------------------------------------------------------------------------

for (const [args, message] of [
	[['serve', '--port', 'abc'], /^websoup: --port expects a whole number from 0 to 65535, got "abc"$/],
	[['serve', '--port', '70000'], /^websoup: --port expects a whole number/],
	[['serve', '--mode', 'karaoke'], /^websoup: --mode expects "echo" or "chat"/],
	[['serve', '--bogus'], /^websoup: Unknown option '--bogus'/],
	[['serve', '--tls-cert', 'cert.pem'], /^websoup: --tls-cert and --tls-key go together/],
	[['connect', 'not-a-url'], /^websoup: not a URL: "not-a-url"/],
	[['connect', 'ftp://example.org/'], /^websoup: unsupported URL "ftp:\/\/example\.org\/"/],
	[['connect'], /^websoup: connect expects a URL/],
	[['connect', 'ws://127.0.0.1:1/', '-H', 'no colon'], /^websoup: -H expects "Name: value"/],
	[['frobnicate'], /^websoup: unknown command "frobnicate"/],
] as const) {
	test(`usage: websoup ${args.join(' ')} exits 2 with one line on stderr`, async t => {
		const cli = runCli(t, [...args], '');
		t.is((await cli.exited()).code, 2);
		const errors = lines(cli.stderr());
		t.is(errors.length, 1, cli.stderr());
		t.regex(errors[0] ?? '', message);
		t.is(cli.stdout(), '');
	});
}

for (const args of [['--help'], ['serve', '--help'], ['connect', '--help'], ['connect', '-h']]) {
	test(`usage: websoup ${args.join(' ')} prints help and exits 0`, async t => {
		const cli = runCli(t, args);
		t.is((await cli.exited()).code, 0);
		t.regex(cli.stdout(), /^Usage: websoup/);
		t.is(cli.stderr(), '');
	});
}

test('serve: a request head over Node\'s size limit gets 431, and the server keeps serving', async t => {
	const {port} = await startServe(t);
	const socket = connect(port, '127.0.0.1');
	t.teardown(() => socket.destroy());
	socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
	const chunks: Buffer[] = [];
	socket.on('data', (chunk: Buffer) => chunks.push(chunk));
	await withTimeout(once(socket, 'close'), TIMEOUT, 'the oversized request to be answered');
	t.regex(Buffer.concat(chunks).toString('latin1'), /^HTTP\/1\.1 431 /);
	const page = await withTimeout(fetch(`http://127.0.0.1:${port}/`), TIMEOUT, 'GET /');
	t.is(page.status, 200);
	await page.arrayBuffer();
});

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
