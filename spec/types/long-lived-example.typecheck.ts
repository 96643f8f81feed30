// The complete example service of docs/long-lived.md, type-checked by `npm run typecheck` (spec/docs-long-lived.spec.ts keeps the two identical).

// --- example ---
import {createServer} from 'node:http';
import {addWebsocketHandler, CloseCode, websocketReconnect, type WebsocketConnection} from '../../lib/index.ts';

// The server: an echo service that keeps connections for hours.
const server = createServer();
const rooms = new Set<WebsocketConnection>();
const handler = addWebsocketHandler(
	server,
	'/ws',
	null,
	null,
	(_server, _msg, _path, connection) => {
		rooms.add(connection);
		connection.connect('message', (self, type, data) => self.sendMessage(type, data));
		// Every keepalive pong measures the round trip.
		connection.connect('notify::latency', self => {
			if (self.latency > 2000) {
				console.warn(`slow peer: ${self.latency.toFixed(1)} ms`);
			}
		});
		connection.connect('closed', self => rooms.delete(self));
	},
	{
		keepaliveInterval: 30, // a Ping every 30 s: proxies and NATs see traffic
		keepalivePongTimeout: 10, // no Pong within 10 s: the peer is gone (error 1008)
		idleTimeout: 600, // no message for 10 min: Close 1001 "idle timeout"
	},
);
server.listen(8080, '127.0.0.1');

// Graceful shutdown: 503 for new handshakes, Close 1001 to everyone, 5 s, then terminate the rest.
process.once('SIGTERM', () => {
	server.close();
	void handler.close({code: CloseCode.GOING_AWAY, reason: 'restarting', timeout: 5000}).then(({clean, dirty, terminated}) => {
		console.log(`stopped: ${clean} clean, ${dirty} dirty, ${terminated} terminated`);
		handler.remove();
	});
});

// A client that stays connected across restarts of that server.
export async function stayConnected(signal: AbortSignal): Promise<void> {
	for await (const connection of websocketReconnect('ws://127.0.0.1:8080/ws', null, null, {
		signal,
		keepaliveInterval: 30,
		keepalivePongTimeout: 10,
		backoff: {initial: 1000, factor: 2, maximum: 30_000},
		onRetry: ({attempt, delay}) => console.log(`reconnecting in ${delay} ms (attempt ${attempt})`),
	})) {
		connection.sendText('hello again');
		const roundTrip = await connection.ping().catch(() => Number.NaN);
		console.log(`connected, round trip ${roundTrip.toFixed(1)} ms`);
		// The loop asks for the next connection once this one has closed.
	}
}
