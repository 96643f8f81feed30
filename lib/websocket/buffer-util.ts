// Buffer helpers for the frame codec: XOR masking a 32-bit word at a time (RFC 6455 §5.3).
// Like ws, masking uses the optional native `bufferutil` package when it is installed, for large
// payloads; the TypeScript path is complete on its own and is what runs without it.

// Builtins through process.getBuiltinModule(), not import: see docs/architecture.md, “Node's builtins”.
const {createRequire} = process.getBuiltinModule('node:module');

/** The part of `bufferutil`'s API websoup uses (the same signatures as {@link mask} and {@link unmask}). */
interface NativeMasking {
	mask(source: Buffer, maskKey: Buffer, output: Buffer, offset: number, length: number): void;
	unmask(buffer: Buffer, maskKey: Buffer): void;
}

/**
 * Loads `bufferutil` if it is installed and is the native build (its pure-JS fallback is slower
 * than {@link maskTs}); `WEBSOUP_NO_BUFFER_UTIL=1` turns it off, as `WS_NO_BUFFER_UTIL` does for ws.
 */
function loadNative(): NativeMasking | null {
	if (process.env['WEBSOUP_NO_BUFFER_UTIL'] !== undefined && process.env['WEBSOUP_NO_BUFFER_UTIL'] !== '') {
		return null;
	}

	try {
		const module = createRequire(import.meta.url)('bufferutil') as Partial<NativeMasking>;
		const native = typeof module.mask === 'function' && String(module.mask).includes('[native code]');
		return native && typeof module.unmask === 'function' ? (module as NativeMasking) : null;
	} catch {
		return null;
	}
}

const native = loadNative();

/** Whether masking runs through the native `bufferutil` for large payloads. */
export const nativeMasking = native !== null;

/** From this many bytes a call into `bufferutil` beats the TypeScript word loop. */
const NATIVE_THRESHOLD = 512;

/**
 * Below this many bytes the unrolled byte loop beats setting up two `Uint32Array` views (about
 * 80 ns); the two cross near 180 bytes (measured with `npx tsx bench/mask.ts` on Node 20).
 */
const WORD_MASK_THRESHOLD = 192;

// A 4-byte scratch area with its own, aligned ArrayBuffer: the rotated key is written byte by
// byte and read back as one platform-endian word. The payload words are read through the same
// kind of view, so the XOR lines up byte for byte on little- and big-endian hosts alike.
const keyBytes = new Uint8Array(4);
const keyWord = new Uint32Array(keyBytes.buffer);

/**
 * XORs `length` bytes of `source` (from its start) with `maskKey` into `output` at `offset`,
 * as RFC 6455 §5.3 masks a payload: byte `i` is XORed with `maskKey[i % 4]`.
 *
 * The aligned middle part is processed a 32-bit word at a time; the unaligned head and the tail
 * go through a byte loop. When `source` and `output` do not share the same alignment, the bytes
 * are first copied (`memmove`) and then masked in place, still a word at a time.
 *
 * `source` and `output` may be the same buffer at the same position (in-place masking), but must
 * not overlap otherwise.
 *
 * @param source - Bytes to mask; only the first `length` bytes are read, never written (unless
 * `output` is the same memory).
 * @param maskKey - The 4-byte masking key.
 * @param output - Where the masked bytes go.
 * @param offset - Position in `output` of the first masked byte.
 * @param length - Number of bytes to mask.
 * @throws {RangeError} If the key is not 4 bytes long or a range falls outside its buffer.
 */
export function mask(source: Buffer, maskKey: Buffer, output: Buffer, offset: number, length: number): void {
	if (native !== null && length >= NATIVE_THRESHOLD) {
		checkMaskArguments(source, maskKey, output, offset, length);
		native.mask(source, maskKey, output, offset, length);
		return;
	}

	maskTs(source, maskKey, output, offset, length);
}

/** {@link mask} in TypeScript only, whether or not `bufferutil` is installed. */
export function maskTs(source: Buffer, maskKey: Buffer, output: Buffer, offset: number, length: number): void {
	checkMaskArguments(source, maskKey, output, offset, length);
	if (length < WORD_MASK_THRESHOLD) {
		maskBytes(source, 0, output, offset, length, maskKey, 0);
		return;
	}

	if (((source.byteOffset ^ (output.byteOffset + offset)) & 3) !== 0) {
		// Different alignment: no single split gives aligned words on both sides.
		source.copy(output, offset, 0, length);
		maskWords(output, offset, output, offset, length, maskKey);
		return;
	}

	maskWords(source, 0, output, offset, length, maskKey);
}

function checkMaskArguments(source: Buffer, maskKey: Buffer, output: Buffer, offset: number, length: number): void {
	if (maskKey.length !== 4) {
		throw new RangeError(`Expected \`maskKey\` to be 4 bytes long, got \`${maskKey.length}\``);
	}

	if (length < 0 || length > source.length || offset < 0 || offset + length > output.length) {
		throw new RangeError(
			`Expected \`offset\` and \`length\` within the buffers, got \`${offset}\` and \`${length}\``,
		);
	}
}

