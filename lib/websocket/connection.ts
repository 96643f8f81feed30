// WebsocketConnection: RFC 6455 over any Duplex, with libsoup 3's signals, close handshake and limits.

import type {Duplex} from 'node:stream';
import {GObject} from '../gobject/object.ts';
import {ParamFlags, ParamSpec} from '../gobject/param-spec.ts';
import {SignalFlags, type SignalTable} from '../gobject/signal.ts';
import type {ConstructProperties, PropertyAccessors} from '../gobject/types.ts';
import {
	CloseCode,
	DEFAULT_MAX_BUFFERED_AMOUNT,
	DEFAULT_MAX_INCOMING_FRAGMENTS,
	DEFAULT_MAX_INCOMING_PAYLOAD_SIZE,
	MAX_CLOSE_REASON,
	MAX_CONTROL_PAYLOAD,
	Opcode,
	WebsocketConnectionType,
	WebsocketDataType,
	WebsocketState,
} from './constants.ts';
import {closeChannel, debug, errorChannel, openChannel, type WebsocketCloseMessage, type WebsocketErrorMessage, type WebsocketOpenMessage} from './diagnostics.ts';
import {badDataError, closedBeforePongError, extensionError, pongTimeoutError, protocolError, WebsocketError, type Peer} from './errors.ts';
import {WebsocketExtension} from './extensions/extension.ts';
import {encodeClosePayload} from './frame.ts';
import {toBuffer} from './buffer-util.ts';
import {QueueFlags} from './outgoing-queue.ts';
import {PingTracker, type PingSettle} from './ping-tracker.ts';
import {kReadFailed, kReadHeld, kReadReleased, kReceivedControl, kReceivedMessage, Receiver} from './receiver.ts';
import {kLastFrameWritten, kQueueFlushed, kSendFailed, notWritten, Sender} from './sender.ts';
import {IdleTimer, LongTimer} from './timer.ts';
import {isValidReceivedCloseCode, isValidSentCloseCode, isValidUtf8} from './validation.ts';

/** libsoup waits this long for the peer to finish the close handshake before it closes the stream. */
const CLOSE_TIMEOUT_MS = 5000;

/** Prefix of keepalive ping payloads (libsoup's is `libsoup-keepalive-`). */
const KEEPALIVE_PREFIX = 'websoup-keepalive-';

const EMPTY = Buffer.alloc(0);

// Builtins through process.getBuiltinModule(), not import: see docs/architecture.md, “Node's builtins”.
const {Duplex: DuplexStream} = process.getBuiltinModule('node:stream');

/**
 * @internal For lib/topics only (not exported from the package): the method that queues a data
 * frame encoded once for many server connections; see {@link WebsocketConnection}'s `[kSendEncodedFrame]`.
 */
export const kSendEncodedFrame = Symbol('websoup.sendEncodedFrame');

/**
 * @internal For lib/node's handler shutdown only (not exported from the package): a function the
 * connection calls once, when it is closed, so the handler that accepted it lets go of it without
 * a signal handler or a weak reference per connection.
 */
export const kClosedHook = Symbol('websoup.closedHook');

// The stream's listeners are shared by every connection (no closures per connection): each finds
// its connection through the stream, and calls it through a symbol, off the public surface.
const kConnection = Symbol('websoup.connection');
const kStreamData = Symbol('websoup.streamData');
const kStreamEnd = Symbol('websoup.streamEnd');
const kStreamError = Symbol('websoup.streamError');
const kStreamClose = Symbol('websoup.streamClose');
const kStreamFinish = Symbol('websoup.streamFinish');
const kStartReading = Symbol('websoup.startReading');
type ConnectedStream = Duplex & {[kConnection]?: WebsocketConnection};

function onStreamData(this: ConnectedStream, chunk: Buffer | string): void {
	this[kConnection]![kStreamData](chunk);
}

function onStreamEnd(this: ConnectedStream): void {
	this[kConnection]![kStreamEnd]();
}

function onStreamError(this: ConnectedStream, error: Error): void {
	this[kConnection]![kStreamError](error);
}

function onStreamClose(this: ConnectedStream): void {
	this[kConnection]![kStreamClose]();
}

/**
 * The immediate after a connection's construction: its reading begins. One shared function, the
 * connection its argument (no closure per connection); one immediate per connection, queued when
 * it is made, so the immediates code queued before it still run first, and a throw strands no other.
 */
function startReading(connection: WebsocketConnection): void {
	connection[kStartReading]();
}

/** Our side ended: listened to once the connection closes its stream, for the drain. */
function onStreamFinish(this: ConnectedStream): void {
	this[kConnection]![kStreamFinish]();
}

function isExtensionList(value: unknown): string | null {
	return Array.isArray(value) && value.every(item => item instanceof WebsocketExtension)
		? null
		: 'an array of WebsocketExtension';
}

const construct = ParamFlags.READWRITE | ParamFlags.CONSTRUCT;
const constructOnly = ParamFlags.READWRITE | ParamFlags.CONSTRUCT_ONLY;

const properties = {
	'connection-type': ParamSpec.enum('connection-type', WebsocketConnectionType, WebsocketConnectionType.UNKNOWN, {
		flags: constructOnly,
		blurb: 'Whether this is a client or a server connection',
	}),
	'io-stream': ParamSpec.object('io-stream', DuplexStream, {
		flags: constructOnly,
		blurb: 'The Duplex the handshake happened on',
	}),
	uri: ParamSpec.object('uri', URL, {flags: constructOnly, blurb: 'The WebSocket URI'}),
	origin: ParamSpec.string('origin', null, {flags: constructOnly, blurb: 'The WebSocket origin'}),
	protocol: ParamSpec.string('protocol', null, {flags: constructOnly, blurb: 'The chosen WebSocket subprotocol'}),
	extensions: ParamSpec.value('extensions', Object.freeze([]) as readonly WebsocketExtension[], isExtensionList, {
		flags: constructOnly,
		blurb: 'The negotiated extensions, in the order they apply',
	}),
	state: ParamSpec.enum('state', WebsocketState, WebsocketState.OPEN, {
		flags: ParamFlags.READABLE,
		blurb: 'State',
	}),
	'keepalive-interval': ParamSpec.uint('keepalive-interval', 0, {
		flags: construct,
		blurb: 'Seconds between keepalive pings, 0 = off',
	}),
	'keepalive-pong-timeout': ParamSpec.uint('keepalive-pong-timeout', 0, {
		flags: construct,
		blurb: 'Seconds to wait for the pong of a keepalive ping before closing, 0 = off',
	}),
	'max-incoming-payload-size': ParamSpec.uint64('max-incoming-payload-size', DEFAULT_MAX_INCOMING_PAYLOAD_SIZE, {
		flags: construct,
		blurb: 'Largest payload of an incoming frame, in bytes, 0 = unlimited',
	}),
	'max-total-message-size': ParamSpec.uint64('max-total-message-size', 0, {
		flags: construct,
		blurb: 'Largest incoming message after extensions, in bytes, 0 = unlimited',
	}),
	'max-incoming-fragments': ParamSpec.uint('max-incoming-fragments', DEFAULT_MAX_INCOMING_FRAGMENTS, {
		flags: construct,
		blurb: 'Most frames an incoming message may span, 0 = unlimited',
	}),
	'max-buffered-amount': ParamSpec.uint64('max-buffered-amount', DEFAULT_MAX_BUFFERED_AMOUNT, {
		flags: construct,
		blurb: 'Reading stops while more bytes than this wait to be sent (resumes below half), 0 = off; a client connection defaults to 0',
	}),
	'close-timeout': ParamSpec.uint('close-timeout', CLOSE_TIMEOUT_MS, {
		flags: construct,
		minimum: 1,
		blurb: 'Milliseconds the close handshake and the drain after it may take before the stream is destroyed (libsoup: 5 s)',
	}),
	'idle-timeout': ParamSpec.uint('idle-timeout', 0, {
		flags: construct,
		blurb: 'Seconds without an incoming data frame before closing with 1001 "idle timeout", 0 = off',
	}),
	latency: ParamSpec.double('latency', 0, {
		flags: ParamFlags.READABLE,
		minimum: 0,
		blurb: 'Round trip of the last answered ping, in milliseconds; 0 until one is answered',
	}),
};

