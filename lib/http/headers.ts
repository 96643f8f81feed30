// HTTP header helpers and libsoup's SoupMessageHeaders: no I/O, no Node HTTP (RFC 7230 §3.2, §7).

import {describe} from '../gobject/param-spec.ts';
import {isToken} from '../websocket/validation.ts';

/** RFC 7230 §3.2: `field-value` characters (VCHAR, obs-text, SP, HTAB); no CR, LF, NUL or other controls. */
export const fieldValuePattern = /^[\t\u0020-\u007e\u0080-\u00ff]*$/;

/** RFC 7230 §3.1.2: `reason-phrase = *( HTAB / SP / VCHAR / obs-text )`. */
export const reasonPhrasePattern = fieldValuePattern;

export function assertString(value: unknown, argument: string): asserts value is string {
	if (typeof value !== 'string') {
		throw new TypeError(`Expected \`${argument}\` to be a string, got ${describe(value)}`);
	}
}
function validateName(name: unknown): string {
	assertString(name, 'name');
	if (!isToken(name)) {
		throw new TypeError(`Expected \`name\` to be an HTTP token (RFC 7230 §3.2.6), got ${describe(name)}`);
	}

	return name;
}

function validateValue(value: unknown): string {
	assertString(value, 'value');
	if (!fieldValuePattern.test(value)) {
		// CR, LF or NUL here would let a caller inject header lines (response splitting).
		throw new TypeError(
			`Expected \`value\` to be an HTTP field value without CR, LF, NUL or other control characters, got ${describe(value)}`,
		);
	}

	return value;
}

/**
 * ASCII-only case-insensitive comparison, as libsoup's `g_ascii_strcasecmp`: A–Z match a–z,
 * and no other character is case-folded (`É` does not match `é`).
 *
 * @param a - One string.
 * @param b - The other.
 * @returns Whether they are equal ignoring ASCII case.
 */
export function asciiEqualsIgnoreCase(a: string, b: string): boolean {
	return a.length === b.length && asciiMatchesAt(a, 0, b);
}

/** Whether `value` holds `token` at `from`, ignoring ASCII case (no substring is made). */
function asciiMatchesAt(value: string, from: number, token: string): boolean {
	for (let j = 0; j < token.length; j++) {
		let x = value.charCodeAt(from + j);
		let y = token.charCodeAt(j);
		if (x >= 0x41 && x <= 0x5a) {
			x += 0x20;
		}

		if (y >= 0x41 && y <= 0x5a) {
			y += 0x20;
		}

		if (x !== y) {
			return false;
		}
	}

	return true;
}

export function isOws(code: number): boolean {
	return code === 0x20 || code === 0x09;
}

/**
 * Strips RFC 7230 optional whitespace (SP and HTAB, nothing else) from both ends.
 *
 * @param value - The text to trim.
 * @returns The trimmed text.
 */
export function trimOws(value: string): string {
	let start = 0;
	let end = value.length;
	while (start < end && isOws(value.charCodeAt(start))) {
		start++;
	}

	while (end > start && isOws(value.charCodeAt(end - 1))) {
		end--;
	}

	return value.slice(start, end);
}

/**
 * Splits a header value into the elements of an RFC 7230 §7 list.
 *
 * The delimiter is ignored inside quoted strings (a backslash escapes the next character there),
 * elements are trimmed of spaces and tabs, and empty elements are dropped: RFC 7230 §7 asks a
 * recipient to ignore them, and libsoup's list parser skips them too. Quotes are kept; an
 * unterminated quoted string runs to the end of the value.
 *
 * @param value - The header value, as {@link MessageHeaders.getList} returns it.
 * @param delimiter - The separator: `','` for header lists, `';'` for extension parameters.
 * @returns The non-empty elements, in order.
 */
export function splitHeaderList(value: string, delimiter: ',' | ';' = ','): string[] {
	const elements: string[] = [];
	let start = 0;
	let quoted = false;
	for (let i = 0; i < value.length; i++) {
		const char = value[i];
		if (quoted) {
			if (char === '\\') {
				i++;
			} else if (char === '"') {
				quoted = false;
			}
		} else if (char === '"') {
			quoted = true;
		} else if (char === delimiter) {
			const element = trimOws(value.slice(start, i));
			if (element !== '') {
				elements.push(element);
			}

			start = i + 1;
		}
	}

	const last = trimOws(value.slice(start));
	if (last !== '') {
		elements.push(last);
	}

	return elements;
}

