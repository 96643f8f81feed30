// LongTimer: delays past Node's 2^31 - 1 ms limit are chained, so keepalive values mean what they say.

import test from 'ava';
import {WebsocketConnectionType} from '../../lib/websocket/constants.ts';
import {encodeFrame, generateMaskKey} from '../../lib/websocket/frame.ts';
import {WebsocketFramer} from '../../lib/websocket/framer.ts';
import {LongTimer, MAX_TIMER_DELAY} from '../../lib/websocket/timer.ts';
import {rawPeer} from '../helpers/modes.ts';
import {until} from '../helpers/signals.ts';

test('a delay longer than one step is waited in several steps, then fires once', async t => {
	const started = process.hrtime.bigint();
	let calls = 0;
	const timer = new LongTimer(() => calls++, 60, false, 25);
	t.true(timer.pending);
	await until(() => calls === 1, 5000, 'the timer');
	t.true(Number(process.hrtime.bigint() - started) / 1e6 >= 59);
	t.false(timer.pending);
	t.is(calls, 1);
});

test('repeat: fires every delay until cleared', async t => {
	let calls = 0;
	const timer = new LongTimer(() => calls++, 20, true, 7);
	await until(() => calls >= 3, 5000, 'three calls');
	timer.clear();
	const after = calls;
	t.false(timer.pending);
	// Cleared: a further full delay passes without a call.
	const deadline = new LongTimer(() => {}, 60);
	await until(() => !deadline.pending, 5000, 'a further delay');
	t.is(calls, after);
});

test('the step is Node\'s limit by default', t => {
	t.is(MAX_TIMER_DELAY, 2_147_483_647);
});

test('keepalive-interval and keepalive-pong-timeout of 3,000,000 s: no ping, no timeout, while the connection works', async t => {
	const {connection, raw, received} = await rawPeer(t, 'tcp', WebsocketConnectionType.SERVER, {
		keepaliveInterval: 3_000_000,
		keepalivePongTimeout: 3_000_000,
	});
	let roundTrips = 0;
	connection.connect('message', (self, type, data) => self.sendMessage(type, data));
	// Round trips for 300 ms of the connection's life (Node's timers would have fired every 1 ms).
	const framer = new WebsocketFramer({mode: 'client'});
	const started = Date.now();
	for (let i = 0; Date.now() - started < 300 && i < 100_000; i++) {
		const before = received().length;
		raw.write(Buffer.concat(encodeFrame(0x1, Buffer.from(`m${i}`), {maskKey: generateMaskKey()})));
		// eslint-disable-next-line no-await-in-loop -- one round trip at a time
		await until(() => received().length > before, 5000, 'the echo');
		roundTrips = i + 1;
	}

	const opcodes = new Set(framer.readFrames(received()).map(frame => frame.opcode));
	t.deepEqual([...opcodes], [0x1], 'only echoes: no keepalive Ping, no Close');
	t.true(roundTrips > 0);
	t.is(connection.getState(), 1);
	connection.setKeepaliveInterval(0);
});

test('IdleTimer: fires once the delay passed since the last touch, not since it was made', async t => {
	const {IdleTimer} = await import('../../lib/websocket/timer.ts');
	let fired = 0;
	const started = performance.now();
	let lastTouch = started;
	const timer = new IdleTimer(() => fired++, 200);
	// Touch for 400 ms (every turn of the event loop), then stop.
	await until(() => {
		if (performance.now() - started < 400) {
			timer.touch();
			lastTouch = performance.now();
		}

		return fired === 1;
	}, 5000, 'the idle timer');
	t.true(performance.now() - lastTouch >= 199);
	t.false(timer.pending);
	t.is(fired, 1);
});

test('IdleTimer: clear() stops it', async t => {
	const {IdleTimer} = await import('../../lib/websocket/timer.ts');
	let fired = 0;
	const timer = new IdleTimer(() => fired++, 30);
	timer.clear();
	t.false(timer.pending);
	const control = new IdleTimer(() => {}, 60);
	await until(() => !control.pending, 5000, 'the control timer');
	t.is(fired, 0);
});
