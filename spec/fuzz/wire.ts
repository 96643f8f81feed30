// The fuzz suite's own view of the wire (RFC 6455 §5.2), written apart from lib/ so it checks lib/ instead of echoing it.

/** One frame as the fuzz peer writes it; any field may be invalid on purpose. */
export interface RawFrame {
	fin: boolean;
	/** Reserved bits as they stand in the first byte (a subset of 0x70). */
	rsv: number;
	/** 0–15. */
	opcode: number;
	/** The 4-byte key, or null for an unmasked frame. */
	maskKey: Buffer | null;
	payload: Buffer;
	/**
	 * How the length is written: 'minimal' (RFC 6455), or a wider encoding than needed
	 * ('16'/'64', non-minimal when the payload is short), or a declared length that is not the
	 * payload's ('declared', with `declaredLength`).
	 */
	lengthEncoding?: 'minimal' | '16' | '64' | 'declared';
	declaredLength?: bigint;
}

/** Encodes `frame` byte for byte as described, valid or not. */
export function encodeRawFrame(frame: RawFrame): Buffer {
	const {payload, maskKey} = frame;
	const encoding = frame.lengthEncoding ?? 'minimal';
	const declared = encoding === 'declared' ? (frame.declaredLength ?? BigInt(payload.length)) : BigInt(payload.length);
	let lengthBytes: Buffer;
	let length7: number;
	const width =
		encoding === '16' ? 16 : encoding === '64' ? 64 : declared < 126n ? 7 : declared < 65_536n ? 16 : 64;
	if (width === 7) {
		length7 = Number(declared);
		lengthBytes = Buffer.alloc(0);
	} else if (width === 16 && declared < 65_536n) {
		length7 = 126;
		lengthBytes = Buffer.alloc(2);
		lengthBytes.writeUInt16BE(Number(declared));
	} else {
		length7 = 127;
		lengthBytes = Buffer.alloc(8);
		lengthBytes.writeBigUInt64BE(declared & 0xff_ff_ff_ff_ff_ff_ff_ffn);
	}

	const head = Buffer.from([
		(frame.fin ? 0x80 : 0) | (frame.rsv & 0x70) | (frame.opcode & 0x0f),
		(maskKey === null ? 0 : 0x80) | length7,
	]);
	const body = Buffer.from(payload);
	if (maskKey !== null) {
		for (let i = 0; i < body.length; i++) {
			body[i] = body[i]! ^ maskKey[i & 3]!;
		}
	}

	return Buffer.concat([head, lengthBytes, maskKey ?? Buffer.alloc(0), body]);
}

/** A frame read back from bytes a connection wrote. */
export interface ParsedFrame {
	fin: boolean;
	rsv: number;
	opcode: number;
	masked: boolean;
	/** Unmasked. */
	payload: Buffer;
	/** Whether the length used the fewest bytes (RFC 6455 §5.2). */
	minimalLength: boolean;
}

/** Splits `bytes` into frames; `rest` holds the bytes of an incomplete last frame, `error` a length no frame can have. */
export function parseFrames(bytes: Buffer): {frames: ParsedFrame[]; rest: Buffer; error: string | null} {
	const frames: ParsedFrame[] = [];
	let position = 0;
	for (;;) {
		if (bytes.length - position < 2) {
			break;
		}

		const byte0 = bytes[position]!;
		const byte1 = bytes[position + 1]!;
		const masked = (byte1 & 0x80) !== 0;
		const length7 = byte1 & 0x7f;
		const extra = length7 === 126 ? 2 : length7 === 127 ? 8 : 0;
		const headerSize = 2 + extra + (masked ? 4 : 0);
		if (bytes.length - position < headerSize) {
			break;
		}

		let length: number;
		let minimalLength = true;
		if (length7 === 126) {
			length = bytes.readUInt16BE(position + 2);
			minimalLength = length >= 126;
		} else if (length7 === 127) {
			const big = bytes.readBigUInt64BE(position + 2);
			if (big > BigInt(Number.MAX_SAFE_INTEGER)) {
				return {frames, rest: bytes.subarray(position), error: `64-bit length ${big} at offset ${position}`};
			}

			length = Number(big);
			minimalLength = length >= 65_536;
		} else {
			length = length7;
		}

		if (bytes.length - position - headerSize < length) {
			break;
		}

		const payload = Buffer.from(bytes.subarray(position + headerSize, position + headerSize + length));
		if (masked) {
			const key = bytes.subarray(position + headerSize - 4, position + headerSize);
			for (let i = 0; i < payload.length; i++) {
				payload[i] = payload[i]! ^ key[i & 3]!;
			}
		}

		frames.push({fin: (byte0 & 0x80) !== 0, rsv: byte0 & 0x70, opcode: byte0 & 0x0f, masked, payload, minimalLength});
		position += headerSize + length;
	}

	return {frames, rest: bytes.subarray(position), error: null};
}

/**
 * Whether an endpoint may put `code` in a Close frame it sends (RFC 6455 §7.4.1–7.4.2 and the IANA
 * registry): 1000–1003, 1007–1014, 3000–4999. 1004 is reserved; 1005, 1006 and 1015 MUST NOT be sent.
 */
export function isSendableCloseCode(code: number): boolean {
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/**
 * Where UTF-8 `bytes` first become invalid, as a streaming validator that fails as early as it
 * can would see it: -1 while they are valid or a valid prefix (an unfinished last sequence),
 * else the index of the first byte that cannot be part of any valid text (RFC 3629).
 */
export function utf8FirstInvalid(bytes: Uint8Array): number {
	let i = 0;
	while (i < bytes.length) {
		const b = bytes[i]!;
		let need: number;
		let low = 0x80;
		let high = 0xbf;
		if (b < 0x80) {
			i++;
			continue;
		} else if (b >= 0xc2 && b <= 0xdf) {
			need = 1;
		} else if (b >= 0xe0 && b <= 0xef) {
			need = 2;
			if (b === 0xe0) {
				low = 0xa0;
			} else if (b === 0xed) {
				high = 0x9f; // no surrogates
			}
		} else if (b >= 0xf0 && b <= 0xf4) {
			need = 3;
			if (b === 0xf0) {
				low = 0x90;
			} else if (b === 0xf4) {
				high = 0x8f; // nothing above U+10FFFF
			}
		} else {
			return i;
		}

		for (let k = 1; k <= need; k++) {
			if (i + k >= bytes.length) {
				return -1; // a valid prefix: need more data
			}

			const c = bytes[i + k]!;
			if (c < (k === 1 ? low : 0x80) || c > (k === 1 ? high : 0xbf)) {
				return i + k;
			}
		}

		i += need + 1;
	}

	return -1;
}

/** Whether `bytes` are complete, valid UTF-8. */
export function isCompleteUtf8(bytes: Uint8Array): boolean {
	if (utf8FirstInvalid(bytes) !== -1) {
		return false;
	}

	// A valid prefix is complete when its last sequence is.
	let i = bytes.length - 1;
	let continuation = 0;
	while (i >= 0 && (bytes[i]! & 0xc0) === 0x80 && continuation < 3) {
		i--;
		continuation++;
	}

	if (i < 0) {
		return continuation === 0;
	}

	const lead = bytes[i]!;
	const need = lead < 0x80 ? 0 : lead < 0xe0 ? 1 : lead < 0xf0 ? 2 : 3;
	return need === continuation;
}
