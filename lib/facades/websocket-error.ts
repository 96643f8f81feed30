// WebSocketError of the WHATWG WebSocketStream draft: a DOMException with the close code and reason.

import {defineInterface, toClampedUnsignedShort, toDOMString, toUSVString} from './webidl.ts';

/** The close information of a {@link WebSocketError} (the draft's `WebSocketCloseInfo`). */
export interface WebSocketErrorInit {
	/** 1000 or 3000–4999; 1000 when only a reason is given. */
	closeCode?: number | undefined;
	/** At most 123 bytes of UTF-8. */
	reason?: string | undefined;
}

/** Checks a close code and reason as `close()` does, and applies "a reason alone means 1000". */
export function checkCloseInfo(init: WebSocketErrorInit, what: string): {closeCode: number | null; reason: string} {
	const closeCode = init.closeCode === undefined ? null : toClampedUnsignedShort(init.closeCode);
	const reason = init.reason === undefined ? '' : toUSVString(init.reason);
	if (closeCode !== null && closeCode !== 1000 && (closeCode < 3000 || closeCode > 4999)) {
		throw new DOMException(
			`Failed to execute '${what}': The close code must be either 1000, or between 3000 and 4999. ${closeCode} is neither.`,
			'InvalidAccessError',
		);
	}

	if (Buffer.byteLength(reason, 'utf8') > 123) {
		throw new DOMException(`Failed to execute '${what}': The close reason must not be greater than 123 UTF-8 bytes.`, 'SyntaxError');
	}

	return {closeCode: closeCode ?? (reason === '' ? null : 1000), reason};
}

/**
 * The error a {@link WebSocketStream} rejects with, and what a reader may cancel (or a writer
 * abort) with to choose the close code: a `DOMException` named `WebSocketError` with `closeCode`
 * (`null` when none) and `reason`.
 */
export class WebSocketError extends DOMException {
	readonly #closeCode: number | null;
	readonly #reason: string;

	/**
	 * @throws {DOMException} `InvalidAccessError` for a close code other than 1000 or 3000–4999;
	 *   `SyntaxError` for a reason over 123 bytes.
	 */
	constructor(message: string = '', init: WebSocketErrorInit = {}) {
		const checked = checkCloseInfo(init ?? {}, 'WebSocketError');
		super(toDOMString(message), 'WebSocketError');
		this.#closeCode = checked.closeCode;
		this.#reason = checked.reason;
	}

	/** The close code, or `null`; 1006 when the connection closed without a closing handshake. */
	get closeCode(): number | null {
		return abnormal.has(this) ? 1006 : this.#closeCode;
	}

	/** The close reason, or `''`. */
	get reason(): string {
		return this.#reason;
	}
}

/** Errors made by {@link abnormalClosureError}: their closeCode reads 1006. */
const abnormal = new WeakSet<WebSocketError>();

/** The error of a connection that failed or closed without a closing handshake: closeCode 1006 (which the constructor refuses). */
export function abnormalClosureError(message: string): WebSocketError {
	const error = new WebSocketError(message);
	abnormal.add(error);
	return error;
}

defineInterface(WebSocketError, 'WebSocketError');
