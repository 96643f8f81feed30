// Runs fuzz cases against a WebsocketConnection (in-memory pair, raw peer) and the bare FrameDecoder, and checks each outcome.

import {once} from 'node:events';
import net from 'node:net';
import type {Duplex} from 'node:stream';
import zlib from 'node:zlib';
import {GObject} from '../../lib/gobject/object.ts';
import {WebsocketConnection} from '../../lib/websocket/connection.ts';
import {WebsocketConnectionType, WebsocketState} from '../../lib/websocket/constants.ts';
import {WebsocketError, websocketErrorReasons} from '../../lib/websocket/errors.ts';
import {WebsocketExtensionDeflate} from '../../lib/websocket/extensions/deflate.ts';
import {FrameDecoder} from '../../lib/websocket/frame-decoder.ts';
import {duplexPair} from '../helpers/duplex-pair.ts';
import {until, withTimeout} from '../helpers/signals.ts';
import {chunksOf, generateCase, type Chunking, type FuzzCase} from './generate.ts';
import {glueCase, glueOpener} from './glue.ts';
import {decodeReference, expect, type Expectation} from './oracle.ts';
import {isCompleteUtf8, isSendableCloseCode, parseFrames, type ParsedFrame} from './wire.ts';

/** A broken promise: `kind` groups equal failures, `detail` says what was seen. */
export interface Violation {
	kind: string;
	detail: string;
}

export interface CaseResult {
	violations: Violation[];
	/** 'message', 'close <code>', 'error <code>', 'eof', … for the statistics. */
	outcome: string;
	milliseconds: number;
}

/** How long the connection may take to emit `closed` after the raw peer is done: the close timeout, plus slack. */
export const CLOSE_TIMEOUT_MS = 1000;
const HANG_MS = 4 * CLOSE_TIMEOUT_MS;
/** In 'wait' mode, how long the raw peer waits for the connection's Close before it ends anyway. */
const WAIT_FOR_CLOSE_MS = 300;
/** A case may grow the heap (heapUsed + arrayBuffers) by at most this much. */
const HEAP_SLACK = 96 * 1024 * 1024;

const uri = new URL('ws://127.0.0.1/fuzz');
const TRAILER = Buffer.from([0, 0, 0xff, 0xff]);
/** The codes a connection may fail with on its own (RFC 6455 §7.4.1). */
const failureCodes = new Set([1002, 1003, 1007, 1008, 1009, 1011]);
const reasons = new Set<string>(websocketErrorReasons);

/** What goes wrong outside a case's own promises (uncaught exceptions, handler errors) lands here. */
let current: Violation[] | null = null;
const stray: Violation[] = [];

function report(kind: string, detail: string): void {
	(current ?? stray).push({kind, detail});
}

/**
 * Installs the process-wide traps for the duration of `body`: uncaught exceptions, unhandled
 * rejections and signal-handler errors become violations of the running case. The close timeout
 * is shortened so a stuck close handshake costs 1 s, not 5.
 */
export async function withTraps<T>(body: () => Promise<T>): Promise<T> {
	const onUncaught = (error: unknown): void => {
		report('uncaught-exception', error instanceof Error ? (error.stack ?? error.message) : String(error));
	};

	const onRejection = (error: unknown): void => {
		report('unhandled-rejection', error instanceof Error ? (error.stack ?? error.message) : String(error));
	};

	const previousReporter = GObject.setErrorReporter((error, _instance, signal) => {
		report('handler-threw', `${signal}: ${error instanceof Error ? error.message : String(error)}`);
	});
	process.on('uncaughtException', onUncaught);
	process.on('unhandledRejection', onRejection);
	try {
		return await body();
	} finally {
		process.off('uncaughtException', onUncaught);
		process.off('unhandledRejection', onRejection);
		GObject.setErrorReporter(previousReporter);
	}
}

/** Violations that happened outside any case (collected since the last call). */
export function takeStray(): Violation[] {
	return stray.splice(0);
}

function heap(): number {
	const usage = process.memoryUsage();
	return usage.heapUsed + usage.arrayBuffers;
}

function hex(buffer: Buffer, max = 64): string {
	return buffer.length <= max ? buffer.toString('hex') : `${buffer.subarray(0, max).toString('hex')}…(${buffer.length} B)`;
}

function sameBytes(a: Buffer, b: Buffer): boolean {
	return a.length === b.length && a.equals(b);
}

