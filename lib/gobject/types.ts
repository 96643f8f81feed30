// Type-level maps that make property and signal names, values and handlers checked by the compiler.

import type {ParamSpec} from './param-spec.ts';

/** `keepalive-interval` → `keepaliveInterval`, at the type level. */
export type CamelCase<S extends string> = S extends `${infer Head}-${infer Tail}`
	? `${Head}${Capitalize<CamelCase<Tail>>}`
	: S;

/** A class's property declarations: dashed name → {@link ParamSpec}. */
export type PropertyTable = Readonly<Record<string, ParamSpec<unknown, boolean>>>;

/** A class's signals: name → the tuple of arguments its handlers receive after the emitter. */
export type SignalDefinitions<S> = {[K in keyof S]: readonly unknown[]};

/** The value type a ParamSpec declares. */
export type ValueOf<P> = P extends ParamSpec<infer V, boolean> ? V : never;

/** Dashed property names. */
export type PropertyKey<T extends PropertyTable> = keyof T & string;

/** Either spelling of a property name. */
export type PropertyName<T extends PropertyTable> = PropertyKey<T> | CamelCase<PropertyKey<T>>;

/** The dashed name for either spelling. */
export type CanonicalName<T extends PropertyTable, K extends string> = K extends PropertyKey<T>
	? K
	: {[D in PropertyKey<T>]: CamelCase<D> extends K ? D : never}[PropertyKey<T>];

/** The value type of the property named `K` in either spelling. */
export type PropertyValue<T extends PropertyTable, K extends string> = ValueOf<T[CanonicalName<T, K>]>;

/** Dashed names of the properties that may be written. */
export type WritableKey<T extends PropertyTable> = {
	[K in PropertyKey<T>]: T[K] extends ParamSpec<unknown, true> ? K : never;
}[PropertyKey<T>];

/** Either spelling of a writable property's name. */
export type WritableName<T extends PropertyTable> = WritableKey<T> | CamelCase<WritableKey<T>>;

/**
 * The camelCase accessors GObject defines on a class's prototype (`obj.keepaliveInterval`), typed
 * from its property table: a read-only property's accessor is `readonly`. A class gets their types
 * by declaration merging, so it writes no get/set pair of its own:
 *
 * ```ts
 * interface Channel extends PropertyAccessors<typeof properties> {}
 * class Channel extends GObject<typeof properties, Signals> { … }
 * ```
 *
 * Like `setProperty`, the accessor of a CONSTRUCT_ONLY property is typed writable (flags combined
 * with `|` are a `number` to the compiler) and throws a `TypeError` when set after construction.
 */
export type PropertyAccessors<T extends PropertyTable> = {
	-readonly [K in WritableKey<T> as CamelCase<K>]: ValueOf<T[K]>;
} & {
	readonly [K in Exclude<PropertyKey<T>, WritableKey<T>> as CamelCase<K>]: ValueOf<T[K]>;
};

/** What a constructor takes: writable properties, in either spelling. */
export type ConstructProperties<T extends PropertyTable> = {
	[K in WritableKey<T>]?: ValueOf<T[K]>;
} & {
	[K in WritableKey<T> as CamelCase<K>]?: ValueOf<T[K]>;
};

/** Every name `connect` accepts: declared signals, `notify`, and `notify::<property>`. */
export type SignalName<T extends PropertyTable, S extends SignalDefinitions<S>> =
	| (keyof S & string)
	| 'notify'
	| `notify::${PropertyKey<T>}`;

/** The arguments a handler of `K` receives after the emitting object. */
export type SignalArgs<S extends SignalDefinitions<S>, K extends string> = K extends keyof S
	? S[K]
	: K extends 'notify' | `notify::${string}`
		? [pspec: ParamSpec<unknown, boolean>]
		: never;

/** A signal handler: the emitting object first, then the signal's arguments, as in GObject and GJS. */
export type SignalHandler<Self, Args extends readonly unknown[]> = (self: Self, ...args: Args) => void;

/** What `connect` returns; pass it to `disconnect`, `handlerBlock`, `handlerUnblock`. */
export type HandlerId = number;
