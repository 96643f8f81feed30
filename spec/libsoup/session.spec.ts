// libsoup tests/websocket-test.c, the server/session group: the server message's client context, cookies on the handshake, a refused TCP connection.

import {createServer as createNetServer, type AddressInfo, Socket} from 'node:net';
import test from 'ava';
import {websocketConnect} from '../../lib/node/client.ts';
import {withTimeout} from '../helpers/signals.ts';
import {clientConnect, soupConnection, soupServer} from './helpers.ts';

test('/websocket/soup/client-context', async t => {
	// libsoup's soup_server_message_get_local_address / _remote_address / _remote_host / _socket,
	// called inside the websocket callback.
	let checked = false;
	await soupConnection(t, {
		onServerConnection(msg) {
			// The C test accepts 127.0.0.1 or ::1 by family; the server here listens on 127.0.0.1.
			const local = msg.getLocalAddress();
			t.is(local?.address, local?.family === 'IPv6' ? '::1' : '127.0.0.1');
			const remote = msg.getRemoteAddress();
			t.is(remote?.address, remote?.family === 'IPv6' ? '::1' : '127.0.0.1');
			t.is(msg.getRemoteHost(), remote?.address ?? null);
			t.true(msg.getSocket() instanceof Socket);
			checked = true;
		},
	});
	t.true(checked);
});

// websoup has no SoupCookieJar (no session object holds state between connects): the cookie tests
// are ported as what reaches the wire — a Cookie header the caller adds, a Set-Cookie on the 101
// that the client's message keeps. See README.md.
test('/websocket/soup/cookies-in-request', async t => {
	const server = await soupServer(t);
	const {msg, connecting} = clientConnect(server, {connect: {headers: {Cookie: 'foo=bar'}}});
	const accepted = await server.nextServer();
	const client = await withTimeout(connecting, 5000, 'websocketConnect');
	t.teardown(() => client.getIoStream().destroy());
	t.is(msg.requestHeaders.getOne('Cookie'), 'foo=bar');
	t.is(accepted.msg.requestHeaders.getOne('Cookie'), 'foo=bar');
});

test('/websocket/soup/cookies-in-response', async t => {
	const server = await soupServer(t, {handler: {responseHeaders: {'Set-Cookie': 'foo=bar; Path=/'}}});
	const {msg, connecting} = clientConnect(server);
	await server.nextServer();
	const client = await withTimeout(connecting, 5000, 'websocketConnect');
	t.teardown(() => client.getIoStream().destroy());
	t.is(msg.responseHeaders.getList('Set-Cookie'), 'foo=bar; Path=/');
});

test('/websocket/soup/connection-error', async t => {
	// The C test connects to port 1234 and expects nothing there; here, a port on 127.0.0.1 that
	// was just free.
	const probe = createNetServer();
	await new Promise<void>(resolve => {
		probe.listen(0, '127.0.0.1', resolve);
	});
	const {port} = probe.address() as AddressInfo;
	await new Promise<void>(resolve => {
		probe.close(() => resolve());
	});
	// G_IO_ERROR_CONNECTION_REFUSED: the transport's own error, not a handshake error (libsoup 046aac0b).
	const error = await withTimeout(
		websocketConnect(`ws://127.0.0.1:${port}/unix`).then(
			() => null,
			(error_: unknown) => error_,
		),
		5000,
		'the connect failure',
	);
	t.true(error instanceof Error);
	t.is((error as NodeJS.ErrnoException).code, 'ECONNREFUSED');
});
