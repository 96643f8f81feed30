// WebSocket frame decoder: incremental, no I/O; checks of libsoup's process_frame (RFC 6455 §5).

import {mask, unmask} from './buffer-util.ts';
import {
	CloseCode,
	DEFAULT_MAX_INCOMING_PAYLOAD_SIZE,
	FIN_BIT,
	MASK_BIT,
	MAX_CONTROL_PAYLOAD,
	Opcode,
	OPCODE_MASK,
	PAYLOAD_LENGTH_16,
	PAYLOAD_LENGTH_64,
	PAYLOAD_LENGTH_MASK,
	RSV_MASK,
} from './constants.ts';
import {type Peer, WebsocketError, protocolError, tooBigError} from './errors.ts';
import {MAX_HEADER_SIZE} from './frame.ts';

// Builtins through process.getBuiltinModule(), not import: see docs/architecture.md, “Node's builtins”.
const {constants: bufferConstants} = process.getBuiltinModule('node:buffer');

/** Receives what a {@link FrameDecoder} decodes. */
export interface FrameDecoderHandler {
	/**
	 * One complete frame, payload already unmasked. For a frame contained in one pushed chunk
	 * the payload is a view into that chunk (zero copy): keep it beyond this call only if the
	 * chunk's memory is not reused.
	 */
	onFrame(fin: boolean, rsv: number, opcode: number, payload: Buffer): void;
	/** Called at most once; the decoder stops afterwards. */
	onError(error: WebsocketError): void;
	/**
	 * Optional: the bytes of a data frame's payload that just arrived, when the payload spans
	 * chunks (`payload[start, end)`, unmasked, `start` 0 for the first piece), so the handler can
	 * check them before the frame is complete (UTF-8 fails fast). `onFrame` follows with the whole
	 * payload. The handler may stop the decoder.
	 */
	onPartialPayload?(opcode: number, rsv: number, payload: Buffer, start: number, end: number): void;
}

/** Options of a {@link FrameDecoder}. */
export interface FrameDecoderOptions {
	/** 'server': we are the server, frames MUST be masked; 'client': frames MUST NOT be masked. */
	role: 'client' | 'server';
	/**
	 * Max payload bytes per frame, 0 = unlimited.
	 * @defaultValue 131072 ({@link DEFAULT_MAX_INCOMING_PAYLOAD_SIZE})
	 */
	maxPayloadSize?: number | undefined;
	/**
	 * Reserved bits (mask of 0x70) that negotiated extensions may set; others fail with 1002.
	 * @defaultValue 0
	 */
	allowedRsv?: number | undefined;
}

/** Where the decoder stands within the current frame. */
export const FrameDecoderState = {
	/** Collecting the header: 2 bytes, extended length, masking key. */
	HEADER: 'header',
	/** Collecting the payload. */
	PAYLOAD: 'payload',
	/** Stopped by an error, by `stop()` or by `end()`: input is ignored. */
	STOPPED: 'stopped',
} as const;
export type FrameDecoderState = (typeof FrameDecoderState)[keyof typeof FrameDecoderState];

const EMPTY = Buffer.alloc(0);
/**
 * The masking key of the frame being unmasked, written just before each (synchronous) unmask:
 * one 4-byte buffer for every decoder, so an idle decoder holds no buffer of its own.
 */
const maskScratch = Buffer.alloc(4);
const TWO_TO_THE_32 = 0x1_00_00_00_00;

/**
 * An incremental WebSocket frame decoder: push bytes in chunks of any size, get complete,
 * unmasked frames and at most one error through a {@link FrameDecoderHandler}. It does no I/O.
 *
 * Every check is made as soon as the header bytes that reveal a problem arrive, before any payload
 * is buffered; this includes the `maxPayloadSize` limit. A frame whose payload lies in one chunk is
 * delivered as a view into it (unmasked in place); a payload that spans chunks is copied into one
 * buffer allocated exactly once, when its first bytes must be kept.
 *
 * The decoder also tracks fragmentation (RFC 6455 §5.4): continuation frames outside a fragmented
 * message and new data frames inside one are errors; control frames between fragments are fine.
 */
export class FrameDecoder {
	readonly #handler: FrameDecoderHandler;
	/** The sender of the frames we decode: the other side. */
	readonly #peer: Peer;
	readonly #expectMask: boolean;
	#maxPayloadSize: number;
	#allowedRsv: number;

