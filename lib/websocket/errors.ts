// WebsocketError: libsoup's SOUP_WEBSOCKET_ERROR domain, with ws-style reasons and icey's taxonomy.

import {CloseCode} from './constants.ts';

/** Handshake error codes, libsoup's `SoupWebsocketError`. Runtime errors use close codes instead. */
export const WebsocketErrorCode = {
	FAILED: 0,
	NOT_WEBSOCKET: 1,
	BAD_HANDSHAKE: 2,
	BAD_ORIGIN: 3,
} as const;
export type WebsocketErrorCode = (typeof WebsocketErrorCode)[keyof typeof WebsocketErrorCode];

/**
 * The kind of failure in icey's `ws` taxonomy, extended where icey has no name for a case
 * websoup reports (`InvalidUtf8`, `PongTimeout`, …). Coarser than {@link WebsocketErrorReason}.
 */
export const WebsocketErrorDetail = {
	NoHandshake: 'NoHandshake',
	HandshakeNoVersion: 'HandshakeNoVersion',
	HandshakeUnsupportedVersion: 'HandshakeUnsupportedVersion',
	HandshakeNoKey: 'HandshakeNoKey',
	HandshakeAccept: 'HandshakeAccept',
	HandshakeRejected: 'HandshakeRejected',
	HandshakeTimeout: 'HandshakeTimeout',
	Unauthorized: 'Unauthorized',
	PayloadTooBig: 'PayloadTooBig',
	IncompleteFrame: 'IncompleteFrame',
	InvalidRsvBits: 'InvalidRsvBits',
	InvalidOpcode: 'InvalidOpcode',
	UnmaskedClientFrame: 'UnmaskedClientFrame',
	ProtocolViolation: 'ProtocolViolation',
	InvalidUtf8: 'InvalidUtf8',
	PongTimeout: 'PongTimeout',
	ExtensionFailed: 'ExtensionFailed',
	Aborted: 'Aborted',
} as const;
export type WebsocketErrorDetail = (typeof WebsocketErrorDetail)[keyof typeof WebsocketErrorDetail];

/**
 * Stable string naming the exact failure (ws style), for tests, logs and docs. Each reason
 * belongs to one {@link WebsocketErrorDetail}.
 */
const reasonDetails = {
	// Handshake.
	WS_ERR_NOT_WEBSOCKET: 'NoHandshake',
	WS_ERR_NO_VERSION: 'HandshakeNoVersion',
	WS_ERR_UNSUPPORTED_VERSION: 'HandshakeUnsupportedVersion',
	WS_ERR_INVALID_KEY: 'HandshakeNoKey',
	WS_ERR_INVALID_ACCEPT: 'HandshakeAccept',
	WS_ERR_BAD_ORIGIN: 'Unauthorized',
	WS_ERR_UNSUPPORTED_SUBPROTOCOL: 'HandshakeRejected',
	WS_ERR_UNSUPPORTED_EXTENSION: 'HandshakeRejected',
	WS_ERR_INVALID_EXTENSION_HEADER: 'HandshakeRejected',
	WS_ERR_HANDSHAKE_REJECTED: 'HandshakeRejected',
	WS_ERR_HANDSHAKE_TIMEOUT: 'HandshakeTimeout',
	WS_ERR_HEADERS_TOO_LARGE: 'HandshakeRejected',
	WS_ERR_INVALID_HTTP: 'NoHandshake',
	WS_ERR_ABORTED: 'Aborted',
	WS_ERR_UNEXPECTED_RESPONSE: 'HandshakeRejected',
	WS_ERR_CONNECTION_CLOSED: 'NoHandshake',
	WS_ERR_NO_EXTENDED_CONNECT: 'NoHandshake',
	// Framing.
	WS_ERR_UNEXPECTED_MASK: 'ProtocolViolation',
	WS_ERR_EXPECTED_MASK: 'UnmaskedClientFrame',
	WS_ERR_INVALID_RSV_BITS: 'InvalidRsvBits',
	WS_ERR_INVALID_OPCODE: 'InvalidOpcode',
	WS_ERR_NON_MINIMAL_LENGTH: 'ProtocolViolation',
	WS_ERR_INVALID_LENGTH: 'ProtocolViolation',
	WS_ERR_CONTROL_FRAME_TOO_LONG: 'ProtocolViolation',
	WS_ERR_FRAGMENTED_CONTROL_FRAME: 'ProtocolViolation',
	WS_ERR_UNEXPECTED_CONTINUATION: 'ProtocolViolation',
	WS_ERR_EXPECTED_CONTINUATION: 'ProtocolViolation',
	WS_ERR_INCOMPLETE_FRAME: 'IncompleteFrame',
	WS_ERR_PAYLOAD_TOO_BIG: 'PayloadTooBig',
	WS_ERR_MESSAGE_TOO_BIG: 'PayloadTooBig',
	WS_ERR_TOO_MANY_FRAGMENTS: 'PayloadTooBig',
	WS_ERR_INVALID_UTF8: 'InvalidUtf8',
	// Close frames.
	WS_ERR_INVALID_CLOSE_PAYLOAD: 'ProtocolViolation',
	WS_ERR_INVALID_CLOSE_CODE: 'ProtocolViolation',
	WS_ERR_INVALID_CLOSE_REASON: 'ProtocolViolation',
	// Runtime.
	WS_ERR_PONG_TIMEOUT: 'PongTimeout',
	WS_ERR_EXTENSION_FAILED: 'ExtensionFailed',
	WS_ERR_CLOSED_BEFORE_PONG: 'Aborted',
	WS_ERR_NOT_SENT: 'Aborted',
} as const satisfies Record<string, WebsocketErrorDetail>;

