// How a WebSocket's HTTP/2 stream ends (RFC 8441 §6): END_STREAM for TCP's FIN, RST_STREAM for its RST.

import type {Http2Stream} from 'node:http2';
import type {WebsocketConnection} from '../websocket/connection.ts';

// RFC 9113 §7 error codes, as numbers: node:http2's `constants` would load the module (about
// 0.2 MB of code) into every process that imports websoup, HTTP/2 or not.
/** RFC 9113 §7 NO_ERROR (0x0): a graceful end. */
export const HTTP2_NO_ERROR = 0x0;
/** RFC 9113 §7 CANCEL (0x8): the stream is no longer needed. */
export const HTTP2_CANCEL = 0x8;

/**
 * Maps the two ways an HTTP/2 stream ends onto what the connection expects of a socket.
 *
 * - Once the close handshake is complete and our END_STREAM has gone (the stream's `'finish'`),
 *   a peer that still keeps its side open is told to stop with RST_STREAM(NO_ERROR), as RFC 9113
 *   §8.1 lets a server do after a complete response ("Clients MUST NOT discard responses as a
 *   result of receiving such a RST_STREAM"). Over TCP the connection waits for the peer's FIN,
 *   bounded by its close timeout; a stream has this gentler way, so a peer such as undici 7, which
 *   does not end its side, does not hold the stream for that timeout. Nothing is lost: the peer
 *   has sent its Close, and everything we sent precedes the reset.
 * - Node reports a peer's RST_STREAM(NO_ERROR) as the end of the readable side, like END_STREAM;
 *   but then the stream is closed both ways, nothing more can be written, and our side would wait
 *   for a `'finish'` that never comes. A stream that is closed when its readable side ends is
 *   destroyed, so the connection closes at once, as on a TCP reset (dirty, close code 0).
 *
 * Both act on the next turn of the event loop: Node 20 can abort on an assertion about nghttp2's
 * memory when a stream is reset from inside one of its own callbacks (nodejs/node#38964).
 */
export function mapStreamEnd(connection: WebsocketConnection, stream: Http2Stream): void {
	stream.once('finish', () => {
		if (connection.getCloseState() !== 'Closed') {
			return;
		}

		setImmediate(() => {
			if (!stream.closed && !stream.destroyed) {
				stream.close(HTTP2_NO_ERROR);
			}
		});
	});
	stream.once('end', () => {
		setImmediate(() => {
			if (stream.closed && !stream.destroyed) {
				stream.destroy();
			}
		});
	});
}


