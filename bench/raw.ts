// Hand-made WebSocket plumbing for the load generator and the fixed server: no library, raw net sockets.

import {createHash, randomBytes} from 'node:crypto';
import net from 'node:net';

/** The fixed key of every hand-made handshake, so the expected accept value is computed once. */
export const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
export const ACCEPT = acceptFor(KEY);

export function acceptFor(key: string): string {
	return createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
}

/** The upgrade request, as bytes; offering permessage-deflate when `deflate`. */
export function requestHead(port: number, path = '/', deflate = false): Buffer {
	return Buffer.from(
		`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
			`Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n${deflate ? 'Sec-WebSocket-Extensions: permessage-deflate\r\n' : ''}\r\n`,
		'latin1',
	);
}

/** One frame with FIN; masked with a random key when `masked` (what a client sends). */
export function buildFrame(opcode: number, payload: Buffer, masked: boolean): Buffer {
	const length = payload.length;
	const lengthSize = length >= 65_536 ? 8 : length >= 126 ? 2 : 0;
	const headerSize = 2 + lengthSize + (masked ? 4 : 0);
	const frame = Buffer.allocUnsafe(headerSize + length);
	frame[0] = 0x80 | opcode;
	frame[1] = (masked ? 0x80 : 0) | (lengthSize === 8 ? 127 : lengthSize === 2 ? 126 : length);
	if (lengthSize === 2) {
		frame.writeUInt16BE(length, 2);
	} else if (lengthSize === 8) {
		frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
		frame.writeUInt32BE(length >>> 0, 6);
	}

	if (!masked) {
		payload.copy(frame, headerSize);
		return frame;
	}

	const key = randomBytes(4);
	key.copy(frame, headerSize - 4);
	for (let i = 0; i < length; i++) {
		frame[headerSize + i] = payload[i]! ^ key[i & 3]!;
	}

	return frame;
}

/** `count` copies of `frame`, back to back. */
export function repeat(frame: Buffer, count: number): Buffer {
	return Buffer.concat(Array.from({length: count}, () => frame));
}

/** A masked Close frame with code 1000, as a client sends it. */
export const CLIENT_CLOSE = buildFrame(0x8, Buffer.from([0x03, 0xe8]), true);

/**
 * Counts the frames of a byte stream, in chunks of any size, without copying payloads: only
 * headers are read (a header split across chunks is gathered in a 14-byte scratch buffer).
 */
export class FrameCounter {
	/** Complete data frames. */
	frames = 0;
	/** Payload bytes of complete data frames. */
	payloadBytes = 0;
	/** A Close frame's header was seen. */
	closeSeen = false;
	/** Called for each complete frame, when set. */
	onFrame: ((opcode: number, length: number) => void) | null = null;

	#skip = 0;
	#opcode = 0;
	#length = 0;
	readonly #header = Buffer.alloc(14);
	#headerLength = 0;

	push(chunk: Buffer): void {
		let position = 0;
		const end = chunk.length;
		// Bounded: each turn consumes at least one byte.
		while (position < end) {
			if (this.#skip > 0) {
				const take = Math.min(this.#skip, end - position);
				this.#skip -= take;
				position += take;
				if (this.#skip === 0) {
					this.#complete();
				}

				continue;
			}

			if (this.#headerLength === 0 && end - position >= 2) {
				const size = headerSize(chunk[position + 1]!);
				if (end - position >= size) {
					this.#accept(chunk, position);
					position += size;
					continue;
				}
			}

			// Slow path: gather the header byte by byte.
			this.#header[this.#headerLength++] = chunk[position++]!;
			if (this.#headerLength >= 2 && this.#headerLength === headerSize(this.#header[1]!)) {
				this.#headerLength = 0;
				this.#accept(this.#header, 0);
			}
		}
	}

	#accept(source: Buffer, start: number): void {
		this.#opcode = source[start]! & 0x0f;
		const length7 = source[start + 1]! & 0x7f;
		this.#length =
			length7 === 126
				? source.readUInt16BE(start + 2)
				: length7 === 127
					? source.readUInt32BE(start + 2) * 2 ** 32 + source.readUInt32BE(start + 6)
					: length7;
		if (this.#opcode === 0x8) {
			this.closeSeen = true;
		}

		this.#skip = this.#length;
		if (this.#length === 0) {
			this.#complete();
		}
	}

	#complete(): void {
		if (this.#opcode < 0x8) {
			this.frames++;
			this.payloadBytes += this.#length;
		}

		this.onFrame?.(this.#opcode, this.#length);
	}
}

function headerSize(byte1: number): number {
	const length7 = byte1 & 0x7f;
	return 2 + (length7 === 126 ? 2 : length7 === 127 ? 8 : 0) + ((byte1 & 0x80) === 0 ? 0 : 4);
}

/** Finds the end of an HTTP head (`\r\n\r\n`); returns the offset after it, or -1. */
export function headEnd(buffer: Buffer): number {
	const index = buffer.indexOf('\r\n\r\n', 0, 'latin1');
	return index === -1 ? -1 : index + 4;
}

/**
 * Connects and completes a hand-made handshake, checking the status and the accept value.
 * Resolves with the socket (flowing, its data listeners removed) and the bytes after the head.
 */
export async function openRaw(port: number, timeoutMs = 10_000, deflate = false): Promise<{socket: net.Socket; rest: Buffer}> {
	const request = requestHead(port, '/', deflate);
	return new Promise((resolve, reject) => {
		const socket = net.connect({host: '127.0.0.1', port, noDelay: true});
		let received: Buffer = Buffer.alloc(0);
		const timer = setTimeout(() => {
			fail(new Error('handshake timed out'));
		}, timeoutMs);
		function fail(error: Error): void {
			clearTimeout(timer);
			socket.destroy();
			reject(error);
		}

		function onData(chunk: Buffer): void {
			received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
			const end = headEnd(received);
			if (end === -1) {
				if (received.length > 8192) {
					fail(new Error('response head too long'));
				}

				return;
			}

			const head = received.toString('latin1', 0, end);
			if (!head.startsWith('HTTP/1.1 101') || !head.includes(ACCEPT)) {
				fail(new Error(`handshake refused: ${head.split('\r\n')[0] ?? ''}`));
				return;
			}

			if (deflate && !/permessage-deflate/i.test(head)) {
				fail(new Error('permessage-deflate not accepted by the server'));
				return;
			}

			clearTimeout(timer);
			socket.removeListener('data', onData);
			socket.removeListener('error', fail);
			socket.removeListener('close', onClose);
			resolve({socket, rest: received.subarray(end)});
		}

		function onClose(): void {
			fail(new Error('closed during the handshake'));
		}

		socket.on('data', onData);
		socket.on('error', fail);
		socket.on('close', onClose);
		socket.write(request);
	});
}
