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

/**
 * Fires once `delay` ms have passed since the last {@link IdleTimer.touch} (or since it was made).
 * A touch costs a clock read, not a timer: when the timer comes due early it waits again for
 * what is left. Backs the connection's `idle-timeout`.
 */
export class IdleTimer {
	readonly #callback: () => void;
	readonly #delay: number;
	#last = performance.now();
	#timer: LongTimer | undefined;

	/**
	 * @param callback - Called once, after `delay` ms without a touch.
	 * @param delay - Milliseconds, a positive number.
	 */
	constructor(callback: () => void, delay: number) {
		this.#callback = callback;
		this.#delay = delay;
		this.#arm(delay);
	}

	/** Whether the timer will still fire. */
	get pending(): boolean {
		return this.#timer !== undefined;
	}

	/** Activity: the delay starts again from now. */
	touch(): void {
		this.#last = performance.now();
	}

	/** Stops the timer. */
	clear(): void {
		this.#timer?.clear();
		this.#timer = undefined;
	}

	#arm(wait: number): void {
		this.#timer = new LongTimer(() => {
			this.#fire();
		}, wait);
	}

	#fire(): void {
		const left = this.#delay - (performance.now() - this.#last);
		if (left >= 1) {
			this.#arm(Math.ceil(left));
			return;
		}

		this.#timer = undefined;
		this.#callback();
	}
}
