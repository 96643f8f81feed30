#!/usr/bin/env node
// The `websoup` command: `serve` (echo or chat server with a demo page) and `connect` (a wscat-like client).

import {readFileSync} from 'node:fs';
import type {IncomingMessage, ServerResponse} from 'node:http';
import type {AddressInfo, Socket} from 'node:net';
import {createInterface} from 'node:readline';
import {parseArgs, type ParseArgsConfig} from 'node:util';
import {demoPage} from './demo-page.ts';
import {websocketConnect, type WebsocketConnectOptions} from './node/client.ts';
import {createBoundedServer, DEFAULT_REQUEST_HEAD_TIMEOUT} from './node/http-server.ts';
import {websocketReconnect, type WebsocketRetryEvent} from './node/reconnect.ts';
import {addWebsocketHandler, type WebsocketHandlerOptions, type WebsocketHttpServer} from './node/server.ts';
import {CloseCode, WebsocketDataType, WebsocketState} from './websocket/constants.ts';
import type {WebsocketCloseInfo, WebsocketConnection} from './websocket/connection.ts';
import {WebsocketError} from './websocket/errors.ts';
import {Message} from './websocket/message.ts';
import {isToken} from './websocket/validation.ts';
import {RedisBroker} from './topics/redis-broker.ts';
import {WebsocketHub} from './topics/hub.ts';
import {isServeWorker, STOP_MESSAGE, superviseWorkers} from './serve-workers.ts';

/** Exit codes: 0 success, 1 a runtime failure, 2 a usage error (as most Unix tools). */
const ExitCode = {
	OK: 0,
	FAILURE: 1,
	USAGE: 2,
} as const;
type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Where the demo's WebSocket endpoint lives. */
const WS_PATH = '/ws';

/** How long `serve` waits for the close handshakes on shutdown before it drops the rest. */
const SHUTDOWN_TIMEOUT_MS = 3000;

/** How long `connect` waits for the close handshake after Ctrl-C before it gives up. */
const CLIENT_CLOSE_TIMEOUT_MS = 3000;

/** At most this many bytes of a binary message are shown in hex. */
const HEX_PREVIEW_BYTES = 64;

/** A bad command line: reported on one line, exit code 2. */
class UsageError extends Error {
	override name = 'UsageError';
}

/** A failure while running: reported on one line, exit code 1. */
class RuntimeError extends Error {
	override name = 'RuntimeError';
}

const toolHelp = `Usage: websoup <command> [options]

WebSocket server and client on websoup (libsoup's WebSocket support for Node.js).

Commands:
  serve            run an echo or chat server with a demo page at /
  connect <url>    open a WebSocket and exchange messages from the terminal or a pipe

Options:
  -h, --help       show this help (or "websoup <command> --help")
  -v, --version    show the version

Exit codes: 0 success, 1 runtime failure, 2 bad usage.
`;

const serveHelp = `Usage: websoup serve [options]

Serves a demo page at / and a WebSocket endpoint at ${WS_PATH}; every other path is 404.
Logs one line per connection open, close and error. Ctrl-C (or SIGTERM) refuses new
handshakes with 503, closes every connection with 1001 "going away", waits up to
${SHUTDOWN_TIMEOUT_MS / 1000} s for the close handshakes, terminates the rest, and exits; a second
signal exits at once.

Options:
  --host <host>          address to listen on (default 127.0.0.1)
  --port <port>          port to listen on, 0 for any free port (default 8080)
  --mode <echo|chat>     echo: messages come back to the sender;
                         chat: messages go to every client (default echo)
  --protocol <name>      a subprotocol the server accepts; repeat for more
  --origin <origin>      accept only handshakes with this Origin
  --keepalive <seconds>  send a ping every so many seconds (default 0: off)
  --idle-timeout <seconds>
                         close with 1001 "idle timeout" after so long without a message
                         received (default 0: off)
  --max-payload <bytes>  largest incoming frame and message (default 131072; 0: no limit)
  --handshake-timeout <ms>
                         a client must send its request head within this many ms,
                         else 408 (default ${DEFAULT_REQUEST_HEAD_TIMEOUT}; 0: no limit)
  --tls-cert <file>      PEM certificate: serve https and wss (needs --tls-key)
  --tls-key <file>       PEM private key for --tls-cert
  --workers <n>          run n worker processes (node:cluster) on the same port (default 1)
  --redis <url>          chat: pass messages through Redis (redis://host:port), so the
                         clients of every worker and every machine chat together;
                         needs the @redis/client package (npm install @redis/client)
  -h, --help             show this help
`;

