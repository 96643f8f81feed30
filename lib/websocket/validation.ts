// Validation helpers: received close codes (RFC 6455 §7.4), UTF-8 (RFC 3629), HTTP tokens (RFC 7230).

import {APPLICATION_CLOSE_CODE_MAX, APPLICATION_CLOSE_CODE_MIN, CloseCode} from './constants.ts';

// Builtins through process.getBuiltinModule(), not import: see docs/architecture.md, “Node's builtins”.
const {isUtf8} = process.getBuiltinModule('node:buffer');

/**
 * Whether a close code may appear in a Close frame we receive.
 *
 * RFC 6455 §7.4.1 and the IANA registry: 1000–1003, 1007–1011 and the later registered
 * 1012–1014 are protocol codes a peer may send; 3000–4999 are for libraries, frameworks and
 * applications. 1005, 1006 and 1015 "MUST NOT be set as a status code in a Close control frame",
 * 1004 is reserved, and everything else is undefined (0–999, 1016–2999) or out of range.
 *
 * @param code - The code read from the first two bytes of the Close payload.
 */
export function isValidReceivedCloseCode(code: number): boolean {
	return (
		Number.isInteger(code) &&
		((code >= CloseCode.NORMAL && code <= CloseCode.UNSUPPORTED_DATA) ||
			(code >= CloseCode.BAD_DATA && code <= CloseCode.BAD_GATEWAY) ||
			(code >= APPLICATION_CLOSE_CODE_MIN && code <= APPLICATION_CLOSE_CODE_MAX))
	);
}

/**
 * Whether `close()` on a connection of this side may send `code`: the codes a peer may receive
 * ({@link isValidReceivedCloseCode}) that this side may use — 1010 ("the server did not negotiate
 * an extension") only from a client, 1011–1014 (server errors, restarts, gateways) only from a
 * server — and 1005, which means "send a Close frame with no code" (LIBSOUP.md difference 3).
 */
export function isValidSentCloseCode(code: number, side: 'client' | 'server'): boolean {
	if (code === CloseCode.NO_STATUS) {
		return true;
	}

	if (code === CloseCode.NO_EXTENSION) {
		return side === 'client';
	}

	if (code >= CloseCode.SERVER_ERROR && code <= CloseCode.BAD_GATEWAY) {
		return side === 'server';
	}

	return isValidReceivedCloseCode(code);
}

/**
 * Whether `buffer` holds well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
 * above U+10FFFF; NUL is allowed). Uses Node's native `buffer.isUtf8`.
 *
 * @param buffer - The bytes to check; an empty buffer is valid.
 */
export function isValidUtf8(buffer: Uint8Array): boolean {
	return buffer.length === 0 || isUtf8(buffer);
}

/** Length of the sequence a lead byte starts, or 0 if the byte cannot start one (RFC 3629 §4). */
function sequenceLength(lead: number): number {
	if (lead < 0x80) {
		return 1;
	}

	if (lead < 0xc2) {
		// 80–BF are continuation bytes; C0 and C1 could only start overlong forms.
		return 0;
	}

	if (lead < 0xe0) {
		return 2;
	}

	if (lead < 0xf0) {
		return 3;
	}

	// F5–FF would encode above U+10FFFF.
	return lead < 0xf5 ? 4 : 0;
}

/**
 * Whether `byte` may stand at `position` (1, 2 or 3) of a sequence started by `lead`.
 * RFC 3629 §4 narrows the second byte after E0 (no overlongs), ED (no surrogates), F0 (no
 * overlongs) and F4 (nothing above U+10FFFF); every other continuation byte is 80–BF.
 */
function isViableContinuation(lead: number, position: number, byte: number): boolean {
	if (position === 1) {
		switch (lead) {
			case 0xe0: {
				return byte >= 0xa0 && byte <= 0xbf;
			}

			case 0xed: {
				return byte >= 0x80 && byte <= 0x9f;
			}

			case 0xf0: {
				return byte >= 0x90 && byte <= 0xbf;
			}

			case 0xf4: {
				return byte >= 0x80 && byte <= 0x8f;
			}

			default: {
				break;
			}
		}
	}

	return byte >= 0x80 && byte <= 0xbf;
}

