// GObject: typed properties with notify, and signals with GLib's emission stages, for TypeScript.

import {describe, ParamFlags, type ParamSpec} from './param-spec.ts';
import {Emission, EmissionState, HandlerRecord, SignalFlags, type SignalInfo, type SignalSpec} from './signal.ts';
import type {
	ConstructProperties,
	HandlerId,
	PropertyName,
	PropertyTable,
	PropertyValue,
	SignalArgs,
	SignalDefinitions,
	SignalHandler,
	SignalName,
	WritableName,
} from './types.ts';

// Builtins through process.getBuiltinModule(), not import: see docs/architecture.md, “Node's builtins”.
const {debuglog} = process.getBuiltinModule('node:util');

// The package's debug section (NODE_DEBUG=websoup); this layer imports nothing of lib/websocket.
const debug = debuglog('websoup');

/** The signals every GObject has. */
export interface GObjectSignals {
	notify: [pspec: ParamSpec<unknown, boolean>];
}

/** Receives what a signal handler threw; GLib would log a critical. */
export type ErrorReporter = (error: unknown, instance: object, signal: string) => void;

/** Where the resolved declarations of one class are kept. */
interface ClassInfo {
	readonly name: string;
	/** Both spellings of each name → spec. */
	readonly properties: Map<string, ParamSpec>;
	/** Canonical order: base classes first, then declaration order. */
	readonly propertyList: readonly ParamSpec[];
	/** Each spec's index in `propertyList`, where objects keep its value. */
	readonly indexOf: Map<ParamSpec, number>;
	/** Both spellings of each name → the index of its spec: one lookup where the constructor needs both. */
	readonly slots: Map<string, number>;
	/** The default of each property, by index: a new object's values start as a copy. */
	readonly defaults: readonly unknown[];
	readonly signals: Map<string, SignalInfo>;
	readonly signalCount: number;
	/** `connect`/`emit` names already parsed (`notify::state` → notify + detail). */
	readonly signalKeys: Map<string, {signal: SignalInfo; detail: string | null}>;
	/** The name `emit` resolved last, and its key (a one-entry cache in front of `signalKeys`). */
	lastName: string | null;
	lastKey: {signal: SignalInfo; detail: string | null} | null;
}

/** A class derived from GObject, as its static side sees it. */
interface GObjectClass {
	readonly name: string;
	readonly properties?: PropertyTable;
	readonly signals?: Readonly<Record<string, SignalSpec<never, never[]>>>;
	readonly prototype: object;
}

/** One signal's handlers on one object: none, the lone handler, or the handlers in order. */
type HandlerSlot = HandlerRecord | readonly HandlerRecord[] | undefined;

/** Whether a slot holds several handlers. `Array.isArray`, not `instanceof`: it keeps emit at its speed. */
function isList(slot: HandlerSlot): slot is readonly HandlerRecord[] {
	return Array.isArray(slot);
}

/** Whether `record` runs in the handler stage `after` of an emission with `detail`. */
function runsAt(record: HandlerRecord, after: boolean, detail: string | null): boolean {
	return record.after === after && record.connected && record.blocked === 0 && (record.detail === null || record.detail === detail);
}

const classInfos = new WeakMap<object, ClassInfo>();
let nextHandlerId = 1;
/** GLib has no bound; websoup stops an emission restarted this many times by NO_RECURSE re-emissions. */
const maxRestarts = 1000;

function defaultReporter(error: unknown, instance: object, signal: string): void {
	const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
	process.emitWarning(`${instance.constructor.name}: a handler of '${signal}' threw: ${detail}`, {
		type: 'GObjectWarning',
		code: 'GOBJECT_HANDLER_THREW',
	});
}

let reporter: ErrorReporter = defaultReporter;

/** Marks construct properties whose names and values were checked when they were made; see {@link checkedConstructProperties}. */
const kChecked = Symbol('gobject.checkedProperties');