const connectHelp = `Usage: websoup connect <url> [options]

Opens a WebSocket to <url> (ws:, wss:, http: or https:). Each line read from stdin is sent
as a message; received messages are printed on stdout, one per line:
  < text                          a text message
  < [binary N bytes] 00ff…        a binary message (at most ${HEX_PREVIEW_BYTES} bytes shown in hex)
  < pong data                     a pong

Commands typed as lines:
  /ping [data]                    send a ping
  /close [code] [reason]          close (default 1000)
  //text                          send "/text" (a leading slash is escaped by doubling it)

At the end of stdin the client closes with 1000 once everything is sent, and waits for the
server's close. Exit code 0 after a clean close, 1 on failure.

With --reconnect, a connection lost with 1001, 1006, 1011, 1012 or 1013 (or a network error,
or a 5xx refusal) is opened again after a random wait (full-jitter exponential backoff, 1 s
doubling up to 30 s); "connected to …" and "reconnecting in N ms …" are printed on stderr.

Options:
  --protocol <name>      offer this subprotocol; repeat for more, in order of preference
  --origin <origin>      send this Origin
  -H, --header <'Name: value'>  add a request header; repeat for more
  --binary               send lines as binary messages instead of text
  --keepalive <seconds>  send a ping every so many seconds (default 0: off)
  --idle-timeout <seconds>
                         close with 1001 "idle timeout" after so long without a message
                         received (default 0: off)
  --reconnect            connect again after a loss that means "try again"
  --insecure             accept any TLS certificate (wss: to a self-signed server)
  -h, --help             show this help
`;

/** In a `serve --workers` worker, every line says which worker wrote it. */
const linePrefix = isServeWorker() ? `worker ${process.pid}: ` : '';

/** The topic of `serve --mode chat`. */
const CHAT_TOPIC = 'chat';

/** Writes a line to stdout. */
function out(line: string): void {
	process.stdout.write(`${linePrefix}${line}\n`);
}

/** Writes a line to stderr. */
function err(line: string): void {
	process.stderr.write(`${line}\n`);
}

/** The first line of an error's message, for one-line reports. */
function firstLine(error: unknown): string {
	const message = error instanceof Error ? error.message : String(error);
	return message.split('\n', 1)[0] ?? message;
}

/** Runs `parseArgs`, turning its errors into {@link UsageError}s. */
function parse<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
	try {
		return parseArgs(config);
	} catch (error) {
		throw new UsageError(firstLine(error));
	}
}

/** Parses a whole number in `[min, max]` given to `--name`. */
function parseInteger(value: string, name: string, min: number, max: number): number {
	if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
		throw new UsageError(`--${name} expects a whole number from ${min} to ${max}, got "${value}"`);
	}

	return Number(value);
}

/** `host:port` of a socket's peer, with IPv6 addresses in brackets. */
function peerName(connection: WebsocketConnection): string {
	const socket = connection.getIoStream() as Partial<Socket>;
	const address = socket.remoteAddress ?? 'unknown';
	const host = address.includes(':') ? `[${address}]` : address;
	return socket.remotePort === undefined ? host : `${host}:${socket.remotePort}`;
}

/** Shows a binary payload as `[binary N bytes] hex…`. */
function describeBinary(data: Buffer): string {
	const preview = data.subarray(0, HEX_PREVIEW_BYTES).toString('hex');
	const more = data.length > HEX_PREVIEW_BYTES ? '…' : '';
	return `[binary ${data.length} ${data.length === 1 ? 'byte' : 'bytes'}]${preview === '' ? '' : ` ${preview}${more}`}`;
}

/** A pong or ping payload: as text when it is printable UTF-8, else in hex. */
function describeControl(data: Buffer): string {
	const text = data.toString('utf8');
	if (Buffer.from(text, 'utf8').equals(data) && !/[\u0000-\u001f\u007f]/.test(text)) {
		return text;
	}

	return data.toString('hex');
}

/** A close reason as it appears in log lines: JSON-quoted, so spaces and quotes stay unambiguous. */
function quoteReason(reason: string | null): string {
	return JSON.stringify(reason ?? '');
}