/**
 * Whether one of the elements {@link splitHeaderList} would find in `value` (split on commas
 * outside quoted strings, trimmed of OWS, empty ones dropped) is `token`: the same elements,
 * compared where they stand, with no list or substring made.
 */
function listContains(value: string, token: string, caseSensitive: boolean): boolean {
	if (token.length === 0) {
		// splitHeaderList drops empty elements.
		return false;
	}

	let start = 0;
	let quoted = false;
	for (let i = 0; ; i++) {
		const end = i >= value.length;
		if (!end) {
			const char = value.charCodeAt(i);
			if (quoted) {
				if (char === 0x5c) {
					i++;
				} else if (char === 0x22) {
					quoted = false;
				}

				continue;
			}

			if (char === 0x22) {
				quoted = true;
				continue;
			}

			if (char !== 0x2c) {
				continue;
			}
		}

		// An element ends here: at a comma outside quotes, or at the end of the value.
		let from = start;
		let to = end ? value.length : i;
		while (from < to && isOws(value.charCodeAt(from))) {
			from++;
		}

		while (to > from && isOws(value.charCodeAt(to - 1))) {
			to--;
		}

		if (to - from === token.length && (caseSensitive ? value.startsWith(token, from) : asciiMatchesAt(value, from, token))) {
			return true;
		}

		if (end) {
			return false;
		}

		start = i + 1;
	}
}

interface HeaderEntry {
	/** The name as it was given, kept for output. */
	readonly name: string;
	/** The name in lower case, for lookups. */
	readonly key: string;
	value: string;
}

/**
 * HTTP headers as libsoup's `SoupMessageHeaders` keeps them: names compared case-insensitively
 * (in ASCII), the same name allowed more than once, and the order of insertion kept for output.
 *
 * Names must be RFC 7230 tokens and values must not hold CR, LF, NUL or other control
 * characters (HTAB excepted), nor characters above U+00FF: anything else throws a `TypeError`,
 * so no caller can inject a header line. Heads are written as Latin-1, so every value round-trips.
 */
export class MessageHeaders implements Iterable<[string, string]> {
	#entries: HeaderEntry[] = [];

	/**
	 * Creates a set of headers, empty or filled from name/value pairs.
	 *
	 * @param init - Pairs to {@link MessageHeaders.append} in order.
	 * @throws {TypeError} when a name or value is invalid.
	 */
	constructor(init?: Iterable<readonly [string, string]>) {
		if (init !== undefined) {
			for (const [name, value] of init) {
				this.append(name, value);
			}
		}
	}

	/** The number of header lines (a name that appears twice counts twice). */
	get size(): number {
		return this.#entries.length;
	}

	/**
	 * Adds a header line after the others, keeping any line of the same name (libsoup's
	 * `soup_message_headers_append`): only list-valued headers should appear twice.
	 *
	 * @param name - The header name, an RFC 7230 token.
	 * @param value - The header value.
	 * @throws {TypeError} when `name` is not a token or `value` holds CR, LF, NUL or another control character.
	 */
	append(name: string, value: string): void {
		const validName = validateName(name);
		const validValue = validateValue(value);
		this.#entries.push({name: validName, key: validName.toLowerCase(), value: validValue});
	}

	/**
	 * Removes every line named `name` and appends one with `value` (libsoup's
	 * `soup_message_headers_replace`): the header moves to the end.
	 *
	 * @param name - The header name, an RFC 7230 token.
	 * @param value - The new value.
	 * @throws {TypeError} when `name` or `value` is invalid; the headers are then left unchanged.
	 */
	replace(name: string, value: string): void {
		const validName = validateName(name);
		const validValue = validateValue(value);
		this.remove(validName);
		this.#entries.push({name: validName, key: validName.toLowerCase(), value: validValue});
	}

	/**
	 * Removes every line named `name`.
	 *
	 * @param name - The header name, compared case-insensitively.
	 */
	remove(name: string): void {
		assertString(name, 'name');
		if (this.#indexOf(name) !== -1) {
			const key = name.toLowerCase();
			this.#entries = this.#entries.filter(entry => entry.key !== key);
		}
	}

	/** Removes every header. */
	clear(): void {
		this.#entries = [];
	}

	/**
	 * Whether a line named `name` is present.
	 *
	 * @param name - The header name, compared case-insensitively.
	 */
	has(name: string): boolean {
		assertString(name, 'name');
		return this.#indexOf(name) !== -1;
	}

