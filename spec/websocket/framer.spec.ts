// Tests of WebsocketFramer: the codec on its own, client and server talking through it.

import test from 'ava';
import {CloseCode, Opcode} from '../../lib/websocket/constants.ts';
import {WebsocketError} from '../../lib/websocket/errors.ts';
import {WebsocketFramer} from '../../lib/websocket/framer.ts';

test('a client frame is masked and the server reads it back', t => {
	const client = new WebsocketFramer({mode: 'client'});
	const server = new WebsocketFramer({mode: 'server'});
	const wire = client.writeFrame('Hello');
	t.is(wire.length, 1);
	t.is(wire[0]![0], 0x81); // FIN+TEXT
	t.is(wire[0]![1], 0x85); // masked, len 5
	t.deepEqual(server.readFrames(wire[0]!), [{fin: true, rsv: 0, opcode: Opcode.TEXT, payload: Buffer.from('Hello')}]);
});

test('a server frame is not masked and the client reads it back', t => {
	const client = new WebsocketFramer({mode: 'client'});
	const server = new WebsocketFramer({mode: 'server'});
	const payload = Buffer.alloc(70_000, 1);
	const wire = server.writeFrame(payload);
	t.is(wire.length, 2);
	t.is(wire[0]!.toString('hex'), '827f0000000000011170'); // FIN+BINARY, 64-bit length 70000
	t.is(wire[1], payload);
	client.maxPayloadSize = 0;
	const frames = [...client.readFrames(wire[0]!), ...client.readFrames(wire[1]!)];
	t.is(frames.length, 1);
	t.is(frames[0]!.opcode, Opcode.BINARY);
	t.true(frames[0]!.payload.equals(payload));
});

test('picks TEXT for strings and BINARY for buffers, unless told', t => {
	const server = new WebsocketFramer({mode: 'server'});
	t.is(server.writeFrame('a')[0]!.toString('hex'), '810161'); // FIN+TEXT, "a"
	t.is(server.writeFrame(Buffer.from('a'))[0]!.toString('hex'), '820161'); // FIN+BINARY, "a"
	t.is(server.writeFrame('a', Opcode.PING)[0]!.toString('hex'), '890161'); // FIN+PING, "a"
	t.is(server.writeFrame('a', Opcode.TEXT, {fin: false, rsv: 0x40})[0]!.toString('hex'), '410161'); // RSV1+TEXT, no FIN
});

test('a client uses a fresh mask key per frame', t => {
	const client = new WebsocketFramer({mode: 'client'});
	const keys = new Set<string>();
	for (let i = 0; i < 20; i++) {
		keys.add(client.writeFrame('x')[0]!.subarray(2, 6).toString('hex'));
	}

	t.true(keys.size > 15);
});

test('readFrames returns frames as they complete, across chunks', t => {
	const client = new WebsocketFramer({mode: 'client'});
	t.deepEqual(client.readFrames(Buffer.from('8105486c', 'hex')), []); // FIN+TEXT, len 5, "Hl…"
	t.is(client.bufferedBytes, 2);
	const frames = client.readFrames(Buffer.from('6c6c6f8900', 'hex')); // "llo" | FIN+PING, len 0
	t.deepEqual(
		frames.map(frame => [frame.opcode, frame.payload.toString('hex')]),
		[
			[Opcode.TEXT, '486c6c6c6f'],
			[Opcode.PING, ''],
		],
	);
	t.notThrows(() => {
		client.end();
	});
});

test('readFrames throws the WebsocketError of a bad frame, and keeps throwing it', t => {
	const server = new WebsocketFramer({mode: 'server'});
	const error = t.throws(() => server.readFrames(Buffer.from('810548656c6c6f', 'hex')), {
		instanceOf: WebsocketError,
	}); // FIN+TEXT, unmasked, "Hello"
	t.is(error.code, CloseCode.PROTOCOL_ERROR);
	t.is(error.reason, 'WS_ERR_EXPECTED_MASK');
	t.is(error.detail, 'UnmaskedClientFrame');
	t.is(t.throws(() => server.readFrames(Buffer.alloc(1))), error);
	t.is(t.throws(() => {
		server.end();
	}), error);
});

test('maxPayloadSize limits incoming frames', t => {
	const client = new WebsocketFramer({mode: 'client', maxPayloadSize: 4});
	const error = t.throws(() => client.readFrames(Buffer.from('820500', 'hex')), {instanceOf: WebsocketError}); // FIN+BINARY, len 5
	t.is(error.code, CloseCode.TOO_BIG);
	t.is(error.detail, 'PayloadTooBig');
});

test('allowedRsv lets an extension\'s bits through', t => {
	const client = new WebsocketFramer({mode: 'client', allowedRsv: 0x40});
	t.is(client.readFrames(Buffer.from('c10161', 'hex'))[0]!.rsv, 0x40); // FIN+RSV1+TEXT, "a"
});

test('end() throws IncompleteFrame in the middle of a frame', t => {
	const client = new WebsocketFramer({mode: 'client'});
	client.readFrames(Buffer.from('8105486c', 'hex')); // FIN+TEXT, len 5, 2 bytes of payload
	const error = t.throws(() => {
		client.end();
	}, {instanceOf: WebsocketError});
	t.is(error.reason, 'WS_ERR_INCOMPLETE_FRAME');
	t.is(error.detail, 'IncompleteFrame');
	t.is(error.code, CloseCode.PROTOCOL_ERROR);
});