/** A one-line description of why a connection failed: the WebsocketError or socket error, with the HTTP status. */
function describeConnectError(error: unknown, msg: Message): string {
	// Only a response other than 101 is a refusal; a 101 that fails verification is a failed handshake.
	if (error instanceof WebsocketError && error.reason === 'WS_ERR_UNEXPECTED_RESPONSE' && msg.statusCode > 0) {
		return `handshake rejected: HTTP ${msg.statusCode} ${msg.reasonPhrase}`.trimEnd();
	}

	if (error instanceof WebsocketError) {
		return `handshake failed: ${firstLine(error)}`;
	}

	const code = (error as NodeJS.ErrnoException).code ?? '';
	if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|HOSTNAME/.test(code)) {
		return `${firstLine(error)} (--insecure accepts it)`;
	}

	return firstLine(error);
}

// --- serve -------------------------------------------------------------------------------------

interface ServeOptions {
	host: string;
	port: number;
	mode: 'echo' | 'chat';
	protocols: string[];
	origin: string | null;
	keepalive: number;
	idleTimeout: number;
	maxPayload: number | null;
	/** Milliseconds for the request head; `undefined` leaves createBoundedServer's default. */
	handshakeTimeout: number | undefined;
	tls: {cert: Buffer; key: Buffer} | null;
	workers: number;
	redis: string | null;
}

function readPem(file: string, option: string): Buffer {
	try {
		return readFileSync(file);
	} catch (error) {
		const code = (error as NodeJS.ErrnoException).code;
		throw new RuntimeError(`cannot read ${option} file "${file}"${code === undefined ? '' : `: ${code}`}`);
	}
}

function parseServeOptions(args: string[]): ServeOptions | null {
	const {values} = parse({
		args,
		options: {
			host: {type: 'string', default: '127.0.0.1'},
			port: {type: 'string', default: '8080'},
			mode: {type: 'string', default: 'echo'},
			protocol: {type: 'string', multiple: true, default: []},
			origin: {type: 'string'},
			keepalive: {type: 'string', default: '0'},
			'idle-timeout': {type: 'string', default: '0'},
			'max-payload': {type: 'string'},
			'handshake-timeout': {type: 'string'},
			'tls-cert': {type: 'string'},
			'tls-key': {type: 'string'},
			workers: {type: 'string', default: '1'},
			redis: {type: 'string'},
			help: {type: 'boolean', short: 'h', default: false},
		},
		allowPositionals: false,
		strict: true,
	});
	if (values.help) {
		process.stdout.write(serveHelp);
		return null;
	}

	if (values.mode !== 'echo' && values.mode !== 'chat') {
		throw new UsageError(`--mode expects "echo" or "chat", got "${values.mode}"`);
	}

	if (values.host === '') {
		throw new UsageError('--host expects an address, got ""');
	}

	for (const protocol of values.protocol) {
		if (!isToken(protocol)) {
			throw new UsageError(`--protocol expects a token (letters, digits, "-", "." …), got "${protocol}"`);
		}
	}

	const certFile = values['tls-cert'];
	const keyFile = values['tls-key'];
	if ((certFile === undefined) !== (keyFile === undefined)) {
		throw new UsageError('--tls-cert and --tls-key go together: give both or neither');
	}

	const options: ServeOptions = {
		host: values.host,
		port: parseInteger(values.port, 'port', 0, 65_535),
		mode: values.mode,
		protocols: values.protocol,
		origin: values.origin ?? null,
		keepalive: parseInteger(values.keepalive, 'keepalive', 0, 2_147_483),
		idleTimeout: parseInteger(values['idle-timeout'], 'idle-timeout', 0, 4_294_967_295),
		maxPayload:
			values['max-payload'] === undefined
				? null
				: parseInteger(values['max-payload'], 'max-payload', 0, Number.MAX_SAFE_INTEGER),
		handshakeTimeout:
			values['handshake-timeout'] === undefined
				? undefined
				: parseInteger(values['handshake-timeout'], 'handshake-timeout', 0, 2_147_483_647),
		tls: null,
		workers: parseInteger(values.workers, 'workers', 1, 256),
		redis: values.redis ?? null,
	};
	if (options.redis !== null) {
		if (!/^rediss?:\/\/[^/]/.test(options.redis) || !URL.canParse(options.redis)) {
			throw new UsageError(`--redis expects a redis:// or rediss:// URL, got "${options.redis}"`);
		}

		if (options.mode !== 'chat') {
			throw new UsageError('--redis is for --mode chat (echo needs no other process)');
		}
	}

	if (options.mode === 'chat' && options.workers > 1 && options.redis === null) {
		throw new UsageError('--mode chat with --workers needs --redis: each worker has its own clients');
	}

	if (certFile !== undefined && keyFile !== undefined) {
		options.tls = {cert: readPem(certFile, '--tls-cert'), key: readPem(keyFile, '--tls-key')};
	}

	return options;
}