/** The property table of {@link WebsocketConnection}. */
export type WebsocketConnectionProperties = typeof properties;

/** The signals of {@link WebsocketConnection}: name → what handlers receive after the connection. */
export interface WebsocketConnectionSignals {
	/** A complete, validated data message. `data` is a Buffer. */
	message: [type: WebsocketDataType, data: Buffer];
	/** A failure: a {@link WebsocketError} for protocol and limit failures, the stream's own error for I/O. */
	error: [error: Error];
	/** An orderly close has begun (locally, or because the peer's Close frame arrived). */
	closing: [];
	/** The connection is closed; emitted once. */
	closed: [];
	/** A Pong frame arrived; `data` is its payload. */
	pong: [data: Buffer];
}

/** What the {@link WebsocketConnection.closed} promise resolves with. */
export interface WebsocketCloseInfo {
	/** The peer's close code: 0 when none arrived, 1005 when its Close frame was empty. */
	code: number;
	/** The peer's close reason, or `null`. */
	reason: string | null;
	/** Whether both Close frames were exchanged before the stream closed. */
	wasClean: boolean;
	/** The error that closed the connection, if one did. */
	error: Error | null;
}

/** The close handshake as icey's `ws` names its states; see {@link WebsocketConnection.getCloseState}. */
export type WebsocketCloseState = 'Open' | 'CloseSent' | 'CloseReceived' | 'Closed';

/**
 * Told once what a send call queued has been handed to the operating system (`error` `null`), or
 * that it never will be: the stream's error, or a {@link WebsocketError} `WS_ERR_NOT_SENT` when
 * the connection was not open, or closed (or an extension failed on the message) before it was
 * written. Never called from within the send call.
 */
export type WebsocketWrittenCallback = (error: Error | null) => void;

/** One message, as `for await (const message of connection)` yields it. */
export interface WebsocketMessage {
	type: WebsocketDataType;
	data: Buffer;
}

/**
 * The connection's booleans, as bits of one field: idle connections are many, and a field costs
 * 8 bytes each (measured with bench/profile.ts memory; docs/benchmarks.md).
 */
const Flag = {
	CLOSE_SENT: 1 << 0,
	CLOSE_RECEIVED: 1 << 1,
	DIRTY_CLOSE: 1 << 2,
	IO_CLOSING: 1 << 3,
	IO_CLOSED: 1 << 4,
	CLOSE_STARTED: 1 << 5,
	ERROR_EMITTED: 1 << 6,
	WARNED_SEND_AFTER_CLOSE: 1 << 7,
	PAUSED_FOR_ITERATOR: 1 << 8,
	PAUSED_FOR_WRITES: 1 << 9,
	WATCHING_DRAIN: 1 << 10,
	SHUTDOWN_AFTER_FLUSH: 1 << 11,
	END_PENDING: 1 << 12,
	CLOSE_PENDING: 1 << 13,
	ITERATING: 1 << 14,
} as const;

/** The state last notified (`notify::state`), a {@link WebsocketState} (1–3), sits in these bits of the flags. */
const NOTIFIED_STATE_SHIFT = 16;
const NOTIFIED_STATE_BITS = 0b11 << NOTIFIED_STATE_SHIFT;

/** The `closed` promise, made when first read, and what settles it (until it is settled). */
interface ClosedPromise {
	promise: Promise<WebsocketCloseInfo>;
	resolve: (info: WebsocketCloseInfo) => void;
}

/** Iterator buffering: pause the stream past this many unread messages, resume below half. */
const ITERATOR_HIGH_WATER_MARK = 16;

/**
 * The camelCase accessor of each property (`conn.keepaliveInterval`, `conn.state`, `conn.closeTimeout`,
 * …), typed from the property table: GObject defines them, this declaration gives their types.
 */
export interface WebsocketConnection extends PropertyAccessors<WebsocketConnectionProperties> {}

/**
 * A WebSocket connection over a Duplex on which the handshake has already happened, as libsoup's
 * `SoupWebsocketConnection`: create it with `new WebsocketConnection({ioStream, connectionType,
 * uri, …})`, then connect to `message`, `closing`, `closed`, `error` and `pong`.
 *
 * Reading starts right after construction (from an immediate, so handlers connected in the same
 * turn, or after an `await`, see the first message). Note that until the `closed` signal fires,
 * the connection is not yet completely closed.
 */
export class WebsocketConnection extends GObject<WebsocketConnectionProperties, WebsocketConnectionSignals> {
	static override properties = properties;
	static override signals: SignalTable<WebsocketConnection, WebsocketConnectionSignals> = {
		message: {flags: SignalFlags.RUN_FIRST},
		error: {flags: SignalFlags.RUN_FIRST},
		closing: {flags: SignalFlags.RUN_LAST},
		closed: {flags: SignalFlags.RUN_FIRST},
		pong: {flags: SignalFlags.RUN_FIRST},
	};

	readonly #stream: Duplex;
	readonly #type: WebsocketConnectionType;
	/** Frames in: decoding, extensions, assembly, UTF-8 and the limits. */
	readonly #receiver: Receiver;
	/** Frames out: encoding, extensions, the batch, the queue and 'drain'. */
	readonly #sender: Sender;

	/** The booleans below, one bit each of {@link Flag}, and the state last notified (a field each would cost 8 bytes a connection). */
	#flags = WebsocketState.OPEN << NOTIFIED_STATE_SHIFT;
	#error: Error | null = null;
	/** The peer's Close frame, once it arrived (and was valid). */
	#peerClose: {code: number; reason: string | null} | null = null;
	#maxBufferedAmount: number;

	// Timers.
	#closeTimer: NodeJS.Timeout | undefined;
	#keepaliveTimer: LongTimer | undefined;
	/** Keepalive pings waiting for their pong; made for the first one. */
	#pongTimers: Map<string, LongTimer> | null = null;
	#keepaliveCount = 0;
	/** Pings waiting for their pong (latency, ping() promises); made for the first one. */
	#pings: PingTracker | null = null;

	/** Made when `closed` is first read, settled at once if the connection is already closed. */
	#closed: ClosedPromise | null = null;
	#closeInfo: WebsocketCloseInfo | null = null;

	/** @internal Called once when the connection is closed (see {@link kClosedHook}). */
	[kClosedHook]: ((connection: WebsocketConnection) => void) | null = null;

	// libsoup's flags; `state` is derived from them.
	get #closeSent(): boolean {
		return (this.#flags & Flag.CLOSE_SENT) !== 0;
	}

