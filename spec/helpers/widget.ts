// A GObject subclass with one property of each kind and one signal of each stage, for the object-model specs.

import {
	GObject,
	ParamFlags,
	ParamSpec,
	SignalFlags,
	type PropertyAccessors,
	type SignalArgs,
	type SignalName,
	type SignalTable,
} from '../../lib/gobject/index.ts';

export const Color = {RED: 1, GREEN: 2, BLUE: 3} as const;
export type Color = (typeof Color)[keyof typeof Color];

const properties = {
	'keepalive-interval': ParamSpec.uint('keepalive-interval', 0, {flags: ParamFlags.READWRITE | ParamFlags.CONSTRUCT}),
	label: ParamSpec.string('label', null, {flags: ParamFlags.READWRITE | ParamFlags.CONSTRUCT_ONLY}),
	color: ParamSpec.enum('color', Color, Color.RED),
	level: ParamSpec.int('level', 0, {minimum: -10, maximum: 10}),
	'max-size': ParamSpec.uint64('max-size', 131_072),
	enabled: ParamSpec.boolean('enabled', false, {flags: ParamFlags.READWRITE | ParamFlags.EXPLICIT_NOTIFY}),
	target: ParamSpec.object('target', URL),
	ratio: ParamSpec.double('ratio', 0.5, {minimum: 0, maximum: 1}),
	tags: ParamSpec.value<readonly string[]>('tags', [], value =>
		Array.isArray(value) && value.every(item => typeof item === 'string') ? null : 'an array of strings',
	),
	state: ParamSpec.enum('state', Color, Color.GREEN, {flags: ParamFlags.READABLE}),
};

export interface WidgetSignals {
	message: [type: number, data: Uint8Array];
	closing: [];
	cleanup: [code: number];
	again: [n: number];
	plain: [];
}

/** The accessors `widget.keepaliveInterval`, `widget.level`, … typed from the table (declaration merging). */
export interface Widget extends PropertyAccessors<typeof properties> {}

export class Widget extends GObject<typeof properties, WidgetSignals> {
	static override properties = properties;
	static override signals: SignalTable<Widget, WidgetSignals> = {
		message: {
			flags: SignalFlags.RUN_FIRST,
			classHandler(self, type) {
				self.log.push(`class:message:${type}`);
			},
		},
		closing: {
			flags: SignalFlags.RUN_LAST,
			classHandler(self) {
				self.log.push('class:closing');
			},
		},
		cleanup: {
			flags: SignalFlags.RUN_CLEANUP,
			classHandler(self, code) {
				self.log.push(`class:cleanup:${code}`);
			},
		},
		again: {
			flags: SignalFlags.RUN_LAST | SignalFlags.NO_RECURSE,
			classHandler(self, n) {
				self.log.push(`class:again:${n}`);
			},
		},
		plain: {flags: SignalFlags.RUN_LAST},
	};

	/** What class handlers ran, in order. */
	log: string[] = [];
	#state: Color = Color.GREEN;

	/** Emits a signal for the specs, from outside the class: `emit` itself is protected. */
	fire<K extends SignalName<typeof properties, WidgetSignals>>(signal: K, ...args: SignalArgs<WidgetSignals, K>): void {
		this.emit(signal, ...args);
	}

	/** Changes the read-only `state` and notifies it, as a class does for its own read-only properties. */
	changeState(state: Color): void {
		if (state !== this.#state) {
			this.#state = state;
			this.notify('state');
		}
	}

	protected override getPropertyValue(spec: ParamSpec): unknown {
		return spec.name === 'state' ? this.#state : super.getPropertyValue(spec);
	}
}