/** The server of `serve`: a client whose request head is late (slowloris) gets 408, one too large 431. */
function createServeServer(
	options: ServeOptions,
	listener: (req: IncomingMessage, res: ServerResponse) => void,
): WebsocketHttpServer {
	try {
		return createBoundedServer({handshakeTimeout: options.handshakeTimeout, tls: options.tls}, listener);
	} catch (error) {
		// Only the TLS material can be wrong here: the bound was checked with the other options.
		throw new RuntimeError(`invalid TLS certificate or key: ${firstLine(error)}`);
	}
}

async function listen(server: WebsocketHttpServer, port: number, host: string): Promise<AddressInfo> {
	return new Promise((resolve, reject) => {
		const onError = (error: NodeJS.ErrnoException): void => {
			const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
			const reasons: Record<string, string> = {
				EADDRINUSE: 'address already in use',
				EACCES: 'permission denied',
				EADDRNOTAVAIL: 'address not available',
				ENOTFOUND: 'unknown host',
			};
			const why = (error.code === undefined ? undefined : reasons[error.code]) ?? firstLine(error);
			reject(new RuntimeError(`cannot listen on ${where}: ${why}`));
		};

		server.once('error', onError);
		server.listen(port, host, () => {
			server.removeListener('error', onError);
			resolve(server.address() as AddressInfo);
		});
	});
}