	#state: FrameDecoderState = FrameDecoderState.HEADER;
	/** Within `push()`: guards against re-entrant calls from the handler. */
	#pushing = false;
	/** A fragmented data message is in progress (a data frame without FIN was accepted). */
	#inMessage = false;

	/** Header bytes kept from earlier chunks when a header spans chunks; allocated the first time one does. */
	#header: Buffer | null = null;
	#headerLength = 0;

	// The frame being decoded.
	#fin = false;
	#rsv = 0;
	#opcode = 0;
	#masked = false;
	/** The masking key, as a big-endian 32-bit number. */
	#maskKey = 0;
	#payloadLength = 0;
	/** Payload bytes kept from earlier chunks, or `null` while none had to be kept. */
	#payload: Buffer | null = null;
	#payloadReceived = 0;

	/**
	 * @param handler - Receives frames and the error.
	 * @param options - Role, limit and allowed reserved bits.
	 * @throws {RangeError} On an invalid `maxPayloadSize` or `allowedRsv`.
	 */
	constructor(handler: FrameDecoderHandler, options: FrameDecoderOptions) {
		if (options.role !== 'client' && options.role !== 'server') {
			throw new TypeError(`Expected \`role\` to be 'client' or 'server', got \`${String(options.role)}\``);
		}

		this.#handler = handler;
		this.#peer = options.role === 'server' ? 'client' : 'server';
		this.#expectMask = options.role === 'server';
		this.#maxPayloadSize = checkMaxPayloadSize(options.maxPayloadSize ?? DEFAULT_MAX_INCOMING_PAYLOAD_SIZE);
		this.#allowedRsv = checkAllowedRsv(options.allowedRsv ?? 0);
	}

	/** Max payload bytes per frame, 0 = unlimited. A change takes effect at the next header. */
	get maxPayloadSize(): number {
		return this.#maxPayloadSize;
	}

	set maxPayloadSize(value: number) {
		this.#maxPayloadSize = checkMaxPayloadSize(value);
	}

	/** Reserved bits (subset of 0x70) that frames may carry. A change takes effect at the next header. */
	get allowedRsv(): number {
		return this.#allowedRsv;
	}

	set allowedRsv(value: number) {
		this.#allowedRsv = checkAllowedRsv(value);
	}

	/** Whether the decoder has stopped (error, {@link FrameDecoder.stop} or {@link FrameDecoder.end}). */
	get stopped(): boolean {
		return this.#state === FrameDecoderState.STOPPED;
	}

	/** Where the decoder stands within the current frame. */
	get state(): FrameDecoderState {
		return this.#state;
	}

	/** Bytes of the current, incomplete frame held by the decoder (header and payload). */
	get bufferedBytes(): number {
		return this.#headerLength + this.#payloadReceived;
	}

	/**
	 * Decodes the bytes of `chunk`, calling the handler for each complete frame. Any chunking
	 * works, from single bytes to many frames at once. Ignored once stopped.
	 *
	 * The payload of a masked frame contained in `chunk` is unmasked in place, in `chunk`.
	 *
	 * @param chunk - The next bytes received.
	 * @throws {Error} If called from within the handler. Whatever the handler throws propagates;
	 * the rest of that chunk is then lost, and decoding resumes at the next push, expecting a header.
	 */
	push(chunk: Buffer): void {
		if (this.#pushing) {
			throw new Error('FrameDecoder.push() must not be called from within its handler');
		}

		this.#pushing = true;
		try {
			this.#decode(chunk);
		} finally {
			this.#pushing = false;
		}
	}

	/** Stops decoding and discards what is buffered. The handler may call this from `onFrame`. */
	stop(): void {
		this.#state = FrameDecoderState.STOPPED;
		this.#release();
	}

