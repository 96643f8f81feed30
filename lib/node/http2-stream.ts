// The end of a WebSocket's HTTP/2 stream (RFC 8441 §6): after the close handshake, RST_STREAM(NO_ERROR) for a peer that keeps its side open.

import {constants as http2Constants, type Http2Stream} from 'node:http2';
import type {WebsocketConnection} from '../websocket/connection.ts';

/**
 * Once the close handshake is complete and our END_STREAM has gone (the stream's `'finish'`),
 * a peer that still keeps its side of the stream open is told to stop with RST_STREAM(NO_ERROR),
 * as RFC 9113 §8.1 lets a server do after a complete response ("Clients MUST NOT discard
 * responses as a result of receiving such a RST_STREAM"). Over TCP the connection waits for the
 * peer's FIN, bounded by its close timeout; a stream has this gentler way, so a peer such as
 * undici 7, which does not end its side, does not hold the stream for that timeout. Nothing is
 * lost: the peer has sent its Close, and everything we sent precedes the reset.
 */
export function resetStreamAfterCloseHandshake(connection: WebsocketConnection, stream: Http2Stream): void {
	stream.once('finish', () => {
		if (connection.getCloseState() !== 'Closed') {
			return;
		}

		// Not from inside the stream's own callback: Node 20 can abort on an assertion about
		// nghttp2's memory when a stream is reset there (nodejs/node#38964).
		setImmediate(() => {
			if (!stream.closed && !stream.destroyed) {
				stream.close(http2Constants.NGHTTP2_NO_ERROR);
			}
		});
	});
}