	/**
	 * The value of a header that may appear only once (libsoup's `soup_message_headers_get_one`).
	 *
	 * libsoup leaves undefined which copy a header present more than once yields; websoup
	 * returns all of them joined with `", "`, as {@link MessageHeaders.getList} does. So a
	 * duplicated single-valued header (`Sec-WebSocket-Key`, `Sec-WebSocket-Version`,
	 * `Sec-WebSocket-Accept`, `Upgrade`, `Host`) fails the checks made on it instead of one copy
	 * being picked silently, as RFC 6455 §11.3 forbids those duplicates.
	 *
	 * @param name - The header name, compared case-insensitively.
	 * @returns The value, or `null` when the header is absent.
	 */
	getOne(name: string): string | null {
		return this.getList(name);
	}

	/**
	 * The value of a list-valued header (libsoup's `soup_message_headers_get_list`): the values
	 * of every line of that name joined with `", "`, which RFC 7230 §3.2.2 makes equivalent.
	 *
	 * @param name - The header name, compared case-insensitively.
	 * @returns The joined value, or `null` when the header is absent.
	 */
	getList(name: string): string | null {
		assertString(name, 'name');
		const entries = this.#entries;
		let result: string | null = null;
		for (let i = this.#indexOf(name); i < entries.length && i !== -1; i++) {
			const entry = entries[i]!;
			if (asciiEqualsIgnoreCase(entry.key, name)) {
				result = result === null ? entry.value : `${result}, ${entry.value}`;
			}
		}

		return result;
	}

	/**
	 * The index of the first line named `name` (compared as libsoup does, ASCII case-insensitively),
	 * or -1: the lookups compare in place, with no lower-cased copy of `name` made for each.
	 */
	#indexOf(name: string): number {
		const entries = this.#entries;
		for (let i = 0; i < entries.length; i++) {
			if (asciiEqualsIgnoreCase(entries[i]!.key, name)) {
				return i;
			}
		}

		return -1;
	}

	/**
	 * Whether the list-valued header `name` holds `token` as one of its elements, compared
	 * case-insensitively in ASCII (libsoup's `soup_message_headers_header_contains`), e.g.
	 * `Connection: keep-alive, Upgrade` contains `upgrade`.
	 *
	 * @param name - The header name.
	 * @param token - The element to look for.
	 */
	headerContains(name: string, token: string): boolean {
		assertString(token, 'token');
		const value = this.getList(name);
		return value !== null && listContains(value, token, false);
	}

	/**
	 * Like {@link MessageHeaders.headerContains}, but the comparison is case-sensitive
	 * (libsoup's `soup_header_contains_case_sensitive`, used for subprotocols).
	 *
	 * @param name - The header name.
	 * @param token - The element to look for.
	 */
	headerContainsCaseSensitive(name: string, token: string): boolean {
		assertString(token, 'token');
		const value = this.getList(name);
		return value !== null && listContains(value, token, true);
	}

	/**
	 * Whether the header's whole value, as {@link MessageHeaders.getOne} returns it, equals
	 * `value` case-insensitively in ASCII (libsoup's `soup_message_headers_header_equals`).
	 *
	 * @param name - The header name.
	 * @param value - The value to compare with.
	 */
	headerEquals(name: string, value: string): boolean {
		assertString(value, 'value');
		const actual = this.getOne(name);
		return actual !== null && asciiEqualsIgnoreCase(actual, value);
	}

	/**
	 * Calls `callback` for every header line, in order (libsoup's `soup_message_headers_foreach`).
	 *
	 * @param callback - Receives the name as it was given and the value.
	 */
	forEach(callback: (name: string, value: string) => void): void {
		for (const entry of [...this.#entries]) {
			callback(entry.name, entry.value);
		}
	}

	/** Iterates over `[name, value]` pairs, one per header line, in order. */
	*[Symbol.iterator](): IterableIterator<[string, string]> {
		for (const entry of [...this.#entries]) {
			yield [entry.name, entry.value];
		}
	}

	/**
	 * The headers as an object for Node's APIs (`http.request({headers})`, `res.writeHead()`):
	 * keyed by the name as first given, a string for a header that appears once and an array
	 * of strings for one that appears more often. The object has no prototype.
	 */
	toObject(): Record<string, string | string[]> {
		const byKey = new Map<string, {name: string; values: string[]}>();
		for (const entry of this.#entries) {
			const existing = byKey.get(entry.key);
			if (existing === undefined) {
				byKey.set(entry.key, {name: entry.name, values: [entry.value]});
			} else {
				existing.values.push(entry.value);
			}
		}

		const result = Object.create(null) as Record<string, string | string[]>;
		for (const {name, values} of byKey.values()) {
			result[name] = values.length === 1 ? (values[0] ?? '') : values;
		}

		return result;
	}
}
