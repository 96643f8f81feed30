// Client reconnect: an async iterable of connections, a new one after each loss, with full-jitter exponential backoff.

import {CloseCode} from '../websocket/constants.ts';
import type {WebsocketCloseInfo, WebsocketConnection} from '../websocket/connection.ts';
import {WebsocketError} from '../websocket/errors.ts';
import {Message} from '../http/message.ts';
import {websocketConnect, type WebsocketConnectOptions} from './client.ts';
import {validateConnectionOptions} from './connection-options.ts';

// Builtins through process.getBuiltinModule(), not import: see docs/architecture.md, “Node's builtins”.
const {debuglog} = process.getBuiltinModule('node:util');

const debug = debuglog('websocket');

/** The backoff of {@link websocketReconnect}, in milliseconds. */
export interface WebsocketBackoffOptions {
	/** The bound of the first wait. @defaultValue 1000 */
	initial?: number | undefined;
	/** Each failed attempt in a row multiplies the bound by this (at least 1). @defaultValue 2 */
	factor?: number | undefined;
	/** The bound never grows past this. @defaultValue 30000 */
	maximum?: number | undefined;
}

/** What {@link WebsocketReconnectOptions.onRetry} is told before each wait. */
export interface WebsocketRetryEvent {
	/** 1 for the first attempt after a loss or failure, counting failed attempts in a row. */
	attempt: number;
	/** Milliseconds until the attempt. */
	delay: number;
	/** Why: the handshake's error, or `null` when a connection was lost. */
	error: Error | null;
	/** Why: how the lost connection closed, or `null` when a handshake failed. */
	close: WebsocketCloseInfo | null;
}

/** Options of {@link websocketReconnect}: those of {@link websocketConnect} (used for every attempt), plus the backoff. */
export interface WebsocketReconnectOptions extends WebsocketConnectOptions {
	/** Stops the iteration: the handshake or wait under way ends, the connection open is closed with 1000. */
	signal?: AbortSignal | undefined;
	backoff?: WebsocketBackoffOptions | undefined;
	/** Called before each wait, for logging; what it throws is ignored. */
	onRetry?: ((event: WebsocketRetryEvent) => void) | undefined;
}

/** The close codes that mean "try again" (1006 also stands for a close without a Close frame, code 0). */
export const RETRY_CLOSE_CODES: ReadonlySet<number> = new Set([
	CloseCode.GOING_AWAY,
	CloseCode.ABNORMAL,
	CloseCode.SERVER_ERROR,
	CloseCode.SERVICE_RESTART,
	CloseCode.TRY_AGAIN_LATER,
]);

const DEFAULT_BACKOFF = {initial: 1000, factor: 2, maximum: 30_000} as const;

/** A backoff with every value given. */
export interface WebsocketBackoff {
	readonly initial: number;
	readonly factor: number;
	readonly maximum: number;
}

/** Certificate and TLS verification failures: retrying does not change the certificate. */
const TLS_FAILURE = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL/;

/**
 * The wait before attempt `n` (0 for the first after a loss): "full jitter", a uniformly random
 * time between 0 and `min(maximum, initial × factor^n)`, so clients that lost the same server
 * come back spread out rather than together.
 */
export function backoffDelay(n: number, backoff: WebsocketBackoff, random: () => number = Math.random): number {
	const bound = Math.min(backoff.maximum, backoff.initial * backoff.factor ** n);
	return Math.floor(random() * bound);
}

/**
 * Whether a failed handshake is worth another attempt: network failures (refused, reset, timed out,
 * closed before the response), and 5xx responses; not 4xx, a bad 101, a TLS verification failure, or misuse.
 */
export function isRetryableHandshakeError(error: unknown, msg: Message): boolean {
	if (error instanceof WebsocketError) {
		switch (error.reason) {
			case 'WS_ERR_UNEXPECTED_RESPONSE': {
				return msg.statusCode >= 500;
			}

			case 'WS_ERR_HANDSHAKE_TIMEOUT':
			case 'WS_ERR_CONNECTION_CLOSED': {
				return true;
			}

			default: {
				return false;
			}
		}
	}

	if (error instanceof TypeError || !(error instanceof Error)) {
		return false;
	}

	const code = (error as NodeJS.ErrnoException).code ?? '';
	return !TLS_FAILURE.test(code);
}

/**
 * Whether a lost connection is worth another: not when this side started the close, nor after
 * 1000 or 1008 or any code outside {@link RETRY_CLOSE_CODES}; yes after 1001, 1006 (or no Close
 * at all), 1011, 1012, 1013, a transport error, or the keepalive pong timeout.
 */
export function isRetryableClose(info: WebsocketCloseInfo, closedLocally: boolean): boolean {
	if (closedLocally) {
		return false;
	}

	if (info.error !== null) {
		return info.error instanceof WebsocketError ? info.error.reason === 'WS_ERR_PONG_TIMEOUT' : true;
	}

	return RETRY_CLOSE_CODES.has(info.code === 0 ? CloseCode.ABNORMAL : info.code);
}

