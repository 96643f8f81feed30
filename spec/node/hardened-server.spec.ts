// The hardened example of docs/node.md, tested: a user-brought http.Server whose settings bound slow and large request heads.

import {readFileSync} from 'node:fs';
import {createServer} from 'node:http';
import test from 'ava';
import {addWebsocketHandler, type WebsocketConnection} from '../../lib/index.ts';
import {handshakeRequest, listen, parseRaw, rawExchange, serverSettings, slowClientsAndOneNormal} from './fixtures.ts';

// --- The example of docs/node.md, as printed there (from 'websoup' becomes '../../lib/index.ts') ---

// Node's defaults let a client take 60 s over its request head, checked only every 30 s.
const server = createServer({
	headersTimeout: 10_000, // the request head within 10 s of its first byte, else 408
	requestTimeout: 10_000, // the whole request too (never less than headersTimeout)
	connectionsCheckingInterval: 1000, // how often both are checked (Node: every 30 s)
	maxHeaderSize: 16 * 1024, // a larger request head gets 431 (Node's default, made explicit)
});

const connections = new Set<WebsocketConnection>();
addWebsocketHandler(server, '/ws', null, null, (_server, _msg, _path, connection) => {
	connections.add(connection);
	connection.connect('message', (self, type, data) => self.sendMessage(type, data));
	connection.connect('closed', () => connections.delete(connection));
});

// --- The tests --------------------------------------------------------------------------------

test.serial('docs/node.md prints the hardened example as it is tested here', t => {
	const source = readFileSync(new URL(import.meta.url), 'utf8');
	const example = source.slice(source.indexOf('// Node\'s defaults let'), source.indexOf('// --- The tests'));
	const docs = readFileSync(new URL('../../docs/node.md', import.meta.url), 'utf8');
	t.true(example.length > 500);
	t.true(docs.includes(example.trimEnd()), 'the example in docs/node.md differs from the one tested');
	t.true(docs.includes("import {addWebsocketHandler, type WebsocketConnection} from 'websoup';"));
});

test.serial('the hardened server bounds the request head: 10 s, checked every second, 16 KiB', t => {
	t.deepEqual(serverSettings(server), {headersTimeout: 10_000, requestTimeout: 10_000, connectionsCheckingInterval: 1000, maxHeaderSize: 16 * 1024});
});

test.serial('a request head over 16 KiB gets 431 from the hardened server', async t => {
	const port = await listen(t, server);
	const {text, closed} = await rawExchange(t, port, handshakeRequest('/ws', {'X-Padding': 'p'.repeat(17 * 1024)}));
	t.is(parseRaw(text).status, 431);
	t.true(closed);
	t.is(connections.size, 0);
});

test.serial('20 slow clients are dropped with 408 by the hardened server, its bound lowered to 300 ms, while a normal client connects', async t => {
	// The same server with a short bound, so the test does not wait 10 s; the check still runs every second.
	const {headersTimeout, requestTimeout} = server;
	server.headersTimeout = 300;
	server.requestTimeout = 300;
	t.teardown(() => {
		server.headersTimeout = headersTimeout;
		server.requestTimeout = requestTimeout;
	});
	const port = await listen(t, server);
	await slowClientsAndOneNormal(t, port, '/ws', {clients: 20, bound: 300, slack: 1000 + 1500});
	t.is(connections.size, 0);
});
