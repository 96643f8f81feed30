// Timers of any length: Node's setTimeout and setInterval fire after 1 ms when asked for more than 2^31 - 1 ms.

/** The longest delay Node's timers honour (about 24.8 days); longer ones are chained from steps of this. */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

/**
 * A timeout (or, with `repeat`, an interval) of any length in milliseconds: a delay beyond
 * {@link MAX_TIMER_DELAY} is waited in several steps, so `keepalive-interval` and
 * `keepalive-pong-timeout` mean what they say across their whole range.
 */
export class LongTimer {
	readonly #callback: () => void;
	readonly #delay: number;
	readonly #repeat: boolean;
	readonly #step: number;
	#remaining = 0;
	#handle: NodeJS.Timeout | undefined;

	/**
	 * @param callback - Called when the delay has passed (each time, with `repeat`).
	 * @param delay - Milliseconds, a non-negative number.
	 * @param repeat - Start again after each call, as setInterval.
	 * @param step - The longest single wait; only tests change it.
	 */
	constructor(callback: () => void, delay: number, repeat = false, step = MAX_TIMER_DELAY) {
		this.#callback = callback;
		this.#delay = delay;
		this.#repeat = repeat;
		this.#step = step;
		this.#remaining = delay;
		this.#arm();
	}

	/** Whether the timer will still fire. */
	get pending(): boolean {
		return this.#handle !== undefined;
	}

	/** Stops the timer. */
	clear(): void {
		clearTimeout(this.#handle);
		this.#handle = undefined;
	}

	#arm(): void {
		const wait = Math.min(this.#remaining, this.#step);
		this.#remaining -= wait;
		this.#handle = setTimeout(() => {
			this.#fire();
		}, wait);
	}

	#fire(): void {
		if (this.#remaining > 0) {
			this.#arm();
			return;
		}

		if (this.#repeat) {
			this.#remaining = this.#delay;
			this.#arm();
		} else {
			this.#handle = undefined;
		}

		this.#callback();
	}
}
