// WebIDL conversions and interface shaping the web-shaped facades share (WebIDL §3.2, §3.7).

// Builtins through process.getBuiltinModule(), not import: see docs/architecture.md, “Node's builtins”.
const {Blob} = process.getBuiltinModule('node:buffer');
const {types} = process.getBuiltinModule('node:util');

/** A lone surrogate: a high one not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * WebIDL `DOMString`: ECMAScript ToString, which throws a `TypeError` for a Symbol
 * (`String(symbol)` would not).
 */
export function toDOMString(value: unknown): string {
	return `${value as string}`;
}

/** WebIDL `USVString`: ToString, then every lone surrogate replaced by U+FFFD. */
export function toUSVString(value: unknown): string {
	return toDOMString(value).replace(LONE_SURROGATE, '\uFFFD');
}

/**
 * WebIDL `[Clamp] unsigned short`: ToNumber (a `TypeError` for a Symbol or BigInt), NaN to 0,
 * clamped to 0–65535 and rounded half to even.
 */
export function toClampedUnsignedShort(value: unknown): number {
	if (typeof value === 'bigint' || typeof value === 'symbol') {
		throw new TypeError(`Cannot convert a ${typeof value} to a number`);
	}

	const number = Number(value);
	if (Number.isNaN(number)) {
		return 0;
	}

	const clamped = Math.min(Math.max(number, 0), 65_535);
	const floor = Math.floor(clamped);
	const fraction = clamped - floor;
	if (fraction > 0.5 || (fraction === 0.5 && floor % 2 === 1)) {
		return floor + 1;
	}

	return floor;
}

/** `(BufferSource or Blob or USVString)` after conversion: what `send()` and a writable stream take. */
export type WebSendData = string | ArrayBuffer | ArrayBufferView | Blob;

/**
 * Converts a value to the union `(BufferSource or Blob or USVString)` (WebIDL §3.2.24's steps, in
 * that order): a Blob, an ArrayBuffer or a view stay as they are; anything else becomes a string.
 *
 * @throws {TypeError} for a SharedArrayBuffer or a view on one (BufferSource is not `[AllowShared]`),
 *   or a Symbol.
 */
export function toSendData(value: unknown, name: string): WebSendData {
	if (value instanceof Blob) {
		return value;
	}

	if (types.isSharedArrayBuffer(value)) {
		throw new TypeError(`Expected \`${name}\` not to be a SharedArrayBuffer`);
	}

	if (types.isArrayBuffer(value)) {
		return value;
	}

	if (ArrayBuffer.isView(value)) {
		if (types.isSharedArrayBuffer(value.buffer)) {
			throw new TypeError(`Expected \`${name}\` not to be a view on a SharedArrayBuffer`);
		}

		return value;
	}

	return toUSVString(value);
}

/** The UTF-8 length of a string, or the byte length of binary data. */
export function sendDataLength(data: WebSendData): number {
	if (typeof data === 'string') {
		return Buffer.byteLength(data, 'utf8');
	}

	if (data instanceof Blob) {
		return data.size;
	}

	return data.byteLength;
}

/**
 * Gives a class the property shape WebIDL gives an interface (§3.7): regular operations and
 * attributes (accessors) on the prototype become enumerable; each constant becomes a readonly,
 * enumerable, non-configurable data property of the interface object and of the prototype; and
 * `Symbol.toStringTag` is the interface's name, so `Object.prototype.toString` reads `[object Name]`.
 */
export function defineInterface(
	interfaceObject: abstract new (...args: never[]) => unknown,
	name: string,
	constants: Readonly<Record<string, number>> = {},
): void {
	const prototype = interfaceObject.prototype as object;
	for (const key of Object.getOwnPropertyNames(prototype)) {
		if (key !== 'constructor') {
			Object.defineProperty(prototype, key, {enumerable: true});
		}
	}

	for (const [constant, value] of Object.entries(constants)) {
		const descriptor = {value, writable: false, enumerable: true, configurable: false};
		Object.defineProperty(interfaceObject, constant, descriptor);
		Object.defineProperty(prototype, constant, descriptor);
	}

	Object.defineProperty(prototype, Symbol.toStringTag, {value: name, writable: false, enumerable: false, configurable: true});
}
