// libsoup tests/websocket-test.c, the keepalive group: pings every interval, pongs back, and the pong timeout closing the connection.

import test from 'ava';
import {CloseCode, WebsocketState} from '../../lib/websocket/constants.ts';
import {WebsocketError} from '../../lib/websocket/errors.ts';
import {until} from '../helpers/signals.ts';
import {collectErrors, countClosed, directConnection, SuppressibleStream} from './helpers.ts';

test('/websocket/direct/keepalive-pong-timeout', async t => {
	let serverStream: SuppressibleStream | null = null;
	const {client} = await directConnection(t, {}, socket => {
		serverStream = new SuppressibleStream(socket);
		return serverStream;
	});
	const pongs: Buffer[] = [];
	client.connect('pong', (_self, data) => {
		pongs.push(Buffer.from(data));
	});
	const errors = collectErrors(client);
	const closed = countClosed(client);

	// First make sure we get a pong if we enable keepalive.
	client.setKeepaliveInterval(1);
	await until(() => pongs.length === 1, 3000, 'the first pong');
	// libsoup's pong argument is type-confused (deliberate difference 1): websoup passes the payload,
	// its own keepalive payload (deliberate difference 5).
	t.is(pongs[0]!.toString(), 'websoup-keepalive-1');

	// Now enable pong timeout and make sure we still get a pong.
	client.setKeepalivePongTimeout(60);
	await until(() => pongs.length === 2, 3000, 'the second pong');
	t.deepEqual(errors, []);

	// Now stop the server's pongs (libsoup's private set_suppress_pongs_for_tests; here the server's
	// writes stop reaching the socket). With the shortest pong timeout the client fails and closes.
	client.setKeepalivePongTimeout(1);
	serverStream!.suppress = true;
	await until(() => errors.length > 0, 4000, 'the pong timeout error');
	const [error] = errors;
	t.true(error instanceof WebsocketError);
	t.is((error as WebsocketError).code, CloseCode.POLICY_VIOLATION);
	t.is(error!.message, 'Did not receive keepalive pong within 1 seconds');
	await until(() => closed() === 1, 7000, 'closed');
	t.is(client.getState(), WebsocketState.CLOSED);
	t.is(errors.length, 1);
});
