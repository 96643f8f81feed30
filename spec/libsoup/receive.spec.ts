// libsoup tests/websocket-test.c, the receive group: a client fed raw frames by a half-direct server (fragments, bad lengths, masks).

import test, {type ExecutionContext} from 'ava';
import type {WebsocketConnection} from '../../lib/websocket/connection.ts';
import {CloseCode, WebsocketDataType, WebsocketState} from '../../lib/websocket/constants.ts';
import {WebsocketError, type WebsocketErrorReason} from '../../lib/websocket/errors.ts';
import {until} from '../helpers/signals.ts';
import {collectErrors, collectMessages, halfDirectConnection, writeAll} from './helpers.ts';

/** The C tests' shape: write `frames` from the raw server (closing it after when `close`), expect one protocol error and no message. */
async function expectError(
	t: ExecutionContext,
	frames: Buffer,
	code: number,
	reason: WebsocketErrorReason,
	{close = true, setup}: {close?: boolean; setup?: (client: WebsocketConnection) => void} = {},
): Promise<void> {
	const {client, raw} = await halfDirectConnection(t);
	setup?.(client);
	const errors = collectErrors(client);
	const received = collectMessages(client);
	await writeAll(raw, frames);
	if (close) {
		raw.end();
	}

	await until(() => errors.length > 0 || received.length > 0, 5000, 'an error or a message');
	t.is(received.length, 0);
	const [error] = errors;
	t.true(error instanceof WebsocketError);
	t.is((error as WebsocketError).code, code);
	t.is((error as WebsocketError).reason, reason);
	if (close) {
		await until(() => client.getState() === WebsocketState.CLOSED, 5000, 'CLOSED');
	} else {
		// The raw server never answers the client's Close: the client waits in CLOSING (its close
		// timeout would end it; the C test does not wait for that either).
		t.is(client.getState(), WebsocketState.CLOSING);
	}

	t.is(errors.length, 1);
}

test('/websocket/direct/receive-fragmented', async t => {
	const {client, raw} = await halfDirectConnection(t);
	const errors = collectErrors(client);
	const received = collectMessages(client);
	await writeAll(
		raw,
		Buffer.concat([
			Buffer.from('0104', 'hex'), Buffer.from('one '), // !FIN, TEXT, len 4
			Buffer.from('0004', 'hex'), Buffer.from('two '), // !FIN, continuation, len 4
			Buffer.from('8005', 'hex'), Buffer.from('three'), // FIN, continuation, len 5
		]),
	);
	// g_io_stream_close on the raw server: its FIN follows the last fragment.
	raw.end();
	await until(() => received.length > 0, 5000, 'the message');
	t.deepEqual(received, [{type: WebsocketDataType.TEXT, data: Buffer.from('one two three')}]);
	await until(() => client.getState() === WebsocketState.CLOSED, 5000, 'CLOSED');
	t.deepEqual(errors, []);
	// The peer dropped TCP without a Close frame: libsoup's close code 0.
	t.is(client.getCloseCode(), 0);
});

test('/websocket/direct/receive-invalid-encode-length-16', async t => {
	// 82 7e 00 7d: FIN+BINARY, 16-bit length 125, which fits the 7-bit form: not minimal (RFC 6455 §5.2).
	await expectError(t, Buffer.concat([Buffer.from('827e007d', 'hex'), Buffer.alloc(125, 'X')]), CloseCode.PROTOCOL_ERROR, 'WS_ERR_NON_MINIMAL_LENGTH');
});

test('/websocket/direct/receive-invalid-encode-length-64', async t => {
	// 82 7f 00..00 ff ff: FIN+BINARY, 64-bit length 65535, which fits the 16-bit form: not minimal.
	await expectError(t, Buffer.concat([Buffer.from('827f000000000000ffff', 'hex'), Buffer.alloc(65_535, 'X')]), CloseCode.PROTOCOL_ERROR, 'WS_ERR_NON_MINIMAL_LENGTH');
});

test('/websocket/direct/client-receive-masked-frame', async t => {
	// 82 8e 9a 00: FIN+BINARY, masked, length 14 (and the C string's NUL). RFC 6455 §5.1: a client
	// MUST close a connection if it detects a masked frame.
	await expectError(t, Buffer.from('828e9a00', 'hex'), CloseCode.PROTOCOL_ERROR, 'WS_ERR_UNEXPECTED_MASK');
});

test('/websocket/direct/fragment-assembly-corruption', async t => {
	// A TEXT start, then a BINARY start while it is still open (libsoup #469), then a continuation
	// and a final fragment that must never be assembled onto anything.
	const frames = Buffer.concat([
		Buffer.from('0110', 'hex'), Buffer.from('START_FRAGMENT_1'), // !FIN, TEXT, len 16
		Buffer.from('0210', 'hex'), Buffer.from('WRONG_OPCODE_XXX'), // !FIN, BINARY, len 16: out of order
		Buffer.from('0008', 'hex'), Buffer.from('INJECTED'), // !FIN, continuation, len 8
		Buffer.from('8005', 'hex'), Buffer.from('_DATA'), // FIN, continuation, len 5
	]);
	// The C test leaves the raw server open and does not wait for CLOSED.
	await expectError(t, frames, CloseCode.PROTOCOL_ERROR, 'WS_ERR_EXPECTED_CONTINUATION', {close: false});
});

test('/websocket/direct/bad-length-unmasked', async t => {
	// 82 7f ff ff ff ff ff ff ff f6 00: FIN+BINARY, 64-bit length 0xfffffffffffffff6, no payload limit.
	// libsoup (CVE-2026-0716 fix): error 1007. websoup, porting-notes difference 19: the length's
	// most significant bit must be 0 (RFC 6455 §5.2), so this is a protocol error, 1002.
	await expectError(t, Buffer.from('827f' + 'ff'.repeat(7) + 'f600', 'hex'), CloseCode.PROTOCOL_ERROR, 'WS_ERR_INVALID_LENGTH', {
		setup(client) {
			client.setMaxIncomingPayloadSize(0);
		},
	});
});
