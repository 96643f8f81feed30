// HTTP/1.1 heads for the handshake helpers: format a request or response head, find and parse a response head. No I/O.

import {describe} from '../gobject/param-spec.ts';
import {toBuffer} from '../websocket/buffer-util.ts';
import {WebsocketError, WebsocketErrorCode} from '../websocket/errors.ts';
import {isAscii, isToken} from '../websocket/validation.ts';
import {MessageHeaders, asciiEqualsIgnoreCase, fieldValuePattern, isOws, reasonPhrasePattern, trimOws} from './headers.ts';
import type {Message} from './message.ts';

/** The largest response head {@link parseResponseHead} and {@link findHeadEnd} accept, blank line included. */
export const MAX_HEAD_SIZE = 16 * 1024;

/** A `FAILED` error with reason `'WS_ERR_INVALID_HTTP'`: a request or response that is not valid HTTP. */
export function invalidHttp(message: string, cause?: unknown): WebsocketError {
	return new WebsocketError(
		WebsocketErrorCode.FAILED,
		'WS_ERR_INVALID_HTTP',
		message,
		cause === undefined ? undefined : {cause},
	);
}

/**
 * The request target of a client request: the URI's path (at least `/`) and query.
 *
 * @param msg - The request.
 * @returns For example `"/chat?room=1"`.
 */
export function requestTarget(msg: Message): string {
	const uri = msg.uri;
	return `${uri.pathname === '' ? '/' : uri.pathname}${uri.search}`;
}

/**
 * The header lines of a client request as a flat list, `[name, value, name, value, …]`, the form
 * of Node's `rawHeaders` that `http.request({headers})` also takes: `Host` from the URI first when
 * the headers have none (RFC 7230 §5.4 recommends it first), then the request headers in order,
 * names spelled as given and repeats kept.
 *
 * @param msg - The request.
 * @returns The names and values, alternating.
 */
export function requestHeaderLines(msg: Message): string[] {
	const lines: string[] = [];
	if (!msg.requestHeaders.has('Host')) {
		lines.push('Host', msg.uri.host);
	}

	for (const [name, value] of msg.requestHeaders) {
		lines.push(name, value);
	}

	return lines;
}

/**
 * Formats the head of a client request: request line, `Host` (from the URI when the headers
 * have none, placed first as RFC 7230 §5.4 recommends), the request headers in order, and the
 * blank line. The message is not modified.
 *
 * Write the result as Latin-1 (`socket.write(head, 'latin1')`): header values may hold
 * characters U+0080–U+00FF, one byte each.
 *
 * @param msg - The request, usually after {@link clientPrepareHandshake}.
 * @returns For example `"GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\n…\r\n\r\n"`.
 */
export function formatRequestHead(msg: Message): string {
	let head = `${msg.method} ${requestTarget(msg)} HTTP/${msg.httpVersion}\r\n`;
	const lines = requestHeaderLines(msg);
	for (let i = 0; i < lines.length; i += 2) {
		head += `${lines[i]}: ${lines[i + 1]}\r\n`;
	}

	return `${head}\r\n`;
}

/** Statuses whose responses never carry a body nor, for 1xx and 204, `Content-Length` (RFC 7230 §3.3). */
export function hasNoBody(code: number): boolean {
	return code < 200 || code === 204 || code === 304;
}

/**
 * Formats the head of a server response: status line (always `HTTP/1.1`), the response headers
 * in order, and the blank line. For a status that may have a body, `Content-Length` is set to the
 * length of {@link Message.responseBody} (0 without one), replacing any `Content-Length` or
 * `Transfer-Encoding` in the headers; for 1xx and 204 both are left out.
 *
 * @param msg - The message, after {@link serverProcessHandshake} or {@link Message.setStatus}.
 * @returns The head, to be written as Latin-1.
 * @throws {RangeError} when no status has been set.
 */
export function formatResponseHead(msg: Message): string {
	const code = msg.statusCode;
	if (code < 100 || code > 599) {
		throw new RangeError(`Expected \`msg.statusCode\` to be set to an HTTP status code, got \`${code}\``);
	}

	const framed = !hasNoBody(code);
	const dropFraming = framed || code !== 304;
	let head = `HTTP/1.1 ${code} ${msg.reasonPhrase}\r\n`;
	msg.responseHeaders.forEach((name, value) => {
		if (!(dropFraming && (asciiEqualsIgnoreCase(name, 'content-length') || asciiEqualsIgnoreCase(name, 'transfer-encoding')))) {
			head += `${name}: ${value}\r\n`;
		}
	});

	if (framed) {
		head += `Content-Length: ${msg.responseBody?.length ?? 0}\r\n`;
	}

	return `${head}\r\n`;
}

/**
 * Writes the response to a raw socket, as a custom server does from an `'upgrade'` listener:
 * the head from {@link formatResponseHead} and, for a status that may have one, the body, in a
 * single write: a Buffer (the head as Latin-1, then the body), or, for a head of ASCII alone and
 * no body (a 101, nearly always), the head as a string, whose UTF-8 is the same bytes.
 *
 * @param socket - Anything with a `write` method, usually the `net.Socket` of the upgrade.
 * @param msg - The message, after {@link serverProcessHandshake}.
 * @throws {RangeError} when no status has been set.
 */
