// The send calls' `onWritten` (as ws's `send(data, cb)`): told once per message, after its frame
// is handed to the operating system, or with the reason it never will be; never from within the call.

import test from 'ava';
import {Opcode, WebsocketConnectionType, WebsocketDataType} from '../../lib/websocket/constants.ts';
import {WebsocketError} from '../../lib/websocket/errors.ts';
import {encodeFrame, generateMaskKey} from '../../lib/websocket/frame.ts';
import {WebsocketFramer} from '../../lib/websocket/framer.ts';
import {FailingExtension} from '../helpers/extensions.ts';
import {both, rawPeer} from '../helpers/modes.ts';
import {until} from '../helpers/signals.ts';

const masked = (opcode: number, payload: string): Buffer => Buffer.concat(encodeFrame(opcode, Buffer.from(payload), {maskKey: generateMaskKey()}));

/** The reason of an onWritten error, `null` for success. */
const reasonOf = (error: Error | null): string | null => (error === null ? null : error instanceof WebsocketError ? error.reason : error.message);

both('each message is reported once, in send order, after its frame is written; never from within the call', async (t, mode) => {
	const {connection, received} = await rawPeer(t, mode, WebsocketConnectionType.SERVER);
	const reports: string[] = [];
	let inCall = true;
	connection.sendText('one', error => reports.push(`one ${reasonOf(error)} ${inCall}`));
	connection.sendBinary(Buffer.alloc(70_000, 1), error => reports.push(`big ${reasonOf(error)} ${inCall}`));
	connection.sendMessage(WebsocketDataType.TEXT, Buffer.from('three'), error => reports.push(`three ${reasonOf(error)} ${inCall}`));
	inCall = false;
	await until(() => reports.length === 3, 5000, 'three reports');
	t.deepEqual(reports, ['one null false', 'big null false', 'three null false']);
	await until(() => received().length >= 5 + 70_000 + 4 + 7, 5000, 'the three frames at the peer');
	const frames = new WebsocketFramer({mode: 'client'}).readFrames(received());
	t.deepEqual(
		frames.map(frame => frame.payload.length),
		[3, 70_000, 5],
	);
});

both('replies sent from a message handler with onWritten keep their order among the batched ones', async (t, mode) => {
	const {connection, raw, received} = await rawPeer(t, mode, WebsocketConnectionType.SERVER);
	const reports: string[] = [];
	connection.connect('message', (self, _type, data) => {
		const text = data.toString();
		if (text === '2') {
			self.sendText(`reply ${text}`, error => reports.push(`${text} ${reasonOf(error)}`));
		} else {
			self.sendText(`reply ${text}`);
		}
	});
	raw.write(Buffer.concat([masked(Opcode.TEXT, '1'), masked(Opcode.TEXT, '2'), masked(Opcode.TEXT, '3')]));
	await until(() => new WebsocketFramer({mode: 'client'}).readFrames(received()).length === 3, 5000, 'three replies');
	t.deepEqual(
		new WebsocketFramer({mode: 'client'}).readFrames(received()).map(frame => frame.payload.toString()),
		['reply 1', 'reply 2', 'reply 3'],
	);
	await until(() => reports.length === 1, 5000, 'the report');
	t.deepEqual(reports, ['2 null']);
});

test('a message sent once the connection is not open: WS_ERR_NOT_SENT on a later tick, and nothing on the wire', async t => {
	const {connection, received} = await rawPeer(t, 'tcp', WebsocketConnectionType.SERVER);
	connection.close(1000);
	const reports: Array<string | null> = [];
	connection.sendText('late', error => reports.push(reasonOf(error)));
	connection.sendBinary(Buffer.from('late'), error => reports.push(reasonOf(error)));
	t.deepEqual(reports, []);
	await until(() => reports.length === 2, 5000, 'two reports');
	t.deepEqual(reports, ['WS_ERR_NOT_SENT', 'WS_ERR_NOT_SENT']);
	await until(() => received().length >= 4, 5000, 'the Close at the peer');
	const frames = new WebsocketFramer({mode: 'client'}).readFrames(received());
	t.deepEqual(frames.map(frame => frame.opcode), [Opcode.CLOSE]);
});

test('messages still queued when the connection is terminated: each hears it was not sent', async t => {
	const {connection, raw} = await rawPeer(t, 'tcp', WebsocketConnectionType.SERVER);
	raw.pause(); // the peer reads nothing: past 1 MiB in the socket, frames wait in the queue
	const reports: Array<string | null> = [];
	const errors: Array<Error | null> = [];
	const big = Buffer.alloc(1024 * 1024);
	for (let index = 0; index < 8; index++) {
		connection.sendBinary(big, error => {
			errors.push(error);
			reports.push(reasonOf(error));
		});
	}

	await until(() => connection.bufferedAmount > 4 * 1024 * 1024, 5000, 'the queue to fill');
	connection.terminate();
	await connection.closed;
	await until(() => reports.length >= 8, 5000, 'eight reports');
	t.is(reports.length, 8, 'one report per message');
	t.true(reports.includes('WS_ERR_NOT_SENT'), 'those still queued were dropped');
	// What the socket itself still held fails with the socket's error (it was destroyed).
	t.true(
		errors.every(error => error === null || (error instanceof WebsocketError ? error.reason === 'WS_ERR_NOT_SENT' : (error as NodeJS.ErrnoException).code === 'ERR_STREAM_DESTROYED')),
		errors.map(error => (error as NodeJS.ErrnoException | null)?.code ?? String(error)).join(', '),
	);
});

test('through an asynchronous extension: reported after it; a message the extension fails on is not sent', async t => {
	const {connection} = await rawPeer(t, 'tcp', WebsocketConnectionType.SERVER, {extensions: [new FailingExtension()]});
	connection.connect('error', () => {});
	const reports: string[] = [];
	connection.sendText('ok', error => reports.push(`ok ${reasonOf(error)}`));
	connection.sendText('fail', error => reports.push(`fail ${reasonOf(error)}`));
	await until(() => reports.length === 2, 5000, 'two reports');
	t.deepEqual(reports, ['ok null', 'fail WS_ERR_NOT_SENT']);
});

test('onWritten must be a function: a TypeError naming it, and nothing sent', async t => {
	const {connection, received} = await rawPeer(t, 'direct', WebsocketConnectionType.SERVER);
	t.throws(() => connection.sendText('x', 'callback' as never), {instanceOf: TypeError, message: /`onWritten`.*string/});
	t.throws(() => connection.sendBinary(Buffer.from('x'), 1 as never), {instanceOf: TypeError, message: /`onWritten`/});
	t.throws(() => connection.sendMessage(WebsocketDataType.BINARY, Buffer.from('x'), null as never), {instanceOf: TypeError, message: /`onWritten`/});
	connection.sendText('after');
	await until(() => received().length === 7, 5000, 'the one frame sent');
	t.deepEqual(
		new WebsocketFramer({mode: 'client'}).readFrames(received()).map(frame => frame.payload.toString()),
		['after'],
	);
});
