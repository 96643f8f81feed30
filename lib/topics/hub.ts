// WebsocketHub: topics on the server side; a message is encoded once and the same bytes are queued on every subscriber.

import type {Duplex} from 'node:stream';
import {GObject} from '../gobject/object.ts';
import {ParamFlags, ParamSpec} from '../gobject/param-spec.ts';
import {SignalFlags, type SignalTable} from '../gobject/signal.ts';
import {CloseCode, WebsocketConnectionType, WebsocketDataType, WebsocketState} from '../websocket/constants.ts';
import {toBuffer} from '../websocket/buffer-util.ts';
import {kSendEncodedFrame, WebsocketConnection} from '../websocket/connection.ts';
import {encodeFrame} from '../websocket/frame.ts';
import {frameSize} from '../websocket/outgoing-queue.ts';
import {isValidUtf8} from '../websocket/validation.ts';
import {InProcessBroker, TopicBroker, type TopicReceiver} from './broker.ts';

// Builtins through process.getBuiltinModule(), not import: see docs/architecture.md, “Node's builtins”.
const {debuglog} = process.getBuiltinModule('node:util');

const debug = debuglog('websocket');

/** The default of `max-backpressure`: 1 MiB buffered for one subscriber. */
export const DEFAULT_MAX_BACKPRESSURE = 1024 * 1024;

/** What a hub does with a subscriber that has more than `max-backpressure` bytes waiting. */
export type BackpressurePolicy = 'drop' | 'close';

/** What {@link WebsocketHub.publish} takes besides the message. */
export interface PublishOptions {
	/** A connection (the sender, usually) or connections not to deliver to; other processes have no such connection. */
	except?: WebsocketConnection | Iterable<WebsocketConnection> | null | undefined;
}

const construct = ParamFlags.READWRITE | ParamFlags.CONSTRUCT;

const properties = {
	'max-backpressure': ParamSpec.uint64('max-backpressure', DEFAULT_MAX_BACKPRESSURE, {
		flags: construct,
		blurb: 'Bytes that may wait to be sent to one subscriber; a message that would go past them is not queued for it, 0 = no limit',
	}),
	'backpressure-policy': ParamSpec.value(
		'backpressure-policy',
		'drop' as BackpressurePolicy,
		value => (value === 'drop' || value === 'close' ? null : '"drop" or "close"'),
		{flags: construct, blurb: 'A subscriber past max-backpressure: "drop" the message for it, or "close" it'},
	),
	'backpressure-close-code': ParamSpec.value(
		'backpressure-close-code',
		CloseCode.TRY_AGAIN_LATER as number,
		value =>
			value === CloseCode.TRY_AGAIN_LATER ||
			value === CloseCode.POLICY_VIOLATION ||
			(Number.isInteger(value) && (value as number) >= 3000 && (value as number) <= 4999)
				? null
				: '1013, 1008 or an integer from 3000 to 4999',
		{flags: construct, blurb: 'The close code of the "close" policy: 1013 (try again later, the default) or 1008 (policy violation)'},
	),
	broker: ParamSpec.object('broker', TopicBroker, {
		flags: ParamFlags.READWRITE | ParamFlags.CONSTRUCT_ONLY,
		blurb: 'Carries messages to the hubs of other processes (null: an InProcessBroker of its own)',
	}),
};

/** The property table of {@link WebsocketHub}. */
export type WebsocketHubProperties = typeof properties;

/** The signals of {@link WebsocketHub}: name → what handlers receive after the hub. */
export interface WebsocketHubSignals {
	/**
	 * A message was not queued for `connection` because it already had more than
	 * `max-backpressure` bytes waiting (both policies; with "close" the connection is then closed).
	 */
	dropped: [connection: WebsocketConnection, topic: string, type: WebsocketDataType, data: Buffer];
	/** The broker failed: lost its server, could not publish or subscribe. Local delivery goes on. */
	'broker-error': [error: Error];
}

/** A subscriber and the publish serial it joined at: a publish under way does not reach one that joined during it. */
type Subscribers = Map<WebsocketConnection, number>;

/** A subscribed connection's topics and its `closed` handler. */
interface Membership {
	topics: Set<string>;
	closedHandler: number;
}

