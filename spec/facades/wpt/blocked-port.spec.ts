// WPT websockets/Create-blocked-port: a port on Fetch's bad port list fails the connection before any TCP.
// Alone in its file: the socket channel it watches is process-wide, so no other check may open sockets meanwhile.

import {subscribe, unsubscribe} from 'node:diagnostics_channel';
import {refusedPort} from '../../node/fixtures.ts';
import {assertFailed, connect, recordUntilClose, wpt} from './harness.ts';

wpt('Create-blocked-port: a bad port fails (error, close 1006) without a TCP connection', async (t, impl) => {
	const attempted: number[] = [];
	const onSocket = (message: unknown): void => {
		const {socket} = message as {socket: {remotePort?: number}};
		attempted.push(socket.remotePort ?? 0);
	};

	subscribe('net.client.socket', onSocket);
	t.teardown(() => {
		unsubscribe('net.client.socket', onSocket);
	});
	for (const port of [1, 25, 6000, 6667, 10080]) {
		const ws = connect(t, impl, `ws://127.0.0.1:${port}/`);
		assertFailed(t, await recordUntilClose(ws));
	}

	const wss = connect(t, impl, 'wss://127.0.0.1:993/');
	assertFailed(t, await recordUntilClose(wss));
	t.deepEqual(attempted, [], 'no socket was created');

	// The control: a port that is not on the list does get a socket (here, refused).
	const port = await refusedPort();
	assertFailed(t, await recordUntilClose(connect(t, impl, `ws://127.0.0.1:${port}/`)));
	t.is(attempted.length, 1, 'the channel sees a socket for an allowed port');
}, {serial: true});