/** Inflates the compressed messages a connection wrote, in order, with one context (RFC 7692 context takeover). */
async function inflateAll(messages: Buffer[]): Promise<Buffer[] | string> {
	const inflater = zlib.createInflateRaw({windowBits: 15});
	const chunks: Buffer[] = [];
	inflater.on('data', (chunk: Buffer) => chunks.push(chunk));
	const out: Buffer[] = [];
	try {
		for (const message of messages) {
			await new Promise<void>((resolve, reject) => {
				inflater.once('error', reject);
				inflater.write(Buffer.concat([message, TRAILER]));
				inflater.flush(zlib.constants.Z_SYNC_FLUSH, () => {
					inflater.off('error', reject);
					resolve();
				});
			});
			out.push(Buffer.concat(chunks.splice(0)));
		}
	} catch (error) {
		return error instanceof Error ? error.message : String(error);
	} finally {
		inflater.close();
	}

	return out;
}

interface Written {
	/** Data messages as written (payloads joined), with RSV1 of the first frame. */
	messages: Array<{type: number; compressed: boolean; data: Buffer}>;
	pongs: Buffer[];
	/** The Close frame's payload, if one was written. */
	close: Buffer | null;
}

/** Checks the frames the connection wrote, by RFC 6455 §5: masking by role, control frame rules, nothing after Close. */
function checkWritten(bytes: Buffer, c: FuzzCase, violations: Violation[]): Written {
	const written: Written = {messages: [], pongs: [], close: null};
	const add = (kind: string, detail: string): void => {
		violations.push({kind, detail});
	};

	const {frames, rest, error} = parseFrames(bytes);
	if (error !== null) {
		add('output-bad-length', error);
	}

	if (rest.length > 0 && c.ending !== 'destroy') {
		add('output-truncated', `${rest.length} bytes of an incomplete frame at the end of the output`);
	}

	let message: {type: number; compressed: boolean; parts: Buffer[]} | null = null;
	frames.forEach((frame: ParsedFrame, i) => {
		const where = `output frame ${i} (opcode ${frame.opcode})`;
		if (written.close !== null) {
			add('output-after-close', `${where} written after the Close frame`);
		}

		// RFC 6455 §5.1: a client masks every frame it sends, a server masks none.
		if (frame.masked !== (c.role === 'client')) {
			add('output-masking', `${where} masked=${frame.masked} from a ${c.role}`);
		}

		if (!frame.minimalLength) {
			add('output-non-minimal-length', where);
		}

		const firstData = frame.opcode === 1 || frame.opcode === 2;
		if (frame.rsv !== 0 && !(c.deflate && firstData && frame.rsv === 0x40)) {
			add('output-rsv', `${where} rsv=${frame.rsv.toString(16)}`);
		}

		if (frame.opcode >= 8) {
			if (!frame.fin || frame.payload.length > 125) {
				add('output-control-frame', `${where} fin=${frame.fin} length=${frame.payload.length}`);
			}

			if (frame.opcode === 8) {
				written.close = frame.payload;
				const p = frame.payload;
				// RFC 6455 §5.5.1, §7.4: empty, or a code that may be sent and a UTF-8 reason of at most 123 bytes.
				if (p.length === 1 || (p.length >= 2 && (!isSendableCloseCode(p.readUInt16BE(0)) || !isCompleteUtf8(p.subarray(2))))) {
					add('output-bad-close', `Close payload ${hex(p)}`);
				}
			} else if (frame.opcode === 0xa) {
				written.pongs.push(frame.payload);
			} else if (frame.opcode !== 9) {
				add('output-opcode', where);
			}

			return;
		}

		if (frame.opcode === 0) {
			if (message === null) {
				add('output-fragmentation', `${where}: continuation without a message`);
				return;
			}

			message.parts.push(frame.payload);
		} else if (firstData) {
			if (message !== null) {
				add('output-fragmentation', `${where}: new message inside a fragmented one`);
			}

			message = {type: frame.opcode, compressed: frame.rsv === 0x40, parts: [frame.payload]};
		} else {
			add('output-opcode', where);
			return;
		}

		if (frame.fin) {
			written.messages.push({type: message.type, compressed: message.compressed, data: Buffer.concat(message.parts)});
			message = null;
		}
	});
	return written;
}

