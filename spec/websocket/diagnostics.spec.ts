// NODE_DEBUG=websoup and the diagnostics_channel events: open, close, error, handshake refused.

import {execFile} from 'node:child_process';
import diagnosticsChannel from 'node:diagnostics_channel';
import {createServer} from 'node:http';
import {promisify} from 'node:util';
import test, {type ExecutionContext} from 'ava';
import {
	addWebsocketHandler,
	DiagnosticsChannel,
	Message,
	WebsocketConnectionType,
	WebsocketError,
	WebsocketErrorCode,
	websocketConnect,
	type HandshakeRefusedMessage,
	type WebsocketCloseMessage,
	type WebsocketErrorMessage,
	type WebsocketOpenMessage,
} from '../../lib/index.ts';
import {root} from '../helpers/cli.ts';
import {connectionPair, rawPeer} from '../helpers/modes.ts';
import {waitForSignal} from '../helpers/signals.ts';
import {handshakeRequest, listen, rawExchange, scriptedServer} from '../node/fixtures.ts';

/** Everything published on `name` until teardown (channels are process-wide: filter what is yours). */
function record<T>(t: ExecutionContext, name: DiagnosticsChannel): T[] {
	const seen: T[] = [];
	const onMessage = (message: unknown): void => {
		seen.push(message as T);
	};

	diagnosticsChannel.subscribe(name, onMessage);
	t.teardown(() => {
		diagnosticsChannel.unsubscribe(name, onMessage);
	});
	return seen;
}

test('the channel names', t => {
	t.deepEqual(DiagnosticsChannel, {
		OPEN: 'websoup:connection:open',
		CLOSE: 'websoup:connection:close',
		ERROR: 'websoup:connection:error',
		HANDSHAKE_REFUSED: 'websoup:handshake:refused',
	});
});

test('open and close: one event each per connection, close with the closed promise\'s fields', async t => {
	const opened = record<WebsocketOpenMessage>(t, DiagnosticsChannel.OPEN);
	const closed = record<WebsocketCloseMessage>(t, DiagnosticsChannel.CLOSE);
	const {client, server} = await connectionPair(t, 'tcp');
	const mine = (message: {connection: unknown}): boolean => message.connection === client || message.connection === server;
	t.deepEqual(opened.filter(mine).map(message => message.connection), [client, server]);

	client.close(1000, 'bye');
	const [clientInfo, serverInfo] = await Promise.all([client.closed, server.closed]);
	const events = closed.filter(mine);
	t.is(events.length, 2);
	t.deepEqual(events.find(event => event.connection === client), {connection: client, ...clientInfo});
	t.deepEqual(events.find(event => event.connection === server), {connection: server, ...serverInfo});
	t.like(events.find(event => event.connection === server), {code: 1000, reason: 'bye', wasClean: true, error: null});
});

test('error: one event with the error the signal carried, before the close event', async t => {
	const order: string[] = [];
	const errors = record<WebsocketErrorMessage>(t, DiagnosticsChannel.ERROR);
	const onClose = (message: unknown): void => {
		order.push(`close ${(message as WebsocketCloseMessage).error === errors[0]?.error}`);
	};

	diagnosticsChannel.subscribe(DiagnosticsChannel.CLOSE, onClose);
	t.teardown(() => diagnosticsChannel.unsubscribe(DiagnosticsChannel.CLOSE, onClose));
	const {connection, raw} = await rawPeer(t, 'tcp', WebsocketConnectionType.SERVER);
	const signalled = waitForSignal(connection, 'error');
	raw.write(Buffer.from('810548656c6c6f', 'hex')); // FIN+TEXT, len 5, "Hello", unmasked: a server fails it
	const [error] = await signalled;
	await connection.closed;
	const mine = errors.filter(message => message.connection === connection);
	t.is(mine.length, 1);
	t.is(mine[0]!.error, error);
	t.true(error instanceof WebsocketError);
	t.is((error as WebsocketError).reason, 'WS_ERR_EXPECTED_MASK');
	t.true(order.includes('close true'));
});

test('handshake refused by the server: side, status, message and error', async t => {
	const refused = record<HandshakeRefusedMessage>(t, DiagnosticsChannel.HANDSHAKE_REFUSED);
	const server = createServer();
	addWebsocketHandler(server, '/diagnostics-refused', null, null, () => {});
	const port = await listen(t, server);
	const {text} = await rawExchange(t, port, handshakeRequest('/diagnostics-refused', {'Sec-WebSocket-Version': '8'}));
	t.regex(text, /^HTTP\/1\.1 400 /);
	const mine = refused.filter(event => event.message.uri.pathname === '/diagnostics-refused');
	t.is(mine.length, 1);
	t.is(mine[0]!.side, 'server');
	t.is(mine[0]!.statusCode, 400);
	t.true(mine[0]!.error instanceof WebsocketError);
	t.is((mine[0]!.error as WebsocketError).code, WebsocketErrorCode.BAD_HANDSHAKE);

	// A request for no handler's path is refused too: 404, and no WebsocketError to give.
	await rawExchange(t, port, handshakeRequest('/diagnostics-nowhere'));
	const nowhere = refused.filter(event => event.message.uri.pathname === '/diagnostics-nowhere');
	t.is(nowhere.length, 1);
	t.like(nowhere[0], {side: 'server', statusCode: 404, error: null});
});

test('handshake refused, seen by the client: the server\'s status and the error websocketConnect rejects with', async t => {
	const refused = record<HandshakeRefusedMessage>(t, DiagnosticsChannel.HANDSHAKE_REFUSED);
	const port = await scriptedServer(t, (_request, socket) => {
		socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno');
	});
	const msg = new Message(`ws://127.0.0.1:${port}/diagnostics-client`);
	const error = await t.throwsAsync(websocketConnect(msg), {instanceOf: WebsocketError});
	const mine = refused.filter(event => event.message === msg);
	t.is(mine.length, 1);
	t.like(mine[0], {side: 'client', statusCode: 403, error});
});

test('NODE_DEBUG=websoup prints the debug log on stderr', async t => {
	const script = `
		import {WebsocketConnection} from './lib/websocket/connection.ts';
		import {duplexPair} from './spec/helpers/duplex-pair.ts';
		const [a, b] = duplexPair();
		const uri = new URL('ws://127.0.0.1/');
		const client = new WebsocketConnection({ioStream: a, connectionType: 1, uri});
		const server = new WebsocketConnection({ioStream: b, connectionType: 2, uri});
		client.close(1000);
		client.close(1000); // logged: already closing
		await Promise.all([client.closed, server.closed]);
	`;
	const run = async (nodeDebug: string): Promise<string> => {
		const {stderr} = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], {
			cwd: root,
			env: {...process.env, NODE_DEBUG: nodeDebug},
			timeout: 30_000,
		});
		return stderr;
	};

	const [on, off] = await Promise.all([run('websoup'), run('')]);
	t.regex(on, /^WEBSOUP \d+: close: already closing\/closed, ignoring$/m);
	t.is(off, '');
});