export type WebsocketErrorReason = keyof typeof reasonDetails;

/** The detail a reason belongs to. */
export function detailOf(reason: WebsocketErrorReason): WebsocketErrorDetail {
	return reasonDetails[reason];
}

/** Every reason, for docs and exhaustive tests. */
export const websocketErrorReasons = Object.keys(reasonDetails) as WebsocketErrorReason[];

/**
 * An error in libsoup's `SOUP_WEBSOCKET_ERROR` domain.
 *
 * `code` has libsoup's meaning: a {@link WebsocketErrorCode} for handshake failures, a
 * {@link CloseCode} (1002, 1007, 1008, 1009, …) for failures on an open connection.
 * `reason` names the exact failure, `detail` its kind in icey's taxonomy.
 */
export class WebsocketError extends Error {
	override name = 'WebsocketError';
	/** libsoup's error code: a `WebsocketErrorCode` during the handshake, a close code afterwards. */
	readonly code: number;
	/** Stable string naming the failure, such as `'WS_ERR_INVALID_UTF8'`. */
	readonly reason: WebsocketErrorReason;
	/** The kind of failure, such as `'InvalidUtf8'`. */
	readonly detail: WebsocketErrorDetail;

	constructor(code: number, reason: WebsocketErrorReason, message: string, options?: ErrorOptions) {
		super(message, options);
		this.code = code;
		this.reason = reason;
		this.detail = reasonDetails[reason];
	}
}

/** Which peer sent what we reject: libsoup's messages name the *other* side. */
export type Peer = 'client' | 'server';

/** 1002, libsoup's protocol_error: "Received invalid WebSocket response from the client". */
export function protocolError(peer: Peer, reason: WebsocketErrorReason): WebsocketError {
	return new WebsocketError(CloseCode.PROTOCOL_ERROR, reason, `Received invalid WebSocket response from the ${peer}`);
}

/** 1007, libsoup's bad_data: "Received invalid WebSocket data from the server". */
export function badDataError(peer: Peer, reason: WebsocketErrorReason = 'WS_ERR_INVALID_UTF8'): WebsocketError {
	return new WebsocketError(CloseCode.BAD_DATA, reason, `Received invalid WebSocket data from the ${peer}`);
}

/** The limits whose excess is a 1009 error, by their property names. */
export type SizeLimit = 'max-incoming-payload-size' | 'max-total-message-size' | 'max-incoming-fragments';

const limitReasons = {
	'max-incoming-payload-size': 'WS_ERR_PAYLOAD_TOO_BIG',
	'max-total-message-size': 'WS_ERR_MESSAGE_TOO_BIG',
	'max-incoming-fragments': 'WS_ERR_TOO_MANY_FRAGMENTS',
} as const satisfies Record<SizeLimit, WebsocketErrorReason>;

/**
 * 1009, a frame or message over a configured limit, with libsoup's message followed by the size
 * seen and the limit: "Received WebSocket payload from the client larger than configured
 * max-incoming-payload-size (200000 bytes, limit 131072)". `size` is a lower bound when
 * `atLeast` is set (an inflate stopped as soon as it passed the limit).
 */
export function tooBigError(peer: Peer, limit: SizeLimit, max: number, size: number, atLeast = false): WebsocketError {
	const message =
		limit === 'max-incoming-fragments'
			? `Received a WebSocket message from the ${peer} in more fragments than configured max-incoming-fragments (limit ${max})`
			: `Received WebSocket payload from the ${peer} larger than configured ${limit} (${atLeast ? 'more than ' : ''}${size} bytes, limit ${max})`;
	return new WebsocketError(CloseCode.TOO_BIG, limitReasons[limit], message);
}

/** 1008, no Pong within keepalive-pong-timeout: "Did not receive keepalive pong within 30 seconds". */
export function pongTimeoutError(seconds: number): WebsocketError {
	return new WebsocketError(
		CloseCode.POLICY_VIOLATION,
		'WS_ERR_PONG_TIMEOUT',
		`Did not receive keepalive pong within ${seconds} seconds`,
	);
}

/** A `ping()` whose pong can no longer arrive: the connection closed first, or was not open. */
export function closedBeforePongError(): WebsocketError {
	return new WebsocketError(WebsocketErrorCode.FAILED, 'WS_ERR_CLOSED_BEFORE_PONG', 'The connection closed before the pong arrived');
}

/** A message whose frame will never be written: sent while not OPEN, or dropped by the close. */
export function notSentError(): WebsocketError {
	return new WebsocketError(WebsocketErrorCode.FAILED, 'WS_ERR_NOT_SENT', 'The connection closed before the message was sent');
}

/** An extension failed on a frame: its own WebsocketError as it is, anything else as 1002 `WS_ERR_EXTENSION_FAILED`. */
export function extensionError(error: unknown): WebsocketError {
	return error instanceof WebsocketError
		? error
		: new WebsocketError(CloseCode.PROTOCOL_ERROR, 'WS_ERR_EXTENSION_FAILED', String(error), {cause: error});
}
