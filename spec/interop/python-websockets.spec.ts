// Interop with Python's websockets library (Debian's python3-websockets, run by /usr/bin/python3):
// its client against websoup's addWebsocketHandler, and websocketConnect against its server, each
// without extensions and with permessage-deflate.

import test, {type ExecutionContext} from 'ava';
import {CLIENT_PROTOCOLS, ORIGIN, Peer, PYTHON, SERVER_PROTOCOLS} from './peer.ts';
import {
	checkExtensions,
	checkHandshake,
	exchangeMessages,
	peerCloses,
	VARIANTS,
	WEBSOUP_CLOSE,
	websoupCloses,
	websoupClient,
	websoupPings,
	websoupServer,
	type Pair,
	type Variant,
} from './scenario.ts';

const SCRIPT = 'websockets-peer.py';



/**
 * websoup server, websockets client. The client always offers permessage-deflate (the library's
 * default); websoup accepts it by default (`deflate`) and declines it with `extensions: null` (`plain`).
 */
async function pythonClient(t: ExecutionContext, variant: Variant): Promise<Pair> {
	const {port, nextConnection} = await websoupServer(t, variant);
	const peer = new Peer(t, 'websockets client', PYTHON, [
		SCRIPT,
		'client',
		`ws://127.0.0.1:${port}/ws`,
		ORIGIN,
		CLIENT_PROTOCOLS.join(','),
		'deflate',
	]);
	const open = await peer.next('open');
	const end = await nextConnection();
	t.is(end.connection.getOrigin(), ORIGIN, 'websoup saw the Origin');
	checkExtensions(t, variant, {end, peer, open}, 'the websockets');
	return {end, peer, open};
}

/** websockets server (origin check on, deflate accepted), websoup client (offering deflate for `deflate`). */
async function pythonServer(t: ExecutionContext, variant: Variant): Promise<Pair> {
	const peer = new Peer(t, 'websockets server', PYTHON, [SCRIPT, 'server', ORIGIN, SERVER_PROTOCOLS.join(','), 'deflate']);
	const ready = await peer.next('ready');
	const end = await websoupClient(t, ready['port'] as number, variant);
	const open = await peer.next('open');
	t.like(open, {origin: ORIGIN, path: '/ws', requestProtocols: CLIENT_PROTOCOLS.join(', ')});
	checkExtensions(t, variant, {end, peer, open}, 'the websockets');
	return {end, peer, open};
}

const roles = [
	['websockets client → websoup server', pythonClient],
	['websoup client → websockets server', pythonServer],
] as const;

test('websockets version', async t => {
	const peer = new Peer(t, 'websockets', PYTHON, [SCRIPT, 'server', ORIGIN, SERVER_PROTOCOLS.join(',')]);
	const versions = await peer.next('versions');
	t.log(`websockets ${String(versions['websockets'])}, python ${String(versions['python'])}`);
	t.regex(String(versions['websockets']), /^\d+\./);
});

for (const variant of VARIANTS) {
	for (const [role, setUp] of roles) {
		const title = `${role} (${variant})`;
		test(`${title}: subprotocol, text and binary 0 B – 1 MiB both ways`, async t => {
			const {end, peer, open} = await setUp(t, variant);
			checkHandshake(t, end, open);
			await exchangeMessages(t, end, peer);
		});

		test(`${title}: websoup ping, websockets' pong`, async t => {
			const {end} = await setUp(t, variant);
			await websoupPings(t, end);
		});

		test(`${title}: websockets ping, websoup's pong`, async t => {
			const {peer} = await setUp(t, variant);
			const data = Buffer.from('ping ✓ from websockets').toString('hex');
			peer.send({cmd: 'ping', data});
			const pong = await peer.next('pong', 10_000);
			t.is(pong['data'], data, 'websoup’s pong carried the ping’s payload');
		});

		test(`${title}: websoup closes with code and reason`, async t => {
			const {end, peer} = await setUp(t, variant);
			const {info, peerClosed} = await websoupCloses(t, end, peer);
			t.is(info.code, WEBSOUP_CLOSE.code, 'websockets echoed the code');
			t.is(info.reason, WEBSOUP_CLOSE.reason, 'websockets echoed the reason');
			t.like(peerClosed, {sentCode: WEBSOUP_CLOSE.code, sentReason: WEBSOUP_CLOSE.reason});
		});

		test(`${title}: websockets closes with code and reason`, async t => {
			const {end, peer} = await setUp(t, variant);
			await peerCloses(t, end, peer);
			t.deepEqual(
				peer.events.filter(event => event.event === 'error'),
				[],
				'no error at websockets',
			);
		});
	}
}
