// permessage-deflate (RFC 7692), libsoup 3's SoupWebsocketExtensionDeflate, on Node's zlib.

import {CloseCode, Opcode, WebsocketConnectionType} from '../constants.ts';
import {tooBigError, WebsocketError, WebsocketErrorCode, type Peer} from '../errors.ts';
import {WebsocketExtension, type ExtensionParams, type FrameInfo} from './extension.ts';
import {zlibLimiter} from './limiter.ts';
import type {DeflateRaw} from 'node:zlib';

// Builtins through process.getBuiltinModule(), not import: see docs/architecture.md, “Node's builtins”.
const zlib = process.getBuiltinModule('node:zlib');

/** RFC 7692 §7.2.1: the bytes a sync flush ends with, removed before sending and put back before inflating. */
const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const RSV1 = 0x40; // RFC 7692 §6: the "Per-Message Compressed" bit, within RSV_MASK
const EMPTY = Buffer.alloc(0);

interface Parameters {
	serverNoContextTakeover: boolean;
	clientNoContextTakeover: boolean;
	/** `null` when the parameter was absent. */
	serverMaxWindowBits: number | null;
	/** `null` when absent; 15 when present without a value. */
	clientMaxWindowBits: number | null;
}

function handshakeError(message: string): WebsocketError {
	return new WebsocketError(WebsocketErrorCode.BAD_HANDSHAKE, 'WS_ERR_INVALID_EXTENSION_HEADER', message);
}

/** RFC 7692 §7.1.2: a window size is a decimal 8–15, with no other characters. */
function parseWindowBits(name: string, value: string): number {
	if (!/^\d{1,2}$/.test(value) || Number(value) < 8 || Number(value) > 15) {
		throw handshakeError(`Invalid value of parameter '${name}' in permessage-deflate extension header`);
	}

	return Number(value);
}

/** Collects what the deflater writes between two flushes. */
class Collector {
	chunks: Buffer[] = [];
	size = 0;

	readonly onData = (chunk: Buffer): void => {
		this.size += chunk.length;
		this.chunks.push(chunk);
	};

	take(): Buffer {
		const result = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
		this.chunks = [];
		this.size = 0;
		return result;
	}
}

/** RFC 1951: the LZ77 window reaches back at most 32 KiB. */
const WINDOW_SIZE = 32 * 1024;

/**
 * The last 32 KiB a peer's messages inflated to. A message compressed with context takeover may
 * refer back into it; giving it to the next inflate as a preset dictionary continues the stream
 * exactly (each message ends on a block boundary, RFC 7692 §7.2.1).
 */
class Window {
	readonly #bytes = Buffer.allocUnsafe(WINDOW_SIZE);
	#length = 0;

	get bytes(): Buffer | undefined {
		return this.#length === 0 ? undefined : this.#bytes.subarray(0, this.#length);
	}

