// libsoup tests/websocket-test.c, the deflate group: permessage-deflate negotiation (the C table), per-message opt-out, compressed fragments.

import test, {type ExecutionContext} from 'ava';
import {CloseCode, WebsocketDataType, WebsocketState} from '../../lib/websocket/constants.ts';
import {WebsocketError, WebsocketErrorCode} from '../../lib/websocket/errors.ts';
import {WebsocketExtensionDeflate} from '../../lib/websocket/extensions/deflate.ts';
import type {WebsocketExtension} from '../../lib/websocket/extensions/extension.ts';
import {clientPrepareHandshake, clientVerifyHandshake, serverCheckHandshake, serverProcessHandshake} from '../../lib/websocket/handshake.ts';
import {Message} from '../../lib/http/message.ts';
import {until, withTimeout} from '../helpers/signals.ts';
import {
	clientConnect,
	collectErrors,
	collectMessages,
	copyResponse,
	countClosed,
	deflateParts,
	halfDirectConnection,
	serverMessageFor,
	soupConnection,
	soupServer,
	writeAll,
} from './helpers.ts';

function isOneDeflate(t: ExecutionContext, extensions: readonly WebsocketExtension[], label: string): void {
	t.is(extensions.length, 1, label);
	t.true(extensions[0] instanceof WebsocketExtensionDeflate, label);
}

test('/websocket/soup/deflate-handshake', async t => {
	// test_handshake on setup_soup_connection_with_extensions.
	const {client, server} = await soupConnection(t, {extensions: true});
	t.is(client.getState(), WebsocketState.OPEN);
	isOneDeflate(t, client.getExtensions(), 'client');
	t.is(server.getState(), WebsocketState.OPEN);
	isOneDeflate(t, server.getExtensions(), 'server');
});

interface NegotiateRow {
	clientExtension: string;
	serverSupportsExtensions: boolean;
	check: boolean;
	accepted: boolean;
	verify: boolean;
	serverExtension: string | null;
}

const ok = (clientExtension: string, serverExtension: string = clientExtension): NegotiateRow => ({
	clientExtension,
	serverSupportsExtensions: true,
	check: true,
	accepted: true,
	verify: true,
	serverExtension,
});
const refused = (clientExtension: string): NegotiateRow => ({
	clientExtension,
	serverSupportsExtensions: true,
	check: false,
	accepted: false,
	verify: false,
	serverExtension: null,
});

/** The C table deflate_negotiate_tests (expected_prepare_result is TRUE in every row). */
const deflateNegotiateTests: readonly NegotiateRow[] = [
	ok('permessage-deflate'),
	{clientExtension: 'permessage-deflate', serverSupportsExtensions: false, check: true, accepted: false, verify: true, serverExtension: 'permessage-deflate'},
	ok('permessage-deflate; server_no_context_takeover'),
	ok('permessage-deflate; client_no_context_takeover'),
	ok('permessage-deflate; server_max_window_bits=8'),
	ok('permessage-deflate; client_max_window_bits', 'permessage-deflate; client_max_window_bits=15'),
	ok('permessage-deflate; client_max_window_bits=10'),
	ok('permessage-deflate; client_no_context_takeover; server_max_window_bits=10'),
	refused('permessage-deflate; unknown_parameter'),
	refused('permessage-deflate; client_no_context_takeover; client_no_context_takeover'),
	refused('permessage-deflate; server_max_window_bits=10; server_max_window_bits=15'),
	refused('permessage-deflate; client_no_context_takeover=15'),
	refused('permessage-deflate; server_no_context_takeover=15'),
	refused('permessage-deflate; server_max_window_bits'),
	refused('permessage-deflate; server_max_window_bits=7'),
	refused('permessage-deflate; server_max_window_bits=16'),
	refused('permessage-deflate; client_max_window_bits=7'),
	refused('permessage-deflate; client_max_window_bits=16'),
	refused('permessage-deflate; client_max_window_bits=foo'),
	refused('permessage-deflate; server_max_window_bits=bar'),
	refused('permessage-deflate; client_max_window_bits=15foo'),
	refused('permessage-deflate; server_max_window_bits=10bar'),
];

test('/websocket/direct/deflate-negotiate', t => {
	const supported = [WebsocketExtensionDeflate];
	for (const row of deflateNegotiateTests) {
		const label = `${row.clientExtension} (server ${row.serverSupportsExtensions ? 'supports' : 'does not support'} extensions)`;
		const msg = new Message('GET', 'http://127.0.0.1');
		clientPrepareHandshake(msg, null, null, null);
		msg.requestHeaders.append('Sec-WebSocket-Extensions', row.clientExtension);
		const serverMsg = serverMessageFor(msg);
		const serverSupported = row.serverSupportsExtensions ? supported : null;

		if (row.check) {
			t.notThrows(() => {
				serverCheckHandshake(serverMsg, null, null, serverSupported);
			}, label);
		} else {
			const error = t.throws(() => {
				serverCheckHandshake(serverMsg, null, null, serverSupported);
			}, {instanceOf: WebsocketError}, label);
			t.is(error?.code, WebsocketErrorCode.BAD_HANDSHAKE, label);
		}

		const result = serverProcessHandshake(serverMsg, null, null, serverSupported);
		t.is(result.accepted, row.check, label);
		copyResponse(serverMsg, msg);
		if (row.accepted) {
			t.is(msg.responseHeaders.getOne('Sec-WebSocket-Extensions'), row.serverExtension, label);
			isOneDeflate(t, result.accepted ? result.extensions : [], `${label}: server accepted`);
		} else if (result.accepted) {
			t.deepEqual(result.extensions, [], label);
		}

		if (row.verify) {
			let accepted: WebsocketExtension[] = [];
			t.notThrows(() => {
				accepted = clientVerifyHandshake(msg, supported);
			}, label);
			if (row.accepted) {
				isOneDeflate(t, accepted, `${label}: client accepted`);
			} else {
				t.deepEqual(accepted, [], label);
			}
		} else {
			const error = t.throws(() => clientVerifyHandshake(msg, supported), {instanceOf: WebsocketError}, label);
			t.is(error?.code, WebsocketErrorCode.BAD_HANDSHAKE, label);
		}
	}
});

