// libsoup tests/websocket-test.c, the handshake group: the soup handshake, an unsupported extension, subprotocol negotiation direct and through the glue.

import test, {type ExecutionContext} from 'ava';
import {WebsocketState} from '../../lib/websocket/constants.ts';
import {WebsocketError, WebsocketErrorCode} from '../../lib/websocket/errors.ts';
import {WebsocketExtensionDeflate} from '../../lib/websocket/extensions/deflate.ts';
import {clientPrepareHandshake, clientVerifyHandshake, serverCheckHandshake, serverProcessHandshake} from '../../lib/websocket/handshake.ts';
import {Message} from '../../lib/http/message.ts';
import {withTimeout} from '../helpers/signals.ts';
import {clientConnect, copyResponse, serverMessageFor, soupConnection, soupServer} from './helpers.ts';

test('/websocket/soup/handshake', async t => {
	const {client, server} = await soupConnection(t);
	t.is(client.getState(), WebsocketState.OPEN);
	// libsoup's get_extensions() is NULL without extensions; websoup's list is empty.
	t.deepEqual(client.getExtensions(), []);
	t.is(server.getState(), WebsocketState.OPEN);
	t.deepEqual(server.getExtensions(), []);
});

test('/websocket/soup/handshake-error', async t => {
	// The server (with its default permessage-deflate) answers with an extension the client never
	// offered, as the C test's request-started handler does.
	const server = await soupServer(t, {handler: {extensions: [WebsocketExtensionDeflate], responseHeaders: {'Sec-WebSocket-Extensions': 'x-foo'}}});
	const {connecting} = clientConnect(server);
	// The server's side of the handshake succeeds (WAIT_UNTIL (test->server != NULL)).
	const accepted = await server.nextServer();
	t.teardown(() => accepted.connection.getIoStream().destroy());
	const error = await withTimeout(
		connecting.then(
			() => null,
			(error_: unknown) => error_,
		),
		5000,
		'the handshake failure',
	);
	t.true(error instanceof WebsocketError);
	t.is((error as WebsocketError).code, WebsocketErrorCode.BAD_HANDSHAKE);
	t.is((error as WebsocketError).message, 'Server requested unsupported extension');
});

const negotiateClientProtocols = ['bbb', 'ccc'];
const negotiateServerProtocols = ['aaa', 'bbb', 'ccc'];
const negotiatedProtocol = 'bbb';
const mismatchClientProtocols = ['ddd'];
const mismatchServerProtocols = ['aaa', 'bbb', 'ccc'];
const allProtocols = ['aaa', 'bbb', 'ccc'];

function expectBadHandshake(t: ExecutionContext, fn: () => unknown): void {
	const error = t.throws(fn, {instanceOf: WebsocketError});
	t.is(error?.code, WebsocketErrorCode.BAD_HANDSHAKE);
}

/** The direct protocol tests: prepare, check, process and verify on messages, no sockets. */
function directHandshake(clientProtocols: readonly string[] | null): {msg: Message; serverMsg: Message} {
	const msg = new Message('GET', 'http://127.0.0.1');
	clientPrepareHandshake(msg, null, clientProtocols, null);
	return {msg, serverMsg: serverMessageFor(msg)};
}

test('/websocket/direct/protocol-negotiate', t => {
	const {msg, serverMsg} = directHandshake(negotiateClientProtocols);
	t.notThrows(() => {
		serverCheckHandshake(serverMsg, null, negotiateServerProtocols, null);
	});
	const result = serverProcessHandshake(serverMsg, null, negotiateServerProtocols, null);
	t.true(result.accepted);
	copyResponse(serverMsg, msg);
	t.is(msg.responseHeaders.getOne('Sec-WebSocket-Protocol'), negotiatedProtocol);
	t.notThrows(() => clientVerifyHandshake(msg, null));
});

test('/websocket/soup/protocol-negotiate', async t => {
	const server = await soupServer(t, {protocols: negotiateServerProtocols});
	const {connecting} = clientConnect(server, {protocols: negotiateClientProtocols});
	const {connection} = await server.nextServer();
	const client = await withTimeout(connecting, 5000, 'websocketConnect');
	t.teardown(() => client.getIoStream().destroy());
	t.is(client.getProtocol(), negotiatedProtocol);
	t.is(connection.getProtocol(), negotiatedProtocol);
});

test('/websocket/direct/protocol-negotiate-case-sensitive', t => {
	const {msg, serverMsg} = directHandshake(negotiateClientProtocols);
	t.notThrows(() => {
		serverCheckHandshake(serverMsg, null, negotiateServerProtocols, null);
	});
	t.true(serverProcessHandshake(serverMsg, null, negotiateServerProtocols, null).accepted);
	copyResponse(serverMsg, msg);
	const protocol = msg.responseHeaders.getOne('Sec-WebSocket-Protocol');
	t.is(protocol, negotiatedProtocol);
	// The server must echo a requested protocol exactly (RFC 6455 §4.1; libsoup #466): an
	// uppercased one fails the client's verification.
	msg.responseHeaders.replace('Sec-WebSocket-Protocol', protocol!.toUpperCase());
	expectBadHandshake(t, () => clientVerifyHandshake(msg, null));
});