async function serve(args: string[]): Promise<ExitCode> {
	const options = parseServeOptions(args);
	if (options === null) {
		return ExitCode.OK;
	}

	const scheme = options.tls === null ? 'http' : 'https';
	const describe = (host: string, port: number): string => {
		const shownHost = host.includes(':') ? `[${host}]` : host;
		const extra = `${options.workers > 1 ? `, ${options.workers} workers` : ''}${options.redis === null ? '' : `, redis ${options.redis}`}`;
		return `listening on ${scheme}://${shownHost}:${port}/ (mode ${options.mode}, websocket at ${WS_PATH}${extra})`;
	};

	if (options.workers > 1 && !isServeWorker()) {
		return (await superviseWorkers(options.workers, out, port => describe(options.host, port))) as ExitCode;
	}

	// A worker listens for the primary from the start: asked to stop (or left alone by a primary
	// that died) before it serves, it just exits; afterwards it shuts down gracefully.
	let onStopRequest: (() => void) | null = null;
	if (isServeWorker()) {
		const stopRequested = (): void => {
			if (onStopRequest === null) {
				exit(ExitCode.OK);
			} else {
				onStopRequest();
			}
		};

		process.on('message', message => {
			if (message === STOP_MESSAGE) {
				stopRequested();
			}
		});
		process.on('disconnect', stopRequested);
	}

	// Chat goes through a hub: each message is encoded once for every client; with --redis, for
	// the clients of every process connected to the same Redis.
	let broker: RedisBroker | null = null;
	if (options.redis !== null) {
		try {
			broker = await RedisBroker.connect(options.redis);
		} catch (error) {
			throw new RuntimeError(firstLine(error).replace(/^RedisBroker: /, ''));
		}
	}

	const hub = options.mode === 'chat' ? new WebsocketHub({broker}) : null;
	hub?.connect('broker-error', (_hub, error) => {
		out(`broker-error ${JSON.stringify(firstLine(error))}`);
	});

	const page = demoPage({mode: options.mode, protocols: options.protocols, path: WS_PATH});
	const connections = new Set<WebsocketConnection>();
	let stopping = false;

	const server = createServeServer(options, (req, res) => {
		const path = new URL(req.url ?? '/', 'http://localhost').pathname;
		if (path === '/' && (req.method === 'GET' || req.method === 'HEAD')) {
			res.writeHead(200, {
				'Content-Type': 'text/html; charset=utf-8',
				'Content-Length': Buffer.byteLength(page),
				'Cache-Control': 'no-store',
			});
			res.end(req.method === 'HEAD' ? undefined : page);
		} else if (path === '/') {
			res.writeHead(405, {'Content-Type': 'text/plain; charset=utf-8', Allow: 'GET, HEAD'});
			res.end('Method Not Allowed\n');
		} else if (path === WS_PATH) {
			// The upgrade itself never gets here: the WebSocket handler takes it.
			res.writeHead(426, {'Content-Type': 'text/plain; charset=utf-8', Upgrade: 'websocket', Connection: 'Upgrade'});
			res.end('Upgrade Required: this is a WebSocket endpoint\n');
		} else {
			res.writeHead(404, {'Content-Type': 'text/plain; charset=utf-8'});
			res.end('Not Found\n');
		}
	});
	// Malformed requests get Node's own answers (400, 431 for an oversized head, 408 for a slow one).
	// The same bound covers the time from 'upgrade' to the 101 (no check hook here, so it is short).

	const handlerOptions: WebsocketHandlerOptions = {};
	if (options.handshakeTimeout !== undefined) {
		handlerOptions.handshakeTimeout = options.handshakeTimeout;
	}

	if (options.keepalive > 0) {
		handlerOptions.keepaliveInterval = options.keepalive;
	}

	if (options.idleTimeout > 0) {
		handlerOptions.idleTimeout = options.idleTimeout;
	}

	if (options.maxPayload !== null) {
		handlerOptions.maxIncomingPayloadSize = options.maxPayload;
		handlerOptions.maxTotalMessageSize = options.maxPayload;
	}

	const handler = addWebsocketHandler(
		server,
		WS_PATH,
		options.origin,
		options.protocols.length > 0 ? options.protocols : null,
		(_server, _msg, _path, connection) => {
			const name = peerName(connection);
			if (stopping) {
				connection.close(CloseCode.GOING_AWAY, 'going away');
			}

			connections.add(connection);
			const opened = (): void => {
				out(`open ${name} protocol=${connection.getProtocol() ?? '-'}`);
			};

			if (hub === null) {
				opened();
			} else {
				// Logged once the broker has the subscription: from then on it gets what any process publishes.
				hub.subscribe(connection, CHAT_TOPIC);
				void hub.ready.then(opened);
			}

			connection.connect('message', (_self, type: WebsocketDataType, data) => {
				if (hub !== null) {
					hub.publish(CHAT_TOPIC, type, data);
				} else if (connection.state === WebsocketState.OPEN) {
					connection.sendMessage(type, data);
				}
			});
			connection.connect('error', (_self, error) => {
				const reason = error instanceof WebsocketError ? error.reason : ((error as NodeJS.ErrnoException).code ?? error.name);
				out(`error ${name} ${reason} ${JSON.stringify(firstLine(error))}`);
			});
			connection.connect('closed', () => {
				connections.delete(connection);
				out(`close ${name} ${connection.getCloseCode()} ${quoteReason(connection.getCloseData())}`);
			});
		},
		handlerOptions,
	);

	const address = await listen(server, options.port, options.host);
	if (!isServeWorker()) {
		// With --workers the primary says it, once every worker listens.
		out(describe(address.address, address.port));
	}

	return new Promise<ExitCode>(resolve => {
		const stop = (signal: NodeJS.Signals, fromPrimary = false): void => {
			if (stopping && fromPrimary) {
				// A Ctrl-C reaches the workers and the primary alike: the primary's request is the same one.
				return;
			}

			if (stopping) {
				err(`websoup: ${signal} again, exiting without waiting`);
				for (const connection of connections) {
					connection.terminate();
				}

				resolve(ExitCode.FAILURE);
				return;
			}

			stopping = true;
			out(`stopping (${signal}): closing ${connections.size} connection${connections.size === 1 ? '' : 's'}`);
			server.close();
			server.closeIdleConnections();
			// New handshakes (on connections already open to the server) get 503 from here on.
			void handler
				.close({code: CloseCode.GOING_AWAY, reason: 'going away', timeout: SHUTDOWN_TIMEOUT_MS})
				.then(async result => {
					out(
						`stopped: ${result.clean} closed cleanly, ${result.dirty} without a close handshake, ` +
							`${result.terminated} terminated after ${SHUTDOWN_TIMEOUT_MS} ms`,
					);
					handler.remove();
					hub?.dispose();
					await broker?.close();
					resolve(ExitCode.OK);
				});
		};

		// Not `stop` itself: a signal listener's second argument is the signal's number.
		const onSignal = (signal: NodeJS.Signals): void => {
			stop(signal);
		};

		process.on('SIGINT', onSignal);
		process.on('SIGTERM', onSignal);
		onStopRequest = () => {
			stop('SIGTERM', true);
		};
	});
}

