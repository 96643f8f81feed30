// Node glue, client side over HTTP/2: websocketConnect's extended CONNECT stream (RFC 8441) on node:http2.

import type {EventEmitter} from 'node:events';
import type {ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders, OutgoingHttpHeaders} from 'node:http2';
import type {ConnectionOptions, TLSSocket} from 'node:tls';
import {WebsocketConnectionType} from '../websocket/constants.ts';
import {WebsocketConnection} from '../websocket/connection.ts';
import {debug} from '../websocket/diagnostics.ts';
import {WebsocketError, WebsocketErrorCode} from '../websocket/errors.ts';
import type {WebsocketExtensionClass} from '../websocket/extensions/extension.ts';
import {clientPrepareHandshake, clientVerifyHandshake} from '../websocket/handshake.ts';
import type {Message} from '../http/message.ts';
import {MAX_REFUSED_BODY_SIZE, type WebsocketConnectOptions} from './client.ts';
import {givenConnectionLimits} from './connection-options.ts';
import {HTTP2_CANCEL, mapStreamEnd} from './http2-stream.ts';

// Builtins through process.getBuiltinModule(), not import: see docs/architecture.md, “Node's builtins”.
const {isIP} = process.getBuiltinModule('node:net');

/**
 * node:http2 and node:tls, loaded by the first WebSocket over HTTP/2: a process that never opens
 * one does not carry their code (docs/performance.md, the 8 MB threshold).
 */
async function loadModules(): Promise<{readonly http2Connect: typeof import('node:http2').connect; readonly tlsConnect: typeof import('node:tls').connect}> {
	const [http2, tls] = await Promise.all([import('node:http2'), import('node:tls')]);
	return {http2Connect: http2.connect, tlsConnect: tls.connect};
}

/**
 * {@link WebsocketConnectOptions.http2}: `true` opens the WebSocket on a new HTTP/2 session,
 * `'auto'` does so when the server offers it and falls back to HTTP/1.1 otherwise, a
 * `ClientHttp2Session` is a session to share; `false` (the default) is HTTP/1.1.
 */
export type WebsocketHttp2Option = boolean | 'auto' | ClientHttp2Session;

/** RFC 9113 §8.2.2: connection-specific fields are not sent on a stream, nor is `Host` (it is `:authority`). */
const notForwarded = new Set(['connection', 'upgrade', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'host']);

function isSession(value: unknown): value is ClientHttp2Session {
	return (
		value !== null &&
		typeof value === 'object' &&
		typeof (value as {request?: unknown}).request === 'function' &&
		typeof (value as {settings?: unknown}).settings === 'function'
	);
}

/**
 * Checks {@link WebsocketConnectOptions.http2}.
 *
 * @throws {TypeError} for anything but a boolean, `'auto'` or an open `ClientHttp2Session`.
 */
export function validateHttp2Option(value: unknown): asserts value is WebsocketHttp2Option | undefined {
	if (value === undefined || typeof value === 'boolean' || value === 'auto') {
		return;
	}

	if (!isSession(value)) {
		throw new TypeError(`Expected \`http2\` to be a boolean, 'auto' or a ClientHttp2Session, got \`${String(value)}\``);
	}

	if (value.closed || value.destroyed) {
		throw new TypeError('Expected `http2` to be an open ClientHttp2Session, got one that is closed');
	}
}

function abortedError(signal: AbortSignal): WebsocketError {
	return new WebsocketError(WebsocketErrorCode.FAILED, 'WS_ERR_ABORTED', 'Operation was cancelled', {cause: signal.reason});
}

function timeoutError(timeout: number): WebsocketError {
	return new WebsocketError(WebsocketErrorCode.FAILED, 'WS_ERR_HANDSHAKE_TIMEOUT', `WebSocket handshake timed out after ${timeout} ms`);
}

function closedError(): WebsocketError {
	return new WebsocketError(WebsocketErrorCode.FAILED, 'WS_ERR_CONNECTION_CLOSED', 'Connection terminated unexpectedly');
}

/** The bounds of one handshake: a deadline (0 = none) and an abort signal, shared by each step. */
interface Bounds {
	readonly timeout: number;
	readonly deadline: number;
	readonly signal: AbortSignal | undefined;
}

/**
 * Runs one step of the handshake within the bounds: `start` gets `resolve`/`reject` and returns its
 * cleanup, which runs once, whatever settles the step (itself, the deadline or the signal).
 */