test('/websocket/direct/protocol-mismatch', t => {
	const {msg, serverMsg} = directHandshake(mismatchClientProtocols);
	expectBadHandshake(t, () => {
		serverCheckHandshake(serverMsg, null, mismatchServerProtocols, null);
	});
	const result = serverProcessHandshake(serverMsg, null, mismatchServerProtocols, null);
	t.false(result.accepted);
	copyResponse(serverMsg, msg);
	t.is(msg.statusCode, 400);
	t.is(msg.responseHeaders.getOne('Sec-WebSocket-Protocol'), null);
	expectBadHandshake(t, () => clientVerifyHandshake(msg, null));
});

test('/websocket/soup/protocol-mismatch', async t => {
	const server = await soupServer(t, {protocols: mismatchServerProtocols});
	const {connecting} = clientConnect(server, {protocols: mismatchClientProtocols});
	const error = await withTimeout(
		connecting.then(
			() => null,
			(error_: unknown) => error_,
		),
		5000,
		'the handshake failure',
	);
	// Through the session any refusal is NOT_WEBSOCKET (LIBSOUP.md §0.7).
	t.true(error instanceof WebsocketError);
	t.is((error as WebsocketError).code, WebsocketErrorCode.NOT_WEBSOCKET);
});

test('/websocket/direct/protocol-server-any', t => {
	const {msg, serverMsg} = directHandshake(allProtocols);
	t.notThrows(() => {
		serverCheckHandshake(serverMsg, null, null, null);
	});
	t.true(serverProcessHandshake(serverMsg, null, null, null).accepted);
	copyResponse(serverMsg, msg);
	t.is(msg.responseHeaders.getOne('Sec-WebSocket-Protocol'), null);
	t.notThrows(() => clientVerifyHandshake(msg, null));
});

test('/websocket/soup/protocol-server-any', async t => {
	const server = await soupServer(t, {protocols: null});
	const {msg, connecting} = clientConnect(server, {protocols: allProtocols});
	const {connection} = await server.nextServer();
	const client = await withTimeout(connecting, 5000, 'websocketConnect');
	t.teardown(() => client.getIoStream().destroy());
	t.is(client.getProtocol(), null);
	t.is(connection.getProtocol(), null);
	t.is(msg.responseHeaders.getOne('Sec-WebSocket-Protocol'), null);
});

test('/websocket/direct/protocol-client-any', t => {
	const {msg, serverMsg} = directHandshake(null);
	t.notThrows(() => {
		serverCheckHandshake(serverMsg, null, allProtocols, null);
	});
	t.true(serverProcessHandshake(serverMsg, null, allProtocols, null).accepted);
	copyResponse(serverMsg, msg);
	t.is(msg.responseHeaders.getOne('Sec-WebSocket-Protocol'), null);
	t.notThrows(() => clientVerifyHandshake(msg, null));
});

test('/websocket/soup/protocol-client-any', async t => {
	const server = await soupServer(t, {protocols: allProtocols});
	const {msg, connecting} = clientConnect(server, {protocols: null});
	const {connection} = await server.nextServer();
	const client = await withTimeout(connecting, 5000, 'websocketConnect');
	t.teardown(() => client.getIoStream().destroy());
	t.is(client.getProtocol(), null);
	t.is(connection.getProtocol(), null);
	t.is(msg.responseHeaders.getOne('Sec-WebSocket-Protocol'), null);
});

test('/websocket/direct/invalid-protocols-ignored', t => {
	// libsoup 3.4+ (#314): a protocol list that joins to "" sends no Sec-WebSocket-Protocol.
	const msg = new Message('GET', 'http://127.0.0.1');
	clientPrepareHandshake(msg, null, [''], null);
	t.is(msg.requestHeaders.getOne('Sec-WebSocket-Protocol'), null);
});

test('/websocket/direct/invalid-protocols-rejected', t => {
	const msg = new Message('GET', 'http://127.0.0.1');
	clientPrepareHandshake(msg, null, null, null);
	msg.requestHeaders.append('Sec-WebSocket-Protocol', '');
	const serverMsg = serverMessageFor(msg);
	// An empty Sec-WebSocket-Protocol offers nothing: the server rejects it.
	expectBadHandshake(t, () => {
		serverCheckHandshake(serverMsg, null, allProtocols, null);
	});
	t.false(serverProcessHandshake(serverMsg, null, allProtocols, null).accepted);
});