/**
 * Internal (not exported from the package): marks `properties` as checked already, so the
 * constructor it is given to stores its values without looking them up and validating them again.
 * For glue that builds a construct-properties object out of values it has validated itself (the
 * server's handshake: limits checked when the handler was added, a stream, a URL, strings,
 * negotiated extensions), so that a handshake does not pay for the checks of each. Every name must
 * be a writable property of the class, given once, and every value valid for it: nothing checks.
 *
 * @returns `properties` itself.
 */
export function checkedConstructProperties<P extends object>(properties: P): P {
	(properties as {[kChecked]?: true})[kChecked] = true;
	return properties;
}

/**
 * The base class: declared, typed properties with `notify::<name>` signals, and declared
 * signals with class handlers and GLib's emission stages.
 *
 * A subclass declares its tables as statics and passes their types as the generics:
 *
 * ```ts
 * const properties = {
 *   'keepalive-interval': ParamSpec.uint('keepalive-interval', 0, {flags: ParamFlags.READWRITE | ParamFlags.CONSTRUCT}),
 * };
 * interface Signals { message: [type: number, data: Uint8Array] }
 * class Conn extends GObject<typeof properties, Signals> {
 *   static override properties = properties;
 *   static override signals: SignalTable<Conn, Signals> = {message: {flags: SignalFlags.RUN_FIRST}};
 * }
 * ```
 *
 * @typeParam T - the property table (`typeof properties`).
 * @typeParam S - signal name → tuple of handler arguments after the emitter.
 */
export class GObject<T extends PropertyTable = PropertyTable, S extends SignalDefinitions<S> = GObjectSignals> {
	/** Properties this class declares (its bases' are inherited). */
	static readonly properties: PropertyTable = {};
	/** Signals this class declares (its bases' are inherited). */
	static readonly signals: Readonly<Record<string, SignalSpec<never, never[]>>> = {
		notify: {flags: SignalFlags.RUN_FIRST | SignalFlags.NO_RECURSE | SignalFlags.DETAILED | SignalFlags.NO_HOOKS},
	};

	readonly #info: ClassInfo;
	/** Property values, by the property's index in its class. */
	readonly #values: unknown[];
	/**
	 * Per signal index: the connected handlers, replaced (never mutated) when one is added or
	 * removed; a lone handler is kept as itself, not in an array of one (56 bytes less per signal
	 * connected, on every connection).
	 */
	#handlers: Array<HandlerSlot> | undefined;
	#emission: Emission | null = null;
	/**
	 * Bit `i` is set while signal `i` is emitted on the hot path, which keeps no Emission record;
	 * saved and restored around each such emission, so nesting needs no stack of its own.
	 */
	#hotSignals = 0;
	#freeEmission: Emission | null = null;
	#freezeCount = 0;
	#pendingNotify: Set<ParamSpec> | undefined;
	#constructed = false;

	/**
	 * Creates the object, setting every CONSTRUCT and CONSTRUCT_ONLY property (to its default
	 * when `properties` has no value for it), then the other writable properties given.
	 *
	 * @throws {TypeError} for an unknown or read-only property, or a value of the wrong type or out of range.
	 */
	constructor(properties?: ConstructProperties<T>) {
		const info = classInfo(new.target as unknown as GObjectClass);
		this.#info = info;
		// Defaults first, then what `properties` gives: one array copy, no per-object dictionary.
		const values = info.defaults.slice();
		if (properties !== undefined) {
			if (properties === null || typeof properties !== 'object') {
				throw new TypeError(`Expected \`properties\` to be an object, got ${describe(properties)}`);
			}

			const given = properties as Record<string, unknown>;
			if ((given as {[kChecked]?: true})[kChecked] === true) {
				// Names and values vouched for by the code that made them (checkedConstructProperties):
				// each is stored, nothing is looked at twice.
				for (const name of Object.keys(given)) {
					values[info.slots.get(name)!] = given[name];
				}
			} else {
				for (const name of Object.keys(given)) {
					const spec = this.#findProperty(name);
					if (!(spec.flags & ParamFlags.WRITABLE)) {
						throw new TypeError(`${info.name}: property '${spec.name}' is not writable`);
					}

					// A property can only be given twice under its two spellings.
					const other = name === spec.name ? spec.camelName : spec.name;
					if (other !== name && Object.hasOwn(given, other)) {
						throw new TypeError(`${info.name}: property '${spec.name}' is given twice`);
					}

					const value = given[name];
					this.#validate(spec, value);
					values[info.slots.get(name)!] = value;
				}
			}
		}

		this.#values = values;
		this.#constructed = true;
	}