// --- connect -----------------------------------------------------------------------------------

interface ConnectOptions {
	url: URL;
	protocols: string[];
	origin: string | null;
	headers: Array<[string, string]>;
	binary: boolean;
	keepalive: number;
	idleTimeout: number;
	insecure: boolean;
	reconnect: boolean;
}

function parseConnectOptions(args: string[]): ConnectOptions | null {
	const {values, positionals} = parse({
		args,
		options: {
			protocol: {type: 'string', multiple: true, default: []},
			origin: {type: 'string'},
			header: {type: 'string', short: 'H', multiple: true, default: []},
			binary: {type: 'boolean', default: false},
			insecure: {type: 'boolean', default: false},
			keepalive: {type: 'string', default: '0'},
			'idle-timeout': {type: 'string', default: '0'},
			reconnect: {type: 'boolean', default: false},
			help: {type: 'boolean', short: 'h', default: false},
		},
		allowPositionals: true,
		strict: true,
	});
	if (values.help) {
		process.stdout.write(connectHelp);
		return null;
	}

	if (positionals.length !== 1) {
		throw new UsageError(
			positionals.length === 0 ? 'connect expects a URL, as in "websoup connect ws://127.0.0.1:8080/ws"' : `connect expects one URL, got ${positionals.length} arguments`,
		);
	}

	const text = positionals[0] ?? '';
	let url: URL;
	try {
		url = new URL(text);
	} catch {
		throw new UsageError(`not a URL: "${text}" (expected ws://host[:port]/path or wss://…)`);
	}

	if (!['ws:', 'wss:', 'http:', 'https:'].includes(url.protocol) || url.host === '') {
		throw new UsageError(`unsupported URL "${text}": expected a ws:, wss:, http: or https: URL with a host`);
	}

	const headers: Array<[string, string]> = [];
	for (const header of values.header) {
		const colon = header.indexOf(':');
		const name = colon === -1 ? '' : header.slice(0, colon).trim();
		if (!isToken(name)) {
			throw new UsageError(`-H expects "Name: value", got "${header}"`);
		}

		headers.push([name, header.slice(colon + 1).trim()]);
	}

	return {
		url,
		protocols: values.protocol,
		origin: values.origin ?? null,
		headers,
		binary: values.binary,
		keepalive: parseInteger(values.keepalive, 'keepalive', 0, 2_147_483),
		idleTimeout: parseInteger(values['idle-timeout'], 'idle-timeout', 0, 4_294_967_295),
		insecure: values.insecure,
		reconnect: values.reconnect,
	};
}

/** Runs one line typed by the user: a `/ping` or `/close` command, or a message to send. */
function runLine(connection: WebsocketConnection, line: string, binary: boolean): void {
	if (line === '/ping' || line.startsWith('/ping ')) {
		connection.ping(line.slice('/ping '.length));
		return;
	}

	if (line === '/close' || line.startsWith('/close ')) {
		const [codeText = '', ...words] = line.slice('/close '.length).split(' ');
		if (codeText !== '' && !/^\d{1,5}$/.test(codeText)) {
			throw new RangeError(`/close expects a numeric close code such as 1000, got "${codeText}"`);
		}

		const code = codeText === '' ? CloseCode.NORMAL : Number(codeText);
		connection.close(code, words.length === 0 ? null : words.join(' '));
		return;
	}

	const text = line.startsWith('//') ? line.slice(1) : line;
	if (binary) {
		connection.sendBinary(Buffer.from(text, 'utf8'));
	} else {
		connection.sendText(text);
	}
}