function checkTopic(topic: unknown): asserts topic is string {
	if (typeof topic !== 'string' || topic.length === 0) {
		throw new TypeError(`Expected \`topic\` to be a non-empty string, got \`${typeof topic === 'string' ? '""' : typeof topic}\``);
	}
}

function checkConnection(connection: unknown): asserts connection is WebsocketConnection {
	if (!(connection instanceof WebsocketConnection)) {
		throw new TypeError(`Expected \`connection\` to be a WebsocketConnection, got \`${typeof connection}\``);
	}
}

/**
 * Topics for server connections, as uWebSockets.js and Bun have them: connections subscribe to
 * topics, and {@link WebsocketHub.publish} sends a message to every subscriber of a topic. The
 * frame is encoded once; the same buffers are queued on every subscriber's connection, in its
 * send order (after what it already has queued), counted in its `bufferedAmount`.
 *
 * A subscriber that does not keep up (more than `max-backpressure` bytes waiting) does not delay
 * the others nor make the process hold more for it: the message is not queued for it and
 * `dropped` is emitted; with `backpressure-policy` "close" it is then closed with
 * `backpressure-close-code` (1013). A connection that closes leaves its topics by itself.
 *
 * With a {@link RedisBroker} as `broker`, what is published on any process reaches the
 * subscribers of every process. Connections with permessage-deflate receive hub messages
 * uncompressed (RFC 7692 §6 lets a sender leave any message uncompressed): see docs/scaling.md.
 */
export class WebsocketHub extends GObject<WebsocketHubProperties, WebsocketHubSignals> {
	static override properties = properties;
	static override signals: SignalTable<WebsocketHub, WebsocketHubSignals> = {
		dropped: {flags: SignalFlags.RUN_LAST},
		'broker-error': {flags: SignalFlags.RUN_LAST},
	};

	readonly #topics = new Map<string, Subscribers>();
	readonly #members = new Map<WebsocketConnection, Membership>();
	readonly #broker: TopicBroker;
	readonly #receiver: TopicReceiver;
	/** Broker subscriptions not yet confirmed. */
	readonly #pending = new Set<Promise<void>>();
	#maxBackpressure: number;
	#closePolicy: boolean;
	#closeCode: number;
	/** Counts publishes; a subscriber joined at serial `s` gets the publishes numbered above `s`. */
	#serial = 0;
	/**
	 * Subscribers' streams corked by the publishes of the current tick: uncorked together in a
	 * `process.nextTick`, so a burst of publishes leaves in one writev per subscriber, not one
	 * write (and system call) per message and subscriber.
	 */
	readonly #corked = new Set<Duplex>();
	readonly #uncork = (): void => {
		for (const stream of this.#corked) {
			stream.uncork();
		}

