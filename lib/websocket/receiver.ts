// Receiver: the reading half of a connection. It owns the frame decoder (as its handler), runs the
// incoming extensions (holding later frames while one works asynchronously), assembles fragments,
// checks UTF-8 and the size limits, and reports messages, control frames and failures to its owner.

import {Opcode, type WebsocketDataType} from './constants.ts';
import {badDataError, extensionError, protocolError, tooBigError, WebsocketError, type Peer} from './errors.ts';
import type {FrameInfo, WebsocketExtension} from './extensions/extension.ts';
import {FrameDecoder, type FrameDecoderHandler} from './frame-decoder.ts';
import type {IdleTimer} from './timer.ts';
import {isValidUtf8, Utf8Validator} from './validation.ts';

/** The first buffer of a fragmented message holds at least this much. */
const MIN_ASSEMBLY_CAPACITY = 1024;

// What a Receiver calls on its owner. Symbols, so the owner (the connection) keeps them off its
// public surface: a user cannot call them by name.
/** A complete, validated data message. */
export const kReceivedMessage: unique symbol = Symbol('websoup.receiver.message');
/** A Close, Ping or Pong frame (reserved bits clear). After a Close the receiver has stopped. */
export const kReceivedControl: unique symbol = Symbol('websoup.receiver.control');
/** What was read is refused: a protocol error, invalid UTF-8 (1007) or a limit (1009: the owner stops the receiver). */
export const kReadFailed: unique symbol = Symbol('websoup.receiver.failed');
/** An extension works asynchronously: reading must pause; what is decoded meanwhile waits in order. */
export const kReadHeld: unique symbol = Symbol('websoup.receiver.held');
/** The frames that waited for an extension are processed (or dropped): reading may go on. */
export const kReadReleased: unique symbol = Symbol('websoup.receiver.released');

/** What a {@link Receiver} reports to the connection it reads for. */
export interface ReceiverOwner {
	[kReceivedMessage](type: WebsocketDataType, data: Buffer): void;
	[kReceivedControl](opcode: number, payload: Buffer): void;
	[kReadFailed](error: WebsocketError): void;
	[kReadHeld](): void;
	[kReadReleased](): void;
}

/** The limits of a {@link Receiver}; each 0 means unlimited. */
export interface ReceiverOptions {
	/** The side we are: a server reads masked frames from a client. */
	role: 'client' | 'server';
	/** The negotiated extensions, in the order they apply. */
	extensions: readonly WebsocketExtension[];
	/** Largest payload of one frame, in bytes. */
	maxPayloadSize: number;
	/** Largest message after the extensions, in bytes. */
	maxTotalMessageSize: number;
	/** Most frames one message may span. */
	maxIncomingFragments: number;
}

/** A frame decoded while an extension still worked on an earlier one, or the decoder's error. */
type Waiting = [fin: boolean, rsv: number, opcode: number, payload: Buffer] | WebsocketError;

const Flag = {
	/** The message's first frame had reserved bits: an extension transforms its continuation frames too (they carry none). */
	MESSAGE_TRANSFORMED: 1 << 0,
	/** Our Close is sent (it may still wait in the queue): text is checked when its frame is complete, so a failure does not stop reading the peer's Close. */
	CLOSE_SENT: 1 << 1,
	/** The connection failed: data frames are dropped, control frames (the peer's Close) still count. */
	DISCARD_DATA: 1 << 2,
	/** Nothing more is processed: the peer's Close arrived, a limit was exceeded, or the stream is closing. */
	STOPPED: 1 << 3,
	/** We are the server: the frames come from a client. */
	SERVER: 1 << 4,
} as const;

/** The opcode of the message being received (TEXT, BINARY, or 0 between messages) sits in these bits of the flags. */
const OPCODE_SHIFT = 8;
const OPCODE_BITS = 0xf << OPCODE_SHIFT;

/**
 * A message arriving in fragments, copied into one buffer that grows by doubling, so a message of
 * many small fragments costs about its own size (not a Buffer per fragment). Made at its first
 * fragment: a connection between messages, or receiving whole ones, holds none.
 */
interface Assembly {
	/** `null` until the first fragment's payload is copied. */
	buffer: Buffer | null;
	/** Bytes of the message so far. */
	size: number;
	/** Fragments so far, counted while max-incoming-fragments is set. */
	count: number;
}

/**
 * Reads frames from the bytes given to {@link push} and turns them into messages for a
 * {@link ReceiverOwner}. It does no I/O: the owner pushes what its stream reads and pauses the
 * stream while the receiver is {@link busy}.
 */
