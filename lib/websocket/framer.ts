// WebsocketFramer: the frame codec on its own, for either end (icey's ws::WebSocketFramer shape).

import {Opcode} from './constants.ts';
import type {WebsocketError} from './errors.ts';
import {FrameDecoder} from './frame-decoder.ts';
import {type DecodedFrame, encodeFrame, generateMaskKey} from './frame.ts';

/** Options of a {@link WebsocketFramer}. */
export interface WebsocketFramerOptions {
	/** Which end this framer is: a client masks what it writes and expects unmasked frames. */
	mode: 'client' | 'server';
	/**
	 * Max payload bytes per incoming frame, 0 = unlimited.
	 * @defaultValue 131072
	 */
	maxPayloadSize?: number | undefined;
	/**
	 * Reserved bits (subset of 0x70) that incoming frames may carry.
	 * @defaultValue 0
	 */
	allowedRsv?: number | undefined;
}

/** Header options of {@link WebsocketFramer.writeFrame}; masking follows the framer's mode. */
export interface WriteFrameOptions {
	/** @defaultValue true */
	fin?: boolean | undefined;
	/** @defaultValue 0 */
	rsv?: number | undefined;
}

/**
 * Encodes and decodes frames for one end of a connection, with no I/O: a thin, synchronous
 * wrapper over {@link encodeFrame} and {@link FrameDecoder}.
 *
 * @example
 * ```ts
 * const client = new WebsocketFramer({mode: 'client'});
 * const server = new WebsocketFramer({mode: 'server'});
 * const [frame] = client.writeFrame('Hello');
 * server.readFrames(frame!); // [{fin: true, rsv: 0, opcode: 1, payload: <Buffer 48 65 6c 6c 6f>}]
 * ```
 */
export class WebsocketFramer {
	/** Which end this framer is. */
	readonly mode: 'client' | 'server';
	readonly #decoder: FrameDecoder;
	#frames: DecodedFrame[] = [];
	#error: WebsocketError | null = null;

	/**
	 * @param options - Mode and incoming limits.
	 * @throws {RangeError} On an invalid `maxPayloadSize` or `allowedRsv`.
	 */
	constructor(options: WebsocketFramerOptions) {
		this.mode = options.mode;
		this.#decoder = new FrameDecoder(
			{
				onFrame: (fin, rsv, opcode, payload) => {
					this.#frames.push({fin, rsv, opcode, payload});
				},
				onError: error => {
					this.#error = error;
				},
			},
			{role: options.mode, maxPayloadSize: options.maxPayloadSize, allowedRsv: options.allowedRsv},
		);
	}

	/** Max payload bytes per incoming frame, 0 = unlimited; takes effect at the next header. */
	get maxPayloadSize(): number {
		return this.#decoder.maxPayloadSize;
	}

	set maxPayloadSize(value: number) {
		this.#decoder.maxPayloadSize = value;
	}

	/** Bytes of an incomplete incoming frame held so far. */
	get bufferedBytes(): number {
		return this.#decoder.bufferedBytes;
	}

	/**
	 * Encodes one frame; in client mode it is masked with a fresh key.
	 *
	 * @param data - The payload; a string is encoded as UTF-8.
	 * @param opcode - The opcode; by default `Opcode.TEXT` for a string, `Opcode.BINARY` for a buffer.
	 * @param options - FIN and reserved bits.
	 * @returns The buffers to write, in order (see {@link encodeFrame}).
	 */
	writeFrame(data: Buffer | string, opcode?: number, options: WriteFrameOptions = {}): Buffer[] {
		const payload = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
		return encodeFrame(opcode ?? (typeof data === 'string' ? Opcode.TEXT : Opcode.BINARY), payload, {
			fin: options.fin,
			rsv: options.rsv,
			maskKey: this.mode === 'client' ? generateMaskKey() : null,
		});
	}

	/**
	 * Decodes `chunk`, together with what earlier chunks left incomplete.
	 *
	 * @param chunk - The next bytes received.
	 * @returns The frames completed by this chunk, payloads unmasked; possibly none.
	 * @throws {WebsocketError} On an invalid frame (and on every later call); frames completed
	 * earlier in the same chunk are not returned then.
	 */
	readFrames(chunk: Buffer): DecodedFrame[] {
		this.#throwIfFailed();
		this.#decoder.push(chunk);
		const frames = this.#frames;
		this.#frames = [];
		this.#throwIfFailed();
		return frames;
	}

	/**
	 * Ends the input.
	 *
	 * @throws {WebsocketError} `WS_ERR_INCOMPLETE_FRAME` (detail `IncompleteFrame`) if the input
	 * ended in the middle of a frame, or the earlier decoding error.
	 */
	end(): void {
		this.#throwIfFailed();
		const error = this.#decoder.end();
		if (error !== null) {
			this.#error = error;
			throw error;
		}
	}

	#throwIfFailed(): void {
		if (this.#error !== null) {
			throw this.#error;
		}
	}
}
