// Node glue, client side over HTTP/1.1: the handshake on Node's http.request() and its 'upgrade' event (libsoup's soup_session_websocket_connect_async).

import type {ClientRequest, IncomingMessage, RequestOptions} from 'node:http';
import type {Socket} from 'node:net';
import type {ConnectionOptions} from 'node:tls';
import {MAX_HEAD_SIZE, hasNoBody, requestHeaderLines, requestTarget} from '../http/head.ts';
import type {Message} from '../http/message.ts';
import {WebsocketConnectionType} from '../websocket/constants.ts';
import {WebsocketConnection} from '../websocket/connection.ts';
import {debug, publishHandshakeRefused} from '../websocket/diagnostics.ts';
import {WebsocketError, WebsocketErrorCode} from '../websocket/errors.ts';
import type {WebsocketExtension, WebsocketExtensionClass} from '../websocket/extensions/extension.ts';
import {clientVerifyHandshake} from '../websocket/handshake.ts';
import {MAX_REFUSED_BODY_SIZE, abortedError, type WebsocketConnectOptions} from './client.ts';
import {givenConnectionLimits} from './connection-options.ts';

// Builtins through process.getBuiltinModule(), not import: see docs/architecture.md, “Node's builtins”.
const {request: httpRequest} = process.getBuiltinModule('node:http');
const {connect: netConnect, isIP} = process.getBuiltinModule('node:net');

/** Whether `value` is an IP literal (a TLS `servername` must not be one). */
function isIpHost(host: string): boolean {
	return isIP(host) !== 0;
}

/**
 * What a `wss:` handshake needs of node:tls and node:https, loaded on the first one: an HTTP/1.1
 * user who never opens `wss:` does not carry their code (docs/performance.md, the 8 MB threshold).
 */
type TlsModules = {readonly tlsConnect: typeof import('node:tls').connect; readonly httpsRequest: typeof import('node:https').request};

async function loadTls(): Promise<TlsModules> {
	const [tls, https] = await Promise.all([import('node:tls'), import('node:https')]);
	return {tlsConnect: tls.connect, httpsRequest: https.request};
}

/** The socket of a handshake: TCP with Nagle off, or TLS offering only HTTP/1.1 by ALPN and naming the host (SNI). */
function openSocket(uri: URL, tlsOptions: ConnectionOptions | undefined, secureModules: TlsModules | null): Socket {
	const host = uri.hostname.startsWith('[') ? uri.hostname.slice(1, -1) : uri.hostname;
	const port = uri.port === '' ? (secureModules === null ? 80 : 443) : Number(uri.port);
	if (secureModules === null) {
		return netConnect({host, port, noDelay: true});
	}

	const options: ConnectionOptions = {ALPNProtocols: ['http/1.1'], ...tlsOptions, host, port};
	if (options.servername === undefined && !isIpHost(host)) {
		options.servername = host;
	}

	const socket = secureModules.tlsConnect(options);
	socket.setNoDelay(true);
	return socket;
}

/** The error of a response head Node's parser refused (llhttp's `HPE_*` codes), in websoup's terms. */
function parseError(error: NodeJS.ErrnoException): WebsocketError {
	if (error.code === 'HPE_HEADER_OVERFLOW') {
		return new WebsocketError(
			WebsocketErrorCode.FAILED,
			'WS_ERR_HEADERS_TOO_LARGE',
			`HTTP response head is larger than ${MAX_HEAD_SIZE} bytes`,
			{cause: error},
		);
	}

	return new WebsocketError(WebsocketErrorCode.FAILED, 'WS_ERR_INVALID_HTTP', `Invalid HTTP response: ${error.message}`, {
		cause: error,
	});
}

/** Copies a response's status line and header lines onto the message, replacing what it had. */
function takeResponse(msg: Message, res: IncomingMessage): void {
	const raw = res.rawHeaders;
	msg.setStatus(res.statusCode ?? 0, res.statusMessage ?? '');
	msg.responseHeaders.clear();
	for (let i = 0; i + 1 < raw.length; i += 2) {
		msg.responseHeaders.append(raw[i]!, raw[i + 1]!);
	}
}

