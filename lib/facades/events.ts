// The events of the web-shaped facades that Node 20 lacks: CloseEvent (WHATWG WebSockets §"The CloseEvent interface").

import {defineInterface, toDOMString, toUSVString} from './webidl.ts';

/** What a {@link CloseEvent} is constructed with. */
export interface CloseEventInit {
	bubbles?: boolean | undefined;
	cancelable?: boolean | undefined;
	composed?: boolean | undefined;
	wasClean?: boolean | undefined;
	code?: number | undefined;
	reason?: string | undefined;
}

/** WebIDL `unsigned short` without `[Clamp]`: ToNumber, truncated, modulo 2^16. */
function toUnsignedShort(value: unknown): number {
	if (typeof value === 'bigint' || typeof value === 'symbol') {
		throw new TypeError(`Cannot convert a ${typeof value} to a number`);
	}

	const number = Math.trunc(Number(value));
	return Number.isFinite(number) ? ((number % 65_536) + 65_536) % 65_536 : 0;
}

/**
 * The `close` event of a {@link WebSocket}: whether the closing handshake completed, and the
 * peer's code and reason. A real `Event` subclass; the facade fires it with type `close`, not
 * bubbling and not cancelable.
 */
export class CloseEvent extends Event {
	readonly #wasClean: boolean;
	readonly #code: number;
	readonly #reason: string;

	constructor(type: string, init: CloseEventInit = {}) {
		if (arguments.length === 0) {
			throw new TypeError("Failed to construct 'CloseEvent': 1 argument required, but only 0 present.");
		}

		const dict: CloseEventInit = init ?? {};
		super(toDOMString(type), {
			bubbles: Boolean(dict.bubbles),
			cancelable: Boolean(dict.cancelable),
			composed: Boolean(dict.composed),
		});
		this.#wasClean = Boolean(dict.wasClean);
		this.#code = dict.code === undefined ? 0 : toUnsignedShort(dict.code);
		this.#reason = dict.reason === undefined ? '' : toUSVString(dict.reason);
	}

	/** Whether both Close frames were exchanged before the TCP connection closed. */
	get wasClean(): boolean {
		return this.#wasClean;
	}

	/** The peer's close code; 1005 when its Close frame had none, 1006 when the connection closed abnormally. */
	get code(): number {
		return this.#code;
	}

	/** The peer's close reason, or `''`. */
	get reason(): string {
		return this.#reason;
	}
}

defineInterface(CloseEvent, 'CloseEvent');