async function step<T>(
	bounds: Bounds,
	start: (resolve: (value: T) => void, reject: (error: Error) => void) => () => void,
): Promise<T> {
	return new Promise<T>((resolve, reject) => {
		let settled = false;
		let cleanup: (() => void) | undefined;
		let timer: NodeJS.Timeout | undefined;
		const finish = (): boolean => {
			if (settled) {
				return false;
			}

			settled = true;
			clearTimeout(timer);
			bounds.signal?.removeEventListener('abort', onAbort);
			cleanup?.();
			return true;
		};

		const onAbort = (): void => {
			if (finish()) {
				reject(abortedError(bounds.signal!));
			}
		};

		if (bounds.signal?.aborted) {
			settled = true;
			reject(abortedError(bounds.signal));
			return;
		}

		bounds.signal?.addEventListener('abort', onAbort, {once: true});
		if (bounds.deadline > 0) {
			timer = setTimeout(() => {
				if (finish()) {
					reject(timeoutError(bounds.timeout));
				}
			}, Math.max(1, bounds.deadline - Date.now()));
		}

		cleanup = start(
			value => {
				if (finish()) {
					resolve(value);
				}
			},
			error => {
				if (finish()) {
					reject(error);
				}
			},
		);
		if (settled) {
			cleanup();
		}
	});
}

/** The host to connect to: without the brackets of an IPv6 literal. */
function hostOf(uri: URL): string {
	return uri.hostname.startsWith('[') ? uri.hostname.slice(1, -1) : uri.hostname;
}

/** A TLS connection offering h2 and http/1.1 by ALPN, for `http2: 'auto'`. */
async function openTls(
	tlsConnect: typeof import('node:tls').connect,
	uri: URL,
	tls: ConnectionOptions | undefined,
	bounds: Bounds,
): Promise<TLSSocket> {
	const host = hostOf(uri);
	const options: ConnectionOptions = {...tls, ALPNProtocols: ['h2', 'http/1.1'], host, port: uri.port === '' ? 443 : Number(uri.port)};
	if (options.servername === undefined && isIP(host) === 0) {
		options.servername = host;
	}

	const socket = tlsConnect(options);
	try {
		await stepUntil<void>(bounds, socket, 'secureConnect', resolve => {
			resolve();
		});
	} catch (error) {
		socket.on('error', () => {});
		socket.destroy();
		throw error;
	}

	return socket;
}

/**
 * Whether the server allows extended CONNECT, once its SETTINGS are known. RFC 8441 §3: "A client
 * MUST NOT send a CONNECT request with the :protocol pseudo-header unless a server has sent this
 * setting." The setting is known once it reads 1, or once the server has acknowledged our SETTINGS:
 * its own SETTINGS frame comes first on the connection (RFC 9113 §3.4), so by then it has arrived.
 */
async function extendedConnectAllowed(session: ClientHttp2Session, bounds: Bounds): Promise<boolean> {
	if (session.remoteSettings.enableConnectProtocol === true) {
		return true;
	}

	let known = settingsKnown.get(session);
	if (known === undefined) {
		known = whenSettingsKnown(session);
		settingsKnown.set(session, known);
		// A failed wait is not kept: a later call on a session still open waits again.
		known.catch(() => {
			settingsKnown.delete(session);
		});
	}

	return step<boolean>(bounds, (resolve, reject) => {
		known.then(resolve, reject);
		return () => {};
	});
}

/**
 * A {@link step} that waits for `event` on `emitter`, where `settle` decides with the event's
 * arguments, and fails on the emitter's `'error'` or its `'close'` before the event.
 */
async function stepUntil<T>(
	bounds: Bounds,
	emitter: EventEmitter,
	event: string,
	settle: (resolve: (value: T) => void, reject: (error: Error) => void, ...args: unknown[]) => void,
): Promise<T> {
	return step<T>(bounds, (resolve, reject) => {
		const onEvent = (...args: unknown[]): void => {
			settle(resolve, reject, ...args);
		};

		const onError = (error: Error): void => reject(error);
		const onClose = (): void => reject(closedError());
		emitter.once(event, onEvent);
		emitter.once('error', onError);
		emitter.once('close', onClose);
		return () => {
			emitter.removeListener(event, onEvent);
			emitter.removeListener('error', onError);
			emitter.removeListener('close', onClose);
		};
	});
}

/** One wait per session for its peer's SETTINGS, however many WebSockets are opened on it at once. */
const settingsKnown = new WeakMap<ClientHttp2Session, Promise<boolean>>();

