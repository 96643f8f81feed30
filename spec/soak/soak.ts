// The soak: N websoup connections over loopback TCP exchange numbered messages both ways and close at random moments.
//
// The rule checked, for each pair of ends A and B and each direction A → B:
//   1. What B receives from A is a prefix of what A sent: in order, each message exactly once,
//      byte for byte (the messages are numbered and their content derives from the number).
//   2. "Sent" means: A called sendMessage() while A.state was OPEN and A had not called close().
//      A stops sending when it calls close() or when B's Close reaches it (its state leaves OPEN).
//   3. If B never called close() itself (it only answered A's Close, or the pair is still open),
//      B receives *every* message A sent. If B called close() (alone or at the same time as A),
//      the messages from A that cross B's Close on the wire may be dropped (RFC 6455 §5.5.1:
//      B's peer may go on sending until B's Close arrives; what B does with them is not
//      specified), so for B only rule 1 holds.
//   4. Both ends emit `closed` (within the close timeout plus slack), neither emits `error`, both
//      report a clean close (`wasClean`), and each end's getCloseCode() is the code the other end
//      sent: the closer's code, echoed back to it (for a simultaneous close, each gets the other's).

import {once} from 'node:events';
import http from 'node:http';
import net, {type AddressInfo} from 'node:net';
import {websocketConnect} from '../../lib/node/client.ts';
import {addWebsocketHandler} from '../../lib/node/server.ts';
import {WebsocketConnection} from '../../lib/websocket/connection.ts';
import {WebsocketConnectionType, WebsocketDataType, WebsocketState} from '../../lib/websocket/constants.ts';
import {WebsocketExtensionDeflate} from '../../lib/websocket/extensions/deflate.ts';
import {prng} from '../helpers/random.ts';
import {withTimeout} from '../helpers/signals.ts';

export interface SoakOptions {
	seed: number;
	/** How long pairs keep being opened and exchanging messages. */
	milliseconds: number;
	/** Pairs open at a time. */
	connections?: number;
	/** Largest message, in bytes. */
	maxMessageSize?: number;
	/**
	 * Bytes one end may have in flight to the other (sent, not yet received), 0 = no bound. The
	 * kernel's socket buffers are not in `bufferedAmount`; without this bound a loaded machine
	 * queues so much ahead of a Close that the 5 s close timeout (libsoup's, armed by close())
	 * expires and the close is, by design, not clean. Default 1 MiB.
	 */
	window?: number;
}

export interface SoakResult {
	problems: string[];
	summary: string;
}

type Kind = 'tcp' | 'tcp+deflate' | 'http' | 'http+deflate';
const kinds: readonly Kind[] = ['tcp', 'tcp+deflate', 'http', 'http+deflate'];
/** Stop queueing while this much is buffered, so the soak measures delivery, not memory. */
const HIGH_WATER = 512 * 1024;
const LIMIT = 512 * 1024;
/** How long a pair may take to emit `closed` on both ends after its close() calls. */
const CLOSE_WAIT_MS = (WebsocketConnection.findProperty('close-timeout')!.defaultValue as number) + 5000;
const closeCodes = [1000, 1001, 4000, 4321, 3000];

/** Messages shorter than this carry no header: the receiver checks them against the number it expects next. */
const HEADERLESS_BELOW = 32;

/**
 * The content of message `seq` of `sender`, `size` bytes: a header (`c3#17#4096|`), then a pattern
 * derived from the number; under {@link HEADERLESS_BELOW} bytes, the pattern alone.
 */
export function messageContent(sender: string, seq: number, size: number, text: boolean): Buffer {
	const header = Buffer.from(size < HEADERLESS_BELOW ? '' : `${sender}#${seq}#${size}|`);
	const body = Buffer.alloc(Math.max(0, size - header.length));
	const pattern = Buffer.alloc(61);
	for (let i = 0; i < pattern.length; i++) {
		// Printable ASCII for text, any byte for binary.
		pattern[i] = text ? 0x21 + ((seq * 7 + i * 13) % 94) : (seq * 31 + i * 17) & 0xff;
	}

	if (body.length > 0) {
		body.fill(pattern);
	}

	return Buffer.concat([header, body]);
}

interface End {
	name: string;
	connection: WebsocketConnection;
	/** Messages sent under rule 2. */
	sent: number;
	/** The next number expected from the other end. */
	nextExpected: number;
	/** close() was called on this end, and with which code. */
	closeCode: number | null;
	errors: string[];
	closed: boolean;
	/** Date.now() at close(), and at `closed`, for the report. */
	closeCalledAt: number | null;
	closedAt: number | null;
	sentBytes: number;
	receivedBytes: number;
	lastReceivedAt: number | null;
}

