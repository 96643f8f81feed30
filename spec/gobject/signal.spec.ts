import test from 'ava';
import {GObject} from '../../lib/gobject/index.ts';
import {Widget} from '../helpers/widget.ts';

function withReporter(fn: (errors: unknown[]) => void): void {
	const errors: unknown[] = [];
	const previous = GObject.setErrorReporter(error => errors.push(error));
	try {
		fn(errors);
	} finally {
		GObject.setErrorReporter(previous);
	}
}

test('emit: handlers receive the emitter first, then the arguments', t => {
	const widget = new Widget();
	const data = new Uint8Array([1, 2]);
	let received: unknown[] = [];
	widget.connect('message', (self, type, payload) => {
		received = [self, type, payload];
	});
	widget.fire('message', 2, data);
	t.deepEqual(received, [widget, 2, data]);
});

test('emit: the five stages run in GLib order', t => {
	// RUN_FIRST class handler → connect handlers → RUN_LAST class handler → connectAfter → RUN_CLEANUP.
	const widget = new Widget();
	widget.connectAfter('message', self => self.log.push('after'));
	widget.connect('message', self => self.log.push('first'));
	widget.connect('message', self => self.log.push('second'));
	widget.fire('message', 1, new Uint8Array());
	t.deepEqual(widget.log, ['class:message:1', 'first', 'second', 'after']);

	widget.log = [];
	widget.connectAfter('closing', self => self.log.push('after'));
	widget.connect('closing', self => self.log.push('handler'));
	widget.fire('closing');
	t.deepEqual(widget.log, ['handler', 'class:closing', 'after']);

	widget.log = [];
	widget.connectAfter('cleanup', self => self.log.push('after'));
	widget.connect('cleanup', self => self.log.push('handler'));
	widget.fire('cleanup', 7);
	t.deepEqual(widget.log, ['handler', 'after', 'class:cleanup:7']);
});

test('stopEmission: skips what is still due, except the RUN_CLEANUP class handler', t => {
	const widget = new Widget();
	widget.connect('closing', self => {
		self.log.push('stopper');
		self.stopEmission('closing');
	});
	widget.connect('closing', self => self.log.push('skipped'));
	widget.connectAfter('closing', self => self.log.push('skipped-after'));
	widget.fire('closing');
	t.deepEqual(widget.log, ['stopper']);

	widget.log = [];
	widget.connect('cleanup', self => self.stopEmission('cleanup'));
	widget.connectAfter('cleanup', self => self.log.push('skipped-after'));
	widget.fire('cleanup', 1);
	t.deepEqual(widget.log, ['class:cleanup:1']);

	t.throws(() => widget.stopEmission('closing'), {
		instanceOf: TypeError,
		message: "Widget: signal 'closing' is not being emitted",
	});
});

test('stopEmission from a RUN_FIRST class handler stage leaves the handlers out', t => {
	const widget = new Widget();
	widget.connect('message', self => self.log.push('handler'));
	const id = widget.connect('message', self => self.log.push('second'));
	widget.connect('message', self => self.stopEmission('message'));
	widget.handlerBlock(id);
	widget.fire('message', 1, new Uint8Array());
	t.deepEqual(widget.log, ['class:message:1', 'handler']);
});

test('handlerBlock/Unblock: counted; a blocked handler is skipped', t => {
	const widget = new Widget();
	let calls = 0;
	const id = widget.connect('plain', () => calls++);
	widget.handlerBlock(id);
	widget.handlerBlock(id);
	widget.fire('plain');
	widget.handlerUnblock(id);
	widget.fire('plain');
	t.is(calls, 0);
	widget.handlerUnblock(id);
	widget.fire('plain');
	t.is(calls, 1);
	t.throws(() => widget.handlerUnblock(id), {instanceOf: TypeError, message: `Widget: handler ${id} is not blocked`});
});

test('disconnect: stops further calls; unknown ids throw', t => {
	const widget = new Widget();
	let calls = 0;
	const id = widget.connect('plain', () => calls++);
	t.true(widget.handlerIsConnected(id));
	widget.fire('plain');
	widget.disconnect(id);
	widget.fire('plain');
	t.is(calls, 1);
	t.false(widget.handlerIsConnected(id));
	t.throws(() => widget.disconnect(id), {
		instanceOf: TypeError,
		message: `Widget.disconnect(): no handler with id \`${id}\` is connected`,
	});
	t.throws(() => widget.handlerBlock(123_456_789), {instanceOf: TypeError});
});

test('disconnect during emission: a handler disconnected by an earlier one is not called', t => {
	const widget = new Widget();
	const calls: string[] = [];
	let second = 0;
	widget.connect('plain', self => {
		calls.push('first');
		if (self.handlerIsConnected(second)) {
			self.disconnect(second);
		}
	});
	second = widget.connect('plain', () => calls.push('second'));
	widget.fire('plain');
	widget.fire('plain');
	t.deepEqual(calls, ['first', 'first']);
});

test('a handler may disconnect itself while running; later handlers still run', t => {
	const widget = new Widget();
	const calls: string[] = [];
	const id = widget.connect('plain', self => {
		calls.push('once');
		self.disconnect(id);
	});
	widget.connect('plain', () => calls.push('always'));
	widget.fire('plain');
	widget.fire('plain');
	t.deepEqual(calls, ['once', 'always', 'always']);
});

test('connect during emission: the new handler runs from the next emission on', t => {
	const widget = new Widget();
	const calls: string[] = [];
	widget.connect('plain', self => {
		calls.push('outer');
		if (calls.length === 1) {
			self.connect('plain', () => calls.push('late'));
		}
	});
	widget.fire('plain');
	t.deepEqual(calls, ['outer']);
	widget.fire('plain');
	t.deepEqual(calls, ['outer', 'outer', 'late']);
});