async function connectCommand(args: string[]): Promise<ExitCode> {
	const options = parseConnectOptions(args);
	if (options === null) {
		return ExitCode.OK;
	}

	const msg = new Message(options.url);
	const connectOptions: WebsocketConnectOptions = {headers: options.headers};
	if (options.keepalive > 0) {
		connectOptions.keepaliveInterval = options.keepalive;
	}

	if (options.idleTimeout > 0) {
		connectOptions.idleTimeout = options.idleTimeout;
	}

	if (options.insecure) {
		connectOptions.tls = {rejectUnauthorized: false};
	}

	if (options.reconnect) {
		return reconnectCommand(options, connectOptions);
	}

	let connection: WebsocketConnection;
	try {
		connection = await websocketConnect(
			msg,
			options.origin,
			options.protocols.length > 0 ? options.protocols : null,
			connectOptions,
		);
	} catch (error) {
		if (error instanceof TypeError) {
			throw new UsageError(firstLine(error));
		}

		throw new RuntimeError(`cannot connect to ${options.url.href}: ${describeConnectError(error, msg)}`);
	}

	const interactive = process.stdin.isTTY === true;
	if (interactive) {
		const protocol = connection.getProtocol();
		err(`connected to ${options.url.href}${protocol === null ? '' : ` (protocol ${protocol})`}; /ping, /close [code] [reason], Ctrl-D to quit`);
	}

	connection.connect('message', (_self, type, data) => {
		out(`< ${type === WebsocketDataType.TEXT ? data.toString('utf8') : describeBinary(data)}`);
	});
	connection.connect('pong', (_self, data) => {
		out(data.length === 0 ? '< pong' : `< pong ${describeControl(data)}`);
	});

	const lines = createInterface({input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY, terminal: false});
	lines.on('line', line => {
		if (connection.state !== WebsocketState.OPEN) {
			err(`websoup: connection is closing, not sent: ${line}`);
			return;
		}

		try {
			runLine(connection, line, options.binary);
		} catch (error) {
			// A bad /ping or /close argument: say so and carry on.
			err(`websoup: ${firstLine(error)}`);
		}
	});
	lines.on('close', () => {
		// End of input: everything read has been queued, and the Close frame goes after it.
		connection.close(CloseCode.NORMAL, null);
	});

	let interrupted = false;
	const onSignal = (): void => {
		if (interrupted) {
			connection.getIoStream().destroy();
			return;
		}

		interrupted = true;
		connection.close(CloseCode.NORMAL, null);
		setTimeout(() => connection.getIoStream().destroy(), CLIENT_CLOSE_TIMEOUT_MS).unref();
	};

	process.on('SIGINT', onSignal);
	process.on('SIGTERM', onSignal);

	const info = await connection.closed;
	lines.close();
	process.stdin.destroy();
	process.removeListener('SIGINT', onSignal);
	process.removeListener('SIGTERM', onSignal);

	if (info.wasClean && info.error === null) {
		if (interactive) {
			err(`closed ${info.code} ${quoteReason(info.reason)}`);
		}

		return ExitCode.OK;
	}

	const why = info.error === null ? 'connection closed without a close handshake' : firstLine(info.error);
	err(`websoup: ${why} (close code ${info.code === 0 ? CloseCode.ABNORMAL : info.code})`);
	return ExitCode.FAILURE;
}

/** Prints what a connection receives, as `connect` does. */
function printIncoming(connection: WebsocketConnection): void {
	connection.connect('message', (_self, type, data) => {
		out(`< ${type === WebsocketDataType.TEXT ? data.toString('utf8') : describeBinary(data)}`);
	});
	connection.connect('pong', (_self, data) => {
		out(data.length === 0 ? '< pong' : `< pong ${describeControl(data)}`);
	});
}

/** Why a retry happens, in a few words. */
function describeRetry(event: WebsocketRetryEvent): string {
	if (event.close !== null) {
		const {code, reason, error} = event.close;
		return error === null ? `closed ${code === 0 ? CloseCode.ABNORMAL : code} ${quoteReason(reason)}` : firstLine(error);
	}

	return firstLine(event.error);
}