function checkBackoff(backoff: WebsocketBackoffOptions | undefined): WebsocketBackoff {
	if (backoff !== undefined && (backoff === null || typeof backoff !== 'object')) {
		throw new TypeError(`Expected \`backoff\` to be an object, got \`${String(backoff)}\``);
	}

	const result = {
		initial: backoff?.initial ?? DEFAULT_BACKOFF.initial,
		factor: backoff?.factor ?? DEFAULT_BACKOFF.factor,
		maximum: backoff?.maximum ?? DEFAULT_BACKOFF.maximum,
	};
	for (const [name, value, min] of [
		['initial', result.initial, 0],
		['factor', result.factor, 1],
		['maximum', result.maximum, 0],
	] as const) {
		if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > 2_147_483_647) {
			throw new TypeError(`Expected \`backoff.${name}\` to be a number from ${min} to 2147483647, got \`${String(value)}\``);
		}
	}

	if (result.maximum < result.initial) {
		throw new RangeError(`Expected \`backoff.maximum\` to be at least \`backoff.initial\` (${result.initial}), got \`${result.maximum}\``);
	}

	return result;
}

/** Waits `ms`; resolves `false` at once when `signal` aborts. */
async function sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
	if (signal?.aborted) {
		return false;
	}

	return new Promise(resolve => {
		const onAbort = (): void => {
			clearTimeout(timer);
			resolve(false);
		};

		const timer = setTimeout(() => {
			signal?.removeEventListener('abort', onAbort);
			resolve(true);
		}, ms);
		signal?.addEventListener('abort', onAbort, {once: true});
	});
}

/**
 * Connects, and connects again after each loss: an async iterable of connections, for clients
 * that must stay connected. Each attempt is a {@link websocketConnect} with the same arguments.
 *
 * ```ts
 * for await (const connection of websocketReconnect('ws://127.0.0.1:8080/ws')) {
 *   connection.connect('message', (_self, _type, data) => console.log(data.toString()));
 * }
 * ```
 *
 * The first attempt starts at once. Once a connection is yielded, asking for the next waits until
 * it is CLOSED, then decides with {@link isRetryableClose}; a failed handshake is retried when
 * {@link isRetryableHandshakeError} says so and thrown out of the loop otherwise. Before each new
 * attempt it waits a random time between 0 and `initial × factor^n` ms (capped at `maximum`), `n`
 * counting the failed attempts since the last connection. It never gives up on its own; it stops
 * when `signal` aborts, when the loop is left (`break`: the connection last yielded stays the
 * caller's), after a close that means "do not come back", or when this side closed the connection.
 *
 * @param url - A `ws:`, `wss:`, `http:` or `https:` URI.
 * @param origin - The `Origin` to send, or `null`.
 * @param protocols - The subprotocols to offer, or `null`.
 * @param options - {@link websocketConnect}'s options, `backoff` and `onRetry`.
 * @throws {TypeError} at once for an invalid URL or option.
 */
export function websocketReconnect(
	url: string | URL,
	origin: string | null = null,
	protocols: readonly string[] | null = null,
	options: WebsocketReconnectOptions = {},
): AsyncGenerator<WebsocketConnection, void, undefined> {
	const uri = new Message('GET', url).uri;
	const backoff = checkBackoff(options.backoff);
	validateConnectionOptions(options);
	if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
		throw new TypeError(`Expected \`signal\` to be an AbortSignal, got \`${String(options.signal)}\``);
	}

	if (options.onRetry !== undefined && typeof options.onRetry !== 'function') {
		throw new TypeError(`Expected \`onRetry\` to be a function, got \`${String(options.onRetry)}\``);
	}

	const {backoff: _backoff, onRetry, ...connectOptions} = options;
	return reconnect(uri, origin, protocols === null ? null : [...protocols], connectOptions, backoff, onRetry);
}

async function* reconnect(
	uri: URL,
	origin: string | null,
	protocols: readonly string[] | null,
	options: WebsocketConnectOptions,
	backoff: WebsocketBackoff,
	onRetry: ((event: WebsocketRetryEvent) => void) | undefined,
): AsyncGenerator<WebsocketConnection, void, undefined> {
	const {signal} = options;
	let failures = 0;
	const wait = async (error: Error | null, close: WebsocketCloseInfo | null): Promise<boolean> => {
		const delay = backoffDelay(failures, backoff);
		failures++;
		debug('reconnect: attempt %d in %d ms', failures, delay);
		try {
			onRetry?.({attempt: failures, delay, error, close});
		} catch (thrown) {
			debug('reconnect: onRetry threw: %s', thrown instanceof Error ? thrown.message : String(thrown));
		}

		return sleep(delay, signal);
	};

	for (;;) {
		if (signal?.aborted) {
			return;
		}

		const msg = new Message('GET', uri);
		let connection: WebsocketConnection;
		try {
			// eslint-disable-next-line no-await-in-loop -- one attempt at a time
			connection = await websocketConnect(msg, origin, protocols, options);
		} catch (error) {
			if (signal?.aborted) {
				return;
			}

			if (!isRetryableHandshakeError(error, msg)) {
				throw error;
			}

			// eslint-disable-next-line no-await-in-loop
			if (!(await wait(error as Error, null))) {
				return;
			}

			continue;
		}

		failures = 0;
		// 'closing' comes before a Close is sent: the close state is still Open when this side started it.
		let closedLocally = false;
		connection.connect('closing', self => {
			closedLocally ||= self.getCloseState() === 'Open';
		});
		const onAbort = (): void => {
			connection.close(CloseCode.NORMAL, null);
		};

		signal?.addEventListener('abort', onAbort, {once: true});
		let info: WebsocketCloseInfo;
		try {
			yield connection;
			// eslint-disable-next-line no-await-in-loop
			info = await connection.closed;
		} finally {
			signal?.removeEventListener('abort', onAbort);
		}

		if (signal?.aborted || !isRetryableClose(info, closedLocally)) {
			debug('reconnect: done after close %d', info.code);
			return;
		}

		// eslint-disable-next-line no-await-in-loop
		if (!(await wait(null, info))) {
			return;
		}
	}
}