function describeOutcome(error: Error | null, closeCode: number, messages: number): string {
	if (error instanceof WebsocketError) {
		return `error ${error.code} ${error.reason}`;
	}

	if (error !== null) {
		return `stream error ${(error as NodeJS.ErrnoException).code ?? error.message}`;
	}

	if (closeCode !== 0) {
		return `close ${closeCode}`;
	}

	return messages > 0 ? 'messages, eof' : 'eof';
}

/** Two connected loopback sockets, half-open allowed, Nagle off. */
async function tcpPair(): Promise<[net.Socket, net.Socket]> {
	const server = net.createServer({allowHalfOpen: true});
	server.listen(0, '127.0.0.1');
	await once(server, 'listening');
	const accepted = once(server, 'connection') as Promise<[net.Socket]>;
	const client = net.connect({port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true, noDelay: true});
	const [[remote]] = await Promise.all([accepted, once(client, 'connect')]);
	server.close();
	remote.setNoDelay(true);
	return [client, remote];
}

/** A case's connection and the raw peer's end, however they were made. */
export interface Opened {
	connection: Promise<WebsocketConnection>;
	remote: Duplex;
	/** Writes the case's chunks (after a handshake, in the same first write, when there is one). */
	feed(chunks: Buffer[]): Promise<void>;
	/** The raw peer reads an HTTP head before the connection's frames. */
	skipHead: boolean;
	cleanup(): Promise<void>;
}

export type Opener = (c: FuzzCase) => Promise<Opened>;

/** The connection made directly on an in-memory pair or loopback sockets, as soup_websocket_connection_new() does. */
async function openDirect(c: FuzzCase): Promise<Opened> {
	const [local, remote] = c.transport === 'tcp' ? await tcpPair() : duplexPair();
	const type = c.role === 'server' ? WebsocketConnectionType.SERVER : WebsocketConnectionType.CLIENT;
	const extensions: WebsocketExtensionDeflate[] = [];
	if (c.deflate) {
		const extension = new WebsocketExtensionDeflate();
		extension.configure(type, new Map());
		extensions.push(extension);
	}

	const connection = new WebsocketConnection({
		ioStream: local,
		connectionType: type,
		uri,
		extensions,
		maxIncomingPayloadSize: c.maxIncomingPayloadSize,
		maxTotalMessageSize: c.maxTotalMessageSize,
		maxIncomingFragments: c.maxIncomingFragments,
		closeTimeout: CLOSE_TIMEOUT_MS,
	});
	return {
		connection: Promise.resolve(connection),
		remote,
		async feed(chunks) {
			for (const chunk of chunks) {
				remote.write(chunk);
			}
		},
		skipHead: false,
		async cleanup() {},
	};
}

