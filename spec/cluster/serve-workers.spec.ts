// `websoup serve --workers N`: the workers share the port; a worker that cannot start stops them all
// (exit 1); Redis unreachable at start is one line and exit 1; SIGTERM stops every worker (exit 0).

import {once} from 'node:events';
import net from 'node:net';
import test from 'ava';
import {WebSocket} from 'ws';
import {runCli} from '../helpers/cli.ts';
import {freePort} from '../helpers/redis-server.ts';
import {withTimeout} from '../helpers/signals.ts';

test('echo with 3 workers: clients land on different workers, each gets its echo; SIGTERM stops all, exit 0', async t => {
	const cli = runCli(t, ['serve', '--port', '0', '--workers', '3']);
	const [, port] = await cli.waitFor(/^listening on http:\/\/127\.0\.0\.1:(\d+)\/ \(mode echo, websocket at \/ws, 3 workers\)$/m, 60_000);
	const clients = [];
	for (let index = 0; index < 6; index++) {
		const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
		t.teardown(() => ws.terminate());
		await withTimeout(once(ws, 'open'), 30_000, 'open');
		ws.send(`echo ${index}`);
		const [data] = (await withTimeout(once(ws, 'message'), 30_000, 'echo')) as [Buffer];
		t.is(data.toString(), `echo ${index}`);
		clients.push(ws);
	}

	const workers = new Set([...cli.stdout().matchAll(/^worker (\d+): open /gm)].map(match => match[1]));
	t.true(workers.size >= 2, cli.stdout());
	const closes = clients.map(async ws => once(ws, 'close'));
	cli.child.kill('SIGTERM');
	for (const [code] of (await withTimeout(Promise.all(closes), 30_000, 'closes')) as Array<[number]>) {
		t.is(code, 1001);
	}

	t.is((await cli.exited(30_000)).code, 0);
	t.regex(cli.stdout(), /^stopping \(SIGTERM\): 3 worker\(s\)$/m);
});

test('a port in use: the workers fail before listening, the primary says so and exits 1', async t => {
	const blocker = net.createServer();
	blocker.listen(0, '127.0.0.1');
	await once(blocker, 'listening');
	t.teardown(() => blocker.close());
	const {port} = blocker.address() as net.AddressInfo;
	const cli = runCli(t, ['serve', '--port', String(port), '--workers', '2']);
	t.is((await cli.exited(60_000)).code, 1);
	t.regex(cli.stdout(), /^worker \d+ exited \(code 1\) before listening; stopping$/m);
	t.regex(cli.stderr(), /websoup: cannot listen on 127\.0\.0\.1:\d+: address already in use/);
});

test('Redis unreachable at start: one line on stderr, exit 1, with or without workers', async t => {
	const port = await freePort();
	const alone = runCli(t, ['serve', '--port', '0', '--mode', 'chat', '--redis', `redis://127.0.0.1:${port}`]);
	t.is((await alone.exited(60_000)).code, 1);
	t.regex(alone.stderr(), new RegExp(`^websoup: cannot connect to redis://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
	t.is(alone.stderr().trimEnd().split('\n').length, 1);

	const workers = runCli(t, ['serve', '--port', '0', '--mode', 'chat', '--workers', '2', '--redis', `redis://127.0.0.1:${port}`]);
	t.is((await workers.exited(60_000)).code, 1);
	t.regex(workers.stdout(), /before listening; stopping/);
});
