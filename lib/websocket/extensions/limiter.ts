// A process-wide limit on concurrent zlib jobs, so many connections compressing at once queue up
// instead of crowding libuv's thread pool.

/** Runs at most `concurrency` jobs at once; the others wait in order. */
export class Limiter {
	readonly #concurrency: number;
	#running = 0;
	readonly #waiting: Array<() => void> = [];

	constructor(concurrency: number) {
		if (!Number.isInteger(concurrency) || concurrency < 1) {
			throw new RangeError(`Expected \`concurrency\` to be a positive integer, got \`${concurrency}\``);
		}

		this.#concurrency = concurrency;
	}

	/** Jobs running now. */
	get running(): number {
		return this.#running;
	}

	/** Jobs waiting for a place. */
	get pending(): number {
		return this.#waiting.length;
	}

	/** Runs `job` when a place is free; settles as it does. */
	async run<T>(job: () => Promise<T>): Promise<T> {
		if (this.#running >= this.#concurrency) {
			await new Promise<void>(resolve => {
				this.#waiting.push(resolve);
			});
		}

		this.#running++;
		try {
			return await job();
		} finally {
			this.#running--;
			this.#waiting.shift()?.();
		}
	}
}

/** Shared by every permessage-deflate extension in the process (ws uses 10 as well). */
export const zlibLimiter = new Limiter(10);
