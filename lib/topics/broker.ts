// Topic brokers: how hubs in one process, or in many, pass published messages to each other.

import type {WebsocketDataType} from '../websocket/constants.ts';

/** What a broker delivers to: a {@link WebsocketHub} attached to it. */
export interface TopicReceiver {
	/** A message published by another receiver (another hub, here or in another process) on a topic this one subscribed to. */
	deliver(topic: string, type: WebsocketDataType, data: Buffer): void;
	/** The broker failed (lost its server, could not publish or subscribe); it goes on and recovers where it can. */
	fail(error: Error): void;
}

/**
 * Passes the messages published on one hub to the other hubs attached to the same broker, and
 * to those of other processes for a broker that has a server ({@link RedisBroker}).
 *
 * The base class keeps the receivers and their topics and delivers to the receivers of this
 * process; a subclass that reaches other processes overrides the three `remote*` hooks. A hub
 * delivers to its own connections itself: a broker never hands a receiver its own message back.
 *
 * Delivery is at most once: a message reaches each subscribed receiver once or, when the broker
 * cannot carry it (its server is down, a subscription is not in place yet), not at all; the
 * messages of one publisher arrive in the order they were published.
 */
export abstract class TopicBroker {
	/** Each receiver's topics. */
	readonly #receivers = new Map<TopicReceiver, Set<string>>();
	/** Each topic's receivers, for delivery. */
	readonly #topics = new Map<string, Set<TopicReceiver>>();
	/** Each topic's remote subscription, settled once the server confirmed it. */
	readonly #subscribing = new Map<string, Promise<void>>();
	#closed = false;

	/** Whether {@link TopicBroker.close} was called. */
	get isClosed(): boolean {
		return this.#closed;
	}

	/** Attaches a receiver (a hub does so when it is made). */
	attach(receiver: TopicReceiver): void {
		if (!this.#receivers.has(receiver)) {
			this.#receivers.set(receiver, new Set());
		}
	}

	/** Detaches a receiver and drops its topics. */
	detach(receiver: TopicReceiver): void {
		const topics = this.#receivers.get(receiver);
		if (topics === undefined) {
			return;
		}

		for (const topic of [...topics]) {
			void this.unsubscribe(receiver, topic);
		}

		this.#receivers.delete(receiver);
	}

	/**
	 * Subscribes `receiver` to `topic`. Resolves once messages published anywhere on the topic
	 * reach it (at once within a process; for a broker with a server, once the server confirmed).
	 * Never rejects: a failure goes to the receiver's `fail`, and the broker retries as it can.
	 */
	async subscribe(receiver: TopicReceiver, topic: string): Promise<void> {
		const topics = this.#receivers.get(receiver);
		if (topics === undefined || topics.has(topic) || this.#closed) {
			return;
		}

		topics.add(topic);
		let receivers = this.#topics.get(topic);
		if (receivers === undefined) {
			receivers = new Set();
			this.#topics.set(topic, receivers);
			this.#subscribing.set(topic, this.remoteSubscribe(topic));
		}

		receivers.add(receiver);
		try {
			await this.#subscribing.get(topic);
		} catch (error) {
			receiver.fail(error as Error);
		}
	}

	/** Unsubscribes `receiver` from `topic`; never rejects (a failure goes to the receiver's `fail`). */
	async unsubscribe(receiver: TopicReceiver, topic: string): Promise<void> {
		const topics = this.#receivers.get(receiver);
		if (topics === undefined || !topics.delete(topic)) {
			return;
		}

		const receivers = this.#topics.get(topic);
		receivers?.delete(receiver);
		if (receivers !== undefined && receivers.size === 0) {
			this.#topics.delete(topic);
			this.#subscribing.delete(topic);
			try {
				await this.remoteUnsubscribe(topic);
			} catch (error) {
				receiver.fail(error as Error);
			}
		}
	}

	/**
	 * Publishes a message from `origin`: delivered here to every other receiver subscribed to the
	 * topic, at once, and handed to {@link TopicBroker.remotePublish} for the other processes.
	 */
	publish(origin: TopicReceiver, topic: string, type: WebsocketDataType, data: Buffer): void {
		if (this.#closed) {
			return;
		}

		this.deliverLocal(origin, topic, type, data);
		try {
			this.remotePublish(topic, type, data);
		} catch (error) {
			origin.fail(error as Error);
		}
	}

	/** Closes the broker: no more delivery; a broker with a server disconnects from it. */
	async close(): Promise<void> {
		this.#closed = true;
	}

	/** Whether some receiver of this process is subscribed to `topic`. */
	protected hasLocalSubscribers(topic: string): boolean {
		return this.#topics.has(topic);
	}

	/** The topics some receiver of this process is subscribed to. */
	protected localTopics(): IterableIterator<string> {
		return this.#topics.keys();
	}

	/** Delivers to the receivers of this process subscribed to `topic`, except `origin` (`null`: to all). */
	protected deliverLocal(origin: TopicReceiver | null, topic: string, type: WebsocketDataType, data: Buffer): void {
		const receivers = this.#topics.get(topic);
		if (receivers === undefined) {
			return;
		}

		for (const receiver of receivers) {
			if (receiver !== origin) {
				receiver.deliver(topic, type, data);
			}
		}
	}

	/** Reports a failure to every receiver. */
	protected failAll(error: Error): void {
		for (const receiver of this.#receivers.keys()) {
			receiver.fail(error);
		}
	}

	/** The first receiver of this process subscribed to `topic`: subscribe the other processes' messages to it. */
	protected abstract remoteSubscribe(topic: string): Promise<void>;
	/** The last receiver of this process left `topic`. */
	protected abstract remoteUnsubscribe(topic: string): Promise<void>;
	/** Carry a message to the other processes (synchronously queued, in order). */
	protected abstract remotePublish(topic: string, type: WebsocketDataType, data: Buffer): void;
}

/**
 * The default broker: hubs attached to the same one pass messages to each other within the
 * process (each hub made without a broker gets one of its own, which has nothing to pass on).
 * Delivery is synchronous and exactly once.
 */
export class InProcessBroker extends TopicBroker {
	protected override async remoteSubscribe(): Promise<void> {}

	protected override async remoteUnsubscribe(): Promise<void> {}

	protected override remotePublish(): void {}
}
