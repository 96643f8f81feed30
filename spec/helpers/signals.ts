// waitForSignal: resolve with a signal's arguments, or fail after a timeout (libsoup's WAIT_UNTIL).

import type {GObject, PropertyTable, SignalArgs, SignalDefinitions, SignalName} from '../../lib/gobject/index.ts';

/**
 * Resolves with the arguments (after the emitter) of the next emission of `signal` on `object`;
 * rejects after `timeout` ms.
 */
export async function waitForSignal<T extends PropertyTable, S extends SignalDefinitions<S>, K extends SignalName<T, S>>(
	object: GObject<T, S>,
	signal: K,
	timeout = 5000,
): Promise<SignalArgs<S, K>> {
	const untyped = object as unknown as {
		connect(name: string, handler: (...args: unknown[]) => void): number;
		disconnect(id: number): void;
	};
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => {
			untyped.disconnect(id);
			reject(new Error(`timed out after ${timeout} ms waiting for '${String(signal)}'`));
		}, timeout);
		const id = untyped.connect(signal, (_self, ...args) => {
			clearTimeout(timer);
			untyped.disconnect(id);
			resolve(args as SignalArgs<S, K>);
		});
	});
}

/** Resolves once `condition()` holds, checking every turn of the event loop; rejects after `timeout` ms. */
export async function until(condition: () => boolean, timeout = 5000, what = 'condition'): Promise<void> {
	const deadline = Date.now() + timeout;
	while (!condition()) {
		if (Date.now() > deadline) {
			throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
		}

		await new Promise(resolve => {
			setImmediate(resolve);
		});
	}
}

/** Rejects after `timeout` ms unless `promise` settles first. */
export async function withTimeout<T>(promise: Promise<T>, timeout = 5000, what = 'promise'): Promise<T> {
	let timer: NodeJS.Timeout | undefined;
	try {
		return await Promise.race([
			promise,
			new Promise<never>((_resolve, reject) => {
				timer = setTimeout(() => reject(new Error(`timed out after ${timeout} ms waiting for ${what}`)), timeout);
			}),
		]);
	} finally {
		clearTimeout(timer);
	}
}