	/**
	 * Tells the decoder that the input has ended, and stops it.
	 *
	 * @returns A 1002 `WS_ERR_INCOMPLETE_FRAME` error if the input ended in the middle of a frame,
	 * else `null` (also when already stopped). The handler is not called.
	 */
	end(): WebsocketError | null {
		const midFrame =
			this.#state === FrameDecoderState.PAYLOAD ||
			(this.#state === FrameDecoderState.HEADER && this.#headerLength > 0);
		this.stop();
		return midFrame ? protocolError(this.#peer, 'WS_ERR_INCOMPLETE_FRAME') : null;
	}

	#decode(chunk: Buffer): void {
		let position = 0;
		// Each step consumes at least one byte, or stops the decoder.
		while (position < chunk.length && !this.stopped) {
			position =
				this.#state === FrameDecoderState.PAYLOAD
					? this.#readPayload(chunk, position)
					: this.#readHeader(chunk, position);
		}
	}

	/**
	 * Reads header bytes from `chunk` at `position`; once the header is complete the state is
	 * PAYLOAD (or HEADER again if an empty payload was delivered).
	 * @returns The position after the bytes consumed (the end of the chunk after an error).
	 */
	#readHeader(chunk: Buffer, position: number): number {
		const available = chunk.length - position;
		if (this.#headerLength === 0 && available >= 2) {
			const size = headerSize(chunk[position + 1]!);
			if (available >= size) {
				// Fast path: the whole header is in this chunk, parse it in place.
				const error =
					this.#checkFirstBytes(chunk[position]!, chunk[position + 1]!) ??
					this.#checkLength(chunk, position);
				if (error !== null) {
					this.#fail(error);
					return chunk.length;
				}

				this.#acceptHeader(chunk, position);
				return position + size;
			}
		}

		// Slow path: the header spans chunks. Keep its bytes, and check each part (first two
		// bytes, extended length) as soon as it is complete.
		let consumed = 0;
		const header = (this.#header ??= Buffer.alloc(MAX_HEADER_SIZE));
		for (;;) {
			const wanted = this.#headerLength < 2 ? 2 : headerSize(header[1]!);
			if (this.#headerLength === wanted) {
				break;
			}

			const take = Math.min(wanted - this.#headerLength, available - consumed);
			if (take === 0) {
				return position + consumed; // need more data
			}

			const before = this.#headerLength;
			chunk.copy(header, before, position + consumed, position + consumed + take);
			this.#headerLength += take;
			consumed += take;
			const after = this.#headerLength;
			let error: WebsocketError | null = null;
			if (before < 2 && after >= 2) {
				error = this.#checkFirstBytes(header[0]!, header[1]!);
			} else {
				const lengthEnd = 2 + lengthSize7(header[1]! & PAYLOAD_LENGTH_MASK);
				if (lengthEnd > 2 && before < lengthEnd && after >= lengthEnd) {
					error = this.#checkLength(header, 0);
				}
			}

			if (error !== null) {
				this.#fail(error);
				return chunk.length;
			}
		}

		this.#acceptHeader(header, 0);
		return position + consumed;
	}

	/** Takes the frame's fields from a complete, checked header at `source[start]`; delivers an empty frame. */
	#acceptHeader(source: Buffer, start: number): void {
		const byte0 = source[start]!;
		const byte1 = source[start + 1]!;
		const length7 = byte1 & PAYLOAD_LENGTH_MASK;
		this.#fin = (byte0 & FIN_BIT) !== 0;
		this.#rsv = byte0 & RSV_MASK;
		this.#opcode = byte0 & OPCODE_MASK;
		this.#masked = (byte1 & MASK_BIT) !== 0;
		let offset = start + 2;
		if (length7 === PAYLOAD_LENGTH_16) {
			this.#payloadLength = source.readUInt16BE(offset);
			offset += 2;
		} else if (length7 === PAYLOAD_LENGTH_64) {
			this.#payloadLength = source.readUInt32BE(offset) * TWO_TO_THE_32 + source.readUInt32BE(offset + 4);
			offset += 8;
		} else {
			this.#payloadLength = length7;
		}

		if (this.#masked) {
			this.#maskKey = source.readUInt32BE(offset);
		}

		if (this.#opcode < Opcode.CLOSE) {
			// A data frame: a message is in progress until a frame with FIN.
			this.#inMessage = !this.#fin;
		}

		this.#headerLength = 0;
		this.#state = FrameDecoderState.PAYLOAD;
		if (this.#payloadLength === 0) {
			// Delivered now: an empty payload may come at the very end of a chunk.
			this.#deliver(EMPTY);
		}
	}

	/** Checks what the first two header bytes tell: bits, opcode, masking, control frame rules, fragmentation. */
	#checkFirstBytes(byte0: number, byte1: number): WebsocketError | null {
		const fin = (byte0 & FIN_BIT) !== 0;
		const rsv = byte0 & RSV_MASK;
		const opcode = byte0 & OPCODE_MASK;
		const masked = (byte1 & MASK_BIT) !== 0;
		const length7 = byte1 & PAYLOAD_LENGTH_MASK;

		// RFC 6455 §5.2: RSV1-3 MUST be 0 unless an extension is negotiated that defines meanings
		// for non-zero values. If a nonzero value is received and none of the negotiated extensions
		// defines the meaning of such a nonzero value, the receiving endpoint MUST _Fail the
		// WebSocket Connection_.
		if ((rsv & ~this.#allowedRsv) !== 0) {
			return protocolError(this.#peer, 'WS_ERR_INVALID_RSV_BITS');
		}

		// RFC 6455 §5.2: if an unknown opcode is received, the receiving endpoint MUST _Fail the
		// WebSocket Connection_ (%x3-7 and %xB-F are reserved).
		if ((opcode > Opcode.BINARY && opcode < Opcode.CLOSE) || opcode > Opcode.PONG) {
			return protocolError(this.#peer, 'WS_ERR_INVALID_OPCODE');
		}

		if (this.#expectMask && !masked) {
			// RFC 6455 §5.1: the server MUST close the connection upon receiving a frame that is
			// not masked.
			return protocolError(this.#peer, 'WS_ERR_EXPECTED_MASK');
		}

		if (!this.#expectMask && masked) {
			// RFC 6455 §5.1: a client MUST close a connection if it detects a masked frame.
			return protocolError(this.#peer, 'WS_ERR_UNEXPECTED_MASK');
		}

		if (opcode >= Opcode.CLOSE) {
			// RFC 6455 §5.5: all control frames MUST have a payload length of 125 bytes or less
			// and MUST NOT be fragmented.
			if (!fin) {
				return protocolError(this.#peer, 'WS_ERR_FRAGMENTED_CONTROL_FRAME');
			}

			if (length7 > MAX_CONTROL_PAYLOAD) {
				return protocolError(this.#peer, 'WS_ERR_CONTROL_FRAME_TOO_LONG');
			}
		} else if (opcode === Opcode.CONTINUATION) {
			// RFC 6455 §5.4: a fragmented message consists of a single frame with the FIN bit clear
			// and an opcode other than 0, followed by zero or more frames with the FIN bit clear and
			// the opcode set to 0 — so a continuation frame needs a message in progress.
			if (!this.#inMessage) {
				return protocolError(this.#peer, 'WS_ERR_UNEXPECTED_CONTINUATION');
			}
		} else if (this.#inMessage) {
			// RFC 6455 §5.4: the fragments of one message MUST NOT be interleaved between the
			// fragments of another message unless an extension has been negotiated that can
			// interpret the interleaving.
			return protocolError(this.#peer, 'WS_ERR_EXPECTED_CONTINUATION');
		}

		if (lengthSize7(length7) === 0) {
			return this.#checkLimit(length7);
		}

		return null;
	}

	/**
	 * Checks the extended payload length, if any, of the header at `source[start]`; at least its
	 * first 2 + 2 or 2 + 8 bytes are there.
	 */
	#checkLength(source: Buffer, start: number): WebsocketError | null {
		const lengthSize = lengthSize7(source[start + 1]! & PAYLOAD_LENGTH_MASK);
		if (lengthSize === 0) {
			return null; // the 7-bit length was checked with the first bytes
		}

		const offset = start + 2;
		let length: number;
		if (lengthSize === 2) {
			length = source.readUInt16BE(offset);
			// RFC 6455 §5.2: in all cases, the minimal number of bytes MUST be used to encode the
			// length (a 16-bit length is for 126 to 65535).
			if (length <= 125) {
				return protocolError(this.#peer, 'WS_ERR_NON_MINIMAL_LENGTH');
			}
		} else {
			const high = source.readUInt32BE(offset);
			// RFC 6455 §5.2: the most significant bit MUST be 0. Beyond 2^53 - 1 the length
			// cannot be represented, let alone buffered.
			if (high > 0x1f_ff_ff) {
				return protocolError(this.#peer, 'WS_ERR_INVALID_LENGTH');
			}

			length = high * TWO_TO_THE_32 + source.readUInt32BE(offset + 4);
			// RFC 6455 §5.2: in all cases, the minimal number of bytes MUST be used to encode the
			// length (a 64-bit length is for 65536 and more).
			if (length <= 65_535) {
				return protocolError(this.#peer, 'WS_ERR_NON_MINIMAL_LENGTH');
			}
		}

		return this.#checkLimit(length);
	}

	/** Checks a payload length against `maxPayloadSize`, before anything is buffered. */
	#checkLimit(length: number): WebsocketError | null {
		// libsoup: a frame over max-incoming-payload-size fails with 1009 (RFC 6455 §7.4.1: "a
		// message that is too big for it to process").
		if (this.#maxPayloadSize > 0 && length > this.#maxPayloadSize) {
			return tooBigError(this.#peer, 'max-incoming-payload-size', this.#maxPayloadSize, length);
		}

		if (length > bufferConstants.MAX_LENGTH) {
			return new WebsocketError(
				CloseCode.TOO_BIG,
				'WS_ERR_PAYLOAD_TOO_BIG',
				`Received WebSocket payload from the ${this.#peer} larger than the largest possible buffer`,
			);
		}

		return null;
	}

	/** Reads payload bytes from `chunk` at `position`; returns the new position. */
	#readPayload(chunk: Buffer, position: number): number {
		const available = chunk.length - position;
		if (this.#payload === null) {
			if (available >= this.#payloadLength) {
				// Zero copy: the whole payload lies in this chunk.
				const end = position + this.#payloadLength;
				const payload = chunk.subarray(position, end);
				if (this.#masked) {
					maskScratch.writeUInt32BE(this.#maskKey, 0);
					unmask(payload, maskScratch);
				}

				this.#deliver(payload);
				return end;
			}

			// The payload spans chunks: allocate it once, now that bytes must be kept.
			try {
				this.#payload = Buffer.allocUnsafe(this.#payloadLength);
			} catch (error: unknown) {
				this.#fail(
					new WebsocketError(
						CloseCode.TOO_BIG,
						'WS_ERR_PAYLOAD_TOO_BIG',
						`Received WebSocket payload from the ${this.#peer} too large to buffer`,
						{cause: error},
					),
				);
				return chunk.length;
			}
		}

		const payload = this.#payload;
		const received = this.#payloadReceived;
		const take = Math.min(this.#payloadLength - received, available);
		if (this.#masked) {
			// Unmask while copying, one pass over the bytes: payload byte `received` takes key byte
			// `received % 4`, so the key is rotated left by that many bytes.
			const shift = (received & 3) * 8;
			const key = this.#maskKey;
			maskScratch.writeUInt32BE(shift === 0 ? key : ((key << shift) | (key >>> (32 - shift))) >>> 0, 0);
			mask(chunk.subarray(position, position + take), maskScratch, payload, received, take);
		} else {
			chunk.copy(payload, received, position, position + take);
		}

		this.#payloadReceived = received + take;
		if (this.#payloadReceived < this.#payloadLength) {
			if (this.#opcode < Opcode.CLOSE && this.#handler.onPartialPayload !== undefined) {
				this.#handler.onPartialPayload(this.#opcode, this.#rsv, payload, received, received + take);
				if (this.stopped) {
					return chunk.length;
				}
			}

			return position + take; // need more data
		}

		this.#deliver(payload);
		return position + take;
	}

	/** Hands the current frame to the handler; the decoder is ready for the next header first. */
	#deliver(payload: Buffer): void {
		this.#payload = null;
		this.#payloadReceived = 0;
		this.#state = FrameDecoderState.HEADER;
		this.#handler.onFrame(this.#fin, this.#rsv, this.#opcode, payload);
	}

	#fail(error: WebsocketError): void {
		this.stop();
		this.#handler.onError(error);
	}

	#release(): void {
		this.#payload = null;
		this.#payloadReceived = 0;
		this.#headerLength = 0;
	}
}

/** Bytes of extended length that the 7-bit length announces. */
function lengthSize7(length7: number): number {
	return length7 === PAYLOAD_LENGTH_16 ? 2 : length7 === PAYLOAD_LENGTH_64 ? 8 : 0;
}

/** The full header size announced by the second header byte. */
function headerSize(byte1: number): number {
	return 2 + lengthSize7(byte1 & PAYLOAD_LENGTH_MASK) + ((byte1 & MASK_BIT) === 0 ? 0 : 4);
}

function checkMaxPayloadSize(value: number): number {
	if (!Number.isSafeInteger(value) || value < 0) {
		throw new RangeError(`Expected \`maxPayloadSize\` to be a non-negative integer, got \`${value}\``);
	}

	return value;
}

function checkAllowedRsv(value: number): number {
	if (!Number.isInteger(value) || (value & ~RSV_MASK) !== 0) {
		throw new RangeError(`Expected \`allowedRsv\` to be a subset of 0x70, got \`${value}\``);
	}

	return value;
}