	push(data: Buffer): void {
		if (data.length >= WINDOW_SIZE) {
			data.copy(this.#bytes, 0, data.length - WINDOW_SIZE);
			this.#length = WINDOW_SIZE;
			return;
		}

		const keep = Math.min(this.#length, WINDOW_SIZE - data.length);
		this.#bytes.copyWithin(0, this.#length - keep, this.#length);
		data.copy(this.#bytes, keep);
		this.#length = keep + data.length;
	}
}

/** Deflate's worst case: stored blocks add 5 bytes per 64 KiB, plus a little at the ends. */
function compressedBound(limit: number): number {
	return limit + Math.ceil(limit / 65_535) * 5 + 64;
}

/**
 * The permessage-deflate extension (RFC 7692), as libsoup's `SoupWebsocketExtensionDeflate`:
 * parameters `server_no_context_takeover`, `client_no_context_takeover`,
 * `server_max_window_bits` and `client_max_window_bits`; on Node's zlib: outgoing messages are
 * compressed one at a time per connection and ten at a time in the process, incoming ones are
 * inflated synchronously.
 *
 * Give the class to the handshake helpers (`supportedExtensions`), to `websocketConnect` or to
 * `addWebsocketHandler` in `extensions`. The decompressed size of a message is bounded by the
 * connection's `max-total-message-size` (or, when that is 0, `max-incoming-payload-size`), so a
 * small compressed frame cannot inflate without limit.
 */
export class WebsocketExtensionDeflate extends WebsocketExtension {
	static override readonly extensionName = 'permessage-deflate';

	#type: WebsocketConnectionType = WebsocketConnectionType.UNKNOWN;
	#params: Parameters = {
		serverNoContextTakeover: false,
		clientNoContextTakeover: false,
		serverMaxWindowBits: null,
		clientMaxWindowBits: null,
	};

	#deflater: DeflateRaw | undefined;
	readonly #deflated = new Collector();
	/** What the peer's messages inflated to lately, for context takeover; made for the first one. */
	#window: Window | null = null;
	/** The compressed fragments of the incoming message so far, inflated at its last frame. */
	#fragments: Buffer[] = [];
	#fragmentsSize = 0;
	/** Outgoing messages are compressed one after the other, in the order they were sent. */
	#outgoing: Promise<unknown> = Promise.resolve();
	/** Whether the incoming message being assembled is compressed (RSV1 on its first frame). */
	#incomingCompressed = false;

	override get reservedBits(): number {
		return RSV1;
	}

	/**
	 * Reads the parameters of the offer (server) or the response (client).
	 *
	 * @throws {WebsocketError} `BAD_HANDSHAKE` for an unknown parameter or an invalid value.
	 */
	override configure(connectionType: WebsocketConnectionType, params: ExtensionParams | null): void {
		const parsed: Parameters = {
			serverNoContextTakeover: false,
			clientNoContextTakeover: false,
			serverMaxWindowBits: null,
			clientMaxWindowBits: null,
		};
		for (const [name, value] of params ?? []) {
			switch (name) {
				case 'server_no_context_takeover':
				case 'client_no_context_takeover': {
					// RFC 7692 §7.1.1: these parameters have no value.
					if (value !== null) {
						throw handshakeError(`Invalid value of parameter '${name}' in permessage-deflate extension header`);
					}

					parsed[name === 'server_no_context_takeover' ? 'serverNoContextTakeover' : 'clientNoContextTakeover'] = true;
					break;
				}

				case 'server_max_window_bits': {
					// RFC 7692 §7.1.2.1: this parameter has a value.
					if (value === null) {
						throw handshakeError(`Invalid value of parameter '${name}' in permessage-deflate extension header`);
					}

					parsed.serverMaxWindowBits = parseWindowBits(name, value);
					break;
				}

				case 'client_max_window_bits': {
					// RFC 7692 §7.1.2.2: in an offer the value may be left out.
					parsed.clientMaxWindowBits = value === null ? 15 : parseWindowBits(name, value);
					break;
				}

				default: {
					throw handshakeError(`Invalid parameter '${name}' in permessage-deflate extension header`);
				}
			}
		}

		this.#type = connectionType;
		this.#params = parsed;
		this.#deflater?.close();
		this.#deflater = undefined;
		this.#window = null;
		this.#fragments = [];
		this.#fragmentsSize = 0;
	}

	/** Always `; client_max_window_bits`, as libsoup offers. */
	override getRequestParams(): string {
		return '; client_max_window_bits';
	}

	/** The accepted parameters, in libsoup's order, `client_max_window_bits` always with a value. */
	override getResponseParams(): string | null {
		const {serverNoContextTakeover, clientNoContextTakeover, serverMaxWindowBits, clientMaxWindowBits} = this.#params;
		let params = '';
		if (serverNoContextTakeover) {
			params += '; server_no_context_takeover';
		}

		if (clientNoContextTakeover) {
			params += '; client_no_context_takeover';
		}

		if (serverMaxWindowBits !== null) {
			params += `; server_max_window_bits=${serverMaxWindowBits}`;
		}

		if (clientMaxWindowBits !== null) {
			params += `; client_max_window_bits=${clientMaxWindowBits}`;
		}

		return params === '' ? null : params;
	}

	/** Compresses a data message and sets RSV1; control frames and empty payloads pass as they are. */
	override processOutgoing(frame: FrameInfo, payload: Buffer): Buffer | Promise<Buffer> {
		if (frame.opcode >= Opcode.CLOSE || payload.length === 0) {
			return payload;
		}

		frame.rsv |= RSV1;
		const result = this.#outgoing.then(async () => zlibLimiter.run(async () => this.#deflate(payload)));
		this.#outgoing = result.catch(() => undefined);
		return result;
	}

	/**
	 * Inflates a compressed message and clears RSV1; control frames and uncompressed messages pass
	 * as they are. Inflation is synchronous, as libsoup's: a message is inflated in one call at its
	 * last frame (earlier fragments give empty payloads), with the window of the previous messages
	 * as a preset dictionary, so it costs no thread-pool round trip and no waiting behind other
	 * connections' jobs on a busy machine. Output is bounded by `limit`.
	 */
	override processIncoming(frame: FrameInfo, payload: Buffer, limit: number): Buffer {
		if (frame.opcode >= Opcode.CLOSE) {
			return payload;
		}

		if (frame.opcode === Opcode.CONTINUATION) {
			// RFC 7692 §6.1: RSV1 is set on the first frame of a compressed message only.
			if (frame.rsv & RSV1) {
				throw new WebsocketError(
					CloseCode.PROTOCOL_ERROR,
					'WS_ERR_INVALID_RSV_BITS',
					'Received a non-first frame with RSV1 flag set',
				);
			}
		} else {
			this.#incomingCompressed = (frame.rsv & RSV1) !== 0;
		}

		if (!this.#incomingCompressed) {
			return payload;
		}

		frame.rsv &= ~RSV1;
		return this.#inflate(payload, frame.fin, limit);
	}

	#side(): 'client' | 'server' {
		return this.#type === WebsocketConnectionType.SERVER ? 'server' : 'client';
	}

	#peer(): Peer {
		return this.#type === WebsocketConnectionType.SERVER ? 'client' : 'server';
	}