/**
 * Unmasks (or masks: XOR is its own inverse) the whole of `buffer` in place with `maskKey`.
 *
 * @param buffer - The payload, modified in place.
 * @param maskKey - The 4-byte masking key.
 * @throws {RangeError} If the key is not 4 bytes long.
 */
export function unmask(buffer: Buffer, maskKey: Buffer): void {
	mask(buffer, maskKey, buffer, 0, buffer.length);
}

/** {@link unmask} in TypeScript only, whether or not `bufferutil` is installed. */
export function unmaskTs(buffer: Buffer, maskKey: Buffer): void {
	maskTs(buffer, maskKey, buffer, 0, buffer.length);
}

/** Byte loop over `[0, length)`, 4 bytes per step; `keyStart` is the key index of the first byte. */
function maskBytes(
	source: Buffer,
	sourceStart: number,
	output: Buffer,
	outputStart: number,
	length: number,
	maskKey: Buffer,
	keyStart: number,
): void {
	// Key bytes in local variables, rotated to the first byte: twice as fast as `maskKey[i & 3]`.
	const k0 = maskKey[keyStart & 3]!;
	const k1 = maskKey[(keyStart + 1) & 3]!;
	const k2 = maskKey[(keyStart + 2) & 3]!;
	const k3 = maskKey[(keyStart + 3) & 3]!;
	const whole = length & ~3;
	let i = 0;
	for (; i < whole; i += 4) {
		output[outputStart + i] = source[sourceStart + i]! ^ k0;
		output[outputStart + i + 1] = source[sourceStart + i + 1]! ^ k1;
		output[outputStart + i + 2] = source[sourceStart + i + 2]! ^ k2;
		output[outputStart + i + 3] = source[sourceStart + i + 3]! ^ k3;
	}

	if (i < length) {
		output[outputStart + i] = source[sourceStart + i]! ^ k0;
	}

	if (i + 1 < length) {
		output[outputStart + i + 1] = source[sourceStart + i + 1]! ^ k1;
	}

	if (i + 2 < length) {
		output[outputStart + i + 2] = source[sourceStart + i + 2]! ^ k2;
	}
}

/** Word loop; the caller guarantees both ranges have the same alignment modulo 4. */
function maskWords(
	source: Buffer,
	sourceStart: number,
	output: Buffer,
	outputStart: number,
	length: number,
	maskKey: Buffer,
): void {
	// Bytes before the first 4-byte boundary of the output (and so of the source).
	const head = Math.min((4 - ((output.byteOffset + outputStart) & 3)) & 3, length);
	maskBytes(source, sourceStart, output, outputStart, head, maskKey, 0);

	const words = (length - head) >>> 2;
	if (words > 0) {
		// The word that starts at payload index `head` sees the key rotated by `head` bytes.
		keyBytes[0] = maskKey[head & 3]!;
		keyBytes[1] = maskKey[(head + 1) & 3]!;
		keyBytes[2] = maskKey[(head + 2) & 3]!;
		keyBytes[3] = maskKey[(head + 3) & 3]!;
		const key = keyWord[0]!;
		const input = new Uint32Array(source.buffer, source.byteOffset + sourceStart + head, words);
		const result =
			source === output && sourceStart === outputStart
				? input
				: new Uint32Array(output.buffer, output.byteOffset + outputStart + head, words);
		// Unrolled by 4: about twice the throughput of the simple loop.
		const whole = words & ~3;
		let i = 0;
		for (; i < whole; i += 4) {
			result[i] = input[i]! ^ key;
			result[i + 1] = input[i + 1]! ^ key;
			result[i + 2] = input[i + 2]! ^ key;
			result[i + 3] = input[i + 3]! ^ key;
		}

		for (; i < words; i++) {
			result[i] = input[i]! ^ key;
		}
	}

	// Each word holds 4 bytes, so the tail starts on key index `head & 3` again.
	const done = head + words * 4;
	maskBytes(source, sourceStart + done, output, outputStart + done, length - done, maskKey, head & 3);
}

/**
 * A `Buffer` over the bytes of `data` — a Buffer, any ArrayBuffer view, or an ArrayBuffer —
 * without copying them.
 *
 * @param name - The argument's name, for the error.
 * @throws {TypeError} naming `name` for anything else.
 */
export function toBuffer(data: unknown, name: string): Buffer {
	if (Buffer.isBuffer(data)) {
		return data;
	}

	if (ArrayBuffer.isView(data)) {
		return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
	}

	if (data instanceof ArrayBuffer) {
		return Buffer.from(data);
	}

	throw new TypeError(`Expected \`${name}\` to be a Uint8Array, ArrayBuffer or ArrayBuffer view, got \`${typeof data}\``);
}