/** Feeds one case to a fresh connection and checks every promise; never throws. */
export async function runConnectionCase(c: FuzzCase, options: {open?: Opener} = {}): Promise<CaseResult> {
	const violations: Violation[] = [];
	current = violations;
	const started = Date.now();
	const heapBefore = heap();
	const add = (kind: string, detail: string): void => {
		violations.push({kind, detail});
	};

	let opened: Opened;
	try {
		opened = await (options.open ?? openDirect)(c);
	} catch (error) {
		current = null;
		return {violations: [{kind: 'transport', detail: String(error)}], outcome: 'none', milliseconds: 0};
	}

	const {remote} = opened;
	const output: Buffer[] = [];
	remote.on('data', (chunk: Buffer) => output.push(chunk));
	remote.on('error', () => {});
	const remoteDone = new Promise<void>(resolve => {
		remote.once('end', resolve);
		remote.once('close', resolve);
	});
	// Copies: the connection unmasks in place, and the case's bytes must stay as generated.
	const feeding = opened.feed(chunksOf(c.bytes, c.chunking).map(chunk => Buffer.from(chunk)));
	let connection: WebsocketConnection;
	try {
		connection = await withTimeout(opened.connection, HANG_MS, 'the connection');
	} catch (error) {
		current = null;
		remote.destroy();
		return {violations: [{kind: 'transport', detail: String(error)}], outcome: 'none', milliseconds: 0};
	}

	const received: Array<{type: number; data: Buffer}> = [];
	const echoed: Array<{type: number; data: Buffer}> = [];
	const events: string[] = [];
	let error: Error | null = null;
	let closedCount = 0;
	let maxBuffered = 0;
	const inputSize = c.bytes.length;
	connection.connect('message', (self, messageType, data) => {
		events.push('message');
		// The payload may be a view into a chunk: copy it.
		const copy = Buffer.from(data);
		received.push({type: messageType, data: copy});
		if (c.maxTotalMessageSize > 0 && copy.length > c.maxTotalMessageSize) {
			add('message-over-limit', `a message of ${copy.length} B with max-total-message-size ${c.maxTotalMessageSize}`);
		}

		if (c.echo && self.getState() === WebsocketState.OPEN) {
			echoed.push({type: messageType, data: copy});
			self.sendMessage(messageType, copy);
		}

		maxBuffered = Math.max(maxBuffered, self.bufferedAmount);
	});
	connection.connect('error', (_self, e) => {
		events.push('error');
		if (error !== null) {
			add('error-twice', `second error ${e.message} after ${error.message}`);
		}

		error = e;
	});
	connection.connect('closing', () => events.push('closing'));
	connection.connect('closed', () => {
		events.push('closed');
		closedCount++;
	});

	await feeding;
	/** What the connection wrote: after the HTTP head, when a handshake came first. */
	const written = (): Buffer => {
		const all = Buffer.concat(output);
		if (!opened.skipHead) {
			return all;
		}

		const head = all.indexOf('\r\n\r\n');
		return head === -1 ? Buffer.alloc(0) : all.subarray(head + 4);
	};

	if (c.ending === 'destroy') {
		// On TCP a reset (RST), as a crashing peer's kernel sends it.
		if (remote instanceof net.Socket) {
			remote.resetAndDestroy();
		} else {
			remote.destroy();
		}
	} else {
		if (c.ending === 'wait') {
			try {
				await until(
					() => closedCount > 0 || parseFrames(written()).frames.some(frame => frame.opcode === 8),
					WAIT_FOR_CLOSE_MS,
				);
			} catch {
				// No Close from the connection (the input may not call for one): end anyway.
			}
		}

		remote.end();
	}

	let hung = false;
	try {
		await withTimeout(connection.closed, HANG_MS, "'closed'");
	} catch {
		hung = true;
		add('hang', `no 'closed' within ${HANG_MS} ms after the peer ${c.ending === 'destroy' ? 'reset' : 'ended'}; state ${connection.getState()}, events ${events.join(',')}`);
	}

	try {
		await withTimeout(remoteDone, 1000, 'the end of the output');
	} catch {
		if (!hung) {
			add('stream-left-open', "'closed' was emitted but the stream was not closed");
		}
	}

	const heapGrowth = heap() - heapBefore;
	if (heapGrowth > HEAP_SLACK) {
		add('memory', `heap grew by ${(heapGrowth / 1048576).toFixed(1)} MiB for ${inputSize} B of input`);
	}

	const bufferBound = 1024 * 1024 + 2 * (inputSize + received.reduce((sum, m) => sum + m.data.length, 0));
	if (maxBuffered > bufferBound) {
		add('buffered-amount', `bufferedAmount reached ${maxBuffered} B (bound ${bufferBound})`);
	}

	if (hung) {
		connection.getIoStream().destroy();
		remote.destroy();
	}

	await opened.cleanup();

	// Signals: error before closed, closed once, closing at most once, nothing after closed.
	if (!hung && closedCount !== 1) {
		add('closed-count', `'closed' emitted ${closedCount} times`);
	}

	const closedAt = events.indexOf('closed');
	if (closedAt !== -1 && closedAt !== events.length - 1) {
		add('signal-after-closed', events.join(','));
	}

	if (events.filter(name => name === 'closing').length > 1) {
		add('closing-twice', events.join(','));
	}

	const caught = error as Error | null;
	if (caught !== null) {
		if (caught instanceof WebsocketError) {
			if (!failureCodes.has(caught.code) || !reasons.has(caught.reason)) {
				add('error-code', `WebsocketError code ${caught.code} reason ${caught.reason}`);
			}
		} else if (c.ending !== 'destroy' || typeof (caught as NodeJS.ErrnoException).code !== 'string') {
			add('error-kind', `${caught.name}: ${caught.message}`);
		}
	}

	const wrote = checkWritten(written(), c, violations);
	const expectation = expect(c.bytes, {
		role: c.role,
		deflate: c.deflate,
		maxIncomingPayloadSize: c.maxIncomingPayloadSize,
		maxTotalMessageSize: c.maxTotalMessageSize,
		maxIncomingFragments: c.maxIncomingFragments,
		plaintexts: c.plaintexts,
	});
	checkAgainstOracle(c, expectation, {received, error: caught, closeCode: connection.getCloseCode(), written: wrote}, add);
	await checkEchoes(c, echoed, wrote, add);

	current = null;
	return {
		violations,
		outcome: describeOutcome(caught, connection.getCloseCode(), received.length),
		milliseconds: Date.now() - started,
	};
}

