// Across processes, for real: `websoup serve --mode chat --workers 4 --redis …` with a redis-server
// of its own, 200 ws clients spread over the workers; every message reaches every client exactly
// once, in each sender's order; a worker killed and replaced; redis-server restarted.

import {once} from 'node:events';
import test, {type ExecutionContext} from 'ava';
import {WebSocket} from 'ws';
import {runCli, type Cli} from '../helpers/cli.ts';
import {RedisServer} from '../helpers/redis-server.ts';
import {until, withTimeout} from '../helpers/signals.ts';

const WORKERS = 4;
const CLIENTS = 200;
const WAIT = 60_000;

interface Client {
	ws: WebSocket;
	received: string[];
	closed: boolean;
}

async function connectClients(t: ExecutionContext, port: number, count: number): Promise<Client[]> {
	const clients: Client[] = [];
	for (let index = 0; index < count; index++) {
		const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
		t.teardown(() => ws.terminate());
		const client: Client = {ws, received: [], closed: false};
		ws.on('message', (data: Buffer) => client.received.push(data.toString('utf8')));
		ws.on('close', () => {
			client.closed = true;
		});
		ws.on('error', () => {});
		clients.push(client);
	}

	await withTimeout(Promise.all(clients.map(async client => once(client.ws, 'open'))), WAIT, 'clients open');
	return clients;
}

/** `open` lines per worker PID so far. */
function opensPerWorker(cli: Cli): Map<number, number> {
	const counts = new Map<number, number>();
	for (const match of cli.stdout().matchAll(/^worker (\d+): open /gm)) {
		const pid = Number(match[1]);
		counts.set(pid, (counts.get(pid) ?? 0) + 1);
	}

	return counts;
}

function totalOpens(cli: Cli): number {
	return [...opensPerWorker(cli).values()].reduce((a, b) => a + b, 0);
}

/**
 * Twenty senders spread over the clients send `perSender` messages each, tagged with the round;
 * every client must get each one exactly once, and each sender's in the order sent.
 */
async function round(t: ExecutionContext, clients: Client[], tag: string, perSender = 10): Promise<void> {
	const senders = clients.filter((_, index) => index % 10 === 0);
	for (let sequence = 0; sequence < perSender; sequence++) {
		for (const [index, sender] of senders.entries()) {
			sender.ws.send(`${tag} ${index} ${sequence}`);
		}
	}

	const expected = senders.length * perSender;
	const mine = (client: Client): string[] => client.received.filter(text => text.startsWith(`${tag} `));
	await until(() => clients.every(client => mine(client).length >= expected), WAIT, `round ${tag}`);
	// A moment for duplicates to show, bounded by a message sent after them on the same paths.
	senders[0]!.ws.send(`${tag}-end`);
	await until(() => clients.every(client => client.received.includes(`${tag}-end`)), WAIT, `end of round ${tag}`);
	for (const client of clients) {
		const texts = mine(client);
		t.is(texts.length, expected);
		const next = senders.map(() => 0);
		for (const text of texts) {
			const [, sender, sequence] = text.split(' ').map(Number);
			t.is(sequence, next[sender!]);
			next[sender!]!++;
		}
	}
}

test('4 workers, 200 clients: every message reaches every client exactly once; a killed worker is replaced; a redis-server restart heals', async t => {
	t.timeout(240_000);
	const redis = await RedisServer.start(t);
	const cli = runCli(t, ['serve', '--port', '0', '--mode', 'chat', '--workers', String(WORKERS), '--redis', redis.url]);
	const [, port] = await cli.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)\/ \(mode chat, websocket at \/ws, 4 workers, redis /, WAIT);
	let clients = await connectClients(t, Number(port), CLIENTS);
	// `open` is logged once the worker's Redis subscription is in place.
	await until(() => totalOpens(cli) === CLIENTS, WAIT, '200 open lines');
	const spread = opensPerWorker(cli);
	t.is(spread.size, WORKERS, `clients per worker: ${JSON.stringify([...spread])}`);
	for (const count of spread.values()) {
		t.true(count >= 10, `clients per worker: ${JSON.stringify([...spread])}`);
	}

	await round(t, clients, 'one');

	// A worker killed: its clients are cut off, the primary starts another, the clients come back.
	const [victim] = spread.keys();
	process.kill(victim!, 'SIGKILL');
	await cli.waitFor(new RegExp(`^worker ${victim} exited \\(signal SIGKILL\\); starting another$`, 'm'), WAIT);
	await cli.waitFor(/^worker \d+ listening$/m, WAIT);
	await until(() => clients.filter(client => client.closed).length === spread.get(victim!), WAIT, "the killed worker's clients closed");
	const opensBefore = totalOpens(cli);
	const cut = clients.filter(client => client.closed).length;
	clients = [...clients.filter(client => !client.closed), ...(await connectClients(t, Number(port), cut))];
	await until(() => totalOpens(cli) === opensBefore + cut, WAIT, 'the reconnected clients open');
	await round(t, clients, 'two');

	// redis-server restarted: every worker loses its connections, reconnects and subscribes again.
	// Each worker's publishing and subscribing connections come back on their own, so messages are
	// sent until every client has one from each of the round's senders sent after the restart: the
	// loss window, as documented (a publish while its connection is down reaches only its worker).
	// One probe from one sender proves only that sender's worker publishes again.
	await redis.restart();
	const probers = clients.filter((_, index) => index % 10 === 0);
	const probedBy = (client: Client, sender: number): boolean => client.received.some(text => text.startsWith(`probe ${sender} `));
	let probes = 0;
	let lastProbe = 0;
	await until(
		() => {
			if (clients.every(client => probers.every((_, sender) => probedBy(client, sender)))) {
				return true;
			}

			// One probe from each sender every 50 ms (the condition is checked every turn of the event loop).
			if (Date.now() - lastProbe >= 50) {
				lastProbe = Date.now();
				for (const [sender, prober] of probers.entries()) {
					prober.ws.send(`probe ${sender} ${probes}`);
				}

				probes++;
			}

			return false;
		},
		WAIT,
		'messages through Redis again, from every sender',
	);
	await round(t, clients, 'three');
	// At most once, never twice: no probe arrived twice anywhere.
	for (const client of clients) {
		const seen = client.received.filter(text => text.startsWith('probe '));
		t.is(new Set(seen).size, seen.length);
	}

	t.regex(cli.stdout(), /broker-error /);

	cli.child.kill('SIGTERM');
	const {code} = await cli.exited(WAIT);
	t.is(code, 0);
});
