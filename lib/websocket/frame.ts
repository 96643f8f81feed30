// Frame encoding (RFC 6455 §5.2): headers with minimal length, masking, mask keys, Close payloads.

import {mask} from './buffer-util.ts';
import {FIN_BIT, MASK_BIT, MAX_CLOSE_REASON, OPCODE_MASK, PAYLOAD_LENGTH_16, PAYLOAD_LENGTH_64, RSV_MASK} from './constants.ts';

// Builtins through process.getBuiltinModule(), not import: see docs/architecture.md, “Node's builtins”.
const {randomFillSync} = process.getBuiltinModule('node:crypto');

/** A decoded frame, as {@link WebsocketFramer.readFrames} returns it. */
export interface DecodedFrame {
	/** FIN: this is the last frame of its message. */
	fin: boolean;
	/** The reserved bits as they stand in the first header byte (`0x40` is RSV1). */
	rsv: number;
	/** The opcode, 0–15. */
	opcode: number;
	/** The payload, unmasked. */
	payload: Buffer;
}

/** How {@link encodeFrame} builds a frame's header. */
export interface FrameHeaderOptions {
	/**
	 * FIN: this is the last frame of its message.
	 * @defaultValue true
	 */
	fin?: boolean | undefined;
	/**
	 * Reserved bits (a subset of `0x70`, as they stand in the first header byte) set by a
	 * negotiated extension.
	 * @defaultValue 0
	 */
	rsv?: number | undefined;
	/**
	 * The 4-byte masking key: the payload is masked with it (a client MUST mask, RFC 6455 §5.3).
	 * `null` or absent: the frame is not masked.
	 * @defaultValue null
	 */
	maskKey?: Buffer | null | undefined;
}

/**
 * Unmasked payloads up to this size are copied behind the header, so the frame goes out as one
 * buffer in one write; larger ones are returned as `[header, payload]` without copying. Copying
 * 1 KiB costs about as much as the bookkeeping of a second buffer in a vectored write.
 */
export const COPY_THRESHOLD = 1024;

/** RFC 6455 §5.2: 2 bytes, plus 2 or 8 of extended length, plus 4 of masking key. */
export const MAX_HEADER_SIZE = 14;

/**
 * Encodes one frame (RFC 6455 §5.2) with the shortest length encoding: 7 bits below 126,
 * 16 bits below 65536, 64 bits otherwise.
 *
 * Returns `[header, payload]` for a large unmasked payload, the caller's buffer included as is
 * (not copied); otherwise a single buffer holding header and payload. A masked frame is always
 * a single new buffer: the caller's payload is never modified.
 *
 * This is a codec, not a policy: it does not enforce the §5.5 rules on control frames
 * (FIN set, at most 125 bytes), so tests can build invalid frames; the connection checks them.
 *
 * @param opcode - The opcode, 0–15.
 * @param payload - The (application or extension) payload.
 * @param options - FIN, reserved bits and masking key.
 * @returns The buffers to write, in order.
 * @throws {RangeError} If the opcode is not 0–15, `rsv` has bits outside `0x70`, or the mask
 * key is not 4 bytes long.
 */
export function encodeFrame(opcode: number, payload: Buffer, options: FrameHeaderOptions = {}): Buffer[] {
	const {fin = true, rsv = 0, maskKey = null} = options;
	if (!Number.isInteger(opcode) || opcode < 0 || opcode > OPCODE_MASK) {
		throw new RangeError(`Expected \`opcode\` to be an integer from 0 to 15, got \`${opcode}\``);
	}

	if ((rsv & ~RSV_MASK) !== 0) {
		throw new RangeError(`Expected \`rsv\` to be a subset of 0x70, got \`${rsv}\``);
	}

	if (maskKey !== null && maskKey.length !== 4) {
		throw new RangeError(`Expected \`maskKey\` to be 4 bytes long, got \`${maskKey.length}\``);
	}

	const length = payload.length;
	const headerSize = encodedFrameSize(length, maskKey !== null) - length;
	const inline = maskKey !== null || length <= COPY_THRESHOLD;
	let frame: Buffer;
	if (maskKey !== null && length >= 192) {
		// From 192 bytes mask() works a word at a time: place the payload at the same alignment
		// (mod 4) as the source so both sides are aligned; this costs at most 3 spare bytes.
		const raw = Buffer.allocUnsafe(headerSize + length + 3);
		const shift = (payload.byteOffset - raw.byteOffset - headerSize) & 3;
		frame = raw.subarray(shift, shift + headerSize + length);
	} else {
		frame = Buffer.allocUnsafe(inline ? headerSize + length : headerSize);
	}

	writeHeader(frame, 0, (fin ? FIN_BIT : 0) | rsv | opcode, length, maskKey);
	if (maskKey !== null) {
		mask(payload, maskKey, frame, headerSize, length);
		return [frame];
	}

	if (inline) {
		payload.copy(frame, headerSize);
		return [frame];
	}

	return [frame, payload];
}

/**
 * The size of the frame {@link encodeFrame} makes for a payload of `length` bytes.
 *
 * @param length - The payload's length.
 * @param masked - Whether the frame carries a masking key.
 */
