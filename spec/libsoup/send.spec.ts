// libsoup tests/websocket-test.c, the send-* group: text and binary both ways, big and empty messages, the size limits, bad data from a peer.

import type {ExecutionContext} from 'ava';
import type {WebsocketConnection} from '../../lib/websocket/connection.ts';
import {CloseCode, WebsocketDataType, WebsocketState} from '../../lib/websocket/constants.ts';
import {WebsocketError} from '../../lib/websocket/errors.ts';
import {until} from '../helpers/signals.ts';
import {collectErrors, collectMessages, countClosed, nextMessage, pathTest, writeAll, type Pair} from './helpers.ts';

const TEST_STRING = 'this is a test';
// TEST_STRING_WITH_NULL, sent with its terminating NUL as the C sizeof() counts it.
const TEST_STRING_WITH_NULL = Buffer.from('this is\0 a test\0', 'latin1');

async function sendOneWay(t: ExecutionContext, from: WebsocketConnection, to: WebsocketConnection): Promise<void> {
	let received = nextMessage(t, to, WebsocketDataType.TEXT);
	from.sendText(TEST_STRING);
	let data = await received;
	// libsoup's data is NUL-terminated outside its length; websoup's Buffer has no terminator
	// (porting-notes difference 20), so the length and the text are what is compared.
	t.is(data.toString('utf8'), TEST_STRING);
	t.is(data.length, TEST_STRING.length);

	received = nextMessage(t, to, WebsocketDataType.TEXT);
	from.sendMessage(WebsocketDataType.TEXT, TEST_STRING_WITH_NULL);
	data = await received;
	t.deepEqual(data, TEST_STRING_WITH_NULL);
}

/** test_send_client_to_server */
export async function sendClientToServer(t: ExecutionContext, pair: Pair): Promise<void> {
	await sendOneWay(t, pair.client, pair.server);
}

/** test_send_server_to_client */
export async function sendServerToClient(t: ExecutionContext, pair: Pair): Promise<void> {
	await sendOneWay(t, pair.server, pair.client);
}

/** test_send_big_packets */
export async function sendBigPackets(t: ExecutionContext, {client, server}: Pair): Promise<void> {
	let sent = '?'.repeat(100 * 1000);
	let received = nextMessage(t, client, WebsocketDataType.TEXT);
	server.sendText(sent);
	t.is((await received).toString(), sent);

	for (const conn of [client, server]) {
		conn.setMaxIncomingPayloadSize(1000 * 1000 + 1);
		t.is(conn.getMaxIncomingPayloadSize(), 1000 * 1000 + 1);
		conn.setMaxTotalMessageSize(1000 * 1000 + 1);
		t.is(conn.getMaxTotalMessageSize(), 1000 * 1000 + 1);
	}

	sent = '?'.repeat(1000 * 1000);
	received = nextMessage(t, client, WebsocketDataType.TEXT);
	server.sendText(sent);
	t.true((await received).equals(Buffer.from(sent)));

	// Reverse the test and send the big message to the server.
	received = nextMessage(t, server, WebsocketDataType.TEXT);
	client.sendText(sent);
	t.true((await received).equals(Buffer.from(sent)));
}

/** test_send_big_packets_direct: the connection's own defaults on both ends. */
export async function sendBigPacketsDirect(t: ExecutionContext, pair: Pair): Promise<void> {
	t.is(pair.client.getMaxIncomingPayloadSize(), 128 * 1024);
	t.is(pair.client.getMaxTotalMessageSize(), 0);
	t.is(pair.server.getMaxIncomingPayloadSize(), 128 * 1024);
	t.is(pair.server.getMaxTotalMessageSize(), 0);
	await sendBigPackets(t, pair);
}

/** test_send_big_packets_soup: the server glue sets max-total-message-size to 128 KiB, as SoupServer. */
export async function sendBigPacketsSoup(t: ExecutionContext, pair: Pair): Promise<void> {
	t.is(pair.client.getMaxIncomingPayloadSize(), 128 * 1024);
	t.is(pair.client.getMaxTotalMessageSize(), 0);
	t.is(pair.server.getMaxIncomingPayloadSize(), 128 * 1024);
	t.is(pair.server.getMaxTotalMessageSize(), 128 * 1024);
	await sendBigPackets(t, pair);
}

/** test_send_empty_packets */
export async function sendEmptyPackets(t: ExecutionContext, {client, server}: Pair): Promise<void> {
	// C sends "\0" through send_text, which takes strlen: an empty text message.
	let received = nextMessage(t, client, WebsocketDataType.TEXT);
	server.sendText('');
	t.is((await received).length, 0);

	received = nextMessage(t, client, WebsocketDataType.BINARY);
	server.sendBinary(new Uint8Array(0));
	// libsoup always adds a NUL after the data; websoup gives an empty Buffer (porting-notes difference 20).
	const data = await received;
	t.true(Buffer.isBuffer(data));
	t.is(data.length, 0);
}

