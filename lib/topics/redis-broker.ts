// RedisBroker: hubs of many processes share topics through Redis pub/sub (sharded, Redis 7), on node-redis's @redis/client.

import {WebsocketDataType} from '../websocket/constants.ts';
import {isValidUtf8} from '../websocket/validation.ts';
import {TopicBroker} from './broker.ts';

// Builtins through process.getBuiltinModule(), not import: see docs/architecture.md, “Node's builtins”.
const {randomBytes} = process.getBuiltinModule('node:crypto');
const {debuglog} = process.getBuiltinModule('node:util');

const debug = debuglog('websocket');

/** The part of @redis/client's client that the broker uses. */
interface RedisClient {
	on(event: 'error', listener: (error: Error) => void): unknown;
	on(event: 'ready' | 'end' | 'reconnecting', listener: () => void): unknown;
	connect(): Promise<unknown>;
	readonly isReady: boolean;
	publish(channel: string, message: Buffer): Promise<number>;
	sPublish(channel: string, message: Buffer): Promise<number>;
	subscribe(channel: string, listener: (message: Buffer, channel: Buffer) => void, bufferMode: true): Promise<void>;
	sSubscribe(channel: string, listener: (message: Buffer, channel: Buffer) => void, bufferMode: true): Promise<void>;
	unsubscribe(channel: string): Promise<void>;
	sUnsubscribe(channel: string): Promise<void>;
	duplicate(options?: Record<string, unknown>): RedisClient;
	close(): Promise<void>;
	destroy(): void;
}

interface RedisModule {
	createClient(options: Record<string, unknown>): RedisClient;
}

/** The package the broker is built on: an optional peer dependency, loaded by {@link RedisBroker.connect} only. */
export const REDIS_CLIENT_PACKAGE = '@redis/client';

/** The first bytes of every message the broker publishes: "WS", then the format version. */
const MAGIC_0 = 0x57;
const MAGIC_1 = 0x53;
const VERSION = 1;
/** Bytes identifying the publishing broker, so a broker skips its own messages when Redis hands them back. */
const ORIGIN_SIZE = 16;
/** How long {@link RedisBroker.close} waits for the clients to close before it destroys them. */
const CLOSE_TIMEOUT_MS = 2000;

/** magic (2) + version (1) + type (1) + origin (16), then the payload as it is. */
const ENVELOPE_HEADER = 4 + ORIGIN_SIZE;

/** What {@link RedisBroker.connect} takes. */
export interface RedisBrokerOptions {
	/** The server, `redis://[[user]:password@]host[:port][/db]` (or `rediss://` for TLS). */
	url: string;
	/**
	 * Prepended to a topic to make its Redis channel, so several applications can share a server.
	 * @defaultValue 'websoup:'
	 */
	channelPrefix?: string | undefined;
	/**
	 * Sharded pub/sub (`SSUBSCRIBE`/`SPUBLISH`, Redis 7): a channel lives on one shard of a
	 * cluster instead of being broadcast to every node. `false` uses classic `SUBSCRIBE`/`PUBLISH`
	 * (Redis before 7).
	 * @defaultValue true
	 */
	sharded?: boolean | undefined;
	/**
	 * Milliseconds between reconnection attempts while the server is unreachable (each attempt
	 * waits `min(attempt × 50, max)`).
	 * @defaultValue 1000
	 */
	maxReconnectDelay?: number | undefined;
}

/** Loads the optional peer dependency, with an error that says what to install. */
async function loadRedis(): Promise<RedisModule> {
	let module: Partial<RedisModule> & {default?: Partial<RedisModule>};
	try {
		module = (await import(REDIS_CLIENT_PACKAGE)) as typeof module;
	} catch (error) {
		throw new Error(`RedisBroker needs the optional peer dependency ${REDIS_CLIENT_PACKAGE}: npm install ${REDIS_CLIENT_PACKAGE}`, {
			cause: error,
		});
	}

	const createClient = module.createClient ?? module.default?.createClient;
	if (typeof createClient !== 'function') {
		throw new TypeError(`Expected ${REDIS_CLIENT_PACKAGE} to export createClient()`);
	}

	return {createClient};
}

