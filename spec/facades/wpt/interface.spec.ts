// WPT websockets/interfaces (idlharness): the WebSocket and CloseEvent interfaces as WebIDL lays them out.

import {connect, next, undici, websoup, wpt, wptServer} from './harness.ts';
import test from 'ava';

const constants = {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3} as const;
const attributes = ['url', 'readyState', 'bufferedAmount', 'extensions', 'protocol'];
const writableAttributes = ['onopen', 'onerror', 'onclose', 'onmessage', 'binaryType'];

wpt('interface object: a function of length 1 whose prototype inherits from EventTarget', (t, {WebSocket}) => {
	t.is(typeof WebSocket, 'function');
	t.is(WebSocket.length, 1);
	t.is(WebSocket.name, 'WebSocket');
	t.is(Object.getPrototypeOf(WebSocket.prototype), EventTarget.prototype);
	const descriptor = Object.getOwnPropertyDescriptor(WebSocket, 'prototype');
	t.false(descriptor?.writable);
	t.false(descriptor?.enumerable);
	t.false(descriptor?.configurable);
});

wpt('constants: on the interface object and the prototype, readonly, enumerable, not configurable', (t, {WebSocket}) => {
	for (const [name, value] of Object.entries(constants)) {
		for (const holder of [WebSocket, WebSocket.prototype]) {
			const descriptor = Object.getOwnPropertyDescriptor(holder, name);
			t.deepEqual(descriptor, {value, writable: false, enumerable: true, configurable: false}, name);
		}
	}
});

wpt('constants: readable on instances, not own properties there, and not assignable', (t, {WebSocket}) => {
	const ws = new WebSocket('ws://127.0.0.1:1/');
	ws.onerror = () => {};
	for (const [name, value] of Object.entries(constants)) {
		t.is((ws as unknown as Record<string, number>)[name], value);
		t.false(Object.hasOwn(ws, name));
		t.throws(() => {
			'use strict';
			(ws as unknown as Record<string, number>)[name] = 42;
		});
	}

	ws.close();
});

wpt('attributes: readonly ones are enumerable, configurable getters on the prototype, with no setter', (t, {WebSocket}) => {
	for (const name of attributes) {
		const descriptor = Object.getOwnPropertyDescriptor(WebSocket.prototype, name);
		t.is(typeof descriptor?.get, 'function', name);
		t.is(descriptor?.set, undefined, name);
		t.true(descriptor?.enumerable, name);
		t.true(descriptor?.configurable, name);
	}
});

wpt('attributes: binaryType and the event handlers are enumerable accessors with a getter and a setter', (t, {WebSocket}) => {
	for (const name of writableAttributes) {
		const descriptor = Object.getOwnPropertyDescriptor(WebSocket.prototype, name);
		t.is(typeof descriptor?.get, 'function', name);
		t.is(typeof descriptor?.set, 'function', name);
		t.true(descriptor?.enumerable, name);
	}
});

wpt('operations: send.length is 1 and close.length is 0; both enumerable', (t, {WebSocket}) => {
	t.is(WebSocket.prototype.send.length, 1);
	t.is(WebSocket.prototype.close.length, 0);
	for (const name of ['send', 'close']) {
		const descriptor = Object.getOwnPropertyDescriptor(WebSocket.prototype, name);
		t.true(descriptor?.enumerable, name);
		t.true(descriptor?.writable, name);
		t.true(descriptor?.configurable, name);
	}
});

wpt('instances: no own string-keyed properties; toString gives [object WebSocket]', (t, {WebSocket}) => {
	const ws = new WebSocket('ws://127.0.0.1:1/');
	ws.onerror = () => {};
	ws.binaryType = 'arraybuffer';
	ws.onopen = () => {};
	t.deepEqual(Object.getOwnPropertyNames(ws), []);
	t.is(Object.prototype.toString.call(ws), '[object WebSocket]');
	t.is(Object.prototype.toString.call(WebSocket.prototype), '[object WebSocket]');
	t.true(ws instanceof EventTarget);
	ws.close();
});

wpt('brand checks: the getters and operations throw TypeError on another object', (t, {WebSocket}) => {
	for (const name of [...attributes, ...writableAttributes]) {
		const getter = Object.getOwnPropertyDescriptor(WebSocket.prototype, name)?.get;
		t.throws(() => getter?.call({}), {instanceOf: TypeError}, name);
	}

	t.throws(() => WebSocket.prototype.send.call({}, 'x'), {instanceOf: TypeError});
	t.throws(() => WebSocket.prototype.close.call({}), {instanceOf: TypeError});
});

wpt('the constructor needs new', (t, {WebSocket}) => {
	t.throws(() => (WebSocket as unknown as (url: string) => unknown)('ws://127.0.0.1:1/'), {instanceOf: TypeError});
});