interface Observed {
	received: Array<{type: number; data: Buffer}>;
	error: Error | null;
	closeCode: number;
	written: Written;
}

function checkAgainstOracle(c: FuzzCase, expected: Expectation, seen: Observed, add: (kind: string, detail: string) => void): void {
	const prefixOnly = c.ending === 'destroy';
	// Messages: exactly those the RFC delivers, in order (a prefix of them when the peer reset).
	const limit = Math.min(seen.received.length, expected.messages.length);
	for (let i = 0; i < limit; i++) {
		const got = seen.received[i]!;
		const want = expected.messages[i]!;
		if (got.type !== want.type || !sameBytes(got.data, want.data)) {
			add('message-mismatch', `message ${i}: got type ${got.type} ${hex(got.data)}, expected type ${want.type} ${hex(want.data)}`);
			return;
		}
	}

	if (!expected.exact) {
		return;
	}

	if (seen.received.length > expected.messages.length) {
		add('extra-message', `${seen.received.length} messages, expected ${expected.messages.length}`);
	} else if (seen.received.length < expected.messages.length && !prefixOnly) {
		add('lost-message', `${seen.received.length} of ${expected.messages.length} messages delivered (terminal ${JSON.stringify(expected.terminal)})`);
	}

	// Pongs: in order, each for a Ping that came before the end.
	const allowed = [...expected.pongs, ...expected.optionalPongs];
	let j = 0;
	for (const pong of seen.written.pongs) {
		while (j < allowed.length && !sameBytes(allowed[j]!, pong)) {
			j++;
		}

		if (j === allowed.length) {
			add('unexpected-pong', `Pong ${hex(pong)} answers no Ping before the end (expected ${expected.pongs.length})`);
			break;
		}

		j++;
	}

	const terminal = expected.terminal;
	if (terminal === null) {
		return;
	}

	const lastPong = expected.pongs.at(-1);
	// RFC 6455 §5.5.2: a Ping is answered unless a Close came first; the peer's FIN (a half-close)
	// does not lift that. Unsent Pongs may coalesce (§5.5.3), so only the last one is required.
	if (!prefixOnly && terminal.kind !== 'error' && lastPong !== undefined && !seen.written.pongs.some(pong => sameBytes(pong, lastPong))) {
		add('missing-pong', `the last Ping (${hex(lastPong)}) was never answered`);
	}

	const writtenCode = seen.written.close === null ? null : seen.written.close.length >= 2 ? seen.written.close.readUInt16BE(0) : 1005;
	const error = seen.error;
	switch (terminal.kind) {
		case 'error': {
			if (!(error instanceof WebsocketError)) {
				if (!prefixOnly) {
					add('missing-error', `expected an error ${terminal.codes.join('/')} (${terminal.why}), got ${error === null ? `none, close code ${seen.closeCode}` : error.message}`);
				}

				return;
			}

			if (!terminal.codes.includes(error.code)) {
				add('wrong-error-code', `error ${error.code} ${error.reason}, expected ${terminal.codes.join('/')} (${terminal.why})`);
			}

			// The peer must be told why (RFC 6455 §7.1.7, §7.4.1; the promise "a limit answers with a Close 1009").
			if (!prefixOnly && writtenCode !== error.code) {
				add(`close-frame-for-error ${error.code}`, `error ${error.code} ${error.reason}, but the Close written was ${writtenCode === null ? 'none' : writtenCode}`);
			}

			return;
		}

		case 'close': {
			if (error !== null) {
				if (!prefixOnly) {
					add('unexpected-error', `the peer's valid Close ${terminal.code} ended in error ${error.message}`);
				}

				return;
			}

			if (seen.closeCode !== terminal.code && !prefixOnly) {
				add('close-code', `getCloseCode() ${seen.closeCode}, the peer sent ${terminal.code}`);
			}

			// RFC 6455 §5.5.1: a Close is answered with a Close, FIN or not; libsoup echoes the
			// peer's code (an empty Close is answered with 1000).
			const echo = terminal.code === 1005 ? 1000 : terminal.code;
			if ((!prefixOnly || writtenCode !== null) && writtenCode !== echo) {
				add('close-echo', `the Close written was ${writtenCode === null ? 'none' : writtenCode}, expected ${echo}`);
			}

			return;
		}

		case 'eof': {
			if (error !== null && !prefixOnly && !(error instanceof WebsocketError && error.reason === 'WS_ERR_INCOMPLETE_FRAME' && terminal.midFrame)) {
				add('unexpected-error', `input ended cleanly${terminal.midFrame ? ' (mid-frame)' : ''}, got error ${error.message}`);
			}

			if (seen.closeCode !== 0 && error === null) {
				add('close-code', `getCloseCode() ${seen.closeCode} without a Close from the peer`);
			}
		}
	}
}