async function whenSettingsKnown(session: ClientHttp2Session): Promise<boolean> {
	const known = (): boolean | null => {
		if (session.remoteSettings.enableConnectProtocol === true) {
			return true;
		}

		return !session.connecting && !session.pendingSettingsAck ? false : null;
	};

	if (session.destroyed || session.closed) {
		throw closedError();
	}

	const now = known();
	if (now !== null) {
		return now;
	}

	return new Promise<boolean>((resolve, reject) => {
		const cleanup = (): void => {
			session.removeListener('remoteSettings', check);
			session.removeListener('localSettings', check);
			session.removeListener('error', onError);
			session.removeListener('close', onClose);
		};

		const check = (): void => {
			const value = known();
			if (value !== null) {
				cleanup();
				resolve(value);
			}
		};

		const onError = (error: Error): void => {
			cleanup();
			reject(error);
		};

		const onClose = (): void => {
			cleanup();
			reject(closedError());
		};

		session.on('remoteSettings', check);
		session.on('localSettings', check);
		session.once('error', onError);
		session.once('close', onClose);
	});
}

/** The request headers of the extended CONNECT (RFC 8441 §5), from the prepared message. */
function requestHeaders(msg: Message, secure: boolean): OutgoingHttpHeaders {
	const uri = msg.uri;
	const headers: OutgoingHttpHeaders = {
		':method': msg.method,
		':protocol': msg.connectProtocol ?? 'websocket',
		// RFC 8441 §5: ":scheme […] MUST be set to "https" for wss URIs and "http" for ws URIs", ":path
		// […] to the path and query parts of the target URI", ":authority […] to the authority part".
		':scheme': secure ? 'https' : 'http',
		':path': `${uri.pathname === '' ? '/' : uri.pathname}${uri.search}`,
		':authority': msg.requestHeaders.getOne('Host') ?? uri.host,
	};
	for (const [name, value] of msg.requestHeaders) {
		const key = name.toLowerCase();
		if (notForwarded.has(key)) {
			continue;
		}

		const previous = headers[key];
		headers[key] = previous === undefined ? value : Array.isArray(previous) ? [...previous, value] : [String(previous), value];
	}

	return headers;
}

/** Copies a response's headers into the message: `:status` and every field, a repeated one once per value. */
function fillResponse(msg: Message, headers: IncomingHttpHeaders): void {
	msg.setStatus(Number(headers[':status']));
	for (const [name, value] of Object.entries(headers)) {
		if (name.startsWith(':') || value === undefined) {
			continue;
		}

		for (const item of Array.isArray(value) ? value : [value]) {
			msg.responseHeaders.append(name, String(item));
		}
	}
}

/** Sends the request and waits for the final response; resolves with the stream on 200, reads the body of a refusal. */
async function exchange(
	session: ClientHttp2Session,
	msg: Message,
	secure: boolean,
	bounds: Bounds,
): Promise<ClientHttp2Stream> {
	const stream = session.request(requestHeaders(msg, secure), {endStream: false});
	try {
		const responded = await stepUntil<boolean>(bounds, stream, 'response', (resolve, reject, headers) => {
			try {
				fillResponse(msg, headers as IncomingHttpHeaders);
			} catch (error) {
				reject(error as Error);
				return;
			}

			resolve(msg.statusCode === 200);
		});
		if (responded) {
			return stream;
		}

		// A refusal: keep up to 64 KiB of its body on the message, as over HTTP/1.1.
		const chunks: Buffer[] = [];
		let size = 0;
		await step<void>(bounds, resolve => {
			const onData = (chunk: Buffer): void => {
				if (size < MAX_REFUSED_BODY_SIZE) {
					chunks.push(chunk);
				}

				size += chunk.length;
				if (size >= MAX_REFUSED_BODY_SIZE) {
					resolve();
				}
			};

			stream.on('data', onData);
			stream.once('end', resolve);
			stream.once('close', resolve);
			stream.once('error', resolve);
			return () => {
				stream.removeListener('data', onData);
				stream.removeListener('end', resolve);
				stream.removeListener('close', resolve);
				stream.removeListener('error', resolve);
			};
		});
		const body = Buffer.concat(chunks).subarray(0, MAX_REFUSED_BODY_SIZE);
		msg.responseBody = body.length === 0 ? null : body;
		throw new WebsocketError(
			WebsocketErrorCode.NOT_WEBSOCKET,
			'WS_ERR_UNEXPECTED_RESPONSE',
			'The server did not accept the WebSocket handshake.',
		);
	} catch (error) {
		closeStream(stream);
		throw error;
	}
}