		this.#corked.clear();
	};

	/**
	 * Makes a hub. Without a `broker` it gets an {@link InProcessBroker} of its own.
	 *
	 * @throws {TypeError} for an invalid property value.
	 */
	constructor(properties?: ConstructorParameters<typeof GObject<WebsocketHubProperties>>[0]) {
		super(properties);
		this.#broker = this.getProperty('broker') ?? new InProcessBroker();
		this.#maxBackpressure = this.getProperty('max-backpressure');
		this.#closePolicy = this.getProperty('backpressure-policy') === 'close';
		this.#closeCode = this.getProperty('backpressure-close-code');
		this.#receiver = {
			deliver: (topic, type, data) => {
				this.#deliver(topic, type, data, null);
			},
			fail: error => {
				this.emit('broker-error', error);
			},
		};
		this.#broker.attach(this.#receiver);
	}

	/** The broker this hub publishes through. */
	getBroker(): TopicBroker {
		return this.#broker;
	}

	/** Bytes that may wait to be sent to one subscriber, 0 = no limit. */
	get maxBackpressure(): number {
		return this.getProperty('max-backpressure');
	}

	set maxBackpressure(bytes: number) {
		this.setProperty('max-backpressure', bytes);
	}

	/** "drop" or "close": what happens to a subscriber past `max-backpressure`. */
	get backpressurePolicy(): BackpressurePolicy {
		return this.getProperty('backpressure-policy');
	}

	set backpressurePolicy(policy: BackpressurePolicy) {
		this.setProperty('backpressure-policy', policy);
	}

	/** Settles once the broker has confirmed every subscription made so far (other processes' messages reach them). */
	get ready(): Promise<void> {
		return Promise.all(this.#pending).then(() => undefined);
	}

	/**
	 * Subscribes a server connection to `topic`. Returns `false` if it already was, or is not
	 * OPEN (then it is not subscribed).
	 *
	 * @throws {TypeError} for a connection that is not a server WebsocketConnection, or a topic that is not a non-empty string.
	 */
	subscribe(connection: WebsocketConnection, topic: string): boolean {
		checkConnection(connection);
		checkTopic(topic);
		if (connection.getConnectionType() !== WebsocketConnectionType.SERVER) {
			// A client masks every frame with a key of its own: its frames cannot be shared.
			throw new TypeError('Expected `connection` to be a server connection, got a client one');
		}

		if (connection.getState() !== WebsocketState.OPEN) {
			return false;
		}

		let subscribers = this.#topics.get(topic);
		if (subscribers?.has(connection) === true) {
			return false;
		}

		if (subscribers === undefined) {
			subscribers = new Map();
			this.#topics.set(topic, subscribers);
			const pending = this.#broker.subscribe(this.#receiver, topic);
			this.#pending.add(pending);
			void pending.finally(() => this.#pending.delete(pending));
		}

		subscribers.set(connection, this.#serial);
		let membership = this.#members.get(connection);
		if (membership === undefined) {
			membership = {
				topics: new Set(),
				closedHandler: connection.connect('closed', self => {
					this.unsubscribeAll(self);
				}),
			};
			this.#members.set(connection, membership);
		}

		membership.topics.add(topic);
		return true;
	}

	/**
	 * Unsubscribes a connection from `topic`; a publish under way does not reach it afterwards.
	 * Returns whether it was subscribed.
	 *
	 * @throws {TypeError} as {@link WebsocketHub.subscribe}.
	 */
	unsubscribe(connection: WebsocketConnection, topic: string): boolean {
		checkConnection(connection);
		checkTopic(topic);
		const subscribers = this.#topics.get(topic);
		if (subscribers === undefined || !subscribers.delete(connection)) {
			return false;
		}

		if (subscribers.size === 0) {
			this.#topics.delete(topic);
			void this.#broker.unsubscribe(this.#receiver, topic);
		}

		const membership = this.#members.get(connection)!;
		membership.topics.delete(topic);
		if (membership.topics.size === 0) {
			this.#members.delete(connection);
			connection.disconnect(membership.closedHandler);
		}

		return true;
	}

	/** Unsubscribes a connection from every topic (done by itself when the connection closes); returns how many. */
	unsubscribeAll(connection: WebsocketConnection): number {
		checkConnection(connection);
		const membership = this.#members.get(connection);
		if (membership === undefined) {
			return 0;
		}

		const topics = [...membership.topics];
		for (const topic of topics) {
			this.unsubscribe(connection, topic);
		}

		return topics.length;
	}

	/** Whether `connection` is subscribed to `topic`. */
	isSubscribed(connection: WebsocketConnection, topic: string): boolean {
		return this.#topics.get(topic)?.has(connection) === true;
	}

	/** The number of this process's connections subscribed to `topic`. */
	getSubscriberCount(topic: string): number {
		return this.#topics.get(topic)?.size ?? 0;
	}

	/** The topics with a subscriber in this process. */
	getTopics(): string[] {
		return [...this.#topics.keys()];
	}

	/** The topics `connection` is subscribed to. */
	getConnectionTopics(connection: WebsocketConnection): string[] {
		return [...(this.#members.get(connection)?.topics ?? [])];
	}

	/**
	 * Publishes a message on `topic`: the frame is encoded once and queued on every OPEN subscriber
	 * of this process (but those in `except`) that has room for it under `max-backpressure`, then
	 * handed to the broker for the hubs of other processes. The payload is not copied: do not
	 * change `data` until the subscribers' `bufferedAmount` has gone down.
	 *
	 * @returns the number of this process's connections the message was queued for.
	 * @throws {TypeError} for a topic that is not a non-empty string, an unknown type, data that is
	 * not bytes, or TEXT data that is not valid UTF-8.
	 */
	publish(topic: string, type: WebsocketDataType, data: Uint8Array | ArrayBuffer | ArrayBufferView, options: PublishOptions = {}): number {
		checkTopic(topic);
		if (type !== WebsocketDataType.TEXT && type !== WebsocketDataType.BINARY) {
			throw new TypeError(`Expected \`type\` to be WebsocketDataType.TEXT or BINARY, got \`${String(type)}\``);
		}

		const payload = toBuffer(data, 'data');
		if (type === WebsocketDataType.TEXT && !isValidUtf8(payload)) {
			throw new TypeError('Expected `data` of a TEXT message to be valid UTF-8');
		}

		const count = this.#deliver(topic, type, payload, options.except ?? null);
		this.#broker.publish(this.#receiver, topic, type, payload);
		return count;
	}

	/** Publishes a text message; see {@link WebsocketHub.publish}. */
	publishText(topic: string, text: string, options?: PublishOptions): number {
		if (typeof text !== 'string') {
			throw new TypeError(`Expected \`text\` to be a string, got \`${typeof text}\``);
		}

		return this.publish(topic, WebsocketDataType.TEXT, Buffer.from(text, 'utf8'), options);
	}

	/** Publishes a binary message; see {@link WebsocketHub.publish}. */
	publishBinary(topic: string, data: Uint8Array | ArrayBuffer | ArrayBufferView, options?: PublishOptions): number {
		return this.publish(topic, WebsocketDataType.BINARY, data, options);
	}

	/** Unsubscribes every connection and detaches from the broker (which stays open: close it yourself). */
	dispose(): void {
		for (const connection of [...this.#members.keys()]) {
			this.unsubscribeAll(connection);
		}

		this.#broker.detach(this.#receiver);
	}

	protected override setPropertyValue(spec: ParamSpec, value: unknown): void {
		super.setPropertyValue(spec, value);
		switch (spec.name) {
			case 'max-backpressure': {
				this.#maxBackpressure = value as number;
				break;
			}

			case 'backpressure-policy': {
				this.#closePolicy = value === 'close';
				break;
			}

			case 'backpressure-close-code': {
				this.#closeCode = value as number;
				break;
			}

			default:
		}
	}

	/** Queues the frame on this process's subscribers; returns how many. */
	#deliver(topic: string, type: WebsocketDataType, payload: Buffer, except: PublishOptions['except']): number {
		const subscribers = this.#topics.get(topic);
		if (subscribers === undefined) {
			return 0;
		}

		// One frame for all: a server does not mask (RFC 6455 §5.1), so the bytes are the same for each.
		const frame = encodeFrame(type, payload);
		const size = frameSize(frame);
		const serial = ++this.#serial;
		const max = this.#maxBackpressure;
		const skip = except instanceof WebsocketConnection ? except : null;
		const skipSet =
			except === null || except === undefined || skip !== null ? null : new Set(except as Iterable<WebsocketConnection>);
		let count = 0;
		// Deleting from a Map while iterating it is safe: a connection unsubscribed (or closed) by a
		// handler during this loop is not visited; one subscribed during it joined at this serial.
		for (const [connection, joined] of subscribers) {
			if (joined >= serial || connection === skip || skipSet?.has(connection) === true) {
				continue;
			}

			if (max > 0 && connection.bufferedAmount + size > max) {
				this.#overflow(connection, topic, type, payload);
				continue;
			}

			const stream = connection.getIoStream();
			if (!this.#corked.has(stream)) {
				if (this.#corked.size === 0) {
					process.nextTick(this.#uncork);
				}

				stream.cork();
				this.#corked.add(stream);
			}

			if (connection[kSendEncodedFrame](frame)) {
				count++;
			}
		}

		return count;
	}

	#overflow(connection: WebsocketConnection, topic: string, type: WebsocketDataType, payload: Buffer): void {
		if (connection.getState() !== WebsocketState.OPEN) {
			return;
		}

		debug('hub: %d bytes wait for a subscriber of %s: message dropped', connection.bufferedAmount, topic);
		this.emit('dropped', connection, topic, type, payload);
		if (this.#closePolicy && connection.getState() === WebsocketState.OPEN) {
			connection.close(this.#closeCode, 'subscriber too slow');
		}
	}
}