/** The messages the connection wrote back are the ones it sent, in order, exactly once, unchanged (a prefix: the end may cut them). */
async function checkEchoes(
	c: FuzzCase,
	echoed: Array<{type: number; data: Buffer}>,
	written: Written,
	add: (kind: string, detail: string) => void,
): Promise<void> {
	if (written.messages.length > echoed.length) {
		add('output-extra-message', `${written.messages.length} data messages written, ${echoed.length} sent`);
		return;
	}

	const compressed = written.messages.filter(message => message.compressed).map(message => message.data);
	if (compressed.length > 0 && !c.deflate) {
		add('output-rsv', 'a compressed message without permessage-deflate');
		return;
	}

	const inflated = compressed.length > 0 ? await inflateAll(compressed) : [];
	if (typeof inflated === 'string') {
		add('output-deflate', `the connection's compressed output does not inflate: ${inflated}`);
		return;
	}

	let k = 0;
	written.messages.forEach((message, i) => {
		const data = message.compressed ? inflated[k++]! : message.data;
		const want = echoed[i]!;
		if (message.type !== want.type || !sameBytes(data, want.data)) {
			add('output-echo-mismatch', `echo ${i}: wrote type ${message.type} ${hex(data)}, sent type ${want.type} ${hex(want.data)}`);
		}
	});
}

/** Feeds `bytes` to a bare FrameDecoder in `chunking` and compares it with the reference reading. */
export function runDecoderCase(
	bytes: Buffer,
	options: {role: 'client' | 'server'; allowedRsv: number; maxPayloadSize: number},
	chunking: Chunking,
): Violation[] {
	const violations: Violation[] = [];
	const add = (kind: string, detail: string): void => {
		violations.push({kind, detail});
	};

	const frames: Array<{fin: boolean; rsv: number; opcode: number; payload: Buffer}> = [];
	let error: WebsocketError | null = null;
	const decoder = new FrameDecoder(
		{
			onFrame(fin, rsv, opcode, payload) {
				if (error !== null) {
					add('decoder-frame-after-error', `opcode ${opcode}`);
				}

				frames.push({fin, rsv, opcode, payload: Buffer.from(payload)});
			},
			onError(e) {
				if (error !== null) {
					add('decoder-error-twice', e.message);
				}

				error = e;
			},
		},
		options,
	);
	const bound = options.maxPayloadSize > 0 ? 14 + options.maxPayloadSize : Number.POSITIVE_INFINITY;
	const copy = Buffer.from(bytes);
	let endError: WebsocketError | null = null;
	try {
		for (const chunk of chunksOf(copy, chunking)) {
			decoder.push(chunk);
			if (decoder.bufferedBytes > bound) {
				add('decoder-buffered', `${decoder.bufferedBytes} B buffered with maxPayloadSize ${options.maxPayloadSize}`);
			}
		}

		endError = decoder.end();
	} catch (thrown) {
		add('decoder-threw', thrown instanceof Error ? (thrown.stack ?? thrown.message) : String(thrown));
		return violations;
	}

	const reference = decodeReference(bytes, options);
	if (frames.length !== reference.frames.length) {
		add('decoder-frame-count', `${frames.length} frames, expected ${reference.frames.length}`);
	}

	for (let i = 0; i < Math.min(frames.length, reference.frames.length); i++) {
		const got = frames[i]!;
		const want = reference.frames[i]!;
		if (got.fin !== want.fin || got.rsv !== want.rsv || got.opcode !== want.opcode || !sameBytes(got.payload, want.payload)) {
			add('decoder-frame-mismatch', `frame ${i}: got ${got.opcode}/${got.rsv}/${got.fin} ${hex(got.payload)}, expected ${want.opcode}/${want.rsv}/${want.fin} ${hex(want.payload)}`);
			break;
		}
	}

	const caught = error as WebsocketError | null;
	if (reference.error === null) {
		if (caught !== null) {
			add('decoder-unexpected-error', `${caught.code} ${caught.reason}`);
		}

		const incomplete = endError !== null && endError.reason === 'WS_ERR_INCOMPLETE_FRAME';
		if (caught === null && incomplete !== reference.midFrame) {
			add('decoder-end', `end() ${incomplete ? 'reported' : 'did not report'} an incomplete frame; midFrame ${reference.midFrame}`);
		}
	} else if (caught === null) {
		add('decoder-missing-error', `expected ${reference.error.join('/')}`);
	} else if (!reference.error.includes(caught.code) || !reasons.has(caught.reason)) {
		add('decoder-wrong-error', `${caught.code} ${caught.reason}, expected ${reference.error.join('/')}`);
	}

	return violations;
}

