// Slow handshakes (slowloris): every server websoup makes drops a client whose request head is late, with 408.

import {Server as HttpsServer} from 'node:https';
import test, {type ExecutionContext} from 'ava';
import {boundedServerSettings, createBoundedServer, DEFAULT_REQUEST_HEAD_TIMEOUT} from '../../lib/node/http-server.ts';
import {addWebsocketHandler} from '../../lib/node/server.ts';
import {MAX_HEAD_SIZE} from '../../lib/http/head.ts';
import {runCli} from '../helpers/cli.ts';
import {listen, selfSignedCertificate, serverSettings, slowClient, slowClientsAndOneNormal} from './fixtures.ts';

/** The bound the tests configure: short, so no test waits 10 s. */
const BOUND = 300;
/** Room for a loaded CI machine (2 cores, other specs running) past the bound and Node's check interval. */
const SLACK = 1500;
/** How many slowloris clients each test sends (500 would be too heavy for CI; 20 show the bound holds for each). */
const SLOW_CLIENTS = 20;

test('createBoundedServer: by default the request head must arrive within 10 s, checked every second', t => {
	t.is(DEFAULT_REQUEST_HEAD_TIMEOUT, 10_000);
	const expected = {headersTimeout: 10_000, requestTimeout: 10_000, connectionsCheckingInterval: 1000, maxHeaderSize: 16 * 1024};
	t.is(MAX_HEAD_SIZE, 16 * 1024);
	t.deepEqual(boundedServerSettings(), expected);
	t.deepEqual(serverSettings(createBoundedServer()), expected);
});

test('createBoundedServer: an https server gets the same bounds', async t => {
	const tls = await selfSignedCertificate();
	const server = createBoundedServer({tls});
	t.true(server instanceof HttpsServer);
	t.deepEqual(serverSettings(server), {headersTimeout: 10_000, requestTimeout: 10_000, connectionsCheckingInterval: 1000, maxHeaderSize: 16 * 1024});
});

test('createBoundedServer: the bound is configurable, the check interval follows it, 0 turns it off', t => {
	t.like(serverSettings(createBoundedServer({handshakeTimeout: BOUND})), {headersTimeout: BOUND, requestTimeout: BOUND, connectionsCheckingInterval: 30});
	t.like(serverSettings(createBoundedServer({handshakeTimeout: 60_000})), {headersTimeout: 60_000, connectionsCheckingInterval: 1000});
	t.like(serverSettings(createBoundedServer({handshakeTimeout: 50})), {headersTimeout: 50, connectionsCheckingInterval: 10});
	t.like(serverSettings(createBoundedServer({handshakeTimeout: 0})), {headersTimeout: 0, requestTimeout: 0});
});

test('createBoundedServer: an invalid handshakeTimeout throws TypeError naming it', t => {
	for (const value of [-1, 1.5, Number.NaN, '300', 2 ** 31]) {
		const error = t.throws(() => createBoundedServer({handshakeTimeout: value as number}), {instanceOf: TypeError});
		t.regex(error.message, /`handshakeTimeout`/);
	}
});

test(`createBoundedServer + addWebsocketHandler: ${SLOW_CLIENTS} slow clients are dropped with 408 within the bound while a normal client connects`, async t => {
	const server = createBoundedServer({handshakeTimeout: BOUND});
	addWebsocketHandler(server, '/ws', null, null, (_server, _msg, _path, connection) => {
		connection.connect('message', (self, type, data) => self.sendMessage(type, data));
	});
	const port = await listen(t, server);
	await slowClientsAndOneNormal(t, port, '/ws', {clients: SLOW_CLIENTS, bound: BOUND, slack: SLACK});
});

test('createBoundedServer with TLS: a client that never finishes the TLS handshake is dropped within the bound too', async t => {
	const tls = await selfSignedCertificate();
	const server = createBoundedServer({handshakeTimeout: BOUND, tls});
	const port = await listen(t, server);
	// A TLS record header promising a ClientHello that never comes: Node's tls default would wait 120 s.
	const clients = Array.from({length: 5}, () => slowClient(t, port, '\u0016\u0003\u0001\u0002\u0000\u0001', 25, BOUND + SLACK));
	await Promise.all(clients.map(async client => client.connected));
	for (const {text, elapsed} of await Promise.all(clients.map(async client => client.closed))) {
		t.is(text, ''); // no TLS, so no 408 can be sent: the socket is closed
		t.true(elapsed >= BOUND - 20, `dropped after ${elapsed} ms, before the ${BOUND} ms bound`);
		t.true(elapsed <= BOUND + SLACK, `dropped after ${elapsed} ms, past ${BOUND} + ${SLACK} ms`);
	}
});

/** Starts `websoup serve --port 0 ...args` and resolves with the port it printed; killed at teardown. */
async function startServe(t: ExecutionContext, args: string[]): Promise<number> {
	const cli = runCli(t, ['serve', '--port', '0', ...args]);
	const match = await cli.waitFor(/^listening on http:\/\/127\.0\.0\.1:(\d+)\//m);
	return Number(match[1]);
}

test(`websoup serve --handshake-timeout: ${SLOW_CLIENTS} slow clients are dropped with 408 within the bound while a normal client connects`, async t => {
	const port = await startServe(t, ['--handshake-timeout', String(BOUND)]);
	await slowClientsAndOneNormal(t, port, '/ws', {clients: SLOW_CLIENTS, bound: BOUND, slack: SLACK});
});

test('websoup serve --help gives the handshake timeout and its 10 s default', async t => {
	const cli = runCli(t, ['serve', '--help']);
	t.is((await cli.exited()).code, 0);
	t.regex(cli.stdout(), /--handshake-timeout <ms>\s[^-]*\(default 10000; 0: no limit\)/);
});

test('websoup serve --handshake-timeout rejects a value that is not a whole number of ms', async t => {
	const cli = runCli(t, ['serve', '--port', '0', '--handshake-timeout', '1.5']);
	t.is((await cli.exited()).code, 2);
	t.regex(cli.stderr(), /--handshake-timeout expects a whole number from 0 to 2147483647, got "1\.5"/);
});
