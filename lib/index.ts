// websoup's public API (`import … from 'websoup'`): explicit named exports only, each documented in
// docs/api.md, docs/node.md or docs/object-model.md. The facades are subpath exports of their own:
// 'websoup/w3c' (lib/facades/w3c.ts) and 'websoup/openharmony' (lib/facades/openharmony.ts).

export * from './gobject/index.ts';
export {
	CloseCode,
	DEFAULT_MAX_BUFFERED_AMOUNT,
	DEFAULT_MAX_INCOMING_FRAGMENTS,
	DEFAULT_MAX_INCOMING_PAYLOAD_SIZE,
	MAX_CLOSE_REASON,
	MAX_CONTROL_PAYLOAD,
	Opcode,
	WEBSOCKET_GUID,
	WebsocketConnectionType,
	WebsocketDataType,
	WebsocketState,
} from './websocket/constants.ts';
export {
	WebsocketError,
	WebsocketErrorCode,
	WebsocketErrorDetail,
	websocketErrorReasons,
	type WebsocketErrorReason,
} from './websocket/errors.ts';
export {
	WebsocketExtension,
	type ExtensionParams,
	type FrameInfo,
	type WebsocketExtensionClass,
} from './websocket/extensions/extension.ts';
export {
	WebsocketConnection,
	type WebsocketCloseInfo,
	type WebsocketCloseState,
	type WebsocketConnectionProperties,
	type WebsocketConnectionSignals,
	type WebsocketMessage,
	type WebsocketWrittenCallback,
} from './websocket/connection.ts';
export {
	DiagnosticsChannel,
	type HandshakeRefusedMessage,
	type WebsocketCloseMessage,
	type WebsocketErrorMessage,
	type WebsocketOpenMessage,
} from './websocket/diagnostics.ts';
export {encodeClosePayload, encodeFrame, generateMaskKey, type DecodedFrame, type FrameHeaderOptions} from './websocket/frame.ts';
export {FrameDecoder, type FrameDecoderHandler, type FrameDecoderOptions} from './websocket/frame-decoder.ts';
export {WebsocketFramer, type WebsocketFramerOptions, type WriteFrameOptions} from './websocket/framer.ts';
export {isToken, isValidReceivedCloseCode, isValidSentCloseCode, isValidUtf8, Utf8Validator} from './websocket/validation.ts';
export {mask, unmask} from './websocket/buffer-util.ts';
export {
	chooseSubprotocol,
	clientPrepareHandshake,
	clientVerifyHandshake,
	computeAcceptKey,
	serverCheckHandshake,
	serverProcessHandshake,
	type ServerHandshakeResult,
} from './websocket/handshake.ts';
export {findHeadEnd, formatRequestHead, formatResponseHead, parseResponseHead, writeResponseHead} from './http/head.ts';
export {MessageHeaders} from './http/headers.ts';
export {Message, type HttpVersion} from './http/message.ts';
export {messageFromIncomingMessage, type IncomingMessageOptions} from './node/incoming-message.ts';
export {
	http2ResponseHeaders,
	messageFromHttp2Headers,
	respondHttp2Stream,
	type Http2HeadersOptions,
} from './node/http2-message.ts';
export {parseExtensions, type ExtensionOffer} from './websocket/extensions/manager.ts';
export {WebsocketExtensionDeflate} from './websocket/extensions/deflate.ts';
export {
	DEFAULT_HANDSHAKE_TIMEOUT,
	MAX_REFUSED_BODY_SIZE,
	websocketConnect,
	type RequestHeadersInit,
	type WebsocketConnectOptions,
} from './node/client.ts';
export type {WebsocketHttp2Option} from './node/http2-client.ts';
export {
	addWebsocketHandler,
	DEFAULT_SERVER_HANDSHAKE_TIMEOUT,
	type WebsocketHandler,
	type WebsocketHandlerOptions,
	type WebsocketHttpServer,
	type WebsocketServer,
	type WebsocketServerCallback,
} from './node/server.ts';
export {
	backoffDelay,
	isRetryableClose,
	isRetryableHandshakeError,
	RETRY_CLOSE_CODES,
	websocketReconnect,
	type WebsocketBackoff,
	type WebsocketBackoffOptions,
	type WebsocketReconnectOptions,
	type WebsocketRetryEvent,
} from './node/reconnect.ts';
export {
	DEFAULT_RETRY_AFTER,
	DEFAULT_SHUTDOWN_TIMEOUT,
	type WebsocketHandlerCloseOptions,
	type WebsocketHandlerCloseResult,
} from './node/shutdown.ts';
export {
	DEFAULT_MAX_BACKPRESSURE,
	WebsocketHub,
	type BackpressurePolicy,
	type PublishOptions,
	type WebsocketHubProperties,
	type WebsocketHubSignals,
} from './topics/hub.ts';
export {InProcessBroker, TopicBroker, type TopicReceiver} from './topics/broker.ts';
export {REDIS_CLIENT_PACKAGE, RedisBroker, type RedisBrokerOptions} from './topics/redis-broker.ts';