/** One failing case, ready to print. */
export interface Failure {
	seed: number;
	index: number;
	target: 'connection' | 'decoder';
	violations: Violation[];
	description: string;
}

export function describeCase(c: FuzzCase, chunking: Chunking = c.chunking): string {
	return [
		`seed ${c.seed} case ${c.index}: ${c.role} connection over ${c.transport}, deflate ${c.deflate}, max-incoming ${c.maxIncomingPayloadSize}, max-total ${c.maxTotalMessageSize}, max-fragments ${c.maxIncomingFragments}, echo ${c.echo}, ending ${c.ending}, chunking ${JSON.stringify(chunking)}`,
		`mutation: ${c.mutation ?? 'none'}`,
		`input (${c.bytes.length} B): ${c.bytes.length <= 512 ? c.bytes.toString('hex') : `${c.bytes.subarray(0, 512).toString('hex')}…`}`,
	].join('\n');
}

export interface FuzzStats {
	connectionCases: number;
	decoderCases: number;
	outcomes: Map<string, number>;
	slowest: number;
	failures: Failure[];
}

/**
 * Runs `iterations` generated cases of `seed` against the connection, and each case's bytes in
 * three chunkings (plus every split offset for short inputs) against the bare decoder.
 */
export async function runFuzz(
	seed: number,
	iterations: number,
	options: {onFailure?: (failure: Failure) => void; firstIndex?: number; glue?: boolean} = {},
): Promise<FuzzStats> {
	const stats: FuzzStats = {connectionCases: 0, decoderCases: 0, outcomes: new Map(), slowest: 0, failures: []};
	const fail = (failure: Failure): void => {
		stats.failures.push(failure);
		options.onFailure?.(failure);
	};

	await withTraps(async () => {
		const first = options.firstIndex ?? 0;
		for (let index = first; index < first + iterations; index++) {
			const generated = generateCase(seed, index);
			const c = options.glue ? glueCase(generated) : generated;
			const result = await runConnectionCase(c, options.glue ? {open: glueOpener(c)} : {});
			stats.connectionCases++;
			stats.slowest = Math.max(stats.slowest, result.milliseconds);
			const outcome = result.outcome.replace(/ WS_ERR_\w+/, '');
			stats.outcomes.set(outcome, (stats.outcomes.get(outcome) ?? 0) + 1);
			if (result.violations.length > 0) {
				fail({seed, index, target: 'connection', violations: result.violations, description: `${options.glue ? 'through the Node glue: ' : ''}${describeCase(c)}`});
			}

			const decoderOptions = {role: c.role, allowedRsv: c.deflate ? 0x40 : 0, maxPayloadSize: c.maxIncomingPayloadSize};
			const chunkings: Chunking[] = [{kind: 'whole'}, {kind: 'bytes'}, {kind: 'random', seed: index}];
			if (c.bytes.length <= 300) {
				for (let at = 1; at < c.bytes.length; at++) {
					chunkings.push({kind: 'split', at});
				}
			}

			for (const chunking of chunkings) {
				const violations = runDecoderCase(c.bytes, decoderOptions, chunking);
				stats.decoderCases++;
				if (violations.length > 0) {
					fail({seed, index, target: 'decoder', violations, description: describeCase(c, chunking)});
					break;
				}
			}

			const strays = takeStray();
			if (strays.length > 0) {
				fail({seed, index, target: 'connection', violations: strays, description: `after ${describeCase(c)}`});
			}
		}
	});
	return stats;
}
