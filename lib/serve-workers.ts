// `websoup serve --workers N`: the primary of a node:cluster that runs N copies of the server on one port.

import cluster, {type Worker} from 'node:cluster';

/** What a primary sends a worker to make it shut down gracefully (close its connections with 1001, then exit). */
export const STOP_MESSAGE = 'websoup:stop';

/** Whether this process is a worker started by {@link superviseWorkers}. */
export function isServeWorker(): boolean {
	return cluster.isWorker;
}

/**
 * Runs `count` workers (this same command line, through node:cluster) that share the port the
 * first one listens on, and keeps them running: a worker that exits after it was listening is
 * replaced; one that exits before (a bad option, a port in use, Redis unreachable) stops them
 * all and the primary fails. SIGINT or SIGTERM asks every worker to shut down gracefully; a
 * second one kills them. Resolves with the exit code.
 *
 * @param log - Writes one line for the operator.
 * @param listening - The line to log once every worker listens, given the port.
 */
export async function superviseWorkers(count: number, log: (line: string) => void, listening: (port: number) => string): Promise<number> {
	const listened = new Set<Worker>();
	const running = new Set<Worker>();
	let announced = false;
	let stopping = false;
	let failed = false;

	return new Promise<number>(resolve => {
		const finishIfDone = (): void => {
			if (stopping && running.size === 0) {
				process.off('SIGINT', stop);
				process.off('SIGTERM', stop);
				resolve(failed ? 1 : 0);
			}
		};

		const start = (): void => {
			const worker = cluster.fork();
			running.add(worker);
			worker.on('listening', address => {
				listened.add(worker);
				if (announced) {
					log(`worker ${worker.process.pid} listening`);
				} else if (listened.size >= count) {
					announced = true;
					log(listening(address.port));
				}
			});
			worker.on('exit', (code, signal) => {
				running.delete(worker);
				const how = signal === null ? `code ${code}` : `signal ${signal}`;
				if (stopping) {
					finishIfDone();
				} else if (listened.has(worker)) {
					log(`worker ${worker.process.pid} exited (${how}); starting another`);
					start();
				} else {
					log(`worker ${worker.process.pid} exited (${how}) before listening; stopping`);
					failed = true;
					stop();
				}
			});
		};

		const stop = (signal?: NodeJS.Signals): void => {
			if (stopping && signal !== undefined) {
				log(`${signal} again: killing ${running.size} worker(s)`);
				for (const worker of running) {
					worker.process.kill('SIGKILL');
				}

				return;
			}

			stopping = true;
			if (signal !== undefined) {
				log(`stopping (${signal}): ${running.size} worker(s)`);
			}

			for (const worker of running) {
				if (worker.isConnected()) {
					worker.send(STOP_MESSAGE);
				} else {
					worker.process.kill('SIGTERM');
				}
			}

			finishIfDone();
		};

		process.on('SIGINT', stop);
		process.on('SIGTERM', stop);
		for (let index = 0; index < count; index++) {
			start();
		}
	});
}