/** `connect --reconnect`: lines go to the connection open at the time; a loss that means "try again" reconnects. */
async function reconnectCommand(options: ConnectOptions, connectOptions: WebsocketConnectOptions): Promise<ExitCode> {
	const controller = new AbortController();
	let current: WebsocketConnection | null = null;
	let stopped = false;
	let last: WebsocketCloseInfo | null = null;
	const stop = (): void => {
		stopped = true;
		if (current !== null && current.state === WebsocketState.OPEN) {
			current.close(CloseCode.NORMAL, null);
		} else {
			controller.abort();
		}
	};

	const lines = createInterface({input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY, terminal: false});
	lines.on('line', line => {
		if (current === null || current.state !== WebsocketState.OPEN) {
			err(`websoup: not connected, not sent: ${line}`);
			return;
		}

		try {
			runLine(current, line, options.binary);
		} catch (error) {
			err(`websoup: ${firstLine(error)}`);
		}
	});
	// End of input: close once what was read is sent (or stop waiting to reconnect).
	lines.on('close', stop);

	let interrupted = false;
	const onSignal = (): void => {
		if (interrupted) {
			current?.terminate();
			controller.abort();
			return;
		}

		interrupted = true;
		stop();
		setTimeout(() => {
			current?.terminate();
			controller.abort();
		}, CLIENT_CLOSE_TIMEOUT_MS).unref();
	};

	process.on('SIGINT', onSignal);
	process.on('SIGTERM', onSignal);
	try {
		for await (const connection of websocketReconnect(
			options.url,
			options.origin,
			options.protocols.length > 0 ? options.protocols : null,
			{
				...connectOptions,
				signal: controller.signal,
				onRetry(event) {
					err(`reconnecting in ${event.delay} ms (attempt ${event.attempt}): ${describeRetry(event)}`);
				},
			},
		)) {
			current = connection;
			const protocol = connection.getProtocol();
			err(`connected to ${options.url.href}${protocol === null ? '' : ` (protocol ${protocol})`}`);
			printIncoming(connection);
			if (stopped) {
				connection.close(CloseCode.NORMAL, null);
			}

			// eslint-disable-next-line no-await-in-loop -- one connection at a time
			last = await connection.closed;
			current = null;
		}
	} catch (error) {
		if (error instanceof TypeError) {
			throw new UsageError(firstLine(error));
		}

		throw new RuntimeError(`cannot connect to ${options.url.href}: ${describeConnectError(error, new Message(options.url))}`);
	} finally {
		lines.close();
		process.stdin.destroy();
		process.removeListener('SIGINT', onSignal);
		process.removeListener('SIGTERM', onSignal);
	}

	if (last === null) {
		err('websoup: stopped before a connection was made');
		return ExitCode.FAILURE;
	}

	if (last.wasClean && last.error === null) {
		err(`closed ${last.code} ${quoteReason(last.reason)}`);
		return ExitCode.OK;
	}

	const why = last.error === null ? 'connection closed without a close handshake' : firstLine(last.error);
	err(`websoup: ${why} (close code ${last.code === 0 ? CloseCode.ABNORMAL : last.code})`);
	return ExitCode.FAILURE;
}

// --- main --------------------------------------------------------------------------------------

function version(): string {
	const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {version?: string};
	return manifest.version ?? 'unknown';
}

/**
 * Runs the command line `args` (without `node` and the script) and resolves with the exit code.
 * Errors are reported on stderr as one line; nothing throws.
 */
async function main(args: readonly string[]): Promise<ExitCode> {
	const [command, ...rest] = args;
	try {
		switch (command) {
			case 'serve': {
				return await serve(rest);
			}

			case 'connect': {
				return await connectCommand(rest);
			}

			case undefined: {
				process.stderr.write(toolHelp);
				return ExitCode.USAGE;
			}

			case '-h':
			case '--help':
			case 'help': {
				process.stdout.write(toolHelp);
				return ExitCode.OK;
			}

			case '-v':
			case '--version': {
				out(version());
				return ExitCode.OK;
			}

			default: {
				throw new UsageError(`unknown command "${command}" (expected serve or connect; see websoup --help)`);
			}
		}
	} catch (error) {
		if (error instanceof UsageError) {
			err(`websoup: ${error.message}`);
			return ExitCode.USAGE;
		}

		err(`websoup: ${error instanceof RuntimeError ? error.message : firstLine(error)}`);
		return ExitCode.FAILURE;
	}
}

/** Exits once stdout and stderr have been flushed (pipes may be asynchronous). */
function exit(code: ExitCode): void {
	let pending = 2;
	const done = (): void => {
		pending--;
		if (pending === 0) {
			process.exit(code);
		}
	};

	process.stdout.write('', done);
	process.stderr.write('', done);
}

// A reader that goes away (`websoup connect … | head -1`) is not an error worth a stack trace.
process.stdout.on('error', () => {
	process.exit(ExitCode.FAILURE);
});

const code = await main(process.argv.slice(2));
exit(code);
