// A reference reading of an input stream by RFC 6455 (and RFC 7692): what a correct connection delivers and how it ends.
//
// Written from the RFCs, not from lib/: where several rules are broken by one frame, every code
// they allow is accepted, so the oracle does not depend on the order lib/ checks them in.

import {isCompleteUtf8, isSendableCloseCode, utf8FirstInvalid} from './wire.ts';

export interface ExpectedMessage {
	type: 1 | 2;
	data: Buffer;
}

export type Terminal =
	/** The connection must fail with one of `codes` (a WebsocketError's code, and its Close frame). */
	| {kind: 'error'; codes: number[]; why: string}
	/** The peer's Close was valid: closed with this code (1005 for an empty Close). */
	| {kind: 'close'; code: number; reason: string | null}
	/** The input ended without a Close; `midFrame` when in the middle of a frame. */
	| {kind: 'eof'; midFrame: boolean};

export interface Expectation {
	/** False when the outcome cannot be predicted (a mutated compressed message): only the invariants hold. */
	exact: boolean;
	/** Delivered, in order, before the end. */
	messages: ExpectedMessage[];
	/** Payloads of the Pings that must be answered, in order. */
	pongs: Buffer[];
	/** Pings that may or may not be answered, after `pongs` (inside a compressed message that fails: lib may fail at any of its frames). */
	optionalPongs: Buffer[];
	terminal: Terminal | null;
	/** Frames read before the end, for the decoder oracle. */
	frames: number;
}

export interface OracleOptions {
	role: 'client' | 'server';
	deflate: boolean;
	maxIncomingPayloadSize: number;
	maxTotalMessageSize: number;
	/** Frames of one fragmented message, 0 = unlimited (ws 8.21's limit, issue 9 item 7). */
	maxIncomingFragments: number;
	plaintexts: Map<string, Buffer>;
}

const PROTOCOL = 1002;
const BAD_DATA = 1007;
const TOO_BIG = 1009;

/** The first-two-bytes and length rules of RFC 6455 §5.2, §5.4, §5.5; returns the codes they allow, or [] when the header is fine. */
export function headerViolations(
	byte0: number,
	byte1: number,
	options: {role: 'client' | 'server'; allowedRsv: number; maxPayloadSize: number; inMessage: boolean},
): number[] {
	const codes = new Set<number>();
	const fin = (byte0 & 0x80) !== 0;
	const rsv = byte0 & 0x70;
	const opcode = byte0 & 0x0f;
	const masked = (byte1 & 0x80) !== 0;
	const length7 = byte1 & 0x7f;
	if ((rsv & ~options.allowedRsv) !== 0) {
		codes.add(PROTOCOL);
	}

	if ((opcode >= 3 && opcode <= 7) || opcode >= 0xb) {
		codes.add(PROTOCOL);
	}

	if (masked !== (options.role === 'server')) {
		codes.add(PROTOCOL);
	}

	if (opcode >= 8 && (!fin || length7 > 125)) {
		codes.add(PROTOCOL);
	}

	if (opcode === 0 && !options.inMessage) {
		codes.add(PROTOCOL);
	}

	if ((opcode === 1 || opcode === 2) && options.inMessage) {
		codes.add(PROTOCOL);
	}

	if (length7 <= 125 && options.maxPayloadSize > 0 && length7 > options.maxPayloadSize) {
		codes.add(TOO_BIG);
	}

	return [...codes];
}

/** The extended length's rules: minimal encoding, top bit clear, the limit. */
export function lengthViolations(length: bigint, width: 16 | 64, maxPayloadSize: number): number[] {
	const codes: number[] = [];
	if (width === 16 && length < 126n) {
		codes.push(PROTOCOL);
	}

	if (width === 64 && length < 65_536n) {
		codes.push(PROTOCOL);
	}

	if (width === 64 && length >= 0x80_00_00_00_00_00_00_00n) {
		codes.push(PROTOCOL);
	}

	// Past what a buffer can hold, 1009 (too big to process) or 1002 (no real frame is that long).
	if (length > BigInt(Number.MAX_SAFE_INTEGER)) {
		codes.push(PROTOCOL, TOO_BIG);
	}

	if (maxPayloadSize > 0 && length > BigInt(maxPayloadSize)) {
		codes.push(TOO_BIG);
	}

	return codes;
}

export interface OracleFrame {
	fin: boolean;
	rsv: number;
	opcode: number;
	payload: Buffer;
}

/**
 * Reads `bytes` as the bare decoder must: the frames, then an error (with the codes allowed), or
 * the end of input (`midFrame`).
 */