/**
 * A {@link TopicBroker} over Redis pub/sub: what a hub publishes reaches the hubs of every
 * process connected to the same Redis server. One channel per topic (`channelPrefix` + topic),
 * subscribed while a hub of this process has a subscriber to the topic; two connections to Redis
 * (one publishes, one is in subscriber mode). Binary-safe: a message travels as a 20-byte header
 * and its payload as it is.
 *
 * Guarantees: at most once. The messages of one publisher reach each subscriber in the order they
 * were published (one connection publishes, in order; Redis delivers in order). Messages published
 * while Redis is unreachable reach only the publishing process's own subscribers: they are not
 * queued (memory stays bounded), the hub emits `broker-error` once for the outage. After a
 * reconnection the client subscribes again to every channel; messages published elsewhere between
 * the loss of the connection and that new subscription are not delivered. See docs/scaling.md.
 *
 * Built on `@redis/client` (node-redis), an optional peer dependency loaded only by
 * {@link RedisBroker.connect}: `npm install @redis/client`.
 */
export class RedisBroker extends TopicBroker {
	readonly #publisher: RedisClient;
	readonly #subscriber: RedisClient;
	readonly #prefix: string;
	readonly #sharded: boolean;
	readonly #origin = randomBytes(ORIGIN_SIZE);
	readonly #listener = (message: Buffer, channel: Buffer): void => {
		this.#onMessage(message, channel);
	};

	/** An outage was reported (once per outage, not per message or reconnection attempt). */
	#outageReported = false;
	/** Messages that could not be published since the broker was made. */
	#lost = 0;

	private constructor(publisher: RedisClient, subscriber: RedisClient, prefix: string, sharded: boolean) {
		super();
		this.#publisher = publisher;
		this.#subscriber = subscriber;
		this.#prefix = prefix;
		this.#sharded = sharded;
		const onError = (error: Error): void => {
			this.#reportOutage(error);
		};
		const onReady = (): void => {
			if (this.#publisher.isReady && this.#subscriber.isReady && this.#outageReported) {
				debug('redis broker: connected again');
				this.#outageReported = false;
			}
		};
		publisher.on('error', onError);
		subscriber.on('error', onError);
		publisher.on('ready', onReady);
		subscriber.on('ready', onReady);
	}

	/**
	 * Loads `@redis/client`, connects to the server and returns the broker. Give it to a hub as
	 * its `broker`.
	 *
	 * @throws {Error} when `@redis/client` is not installed, or the server cannot be reached.
	 * @throws {TypeError} for options of the wrong type.
	 */
	static async connect(options: RedisBrokerOptions | string): Promise<RedisBroker> {
		const {url, channelPrefix = 'websoup:', sharded = true, maxReconnectDelay = 1000} =
			typeof options === 'string' ? {url: options} : options;
		if (typeof url !== 'string' || !/^rediss?:\/\//.test(url)) {
			throw new TypeError(`Expected \`url\` to be a redis:// or rediss:// URL, got \`${String(url)}\``);
		}

		if (typeof channelPrefix !== 'string') {
			throw new TypeError(`Expected \`channelPrefix\` to be a string, got \`${typeof channelPrefix}\``);
		}

		if (!Number.isInteger(maxReconnectDelay) || maxReconnectDelay < 1) {
			throw new TypeError(`Expected \`maxReconnectDelay\` to be a positive integer, got \`${String(maxReconnectDelay)}\``);
		}

		const redis = await loadRedis();
		let established = false;
		const publisher = redis.createClient({
			url,
			// Nothing waits for a server that is down: a publish fails at once (bounded memory).
			disableOfflineQueue: true,
			socket: {
				// The first connection is tried once (connect() reports its failure); once up, a lost one is retried for ever.
				reconnectStrategy: (retries: number, cause: Error) =>
					established ? Math.min((retries + 1) * 50, maxReconnectDelay) : cause,
			},
		});
		const subscriber = publisher.duplicate({disableOfflineQueue: false});
		// Until the broker listens, a failed first connection is what connect() reports.
		let firstError: Error | null = null;
		const early = (error: Error): void => {
			firstError ??= error;
		};
		publisher.on('error', early);
		subscriber.on('error', early);
		try {
			await Promise.all([publisher.connect(), subscriber.connect()]);
			established = true;
		} catch (error) {
			publisher.destroy();
			subscriber.destroy();
			throw new Error(`RedisBroker: cannot connect to ${url}: ${(firstError ?? (error as Error)).message}`, {cause: error});
		}

		return new RedisBroker(publisher, subscriber, channelPrefix, sharded);
	}

	/** Whether both connections to Redis are up. */
	get isConnected(): boolean {
		return this.#publisher.isReady && this.#subscriber.isReady;
	}

	/** Messages this broker could not hand to Redis (published during an outage). */
	get lostCount(): number {
		return this.#lost;
	}

	/** Disconnects from Redis (pending publishes are sent first). */
	override async close(): Promise<void> {
		if (this.isClosed) {
			return;
		}

		await super.close();
		// A client still trying to reconnect may never finish closing: give up on it after a while.
		let timer: NodeJS.Timeout | undefined;
		const closed = await Promise.race([
			Promise.allSettled([this.#publisher.close(), this.#subscriber.close()]).then(() => true),
			new Promise<false>(resolve => {
				timer = setTimeout(resolve, CLOSE_TIMEOUT_MS, false);
			}),
		]);
		clearTimeout(timer);
		if (!closed) {
			for (const client of [this.#publisher, this.#subscriber]) {
				try {
					client.destroy();
				} catch {
					// Already closed.
				}
			}
		}
	}

	protected override async remoteSubscribe(topic: string): Promise<void> {
		const channel = this.#prefix + topic;
		await (this.#sharded
			? this.#subscriber.sSubscribe(channel, this.#listener, true)
			: this.#subscriber.subscribe(channel, this.#listener, true));
	}

	protected override async remoteUnsubscribe(topic: string): Promise<void> {
		if (this.isClosed) {
			return;
		}

		const channel = this.#prefix + topic;
		await (this.#sharded ? this.#subscriber.sUnsubscribe(channel) : this.#subscriber.unsubscribe(channel));
	}

	protected override remotePublish(topic: string, type: WebsocketDataType, data: Buffer): void {
		const message = Buffer.allocUnsafe(ENVELOPE_HEADER + data.length);
		message[0] = MAGIC_0;
		message[1] = MAGIC_1;
		message[2] = VERSION;
		message[3] = type;
		this.#origin.copy(message, 4);
		data.copy(message, ENVELOPE_HEADER);
		const channel = this.#prefix + topic;
		const sent = this.#sharded ? this.#publisher.sPublish(channel, message) : this.#publisher.publish(channel, message);
		sent.catch((error: unknown) => {
			this.#lost++;
			this.#reportOutage(error as Error);
		});
	}

	#reportOutage(error: Error): void {
		if (this.#outageReported || this.isClosed) {
			return;
		}

		this.#outageReported = true;
		debug('redis broker: %s', error.message);
		this.failAll(error);
	}

	#onMessage(message: Buffer, channel: Buffer): void {
		if (this.isClosed) {
			return;
		}

		const name = channel.toString('utf8');
		if (!name.startsWith(this.#prefix)) {
			return;
		}

		const type = message[3];
		if (
			message.length < ENVELOPE_HEADER ||
			message[0] !== MAGIC_0 ||
			message[1] !== MAGIC_1 ||
			message[2] !== VERSION ||
			(type !== WebsocketDataType.TEXT && type !== WebsocketDataType.BINARY)
		) {
			// Someone else published on our channel: not ours to deliver.
			debug('redis broker: ignoring a message on %s that is not in websoup format', name);
			return;
		}

		if (message.compare(this.#origin, 0, ORIGIN_SIZE, 4, ENVELOPE_HEADER) === 0) {
			// Our own: the hubs of this process already had it from deliverLocal.
			return;
		}

		const data = message.subarray(ENVELOPE_HEADER);
		if (type === WebsocketDataType.TEXT && !isValidUtf8(data)) {
			debug('redis broker: ignoring a TEXT message on %s that is not UTF-8', name);
			return;
		}

		this.deliverLocal(null, name.slice(this.#prefix.length), type, data);
	}
}