	/** Replaces the function that receives errors thrown by signal handlers; `null` restores the default (`process.emitWarning`). Returns the previous one. */
	static setErrorReporter(fn: ErrorReporter | null): ErrorReporter {
		const previous = reporter;
		reporter = fn ?? defaultReporter;
		return previous;
	}

	/** The specs of every property of this class, bases first, like `g_object_class_list_properties`. */
	static listProperties(): ParamSpec[] {
		return [...classInfo(this as GObjectClass).propertyList];
	}

	/** The spec of a property by either spelling, or `null`, like `g_object_class_find_property`. */
	static findProperty(name: string): ParamSpec | null {
		return classInfo(this as GObjectClass).properties.get(name) ?? null;
	}

	// --- Properties ------------------------------------------------------------------------

	/** The specs of every property of this object's class, like `g_object_class_list_properties`. */
	listProperties(): ParamSpec[] {
		return [...this.#info.propertyList];
	}

	/**
	 * The value of a property, by its dashed or camelCase name.
	 *
	 * @throws {TypeError} for an unknown or unreadable property.
	 */
	getProperty<K extends PropertyName<T>>(name: K): PropertyValue<T, K> {
		const spec = this.#findProperty(name);
		if (!spec.readable) {
			throw new TypeError(`${this.#info.name}: property '${spec.name}' is not readable`);
		}

		return this.getPropertyValue(spec) as PropertyValue<T, K>;
	}

	/**
	 * Sets a property, by its dashed or camelCase name, and emits `notify::<name>` if the value
	 * changed (unless the property is EXPLICIT_NOTIFY: then the class notifies itself).
	 *
	 * @throws {TypeError} for an unknown, read-only or construct-only property, or a bad value; nothing changes.
	 */
	setProperty<K extends WritableName<T>>(name: K, value: PropertyValue<T, K>): void {
		const spec = this.#findProperty(name);
		if (!spec.writable) {
			throw new TypeError(`${this.#info.name}: property '${spec.name}' is not writable`);
		}

		if (spec.flags & ParamFlags.CONSTRUCT_ONLY && this.#constructed) {
			throw new TypeError(`${this.#info.name}: construct-only property '${spec.name}' can't be set after construction`);
		}

		this.#validate(spec, value);
		const before = this.getPropertyValue(spec);
		this.setPropertyValue(spec, value);
		if (!(spec.flags & ParamFlags.EXPLICIT_NOTIFY) && !Object.is(before, this.getPropertyValue(spec))) {
			this.notify(spec.name as PropertyName<T>);
		}
	}

	/** Emits `notify::<name>` now, or queues it while notifications are frozen. */
	notify(name: PropertyName<T>): void {
		const spec = this.#findProperty(name);
		if (this.#freezeCount > 0) {
			(this.#pendingNotify ??= new Set()).add(spec);
			return;
		}

		this.#emitNotify(spec);
	}

	/** Queues notifications until the matching {@link GObject.thawNotify}; each property is notified once. */
	freezeNotify(): void {
		this.#freezeCount++;
	}

	/**
	 * Undoes one {@link GObject.freezeNotify}; at the last one, emits the queued notifications,
	 * one per property, in the order they were first queued.
	 *
	 * @throws {TypeError} when notifications are not frozen.
	 */
	thawNotify(): void {
		if (this.#freezeCount === 0) {
			throw new TypeError(`${this.#info.name}: thawNotify() without freezeNotify()`);
		}

		if (--this.#freezeCount > 0 || this.#pendingNotify === undefined) {
			return;
		}

		const pending = this.#pendingNotify;
		this.#pendingNotify = undefined;
		for (const spec of pending) {
			this.#emitNotify(spec);
		}
	}

	/**
	 * Reads a property's stored value: GObject's `get_property` vfunc. A subclass overrides it
	 * for properties it derives (calling `super` for the rest).
	 */
	protected getPropertyValue(spec: ParamSpec): unknown {
		return this.#values[this.#info.indexOf.get(spec)!];
	}

	/**
	 * Stores a validated value: GObject's `set_property` vfunc. A subclass overrides it to react
	 * to a change (calling `super`). Not called during the base constructor, when subclass fields
	 * do not exist yet: a subclass reads its construct properties after `super()`.
	 */
	protected setPropertyValue(spec: ParamSpec, value: unknown): void {
		this.#values[this.#info.indexOf.get(spec)!] = value;
	}

	// --- Signals ---------------------------------------------------------------------------

	/**
	 * Connects a handler, run after the class handler of a RUN_FIRST signal and before that of a
	 * RUN_LAST one. The handler receives this object first, then the signal's arguments.
	 *
	 * @returns the handler's id.
	 * @throws {TypeError} for an unknown signal or a handler that is not a function.
	 */
	connect<K extends SignalName<T, S>>(signal: K, handler: SignalHandler<this, SignalArgs<S, K>>): HandlerId {
		return this.#connect(signal, handler, false);
	}

	/** Connects a handler that runs after the RUN_LAST class handler and every `connect` handler. */
	connectAfter<K extends SignalName<T, S>>(signal: K, handler: SignalHandler<this, SignalArgs<S, K>>): HandlerId {
		return this.#connect(signal, handler, true);
	}

	/**
	 * Disconnects a handler. A handler disconnected during an emission is not called afterwards.
	 *
	 * @throws {TypeError} when no handler with this id is connected.
	 */
	disconnect(id: HandlerId): void {
		const record = this.#record(id, 'disconnect');
		record.connected = false;
		const handlers = this.#handlers!;
		const slot = handlers[record.signal.index]!;
		if (!isList(slot)) {
			handlers[record.signal.index] = undefined;
		} else {
			const rest = slot.filter(other => other !== record);
			handlers[record.signal.index] = rest.length === 1 ? rest[0] : rest;
		}
	}

	/** Whether a handler with this id is connected. */
	handlerIsConnected(id: HandlerId): boolean {
		return this.#find(id) !== undefined;
	}

	/** Blocks a handler: it is skipped until unblocked as many times as it was blocked. */
	handlerBlock(id: HandlerId): void {
		this.#record(id, 'handlerBlock').blocked++;
	}

	/**
	 * Undoes one {@link GObject.handlerBlock}.
	 *
	 * @throws {TypeError} when the handler is not blocked.
	 */
	handlerUnblock(id: HandlerId): void {
		const record = this.#record(id, 'handlerUnblock');
		if (record.blocked === 0) {
			throw new TypeError(`${this.#info.name}: handler ${id} is not blocked`);
		}

		record.blocked--;
	}

	/**
	 * Stops the innermost running emission of `signal` on this object: the handlers and class
	 * handler still due are skipped, except a RUN_CLEANUP class handler.
	 *
	 * @throws {TypeError} when the signal is not being emitted on this object.
	 */
	stopEmission(signal: SignalName<T, S>): void {
		const {signal: info, detail} = this.#resolveSignal(signal);
		for (let emission = this.#emission; emission !== null; emission = emission.parent) {
			if (emission.signal === info && (detail === null || emission.detail === detail)) {
				emission.state = EmissionState.STOP;
				return;
			}
		}

		if (info.index < 31 && this.#hotSignals & (1 << info.index)) {
			// A hot-path emission: its only handler is the one running, nothing is left to skip.
			return;
		}

		throw new TypeError(`${this.#info.name}: signal '${signal}' is not being emitted`);
	}

	/**
	 * Emits a signal: RUN_FIRST class handler, `connect` handlers in order, RUN_LAST class
	 * handler, `connectAfter` handlers, RUN_CLEANUP class handler. A handler that throws is
	 * reported to the error reporter and the emission goes on.
	 *
	 * Protected, as in GObject practice only the class says when its signals happen: code outside
	 * cannot fake a `closed` or a `message`.
	 *
	 * @throws {TypeError} for an unknown signal.
	 */
	protected emit<K extends SignalName<T, S>>(signal: K, ...args: SignalArgs<S, K>): void {
		// A call site emits one name again and again: compare with the last one before the map.
		const classInfo = this.#info;
		let key = classInfo.lastKey!;
		if (classInfo.lastName !== signal) {
			key = classInfo.signalKeys.get(signal) ?? this.#resolveSignal(signal);
			classInfo.lastName = signal;
			classInfo.lastKey = key;
		}

		const info = key.signal;
		const handlers = this.#handlers?.[info.index];
		if (handlers === undefined) {
			if (info.classHandler === undefined) {
				return;
			}
		} else if (!isList(handlers) && info.hot) {
			// The hot path: one handler and no class handler, so no stage can follow the handler and
			// the emission needs no record; `#hotSignals` only lets stopEmission() find it.
			const record = handlers;
			if (record.blocked === 0 && (record.detail === null || record.detail === key.detail)) {
				const outer = this.#hotSignals;
				this.#hotSignals = outer | (1 << info.index);
				this.#apply(record.fn, signal, args);
				this.#hotSignals = outer;
				return;
			}
		}

		if (info.flags & SignalFlags.NO_RECURSE) {
			for (let running = this.#emission; running !== null; running = running.parent) {
				if (running.signal === info && running.detail === key.detail) {
					// GLib: the running emission restarts with its own arguments; this one does not run.
					if (running.state === EmissionState.RUN) {
						running.state = EmissionState.RESTART;
					}

					return;
				}
			}
		}

		const emission = this.#freeEmission ?? new Emission();
		this.#freeEmission = emission.parent === this.#emission ? null : emission.parent;
		emission.signal = info;
		emission.detail = key.detail;
		emission.parent = this.#emission;
		this.#emission = emission;
		try {
			this.#run(emission, signal, args);
		} finally {
			this.#emission = emission.parent;
			emission.signal = null;
			emission.parent = this.#freeEmission;
			this.#freeEmission = emission;
		}
	}

	#run(emission: Emission, name: string, args: readonly unknown[]): void {
		const info = emission.signal!;
		const {classHandler, flags} = info;
		for (let restarts = 0; ; restarts++) {
			emission.state = EmissionState.RUN;
			// Handlers connected from here on are not called in this emission.
			const handlers = this.#handlers?.[info.index];
			if (classHandler !== undefined && flags & SignalFlags.RUN_FIRST) {
				this.#apply(classHandler, name, args);
			}

			if (emission.state === EmissionState.RUN && handlers !== undefined) {
				this.#callHandlers(handlers, false, emission, name, args);
			}

			if (emission.state === EmissionState.RUN && classHandler !== undefined && flags & SignalFlags.RUN_LAST) {
				this.#apply(classHandler, name, args);
			}

			if (emission.state === EmissionState.RUN && handlers !== undefined) {
				this.#callHandlers(handlers, true, emission, name, args);
			}

			if ((emission.state as EmissionState) !== EmissionState.RESTART) {
				break;
			}

			if (restarts === maxRestarts) {
				reporter(new Error(`emission restarted ${maxRestarts} times; stopped`), this, name);
				break;
			}
		}

		if (classHandler !== undefined && flags & SignalFlags.RUN_CLEANUP) {
			this.#apply(classHandler, name, args);
		}
	}

	#callHandlers(
		slot: HandlerRecord | readonly HandlerRecord[],
		after: boolean,
		emission: Emission,
		name: string,
		args: readonly unknown[],
	): void {
		const {detail} = emission;
		if (!isList(slot)) {
			if (runsAt(slot, after, detail)) {
				this.#apply(slot.fn, name, args);
			}

			return;
		}

		const handlers = slot;
		for (let i = 0; i < handlers.length; i++) {
			const record = handlers[i]!;
			if (runsAt(record, after, detail)) {
				this.#apply(record.fn, name, args);
				if (emission.state !== EmissionState.RUN) {
					return;
				}
			}
		}
	}

