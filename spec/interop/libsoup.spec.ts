// Interop with libsoup 3 itself, through GJS (Debian's gjs and gir1.2-soup-3.0): a Soup.Session
// client against websoup's addWebsocketHandler, and websocketConnect against a Soup.Server handler,
// each without extensions and with permessage-deflate.

import test, {type ExecutionContext} from 'ava';
import {CLIENT_PROTOCOLS, GJS, ORIGIN, Peer, SERVER_PROTOCOLS} from './peer.ts';
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

const SCRIPT = 'soup-peer.js';



/** websoup server, Soup.Session client (with a WebsocketExtensionManager for `deflate`). */
async function soupClient(t: ExecutionContext, variant: Variant): Promise<Pair> {
	// Both ends accept/offer deflate only in the deflate variant.
	const {port, nextConnection} = await websoupServer(t, variant);
	const peer = new Peer(t, 'libsoup client', GJS, [
		'-m',
		SCRIPT,
		'client',
		`ws://127.0.0.1:${port}/ws`,
		ORIGIN,
		CLIENT_PROTOCOLS.join(','),
		variant,
	]);
	const open = await peer.next('open');
	const end = await nextConnection();
	t.is(end.connection.getOrigin(), ORIGIN, 'websoup saw libsoup’s Origin');
	checkExtensions(t, variant, {end, peer, open}, 'libsoup');
	return {end, peer, open};
}

/** Soup.Server (deflate removed for `plain`), websoup client (offering deflate for `deflate`). */
async function soupServer(t: ExecutionContext, variant: Variant): Promise<Pair> {
	const peer = new Peer(t, 'libsoup server', GJS, ['-m', SCRIPT, 'server', ORIGIN, SERVER_PROTOCOLS.join(','), variant]);
	const ready = await peer.next('ready');
	const end = await websoupClient(t, ready['port'] as number, variant);
	const open = await peer.next('open');
	t.like(open, {origin: ORIGIN, path: '/ws', requestProtocols: CLIENT_PROTOCOLS.join(', ')});
	checkExtensions(t, variant, {end, peer, open}, 'libsoup');
	return {end, peer, open};
}

const roles = [
	['Soup.Session client → websoup server', soupClient],
	['websoup client → Soup.Server', soupServer],
] as const;

test('libsoup version', async t => {
	const peer = new Peer(t, 'libsoup', GJS, ['-m', SCRIPT, 'server', ORIGIN, SERVER_PROTOCOLS.join(',')]);
	const versions = await peer.next('versions');
	t.log(`libsoup ${String(versions['soup'])}, gjs ${String(versions['gjs'])}`);
	t.regex(String(versions['soup']), /^3\./);
});

for (const variant of VARIANTS) {
	for (const [role, setUp] of roles) {
		const title = `${role} (${variant})`;
		test(`${title}: subprotocol, text and binary 0 B – 1 MiB both ways`, async t => {
			const {end, peer, open} = await setUp(t, variant);
			checkHandshake(t, end, open);
			await exchangeMessages(t, end, peer);
		});

		test(`${title}: websoup ping, libsoup's pong`, async t => {
			const {end} = await setUp(t, variant);
			await websoupPings(t, end);
		});

		test(`${title}: libsoup keepalive ping, websoup's pong`, async t => {
			const {peer} = await setUp(t, variant);
			// libsoup has no call to send a ping: keepalive-interval makes it ping every second.
			peer.send({cmd: 'keepalive', seconds: 1});
			await peer.next('pong', 10_000);
			t.pass();
			if (peer.stderr.trim() !== '') {
				t.log(`libsoup's stderr: ${peer.stderr.trim()}`);
			}
		});

		test(`${title}: websoup closes with code and reason`, async t => {
			const {end, peer} = await setUp(t, variant);
			const {info} = await websoupCloses(t, end, peer);
			t.is(info.code, WEBSOUP_CLOSE.code, 'libsoup echoed the code');
			t.is(info.reason, WEBSOUP_CLOSE.reason, 'libsoup echoed the reason');
			t.true(peer.events.some(event => event.event === 'closing'), 'libsoup emitted closing');
		});

		test(`${title}: libsoup closes with code and reason`, async t => {
			const {end, peer} = await setUp(t, variant);
			await peerCloses(t, end, peer);
			t.true(peer.events.some(event => event.event === 'closing'), 'libsoup emitted closing');
			t.deepEqual(
				peer.events.filter(event => event.event === 'error'),
				[],
				'no error at libsoup',
			);
		});
	}
}
