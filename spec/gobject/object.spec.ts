import test from 'ava';
import {GObject, ParamFlags, ParamSpec, UINT64_MAX_SAFE, UINT_MAX} from '../../lib/gobject/index.ts';
import {checkedConstructProperties} from '../../lib/gobject/object.ts';
import {Color, Widget} from '../helpers/widget.ts';

function notifications(widget: Widget): string[] {
	const seen: string[] = [];
	widget.connect('notify', (_self, pspec) => seen.push(pspec.name));
	return seen;
}

test('construct: CONSTRUCT properties take their defaults before the constructor returns', t => {
	const widget = new Widget();
	t.is(widget.getProperty('keepalive-interval'), 0);
	t.is(widget.getProperty('label'), null);
	t.is(widget.getProperty('max-size'), 131_072);
	t.is(widget.getProperty('ratio'), 0.5);
	t.deepEqual(widget.getProperty('tags'), []);
});

test('construct: takes properties in either spelling', t => {
	const widget = new Widget({'keepalive-interval': 30, label: 'a', maxSize: 5, color: Color.BLUE});
	t.is(widget.keepaliveInterval, 30);
	t.is(widget.getProperty('keepaliveInterval'), 30);
	t.is(widget.label, 'a');
	t.is(widget.getProperty('maxSize'), 5);
	t.is(widget.getProperty('color'), Color.BLUE);
});

test('construct: properties marked checked by the glue that made them are stored as given, in either spelling; the same values unmarked are checked', t => {
	const widget = new Widget(checkedConstructProperties({'keepalive-interval': 30, label: 'a', maxSize: 5, color: Color.BLUE}));
	t.is(widget.keepaliveInterval, 30);
	t.is(widget.label, 'a');
	t.is(widget.getProperty('max-size'), 5);
	t.is(widget.getProperty('color'), Color.BLUE);
	// Defaults stay for what was not given.
	t.is(widget.getProperty('ratio'), 0.5);
	// The mark is on that object only: an object like it is validated as ever.
	t.throws(() => new Widget({'keepalive-interval': -1}), {instanceOf: TypeError, message: /invalid value `-1` for property 'keepalive-interval'/});
	t.deepEqual(Object.keys(checkedConstructProperties({label: 'b'})), ['label']);
});

test('construct: rejects unknown, read-only, duplicated and invalid properties with a TypeError naming them', t => {
	const cases: Array<[Record<string, unknown>, RegExp]> = [
		[{bogus: 1}, /Widget: unknown property 'bogus'/],
		[{state: Color.RED}, /Widget: property 'state' is not writable/],
		[{'max-size': 1, maxSize: 2}, /property 'max-size' is given twice/],
		[{'keepalive-interval': -1}, /Widget: invalid value `-1` for property 'keepalive-interval': expected a uint in \[0, 4294967295\]/],
		[{label: 5}, /invalid value `5` for property 'label': expected a string or null/],
	];
	for (const [properties, message] of cases) {
		t.throws(() => new Widget(properties as never), {instanceOf: TypeError, message});
	}

	t.throws(() => new Widget(5 as never), {instanceOf: TypeError, message: /Expected `properties` to be an object, got `5`/});
});

test('set: notifies once when the value changes, not when the same value is set again', t => {
	const widget = new Widget();
	const seen = notifications(widget);
	widget.setProperty('level', 3);
	widget.setProperty('level', 3);
	widget.level = 4;
	widget.level = 4;
	t.deepEqual(seen, ['level', 'level']);
	t.is(widget.level, 4);
});

test('set: detailed notify::name fires only for that property', t => {
	const widget = new Widget();
	const levels: unknown[] = [];
	widget.connect('notify::level', (self, pspec) => {
		t.is(self, widget);
		levels.push([pspec.name, self.getProperty('level')]);
	});
	widget.setProperty('color', Color.GREEN);
	widget.setProperty('level', -2);
	t.deepEqual(levels, [['level', -2]]);
});

test('set: rejects wrong types and out-of-range values, leaving the value as it was', t => {
	const widget = new Widget();
	const seen = notifications(widget);
	const cases: Array<[string, unknown, RegExp]> = [
		['level', 11, /Widget: invalid value `11` for property 'level': expected a int in \[-10, 10\]/],
		['level', 1.5, /invalid value `1.5` for property 'level'/],
		['level', '3', /invalid value `"3"` for property 'level'/],
		['max-size', UINT64_MAX_SAFE + 1, /property 'max-size'/],
		['max-size', 10n, /invalid value `10n` for property 'max-size'/],
		['color', 7, /expected one of RED \(1\), GREEN \(2\), BLUE \(3\)/],
		['enabled', 1, /expected a boolean/],
		['target', 'http://x/', /expected an instance of URL or null/],
		['ratio', Number.NaN, /property 'ratio'/],
		['tags', ['a', 1], /expected an array of strings/],
		['keepalive-interval', UINT_MAX + 1, /property 'keepalive-interval'/],
	];
	for (const [name, value, message] of cases) {
		const before = widget.getProperty(name as 'level');
		t.throws(() => widget.setProperty(name as 'level', value as number), {instanceOf: TypeError, message});
		t.is(widget.getProperty(name as 'level'), before);
	}

	t.deepEqual(seen, []);
});