/** Destroys a session of our own that will carry no WebSocket, out of its callbacks (nodejs/node#38964). */
function dropSession(session: ClientHttp2Session): void {
	setImmediate(() => {
		session.destroy();
	});
}

/** Cancels a stream that will carry no WebSocket (RST_STREAM CANCEL); the session goes on. */
function closeStream(stream: ClientHttp2Stream): void {
	stream.on('error', () => {});
	// Deferred out of the stream's callbacks: nodejs/node#38964 (see http2-stream.ts).
	setImmediate(() => {
		if (!stream.closed && !stream.destroyed) {
			stream.close(HTTP2_CANCEL);
		}
	});
}

/**
 * `websocketConnect()` over HTTP/2, called by it when {@link WebsocketConnectOptions.http2} is set.
 * `msg` has the caller's headers but is not yet prepared; `fallback` runs the HTTP/1.1 handshake
 * (for `'auto'`) with the given timeout.
 */
export async function connectOverHttp2(
	msg: Message,
	origin: string | null,
	protocols: readonly string[] | null,
	supported: readonly WebsocketExtensionClass[] | null,
	timeout: number,
	options: WebsocketConnectOptions,
	fallback: (timeout: number) => Promise<WebsocketConnection>,
): Promise<WebsocketConnection> {
	const mode = options.http2!;
	const uri = msg.uri;
	const secure = uri.protocol === 'wss:' || uri.protocol === 'https:';
	const bounds: Bounds = {timeout, deadline: timeout === 0 ? 0 : Date.now() + timeout, signal: options.signal};
	const left = (): number => (timeout === 0 ? 0 : Math.max(1, bounds.deadline - Date.now()));
	if (mode === 'auto' && !secure) {
		// Without TLS there is no ALPN to ask, and HTTP/2 over cleartext needs prior knowledge
		// (`http2: true`); browsers use HTTP/1.1 there too.
		return fallback(left());
	}

	const {http2Connect, tlsConnect} = await loadModules();
	if (options.signal?.aborted) {
		throw abortedError(options.signal);
	}

	let session: ClientHttp2Session;
	const owned = !isSession(mode);
	const authority = `${secure ? 'https' : 'http'}://${uri.host}`;
	if (isSession(mode)) {
		session = mode;
	} else if (mode === 'auto') {
		const socket = await openTls(tlsConnect, uri, options.tls, bounds);
		if (socket.alpnProtocol !== 'h2') {
			debug('server chose %s by ALPN: WebSocket over HTTP/1.1', String(socket.alpnProtocol));
			socket.destroy();
			return fallback(left());
		}

		session = http2Connect(authority, {createConnection: () => socket});
	} else {
		session = http2Connect(authority, secure ? {...options.tls} : {});
	}

	if (owned) {
		// The session is this WebSocket's: its errors reach the stream, and it ends with the stream.
		session.on('error', (error: Error) => {
			debug('HTTP/2 session error: %s', error.message);
		});
	}

	let stream: ClientHttp2Stream;
	try {
		if (!(await extendedConnectAllowed(session, bounds))) {
			if (mode === 'auto') {
				debug('no SETTINGS_ENABLE_CONNECT_PROTOCOL: WebSocket over HTTP/1.1');
				session.close();
				return await fallback(left());
			}

			throw new WebsocketError(
				WebsocketErrorCode.NOT_WEBSOCKET,
				'WS_ERR_NO_EXTENDED_CONNECT',
				'The HTTP/2 server does not allow WebSockets (no SETTINGS_ENABLE_CONNECT_PROTOCOL)',
			);
		}

		msg.httpVersion = '2';
		clientPrepareHandshake(msg, origin, protocols, supported);
		stream = await exchange(session, msg, secure, bounds);
	} catch (error) {
		if (owned) {
			dropSession(session);
		}

		throw error;
	}

	let connection: WebsocketConnection;
	try {
		const extensions = clientVerifyHandshake(msg, supported);
		connection = new WebsocketConnection({
			ioStream: stream,
			connectionType: WebsocketConnectionType.CLIENT,
			uri: msg.uri,
			origin: msg.requestHeaders.getOne('Origin'),
			protocol: msg.responseHeaders.getOne('Sec-WebSocket-Protocol'),
			extensions,
			...givenConnectionLimits(options),
		});
	} catch (error) {
		closeStream(stream);
		if (owned) {
			dropSession(session);
		}

		throw error;
	}

	mapStreamEnd(connection, stream);
	if (owned) {
		stream.once('close', () => {
			session.close();
		});
	}

	return connection;
}
