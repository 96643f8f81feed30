// websoup's public API: explicit named exports only.

export * from './gobject/index.ts';
export {
	CloseCode,
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
