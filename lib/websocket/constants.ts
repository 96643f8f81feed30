// Protocol constants and libsoup's enums (SoupWebsocketConnectionType, DataType, State, CloseCode).

/** Frame opcodes (RFC 6455 §5.2). */
export const Opcode = {
	CONTINUATION: 0x0,
	TEXT: 0x1,
	BINARY: 0x2,
	CLOSE: 0x8,
	PING: 0x9,
	PONG: 0xa,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/**
 * Close codes (RFC 6455 §7.4.1 and the IANA registry), libsoup's `SoupWebsocketCloseCode`
 * plus 1012–1014, registered after RFC 6455.
 */
export const CloseCode = {
	NORMAL: 1000,
	GOING_AWAY: 1001,
	PROTOCOL_ERROR: 1002,
	UNSUPPORTED_DATA: 1003,
	NO_STATUS: 1005,
	ABNORMAL: 1006,
	BAD_DATA: 1007,
	POLICY_VIOLATION: 1008,
	TOO_BIG: 1009,
	NO_EXTENSION: 1010,
	SERVER_ERROR: 1011,
	SERVICE_RESTART: 1012,
	TRY_AGAIN_LATER: 1013,
	BAD_GATEWAY: 1014,
	TLS_HANDSHAKE: 1015,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** The type of a data message; the values are the opcodes, as in libsoup. */
export const WebsocketDataType = {
	TEXT: 0x1,
	BINARY: 0x2,
} as const;
export type WebsocketDataType = (typeof WebsocketDataType)[keyof typeof WebsocketDataType];

/** The state of a connection, libsoup's `SoupWebsocketState`. */
export const WebsocketState = {
	OPEN: 1,
	CLOSING: 2,
	CLOSED: 3,
} as const;
export type WebsocketState = (typeof WebsocketState)[keyof typeof WebsocketState];

/** Which end of the connection this is, libsoup's `SoupWebsocketConnectionType`. */
export const WebsocketConnectionType = {
	UNKNOWN: 0,
	CLIENT: 1,
	SERVER: 2,
} as const;
export type WebsocketConnectionType = (typeof WebsocketConnectionType)[keyof typeof WebsocketConnectionType];

/** RFC 6455 §1.3: the GUID appended to `Sec-WebSocket-Key` to compute `Sec-WebSocket-Accept`. */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** libsoup's default for `max-incoming-payload-size` (per frame) and SoupServer's `max-total-message-size`. */
export const DEFAULT_MAX_INCOMING_PAYLOAD_SIZE = 128 * 1024;

/** websoup's default for `max-incoming-fragments`: the most frames one incoming message may span. */
export const DEFAULT_MAX_INCOMING_FRAGMENTS = 4096;

/** websoup's default for `max-buffered-amount`: reading stops while more bytes than this wait to be sent. */
export const DEFAULT_MAX_BUFFERED_AMOUNT = 1024 * 1024;

/** RFC 6455 §5.2, first header byte: FIN, then RSV1–3, then the opcode. */
export const FIN_BIT = 0x80;
/** RFC 6455 §5.2: RSV1 (`0x40`, permessage-deflate's), RSV2 and RSV3 as they stand in the first byte. */
export const RSV_MASK = 0x70;
/** RFC 6455 §5.2: the opcode, the low four bits of the first byte. */
export const OPCODE_MASK = 0x0f;
/** RFC 6455 §5.2, second header byte: MASK, then the 7-bit payload length. */
export const MASK_BIT = 0x80;
/** RFC 6455 §5.2: the 7-bit payload length; 126 and 127 announce a 16- or 64-bit length. */
export const PAYLOAD_LENGTH_MASK = 0x7f;
/** The 7-bit length that announces a 16-bit extended length (for 126 to 65535 bytes). */
export const PAYLOAD_LENGTH_16 = 126;
/** The 7-bit length that announces a 64-bit extended length. */
export const PAYLOAD_LENGTH_64 = 127;

/** RFC 6455 §7.4.2: 3000–3999 for libraries and frameworks, 4000–4999 for applications. */
export const APPLICATION_CLOSE_CODE_MIN = 3000;
export const APPLICATION_CLOSE_CODE_MAX = 4999;

/** RFC 6455 §5.5: all control frames MUST have a payload length of 125 bytes or less. */
export const MAX_CONTROL_PAYLOAD = 125;

/** A close reason is at most 123 bytes: 125 minus the two bytes of the code. */
export const MAX_CLOSE_REASON = 123;
