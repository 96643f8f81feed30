// Write backpressure for the stream facades: wait until a connection's unsent bytes fall to a mark.

import {WebsocketState} from '../websocket/constants.ts';
import type {WebsocketConnection} from '../websocket/connection.ts';

/** The fewest unsent bytes a stream facade lets a connection hold before a write waits. */
export const DEFAULT_WRITE_HIGH_WATER_MARK = 64 * 1024;

/**
 * Resolves once `connection.bufferedAmount` is at most `mark` (at once if it already is), or the
 * connection is no longer OPEN.
 *
 * A mark no lower than the stream's own high-water mark is what makes the wait end: above it either
 * the stream's last write returned false or the connection holds frames waiting for the stream, so
 * a 'drain' is coming. The check runs an immediate after 'drain', once the connection has flushed.
 */
export async function whenBufferedAtMost(connection: WebsocketConnection, mark: number): Promise<void> {
	const stream = connection.getIoStream();
	const limit = Math.max(mark, stream.writableHighWaterMark);
	// Bounded: each pass waits for a 'drain' or the stream's end, and ends once either says so.
	while (connection.bufferedAmount > limit && connection.getState() === WebsocketState.OPEN && !stream.destroyed) {
		await new Promise<void>(resolve => {
			const done = (): void => {
				stream.off('drain', done);
				stream.off('close', done);
				setImmediate(resolve);
			};

			stream.on('drain', done);
			stream.on('close', done);
		});
	}
}
