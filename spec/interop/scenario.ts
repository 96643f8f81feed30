// The exchanges every line-protocol peer goes through with websoup, in either role.

import {once} from 'node:events';
import {createServer, type Server} from 'node:http';
import type {AddressInfo} from 'node:net';
import type {ExecutionContext} from 'ava';
import {websocketConnect} from '../../lib/node/client.ts';
import {addWebsocketHandler} from '../../lib/node/server.ts';
import {WebsocketDataType} from '../../lib/websocket/constants.ts';
import {WebsocketExtensionDeflate} from '../../lib/websocket/extensions/deflate.ts';
import type {WebsocketCloseInfo, WebsocketConnection} from '../../lib/websocket/connection.ts';
import {until, waitForSignal, withTimeout} from '../helpers/signals.ts';
import {
	BINARY_SIZES,
	CLIENT_PROTOCOLS,
	EXPECTED_PROTOCOL,
	LIMIT,
	ORIGIN,
	SERVER_PROTOCOLS,
	TEXT,
	pattern,
	sha256,
	type Peer,
	type PeerEvent,
} from './peer.ts';

/** The websoup end of one connection, with the messages it received. */
export interface WebsoupEnd {
	readonly connection: WebsocketConnection;
	readonly received: Array<{type: WebsocketDataType; data: Buffer}>;
	/** Events on the connection, in order (`closing`, `error: …`, `closed`). */
	readonly log: string[];
}

function track(connection: WebsocketConnection): WebsoupEnd {
	const end: WebsoupEnd = {connection, received: [], log: []};
	connection.connect('message', (_self, type, data) => {
		end.received.push({type, data});
	});
	connection.connect('closing', () => end.log.push('closing'));
	connection.connect('error', (_self, error) => end.log.push(`error: ${error.message}`));
	connection.connect('closed', () => end.log.push('closed'));
	return end;
}

/** `deflate`: permessage-deflate offered (client) or accepted (server) by websoup; `plain`: no extension. */
export type Variant = 'plain' | 'deflate';
export const VARIANTS: readonly Variant[] = ['plain', 'deflate'];

/** The names of the extensions negotiated on websoup's end. */
export function extensionNames(end: WebsoupEnd): string[] {
	return end.connection.getExtensions().map(extension => extension.name);
}

/** A websoup end, the peer process, and the peer's `open` event. */
export interface Pair {
	end: WebsoupEnd;
	peer: Peer;
	open: PeerEvent;
}

/** Both ends agreed on permessage-deflate in the `deflate` variant, on nothing otherwise. */
export function checkExtensions(t: ExecutionContext, variant: Variant, pair: Pair, peerName: string): void {
	const expected = variant === 'deflate' ? ['permessage-deflate'] : [];
	t.deepEqual(extensionNames(pair.end), expected, 'extensions on websoup’s end');
	t.deepEqual(pair.open['extensions'], expected, `extensions on ${peerName}’s end`);
}

/**
 * An HTTP server on 127.0.0.1:0 with addWebsocketHandler at /ws (permessage-deflate accepted, the
 * default, for `deflate`; extensions off for `plain`); destroyed at teardown.
 */
export async function websoupServer(
	t: ExecutionContext,
	variant: Variant,
	onRequest?: (request: import('node:http').IncomingMessage, response: import('node:http').ServerResponse) => void,
	origin: string | null = ORIGIN,
): Promise<{server: Server; port: number; nextConnection: (timeout?: number) => Promise<WebsoupEnd>}> {
	const server = createServer(onRequest);
	const ends: WebsoupEnd[] = [];
	let handedOut = 0;
	addWebsocketHandler(
		server,
		'/ws',
		origin,
		[...SERVER_PROTOCOLS],
		(_server, _msg, _path, connection) => {
			ends.push(track(connection));
		},
		variant === 'deflate'
			? {maxIncomingPayloadSize: LIMIT, maxTotalMessageSize: LIMIT}
			: {maxIncomingPayloadSize: LIMIT, maxTotalMessageSize: LIMIT, extensions: null},
	);
	const sockets = new Set<import('node:net').Socket>();
	server.on('connection', socket => {
		sockets.add(socket);
		socket.once('close', () => sockets.delete(socket));
	});
	server.listen(0, '127.0.0.1');
	await withTimeout(once(server, 'listening'), 5000, 'listening');
	t.teardown(async () => {
		for (const end of ends) {
			end.connection.getIoStream().destroy();
		}

		for (const socket of sockets) {
			socket.destroy();
		}

		await withTimeout(
			new Promise<void>(resolve => {
				server.close(() => resolve());
			}),
			5000,
			'server close',
		);
	});
	const nextConnection = async (timeout = 10_000): Promise<WebsoupEnd> => {
		await until(() => ends.length > handedOut, timeout, 'a connection to the websoup server');
		return ends[handedOut++]!;
	};

	return {server, port: (server.address() as AddressInfo).port, nextConnection};
}

/** websocketConnect to a peer's server at 127.0.0.1:`port`/ws, offering the interop protocols (and permessage-deflate for `deflate`). */
export async function websoupClient(t: ExecutionContext, port: number, variant: Variant): Promise<WebsoupEnd> {
	const connection = await websocketConnect(`ws://127.0.0.1:${port}/ws`, ORIGIN, [...CLIENT_PROTOCOLS], {
		maxIncomingPayloadSize: LIMIT,
		maxTotalMessageSize: LIMIT,
		handshakeTimeout: 10_000,
		extensions: variant === 'deflate' ? [WebsocketExtensionDeflate] : null,
	});
	t.teardown(() => {
		connection.getIoStream().destroy();
	});
	return track(connection);
}