test('NO_RECURSE: a re-emission from a handler restarts the running emission instead of nesting', t => {
	const widget = new Widget();
	let depth = 0;
	let restarts = 0;
	widget.connect('again', (self, n) => {
		depth++;
		self.log.push(`handler:${n}:depth${depth}`);
		if (restarts < 2) {
			restarts++;
			self.fire('again', n + 100);
		}

		depth--;
	});
	widget.fire('again', 1);
	// The nested emits never nest (depth stays 1) and the restarts use the original argument.
	t.deepEqual(widget.log, ['handler:1:depth1', 'handler:1:depth1', 'handler:1:depth1', 'class:again:1']);
});

test('signals without NO_RECURSE nest', t => {
	const widget = new Widget();
	const calls: number[] = [];
	widget.connect('cleanup', (self, code) => {
		calls.push(code);
		if (code < 3) {
			self.fire('cleanup', code + 1);
		}
	});
	widget.fire('cleanup', 1);
	t.deepEqual(calls, [1, 2, 3]);
	t.deepEqual(widget.log, ['class:cleanup:3', 'class:cleanup:2', 'class:cleanup:1']);
});

test('a throwing handler is reported and the emission goes on', t => {
	withReporter(errors => {
		const widget = new Widget();
		const calls: string[] = [];
		widget.connect('closing', () => {
			throw new Error('boom');
		});
		widget.connect('closing', () => calls.push('next'));
		widget.connectAfter('closing', () => calls.push('after'));
		widget.fire('closing');
		t.deepEqual(calls, ['next', 'after']);
		t.deepEqual(widget.log, ['class:closing']);
		t.is(errors.length, 1);
		t.is((errors[0] as Error).message, 'boom');
	});
});

test('the default reporter emits a process warning', async t => {
	const widget = new Widget();
	widget.connect('plain', () => {
		throw new Error('kaboom');
	});
	const warning = new Promise<Error>(resolve => {
		const listener = (received: Error) => {
			if (received.message.includes('kaboom')) {
				process.off('warning', listener);
				resolve(received);
			}
		};

		process.on('warning', listener);
	});
	widget.fire('plain');
	const received = await warning;
	t.is(received.name, 'GObjectWarning');
	t.regex(received.message, /Widget: a handler of 'plain' threw: Error: kaboom/);
});

test('unknown signals, bad details and non-function handlers throw a TypeError', t => {
	const widget = new Widget();
	t.throws(() => widget.connect('mesage' as never, () => {}), {instanceOf: TypeError, message: "Widget: unknown signal 'mesage'"});
	t.throws(() => (widget as unknown as {emit(name: string): void}).emit('nope'), {instanceOf: TypeError, message: "Widget: unknown signal 'nope'"});
	t.throws(() => widget.connect('plain::x' as never, () => {}), {message: "Widget: signal 'plain' takes no detail, got 'plain::x'"});
	t.throws(() => widget.connect('notify::levle' as never, () => {}), {message: "Widget: 'notify::levle' names no property"});
	t.throws(() => widget.connect('plain', 'nope' as never), {message: 'Expected `handler` to be a function, got `"nope"`'});
});

test('handler ids are distinct across objects and signals', t => {
	const a = new Widget();
	const b = new Widget();
	const ids = new Set([a.connect('plain', () => {}), a.connect('closing', () => {}), b.connect('plain', () => {})]);
	t.is(ids.size, 3);
});

test('emission state is cleaned up after a throwing class handler', t => {
	class Fragile extends GObject<Record<never, never>, {boom: []}> {
		static override signals = {
			boom: {
				flags: 2,
				classHandler() {
					throw new Error('class handler');
				},
			},
		};

		boom(): void {
			this.emit('boom');
		}
	}
	withReporter(errors => {
		const fragile = new Fragile();
		let calls = 0;
		fragile.connect('boom', () => calls++);
		fragile.boom();
		fragile.boom();
		t.is(calls, 2);
		t.is(errors.length, 2);
		t.throws(() => fragile.stopEmission('boom'), {instanceOf: TypeError});
	});
});

test('stopEmission from the only handler of a signal is allowed and ends the emission', t => {
	const widget = new Widget();
	let calls = 0;
	widget.connect('plain', self => {
		calls++;
		self.stopEmission('plain');
	});
	widget.fire('plain');
	t.is(calls, 1);
	t.throws(() => widget.stopEmission('plain'), {instanceOf: TypeError});
});

test('a blocked only handler is skipped; an after-only handler runs', t => {
	const widget = new Widget();
	const calls: string[] = [];
	const id = widget.connect('plain', () => calls.push('blocked'));
	widget.handlerBlock(id);
	widget.fire('plain');
	widget.disconnect(id);
	widget.connectAfter('plain', () => calls.push('after'));
	widget.fire('plain');
	t.deepEqual(calls, ['after']);
});

test('stopEmission finds an outer single-handler emission from a nested one', t => {
	const widget = new Widget();
	const calls: string[] = [];
	widget.connect('plain', self => {
		calls.push('plain');
		self.fire('message', 1, new Uint8Array());
	});
	widget.connect('message', self => {
		calls.push('message');
		self.stopEmission('plain');
		self.stopEmission('message');
	});
	widget.fire('plain');
	t.deepEqual(calls, ['plain', 'message']);
	t.throws(() => widget.stopEmission('plain'), {instanceOf: TypeError});
});
