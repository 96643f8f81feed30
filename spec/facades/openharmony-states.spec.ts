// OpenHarmony net_websocket held against its header once more: each OH_WebSocketClient_* call in each client state,
// and what the callbacks report afterwards. One test per row of the table in docs/facades-openharmony.md.

import test, {type ExecutionContext} from 'ava';
import {WebSocketServer} from 'ws';
import {WebSocketClient, WebSocketErrCode, type WebSocketClientCallbacks} from '../../lib/facades/openharmony.ts';
import {until, withTimeout} from '../helpers/signals.ts';
import {rawServer, scriptedServer, switching} from '../node/fixtures.ts';

type State = 'idle' | 'connecting' | 'open' | 'closing' | 'closed' | 'destroyed';

interface Recorded {
	client: WebSocketClient;
	order: string[];
	errors: Array<{errorCode: number; errorMessage: string}>;
	closes: Array<{code: number; reason: string}>;
}

function record(t: ExecutionContext): Recorded {
	const recorded: Omit<Recorded, 'client'> = {order: [], errors: [], closes: []};
	const callbacks: WebSocketClientCallbacks = {
		onOpen: () => recorded.order.push('open'),
		onMessage: () => recorded.order.push('message'),
		onError: (_client, result) => {
			recorded.order.push('error');
			recorded.errors.push(result);
		},
		onClose: (_client, result) => {
			recorded.order.push('close');
			recorded.closes.push(result);
		},
	};
	const client = new WebSocketClient(callbacks);
	t.teardown(() => {
		client.destroy();
	});
	return {client, ...recorded};
}

/** A server that accepts TCP and never answers: a client stays CONNECTING. */
async function silentServer(t: ExecutionContext): Promise<string> {
	const port = await rawServer(t, () => {});
	return `ws://127.0.0.1:${port}/`;
}

/** A server that completes the handshake and then ignores every frame: a client that closes stays CLOSING. */
async function deafServer(t: ExecutionContext): Promise<string> {
	const port = await scriptedServer(t, (request, socket) => {
		socket.write(switching(request));
	});
	return `ws://127.0.0.1:${port}/`;
}

async function echoServer(t: ExecutionContext): Promise<string> {
	const wss = new WebSocketServer({host: '127.0.0.1', port: 0});
	await withTimeout(new Promise<void>(resolve => wss.once('listening', () => resolve())), 5000, 'listening');
	wss.on('connection', ws => {
		ws.on('message', (data, isBinary) => ws.send(data, {binary: isBinary}));
	});
	t.teardown(async () => {
		for (const client of wss.clients) {
			client.terminate();
		}

		await new Promise<void>(resolve => {
			wss.close(() => resolve());
		});
	});
	const {port} = wss.address() as {port: number};
	return `ws://127.0.0.1:${port}/`;
}

/** A client brought into `state`; the URL is where `connect` may go next. */
async function inState(t: ExecutionContext, state: State): Promise<Recorded & {url: string}> {
	const recorded = record(t);
	const {client} = recorded;
	switch (state) {
		case 'idle': {
			return {...recorded, url: await echoServer(t)};
		}

		case 'connecting': {
			const url = await silentServer(t);
			t.is(client.connect(url), WebSocketErrCode.OK);
			return {...recorded, url};
		}

		case 'open': {
			const url = await echoServer(t);
			t.is(client.connect(url), WebSocketErrCode.OK);
			await until(() => recorded.order.includes('open'), 10_000, 'onOpen');
			return {...recorded, url};
		}

		case 'closing': {
			const url = await deafServer(t);
			t.is(client.connect(url), WebSocketErrCode.OK);
			await until(() => recorded.order.includes('open'), 10_000, 'onOpen');
			t.is(client.close({code: 1000, reason: ''}), WebSocketErrCode.OK);
			return {...recorded, url};
		}

		case 'closed': {
			const url = await echoServer(t);
			t.is(client.connect(url), WebSocketErrCode.OK);
			await until(() => recorded.order.includes('open'), 10_000, 'onOpen');
			t.is(client.close({code: 1000, reason: ''}), WebSocketErrCode.OK);
			await until(() => recorded.order.includes('close'), 10_000, 'onClose');
			return {...recorded, url};
		}

		case 'destroyed': {
			t.is(client.destroy(), WebSocketErrCode.OK);
			return {...recorded, url: await echoServer(t)};
		}
	}
}

/** Expected return codes: the rows of the table in docs/facades-openharmony.md. */
const table: Record<State, {addHeader: number; connect: number; send: number; close: number; destroy: number}> = {
	idle: {addHeader: 0, connect: 0, send: WebSocketErrCode.NO_CONNECTION, close: WebSocketErrCode.NO_CONNECTION, destroy: 0},
	connecting: {
		addHeader: 0,
		connect: WebSocketErrCode.CONNECTION_ERROR,
		send: WebSocketErrCode.NO_CONNECTION,
		close: WebSocketErrCode.NO_CONNECTION,
		destroy: 0,
	},
	open: {addHeader: 0, connect: WebSocketErrCode.CONNECTION_ERROR, send: 0, close: 0, destroy: 0},
	closing: {
		addHeader: 0,
		connect: WebSocketErrCode.CONNECTION_ERROR,
		send: WebSocketErrCode.NO_CONNECTION,
		close: WebSocketErrCode.NO_CONNECTION,
		destroy: 0,
	},
	closed: {addHeader: 0, connect: 0, send: WebSocketErrCode.NO_CONNECTION, close: WebSocketErrCode.NO_CONNECTION, destroy: 0},
	destroyed: {
		addHeader: WebSocketErrCode.DESTROYED,
		connect: WebSocketErrCode.DESTROYED,
		send: WebSocketErrCode.DESTROYED,
		close: WebSocketErrCode.DESTROYED,
		destroy: WebSocketErrCode.DESTROYED,
	},
};