interface Pair {
	id: number;
	kind: Kind;
	client: End;
	server: End;
	/** When to close, and from where. */
	closeAt: number;
	closer: 'client' | 'server' | 'both';
	closing: boolean;
	done: Promise<void>;
}

function newEnd(name: string, connection: WebsocketConnection, problems: string[]): End {
	const end: End = {name, connection, sent: 0, nextExpected: 0, closeCode: null, errors: [], closed: false, closeCalledAt: null, closedAt: null, sentBytes: 0, receivedBytes: 0, lastReceivedAt: null};
	connection.connect('error', (_self, error) => {
		end.errors.push(error.message);
		problems.push(`${name}: error ${error.name} ${(error as {code?: unknown}).code ?? ''} ${error.message}`);
	});
	connection.connect('closed', () => {
		end.closed = true;
		end.closedAt = Date.now();
	});
	return end;
}

/** Checks every message as it arrives: the next number from the other end, intact. */
function receiveInto(end: End, other: () => End, problems: string[]): void {
	end.connection.connect('message', (_self, type, data) => {
		const text = type === WebsocketDataType.TEXT;
		if (data.length < HEADERLESS_BELOW) {
			// A short one: it must be the message expected next, byte for byte.
			const sender = other();
			const seq = end.nextExpected;
			if (!messageContent(sender.name, seq, data.length, text).equals(data)) {
				problems.push(`${end.name}: a ${data.length}-byte message from ${sender.name} is not #${seq} (lost, duplicated, reordered or corrupted): ${data.toString('hex')}`);
			}

			end.nextExpected = seq + 1;
			end.receivedBytes += data.length;
			end.lastReceivedAt = Date.now();
			return;
		}

		const header = data.subarray(0, 64).toString('latin1');
		const match = /^([^#]+)#(\d+)#(\d+)\|/.exec(header);
		if (match === null) {
			problems.push(`${end.name}: a message without a header: ${data.subarray(0, 32).toString('hex')} (${data.length} B)`);
			return;
		}

		const seq = Number(match[2]);
		const size = Number(match[3]);
		const sender = other();
		if (match[1] !== sender.name) {
			problems.push(`${end.name}: a message from ${match[1]}, expected ${sender.name}`);
		}

		if (seq !== end.nextExpected) {
			problems.push(`${end.name}: message #${seq} from ${sender.name}, expected #${end.nextExpected} (${seq < end.nextExpected ? 'duplicate or reordered' : 'lost in between'})`);
		}

		end.nextExpected = seq + 1;
		end.receivedBytes += data.length;
		end.lastReceivedAt = Date.now();
		const expected = messageContent(match[1]!, seq, size, text);
		if (!expected.equals(data)) {
			problems.push(`${end.name}: message #${seq} corrupted (${data.length} B, expected ${expected.length} B)`);
		}
	});
}

/** Runs the soak; resolves once every pair has closed (or timed out closing). */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
	const rng = prng(options.seed);
	const problems: string[] = [];
	const connections = options.connections ?? 20;
	const maxMessageSize = options.maxMessageSize ?? 300 * 1024;
	const window = options.window ?? 1024 * 1024;
	const started = Date.now();
	const stopAt = started + options.milliseconds;

	// One plain TCP server for the direct pairs; one HTTP server with a websoup handler (deflate on, as
	// SoupServer), where each client offers permessage-deflate or not.
	// Each accepted end is matched with its client by the client's port (TCP) or the pair number in the URL (HTTP).
	const tcpAccepted = new Rendezvous<net.Socket>();
	const tcpServer = net.createServer({allowHalfOpen: true}, socket => {
		tcpAccepted.offer(String(socket.remotePort), socket);
	});
	const httpAccepted = new Rendezvous<WebsocketConnection>();
	const httpServer = http.createServer();
	addWebsocketHandler(
		httpServer,
		'/soak',
		null,
		null,
		(_server, msg, _path, connection) => {
			httpAccepted.offer(msg.uri.searchParams.get('pair') ?? '', connection);
		},
		{maxIncomingPayloadSize: LIMIT, maxTotalMessageSize: LIMIT},
	);
	const sockets = new Set<net.Socket>();
	for (const server of [tcpServer, httpServer]) {
		server.on('connection', (socket: net.Socket) => {
			sockets.add(socket);
			socket.once('close', () => sockets.delete(socket));
		});
		server.listen(0, '127.0.0.1');
		await once(server, 'listening');
	}

	const tcpPort = (tcpServer.address() as AddressInfo).port;
	const httpPort = (httpServer.address() as AddressInfo).port;
	const uri = new URL(`ws://127.0.0.1:${tcpPort}/soak`);

	async function openPair(id: number, kind: Kind): Promise<[WebsocketConnection, WebsocketConnection]> {
		const deflate = kind.endsWith('deflate');
		if (kind.startsWith('tcp')) {
			const socket = net.connect({port: tcpPort, host: '127.0.0.1', allowHalfOpen: true});
			await once(socket, 'connect');
			const serverSocket = await withTimeout(tcpAccepted.take(String(socket.localPort)), 5000, 'the accepted socket');
			const extension = (type: WebsocketConnectionType): WebsocketExtensionDeflate[] => {
				if (!deflate) {
					return [];
				}

				const ext = new WebsocketExtensionDeflate();
				ext.configure(type, new Map());
				return [ext];
			};

			const common = {uri, maxIncomingPayloadSize: LIMIT, maxTotalMessageSize: LIMIT};
			return [
				new WebsocketConnection({...common, ioStream: socket, connectionType: WebsocketConnectionType.CLIENT, extensions: extension(WebsocketConnectionType.CLIENT)}),
				new WebsocketConnection({...common, ioStream: serverSocket, connectionType: WebsocketConnectionType.SERVER, extensions: extension(WebsocketConnectionType.SERVER)}),
			];
		}

		const accepted = httpAccepted.take(String(id));
		const client = await websocketConnect(`ws://127.0.0.1:${httpPort}/soak?pair=${id}`, null, null, {
			extensions: deflate ? [WebsocketExtensionDeflate] : null,
			maxIncomingPayloadSize: LIMIT,
			maxTotalMessageSize: LIMIT,
		});
		const server = await withTimeout(accepted, 5000, 'the server connection');
		const negotiated = client.getExtensions().length > 0;
		if (negotiated !== deflate) {
			problems.push(`pair ${id} (${kind}): permessage-deflate negotiated ${negotiated}`);
		}

		return [client, server];
	}

	const pairs: Pair[] = [];
	let nextId = 0;
	let messagesSent = 0;
	let bytesSent = 0;

	async function startPair(): Promise<void> {
		const id = nextId++;
		const kind = kinds[id % kinds.length]!;
		let client: WebsocketConnection;
		let server: WebsocketConnection;
		try {
			[client, server] = await openPair(id, kind);
		} catch (error) {
			problems.push(`pair ${id} (${kind}): could not open: ${error instanceof Error ? error.message : String(error)}`);
			return;
		}

		const clientEnd = newEnd(`c${id}`, client, problems);
		const serverEnd = newEnd(`s${id}`, server, problems);
		receiveInto(clientEnd, () => serverEnd, problems);
		receiveInto(serverEnd, () => clientEnd, problems);
		const r = rng();
		const pair: Pair = {
			id,
			kind,
			client: clientEnd,
			server: serverEnd,
			// Some pairs close almost at once, most somewhere in the run, some only at its end.
			closeAt: Date.now() + (r < 0.15 ? rng() * 50 : rng() * options.milliseconds),
			closer: pick3(rng()),
			closing: false,
			done: Promise.resolve(),
		};
		pair.done = Promise.all([client.closed, server.closed]).then(() => undefined);
		pairs.push(pair);
	}

	function closePair(pair: Pair): void {
		pair.closing = true;
		const ends = pair.closer === 'both' ? [pair.client, pair.server] : [pair.closer === 'client' ? pair.client : pair.server];
		for (const end of ends) {
			const code = closeCodes[Math.floor(rng() * closeCodes.length)]!;
			if (end.connection.getState() === WebsocketState.OPEN) {
				end.closeCode = code;
				end.closeCalledAt = Date.now();
				end.connection.close(code, `bye from ${end.name}`);
			}
		}
	}

	/** One message from `end`, if it may send (rule 2) and its buffer has room. */
	function pump(end: End, other: End): void {
		const connection = end.connection;
		if (end.closeCode !== null || connection.getState() !== WebsocketState.OPEN || connection.bufferedAmount > HIGH_WATER) {
			return;
		}

		if (window > 0 && end.sentBytes - other.receivedBytes > window) {
			return;
		}

		const r = rng();
		const size = r < 0.1 ? 1 + Math.floor(rng() * (HEADERLESS_BELOW - 1)) : r < 0.6 ? 1 + Math.floor(rng() * 1024) : r < 0.95 ? 1 + Math.floor(rng() * 64 * 1024) : 1 + Math.floor(rng() * maxMessageSize);
		const text = rng() < 0.5;
		const data = messageContent(end.name, end.sent, size, text);
		if (text) {
			connection.sendText(data.toString('latin1'));
		} else {
			connection.sendBinary(data);
		}

		end.sent++;
		end.sentBytes += data.length;
		messagesSent++;
		bytesSent += data.length;
	}

	const opening: Array<Promise<void>> = [];
	for (let i = 0; i < connections; i++) {
		opening.push(startPair());
	}

	await Promise.all(opening);
	// The event loop of the soak: pump every open pair, close those whose moment came, replace them.
	let turns = 0;
	const maxTurns = Math.max(1_000_000, options.milliseconds * 1000);
	while (turns++ < maxTurns) {
		const now = Date.now();
		const active = pairs.filter(pair => !pair.closing);
		if (now >= stopAt && active.length === 0) {
			break;
		}

		for (const pair of active) {
			if (now >= pair.closeAt || now >= stopAt) {
				closePair(pair);
				continue;
			}

			pump(pair.client, pair.server);
			pump(pair.server, pair.client);
		}

		const replacements: Array<Promise<void>> = [];
		if (now < stopAt) {
			for (let i = active.filter(pair => !pair.closing).length; i < connections; i++) {
				replacements.push(startPair());
			}
		}

		await Promise.all(replacements);
		await new Promise(resolve => {
			setImmediate(resolve);
		});
	}

	// Rule 4: every pair closes, cleanly, with the codes that were sent.
	for (const pair of pairs) {
		try {
			await withTimeout(pair.done, CLOSE_WAIT_MS, `pair ${pair.id} to close`);
		} catch (error) {
			problems.push(`pair ${pair.id} (${pair.kind}): ${(error as Error).message}; client ${pair.client.closed ? 'closed' : 'open'}, server ${pair.server.closed ? 'closed' : 'open'}`);
			pair.client.connection.getIoStream().destroy();
			pair.server.connection.getIoStream().destroy();
			continue;
		}

		await checkPair(pair, problems);
	}

	for (const socket of sockets) {
		socket.destroy();
	}

	await Promise.all([tcpServer, httpServer].map(async server => new Promise<void>(resolve => {
		server.close(() => resolve());
	})));
	const seconds = (Date.now() - started) / 1000;
	return {
		problems,
		summary: `seed ${options.seed}: ${pairs.length} pairs, ${messagesSent} messages, ${(bytesSent / 1048576).toFixed(1)} MiB in ${seconds.toFixed(1)} s, ${problems.length} problems`,
	};
}

function pick3(r: number): 'client' | 'server' | 'both' {
	return r < 0.45 ? 'client' : r < 0.9 ? 'server' : 'both';
}

/** Values offered under a key, taken by whoever asks for that key, in either order. */
class Rendezvous<T> {
	readonly #values = new Map<string, T>();
	readonly #waiters = new Map<string, (value: T) => void>();

	offer(key: string, value: T): void {
		const waiter = this.#waiters.get(key);
		if (waiter === undefined) {
			this.#values.set(key, value);
		} else {
			this.#waiters.delete(key);
			waiter(value);
		}
	}

	async take(key: string): Promise<T> {
		const value = this.#values.get(key);
		if (value !== undefined) {
			this.#values.delete(key);
			return value;
		}

		return new Promise(resolve => {
			this.#waiters.set(key, resolve);
		});
	}
}

async function checkPair(pair: Pair, problems: string[]): Promise<void> {
	const closeCalledAt = Math.min(pair.client.closeCalledAt ?? Number.POSITIVE_INFINITY, pair.server.closeCalledAt ?? Number.POSITIVE_INFINITY);
	const after = (end: End): string => (end.closedAt === null ? 'never closed' : `closed ${end.closedAt - closeCalledAt} ms after close()`);
	const label = `pair ${pair.id} (${pair.kind}, closed by ${pair.closer}; client ${after(pair.client)}, server ${after(pair.server)})`;
	for (const [receiver, sender] of [[pair.client, pair.server], [pair.server, pair.client]] as const) {
		// Rule 3: complete unless the receiver closed first.
		if (receiver.closeCode === null && receiver.nextExpected !== sender.sent) {
			const stalled = receiver.lastReceivedAt === null || receiver.closedAt === null ? '' : `, the last ${receiver.closedAt - receiver.lastReceivedAt} ms before its 'closed'`;
			problems.push(`${label}: ${receiver.name} received ${receiver.nextExpected} of the ${sender.sent} messages (${receiver.receivedBytes} of ${sender.sentBytes} B) ${sender.name} sent${stalled}`);
		}

		if (receiver.nextExpected > sender.sent) {
			problems.push(`${label}: ${receiver.name} received ${receiver.nextExpected} messages, ${sender.name} sent ${sender.sent}`);
		}

		// Rule 4: the close code each end reports is the one the other end sent (or echoed).
		const expectedCode = sender.closeCode ?? receiver.closeCode;
		const got = receiver.connection.getCloseCode();
		if (got !== expectedCode) {
			problems.push(`${label}: ${receiver.name}.getCloseCode() is ${got}, expected ${expectedCode}`);
		}

		const info = await receiver.connection.closed;
		if (!info.wasClean) {
			problems.push(`${label}: ${receiver.name} closed uncleanly (code ${info.code})`);
		}
	}
}