/** Both ends agreed on the one protocol in common, and the peer saw websoup's Origin when it is the server. */
export function checkHandshake(t: ExecutionContext, end: WebsoupEnd, open: PeerEvent): void {
	t.is(end.connection.getProtocol(), EXPECTED_PROTOCOL, 'websoup end protocol');
	t.is(open['protocol'], EXPECTED_PROTOCOL, 'peer end protocol');
}

async function nextReceived(end: WebsoupEnd, index: number, what: string): Promise<{type: WebsocketDataType; data: Buffer}> {
	await until(() => end.received.length > index, 15_000, what);
	return end.received[index]!;
}

/**
 * websoup sends a multi-byte text and binaries of 0, 125, 65536 and 1 MiB; the peer reports each
 * (type, size, SHA-256, the text itself) and echoes it; websoup gets back exactly what it sent.
 */
export async function exchangeMessages(t: ExecutionContext, end: WebsoupEnd, peer: Peer): Promise<void> {
	let index = end.received.length;
	end.connection.sendText(TEXT);
	const textEvent = await peer.next('message', 15_000);
	t.like(textEvent, {type: 'text', text: TEXT, size: Buffer.byteLength(TEXT), sha256: sha256(TEXT)}, 'text at the peer');
	const textEcho = await nextReceived(end, index++, 'the text echo');
	t.is(textEcho.type, WebsocketDataType.TEXT);
	t.is(textEcho.data.toString('utf8'), TEXT, 'text echoed back to websoup');

	for (const size of BINARY_SIZES) {
		const data = pattern(size);
		end.connection.sendBinary(data);
		const event = await peer.next('message', 15_000);
		t.like(event, {type: 'binary', size, sha256: sha256(data)}, `${size} B binary at the peer`);
		const echo = await nextReceived(end, index++, `the ${size} B echo`);
		t.is(echo.type, WebsocketDataType.BINARY, `${size} B echo type`);
		t.true(echo.data.equals(data), `${size} B binary echoed back to websoup`);
	}

	t.deepEqual(
		peer.events.filter(event => event.event === 'error'),
		[],
		'no error at the peer',
	);
	t.deepEqual(end.log, [], 'no error or close at websoup');
}

/** websoup pings with a payload; the peer's automatic Pong carries it back. */
export async function websoupPings(t: ExecutionContext, end: WebsoupEnd): Promise<void> {
	const payload = Buffer.from('ping ✓ from websoup');
	const pong = waitForSignal(end.connection, 'pong', 10_000);
	end.connection.ping(payload);
	const [data] = await pong;
	t.true(Buffer.from(data).equals(payload), `pong payload ${Buffer.from(data).toString()}`);
}

export const WEBSOUP_CLOSE = {code: 4001, reason: 'websoup bye ✓ 世界'};
export const PEER_CLOSE = {code: 4002, reason: 'peer bye ✓ 🌍'};

async function closedInfo(end: WebsoupEnd): Promise<WebsocketCloseInfo> {
	return withTimeout(end.connection.closed, 15_000, 'websoup closed');
}

/**
 * websoup closes with a code and reason: the peer receives both, and (every peer here echoes the
 * received Close) websoup receives them back; the handshake is clean on websoup's side.
 */
export async function websoupCloses(
	t: ExecutionContext,
	end: WebsoupEnd,
	peer: Peer,
): Promise<{peerClosed: PeerEvent; info: WebsocketCloseInfo}> {
	end.connection.close(WEBSOUP_CLOSE.code, WEBSOUP_CLOSE.reason);
	const closed = await peer.next('closed', 15_000);
	t.like(closed, {code: WEBSOUP_CLOSE.code, reason: WEBSOUP_CLOSE.reason}, 'the peer received websoup’s code and reason');
	const info = await closedInfo(end);
	t.deepEqual(end.log, ['closing', 'closed'], 'websoup: closing, then closed, no error');
	t.true(info.wasClean, 'websoup: clean close');
	t.is(info.error, null);
	return {peerClosed: closed, info};
}

/** The peer closes with a code and reason: websoup receives both and echoes them to the peer. */
export async function peerCloses(t: ExecutionContext, end: WebsoupEnd, peer: Peer): Promise<PeerEvent> {
	peer.send({cmd: 'close', ...PEER_CLOSE});
	const info = await closedInfo(end);
	t.is(info.code, PEER_CLOSE.code, 'websoup received the peer’s code');
	t.is(info.reason, PEER_CLOSE.reason, 'websoup received the peer’s reason');
	t.true(info.wasClean, 'websoup: clean close');
	t.is(end.connection.getCloseCode(), PEER_CLOSE.code);
	t.is(end.connection.getCloseData(), PEER_CLOSE.reason);
	t.deepEqual(end.log, ['closing', 'closed'], 'websoup: closing, then closed, no error');
	const closed = await peer.next('closed', 15_000);
	t.like(closed, {code: PEER_CLOSE.code, reason: PEER_CLOSE.reason}, 'the peer received websoup’s echo');
	return closed;
}
