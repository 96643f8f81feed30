// WPT websockets/Close-*: close()'s argument conversion and checks, and the closing handshake as the page sees it.

import {until, withTimeout} from '../../helpers/signals.ts';
import {scriptedServer, switching} from '../../node/fixtures.ts';
import {connect, next, opened, recordUntilClose, throwsDom, throwsType, wpt, wptServer} from './harness.ts';
import type {CloseEvent} from '../../../lib/facades/w3c.ts';

wpt('Close-1000 and Close-1000-reason: a clean close, the code and reason reach the server', async (t, impl) => {
	const server = await wptServer(t);
	const ws = await opened(t, impl, `${server.origin}/echo`);
	const recording = recordUntilClose(ws);
	ws.close(1000, 'Clean Close');
	t.is(ws.readyState, impl.WebSocket.CLOSING);
	const {close, types} = await recording;
	t.deepEqual(types, ['close']);
	t.true(close.wasClean);
	t.is(close.code, 1000);
	t.is(close.reason, 'Clean Close');
	t.is(ws.readyState, impl.WebSocket.CLOSED);
	t.deepEqual(await server.closes[0], {code: 1000, reason: 'Clean Close'});
});

wpt('Close-3000-reason and Close-4999-reason: codes 3000–4999 are allowed', async (t, impl) => {
	const server = await wptServer(t);
	for (const code of [3000, 4999]) {
		const ws = await opened(t, impl, `${server.origin}/echo`);
		const closed = next<CloseEvent>(ws, 'close');
		ws.close(code, 'Clean Close');
		const close = await closed;
		t.true(close.wasClean);
		t.is(close.code, code);
	}
});

wpt('Close-undefined and no arguments: an empty Close frame (the server sees 1005)', async (t, impl) => {
	const server = await wptServer(t);
	const ws = await opened(t, impl, `${server.origin}/echo`);
	const closed = next<CloseEvent>(ws, 'close');
	ws.close(undefined);
	const close = await closed;
	t.true(close.wasClean);
	t.is(close.code, 1005);
	t.deepEqual(await server.closes[0], {code: 1005, reason: ''});
});

wpt('Close-reason-only: close(undefined, reason) sends 1000 with the reason', async (t, impl) => {
	const server = await wptServer(t);
	const ws = await opened(t, impl, `${server.origin}/echo`);
	const closed = next<CloseEvent>(ws, 'close');
	ws.close(undefined, 'only a reason');
	t.is((await closed).code, 1000);
	t.deepEqual(await server.closes[0], {code: 1000, reason: 'only a reason'});
});

wpt('Close-1005, Close-2999-reason and other codes throw InvalidAccessError', (t, {WebSocket}) => {
	const ws = new WebSocket('ws://127.0.0.1:1/');
	ws.onerror = () => {};
	for (const code of [0, 999, 1001, 1005, 1006, 1015, 2999, 5000, 65_535, -1, 70_000, -Infinity, Infinity]) {
		throwsDom(t, 'InvalidAccessError', () => {
			ws.close(code, 'Close not in range');
		}, String(code));
	}

	t.is(ws.readyState, WebSocket.CONNECTING);
	ws.close();
});

wpt('Close-NaN, Close-string, Close-onlyReason: [Clamp] unsigned short makes them 0 → InvalidAccessError', (t, {WebSocket}) => {
	const ws = new WebSocket('ws://127.0.0.1:1/');
	ws.onerror = () => {};
	for (const code of [Number.NaN, 'string', 'Close with only reason', null, {}, [], true]) {
		throwsDom(t, 'InvalidAccessError', () => {
			ws.close(code as unknown as number);
		}, String(code));
	}

	t.is(ws.readyState, WebSocket.CONNECTING);
	ws.close();
});

wpt('close(Symbol) throws TypeError (ToNumber)', (t, {WebSocket}) => {
	const ws = new WebSocket('ws://127.0.0.1:1/');
	ws.onerror = () => {};
	throwsType(t, () => {
		ws.close(Symbol('code') as unknown as number);
	});
	ws.close();
});

wpt('close(BigInt) throws TypeError (ToNumber)', (t, {WebSocket}) => {
	const ws = new WebSocket('ws://127.0.0.1:1/');
	ws.onerror = () => {};
	throwsType(t, () => {
		ws.close(1000n as unknown as number);
	});
	ws.close();
}, {undiciDiffers: 'undici converts a BigInt close code with Number(); WebIDL ToNumber throws TypeError for a BigInt'});

wpt('[Clamp]: 1000.4, "1000" and 3000.5 are 1000, 1000 and 3000 (rounded half to even)', async (t, impl) => {
	const server = await wptServer(t);
	const cases: Array<[unknown, number]> = [
		[1000.4, 1000],
		['1000', 1000],
		[3000.5, 3000],
		[3001.5, 3002],
	];
	for (const [index, [code, expected]] of cases.entries()) {
		const ws = await opened(t, impl, `${server.origin}/echo`);
		const closed = next<CloseEvent>(ws, 'close');
		ws.close(code as number);
		t.is((await closed).code, expected, String(code));
		t.is((await server.closes[index])?.code, expected);
	}
});

