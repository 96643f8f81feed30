// The connection limits both Node entry points take as options, checked when they are called.

import {WebsocketConnection} from '../websocket/connection.ts';

/** The options that set a connection property, and the property each sets. */
const connectionOptions = {
	maxIncomingPayloadSize: 'max-incoming-payload-size',
	maxTotalMessageSize: 'max-total-message-size',
	keepaliveInterval: 'keepalive-interval',
	keepalivePongTimeout: 'keepalive-pong-timeout',
	maxIncomingFragments: 'max-incoming-fragments',
	maxBufferedAmount: 'max-buffered-amount',
	closeTimeout: 'close-timeout',
	idleTimeout: 'idle-timeout',
} as const;

/** The options, each checked against its connection property's spec. */
export type ConnectionLimitOptions = {readonly [K in keyof typeof connectionOptions]?: number | undefined};

/**
 * Checks each given limit against the connection property it sets, so a bad value is refused
 * when `websocketConnect` or `addWebsocketHandler` is called, not after a handshake.
 *
 * @throws {TypeError} naming the option, what it expects and what it got.
 */
export function validateConnectionOptions(options: ConnectionLimitOptions): void {
	for (const [option, property] of Object.entries(connectionOptions)) {
		const value: unknown = options[option as keyof typeof connectionOptions];
		const expected = value === undefined ? null : WebsocketConnection.findProperty(property)!.check(value);
		if (expected !== null) {
			throw new TypeError(`Expected \`${option}\` to be ${expected}, got \`${String(value)}\``);
		}
	}
}

/**
 * The limits `options` gives, and only those, as connection properties in camelCase, for the
 * constructor: a limit left out keeps the connection's own default.
 */
export function givenConnectionLimits(options: ConnectionLimitOptions): {-readonly [K in keyof typeof connectionOptions]?: number} {
	const limits: {-readonly [K in keyof typeof connectionOptions]?: number} = {};
	for (const option of Object.keys(connectionOptions) as (keyof typeof connectionOptions)[]) {
		const value = options[option];
		if (value !== undefined) {
			limits[option] = value;
		}
	}

	return limits;
}