test('set: read-only and construct-only properties throw after construction', t => {
	const widget = new Widget({label: 'first'});
	t.throws(() => widget.setProperty('label' as never, 'second' as never), {
		instanceOf: TypeError,
		message: "Widget: construct-only property 'label' can't be set after construction",
	});
	t.throws(() => widget.setProperty('state' as never, Color.RED as never), {
		instanceOf: TypeError,
		message: "Widget: property 'state' is not writable",
	});
	t.throws(() => widget.getProperty('nope' as never), {instanceOf: TypeError, message: "Widget: unknown property 'nope'"});
	t.is(widget.label, 'first');
});

test('set: an object property accepts its class and null', t => {
	const widget = new Widget();
	const url = new URL('ws://127.0.0.1/');
	widget.setProperty('target', url);
	t.is(widget.getProperty('target'), url);
	widget.setProperty('target', null);
	t.is(widget.getProperty('target'), null);
});

test('EXPLICIT_NOTIFY: setting does not notify; the class notifies itself', t => {
	const widget = new Widget();
	const seen = notifications(widget);
	widget.setProperty('enabled', true);
	t.deepEqual(seen, []);
	widget.notify('enabled');
	t.deepEqual(seen, ['enabled']);
});

test('read-only derived property: the class notifies on change', t => {
	const widget = new Widget();
	const seen = notifications(widget);
	widget.changeState(Color.GREEN);
	widget.changeState(Color.BLUE);
	t.deepEqual(seen, ['state']);
	t.is(widget.getProperty('state'), Color.BLUE);
});

test('freeze/thaw: notifications are queued, coalesced per property, emitted on the last thaw', t => {
	const widget = new Widget();
	const seen = notifications(widget);
	widget.freezeNotify();
	widget.freezeNotify();
	widget.level = 1;
	widget.setProperty('color', Color.BLUE);
	widget.level = 2;
	widget.thawNotify();
	t.deepEqual(seen, []);
	widget.thawNotify();
	t.deepEqual(seen, ['level', 'color']);
	t.throws(() => widget.thawNotify(), {instanceOf: TypeError, message: 'Widget: thawNotify() without freezeNotify()'});
});

test('listProperties: specs with names, flags, defaults and ranges, on the class and the instance', t => {
	const specs = Widget.listProperties();
	t.deepEqual(
		specs.map(spec => spec.name),
		['keepalive-interval', 'label', 'color', 'level', 'max-size', 'enabled', 'target', 'ratio', 'tags', 'state'],
	);
	const keepalive = Widget.findProperty('keepaliveInterval')!;
	t.is(keepalive.name, 'keepalive-interval');
	t.is(keepalive.camelName, 'keepaliveInterval');
	t.is(keepalive.valueType, 'uint');
	t.is(keepalive.flags, ParamFlags.READWRITE | ParamFlags.CONSTRUCT);
	t.is(keepalive.maximum, UINT_MAX);
	t.is(Widget.findProperty('nope'), null);
	t.deepEqual(new Widget().listProperties(), specs);
	t.false(Widget.findProperty('state')!.writable);
});

test('a class without declarations is a plain GObject with notify only', t => {
	const object = new GObject();
	t.deepEqual(object.listProperties(), []);
	t.throws(() => object.connect('message' as never, () => {}), {message: "GObject: unknown signal 'message'"});
});

test('ParamSpec: bad declarations are refused', t => {
	t.throws(() => ParamSpec.uint('bad name', 0), {instanceOf: TypeError});
	t.throws(() => ParamSpec.uint('x', -1), {instanceOf: TypeError, message: "Property 'x': the default `-1` is not a uint in [0, 4294967295]"});
	t.throws(() => ParamSpec.uint('x', 0, {flags: ParamFlags.READABLE | ParamFlags.CONSTRUCT_ONLY}), {
		message: "Property 'x': CONSTRUCT_ONLY needs WRITABLE",
	});
	class Twice extends GObject<{a: ParamSpec<number, true>}> {
		static override properties = {a: ParamSpec.int('b', 0) as ParamSpec<number, true>};
	}
	t.throws(() => new Twice(), {message: "Twice: property table key 'a' differs from its spec's name 'b'"});
});