export class Receiver implements FrameDecoderHandler {
	readonly #owner: ReceiverOwner;
	readonly #extensions: readonly WebsocketExtension[];
	readonly #decoder: FrameDecoder;
	/** {@link Flag} bits. */
	#flags = 0;

	/** Largest message after the extensions, 0 = unlimited. */
	maxTotalMessageSize: number;
	/** Most frames one message may span, 0 = unlimited. */
	maxIncomingFragments: number;
	/** The connection's idle timer while one runs (the connection arms and clears it): touched at each data frame accepted. */
	idleTimer: IdleTimer | undefined = undefined;

	/** The fragmented message being received, or `null`. */
	#message: Assembly | null = null;
	/** Validates fragmented text, and text frames as they arrive; made for the first one. */
	#utf8: Utf8Validator | null = null;
	/** Bytes of the text frame being received already validated as they arrived; -1 when it is not checked early. */
	#frameValidated = -1;
	/** Frames (or the decoder's error) waiting, in order, while an extension works asynchronously. */
	#backlog: Waiting[] | null = null;

	constructor(owner: ReceiverOwner, options: ReceiverOptions) {
		this.#owner = owner;
		this.#flags = options.role === 'server' ? Flag.SERVER : 0;
		this.#extensions = options.extensions;
		this.maxTotalMessageSize = options.maxTotalMessageSize;
		this.maxIncomingFragments = options.maxIncomingFragments;
		let allowedRsv = 0;
		for (const extension of options.extensions) {
			allowedRsv |= extension.reservedBits;
		}

		this.#decoder = new FrameDecoder(this, {role: options.role, maxPayloadSize: options.maxPayloadSize, allowedRsv});
	}

	/** Largest payload of one frame, 0 = unlimited; a change applies from the next frame's header. */
	get maxPayloadSize(): number {
		return this.#decoder.maxPayloadSize;
	}

	set maxPayloadSize(bytes: number) {
		this.#decoder.maxPayloadSize = bytes;
	}

	/** Frames wait for an asynchronous extension: the owner keeps its stream paused meanwhile. */
	get busy(): boolean {
		return this.#backlog !== null;
	}

	/** Decodes `chunk` (read from the stream) and reports what it completes. */
	push(chunk: Buffer): void {
		this.#decoder.push(chunk);
	}

	/** Processes nothing more, and forgets the message under way and the frames that wait. */
	stop(): void {
		this.#flags |= Flag.STOPPED;
		this.#decoder.stop();
		this.#backlog = null;
		this.#resetMessage();
	}

	/** Our Close frame is sent (or queued): text frames are checked when complete from now on. */
	closeSent(): void {
		this.#flags |= Flag.CLOSE_SENT;
	}

	/** The connection failed: data frames are dropped from now on (the peer's Close still counts). */
	discardData(): void {
		this.#flags |= Flag.DISCARD_DATA;
	}

	/** The opcode of the message being received, 0 between messages. */
	get #messageOpcode(): number {
		return (this.#flags & OPCODE_BITS) >> OPCODE_SHIFT;
	}

