// websoup's debug log (`NODE_DEBUG=websoup`, libsoup's g_debug) and its diagnostics_channel events.

import type {WebsocketCloseInfo, WebsocketConnection} from './connection.ts';
import type {Message} from '../http/message.ts';

// Builtins through process.getBuiltinModule(), not import: see docs/architecture.md, “Node's builtins”.
const diagnosticsChannel = process.getBuiltinModule('node:diagnostics_channel');
const {debuglog} = process.getBuiltinModule('node:util');

/** Debug output: `NODE_DEBUG=websoup node app.js` prints it on stderr as `WEBSOUP <pid>: …`. */
export const debug = debuglog('websoup');

/** The names of the channels websoup publishes on (`diagnostics_channel.subscribe(name, fn)`). */
export const DiagnosticsChannel = {
	/** A {@link WebsocketConnection} was created on a stream whose handshake is done: {@link WebsocketOpenMessage}. */
	OPEN: 'websoup:connection:open',
	/** A connection emitted `closed`: {@link WebsocketCloseMessage}. */
	CLOSE: 'websoup:connection:close',
	/** A connection emitted `error`: {@link WebsocketErrorMessage}. */
	ERROR: 'websoup:connection:error',
	/** An opening handshake was refused, by this server or by the server this client asked: {@link HandshakeRefusedMessage}. */
	HANDSHAKE_REFUSED: 'websoup:handshake:refused',
} as const;
export type DiagnosticsChannel = (typeof DiagnosticsChannel)[keyof typeof DiagnosticsChannel];

/** Published on `websoup:connection:open`, from the constructor (before any handler is connected). */
export interface WebsocketOpenMessage {
	connection: WebsocketConnection;
}

/** Published on `websoup:connection:close`, right after the `closed` signal; the fields are `conn.closed`'s. */
export interface WebsocketCloseMessage extends WebsocketCloseInfo {
	connection: WebsocketConnection;
}

/** Published on `websoup:connection:error`, right after the `error` signal. */
export interface WebsocketErrorMessage {
	connection: WebsocketConnection;
	error: Error;
}

/** Published on `websoup:handshake:refused`. */
export interface HandshakeRefusedMessage {
	/** `'server'`: `addWebsocketHandler` answered a request with `statusCode`; `'client'`: `websocketConnect` refused the server's answer. */
	side: 'client' | 'server';
	/** The handshake's message: the request, and the response as sent (server) or received (client). */
	message: Message;
	/** The response's status: 400, 403, 404, 503 … from a server; whatever the server answered on a client. */
	statusCode: number;
	/** The `WebsocketError` that says why, when websoup knows one (a refused check hook has none). */
	error: Error | null;
}

export const openChannel = diagnosticsChannel.channel(DiagnosticsChannel.OPEN);
export const closeChannel = diagnosticsChannel.channel(DiagnosticsChannel.CLOSE);
export const errorChannel = diagnosticsChannel.channel(DiagnosticsChannel.ERROR);
export const handshakeRefusedChannel = diagnosticsChannel.channel(DiagnosticsChannel.HANDSHAKE_REFUSED);

/** Publishes a refused handshake, at no cost when nobody subscribed. */
export function publishHandshakeRefused(side: 'client' | 'server', message: Message, error: Error | null): void {
	if (handshakeRefusedChannel.hasSubscribers) {
		const refused: HandshakeRefusedMessage = {side, message, statusCode: message.statusCode, error};
		handshakeRefusedChannel.publish(refused);
	}
}