// libsoup disables deflate on one message with soup_message_disable_feature(). websoup has no
// per-message feature switch (porting-notes difference 29): the supported list is given per
// handshake, so a message that is not to offer deflate is prepared without it.
test('/websocket/direct/deflate-disabled-in-message', t => {
	const supported = [WebsocketExtensionDeflate];
	const msg = new Message('GET', 'http://127.0.0.1');
	clientPrepareHandshake(msg, null, null, null);
	t.is(msg.requestHeaders.getOne('Sec-WebSocket-Extensions'), null);
	const serverMsg = serverMessageFor(msg);
	t.notThrows(() => {
		serverCheckHandshake(serverMsg, null, null, supported);
	});
	const result = serverProcessHandshake(serverMsg, null, null, supported);
	t.true(result.accepted);
	t.deepEqual(result.accepted ? result.extensions : null, []);
	copyResponse(serverMsg, msg);
	t.is(msg.responseHeaders.getOne('Sec-WebSocket-Extensions'), null);
	t.deepEqual(clientVerifyHandshake(msg, supported), []);
});

test('/websocket/soup/deflate-disabled-in-message', async t => {
	// The server offers deflate; this one connect does not.
	const server = await soupServer(t, {extensions: true});
	const {msg, connecting} = clientConnect(server, {extensions: false});
	await server.nextServer();
	const client = await withTimeout(connecting, 5000, 'websocketConnect');
	t.teardown(() => client.getIoStream().destroy());
	t.is(msg.requestHeaders.getOne('Sec-WebSocket-Extensions'), null);
	t.is(msg.responseHeaders.getOne('Sec-WebSocket-Extensions'), null);
});

/** Frames of a compressed TEXT message "one two three" in three fragments, as send_compressed_fragments_server_thread. */
async function compressedFragments(rsv1OnSecond: boolean): Promise<Buffer> {
	const [one, two, three] = await deflateParts(['one ', 'two ', 'three']);
	const frame = (first: number, payload: Buffer): Buffer => {
		// Each part is under 126 bytes: a 7-bit length, unmasked (server to client).
		if (payload.length >= 126) {
			throw new Error('compressed part too long');
		}

		return Buffer.concat([Buffer.from([first, payload.length]), payload]);
	};

	return Buffer.concat([
		frame(0x41, one!), // !FIN, RSV1 (compressed), TEXT
		// Only the first fragment may have RSV1 set (RFC 7692 §6.1).
		frame(rsv1OnSecond ? 0x40 : 0x00, two!), // !FIN, continuation
		frame(0x80, three!.subarray(0, three!.length - 4)), // FIN, continuation, without 00 00 ff ff
	]);
}

test('/websocket/direct/deflate-receive-fragmented', async t => {
	// test_receive_fragmented on setup_half_direct_connection_with_extensions.
	const {client, raw} = await halfDirectConnection(t, {extensions: true});
	const errors = collectErrors(client);
	const received = collectMessages(client);
	let receivedWhenClosed = -1;
	client.connect('closed', () => {
		receivedWhenClosed = received.length;
	});
	await writeAll(raw, await compressedFragments(false));
	// g_io_stream_close: the raw server's FIN right behind the last fragment.
	raw.end();
	await until(() => client.getState() === WebsocketState.CLOSED, 5000, 'CLOSED');
	// The message must be delivered, and before `closed`.
	t.deepEqual(received, [{type: WebsocketDataType.TEXT, data: Buffer.from('one two three')}]);
	t.is(receivedWhenClosed, 1, 'message before closed');
	t.deepEqual(errors, []);
});

test('/websocket/direct/deflate-receive-fragmented-error', async t => {
	const {client, raw} = await halfDirectConnection(t, {extensions: true});
	const errors = collectErrors(client);
	const received = collectMessages(client);
	const closed = countClosed(client);
	await writeAll(raw, await compressedFragments(true));
	raw.end();
	await until(() => errors.length > 0 || received.length > 0, 5000, 'an error or a message');
	t.is(received.length, 0);
	const [error] = errors;
	t.true(error instanceof WebsocketError);
	t.is((error as WebsocketError).code, CloseCode.PROTOCOL_ERROR);
	t.is((error as WebsocketError).reason, 'WS_ERR_INVALID_RSV_BITS');
	t.is(error!.message, 'Received a non-first frame with RSV1 flag set');
	await until(() => client.getState() === WebsocketState.CLOSED, 5000, 'CLOSED');
	t.is(closed(), 1);
	t.is(errors.length, 1);
});