wpt('Close-Reason-124Bytes: a reason over 123 bytes of UTF-8 throws SyntaxError; 123 is fine', async (t, impl) => {
	const server = await wptServer(t);
	const ws = await opened(t, impl, `${server.origin}/echo`);
	throwsDom(t, 'SyntaxError', () => {
		ws.close(1000, 'x'.repeat(124));
	});
	throwsDom(t, 'SyntaxError', () => {
		ws.close(1000, 'é'.repeat(62));
	});
	// The code is checked first.
	throwsDom(t, 'InvalidAccessError', () => {
		ws.close(1001, 'x'.repeat(124));
	});
	t.is(ws.readyState, impl.WebSocket.OPEN);
	const closed = next<CloseEvent>(ws, 'close');
	ws.close(1000, 'x'.repeat(123));
	t.is((await closed).reason, 'x'.repeat(123));
});

wpt('Close-reason-unpaired-surrogates: the reason is a USVString', async (t, impl) => {
	const server = await wptServer(t);
	const ws = await opened(t, impl, `${server.origin}/echo`);
	const closed = next<CloseEvent>(ws, 'close');
	ws.close(1000, '\uD807');
	t.is((await closed).reason, '\uFFFD');
	t.deepEqual(await server.closes[0], {code: 1000, reason: '\uFFFD'});
});

wpt('Close-readyState-Closing and a second close(): CLOSING at once, later calls do nothing', async (t, impl) => {
	const server = await wptServer(t);
	const ws = await opened(t, impl, `${server.origin}/echo`);
	const closed = next<CloseEvent>(ws, 'close');
	ws.close(3000);
	t.is(ws.readyState, impl.WebSocket.CLOSING);
	ws.close(4000);
	ws.close();
	t.is((await closed).code, 3000);
	ws.close(1000);
	t.is(ws.readyState, impl.WebSocket.CLOSED);
	t.deepEqual(await server.closes[0], {code: 3000, reason: ''});
});

wpt('Close-connecting: close() while CONNECTING fails: CLOSING, then error and close 1006', async (t, impl) => {
	const server = await wptServer(t);
	const ws = connect(t, impl, `${server.origin}/echo`);
	const recording = recordUntilClose(ws);
	ws.close();
	t.is(ws.readyState, impl.WebSocket.CLOSING);
	const {types, states, close} = await recording;
	t.deepEqual(types, ['error', 'close']);
	t.deepEqual(states, [impl.WebSocket.CLOSED, impl.WebSocket.CLOSED]);
	t.false(close.wasClean);
	t.is(close.code, 1006);
	t.is(close.reason, '');
});

wpt('Close-server-initiated-close: the server\'s Close is echoed; clean, with its code and reason', async (t, impl) => {
	const server = await wptServer(t);
	const ws = await opened(t, impl, `${server.origin}/echo`);
	const recording = recordUntilClose(ws);
	ws.send('Goodbye');
	const {close, types} = await recording;
	t.deepEqual(types, ['close']);
	t.true(close.wasClean);
	t.is(close.code, 1000);
	t.deepEqual(await server.closes[0], {code: 1000, reason: ''});
});

wpt('server close with a code and reason, and with an empty Close frame (1005)', async (t, impl) => {
	const server = await wptServer(t);
	const ws = connect(t, impl, `${server.origin}/close?code=4321&reason=${encodeURIComponent('bye ✓')}`);
	const close = await next<CloseEvent>(ws, 'close');
	t.true(close.wasClean);
	t.is(close.code, 4321);
	t.is(close.reason, 'bye ✓');
	const empty = connect(t, impl, `${server.origin}/close-empty`);
	const emptyClose = await next<CloseEvent>(empty, 'close');
	t.true(emptyClose.wasClean);
	t.is(emptyClose.code, 1005);
	t.is(emptyClose.reason, '');
});

wpt('after the server\'s Close the socket stays CLOSING until TCP ends; then the close is clean', async (t, impl) => {
	let endTcp: (() => void) | undefined;
	const port = await scriptedServer(t, (request, socket) => {
		socket.write(switching(request));
		socket.write(Buffer.from('880503e8627965', 'hex')); // FIN+CLOSE, len 5, 1000 "bye"
		endTcp = () => socket.end();
	});
	const ws = connect(t, impl, `ws://127.0.0.1:${port}/`);
	let closeFired = false;
	ws.addEventListener('close', () => {
		closeFired = true;
	});
	await until(() => ws.readyState === impl.WebSocket.CLOSING, 10_000, 'CLOSING');
	t.false(closeFired);
	const closed = next<CloseEvent>(ws, 'close');
	endTcp?.();
	const close = await withTimeout(closed, 10_000, 'close');
	t.true(close.wasClean);
	t.is(close.code, 1000);
	t.is(close.reason, 'bye');
});
