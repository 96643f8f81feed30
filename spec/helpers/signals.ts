// waitForSignal: resolve with a signal's arguments, or fail after a timeout (libsoup's WAIT_UNTIL).

import type {GObject} from '../../lib/gobject/index.ts';

type Connectable = Pick<GObject, 'connect' | 'disconnect'>;

/**
 * Resolves with the arguments (after the emitter) of the next emission of `signal` on `object`;
 * rejects after `timeout` ms.
 */
export async function waitForSignal<O extends Connectable, K extends Parameters<O['connect']>[0]>(
	object: O,
	signal: K,
	timeout = 5000,
): Promise<Parameters<Parameters<O['connect']>[1]> extends [unknown, ...infer Rest] ? Rest : never> {
	const untyped = object as unknown as {
		connect(name: string, handler: (...args: unknown[]) => void): number;
		disconnect(id: number): void;
	};
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => {
			untyped.disconnect(id);
			reject(new Error(`timed out after ${timeout} ms waiting for '${String(signal)}'`));
		}, timeout);
		const id = untyped.connect(signal as string, (_self, ...args) => {
			clearTimeout(timer);
			untyped.disconnect(id);
			resolve(args as never);
		});
	});
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