	set #closeSent(on: boolean) {
		this.#flags = on ? this.#flags | Flag.CLOSE_SENT : this.#flags & ~Flag.CLOSE_SENT;
	}

	get #closeReceived(): boolean {
		return (this.#flags & Flag.CLOSE_RECEIVED) !== 0;
	}

	set #closeReceived(on: boolean) {
		this.#flags = on ? this.#flags | Flag.CLOSE_RECEIVED : this.#flags & ~Flag.CLOSE_RECEIVED;
	}

	get #dirtyClose(): boolean {
		return (this.#flags & Flag.DIRTY_CLOSE) !== 0;
	}

	set #dirtyClose(on: boolean) {
		this.#flags = on ? this.#flags | Flag.DIRTY_CLOSE : this.#flags & ~Flag.DIRTY_CLOSE;
	}

	get #ioClosing(): boolean {
		return (this.#flags & Flag.IO_CLOSING) !== 0;
	}

	set #ioClosing(on: boolean) {
		this.#flags = on ? this.#flags | Flag.IO_CLOSING : this.#flags & ~Flag.IO_CLOSING;
	}

	get #ioClosed(): boolean {
		return (this.#flags & Flag.IO_CLOSED) !== 0;
	}

	set #ioClosed(on: boolean) {
		this.#flags = on ? this.#flags | Flag.IO_CLOSED : this.#flags & ~Flag.IO_CLOSED;
	}

	/** `close()` or an echo is under way (set before `closing` is emitted, so a handler's close() is ignored). */
	get #closeStarted(): boolean {
		return (this.#flags & Flag.CLOSE_STARTED) !== 0;
	}

	set #closeStarted(on: boolean) {
		this.#flags = on ? this.#flags | Flag.CLOSE_STARTED : this.#flags & ~Flag.CLOSE_STARTED;
	}

	get #errorEmitted(): boolean {
		return (this.#flags & Flag.ERROR_EMITTED) !== 0;
	}

	set #errorEmitted(on: boolean) {
		this.#flags = on ? this.#flags | Flag.ERROR_EMITTED : this.#flags & ~Flag.ERROR_EMITTED;
	}

	get #warnedSendAfterClose(): boolean {
		return (this.#flags & Flag.WARNED_SEND_AFTER_CLOSE) !== 0;
	}

	set #warnedSendAfterClose(on: boolean) {
		this.#flags = on ? this.#flags | Flag.WARNED_SEND_AFTER_CLOSE : this.#flags & ~Flag.WARNED_SEND_AFTER_CLOSE;
	}

	/** Reading is held by a lagging `for await` consumer. */
	get #pausedForIterator(): boolean {
		return (this.#flags & Flag.PAUSED_FOR_ITERATOR) !== 0;
	}

	set #pausedForIterator(on: boolean) {
		this.#flags = on ? this.#flags | Flag.PAUSED_FOR_ITERATOR : this.#flags & ~Flag.PAUSED_FOR_ITERATOR;
	}

	/** Reading is held while more than max-buffered-amount bytes wait to be sent. */
	get #pausedForWrites(): boolean {
		return (this.#flags & Flag.PAUSED_FOR_WRITES) !== 0;
	}

	set #pausedForWrites(on: boolean) {
		this.#flags = on ? this.#flags | Flag.PAUSED_FOR_WRITES : this.#flags & ~Flag.PAUSED_FOR_WRITES;
	}

	get #watchingDrain(): boolean {
		return (this.#flags & Flag.WATCHING_DRAIN) !== 0;
	}

	set #watchingDrain(on: boolean) {
		this.#flags = on ? this.#flags | Flag.WATCHING_DRAIN : this.#flags & ~Flag.WATCHING_DRAIN;
	}

	/** The peer's Close came while our frames (our Close among them) still wait in the queue. */
	get #shutdownAfterFlush(): boolean {
		return (this.#flags & Flag.SHUTDOWN_AFTER_FLUSH) !== 0;
	}

	set #shutdownAfterFlush(on: boolean) {
		this.#flags = on ? this.#flags | Flag.SHUTDOWN_AFTER_FLUSH : this.#flags & ~Flag.SHUTDOWN_AFTER_FLUSH;
	}

	/** The stream ended while frames received before its end still waited for an extension. */
	get #endPending(): boolean {
		return (this.#flags & Flag.END_PENDING) !== 0;
	}

	set #endPending(on: boolean) {
		this.#flags = on ? this.#flags | Flag.END_PENDING : this.#flags & ~Flag.END_PENDING;
	}

	/** The stream closed while frames received before it still waited for an extension. */
	get #closePending(): boolean {
		return (this.#flags & Flag.CLOSE_PENDING) !== 0;
	}

	set #closePending(on: boolean) {
		this.#flags = on ? this.#flags | Flag.CLOSE_PENDING : this.#flags & ~Flag.CLOSE_PENDING;
	}

	get #notifiedState(): WebsocketState {
		return ((this.#flags & NOTIFIED_STATE_BITS) >> NOTIFIED_STATE_SHIFT) as WebsocketState;
	}

	set #notifiedState(state: WebsocketState) {
		this.#flags = (this.#flags & ~NOTIFIED_STATE_BITS) | (state << NOTIFIED_STATE_SHIFT);
	}

	get #iterating(): boolean {
		return (this.#flags & Flag.ITERATING) !== 0;
	}

	set #iterating(on: boolean) {
		this.#flags = on ? this.#flags | Flag.ITERATING : this.#flags & ~Flag.ITERATING;
	}

	/**
	 * Wraps `ioStream`, on which the WebSocket handshake has completed, like
	 * `soup_websocket_connection_new()`. `ioStream`, `uri` and a `connectionType` other than
	 * UNKNOWN are required. Bytes the stream has already read past the handshake can be given back
	 * with `stream.unshift(head)` before construction.
	 *
	 * @throws {TypeError} for a missing stream or URI, an UNKNOWN type, or any invalid property value.
	 */
	constructor(properties: ConstructProperties<WebsocketConnectionProperties>) {
		super(properties);
		const stream = this.getProperty('io-stream');
		const uri = this.getProperty('uri');
		this.#type = this.getProperty('connection-type');
		if (stream === null) {
			throw new TypeError('Expected `ioStream` to be a Duplex stream, got `null`');
		}

		if (uri === null) {
			throw new TypeError('Expected `uri` to be a URL, got `null`');
		}

		if (this.#type === WebsocketConnectionType.UNKNOWN) {
			throw new TypeError('Expected `connectionType` to be CLIENT or SERVER, got UNKNOWN');
		}

		if ((stream as ConnectedStream)[kConnection] !== undefined) {
			// Two connections would each decode every chunk, and write frames between each other's.
			throw new TypeError('Expected `ioStream` to carry no other WebsocketConnection, got one that already does');
		}

		this.#stream = stream;
		const extensions = this.getProperty('extensions');
		this.#receiver = new Receiver(this, {
			role: this.#side(),
			extensions,
			maxPayloadSize: this.getProperty('max-incoming-payload-size'),
			maxTotalMessageSize: this.getProperty('max-total-message-size'),
			maxIncomingFragments: this.getProperty('max-incoming-fragments'),
		});
		this.#sender = new Sender(this, stream, this.#type === WebsocketConnectionType.CLIENT, extensions);
		const given = properties !== undefined && ('maxBufferedAmount' in properties || 'max-buffered-amount' in properties);
		if (this.#type === WebsocketConnectionType.CLIENT && !given) {
			// A client reads on, whatever it has to send: its peer, a server, stops reading while
			// it cannot send, and two peers that both did could wait on each other for ever.
			this.setProperty('max-buffered-amount', 0);
		}

		this.#maxBufferedAmount = this.getProperty('max-buffered-amount');

		// Shared listeners find the connection through the stream: no closures per connection.
		(stream as ConnectedStream)[kConnection] = this;
		stream.on('data', onStreamData);
		stream.on('end', onStreamEnd);
		stream.on('error', onStreamError);
		stream.on('close', onStreamClose);
		// The connection ends its side itself (after its last frames, LIBSOUP.md difference 10): a
		// stream that ended its writable side at the peer's FIN would drop what is still queued.
		stream.allowHalfOpen = true;
		// Reading begins right after construction, even on a stream the handshake code left paused,
		// but from an immediate: like libsoup's input source dispatched by the main loop, it runs after
		// the code that created the connection, including an `await` continuation, has connected its handlers.
		stream.pause();
		setImmediate(startReading, this);
		this.#startKeepalive();
		this.#startIdleTimer();
		if (openChannel.hasSubscribers) {
			const open: WebsocketOpenMessage = {connection: this};
			openChannel.publish(open);
		}

		if (stream.destroyed) {
			queueMicrotask(() => {
				this[kStreamClose]();
			});
		}
	}

	// --- Getters, in libsoup's names -----------------------------------------------------------

	/** The state: OPEN, CLOSING or CLOSED. */
	get state(): WebsocketState {
		return this.getState();
	}

	/** The state, derived as libsoup does: CLOSED once the stream closed, CLOSING once a Close frame was sent or the stream is closing. */
	getState(): WebsocketState {
		if (this.#ioClosed) {
			return WebsocketState.CLOSED;
		}

		return this.#ioClosing || this.#closeSent ? WebsocketState.CLOSING : WebsocketState.OPEN;
	}

	/**
	 * Where the close handshake stands, in icey's terms: `'Open'`, `'CloseSent'` (we sent a Close
	 * and wait for the peer's), `'CloseReceived'` (the peer's Close arrived first), or `'Closed'`
	 * (both were exchanged, or the stream is closed).
	 */
	getCloseState(): WebsocketCloseState {
		if (this.#ioClosed || (this.#closeSent && this.#closeReceived)) {
			return 'Closed';
		}

		if (this.#closeSent) {
			return 'CloseSent';
		}

		return this.#closeReceived ? 'CloseReceived' : 'Open';
	}

	/** The peer's close code: 0 if no Close frame arrived, 1005 if it was empty. */
	getCloseCode(): number {
		return this.#peerClose?.code ?? 0;
	}

	/** The peer's close reason, or `null`. Only meaningful once CLOSED. */
	getCloseData(): string | null {
		return this.#peerClose?.reason ?? null;
	}

	/** The stream the connection runs on. */
	getIoStream(): Duplex {
		return this.#stream;
	}

	/** CLIENT or SERVER. */
	getConnectionType(): WebsocketConnectionType {
		return this.#type;
	}

	/** The URI of the connection. */
	getUri(): URL {
		return this.getProperty('uri')!;
	}

	/** The origin, or `null`. */
	getOrigin(): string | null {
		return this.getProperty('origin');
	}

	/** The negotiated subprotocol, or `null`. */
	getProtocol(): string | null {
		return this.getProperty('protocol');
	}

	/** The negotiated extensions. */
	getExtensions(): readonly WebsocketExtension[] {
		return this.getProperty('extensions');
	}

	/** Seconds between keepalive pings, 0 = off. */
	getKeepaliveInterval(): number {
		return this.getProperty('keepalive-interval');
	}

	/** Sets the keepalive interval in seconds (0 = off) and restarts the timer. */
	setKeepaliveInterval(seconds: number): void {
		this.setProperty('keepalive-interval', seconds);
	}

	/** Seconds to wait for a keepalive pong, 0 = off. */
	getKeepalivePongTimeout(): number {
		return this.getProperty('keepalive-pong-timeout');
	}

	/** Sets the keepalive pong timeout in seconds; 0 drops the timers of pings already sent. */
	setKeepalivePongTimeout(seconds: number): void {
		this.setProperty('keepalive-pong-timeout', seconds);
	}

	/** Largest payload of an incoming frame, 0 = unlimited. */
	getMaxIncomingPayloadSize(): number {
		return this.getProperty('max-incoming-payload-size');
	}

	/** Sets the largest payload of an incoming frame, 0 = unlimited. */
	setMaxIncomingPayloadSize(bytes: number): void {
		this.setProperty('max-incoming-payload-size', bytes);
	}

	/** Largest incoming message after extensions, 0 = unlimited. */
	getMaxTotalMessageSize(): number {
		return this.getProperty('max-total-message-size');
	}

	/** Sets the largest incoming message after extensions, 0 = unlimited. */
	setMaxTotalMessageSize(bytes: number): void {
		this.setProperty('max-total-message-size', bytes);
	}

	/** Most frames an incoming message may span, 0 = unlimited. */
	getMaxIncomingFragments(): number {
		return this.getProperty('max-incoming-fragments');
	}

	/** Sets the most frames an incoming message may span, 0 = unlimited. */
	setMaxIncomingFragments(count: number): void {
		this.setProperty('max-incoming-fragments', count);
	}

	/** Bytes waiting to be sent past which reading stops, 0 = off. */
	getMaxBufferedAmount(): number {
		return this.getProperty('max-buffered-amount');
	}

	/** Sets the bytes waiting to be sent past which reading stops (it resumes below half), 0 = off. */
	setMaxBufferedAmount(bytes: number): void {
		this.setProperty('max-buffered-amount', bytes);
	}

	/** Seconds without an incoming data frame before the connection closes with 1001 "idle timeout", 0 = off. */
	getIdleTimeout(): number {
		return this.getProperty('idle-timeout');
	}

	/** Sets the idle timeout in seconds (0 = off); the wait starts again from now. */
	setIdleTimeout(seconds: number): void {
		this.setProperty('idle-timeout', seconds);
	}

	/** Round trip of the last answered ping (keepalive or `ping()`), in milliseconds; 0 until one is answered. */
	getLatency(): number {
		return this.getProperty('latency');
	}

	/** Bytes accepted by send calls and not yet handed to the operating system (ws and W3C's `bufferedAmount`). */
	get bufferedAmount(): number {
		return this.#sender.bufferedAmount;
	}

	/** Settles once the connection is closed (after `closed` was emitted), with the peer's code and reason. */
	get closed(): Promise<WebsocketCloseInfo> {
		if (this.#closed === null) {
			const info = this.#closeInfo;
			if (info === null) {
				let resolve!: (info: WebsocketCloseInfo) => void;
				const promise = new Promise<WebsocketCloseInfo>(settle => {
					resolve = settle;
				});
				this.#closed = {promise, resolve};
			} else {
				this.#closed = {promise: Promise.resolve(info), resolve: ignore};
			}
		}

		return this.#closed.promise;
	}

	// --- Sending ---------------------------------------------------------------------------------

	/**
	 * Sends a text message. Ignored, with a one-time process warning, unless the state is OPEN.
	 * `onWritten` (websoup's, as ws's `send(data, cb)`; libsoup has none) hears once the frame has
	 * been handed to the operating system, or why it never will be ({@link WebsocketWrittenCallback}).
	 *
	 * @throws {TypeError} when `text` is not a string, or `onWritten` is not a function.
	 */
	sendText(text: string, onWritten?: WebsocketWrittenCallback): void {
		if (typeof text !== 'string') {
			throw new TypeError(`Expected \`text\` to be a string, got \`${typeof text}\``);
		}

		const written = checkWritten(onWritten);
		if (this.#canSend('sendText', written)) {
			this.#sender.sendData(Opcode.TEXT, Buffer.from(text, 'utf8'), written);
		}
	}

	/**
	 * Sends a binary message. Ignored, with a one-time process warning, unless the state is OPEN.
	 * `onWritten` as for {@link sendText}.
	 *
	 * @throws {TypeError} when `data` is not a Uint8Array, ArrayBuffer or ArrayBuffer view, or `onWritten` is not a function.
	 */
	sendBinary(data: Uint8Array | ArrayBuffer | ArrayBufferView, onWritten?: WebsocketWrittenCallback): void {
		const payload = toBuffer(data, 'data');
		const written = checkWritten(onWritten);
		if (this.#canSend('sendBinary', written)) {
			this.#sender.sendData(Opcode.BINARY, payload, written);
		}
	}

	/**
	 * Sends a message of either type. A TEXT payload must be valid UTF-8. `onWritten` as for {@link sendText}.
	 *
	 * @throws {TypeError} for an unknown type, data that is not bytes, TEXT data that is not UTF-8, or an `onWritten` that is not a function.
	 */
	sendMessage(type: WebsocketDataType, data: Uint8Array | ArrayBuffer | ArrayBufferView, onWritten?: WebsocketWrittenCallback): void {
		if (type !== WebsocketDataType.TEXT && type !== WebsocketDataType.BINARY) {
			throw new TypeError(`Expected \`type\` to be WebsocketDataType.TEXT or BINARY, got \`${String(type)}\``);
		}

		const payload = toBuffer(data, 'data');
		if (type === WebsocketDataType.TEXT && !isValidUtf8(payload)) {
			throw new TypeError('Expected `data` of a TEXT message to be valid UTF-8');
		}

		const written = checkWritten(onWritten);
		if (this.#canSend('sendMessage', written)) {
			this.#sender.sendData(type, payload, written);
		}
	}

	/**
	 * @internal Queues a complete data frame encoded elsewhere (unmasked, no reserved bits: a hub encodes it
	 * once and gives the same buffers to every subscriber) exactly as a send call queues its own:
	 * behind frames an extension still holds, counted in `bufferedAmount`, dropped once closing.
	 * Returns `false`, quietly, unless the state is OPEN or for a client (which must mask).
	 */
	[kSendEncodedFrame](frame: Buffer[]): boolean {
		if (this.#type !== WebsocketConnectionType.SERVER || this.getState() !== WebsocketState.OPEN) {
			return false;
		}

		this.#sender.sendFrame(frame, QueueFlags.NORMAL);
		return true;
	}

	/**
	 * Sends a Ping with `data` (at most 125 bytes, empty by default) and resolves with the round
	 * trip in milliseconds once its Pong arrives; the Pong also comes as the `pong` signal and sets
	 * `latency`. libsoup has no such call (it pings only for keepalive); ws and python websockets
	 * users expect one.
	 *
	 * A Pong answers the first pending ping with its payload and every ping sent before it (RFC 6455
	 * §5.5.3: a peer may answer only the latest). With `keepalive-pong-timeout` set, a ping not
	 * answered in time fails the connection as a keepalive ping does (`error` `WS_ERR_PONG_TIMEOUT`,
	 * Close 1008) and the promise rejects with that error; it rejects with `WS_ERR_CLOSED_BEFORE_PONG`
	 * when the connection closes first, or at once unless the state is OPEN. The promise may be
	 * ignored: its rejection is never reported as unhandled.
	 *
	 * @returns The round trip in milliseconds.
	 * @throws {RangeError} when `data` is longer than 125 bytes.
	 * @throws {TypeError} when `data` is neither a string nor bytes.
	 */
	ping(data: Uint8Array | ArrayBuffer | ArrayBufferView | string = EMPTY): Promise<number> {
		const payload = typeof data === 'string' ? Buffer.from(data, 'utf8') : toBuffer(data, 'data');
		if (payload.length > MAX_CONTROL_PAYLOAD) {
			throw new RangeError(`Expected \`data\` to be at most ${MAX_CONTROL_PAYLOAD} bytes, got \`${payload.length}\``);
		}

		let settle: PingSettle;
		const promise = new Promise<number>((resolve, reject) => {
			settle = {resolve, reject};
		});
		promise.catch(ignore);
		if (!this.#canSend('ping')) {
			settle!.reject(closedBeforePongError());
			return promise;
		}

		const timeout = this.getProperty('keepalive-pong-timeout');
		const timer =
			timeout > 0
				? new LongTimer(() => {
						this.#pingTimedOut(settle, timeout);
					}, timeout * 1000)
				: null;
		(this.#pings ??= new PingTracker()).add(payload, settle!, timer);
		this.#sender.sendControl(Opcode.PING, payload, QueueFlags.NORMAL);
		return promise;
	}

	/**
	 * Closes the stream now, without a close handshake (ws's `terminate()`): no `closing`, no
	 * `error`; `closed` follows with `getCloseCode()` 0 as for any close without the handshake
	 * (the W3C facade reports 1006). Frames still queued are dropped. Nothing happens once CLOSED.
	 */
	terminate(): void {
		if (this.#ioClosed) {
			return;
		}

		debug('terminate');
		this.#dirtyClose = true;
		this.#closeIoStream(true);
	}

	/**
	 * Closes the connection: emits `closing`, sends a Close frame with `code` and `reason`, and
	 * waits for the peer's Close (libsoup's `soup_websocket_connection_close`). `code` 1005
	 * (NO_STATUS, the default) sends an empty Close frame. Ignored if a Close was already sent.
	 *
	 * ```
	 *  OPEN --close()--> CLOSING --peer's Close--> (half-close, drain until the peer's FIN or the close timeout) --> CLOSED
	 *    \--peer's Close--> closing, echo (LAST) --> CLOSING --written--> CLOSED
	 * ```
	 *
	 * @param code - 1000–1003, 1007–1009, 1010 (client), 1011–1014 (server), 3000–4999, or 1005.
	 * @param reason - At most 123 bytes of UTF-8.
	 * @throws {RangeError} for a code that may not be sent or a reason over 123 bytes.
	 * @throws {TypeError} for a code that is not an integer or a reason that is not a string.
	 */
	close(code: number = CloseCode.NO_STATUS, reason: string | null = null): void {
		if (!Number.isInteger(code)) {
			throw new TypeError(`Expected \`code\` to be an integer, got \`${String(code)}\``);
		}

		if (reason !== null && typeof reason !== 'string') {
			throw new TypeError(`Expected \`reason\` to be a string or null, got \`${typeof reason}\``);
		}

		if (!isValidSentCloseCode(code, this.#side())) {
			throw new RangeError(`Expected \`code\` to be a close code this ${this.#side()} may send, got \`${code}\``);
		}

		if (reason !== null && Buffer.byteLength(reason) > MAX_CLOSE_REASON) {
			throw new RangeError(
				`Expected \`reason\` to be at most ${MAX_CLOSE_REASON} bytes of UTF-8, got \`${Buffer.byteLength(reason)}\``,
			);
		}

		if (code === CloseCode.NO_STATUS && reason !== null && reason !== '') {
			throw new RangeError('Expected no `reason` with code 1005 (an empty Close frame)');
		}

		if (this.#closeSent || this.#closeStarted || this.#ioClosing) {
			debug('close: already closing/closed, ignoring');
			return;
		}

		this.#closeConnection(code, reason);
	}

	/** Reads messages with backpressure: the stream is paused while 16 messages wait unread. Ends when the connection closes; throws the error that closed it, if one did. */
	async *[Symbol.asyncIterator](): AsyncGenerator<WebsocketMessage, void, undefined> {
		if (this.#iterating) {
			throw new TypeError('WebsocketConnection: already being iterated');
		}

		this.#iterating = true;
		const backlog: WebsocketMessage[] = [];
		let wake: (() => void) | undefined;
		let paused = false;
		let done = false;
		const onMessage = this.connect('message', (_self, type, data) => {
			backlog.push({type, data});
			if (backlog.length >= ITERATOR_HIGH_WATER_MARK && !paused && !this.#ioClosing) {
				paused = true;
				this.#pausedForIterator = true;
				this.#updateFlow();
			}

			wake?.();
		});
		const onClosed = this.connect('closed', () => {
			done = true;
			wake?.();
		});
		done = this.#ioClosed;
		try {
			for (;;) {
				const message = backlog.shift();
				if (message !== undefined) {
					if (paused && backlog.length <= ITERATOR_HIGH_WATER_MARK / 2) {
						paused = false;
						this.#pausedForIterator = false;
						this.#updateFlow();
					}

					yield message;
					continue;
				}

				if (done) {
					break;
				}

				await new Promise<void>(resolve => {
					wake = resolve;
				});
				wake = undefined;
			}
		} finally {
			this.disconnect(onMessage);
			this.disconnect(onClosed);
			this.#iterating = false;
			if (paused) {
				this.#pausedForIterator = false;
				this.#updateFlow();
			}
		}

		if (this.#error !== null) {
			throw this.#error;
		}
	}

	// --- Properties ------------------------------------------------------------------------------

	protected override getPropertyValue(spec: ParamSpec): unknown {
		return spec.name === 'state' ? this.getState() : super.getPropertyValue(spec);
	}

	protected override setPropertyValue(spec: ParamSpec, value: unknown): void {
		super.setPropertyValue(spec, value);
		switch (spec.name) {
			case 'max-incoming-payload-size': {
				this.#receiver.maxPayloadSize = value as number;
				break;
			}

			case 'max-total-message-size': {
				this.#receiver.maxTotalMessageSize = value as number;
				break;
			}

			case 'max-incoming-fragments': {
				this.#receiver.maxIncomingFragments = value as number;
				break;
			}

			case 'max-buffered-amount': {
				this.#maxBufferedAmount = value as number;
				this.#checkBuffered();
				break;
			}

			case 'keepalive-interval': {
				this.#startKeepalive();
				break;
			}

			case 'idle-timeout': {
				this.#startIdleTimer();
				break;
			}

			case 'keepalive-pong-timeout': {
				if (value === 0) {
					this.#clearPongTimers();
					this.#pings?.clearTimers();
				}

				break;
			}

			default:
		}
	}

	#updateState(): void {
		const state = this.getState();
		if (state !== this.#notifiedState) {
			this.#notifiedState = state;
			this.notify('state');
		}
	}

	// --- Receiving -------------------------------------------------------------------------------

	/** @internal The stream read `chunk`. */
	[kStreamData](chunk: Buffer | string): void {
		if (this.#ioClosing && this.#closeSent && this.#closeReceived) {
			return;
		}

		// While the chunk is decoded, the small frames sent by the handlers of the messages in it
		// (echoes, replies) gather in one batch written once at its end, the stream corked: the
		// batch and any other frame (large ones, pongs) leave in one vectored write.
		const batching = this.#sender.beginChunk();
		try {
			this.#receiver.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
		} finally {
			this.#sender.endChunk(batching);
		}

		if (this.#maxBufferedAmount > 0 && !this.#pausedForWrites && this.#sender.bufferedAmount > this.#maxBufferedAmount) {
			this.#checkBuffered();
		}
	}

	/**
	 * Reading stops while more than max-buffered-amount bytes wait to be sent (a peer that sends
	 * but never reads cannot make the connection buffer without bound), and resumes once they fall
	 * to half of it: at 'drain', or when an extension hands over a frame.
	 */
	#checkBuffered(): void {
		const max = this.#maxBufferedAmount;
		const stream = this.#stream;
		// The stream will not say 'drain' below its own high-water mark: count only the queue then
		// (past the mark it asks for 'drain'; a queue that holds frames is flushed, and checked, later).
		const noDrainComing = !stream.writableNeedDrain && this.#sender.queuedBytes <= max / 2;
		if (!this.#pausedForWrites) {
			if (max === 0 || this.bufferedAmount <= max || noDrainComing) {
				return;
			}

			debug('%d bytes wait to be sent: reading stops', this.bufferedAmount);
			this.#pausedForWrites = true;
		} else if (max === 0 || this.bufferedAmount <= max / 2 || noDrainComing) {
			this.#pausedForWrites = false;
			this.#updateFlow();
			return;
		}

		if (!this.#watchingDrain) {
			this.#watchingDrain = true;
			stream.once('drain', () => {
				this.#watchingDrain = false;
				this.#checkBuffered();
			});
		}

		this.#updateFlow();
	}

	/** @internal A complete, validated message from the receiver. */
	[kReceivedMessage](type: WebsocketDataType, data: Buffer): void {
		this.emit('message', type, data);
	}

	/** @internal A Close, Ping or Pong from the receiver. */
	[kReceivedControl](opcode: number, payload: Buffer): void {
		switch (opcode) {
			case Opcode.CLOSE: {
				this.#receiveClose(payload);
				break;
			}

			case Opcode.PING: {
				// RFC 6455 §5.5.2: upon receipt of a Ping frame, an endpoint MUST send a Pong frame in response.
				if (this.getState() === WebsocketState.OPEN) {
					this.#sender.sendPong(payload);
				}

				break;
			}

			case Opcode.PONG: {
				this.#receivePong(payload);
				break;
			}

			default: {
				// The decoder has already refused reserved opcodes; this is unreachable.
				this.#emitErrorAndClose(protocolError(this.#peer(), 'WS_ERR_INVALID_OPCODE'), false);
			}
		}
	}

	/** @internal The receiver refused what it read (the decoder, an extension, UTF-8, a limit). */
	[kReadFailed](error: WebsocketError): void {
		this.#fail(error);
	}

	/** @internal An incoming extension works asynchronously: reading waits. */
	[kReadHeld](): void {
		this.#updateFlow();
	}

	/** @internal The frames that waited for an extension are processed: the stream's end, if it came meanwhile, is now. */
	[kReadReleased](): void {
		if (this.#endPending || this.#closePending) {
			// Every frame received before the end of the stream has been processed: now the end.
			const closed = this.#closePending;
			this.#endPending = false;
			this.#closePending = false;
			this[kStreamEnd]();
			if (closed) {
				this[kStreamClose]();
			}

			return;
		}

		this.#updateFlow();
	}

	/** A frame was refused (read, or on its way out through an extension): a limit closes with 1009, the rest with their code. */
	#fail(error: WebsocketError): void {
		if (error.code === CloseCode.TOO_BIG) {
			this.#failLimit(error);
		} else {
			this.#emitErrorAndClose(error, false);
		}
	}

	/**
	 * A limit was exceeded (max-incoming-payload-size, max-total-message-size, the inflated size,
	 * max-incoming-fragments). libsoup drops TCP without a word ("prejudice"); websoup tells the
	 * peer why (LIBSOUP.md difference 8, as ws and RFC 6455 §7.4.1 do): it reads nothing more,
	 * sends a Close 1009 at once, ahead of anything queued, and closes once it is written, without
	 * waiting for the reply. The signals stay libsoup's: `error`, then `closed`, no `closing`.
	 */
	#failLimit(error: WebsocketError): void {
		this.#receiver.stop();
		const closeWasSent = this.#closeSent;
		this.#emitErrorAndClose(error, false);
		if (closeWasSent && !this.#ioClosing) {
			// Our Close is out (or queued) already: close once it is written.
			if (this.#sender.hasQueued) {
				this.#shutdownAfterFlush = true;
			} else {
				this.#finishCloseHandshake();
			}
		}
	}

	/** Reads unless a lagging iterator, the bytes waiting to be sent or an extension at work holds the stream, or it is closing. */
	#updateFlow(): void {
		if (this.#ioClosing) {
			return;
		}

		if (this.#pausedForIterator || this.#pausedForWrites || this.#receiver.busy) {
			this.#stream.pause();
		} else {
			this.#stream.resume();
		}
	}

	#receivePong(payload: Buffer): void {
		const roundTrip = this.#pings === null ? -1 : this.#pings.answer(payload);
		if (roundTrip >= 0 && roundTrip !== this.getProperty('latency')) {
			this.setPropertyValue(properties.latency, roundTrip);
			this.notify('latency');
		}

		if (payload.length > KEEPALIVE_PREFIX.length && payload.toString('latin1', 0, KEEPALIVE_PREFIX.length) === KEEPALIVE_PREFIX) {
			// RFC 6455 §5.5.3: a peer may answer only the latest Ping; the Pong of ping n answers the
			// earlier ones too (they were sent, and read, before it). The map is in sending order.
			const key = payload.toString('latin1');
			const timers = this.#pongTimers;
			if (timers === null || !timers.has(key)) {
				debug('unknown keepalive pong %s', key);
			} else {
				for (const [sent, timer] of timers) {
					timer.clear();
					timers.delete(sent);
					if (sent === key) {
						break;
					}
				}
			}
		}

		this.emit('pong', payload);
	}

	#receiveClose(payload: Buffer): void {
		this.#closeReceived = true;
		let code: number = CloseCode.NO_STATUS;
		let reason: string | null = null;
		if (payload.length === 1) {
			// RFC 6455 §5.5.1: the body, if any, MUST start with a 2-byte code.
			this.#emitErrorAndClose(protocolError(this.#peer(), 'WS_ERR_INVALID_CLOSE_PAYLOAD'), false);
			return;
		}

		if (payload.length >= 2) {
			code = payload.readUInt16BE(0);
			// RFC 6455 §7.4: 1005, 1006 and 1015 MUST NOT be set in a Close frame; unassigned codes are invalid.
			if (!isValidReceivedCloseCode(code)) {
				this.#emitErrorAndClose(protocolError(this.#peer(), 'WS_ERR_INVALID_CLOSE_CODE'), false);
				return;
			}

			const data = payload.subarray(2);
			// RFC 6455 §5.5.1: the reason is UTF-8 encoded data; §8.1: invalid UTF-8 is invalid data
			// (1007). libsoup answers 1002 (LIBSOUP.md difference 9).
			if (!isValidUtf8(data)) {
				this.#emitErrorAndClose(badDataError(this.#peer(), 'WS_ERR_INVALID_CLOSE_REASON'), false);
				return;
			}

			// libsoup keeps a reason only when the payload has more than the code.
			reason = data.length > 0 ? data.toString('utf8') : null;
		}

		this.#peerClose = {code, reason};
		// (The receiver reads nothing after a Close frame: RFC 6455 §5.5.1, nothing may follow it.)
		if (this.#closeSent) {
			// We started the close: the handshake is complete once our Close is out, which may
			// still wait in the queue behind frames sent before it.
			if (this.#sender.hasQueued) {
				this.#shutdownAfterFlush = true;
				return;
			}

			this.#finishCloseHandshake();
			return;
		}

		// Echo the peer's code and reason; an empty Close is answered with 1000.
		this.#closeConnection(code === CloseCode.NO_STATUS ? CloseCode.NORMAL : code, reason);
	}

	/** Both Close frames are exchanged: the client half-closes and waits for FIN, the server closes. */
	#finishCloseHandshake(): void {
		this.#shutdownAfterFlush = false;
		this.#shutdownWrite();
		if (this.#type === WebsocketConnectionType.SERVER) {
			this.#closeIoStream(false);
		}
	}

	/** @internal The peer ended its side of the stream (FIN). */
	[kStreamEnd](): void {
		if (this.#receiver.busy && !this.#ioClosing) {
			// Frames received before the end still wait for an asynchronous extension: they come first.
			debug('end of stream, after the frames still being processed');
			this.#endPending = true;
			return;
		}

		debug('end of stream');
		if (!(this.#closeSent && this.#closeReceived)) {
			// libsoup: the peer went away without the close handshake; no error, just closed.
			this.#dirtyClose = true;
		}

		this.#closeIoStream(false);
	}

	/** @internal The stream failed. */
	[kStreamError](error: Error): void {
		if (this.#ioClosing && this.#closeSent && this.#closeReceived) {
			// The close handshake is complete and the stream only drained (LIBSOUP.md difference 10),
			// where libsoup would have closed it already: a reset now is no failure of the connection.
			debug('stream error while draining, ignored: %s', error.message);
			this.#closeIoStream(true);
			return;
		}

		debug('stream error: %s', error.message);
		this.#emitErrorAndClose(error, true);
	}

	/** @internal The immediate after construction: reading begins (see the constructor). */
	[kStartReading](): void {
		this.#updateFlow();
	}

	/** @internal Our side of the stream ended (the drain after the close handshake). */
	[kStreamFinish](): void {
		this.#destroyWhenDrained();
	}

	/** @internal The stream closed. */
	[kStreamClose](): void {
		if (this.#ioClosed) {
			return;
		}

		this.#sender.refuse();
		if (this.#receiver.busy && !this.#ioClosing) {
			// The peer's last frames still wait for an extension: they are delivered before `closed`.
			this.#closePending = true;
			return;
		}

		this.#ioClosing = true;
		this.#ioClosed = true;
		this.#stopTimers();
		this.#clearCloseTimer();
		this.#receiver.stop();
		this.#sender.clear();
		this.#updateState();
		const hook = this[kClosedHook];
		if (hook !== null) {
			this[kClosedHook] = null;
			hook(this);
		}

		this.emit('closed');
		this.#closeInfo = {
			code: this.getCloseCode(),
			reason: this.getCloseData(),
			wasClean: this.#closeSent && this.#closeReceived && !this.#dirtyClose,
			error: this.#error,
		};
		this.#closed?.resolve(this.#closeInfo);
		if (closeChannel.hasSubscribers) {
			const close: WebsocketCloseMessage = {connection: this, ...this.#closeInfo};
			closeChannel.publish(close);
		}
	}

	// --- Closing ---------------------------------------------------------------------------------

	#side(): 'client' | 'server' {
		return this.#type === WebsocketConnectionType.SERVER ? 'server' : 'client';
	}

	/** The other side, as errors name it. */
	#peer(): Peer {
		return this.#type === WebsocketConnectionType.SERVER ? 'client' : 'server';
	}

	/** libsoup's close_connection: a local close() or the echo of the peer's Close. */
	#closeConnection(code: number, reason: string | null): void {
		if (this.#closeSent || this.#closeStarted) {
			return;
		}

		this.#closeStarted = true;
		this.emit('closing');
		if (this.#ioClosing) {
			return;
		}

		this.#sendClose(this.#closeReceived ? QueueFlags.LAST : QueueFlags.NORMAL, code, reason);
		this.#armCloseTimer();
	}

	#sendClose(flags: number, code: number, reason: string | null): void {
		let payload: Buffer;
		try {
			payload = encodeClosePayload(code === CloseCode.NO_STATUS ? null : code, reason ?? undefined);
		} catch {
			// An echoed reason cannot be too long (it came in a ≤125-byte frame); be safe anyway.
			payload = encodeClosePayload(code === CloseCode.NO_STATUS ? null : code);
		}

		this.#closeSent = true;
		this.#receiver.closeSent();
		this.#stopKeepalive();
		this.#clearPongTimers();
		this.#pings?.clearTimers();
		this.#sender.sendControl(Opcode.CLOSE, payload, flags);
		this.#updateState();
	}

	#armCloseTimer(): void {
		if (this.#closeTimer === undefined && !this.#ioClosing) {
			this.#startCloseTimer();
		}
	}

	#startCloseTimer(): void {
		this.#closeTimer = setTimeout(() => {
			this.#closeTimedOut();
		}, this.getProperty('close-timeout'));
	}

	/**
	 * The close timeout: one timer for both waits it bounds. Before the stream is closing, the close
	 * handshake took too long; after, the drain until the peer's FIN did ({@link WebsocketConnection.#closeIoStream}).
	 */
	#closeTimedOut(): void {
		this.#closeTimer = undefined;
		if (this.#ioClosing) {
			this.#stream.destroy();
			return;
		}

		debug('close timeout');
		this.#dirtyClose = !(this.#closeSent && this.#closeReceived) || this.#dirtyClose;
		this.#closeIoStream(true);
	}

	#clearCloseTimer(): void {
		clearTimeout(this.#closeTimer);
		this.#closeTimer = undefined;
	}

	/**
	 * The one place errors go: libsoup's emit_error_and_close. `prejudice` closes the stream at
	 * once, without a Close frame (I/O errors, the payload limits).
	 */
	#emitErrorAndClose(error: Error, prejudice: boolean): void {
		if (this.#ioClosed) {
			debug('already closed, ignoring error: %s', error.message);
			return;
		}

		this.#dirtyClose = true;
		this.#receiver.discardData();
		if (this.#errorEmitted) {
			debug('error already reported, ignoring: %s', error.message);
		} else {
			this.#errorEmitted = true;
			this.#error = error;
			this.emit('error', error);
			if (errorChannel.hasSubscribers) {
				const report: WebsocketErrorMessage = {connection: this, error};
				errorChannel.publish(report);
			}
		}

		if (prejudice) {
			this.#closeIoStream(true);
			return;
		}

		if (this.#closeSent || this.#ioClosing) {
			debug('already closing, not sending a Close frame');
			return;
		}

		// Protocol errors close with their own code, I/O errors with 1001 (libsoup).
		const code = error instanceof WebsocketError ? error.code : CloseCode.GOING_AWAY;
		this.#sendClose(QueueFlags.URGENT | QueueFlags.LAST, code, null);
		this.#armCloseTimer();
	}

	/** The client's half of the closing handshake: shutdown(SHUT_WR), then wait for the server's FIN. */
	#shutdownWrite(): void {
		this.#sender.end();
		this.#armCloseTimer();
	}

	/**
	 * libsoup's close_io_stream: stop everything and close the stream; `closed` follows from its
	 * 'close' event. `now` destroys the stream at once (errors, limits, the close timeout).
	 * Otherwise our side is half-closed and the stream drained — read and discarded — until the
	 * peer's FIN, bounded by the close timeout: destroying a socket with unread bytes makes the
	 * kernel answer with a reset, and a reset discards what the peer has not read yet, our last
	 * frames among them (LIBSOUP.md difference 10).
	 */
	#closeIoStream(now: boolean): void {
		const stream = this.#stream;
		if (!this.#ioClosing) {
			this.#ioClosing = true;
			this.#stopTimers();
			this.#receiver.stop();
			this.#sender.refuse();
			this.#updateState();
			if (stream.destroyed) {
				this.#clearCloseTimer();
				this.#sender.clear();
				queueMicrotask(() => {
					this[kStreamClose]();
				});
				return;
			}

			if (now) {
				this.#clearCloseTimer();
			} else {
				stream.on('finish', onStreamFinish);
				this.#armCloseTimerForDestroy();
				// The frames still queued (a Close behind an outgoing deflate, say) go first: the
				// peer's FIN only ends its side. Then our side ends.
				this.#sender.endWhenFlushed();
				// Read on, discarding (the decoder is stopped), until the peer's FIN.
				stream.resume();
			}
		}

		if (now) {
			this.#sender.clear();
			if (!stream.destroyed) {
				stream.destroy();
			}

			return;
		}

		this.#destroyWhenDrained();
	}

	/** Destroys the stream once our side is flushed and the peer's has ended. */
	#destroyWhenDrained(): void {
		const stream = this.#stream;
		if (!stream.destroyed && stream.writableFinished && (stream.readableEnded || !stream.readable)) {
			stream.destroy();
		}
	}

	/** The drain's bound: the close timer restarted (`close-timeout` is construct-only, so its length is the same). */
	#armCloseTimerForDestroy(): void {
		if (this.#closeTimer === undefined) {
			this.#startCloseTimer();
		} else {
			this.#closeTimer.refresh();
		}
	}

	// --- Writing ---------------------------------------------------------------------------------

	#canSend(method: string, written: WebsocketWrittenCallback | null = null): boolean {
		// libsoup: still OPEN inside a `closing` handler, before the Close frame is queued, so what
		// such a handler sends goes out ahead of the Close (test message-after-closing).
		if (this.getState() === WebsocketState.OPEN) {
			return true;
		}

		notWritten(written);
		debug('%s: not open, dropping', method);
		if (!this.#warnedSendAfterClose) {
			this.#warnedSendAfterClose = true;
			process.emitWarning(`WebsocketConnection.${method}() while the connection is not open: data dropped`, {
				type: 'WebsocketWarning',
				code: 'WEBSOCKET_SEND_AFTER_CLOSE',
			});
		}

		return false;
	}

	/** @internal The frame queued LAST is written: the server ends and drains the stream, the client half-closes. */
	[kLastFrameWritten](): void {
		if (this.#type === WebsocketConnectionType.SERVER) {
			this.#closeIoStream(false);
		} else {
			this.#shutdownWrite();
		}
	}

	/** @internal The sender flushed its queue as far as it could. */
	[kQueueFlushed](): void {
		if (this.#shutdownAfterFlush && !this.#ioClosing && !this.#sender.hasQueued) {
			this.#finishCloseHandshake();
		}

		if (this.#pausedForWrites) {
			this.#checkBuffered();
		}
	}

	/** @internal An outgoing extension failed on a message. */
	[kSendFailed](error: unknown): void {
		this.#fail(extensionError(error));
	}

	// --- Keepalive -------------------------------------------------------------------------------

	#startKeepalive(): void {
		this.#stopKeepalive();
		const seconds = this.getProperty('keepalive-interval');
		if (seconds > 0 && !this.#closeSent && !this.#ioClosing) {
			this.#keepaliveTimer = new LongTimer(
				() => {
					this.#sendKeepalive();
				},
				seconds * 1000,
				true,
			);
		}
	}

	#sendKeepalive(): void {
		if (this.getState() !== WebsocketState.OPEN) {
			return;
		}

		const key = `${KEEPALIVE_PREFIX}${++this.#keepaliveCount}`;
		const timeout = this.getProperty('keepalive-pong-timeout');
		if (timeout > 0) {
			(this.#pongTimers ??= new Map()).set(
				key,
				new LongTimer(() => {
					this.#pongTimers?.delete(key);
					this.#emitErrorAndClose(pongTimeoutError(timeout), false);
				}, timeout * 1000),
			);
		}

		const payload = Buffer.from(key, 'latin1');
		(this.#pings ??= new PingTracker()).add(payload, null, null);
		this.#sender.sendControl(Opcode.PING, payload, QueueFlags.NORMAL);
	}

	/** A `ping()` got no pong within keepalive-pong-timeout: the peer is gone, as for a keepalive ping. */
	#pingTimedOut(settle: PingSettle, timeout: number): void {
		if (this.#pings?.remove(settle) !== true) {
			return;
		}

		const error = pongTimeoutError(timeout);
		settle.reject(error);
		this.#emitErrorAndClose(error, false);
	}

	#startIdleTimer(): void {
		this.#stopIdleTimer();
		const seconds = this.getProperty('idle-timeout');
		if (seconds > 0 && !this.#closeSent && !this.#ioClosing) {
			// Kept by the receiver, which touches it at each data frame.
			this.#receiver.idleTimer = new IdleTimer(() => {
				this.#stopIdleTimer();
				debug('idle timeout');
				if (this.getState() === WebsocketState.OPEN) {
					this.close(CloseCode.GOING_AWAY, 'idle timeout');
				}
			}, seconds * 1000);
		}
	}

	#stopIdleTimer(): void {
		this.#receiver.idleTimer?.clear();
		this.#receiver.idleTimer = undefined;
	}

	#stopKeepalive(): void {
		this.#keepaliveTimer?.clear();
		this.#keepaliveTimer = undefined;
	}

	#clearPongTimers(): void {
		if (this.#pongTimers === null) {
			return;
		}

		for (const timer of this.#pongTimers.values()) {
			timer.clear();
		}

		this.#pongTimers.clear();
	}

	#stopTimers(): void {
		this.#stopKeepalive();
		this.#clearPongTimers();
		this.#stopIdleTimer();
		if (this.#pings !== null && this.#pings.size > 0) {
			// No pong can be read any more.
			this.#pings.rejectAll(closedBeforePongError());
		}
	}
}

function ignore(): void {}

function checkWritten(onWritten: unknown): WebsocketWrittenCallback | null {
	if (onWritten === undefined) {
		return null;
	}

	if (typeof onWritten !== 'function') {
		throw new TypeError(`Expected \`onWritten\` to be a function, got \`${typeof onWritten}\``);
	}

	return onWritten as WebsocketWrittenCallback;
}