/**
 * The four send-exceeding-* tests: `sender` sends 1 000 000 bytes to `receiver`, whose limit
 * refuses it. The whole message is one frame, so in every one of them the frame limit
 * (max-incoming-payload-size, still 128 KiB on the receiver in the max-message-size tests too)
 * is the check that refuses it — in libsoup, which checks the frame length first, as in websoup.
 *
 * libsoup: the receiver drops TCP without a Close; the sender's `error` is G_IO_ERROR_CONNECTION_CLOSED.
 * websoup, deliberate difference 8 (LIBSOUP.md): the receiver sends Close 1009 at once and then
 * closes TCP; its own signals stay libsoup's (`error` 1009 before `closed`, no `closing`), and
 * "the peer learns why instead of seeing a reset": the sender gets the Close, so `closing`,
 * `closed` with code 1009, and no transport error.
 */
async function sendExceeding(t: ExecutionContext, sender: WebsocketConnection, receiver: WebsocketConnection): Promise<void> {
	const senderErrors = collectErrors(sender);
	const receiverErrors = collectErrors(receiver);
	const senderClosed = countClosed(sender);
	const receiverClosed = countClosed(receiver);
	let closingOnReceiver = 0;
	receiver.connect('closing', () => closingOnReceiver++);
	let closingOnSender = 0;
	sender.connect('closing', () => closingOnSender++);
	const received = collectMessages(receiver);

	sender.sendText('?'.repeat(1000 * 1000));
	await until(() => receiverClosed() > 0, 5000, 'the receiver closed');
	await until(() => senderClosed() > 0, 5000, 'the sender closed');

	t.is(received.length, 0);
	t.is(receiverClosed(), 1);
	t.is(closingOnReceiver, 0);
	t.is(receiverErrors.length, 1);
	const [error] = receiverErrors;
	t.true(error instanceof WebsocketError);
	t.is((error as WebsocketError).code, CloseCode.TOO_BIG);
	t.is((error as WebsocketError).reason, 'WS_ERR_PAYLOAD_TOO_BIG');
	t.is(receiver.getState(), WebsocketState.CLOSED);

	t.is(sender.getState(), WebsocketState.CLOSED);
	t.is(senderClosed(), 1);
	t.deepEqual(senderErrors.map(e => e.message), [], 'the sender sees no transport error');
	t.is(sender.getCloseCode(), CloseCode.TOO_BIG, 'the sender is told 1009');
	t.is(closingOnSender, 1);
}

/** test_send_exceeding_client_max_payload_size */
export async function sendExceedingClientMaxPayloadSize(t: ExecutionContext, {client, server}: Pair): Promise<void> {
	t.is(client.getMaxIncomingPayloadSize(), 128 * 1024);
	server.setMaxIncomingPayloadSize(0);
	t.is(server.getMaxIncomingPayloadSize(), 0);
	// The message to the client is dropped due to the client's limit.
	await sendExceeding(t, server, client);
}

/** test_send_exceeding_server_max_payload_size */
export async function sendExceedingServerMaxPayloadSize(t: ExecutionContext, {client, server}: Pair): Promise<void> {
	client.setMaxIncomingPayloadSize(0);
	t.is(client.getMaxIncomingPayloadSize(), 0);
	t.is(server.getMaxIncomingPayloadSize(), 128 * 1024);
	// The message to the server is dropped due to the server's limit.
	await sendExceeding(t, client, server);
}

/** test_send_exceeding_client_max_message_size */
export async function sendExceedingClientMaxMessageSize(t: ExecutionContext, {client, server}: Pair): Promise<void> {
	client.setMaxTotalMessageSize(128 * 1024);
	t.is(client.getMaxTotalMessageSize(), 128 * 1024);
	server.setMaxTotalMessageSize(0);
	t.is(server.getMaxTotalMessageSize(), 0);
	await sendExceeding(t, server, client);
}

/** test_send_exceeding_server_max_message_size */
export async function sendExceedingServerMaxMessageSize(t: ExecutionContext, {client, server}: Pair): Promise<void> {
	client.setMaxTotalMessageSize(0);
	t.is(client.getMaxTotalMessageSize(), 0);
	// Set manually: the default differs between a direct and a soup connection.
	server.setMaxTotalMessageSize(128 * 1024);
	t.is(server.getMaxTotalMessageSize(), 128 * 1024);
	await sendExceeding(t, client, server);
}