/**
 * A streaming UTF-8 validator for text messages that arrive in fragments, failing fast:
 * {@link Utf8Validator.push} returns `false` as soon as the bytes seen so far cannot be the start
 * of valid UTF-8, even when the offending sequence is split across chunks.
 *
 * Each chunk's complete part is checked with Node's native `isUtf8`; at most 3 bytes of a
 * trailing incomplete sequence are carried over to the next chunk, and those are checked to be
 * a viable start (valid lead byte, continuation bytes, RFC 3629's limits on the second byte).
 *
 * @example
 * ```ts
 * const validator = new Utf8Validator();
 * validator.push(Buffer.from([0xe2, 0x82])); // true: could still be "€"
 * validator.push(Buffer.from([0xac]));       // true
 * validator.end();                           // true, and ready for the next message
 * ```
 */
export class Utf8Validator {
	/** Bytes of an incomplete sequence carried over from the previous chunk (at most 3 used). */
	readonly #pending = new Uint8Array(4);
	/** How many bytes of `#pending` are used. */
	#pendingLength = 0;
	/** Length of the sequence `#pending` starts. */
	#sequenceLength = 0;
	#failed = false;

	/**
	 * Validates the next chunk of the message.
	 *
	 * @param chunk - The next bytes.
	 * @returns `false` if the message can no longer be valid UTF-8; it stays `false` until
	 * {@link Utf8Validator.reset}.
	 */
	push(chunk: Uint8Array): boolean {
		if (this.#failed) {
			return false;
		}

		let start = 0;
		// First complete the sequence left over from the previous chunk, byte by byte.
		while (this.#pendingLength > 0 && start < chunk.length) {
			const lead = this.#pending[0]!;
			const byte = chunk[start]!;
			if (!isViableContinuation(lead, this.#pendingLength, byte)) {
				return this.#fail();
			}

			this.#pending[this.#pendingLength++] = byte;
			start++;
			if (this.#pendingLength === this.#sequenceLength) {
				this.#pendingLength = 0;
			}
		}

		if (start === chunk.length) {
			return true;
		}

		// Find the last lead byte among the final 3 bytes: if its sequence does not fit in the
		// chunk, it is carried over and the rest is checked natively.
		let end = chunk.length;
		for (let i = chunk.length - 1; i >= Math.max(start, chunk.length - 3); i--) {
			const byte = chunk[i]!;
			if (byte < 0x80 || byte > 0xbf) {
				const length = sequenceLength(byte);
				if (length > chunk.length - i) {
					end = i;
				}

				break;
			}
		}

		if (end > start && !isUtf8(chunk.subarray(start, end))) {
			return this.#fail();
		}

		if (end < chunk.length) {
			const lead = chunk[end]!;
			this.#pending[0] = lead;
			this.#pendingLength = 1;
			this.#sequenceLength = sequenceLength(lead);
			for (let i = end + 1; i < chunk.length; i++) {
				const byte = chunk[i]!;
				if (!isViableContinuation(lead, this.#pendingLength, byte)) {
					return this.#fail();
				}

				this.#pending[this.#pendingLength++] = byte;
			}
		}

		return true;
	}

	/**
	 * Ends the message and resets the validator for the next one.
	 *
	 * @returns `false` if the message was invalid or ends inside a multi-byte sequence.
	 */
	end(): boolean {
		const valid = !this.#failed && this.#pendingLength === 0;
		this.reset();
		return valid;
	}

	/** Forgets everything pushed so far, including a failure. */
	reset(): void {
		this.#pendingLength = 0;
		this.#sequenceLength = 0;
		this.#failed = false;
	}

	#fail(): false {
		this.#failed = true;
		this.#pendingLength = 0;
		return false;
	}
}

/**
 * RFC 7230 §3.2.6 `tchar`: `!#$%&'*+-.^_`|~`, digits and letters. Indexed by char code; codes
 * 128 and above are never token characters.
 */
export const tokenChars: Readonly<Uint8Array> = (() => {
	const table = new Uint8Array(128);
	for (const char of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") {
		table[char.charCodeAt(0)] = 1;
	}

	return table;
})();

/**
 * Whether `value` is an RFC 7230 `token` (`1*tchar`), as header values such as subprotocol and
 * extension names must be.
 *
 * @param value - The string to check; the empty string is not a token.
 */
export function isToken(value: string): boolean {
	if (value.length === 0) {
		return false;
	}

	for (let i = 0; i < value.length; i++) {
		const code = value.charCodeAt(i);
		if (code >= 128 || tokenChars[code] !== 1) {
			return false;
		}
	}

	return true;
}

const asciiPattern = /^[\x00-\x7f]*$/;

/**
 * Whether every character of `text` is ASCII (U+0000–U+007F): such a string's UTF-8 and Latin-1
 * are the same bytes. Internal (not exported from the package).
 */
export function isAscii(text: string): boolean {
	return asciiPattern.test(text);
}