	set #messageOpcode(opcode: number) {
		this.#flags = (this.#flags & ~OPCODE_BITS) | (opcode << OPCODE_SHIFT);
	}

	/** The side that sent what we read, as errors name it. */
	#peer(): Peer {
		return (this.#flags & Flag.SERVER) !== 0 ? 'client' : 'server';
	}

	// --- FrameDecoderHandler ----------------------------------------------------------------------

	/** @internal A frame from the decoder. */
	onFrame(fin: boolean, rsv: number, opcode: number, payload: Buffer): void {
		if (this.#backlog !== null) {
			this.#backlog.push([fin, rsv, opcode, payload]);
			return;
		}

		if (this.#extensions.length === 0) {
			this.#processFrame(fin, rsv, opcode, payload);
			return;
		}

		this.#runExtensions(fin, rsv, opcode, payload);
	}

	/**
	 * @internal Part of a frame's payload arrived: text is validated now, so the connection fails
	 * at the chunk that made it invalid, not when the whole frame is in. Frames of a message an
	 * extension transforms (its first frame has reserved bits), or that wait behind one, are
	 * validated when complete.
	 */
	onPartialPayload(opcode: number, rsv: number, payload: Buffer, start: number, end: number): void {
		if (start === 0) {
			const text =
				opcode === Opcode.TEXT ||
				(opcode === Opcode.CONTINUATION && this.#messageOpcode === Opcode.TEXT && (this.#flags & Flag.MESSAGE_TRANSFORMED) === 0);
			if (!text || rsv !== 0 || this.#backlog !== null || (this.#flags & (Flag.CLOSE_SENT | Flag.STOPPED)) !== 0) {
				this.#frameValidated = -1;
				return;
			}

			this.#frameValidated = 0;
			this.#utf8 ??= new Utf8Validator();
			if (opcode === Opcode.TEXT) {
				this.#utf8.reset();
			}
		} else if (this.#frameValidated < 0) {
			return;
		}

		if (!this.#utf8!.push(payload.subarray(start, end))) {
			this.#frameValidated = -1;
			this.#resetMessage();
			this.#decoder.stop();
			this.#owner[kReadFailed](badDataError(this.#peer()));
			return;
		}

		this.#frameValidated = end;
	}

	/** @internal The decoder refused what it read; it has stopped. */
	onError(error: WebsocketError): void {
		if (this.#backlog !== null) {
			// Frames before it are still with an extension: the error waits its turn.
			this.#backlog.push(error);
			return;
		}

		this.#owner[kReadFailed](error);
	}

	// --- Extensions -------------------------------------------------------------------------------

	/** Applies the extensions in order; if one answers with a promise, later frames wait in the backlog. */
	#runExtensions(fin: boolean, rsv: number, opcode: number, payload: Buffer): void {
		if (opcode === Opcode.TEXT || opcode === Opcode.BINARY) {
			// RFC 7692 §6.1: only the first frame of a compressed message has RSV1.
			this.#flags = rsv !== 0 ? this.#flags | Flag.MESSAGE_TRANSFORMED : this.#flags & ~Flag.MESSAGE_TRANSFORMED;
		}

		const frame: FrameInfo = {fin, rsv, opcode};
		const limit = this.#inflateLimit();
		let data = payload;
		for (let i = 0; i < this.#extensions.length; i++) {
			let result: Buffer | Promise<Buffer>;
			try {
				result = this.#extensions[i]!.processIncoming(frame, data, limit);
			} catch (error) {
				this.#failExtension(error);
				return;
			}

			if (!(result instanceof Promise)) {
				data = result;
				continue;
			}

			this.#backlog = [];
			this.#owner[kReadHeld]();
			// What was validated of this frame as it arrived is its own: the next frame may start meanwhile.
			const validated = this.#frameValidated;
			this.#frameValidated = -1;
			void this.#finishExtensions(result, i + 1, frame, validated);
			return;
		}

		this.#processFrame(frame.fin, frame.rsv, frame.opcode, data);
	}

	async #finishExtensions(pending: Promise<Buffer>, next: number, frame: FrameInfo, validated: number): Promise<void> {
		const limit = this.#inflateLimit();
		try {
			let data = await pending;
			for (let i = next; i < this.#extensions.length; i++) {
				data = await this.#extensions[i]!.processIncoming(frame, data, limit);
			}

			if ((this.#flags & Flag.STOPPED) === 0) {
				this.#frameValidated = validated;
				this.#processFrame(frame.fin, frame.rsv, frame.opcode, data);
			}
		} catch (error) {
			this.#failExtension(error);
		}

		const backlog = this.#backlog ?? [];
		this.#backlog = null;
		for (let i = 0; i < backlog.length && (this.#flags & Flag.STOPPED) === 0; i++) {
			const again = this.#backlog as Waiting[] | null;
			if (again !== null) {
				// Async again: keep the remaining frames, in order, in the new backlog.
				again.push(...backlog.slice(i));
				return;
			}

			const entry = backlog[i]!;
			if (entry instanceof WebsocketError) {
				this.#owner[kReadFailed](entry);
				break;
			}

			this.onFrame(entry[0], entry[1], entry[2], entry[3]);
		}

		// Once stopped (the peer's Close is in, the stream is closing), nothing decoded behind it matters.
		if ((this.#flags & Flag.STOPPED) !== 0) {
			this.#backlog = null;
		}

		if (this.#backlog === null) {
			this.#owner[kReadReleased]();
		}
	}

	/**
	 * The most bytes an extension may turn the current frame into: what max-total-message-size
	 * leaves of the message or, when that is 0, max-incoming-payload-size, so decompression is
	 * bounded even where libsoup leaves it unbounded; 0 (no bound) when both are 0.
	 */
	#inflateLimit(): number {
		if (this.maxTotalMessageSize > 0) {
			return Math.max(1, this.maxTotalMessageSize - (this.#message?.size ?? 0));
		}

		return this.#decoder.maxPayloadSize;
	}

	#failExtension(error: unknown): void {
		this.#owner[kReadFailed](extensionError(error));
	}

	// --- Frames and messages ----------------------------------------------------------------------

	#processFrame(fin: boolean, rsv: number, opcode: number, payload: Buffer): void {
		// The bytes of this frame already validated as they arrived (onPartialPayload).
		const validated = this.#frameValidated;
		this.#frameValidated = -1;
		// Stopped: the peer's Close arrived (valid or not), a limit was exceeded, or the stream is closing.
		if ((this.#flags & Flag.STOPPED) !== 0) {
			return;
		}

		// RFC 6455 §5.2: reserved bits MUST be 0 unless an extension defines them (and consumed them).
		if (rsv !== 0) {
			this.#owner[kReadFailed](protocolError(this.#peer(), 'WS_ERR_INVALID_RSV_BITS'));
			return;
		}

		if (opcode >= Opcode.CLOSE) {
			if (opcode === Opcode.CLOSE) {
				// RFC 6455 §5.5.1: nothing may follow a Close frame; what does is not read.
				this.stop();
			}

			this.#owner[kReceivedControl](opcode, payload);
			return;
		}

		if ((this.#flags & Flag.DISCARD_DATA) !== 0) {
			return;
		}

		// Data is activity; control frames (keepalive pings and pongs among them) are not.
		this.idleTimer?.touch();

		const start = opcode !== Opcode.CONTINUATION;
		const total = (this.#message?.size ?? 0) + payload.length;
		// libsoup 3.8: the assembled message is bounded too, against many small fragments.
		if (this.maxTotalMessageSize > 0 && total > this.maxTotalMessageSize) {
			this.#owner[kReadFailed](tooBigError(this.#peer(), 'max-total-message-size', this.maxTotalMessageSize, total));
			return;
		}

		if (fin && start) {
			// A whole message in one frame: validate and deliver without copying.
			if (
				opcode === Opcode.TEXT &&
				!(validated < 0 ? isValidUtf8(payload) : this.#utf8!.push(payload.subarray(validated)) && this.#utf8!.end())
			) {
				this.#owner[kReadFailed](badDataError(this.#peer()));
				return;
			}

			this.#owner[kReceivedMessage](opcode as WebsocketDataType, payload);
			return;
		}

		const message = (this.#message ??= {buffer: null, size: 0, count: 0});

		// As ws 8.21: the number of fragments is bounded as well, each costing a frame's work.
		if (this.maxIncomingFragments > 0 && ++message.count > this.maxIncomingFragments) {
			this.#owner[kReadFailed](tooBigError(this.#peer(), 'max-incoming-fragments', this.maxIncomingFragments, message.count));
			return;
		}

		if (start) {
			this.#messageOpcode = opcode;
		}

		const text = this.#messageOpcode === Opcode.TEXT;

		// Fail fast: a fragment that makes the text invalid fails the message now, not at its end.
		const utf8 = text ? (this.#utf8 ??= new Utf8Validator()) : null;
		if (utf8 !== null) {
			if (start && validated < 0) {
				utf8.reset();
			}

			if (!utf8.push(validated < 0 ? payload : payload.subarray(validated))) {
				this.#resetMessage();
				this.#owner[kReadFailed](badDataError(this.#peer()));
				return;
			}
		}

		this.#append(message, payload, total);
		if (!fin) {
			return;
		}

		if (utf8 !== null && !utf8.end()) {
			this.#resetMessage();
			this.#owner[kReadFailed](badDataError(this.#peer()));
			return;
		}

		const data = message.buffer!.subarray(0, total);
		const type = this.#messageOpcode as WebsocketDataType;
		this.#resetMessage();
		this.#owner[kReceivedMessage](type, data);
	}

	/** Copies a fragment's payload after the message so far, growing the buffer by doubling. */
	#append(message: Assembly, payload: Buffer, total: number): void {
		let buffer = message.buffer;
		if (buffer === null || total > buffer.length) {
			let capacity = Math.max(total, buffer === null ? MIN_ASSEMBLY_CAPACITY : buffer.length * 2);
			if (this.maxTotalMessageSize > 0) {
				// Never more than the limit lets the message grow to (total is within it).
				capacity = Math.min(capacity, this.maxTotalMessageSize);
			}

			const grown = Buffer.allocUnsafe(capacity);
			buffer?.copy(grown, 0, 0, message.size);
			buffer = grown;
			message.buffer = grown;
		}

		payload.copy(buffer, message.size);
		message.size = total;
	}

	#resetMessage(): void {
		this.#message = null;
		this.#messageOpcode = 0;
	}
}