wpt('bufferedAmount-defineProperty-getter: a getter defined on the prototype is used', (t, {WebSocket}) => {
	const original = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'bufferedAmount')!;
	t.teardown(() => {
		Object.defineProperty(WebSocket.prototype, 'bufferedAmount', original);
	});
	Object.defineProperty(WebSocket.prototype, 'bufferedAmount', {
		get() {
			return 'foo';
		},
		configurable: true,
	});
	const ws = new WebSocket('ws://127.0.0.1:1/');
	ws.onerror = () => {};
	t.is(ws.bufferedAmount as unknown, 'foo');
	ws.close();
});

wpt('CloseEvent: an Event subclass; type close, not bubbling, not cancelable, [object CloseEvent]', (t, {CloseEvent}) => {
	const event = new CloseEvent('close');
	t.true(event instanceof Event);
	t.is(event.type, 'close');
	t.false(event.bubbles);
	t.false(event.cancelable);
	t.false(event.wasClean);
	t.is(event.code, 0);
	t.is(event.reason, '');
	t.is(Object.prototype.toString.call(event), '[object CloseEvent]');
	t.is(CloseEvent.length, 1);
	for (const name of ['wasClean', 'code', 'reason']) {
		const descriptor = Object.getOwnPropertyDescriptor(CloseEvent.prototype, name);
		t.is(typeof descriptor?.get, 'function', name);
		t.is(descriptor?.set, undefined, name);
		t.true(descriptor?.enumerable, name);
	}
});

wpt('CloseEvent: the init dictionary is converted (code as unsigned short, reason as USVString)', (t, {CloseEvent}) => {
	const event = new CloseEvent('x', {wasClean: 1 as unknown as boolean, code: 65_537, reason: 'a\uD800', bubbles: true});
	t.true(event.wasClean);
	t.is(event.code, 1);
	t.is(event.reason, 'a\uFFFD');
	t.true(event.bubbles);
	t.throws(() => new (CloseEvent as unknown as new () => unknown)(), {instanceOf: TypeError});
});

wpt('addEventListener and on* see the same events, on* in the position it was first set', async (t, impl) => {
	const server = await wptServer(t);
	const ws = connect(t, impl, `${server.origin}/echo`);
	const calls: string[] = [];
	ws.addEventListener('open', () => calls.push('listener 1'));
	ws.onopen = () => calls.push('first handler');
	ws.addEventListener('open', () => calls.push('listener 2'));
	ws.onopen = () => calls.push('second handler');
	await next(ws, 'open');
	t.deepEqual(calls, ['listener 1', 'second handler', 'listener 2']);
}, {undiciDiffers: 'undici moves the listener to the end when a handler replaces another (HTML keeps its place)'});

wpt('event handlers: setting null removes the listener, and setting again appends it', async (t, impl) => {
	const server = await wptServer(t);
	const ws = connect(t, impl, `${server.origin}/echo`);
	const calls: string[] = [];
	ws.onopen = () => calls.push('removed');
	ws.addEventListener('open', () => calls.push('listener'));
	ws.onopen = null;
	t.is(ws.onopen, null);
	ws.onopen = () => calls.push('handler');
	await next(ws, 'open');
	t.deepEqual(calls, ['listener', 'handler']);
});

wpt('event handlers: this is the WebSocket', async (t, impl) => {
	const server = await wptServer(t);
	const ws = connect(t, impl, `${server.origin}/echo`);
	const self = await new Promise(resolve => {
		ws.onopen = function () {
			resolve(this);
		};
	});
	t.is(self, ws);
});

wpt('[LegacyTreatNonObjectAsNull]: a non-callable object is kept, primitives become null', (t, {WebSocket}) => {
	const ws = new WebSocket('ws://127.0.0.1:1/');
	ws.onerror = () => {};
	const object = {handleEvent() {}};
	for (const name of ['onopen', 'onmessage', 'onclose'] as const) {
		(ws as unknown as Record<string, unknown>)[name] = object;
		t.is((ws as unknown as Record<string, unknown>)[name], object, name);
		for (const primitive of [1, 'string', true, undefined]) {
			(ws as unknown as Record<string, unknown>)[name] = primitive;
			t.is((ws as unknown as Record<string, unknown>)[name], null, `${name} = ${String(primitive)}`);
		}
	}

	ws.close();
});

wpt('a non-callable on* object is not invoked, and does not stop other listeners', async (t, impl) => {
	const server = await wptServer(t);
	const ws = connect(t, impl, `${server.origin}/echo`);
	let handleEventCalled = false;
	(ws as unknown as {onopen: unknown}).onopen = {
		handleEvent() {
			handleEventCalled = true;
		},
	};
	await next(ws, 'open');
	await new Promise(resolve => {
		setImmediate(resolve);
	});
	t.false(handleEventCalled);
});

test('websoup: WebSocket.prototype has no addEventListener of its own (inherited from EventTarget)', t => {
	t.false(Object.hasOwn(websoup.WebSocket.prototype, 'addEventListener'));
	t.false(Object.hasOwn(undici.WebSocket.prototype, 'addEventListener'));
});