/**
 * Sends the handshake request over HTTP/1.1 and reads the response with Node's HTTP parser;
 * resolves with the connection once a 101 was verified.
 *
 * Node's client does the HTTP: it writes the request line and `msg`'s header lines exactly as
 * they are (a flat raw-headers list, `setHost: false`: no header of Node's own), bounds the
 * response head (`maxHeaderSize`), skips 1xx interim responses, decodes a refused response's
 * body (chunked or not) and hands a 101 to `'upgrade'` with the bytes that followed its head.
 * The socket is ours (`createConnection`, no agent): TCP with Nagle off, or TLS with SNI and
 * ALPN `http/1.1`.
 *
 * @param msg - The request, after {@link clientPrepareHandshake}.
 * @param supported - The extension classes offered.
 * @param timeout - Milliseconds for the whole handshake, 0 = no limit.
 * @param options - The signal, TLS options and connection limits.
 * @returns The open CLIENT connection.
 */
export async function connectOverHttp1(
	msg: Message,
	supported: readonly WebsocketExtensionClass[] | null,
	timeout: number,
	options: WebsocketConnectOptions,
): Promise<WebsocketConnection> {
	const {signal} = options;
	const uri = msg.uri;
	const secure = uri.protocol === 'wss:' || uri.protocol === 'https:';
	const secureModules = secure ? await loadTls() : null;
	if (signal?.aborted) {
		// Aborted while node:tls was loading, before the listener below could hear it.
		throw abortedError(signal);
	}

	let socket: Socket | undefined;
	/** Set by the socket's own 'error': Node's "socket hang up" is then not a clean close. */
	let socketFailed = false;
	const onSocketError = (): void => {
		socketFailed = true;
	};

	const requestOptions: RequestOptions = {
		method: msg.method,
		path: requestTarget(msg),
		// Node takes the flat form of rawHeaders and writes it as given, names, order and repeats kept.
		headers: requestHeaderLines(msg),
		setHost: false,
		maxHeaderSize: MAX_HEAD_SIZE,
		createConnection() {
			socket = openSocket(uri, options.tls, secureModules);
			socket.once('error', onSocketError);
			return socket;
		},
	};

	return new Promise<WebsocketConnection>((resolve, reject) => {
		const req: ClientRequest = (secureModules === null ? httpRequest : secureModules.httpsRequest)(requestOptions);
		/** The refused response whose body is being read, once its head arrived. */
		let refused: IncomingMessage | undefined;
		const body: Buffer[] = [];
		let bodyLength = 0;
		let settled = false;
		let timer: NodeJS.Timeout | undefined;

		const cleanup = (): void => {
			settled = true;
			clearTimeout(timer);
			signal?.removeEventListener('abort', onAbort);
			req.removeListener('upgrade', onUpgrade);
			req.removeListener('response', onResponse);
			// Keep a listener: the request may still report an error while it is destroyed.
			req.removeListener('error', onError);
			req.on('error', () => {});
			// Nothing of the handshake stays on a socket that becomes the connection's.
			socket?.removeListener('error', onSocketError);
			if (refused !== undefined) {
				refused.removeListener('data', onBodyData);
				refused.removeListener('end', finishRefused);
				refused.removeListener('close', finishRefused);
				refused.on('error', () => {});
			}
		};

		const fail = (error: Error): void => {
			if (settled) {
				return;
			}

			cleanup();
			debug('handshake failed: %s', error.message);
			// The server said no (not a 101), or its 101 does not verify: a refusal, not an I/O failure.
			if (error instanceof WebsocketError && (error.code === WebsocketErrorCode.NOT_WEBSOCKET || error.code === WebsocketErrorCode.BAD_HANDSHAKE)) {
				publishHandshakeRefused('client', msg, error);
			}

			req.destroy();
			socket?.on('error', () => {});
			socket?.destroy();
			reject(error);
		};

		/** A response other than 101 is complete, too long or cut short: keep its body, report libsoup's NOT_WEBSOCKET. */
		function finishRefused(): void {
			if (settled) {
				return;
			}

			const all = body.length === 1 ? body[0]! : Buffer.concat(body, bodyLength);
			msg.responseBody = all.length === 0 ? null : all.subarray(0, MAX_REFUSED_BODY_SIZE);
			fail(
				new WebsocketError(
					WebsocketErrorCode.NOT_WEBSOCKET,
					'WS_ERR_UNEXPECTED_RESPONSE',
					'The server did not accept the WebSocket handshake.',
				),
			);
		}

		function onBodyData(chunk: Buffer): void {
			body.push(chunk);
			bodyLength += chunk.length;
			if (bodyLength >= MAX_REFUSED_BODY_SIZE) {
				finishRefused();
			}
		}

		function onResponse(res: IncomingMessage): void {
			try {
				takeResponse(msg, res);
			} catch (error) {
				// A header value Node let through that a MessageHeaders refuses (a control character).
				fail(parseError(error as Error));
				return;
			}

			if (res.statusCode === 101) {
				// A 101 without `Upgrade` and `Connection: Upgrade` is no upgrade to Node; verification says why.
				try {
					clientVerifyHandshake(msg, supported);
				} catch (error) {
					fail(error as Error);
					return;
				}

				fail(new WebsocketError(WebsocketErrorCode.NOT_WEBSOCKET, 'WS_ERR_UNEXPECTED_RESPONSE', 'Server ignored WebSocket handshake'));
				return;
			}

			refused = res;
			if (hasNoBody(res.statusCode ?? 0)) {
				finishRefused();
				return;
			}

			// Node decodes the body (chunked or not) and ends it at its length, or at the end of the connection.
			res.on('data', onBodyData);
			res.once('end', finishRefused);
			res.once('close', finishRefused);
			res.on('error', () => {});
		}

		function onUpgrade(res: IncomingMessage, upgraded: Socket, head: Buffer): void {
			let connection: WebsocketConnection;
			try {
				takeResponse(msg, res);
				const extensions = clientVerifyHandshake(msg, supported);
				cleanup();
				connection = openConnection(msg, upgraded, head, extensions, options);
			} catch (error) {
				const failure = error instanceof WebsocketError ? error : parseError(error as Error);
				if (settled) {
					upgraded.destroy();
					reject(failure);
				} else {
					socket = upgraded;
					fail(failure);
				}

				return;
			}

			resolve(connection);
		}

		function onError(error: NodeJS.ErrnoException): void {
			if (refused !== undefined) {
				// The body was cut short or badly framed: the response still delivers what was
				// decoded before the error, then closes, and finishRefused keeps it.
				debug('refused response body: %s', error.message);
				return;
			}

			if (typeof error.code === 'string' && error.code.startsWith('HPE_')) {
				fail(parseError(error));
				return;
			}

			if (error.code === 'ECONNRESET' && !socketFailed) {
				// Node's "socket hang up": the server closed before its response head was complete.
				fail(
					new WebsocketError(WebsocketErrorCode.FAILED, 'WS_ERR_CONNECTION_CLOSED', 'Connection terminated unexpectedly', {
						cause: error,
					}),
				);
				return;
			}

			// libsoup 3 reports transport errors as they are (commit 046aac0b).
			fail(error);
		}

		function onAbort(): void {
			fail(abortedError(signal!));
		}

		req.on('upgrade', onUpgrade);
		req.on('response', onResponse);
		req.on('error', onError);
		signal?.addEventListener('abort', onAbort, {once: true});
		if (timeout > 0) {
			timer = setTimeout(() => {
				if (refused !== undefined) {
					finishRefused();
					return;
				}

				fail(
					new WebsocketError(
						WebsocketErrorCode.FAILED,
						'WS_ERR_HANDSHAKE_TIMEOUT',
						`WebSocket handshake timed out after ${timeout} ms`,
					),
				);
			}, timeout);
		}

		// The socket buffers the request until it is connected.
		req.end();
	});
}

function openConnection(
	msg: Message,
	socket: Socket,
	rest: Buffer,
	extensions: WebsocketExtension[],
	options: WebsocketConnectOptions,
): WebsocketConnection {
	// Paused, the bytes given back are buffered rather than emitted at once.
	socket.pause();
	socket.setTimeout(0);
	if (rest.length > 0) {
		socket.unshift(rest);
	}

	const properties: ConstructorParameters<typeof WebsocketConnection>[0] = {
		ioStream: socket,
		connectionType: WebsocketConnectionType.CLIENT,
		uri: msg.uri,
		origin: msg.requestHeaders.getOne('Origin'),
		protocol: msg.responseHeaders.getOne('Sec-WebSocket-Protocol'),
		extensions,
		...givenConnectionLimits(options),
	};
	let connection: WebsocketConnection;
	try {
		connection = new WebsocketConnection(properties);
	} catch (error) {
		socket.destroy();
		throw error;
	}

	return connection;
}