export function decodeReference(
	bytes: Buffer,
	options: {role: 'client' | 'server'; allowedRsv: number; maxPayloadSize: number},
): {frames: OracleFrame[]; error: number[] | null; midFrame: boolean; partial: OracleFrame | null} {
	const frames: OracleFrame[] = [];
	let position = 0;
	let inMessage = false;
	for (;;) {
		const left = bytes.length - position;
		if (left < 2) {
			return {frames, error: null, midFrame: left > 0, partial: null};
		}

		const byte0 = bytes[position]!;
		const byte1 = bytes[position + 1]!;
		const first = headerViolations(byte0, byte1, {...options, inMessage});
		if (first.length > 0) {
			return {frames, error: first, midFrame: false, partial: null};
		}

		const length7 = byte1 & 0x7f;
		const width = length7 === 126 ? 16 : length7 === 127 ? 64 : 7;
		const lengthBytes = width === 16 ? 2 : width === 64 ? 8 : 0;
		if (left < 2 + lengthBytes) {
			return {frames, error: null, midFrame: true, partial: null};
		}

		let length = BigInt(length7);
		if (width === 16) {
			length = BigInt(bytes.readUInt16BE(position + 2));
		} else if (width === 64) {
			length = bytes.readBigUInt64BE(position + 2);
		}

		if (width !== 7) {
			const codes = lengthViolations(length, width, options.maxPayloadSize);
			if (codes.length > 0) {
				return {frames, error: [...new Set(codes)], midFrame: false, partial: null};
			}
		}

		const masked = (byte1 & 0x80) !== 0;
		const headerSize = 2 + lengthBytes + (masked ? 4 : 0);
		const opcode = byte0 & 0x0f;
		const fin = (byte0 & 0x80) !== 0;
		const complete = BigInt(left) >= BigInt(headerSize) + length;
		if (!complete && left < headerSize) {
			return {frames, error: null, midFrame: true, partial: null};
		}

		const payload = Buffer.from(bytes.subarray(position + headerSize, complete ? position + headerSize + Number(length) : bytes.length));
		if (masked) {
			const key = bytes.subarray(position + headerSize - 4, position + headerSize);
			for (let i = 0; i < payload.length; i++) {
				payload[i] = payload[i]! ^ key[i & 3]!;
			}
		}

		if (!complete) {
			// The header and part of the payload: what arrived is known (text can fail on it, issue 9 item 10).
			return {frames, error: null, midFrame: true, partial: {fin, rsv: byte0 & 0x70, opcode, payload}};
		}

		if (opcode < 8) {
			inMessage = !fin;
		}

		frames.push({fin, rsv: byte0 & 0x70, opcode, payload});
		position += headerSize + Number(length);
	}
}