	/** Calls a handler with this object and `args`, reporting what it throws. */
	#apply(fn: (...args: never[]) => void, name: string, args: readonly unknown[]): void {
		const call = fn as (...args: unknown[]) => void;
		try {
			// Spelled out by count (no spread) for the common arities: this is the per-message path.
			switch (args.length) {
				case 0: {
					call(this);
					break;
				}

				case 1: {
					call(this, args[0]);
					break;
				}

				case 2: {
					call(this, args[0], args[1]);
					break;
				}

				default: {
					call(this, ...args);
				}
			}
		} catch (error) {
			debug('handler of %s threw', name);
			reporter(error, this, name);
		}
	}

	#connect(signal: string, handler: unknown, after: boolean): HandlerId {
		const {signal: info, detail} = this.#resolveSignal(signal);
		if (typeof handler !== 'function') {
			throw new TypeError(`Expected \`handler\` to be a function, got ${describe(handler)}`);
		}

		const record = new HandlerRecord(nextHandlerId++, info, detail, handler as (...args: never[]) => void, after);
		const handlers = (this.#handlers ??= new Array<HandlerSlot>(this.#info.signalCount).fill(undefined));
		const slot = handlers[info.index];
		handlers[info.index] = slot === undefined ? record : isList(slot) ? [...slot, record] : [slot, record];
		return record.id;
	}

	/** The connected handler with this id: a scan, as objects have few handlers and no map is kept per object. */
	#find(id: HandlerId): HandlerRecord | undefined {
		for (const slot of this.#handlers ?? []) {
			if (slot !== undefined && !isList(slot)) {
				if (slot.id === id) {
					return slot;
				}
			} else if (slot !== undefined) {
				for (const record of slot) {
					if (record.id === id) {
						return record;
					}
				}
			}
		}

		return undefined;
	}

	#record(id: HandlerId, method: string): HandlerRecord {
		const record = this.#find(id);
		if (record === undefined) {
			throw new TypeError(`${this.#info.name}.${method}(): no handler with id \`${String(id)}\` is connected`);
		}

		return record;
	}

	#resolveSignal(name: string): {signal: SignalInfo; detail: string | null} {
		const cached = this.#info.signalKeys.get(name);
		if (cached !== undefined) {
			return cached;
		}

		if (typeof name !== 'string') {
			throw new TypeError(`Expected \`signal\` to be a signal name, got ${describe(name)}`);
		}

		const separator = name.indexOf('::');
		const base = separator === -1 ? name : name.slice(0, separator);
		const detail = separator === -1 ? null : name.slice(separator + 2);
		const signal = this.#info.signals.get(base);
		if (signal === undefined) {
			throw new TypeError(`${this.#info.name}: unknown signal '${name}'`);
		}

		if (detail !== null) {
			if (!(signal.flags & SignalFlags.DETAILED)) {
				throw new TypeError(`${this.#info.name}: signal '${base}' takes no detail, got '${name}'`);
			}

			// Detailed notify names a property, in its canonical spelling.
			if (base === 'notify' && this.#info.properties.get(detail)?.name !== detail) {
				throw new TypeError(`${this.#info.name}: '${name}' names no property`);
			}
		}

		const key = {signal, detail};
		this.#info.signalKeys.set(name, key);
		return key;
	}

	#emitNotify(spec: ParamSpec): void {
		// The same string each time: emit's one-entry cache compares it by identity, and its hash is kept.
		(this.emit as (signal: string, ...args: unknown[]) => void)(spec.notifySignal, spec);
	}

	#findProperty(name: string): ParamSpec {
		const spec = this.#info.properties.get(name);
		if (spec === undefined) {
			throw new TypeError(
				typeof name === 'string'
					? `${this.#info.name}: unknown property '${name}'`
					: `Expected \`name\` to be a property name, got ${describe(name)}`,
			);
		}

		return spec;
	}

	#validate(spec: ParamSpec, value: unknown): void {
		const expected = spec.check(value);
		if (expected !== null) {
			throw new TypeError(
				`${this.#info.name}: invalid value ${describe(value)} for property '${spec.name}': expected ${expected}`,
			);
		}
	}
}

