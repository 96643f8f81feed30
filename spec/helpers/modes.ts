// Transports for connection specs: an in-memory Duplex pair ('direct'), real loopback TCP sockets ('tcp'), or
// the two ends of an HTTP/2 stream over loopback TCP ('http2', RFC 8441's transport).

import net from 'node:net';
import type {Duplex} from 'node:stream';
import test, {type ExecutionContext} from 'ava';
import {WebsocketConnection, type WebsocketConnectionProperties} from '../../lib/websocket/connection.ts';
import {WebsocketConnectionType} from '../../lib/websocket/constants.ts';
import type {ConstructProperties} from '../../lib/gobject/index.ts';
import {duplexPair} from './duplex-pair.ts';
import {http2StreamPair} from './http2.ts';

export type Mode = 'direct' | 'tcp' | 'http2';
export const modes: readonly Mode[] = ['direct', 'tcp', 'http2'];

/** Two connected streams over the given transport, destroyed at teardown. */
export async function streamPair(t: ExecutionContext, mode: Mode): Promise<[Duplex, Duplex]> {
	if (mode === 'direct') {
		const pair = duplexPair();
		t.teardown(() => {
			pair[0].destroy();
			pair[1].destroy();
		});
		return pair;
	}

	if (mode === 'http2') {
		return http2StreamPair(t);
	}

	const server = net.createServer({allowHalfOpen: true});
	await new Promise<void>(resolve => {
		server.listen(0, '127.0.0.1', resolve);
	});
	const {port} = server.address() as net.AddressInfo;
	const accepted = new Promise<net.Socket>(resolve => {
		server.once('connection', resolve);
	});
	const client = net.connect({port, host: '127.0.0.1', allowHalfOpen: true});
	const serverSide = await accepted;
	await new Promise<void>(resolve => {
		if (client.readyState === 'open') {
			resolve();
		} else {
			client.once('connect', resolve);
		}
	});
	server.close();
	t.teardown(() => {
		client.destroy();
		serverSide.destroy();
	});
	return [client, serverSide];
}

type Options = ConstructProperties<WebsocketConnectionProperties>;
const uri = new URL('ws://127.0.0.1/test');

/** A client and a server connection over the transport. */
export async function connectionPair(
	t: ExecutionContext,
	mode: Mode,
	clientOptions: Options = {},
	serverOptions: Options = {},
): Promise<{client: WebsocketConnection; server: WebsocketConnection}> {
	const [a, b] = await streamPair(t, mode);
	const client = new WebsocketConnection({...clientOptions, ioStream: a, connectionType: WebsocketConnectionType.CLIENT, uri});
	const server = new WebsocketConnection({...serverOptions, ioStream: b, connectionType: WebsocketConnectionType.SERVER, uri});
	return {client, server};
}

/** A websoup connection of `type` whose peer is a raw stream the test writes frames to. */
export async function rawPeer(
	t: ExecutionContext,
	mode: Mode,
	type: WebsocketConnectionType,
	options: Options = {},
): Promise<{connection: WebsocketConnection; raw: Duplex; received: () => Buffer; ended: Promise<void>}> {
	const [a, b] = await streamPair(t, mode);
	const connection = new WebsocketConnection({...options, ioStream: a, connectionType: type, uri});
	const chunks: Buffer[] = [];
	// The raw peer is the test's: a reset from the connection's side is expected, not a failure.
	b.on('error', () => {});
	b.on('data', (chunk: Buffer) => chunks.push(chunk));
	// As a TCP peer does by default: once the connection has ended its side, the raw peer ends its own.
	b.once('end', () => b.end());
	const ended = new Promise<void>(resolve => {
		b.once('end', resolve);
		b.once('close', resolve);
	});
	return {connection, raw: b, received: () => Buffer.concat(chunks), ended};
}

/** Registers `body` once per transport, titled `title [mode]`. */
export function both(title: string, body: (t: ExecutionContext, mode: Mode) => Promise<void>): void {
	for (const mode of modes) {
		test(`${title} [${mode}]`, async t => body(t, mode));
	}
}