	async #deflate(payload: Buffer): Promise<Buffer> {
		// The client compresses with the client_* parameters, the server with the server_* ones.
		const client = this.#side() === 'client';
		const bits = (client ? this.#params.clientMaxWindowBits : this.#params.serverMaxWindowBits) ?? 15;
		const noContextTakeover = client ? this.#params.clientNoContextTakeover : this.#params.serverNoContextTakeover;
		if (this.#deflater === undefined) {
			// zlib cannot make an 8-bit window for raw deflate; libsoup uses 9 too.
			this.#deflater = zlib.createDeflateRaw({windowBits: Math.max(bits, 9)});
			this.#deflater.on('data', this.#deflated.onData);
		}

		const deflater = this.#deflater;
		try {
			await new Promise<void>((resolve, reject) => {
				deflater.once('error', reject);
				deflater.write(payload);
				deflater.flush(zlib.constants.Z_SYNC_FLUSH, () => {
					deflater.off('error', reject);
					resolve();
				});
			});
		} catch (error) {
			this.#deflater = undefined;
			throw new WebsocketError(CloseCode.PROTOCOL_ERROR, 'WS_ERR_EXTENSION_FAILED', 'Failed to compress outgoing frame', {
				cause: error,
			});
		}

		let data = this.#deflated.take();
		if (data.length >= 4 && data.subarray(-4).equals(TRAILER)) {
			data = data.subarray(0, -4);
		}

		if (noContextTakeover) {
			deflater.reset();
		}

		return data;
	}

	#inflate(payload: Buffer, fin: boolean, limit: number): Buffer {
		if (!fin) {
			// Kept (copied: the payload may be a view into a read chunk) until the last frame.
			this.#fragmentsSize += payload.length;
			if (limit > 0 && this.#fragmentsSize > compressedBound(limit)) {
				const size = this.#fragmentsSize;
				this.#dropFragments();
				throw tooBigError(this.#peer(), 'max-total-message-size', limit, size, true);
			}

			this.#fragments.push(Buffer.from(payload));
			return EMPTY;
		}

		// RFC 7692 §7.2.2: append 00 00 ff ff to the payload of the message, then inflate.
		const input = Buffer.concat([...this.#fragments, payload, TRAILER], this.#fragmentsSize + payload.length + TRAILER.length);
		this.#dropFragments();
		// The client inflates what the server compressed with the server_* parameters, and the reverse.
		const noContextTakeover =
			this.#side() === 'client' ? this.#params.serverNoContextTakeover : this.#params.clientNoContextTakeover;
		const window = noContextTakeover ? null : (this.#window ??= new Window());
		let data: Buffer;
		try {
			// A window of 15 bits inflates what any smaller window compressed. A final block
			// (BFINAL, RFC 7692 §7.2.3.4) just ends this inflate; the next message starts afresh.
			data = zlib.inflateRawSync(input, {
				windowBits: 15,
				finishFlush: zlib.constants.Z_SYNC_FLUSH,
				...(window?.bytes === undefined ? {} : {dictionary: window.bytes}),
				...(limit > 0 ? {maxOutputLength: limit} : {}),
			});
		} catch (error) {
			if ((error as {code?: unknown}).code === 'ERR_BUFFER_TOO_LARGE') {
				throw tooBigError(this.#peer(), 'max-total-message-size', limit, limit, true);
			}

			throw new WebsocketError(CloseCode.PROTOCOL_ERROR, 'WS_ERR_EXTENSION_FAILED', 'Failed to uncompress incoming frame', {
				cause: error,
			});
		}

		window?.push(data);
		return data;
	}

	#dropFragments(): void {
		this.#fragments = [];
		this.#fragmentsSize = 0;
	}
}
