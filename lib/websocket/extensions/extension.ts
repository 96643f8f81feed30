// WebsocketExtension: the base of negotiated extensions, libsoup's SoupWebsocketExtension.

import type {WebsocketConnectionType} from '../constants.ts';

/**
 * What an extension sees of a frame, and may change: `rsv` holds the three reserved bits as
 * they stand in the first header byte (`0x40` is RSV1). An incoming hook must clear the bits it
 * consumed, because the connection fails any frame whose reserved bits are still set afterwards.
 */
export interface FrameInfo {
	fin: boolean;
	rsv: number;
	opcode: number;
}

/** Parameters of one item of `Sec-WebSocket-Extensions`: a parameter without a value maps to `null`. */
export type ExtensionParams = ReadonlyMap<string, string | null>;

/** An extension class as the handshake helpers take it: libsoup passes `SoupWebsocketExtensionClass`. */
export interface WebsocketExtensionClass {
	new (): WebsocketExtension;
	/** The token that names the extension in `Sec-WebSocket-Extensions`. */
	readonly extensionName: string;
}

/**
 * A WebSocket extension negotiated during the handshake and then applied to every frame.
 *
 * Subclasses set `static readonly extensionName` and override what they need; as in libsoup,
 * a hook left alone means: configuration succeeds, no parameters, payload passes through.
 */
export abstract class WebsocketExtension {
	/** The token that names the extension in `Sec-WebSocket-Extensions`. */
	static readonly extensionName: string = '';

	/** The reserved header bits this extension may set (RFC 7692 uses RSV1, `0x40`). */
	get reservedBits(): number {
		return 0;
	}

	/** The extension's name, from its class. */
	get name(): string {
		return (this.constructor as WebsocketExtensionClass).extensionName;
	}

	/**
	 * Configures the extension from the parameters of the offer (server) or the response (client).
	 *
	 * @throws {WebsocketError} `BAD_HANDSHAKE` when a parameter is unknown or its value is invalid.
	 */
	configure(_connectionType: WebsocketConnectionType, _params: ExtensionParams | null): void {}

	/** The parameters to offer, starting with `"; "`, or `null`. */
	getRequestParams(): string | null {
		return null;
	}

	/** The parameters to accept an offer with, starting with `"; "`, or `null`. */
	getResponseParams(): string | null {
		return null;
	}

	/**
	 * Transforms the payload of an outgoing message; may set reserved bits in `frame.rsv`.
	 *
	 * @throws {WebsocketError} when the payload cannot be processed (the connection closes with its code).
	 */
	processOutgoing(_frame: FrameInfo, payload: Buffer): Buffer | Promise<Buffer> {
		return payload;
	}

	/**
	 * Transforms the payload of an incoming frame and clears the reserved bits it consumed.
	 * `limit` is the most bytes the result may have (0 = no limit); past it, throw a 1009 error.
	 *
	 * @throws {WebsocketError} when the payload cannot be processed.
	 */
	processIncoming(_frame: FrameInfo, payload: Buffer, _limit: number): Buffer | Promise<Buffer> {
		return payload;
	}
}