export function encodedFrameSize(length: number, masked: boolean): number {
	return 2 + (length >= 65_536 ? 8 : length >= PAYLOAD_LENGTH_16 ? 2 : 0) + (masked ? 4 : 0) + length;
}

/**
 * Writes the frame {@link encodeFrame} would make (FIN set, no reserved bits) into `target` at
 * `offset`, which must have room for {@link encodedFrameSize} bytes. The connection's fast path
 * for small frames: its opcode and key are its own, so nothing is validated here.
 *
 * @param target - Where the frame goes.
 * @param offset - Position of its first byte.
 * @param opcode - The opcode.
 * @param payload - The payload; never modified.
 * @param maskKey - The 4-byte masking key, or `null` for an unmasked frame.
 * @returns The offset just past the frame.
 */
export function writeFrameInto(target: Buffer, offset: number, opcode: number, payload: Buffer, maskKey: Buffer | null): number {
	const at = writeHeader(target, offset, FIN_BIT | opcode, payload.length, maskKey);
	if (maskKey === null) {
		payload.copy(target, at);
	} else {
		mask(payload, maskKey, target, at, payload.length);
	}

	return at + payload.length;
}

/**
 * Writes a frame header at `offset`: the first byte as given, the shortest length encoding (7 bits
 * below 126, 16 bits below 65536, 64 bits otherwise), then the masking key if there is one.
 *
 * @returns The offset of the payload.
 */
function writeHeader(target: Buffer, offset: number, first: number, length: number, maskKey: Buffer | null): number {
	const maskBit = maskKey === null ? 0 : MASK_BIT;
	let at = offset + 2;
	target[offset] = first;
	if (length < PAYLOAD_LENGTH_16) {
		target[offset + 1] = maskBit | length;
	} else if (length < 65_536) {
		target[offset + 1] = maskBit | PAYLOAD_LENGTH_16;
		target.writeUInt16BE(length, at);
		at += 2;
	} else {
		target[offset + 1] = maskBit | PAYLOAD_LENGTH_64;
		// Buffers are far below 2^53 bytes; split into two 32-bit halves.
		target.writeUInt32BE(Math.floor(length / 0x1_00_00_00_00), at);
		target.writeUInt32BE(length >>> 0, at + 4);
		at += 8;
	}

	if (maskKey !== null) {
		target[at] = maskKey[0]!;
		target[at + 1] = maskKey[1]!;
		target[at + 2] = maskKey[2]!;
		target[at + 3] = maskKey[3]!;
		at += 4;
	}

	return at;
}

/** Random bytes taken 4 at a time by {@link generateMaskKey}. */
const MASK_POOL_SIZE = 8 * 1024;
let maskPool = Buffer.alloc(0);
let maskPoolOffset = 0;

/**
 * Returns a fresh 4-byte masking key from a strong source of entropy (RFC 6455 §5.3: "the masking
 * key MUST be derived from a strong source of entropy ... unpredictable").
 *
 * Keys are slices of a pooled buffer filled by `crypto.randomFillSync`; when it is used up a new
 * pool is allocated (not refilled in place), so a key already handed out never changes.
 */
export function generateMaskKey(): Buffer {
	if (maskPoolOffset + 4 > maskPool.length) {
		maskPool = randomFillSync(Buffer.allocUnsafeSlow(MASK_POOL_SIZE));
		maskPoolOffset = 0;
	}

	const key = maskPool.subarray(maskPoolOffset, maskPoolOffset + 4);
	maskPoolOffset += 4;
	return key;
}

/**
 * Builds a Close frame payload (RFC 6455 §5.5.1): the code as 16-bit big-endian, then the
 * reason as UTF-8. With `code` `null` the payload is empty (libsoup's 1005, "no status").
 *
 * @param code - The close code, or `null` for an empty payload. The code is not checked
 * against the registry here; the connection decides which codes it may send.
 * @param reason - The reason, a string (encoded as UTF-8) or the bytes themselves.
 * @returns The payload, at most 125 bytes.
 * @throws {RangeError} If the code is not an integer from 0 to 65535, the reason is longer than
 * 123 bytes, or a reason is given without a code.
 */
export function encodeClosePayload(code: number | null, reason?: string | Buffer): Buffer {
	const reasonLength = reason === undefined ? 0 : Buffer.byteLength(reason);
	if (code === null) {
		if (reasonLength > 0) {
			throw new RangeError('Expected a close `code` with a `reason`, got `null`');
		}

		return Buffer.alloc(0);
	}

	if (!Number.isInteger(code) || code < 0 || code > 0xff_ff) {
		throw new RangeError(`Expected \`code\` to be an integer from 0 to 65535, got \`${code}\``);
	}

	if (reasonLength > MAX_CLOSE_REASON) {
		throw new RangeError(
			`Expected \`reason\` to be at most ${MAX_CLOSE_REASON} bytes of UTF-8, got \`${reasonLength}\``,
		);
	}

	const payload = Buffer.allocUnsafe(2 + reasonLength);
	payload.writeUInt16BE(code, 0);
	if (typeof reason === 'string') {
		payload.write(reason, 2, 'utf8');
	} else if (reason !== undefined) {
		reason.copy(payload, 2);
	}

	return payload;
}