/** Resolves (once per class) the properties and signals of a class and its bases, and installs camelCase accessors. */
function classInfo(ctor: GObjectClass): ClassInfo {
	const cached = classInfos.get(ctor);
	if (cached !== undefined) {
		return cached;
	}

	const chain: GObjectClass[] = [];
	for (let c: unknown = ctor; typeof c === 'function' && c !== Function.prototype; c = Object.getPrototypeOf(c)) {
		chain.unshift(c as GObjectClass);
		if (c === GObject) {
			break;
		}
	}

	const properties = new Map<string, ParamSpec>();
	const propertyList: ParamSpec[] = [];
	const signals = new Map<string, SignalInfo>();
	for (const c of chain) {
		if (Object.hasOwn(c, 'properties') && c.properties !== undefined) {
			for (const [key, spec] of Object.entries(c.properties)) {
				if (key !== spec.name) {
					throw new TypeError(`${c.name}: property table key '${key}' differs from its spec's name '${spec.name}'`);
				}

				if (properties.has(spec.name) || properties.has(spec.camelName)) {
					throw new TypeError(`${c.name}: property '${spec.name}' is declared twice`);
				}

				properties.set(spec.name, spec);
				properties.set(spec.camelName, spec);
				propertyList.push(spec);
				installAccessor(c, spec);
			}
		}

		if (Object.hasOwn(c, 'signals') && c.signals !== undefined) {
			for (const [name, spec] of Object.entries(c.signals)) {
				if (signals.has(name)) {
					throw new TypeError(`${c.name}: signal '${name}' is declared twice`);
				}

				const runStage = SignalFlags.RUN_FIRST | SignalFlags.RUN_LAST | SignalFlags.RUN_CLEANUP;
				if (spec.classHandler !== undefined && !(spec.flags & runStage)) {
					throw new TypeError(`${c.name}: signal '${name}' has a class handler but no RUN_* flag`);
				}

				const index = signals.size;
				const hot = spec.classHandler === undefined && !(spec.flags & SignalFlags.NO_RECURSE) && index < 31;
				signals.set(name, {name, index, flags: spec.flags, classHandler: spec.classHandler, hot});
			}
		}
	}

	const info: ClassInfo = {
		name: ctor.name,
		properties,
		propertyList,
		indexOf: new Map(propertyList.map((spec, index) => [spec, index])),
		slots: new Map([...properties].map(([name, spec]) => [name, propertyList.indexOf(spec)])),
		defaults: propertyList.map(spec => spec.defaultValue),
		signals,
		signalCount: signals.size,
		signalKeys: new Map(),
		lastName: null,
		lastKey: null,
	};
	classInfos.set(ctor, info);
	return info;
}

/** Defines `obj.camelName` on the declaring class's prototype, unless the class wrote its own. */
function installAccessor(ctor: GObjectClass, spec: ParamSpec): void {
	if (spec.camelName in ctor.prototype) {
		return;
	}

	type Untyped = {getProperty(name: string): unknown; setProperty(name: string, value: unknown): void};
	Object.defineProperty(ctor.prototype, spec.camelName, {
		configurable: true,
		enumerable: false,
		get(this: Untyped) {
			return this.getProperty(spec.name);
		},
		set(this: Untyped, value: unknown) {
			this.setProperty(spec.name, value);
		},
	});
}
