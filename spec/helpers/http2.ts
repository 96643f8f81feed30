// HTTP/2 fixtures: servers with extended CONNECT on 127.0.0.1:0, sessions closed at teardown, stream pairs.

import {once} from 'node:events';
import http2, {
	type ClientHttp2Session,
	type ClientHttp2Stream,
	type Http2SecureServer,
	type Http2Server,
	type Http2Session,
	type IncomingHttpHeaders,
	type ServerHttp2Stream,
} from 'node:http2';
import type {AddressInfo} from 'node:net';
import type {ExecutionContext} from 'ava';
import {selfSignedCertificate} from '../node/fixtures.ts';
import {withTimeout} from './signals.ts';

/** Listens on 127.0.0.1:0; at teardown destroys every session the server has and closes it. */
export async function listenHttp2(t: ExecutionContext, server: Http2Server | Http2SecureServer): Promise<number> {
	const sessions = new Set<Http2Session>();
	server.on('session', (session: Http2Session) => {
		sessions.add(session);
		session.on('error', () => {});
		session.once('close', () => sessions.delete(session));
	});
	server.listen(0, '127.0.0.1');
	await once(server, 'listening');
	t.teardown(async () => {
		for (const session of sessions) {
			session.destroy();
		}

		await new Promise<void>(resolve => {
			server.close(() => resolve());
		});
	});
	return (server.address() as AddressInfo).port;
}

/** A cleartext HTTP/2 server (prior knowledge) allowing extended CONNECT. */
export function h2cServer(settings: http2.Settings = {enableConnectProtocol: true}): Http2Server {
	return http2.createServer({settings});
}

/** A TLS HTTP/2 server with a self-signed certificate for 127.0.0.1, allowing extended CONNECT. */
export async function h2Server(
	options: {allowHTTP1?: boolean; settings?: http2.Settings} = {},
): Promise<Http2SecureServer> {
	const {key, cert} = await selfSignedCertificate();
	return http2.createSecureServer({
		key,
		cert,
		allowHTTP1: options.allowHTTP1 ?? false,
		settings: options.settings ?? {enableConnectProtocol: true},
	});
}

/** A client session to `authority`, destroyed at teardown; connected when it resolves. */
export async function clientSession(
	t: ExecutionContext,
	authority: string,
	options: http2.SecureClientSessionOptions = {},
): Promise<ClientHttp2Session> {
	const session = http2.connect(authority, options);
	session.on('error', () => {});
	t.teardown(() => session.destroy());
	await withTimeout(once(session, 'connect'), 10_000, 'HTTP/2 connect');
	return session;
}

/** Resolves once the session's peer has sent SETTINGS with ENABLE_CONNECT_PROTOCOL (or rejects after a timeout). */
export async function remoteAllowsConnect(session: ClientHttp2Session): Promise<void> {
	if (session.remoteSettings.enableConnectProtocol === true) {
		return;
	}

	await withTimeout(once(session, 'remoteSettings'), 10_000, 'remote SETTINGS');
}

/** A raw extended CONNECT on `session` (RFC 8441 §5 headers unless overridden); resolves with the response headers. */
export async function rawExtendedConnect(
	session: ClientHttp2Session,
	port: number,
	path: string,
	headers: Record<string, string | undefined> = {},
): Promise<{stream: ClientHttp2Stream; response: IncomingHttpHeaders; body: () => Promise<string>}> {
	await remoteAllowsConnect(session);
	const request: Record<string, string> = {};
	for (const [name, value] of Object.entries({
		':method': 'CONNECT',
		':protocol': 'websocket',
		':scheme': 'http',
		':path': path,
		':authority': `127.0.0.1:${port}`,
		'sec-websocket-version': '13',
		...headers,
	})) {
		if (value !== undefined) {
			request[name] = value;
		}
	}

	const stream = session.request(request, {endStream: false});
	stream.on('error', () => {});
	const [response] = (await withTimeout(once(stream, 'response'), 10_000, 'HTTP/2 response')) as [IncomingHttpHeaders];
	const body = async (): Promise<string> => {
		const chunks: Buffer[] = [];
		stream.on('data', (chunk: Buffer) => chunks.push(chunk));
		await withTimeout(
			new Promise<void>(resolve => {
				stream.once('end', resolve);
				stream.once('close', resolve);
			}),
			10_000,
			'HTTP/2 response body',
		);
		return Buffer.concat(chunks).toString('utf8');
	};

	return {stream, response, body};
}

/**
 * Two ends of one HTTP/2 stream over loopback TCP (h2c): the client's `ClientHttp2Stream` of an
 * extended CONNECT and the server's `ServerHttp2Stream`, answered 200; the transport beside the
 * in-memory pair and TCP for the connection specs.
 */
export async function http2StreamPair(t: ExecutionContext): Promise<[ClientHttp2Stream, ServerHttp2Stream]> {
	const server = h2cServer();
	const accepted = new Promise<ServerHttp2Stream>(resolve => {
		server.once('stream', (stream: ServerHttp2Stream) => {
			stream.respond({':status': 200}, {endStream: false});
			resolve(stream);
		});
	});
	const port = await listenHttp2(t, server);
	const session = await clientSession(t, `http://127.0.0.1:${port}`);
	const {stream} = await rawExtendedConnect(session, port, '/test');
	const serverStream = await withTimeout(accepted, 10_000, 'server stream');
	t.teardown(() => {
		stream.destroy();
		serverStream.destroy();
	});
	return [stream, serverStream];
}