/** test_send_bad_data: the client's stream carries a masked text frame of invalid UTF-8 to the server. */
export async function sendBadData(t: ExecutionContext, {client, server}: Pair): Promise<void> {
	const errors = collectErrors(server);
	const clientClosed = countClosed(client);
	// 81 84: FIN+TEXT, masked, length 4; mask 00000000; payload ee ee ee ee (not UTF-8).
	await writeAll(client.getIoStream(), Buffer.from('818400000000eeeeeeee', 'hex'));
	await until(() => errors.length > 0, 5000, 'the server error');
	const [error] = errors;
	t.true(error instanceof WebsocketError);
	t.is((error as WebsocketError).code, CloseCode.BAD_DATA);
	await until(() => client.getState() === WebsocketState.CLOSED, 5000, 'the client CLOSED');
	t.is(clientClosed(), 1);
	t.is(client.getCloseCode(), CloseCode.BAD_DATA);
}

/** test_server_receive_unmasked_frame: the client's stream carries an unmasked frame to the server. */
export async function serverReceiveUnmaskedFrame(t: ExecutionContext, {client, server}: Pair): Promise<void> {
	const errors = collectErrors(server);
	const clientClosed = countClosed(client);
	// 81 0b: FIN+TEXT, unmasked, length 11, "Hello World".
	await writeAll(client.getIoStream(), Buffer.from('810b48656c6c6f20576f726c64', 'hex'));
	await until(() => errors.length > 0, 5000, 'the server error');
	const [error] = errors;
	t.true(error instanceof WebsocketError);
	t.is((error as WebsocketError).code, CloseCode.PROTOCOL_ERROR);
	t.is((error as WebsocketError).reason, 'WS_ERR_EXPECTED_MASK');
	await until(() => client.getState() === WebsocketState.CLOSED, 5000, 'the client CLOSED');
	t.is(clientClosed(), 1);
	t.is(client.getCloseCode(), CloseCode.PROTOCOL_ERROR);
}

/**
 * test_bad_length_masked: a masked frame header with a 64-bit length of 0xfffffffffffffff6 and no
 * payload limit on the server.
 *
 * libsoup (CVE-2026-0716 fix): error 1007, Close 1007. websoup, porting-notes difference 19: a
 * 64-bit length with the most significant bit set breaks RFC 6455 §5.2 and fails with 1002
 * `WS_ERR_INVALID_LENGTH`; the client is told 1002.
 */
export async function badLengthMasked(t: ExecutionContext, {client, server}: Pair): Promise<void> {
	const errors = collectErrors(server);
	const clientClosed = countClosed(client);
	server.setMaxIncomingPayloadSize(0);
	// 82 ff: FIN+BINARY, masked, 64-bit length ff ff ff ff ff ff ff f6; mask aa bb cc dd.
	await writeAll(client.getIoStream(), Buffer.from('82ff' + 'ff'.repeat(7) + 'f6' + 'aabbccdd', 'hex'));
	await until(() => errors.length > 0, 5000, 'the server error');
	const [error] = errors;
	t.true(error instanceof WebsocketError);
	t.is((error as WebsocketError).code, CloseCode.PROTOCOL_ERROR);
	t.is((error as WebsocketError).reason, 'WS_ERR_INVALID_LENGTH');
	await until(() => client.getState() === WebsocketState.CLOSED, 5000, 'the client CLOSED');
	t.is(clientClosed(), 1);
	t.is(client.getCloseCode(), CloseCode.PROTOCOL_ERROR);
}

const both = ['direct', 'soup'] as const;

pathTest('send-client-to-server', both, sendClientToServer);
pathTest('send-server-to-client', both, sendServerToClient);
pathTest('send-big-packets', ['direct'], sendBigPacketsDirect);
pathTest('send-big-packets', ['soup'], sendBigPacketsSoup);
pathTest('send-exceeding-client-max-payload-size', both, sendExceedingClientMaxPayloadSize);
pathTest('send-exceeding-server-max-payload-size', both, sendExceedingServerMaxPayloadSize);
pathTest('send-exceeding-client-max-message-size', both, sendExceedingClientMaxMessageSize);
pathTest('send-exceeding-server-max-message-size', both, sendExceedingServerMaxMessageSize);
pathTest('send-empty-packets', both, sendEmptyPackets);
pathTest('send-bad-data', both, sendBadData);
pathTest('server-receive-unmasked-frame', both, serverReceiveUnmaskedFrame);
pathTest('bad-length-masked', both, badLengthMasked);

// The deflate-send-* paths: the same C test functions on the *_with_extensions set-ups
// (permessage-deflate negotiated by the soup handshake, or configured on both direct ends).
const deflate = {extensions: true};
pathTest('deflate-send-client-to-server', both, sendClientToServer, deflate);
pathTest('deflate-send-server-to-client', both, sendServerToClient, deflate);
pathTest('deflate-send-big-packets', ['direct'], sendBigPacketsDirect, deflate);
pathTest('deflate-send-big-packets', ['soup'], sendBigPacketsSoup, deflate);
pathTest('deflate-send-empty-packets', both, sendEmptyPackets, deflate);