/** What a correct connection does with `bytes`, followed by the end of input. */
export function expect(bytes: Buffer, options: OracleOptions): Expectation {
	const decoded = decodeReference(bytes, {
		role: options.role,
		allowedRsv: options.deflate ? 0x40 : 0,
		maxPayloadSize: options.maxIncomingPayloadSize,
	});
	const result: Expectation = {exact: true, messages: [], pongs: [], optionalPongs: [], terminal: null, frames: decoded.frames.length};
	let type: 1 | 2 = 1;
	let compressed = false;
	let parts: Buffer[] = [];
	let size = 0;
	let fragmentCount = 0;
	/** Pings inside the compressed message being assembled. */
	let pingsInMessage: Buffer[] = [];
	const fail = (codes: number[], why: string): Expectation => {
		result.terminal = {kind: 'error', codes, why};
		return result;
	};

	/**
	 * A compressed message left unfinished by the end: lib may have inflated part of it and failed
	 * (fail fast), so the outcome is certain only if what it compresses is known and valid.
	 */
	const unfinishedIsHarmless = (): boolean => {
		if (!compressed) {
			return true;
		}

		const prefix = Buffer.concat(parts).toString('hex');
		const limit = options.maxTotalMessageSize > 0 ? options.maxTotalMessageSize : options.maxIncomingPayloadSize;
		for (const [key, plain] of options.plaintexts) {
			if (key.startsWith(prefix)) {
				return !(limit > 0 && plain.length > limit) && (type !== 1 || isCompleteUtf8(plain));
			}
		}

		return false;
	};

	const end = (terminal: Terminal): Expectation => {
		if (!unfinishedIsHarmless()) {
			result.exact = false;
		}

		// The Pings inside an unfinished message are answered; the message is never delivered.
		result.pongs.push(...pingsInMessage);
		pingsInMessage = [];

		result.terminal = terminal;
		return result;
	};

	for (const frame of decoded.frames) {
		const {opcode, payload} = frame;
		if (opcode >= 8) {
			// RFC 7692 §6.1: RSV1 means "compressed" only on the first frame of a data message.
			if (frame.rsv !== 0) {
				return end({kind: 'error', codes: [PROTOCOL], why: 'reserved bit on a control frame'});
			}

			if (opcode === 9) {
				(compressed ? pingsInMessage : result.pongs).push(payload);
			} else if (opcode === 8) {
				if (payload.length === 0) {
					return end({kind: 'close', code: 1005, reason: null});
				}

				if (payload.length === 1) {
					return end({kind: 'error', codes: [PROTOCOL], why: 'close payload of 1 byte'});
				}

				const code = payload.readUInt16BE(0);
				if (!isSendableCloseCode(code)) {
					return end({kind: 'error', codes: [PROTOCOL], why: `close code ${code}`});
				}

				const reason = payload.subarray(2);
				if (!isCompleteUtf8(reason)) {
					// RFC 6455 §8.1 prefers 1007 for data that is not UTF-8; libsoup answers 1002.
					return end({kind: 'error', codes: [PROTOCOL, BAD_DATA], why: 'close reason not UTF-8'});
				}

				return end({kind: 'close', code, reason: reason.toString('utf8')});
			}

			continue;
		}

		const start = opcode !== 0;
		if (start) {
			type = opcode as 1 | 2;
			compressed = (frame.rsv & 0x40) !== 0;
			parts = [];
			size = 0;
			fragmentCount = 0;
			pingsInMessage = [];
		} else if (frame.rsv !== 0) {
			return end({kind: 'error', codes: [PROTOCOL], why: 'RSV1 on a continuation frame'});
		}

		parts.push(payload);
		size += payload.length;
		// Every frame of a fragmented message counts against the fragment limit, compressed or not.
		const tooMany = !(start && frame.fin) && options.maxIncomingFragments > 0 && ++fragmentCount > options.maxIncomingFragments;
		if (compressed && tooMany) {
			return end({kind: 'error', codes: [TOO_BIG], why: 'more fragments than max-incoming-fragments'});
		}

		if (!compressed) {
			const tooBig = options.maxTotalMessageSize > 0 && size > options.maxTotalMessageSize;
			const badText = type === 1 && utf8FirstInvalid(Buffer.concat(parts)) !== -1;
			if (tooBig || tooMany || badText) {
				const why = tooBig ? 'message over max-total-message-size' : tooMany ? 'more fragments than max-incoming-fragments' : 'invalid UTF-8 in a text fragment';
				return fail([...(tooBig || tooMany ? [TOO_BIG] : []), ...(badText ? [BAD_DATA] : [])], why);
			}

			if (frame.fin) {
				const data = Buffer.concat(parts);
				if (type === 1 && !isCompleteUtf8(data)) {
					return fail([BAD_DATA], 'text ends inside a UTF-8 sequence');
				}

				result.messages.push({type, data});
			}

			continue;
		}

		if (!frame.fin) {
			continue;
		}

		const plain = options.plaintexts.get(Buffer.concat(parts).toString('hex'));
		if (plain === undefined) {
			result.exact = false;
			return result;
		}

		const limit = options.maxTotalMessageSize > 0 ? options.maxTotalMessageSize : options.maxIncomingPayloadSize;
		const invalid =
			limit > 0 && plain.length > limit
				? 'inflated message over the limit'
				: type === 1 && !isCompleteUtf8(plain)
					? 'invalid UTF-8 in an inflated text'
					: null;
		if (invalid !== null) {
			// The connection may see it at any frame of the message: its Pings may go unanswered.
			result.optionalPongs = pingsInMessage;
			return fail(invalid.startsWith('inflated message') ? [TOO_BIG] : [BAD_DATA], invalid);
		}

		result.pongs.push(...pingsInMessage);
		pingsInMessage = [];
		compressed = false;
		result.messages.push({type, data: plain});
	}

	if (decoded.error !== null) {
		return end({kind: 'error', codes: decoded.error, why: 'frame header'});
	}

	// Issue 9 item 10: text is validated as its payload arrives, so invalid UTF-8 in the part of a
	// frame that did arrive fails the connection even though the frame never completes.
	const partial = decoded.partial;
	if (partial !== null && partial.opcode < 8 && partial.rsv === 0) {
		const startsText = partial.opcode === 1;
		const continuesText = partial.opcode === 0 && type === 1 && !compressed && parts.length > 0;
		const sofar = startsText ? partial.payload : continuesText ? Buffer.concat([...parts, partial.payload]) : null;
		if (sofar !== null && utf8FirstInvalid(sofar) !== -1) {
			return end({kind: 'error', codes: [BAD_DATA], why: 'invalid UTF-8 in the part of a text frame that arrived'});
		}
	}

	return end({kind: 'eof', midFrame: decoded.midFrame});
}
