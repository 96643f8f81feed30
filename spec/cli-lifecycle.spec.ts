// `websoup serve` shuts down through the handler's close() (a second signal forces the exit); `websoup connect --reconnect`.

import {randomBytes} from 'node:crypto';
import {once} from 'node:events';
import {connect, type Socket} from 'node:net';
import test, {type ExecutionContext} from 'ava';
import {WebSocket} from 'ws';
import {CloseCode} from '../lib/websocket/constants.ts';
import {runCli, TIMEOUT, type Cli} from './helpers/cli.ts';
import {handlerServer} from './helpers/handler.ts';
import {until, withTimeout} from './helpers/signals.ts';
import {readHead, upgradeRequest} from './helpers/ws-peer.ts';

async function startServe(t: ExecutionContext): Promise<{cli: Cli; port: number}> {
	const cli = runCli(t, ['serve', '--port', '0']);
	const match = await cli.waitFor(/^listening on http:\/\/127\.0\.0\.1:(\d+)\//m);
	return {cli, port: Number(match[1])};
}

/** Completes a handshake at /ws by hand and then reads nothing: it never answers a Close. */
async function deafClient(t: ExecutionContext, port: number): Promise<Socket> {
	const socket = connect({port, host: '127.0.0.1'});
	socket.on('error', () => {});
	t.teardown(() => socket.destroy());
	await withTimeout(once(socket, 'connect'), TIMEOUT, 'connect');
	socket.write(upgradeRequest(port, randomBytes(16).toString('base64')).replace('GET /chat', 'GET /ws'));
	const head = await readHead(socket, TIMEOUT);
	t.regex(head.startLine, /^HTTP\/1\.1 101 /);
	return socket;
}

test.serial('serve: SIGTERM closes cleanly what answers, terminates what does not at the deadline, and reports the counts', async t => {
	const {cli, port} = await startServe(t);
	const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
	ws.on('error', () => {});
	t.teardown(() => ws.terminate());
	await withTimeout(once(ws, 'open'), TIMEOUT, 'ws open');
	await deafClient(t, port);
	await cli.waitFor(/^open .*\n(?:.*\n)*open /m);
	const closed = once(ws, 'close');
	cli.child.kill('SIGTERM');
	const [code] = (await withTimeout(closed, TIMEOUT, 'ws close')) as [number, Buffer];
	t.is(code, CloseCode.GOING_AWAY);
	await cli.waitFor(/^stopped: 1 closed cleanly, 0 without a close handshake, 1 terminated after 3000 ms$/m);
	t.is((await cli.exited()).code, 0);
	t.regex(cli.stdout(), /^stopping \(SIGTERM\): closing 2 connections$/m);
});

test.serial('serve: a second signal during the shutdown exits at once with code 1', async t => {
	const {cli, port} = await startServe(t);
	const deaf = await deafClient(t, port);
	await cli.waitFor(/^open /m);
	cli.child.kill('SIGINT');
	await cli.waitFor(/^stopping \(SIGINT\)/m);
	cli.child.kill('SIGINT');
	const exit = await cli.exited();
	t.is(exit.code, 1);
	t.regex(cli.stderr(), /^websoup: SIGINT again, exiting without waiting$/m);
	t.notRegex(cli.stdout(), /^stopped:/m);
	// The deaf client's connection went with the process.
	const gone = once(deaf, 'close');
	deaf.resume();
	await withTimeout(gone, TIMEOUT, 'the deaf socket closed');
});

test.serial('connect --reconnect: a server close with 1012 reconnects; lines go to the new connection; the end of input closes with 1000', async t => {
	const host = await handlerServer(t);
	// An echo server.
	const echo = (n: number): void => {
		// A missing connection fails the test through the waits below.
		host.nth(n, TIMEOUT).then(
			connection => {
				connection.connect('message', (self, type, data) => self.sendMessage(type, data));
			},
			() => {},
		);
	};

	echo(0);
	echo(1);
	const cli = runCli(t, ['connect', '--reconnect', host.url]);
	await until(() => /^connected to /m.test(cli.stderr()), TIMEOUT, 'the first connection');
	cli.child.stdin.write('one\n');
	await cli.waitFor(/^< one$/m);
	(await host.nth(0)).close(CloseCode.SERVICE_RESTART, 'restart');
	await until(() => cli.stderr().match(/^connected to /gm)?.length === 2, TIMEOUT, 'the second connection');
	t.regex(cli.stderr(), /^reconnecting in \d+ ms \(attempt 1\): closed 1012 "restart"$/m);
	cli.child.stdin.write('two\n');
	await cli.waitFor(/^< two$/m);
	cli.child.stdin.end();
	const exit = await cli.exited();
	t.is(exit.code, 0, cli.stderr());
	t.regex(cli.stderr(), /^closed 1000 ""$/m);
	t.is(host.accepted.length, 2);
	t.is(host.accepted[1]!.getCloseCode(), CloseCode.NORMAL);
});

test.serial('connect --reconnect: a 4xx is not retried: one line and exit code 1', async t => {
	const host = await handlerServer(t, {
		check(msg) {
			msg.setStatus(403);
		},
	});
	const cli = runCli(t, ['connect', '--reconnect', host.url]);
	const exit = await cli.exited();
	t.is(exit.code, 1);
	t.regex(cli.stderr(), /^websoup: cannot connect to ws:\/\/127\.0\.0\.1:\d+\/ws: handshake failed: /m);
	t.notRegex(cli.stderr(), /reconnecting/);
});

test.serial('serve --idle-timeout: a silent client is closed with 1001 "idle timeout" and the close is logged', async t => {
	const cli = runCli(t, ['serve', '--port', '0', '--idle-timeout', '1']);
	const port = Number((await cli.waitFor(/^listening on http:\/\/127\.0\.0\.1:(\d+)\//m))[1]);
	const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
	ws.on('error', () => {});
	t.teardown(() => ws.terminate());
	const closed = once(ws, 'close');
	const [code, reason] = (await withTimeout(closed, TIMEOUT, 'the idle close')) as [number, Buffer];
	t.is(code, CloseCode.GOING_AWAY);
	t.is(reason.toString(), 'idle timeout');
	await cli.waitFor(/^close \S+ 1001 "idle timeout"$/m);
	cli.child.kill('SIGINT');
	t.is((await cli.exited()).code, 0);
	const usage = runCli(t, ['serve', '--idle-timeout', 'soon']);
	t.is((await usage.exited()).code, 2);
	t.regex(usage.stderr(), /--idle-timeout expects a whole number/);
});