export function writeResponseHead(socket: {write(data: string | Buffer): unknown}, msg: Message): void {
	const text = formatResponseHead(msg);
	const body = hasNoBody(msg.statusCode) ? null : msg.responseBody;
	if ((body === null || body.length === 0) && isAscii(text)) {
		// An ASCII head (a 101, nearly always) is its own UTF-8: written as the string, with no Buffer made for it.
		socket.write(text);
		return;
	}

	const head = Buffer.from(text, 'latin1');
	socket.write(body === null || body.length === 0 ? head : Buffer.concat([head, body]));
}

/**
 * Finds the end of an HTTP head in the bytes received so far, to split the head from what
 * follows it (the first WebSocket frames may come in the same packet as a 101 response).
 *
 * @param data - The bytes received since the start of the head.
 * @param maxSize - The largest head accepted, blank line included.
 * @returns The offset just past the blank line (`\r\n\r\n`), or -1 when more data is needed.
 * @throws {WebsocketError} `FAILED` with reason `'WS_ERR_HEADERS_TOO_LARGE'` when the head is, or
 *   will be, larger than `maxSize`.
 */
export function findHeadEnd(data: Uint8Array, maxSize: number = MAX_HEAD_SIZE): number {
	const buffer = toBuffer(data, 'data');
	const index = buffer.indexOf('\r\n\r\n', 0, 'latin1');
	if (index === -1) {
		if (buffer.length >= maxSize) {
			throw headTooLarge(maxSize);
		}

		return -1;
	}

	const end = index + 4;
	if (end > maxSize) {
		throw headTooLarge(maxSize);
	}

	return end;
}

function headTooLarge(maxSize: number): WebsocketError {
	return new WebsocketError(
		WebsocketErrorCode.FAILED,
		'WS_ERR_HEADERS_TOO_LARGE',
		`HTTP response head is larger than ${maxSize} bytes`,
	);
}

const statusLinePattern = /^HTTP\/1\.([01]) ([1-5][0-9]{2})(?: (.*))?$/;

/**
 * Parses a raw response head into `msg`: status code, reason phrase and response headers (which
 * it replaces). Nothing in `msg` changes when the head is rejected.
 *
 * The head is the status line and header lines, each ended by CRLF, optionally followed by the
 * blank line; nothing may follow the blank line (split it off with {@link findHeadEnd}). Lines
 * must end with CRLF: a bare CR or LF is rejected, as are header names that are not tokens
 * (including whitespace before the colon, RFC 7230 §3.2.4) and control characters in values.
 * Obsolete line folding is replaced by a space, as RFC 7230 §3.2.4 asks of a user agent.
 *
 * @param msg - The client message the response answers.
 * @param head - The head as bytes (read as Latin-1) or as a string.
 * @throws {WebsocketError} `FAILED` with reason `'WS_ERR_HEADERS_TOO_LARGE'` when the head is over
 *   {@link MAX_HEAD_SIZE} bytes, or reason `'WS_ERR_INVALID_HTTP'` when it is malformed.
 */
export function parseResponseHead(msg: Message, head: Uint8Array | string): void {
	let text: string;
	if (typeof head === 'string') {
		text = head;
	} else if (head instanceof Uint8Array) {
		text = Buffer.from(head.buffer, head.byteOffset, head.byteLength).toString('latin1');
	} else {
		throw new TypeError(`Expected \`head\` to be a string or a Uint8Array, got ${describe(head)}`);
	}

	if (text.length > MAX_HEAD_SIZE) {
		throw headTooLarge(MAX_HEAD_SIZE);
	}

	let body: string;
	const blank = text.indexOf('\r\n\r\n');
	if (blank === -1) {
		body = text.endsWith('\r\n') ? text.slice(0, -2) : text;
	} else {
		if (blank + 4 !== text.length) {
			throw invalidHttp('Invalid HTTP response: data after the end of the head');
		}

		body = text.slice(0, blank);
	}

	if (body === '') {
		throw invalidHttp('Invalid HTTP response: empty head');
	}

	const lines = body.split('\r\n');
	const statusLine = lines[0] ?? '';
	const status = statusLinePattern.exec(statusLine);
	const reason = status?.[3] ?? '';
	if (status === null || !reasonPhrasePattern.test(reason)) {
		throw invalidHttp(`Invalid HTTP response: invalid status line ${describe(statusLine)}`);
	}

	const fields: Array<{name: string; value: string}> = [];
	for (let i = 1; i < lines.length; i++) {
		const line = lines[i] ?? '';
		if (!fieldValuePattern.test(line)) {
			throw invalidHttp(`Invalid HTTP response: invalid character in header line ${describe(line)}`);
		}

		const previous = fields.at(-1);
		if (isOws(line.charCodeAt(0))) {
			// RFC 7230 §3.2.4: obs-fold; a user agent MUST replace it with SP.
			if (previous === undefined) {
				throw invalidHttp('Invalid HTTP response: continuation line before any header');
			}

			const rest = trimOws(line);
			previous.value = previous.value === '' ? rest : rest === '' ? previous.value : `${previous.value} ${rest}`;
			continue;
		}

		const colon = line.indexOf(':');
		const name = colon === -1 ? '' : line.slice(0, colon);
		if (!isToken(name)) {
			throw invalidHttp(`Invalid HTTP response: invalid header line ${describe(line)}`);
		}

		fields.push({name, value: trimOws(line.slice(colon + 1))});
	}

	const headers = new MessageHeaders();
	for (const {name, value} of fields) {
		headers.append(name, value);
	}

	msg.setStatus(Number(status[2]), reason);
	msg.responseHeaders.clear();
	for (const [name, value] of headers) {
		msg.responseHeaders.append(name, value);
	}
}
