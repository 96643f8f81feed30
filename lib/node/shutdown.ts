// Graceful shutdown of a WebSocket handler: new handshakes refused with 503 + Retry-After, a Close to every open connection, the rest terminated at a deadline.

import {CloseCode, MAX_CLOSE_REASON, WebsocketState} from '../websocket/constants.ts';
import {kClosedHook, type WebsocketConnection} from '../websocket/connection.ts';
import {Message} from '../http/message.ts';

// Builtins through process.getBuiltinModule(), not import: see docs/architecture.md, “Node's builtins”.
const {debuglog} = process.getBuiltinModule('node:util');

const debug = debuglog('websocket');

/** The default of {@link WebsocketHandlerCloseOptions.timeout}: 5 s. */
export const DEFAULT_SHUTDOWN_TIMEOUT = 5000;

/** The default of {@link WebsocketHandlerCloseOptions.retryAfter}: 5 s. */
export const DEFAULT_RETRY_AFTER = 5;

/** Options of {@link WebsocketHandler.close}. */
export interface WebsocketHandlerCloseOptions {
	/** The close code sent to every connection: one a server may send. @defaultValue 1001 (going away) */
	code?: number | undefined;
	/** The close reason, at most 123 bytes of UTF-8. @defaultValue null */
	reason?: string | null | undefined;
	/**
	 * Milliseconds to wait for the close handshakes; then the connections still open are terminated.
	 * 0 terminates them right after their Close frame was queued.
	 *
	 * @defaultValue 5000
	 */
	timeout?: number | undefined;
	/** Seconds in the `Retry-After` header of the 503 that refuses new handshakes. @defaultValue 5 */
	retryAfter?: number | undefined;
}

/** What {@link WebsocketHandler.close} resolves with; the three add up to the connections open when it was called. */
export interface WebsocketHandlerCloseResult {
	/** Closed with both Close frames exchanged before the deadline. */
	clean: number;
	/** Closed before the deadline without a complete close handshake (the peer dropped, an error). */
	dirty: number;
	/** Still open at the deadline, and terminated. */
	terminated: number;
}

/** The close codes a server may send (RFC 6455 §7.4.1, IANA), as {@link WebsocketConnection.close} accepts them. */
function isServerCloseCode(code: number): boolean {
	if (code >= 3000 && code <= 4999) {
		return true;
	}

	return code >= CloseCode.NORMAL && code <= CloseCode.BAD_GATEWAY && code !== 1004 && code !== 1005 && code !== 1006 && code !== 1010;
}

function wholeNumber(value: unknown, name: string, max: number): number {
	if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
		throw new TypeError(`Expected \`${name}\` to be a whole number from 0 to ${max}, got \`${String(value)}\``);
	}

	return value;
}

/**
 * The open connections of one handler and its shutdown. A connection leaves the set when it is
 * closed, through an internal hook it calls once ({@link kClosedHook}): no signal handler and no
 * weak reference per connection, and a closed connection the application has let go of is
 * collected at once (an open one stays alive through its socket anyway).
 */
export class HandlerShutdown {
	readonly #open = new Set<WebsocketConnection>();
	readonly #leave = (connection: WebsocketConnection): void => {
		this.#open.delete(connection);
	};

	#result: Promise<WebsocketHandlerCloseResult> | null = null;
	#retryAfter = DEFAULT_RETRY_AFTER;

	/** Whether {@link HandlerShutdown.close} was called: new handshakes are refused. */
	get closing(): boolean {
		return this.#result !== null;
	}

	/** Connections accepted and not yet closed. */
	get size(): number {
		return this.#open.size;
	}

	/** Keeps a connection the handler accepted, until it is closed. */
	add(connection: WebsocketConnection): void {
		if (connection.state === WebsocketState.CLOSED) {
			return;
		}

		this.#open.add(connection);
		connection[kClosedHook] = this.#leave;
	}

	/** The 503 that refuses a handshake while closing, with `Retry-After`. */
	refusal(uri: URL): Message {
		const msg = new Message(uri);
		msg.setStatus(503);
		msg.responseHeaders.append('Retry-After', String(this.#retryAfter));
		msg.setResponse('text/plain; charset=utf-8', 'Service Unavailable: the WebSocket endpoint is shutting down\n');
		return msg;
	}

	/**
	 * Starts the shutdown once; later calls return the same promise.
	 *
	 * @throws {TypeError} for an option of the wrong type; {RangeError} for a code a server may not send or a reason over 123 bytes.
	 */
	close(options: WebsocketHandlerCloseOptions = {}): Promise<WebsocketHandlerCloseResult> {
		if (options === null || typeof options !== 'object') {
			throw new TypeError(`Expected \`options\` to be an object, got \`${String(options)}\``);
		}

		const code = options.code ?? CloseCode.GOING_AWAY;
		const reason = options.reason ?? null;
		const timeout = wholeNumber(options.timeout ?? DEFAULT_SHUTDOWN_TIMEOUT, 'timeout', 2_147_483_647);
		const retryAfter = wholeNumber(options.retryAfter ?? DEFAULT_RETRY_AFTER, 'retryAfter', 2_147_483_647);
		if (!Number.isInteger(code) || !isServerCloseCode(code)) {
			throw new RangeError(`Expected \`code\` to be a close code a server may send, got \`${String(code)}\``);
		}

		if (reason !== null && typeof reason !== 'string') {
			throw new TypeError(`Expected \`reason\` to be a string or null, got \`${typeof reason}\``);
		}

		if (reason !== null && Buffer.byteLength(reason) > MAX_CLOSE_REASON) {
			throw new RangeError(`Expected \`reason\` to be at most ${MAX_CLOSE_REASON} bytes of UTF-8, got \`${Buffer.byteLength(reason)}\``);
		}

		if (this.#result === null) {
			this.#retryAfter = retryAfter;
			this.#result = this.#run(code, reason, timeout);
		}

		return this.#result;
	}

	async #run(code: number, reason: string | null, timeout: number): Promise<WebsocketHandlerCloseResult> {
		const open = [...this.#open];
		for (const connection of open) {
			connection[kClosedHook] = null;
		}

		this.#open.clear();
		debug('shutdown: closing %d connections with %d', open.length, code);
		const result: WebsocketHandlerCloseResult = {clean: 0, dirty: 0, terminated: 0};
		let pastDeadline = false;
		const closed = open.map(async connection => {
			const info = await connection.closed;
			if (pastDeadline) {
				return;
			}

			if (info.wasClean) {
				result.clean++;
			} else {
				result.dirty++;
			}
		});
		for (const connection of open) {
			// Ignored by a connection that is already closing.
			connection.close(code, reason);
		}

		let timer: NodeJS.Timeout | undefined;
		const deadline = new Promise<void>(resolve => {
			timer = setTimeout(resolve, timeout);
		});
		await Promise.race([Promise.all(closed), deadline]);
		clearTimeout(timer);
		pastDeadline = true;
		const late = open.filter(connection => connection.state !== WebsocketState.CLOSED);
		result.terminated = late.length;
		if (late.length > 0) {
			debug('shutdown: terminating %d connections at the deadline', late.length);
			for (const connection of late) {
				connection.terminate();
			}

			await Promise.all(late.map(async connection => connection.closed));
		}

		return result;
	}
}