/** Lets every queued callback run: a few turns of the event loop (no timers). */
async function settle(): Promise<void> {
	for (let i = 0; i < 10; i++) {
		await new Promise(resolve => {
			setImmediate(resolve);
		});
	}
}

for (const [state, expected] of Object.entries(table) as Array<[State, (typeof table)[State]]>) {
	test(`${state}: AddHeader returns ${expected.addHeader}`, async t => {
		const {client} = await inState(t, state);
		t.is(client.addHeader('X-Row', 'value'), expected.addHeader);
	});

	test(`${state}: Connect returns ${expected.connect}`, async t => {
		const {client, url, order} = await inState(t, state);
		const before = order.length;
		t.is(client.connect(url), expected.connect);
		if (expected.connect === 0) {
			await until(() => order.length > before, 10_000, 'a callback after connect');
			t.is(order[before], 'open');
		}
	});

	test(`${state}: Send returns ${expected.send}`, async t => {
		const {client, order} = await inState(t, state);
		t.is(client.send('row'), expected.send);
		if (expected.send === 0) {
			await until(() => order.includes('message'), 10_000, 'echo');
		}
	});

	test(`${state}: Close returns ${expected.close}`, async t => {
		const {client, order} = await inState(t, state);
		const closesBefore = order.filter(type => type === 'close').length;
		t.is(client.close({code: 1000, reason: 'row'}), expected.close);
		if (expected.close === 0) {
			await until(() => order.filter(type => type === 'close').length > closesBefore, 10_000, 'onClose');
		}
	});

	test(`${state}: Destroy returns ${expected.destroy}; callbacks after it`, async t => {
		const {client, order, errors, closes} = await inState(t, state);
		const before = order.length;
		t.is(client.destroy(), expected.destroy);
		const live = state === 'connecting' || state === 'open' || state === 'closing';
		if (live) {
			await until(() => order.length >= before + 2, 10_000, 'onError and onClose');
		}

		await settle();
		if (live) {
			t.deepEqual(order.slice(before), ['error', 'close']);
			t.is(errors.at(-1)?.errorCode, WebSocketErrCode.DESTROYED);
			t.is(typeof errors.at(-1)?.errorMessage, 'string');
			t.deepEqual(closes.at(-1), {code: 1006, reason: 'destroyed'});
		} else {
			t.deepEqual(order.slice(before), [], 'nothing is reported');
		}
	});
}

test('callback order of a whole session: open, messages in order, close; ErrorResult and CloseResult fields', async t => {
	const url = await echoServer(t);
	const received: Array<{data: string | Buffer; length: number}> = [];
	let close: {code: number; reason: string} | undefined;
	const order: string[] = [];
	const client = new WebSocketClient({
		onOpen: (_client, result) => {
			order.push('open');
			t.deepEqual(result, {code: 101, reason: 'Switching Protocols'});
		},
		onMessage: (_client, data, length) => {
			order.push('message');
			received.push({data, length});
		},
		onError: () => order.push('error'),
		onClose: (_client, result) => {
			order.push('close');
			close = result;
		},
	});
	t.teardown(() => {
		client.destroy();
	});
	t.is(client.connect(url), 0);
	await until(() => order.includes('open'), 10_000, 'onOpen');
	for (const text of ['one', 'zwei', 'три']) {
		t.is(client.send(text), 0);
	}

	await until(() => received.length === 3, 10_000, 'three echoes');
	t.deepEqual(received, [
		{data: 'one', length: 3},
		{data: 'zwei', length: 4},
		{data: 'три', length: 6},
	]);
	t.is(client.close({code: 4000, reason: 'bye'}), 0);
	await until(() => close !== undefined, 10_000, 'onClose');
	t.deepEqual(order, ['open', 'message', 'message', 'message', 'close']);
	t.deepEqual(close, {code: 4000, reason: 'bye'});
});

test('the header list: AddHeader lines, then options.headers, in order, repeated names kept', async t => {
	const wss = new WebSocketServer({host: '127.0.0.1', port: 0});
	await withTimeout(new Promise<void>(resolve => wss.once('listening', () => resolve())), 5000, 'listening');
	t.teardown(async () => {
		for (const client of wss.clients) {
			client.terminate();
		}

		await new Promise<void>(resolve => {
			wss.close(() => resolve());
		});
	});
	const raw = new Promise<string[]>(resolve => {
		wss.once('connection', (_ws, request) => resolve(request.rawHeaders));
	});
	const {client} = record(t);
	t.is(client.addHeader('X-List', 'first'), 0);
	t.is(client.addHeader('X-Other', 'o'), 0);
	t.is(client.addHeader('X-List', 'second'), 0);
	t.is(client.connect(`ws://127.0.0.1:${(wss.address() as {port: number}).port}/`, {headers: [['X-List', 'third']]}), 0);
	const headers = await withTimeout(raw, 10_000, 'request');
	const pairs: Array<[string, string]> = [];
	for (let i = 0; i < headers.length; i += 2) {
		pairs.push([headers[i]!, headers[i + 1]!]);
	}

	t.deepEqual(
		pairs.filter(([name]) => name.startsWith('X-')),
		[
			['X-List', 'first'],
			['X-Other', 'o'],
			['X-List', 'second'],
			['X-List', 'third'],
		],
	);
});
