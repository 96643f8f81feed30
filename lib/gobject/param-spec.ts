// ParamSpec: declared, typed, validated properties, GObject's GParamSpec and its factories.

/** Property flags, as GObject's `GParamFlags`. */
export const ParamFlags = {
	READABLE: 1,
	WRITABLE: 2,
	READWRITE: 3,
	CONSTRUCT: 4,
	CONSTRUCT_ONLY: 8,
	EXPLICIT_NOTIFY: 0x40_00_00_00,
} as const;
export type ParamFlags = (typeof ParamFlags)[keyof typeof ParamFlags];

/** The largest integer a `uint64` property holds: websoup keeps them as numbers, exact up to 2^53 - 1. */
export const UINT64_MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** The largest value of a `uint` property, `G_MAXUINT`. */
export const UINT_MAX = 0xff_ff_ff_ff;

/** The range of an `int` property, `G_MININT` to `G_MAXINT`. */
export const INT_MIN = -0x80_00_00_00;
export const INT_MAX = 0x7f_ff_ff_ff;

/** The kinds of value a property can hold. */
export type ValueType = 'boolean' | 'int' | 'uint' | 'uint64' | 'double' | 'string' | 'enum' | 'object' | 'value';

/** What every factory takes besides its own options. */
export interface ParamSpecOptions<F extends number> {
	/** A short human-readable name. */
	nick?: string;
	/** A one-line description. */
	blurb?: string;
	/** {@link ParamFlags} ORed together. @defaultValue `ParamFlags.READWRITE` */
	flags?: F;
}

/**
 * The declaration of one property: its name, value type, flags, default and constraints.
 *
 * `W` records at the type level whether the property may be written: a property declared with
 * exactly `ParamFlags.READABLE` is read-only, any other flags make it writable.
 */
export class ParamSpec<V = unknown, W extends boolean = boolean> {
	/** The canonical, dashed name (`keepalive-interval`). */
	readonly name: string;
	/** The camelCase spelling of the name (`keepaliveInterval`). */
	readonly camelName: string;
	readonly nick: string;
	readonly blurb: string;
	readonly flags: number;
	readonly valueType: ValueType;
	readonly defaultValue: V;
	/** Numeric range, for int, uint, uint64 and double. */
	readonly minimum: number | undefined;
	readonly maximum: number | undefined;
	/** Allowed values, for enums (member name → value). */
	readonly enumValues: Readonly<Record<string, number>> | undefined;
	/** Whether `null` is allowed (strings and objects). */
	readonly nullable: boolean;
	/** What the value must be an instance of, for objects. */
	readonly objectType: (abstract new (...args: never[]) => unknown) | undefined;
	/** @internal The detailed signal a change is notified on (`notify::keepalive-interval`): one string, made once. */
	readonly notifySignal: string;
	/** Phantom member carrying `W`; never set. */
	declare readonly writableMarker?: W;
	readonly #check: (value: unknown) => string | null;

	constructor(init: {
		name: string;
		valueType: ValueType;
		defaultValue: V;
		flags?: number | undefined;
		nick?: string | undefined;
		blurb?: string | undefined;
		minimum?: number;
		maximum?: number;
		enumValues?: Readonly<Record<string, number>>;
		nullable?: boolean;
		objectType?: abstract new (...args: never[]) => unknown;
		check: (value: unknown) => string | null;
	}) {
		if (!/^[A-Za-z][A-Za-z0-9-]*$/.test(init.name)) {
			throw new TypeError(`Expected \`name\` to be a property name of letters, digits and dashes, got \`${init.name}\``);
		}

		this.name = init.name;
		this.camelName = camelCase(init.name);
		this.notifySignal = `notify::${init.name}`;
		this.nick = init.nick ?? init.name;
		this.blurb = init.blurb ?? '';
		this.flags = init.flags ?? ParamFlags.READWRITE;
		this.valueType = init.valueType;
		this.defaultValue = init.defaultValue;
		this.minimum = init.minimum;
		this.maximum = init.maximum;
		this.enumValues = init.enumValues;
		this.nullable = init.nullable ?? false;
		this.objectType = init.objectType;
		this.#check = init.check;
		if (this.flags & ParamFlags.CONSTRUCT_ONLY && !(this.flags & ParamFlags.WRITABLE)) {
			throw new TypeError(`Property '${init.name}': CONSTRUCT_ONLY needs WRITABLE`);
		}

		const problem = init.defaultValue === undefined ? null : this.#check(init.defaultValue);
		if (problem !== null) {
			throw new TypeError(`Property '${init.name}': the default ${describe(init.defaultValue)} is not ${problem}`);
		}
	}

	/** Whether the flags say READABLE. */
	get readable(): boolean {
		return (this.flags & ParamFlags.READABLE) !== 0;
	}

	/** Whether the flags say WRITABLE. */
	get writable(): boolean {
		return (this.flags & ParamFlags.WRITABLE) !== 0;
	}

	/** Returns `null` when `value` fits this property, else what was expected (for the error message). */
	check(value: unknown): string | null {
		return this.#check(value);
	}

	/** A boolean property. */
	static boolean<F extends number = typeof ParamFlags.READWRITE>(
		name: string,
		defaultValue: boolean,
		options: ParamSpecOptions<F> = {},
	): ParamSpec<boolean, Writable<F>> {
		return new ParamSpec({
			...options,
			name,
			valueType: 'boolean',
			defaultValue,
			check: value => (typeof value === 'boolean' ? null : 'a boolean'),
		});
	}

	/** A signed integer property, `G_MININT` to `G_MAXINT` unless narrowed. */
	static int<F extends number = typeof ParamFlags.READWRITE>(
		name: string,
		defaultValue: number,
		options: ParamSpecOptions<F> & {minimum?: number; maximum?: number} = {},
	): ParamSpec<number, Writable<F>> {
		return ParamSpec.#integer(name, 'int', defaultValue, options.minimum ?? INT_MIN, options.maximum ?? INT_MAX, options);
	}

	/** An unsigned integer property, 0 to `G_MAXUINT` unless narrowed. */
	static uint<F extends number = typeof ParamFlags.READWRITE>(
		name: string,
		defaultValue: number,
		options: ParamSpecOptions<F> & {minimum?: number; maximum?: number} = {},
	): ParamSpec<number, Writable<F>> {
		return ParamSpec.#integer(name, 'uint', defaultValue, options.minimum ?? 0, options.maximum ?? UINT_MAX, options);
	}

	/** An unsigned 64-bit property, held as a number: 0 to 2^53 - 1 ({@link UINT64_MAX_SAFE}) unless narrowed. */
	static uint64<F extends number = typeof ParamFlags.READWRITE>(
		name: string,
		defaultValue: number,
		options: ParamSpecOptions<F> & {minimum?: number; maximum?: number} = {},
	): ParamSpec<number, Writable<F>> {
		return ParamSpec.#integer(
			name,
			'uint64',
			defaultValue,
			options.minimum ?? 0,
			options.maximum ?? UINT64_MAX_SAFE,
			options,
		);
	}

	/** A floating-point property. */
	static double<F extends number = typeof ParamFlags.READWRITE>(
		name: string,
		defaultValue: number,
		options: ParamSpecOptions<F> & {minimum?: number; maximum?: number} = {},
	): ParamSpec<number, Writable<F>> {
		const minimum = options.minimum ?? -Number.MAX_VALUE;
		const maximum = options.maximum ?? Number.MAX_VALUE;
		return new ParamSpec({
			...options,
			name,
			valueType: 'double',
			defaultValue,
			minimum,
			maximum,
			check: value =>
				typeof value === 'number' && !Number.isNaN(value) && value >= minimum && value <= maximum
					? null
					: `a number in [${minimum}, ${maximum}]`,
		});
	}

	/** A string property; `null` is allowed, as for `G_TYPE_STRING`, unless `nullable: false`. */
	static string<F extends number = typeof ParamFlags.READWRITE, N extends boolean = true>(
		name: string,
		defaultValue: N extends true ? string | null : string,
		options: ParamSpecOptions<F> & {nullable?: N} = {},
	): ParamSpec<N extends true ? string | null : string, Writable<F>> {
		const nullable = options.nullable ?? true;
		return new ParamSpec({
			...options,
			name,
			valueType: 'string',
			defaultValue,
			nullable,
			check: value =>
				typeof value === 'string' || (nullable && value === null) ? null : nullable ? 'a string or null' : 'a string',
		});
	}

	/** An enum property: `values` is an `as const` object of members, such as `WebsocketState`. */
	static enum<E extends Readonly<Record<string, number>>, F extends number = typeof ParamFlags.READWRITE>(
		name: string,
		values: E,
		defaultValue: E[keyof E],
		options: ParamSpecOptions<F> = {},
	): ParamSpec<E[keyof E], Writable<F>> {
		const allowed = new Set<unknown>(Object.values(values));
		const list = Object.entries(values)
			.map(([key, value]) => `${key} (${value})`)
			.join(', ');
		return new ParamSpec({
			...options,
			name,
			valueType: 'enum',
			defaultValue,
			enumValues: values,
			check: value => (allowed.has(value) ? null : `one of ${list}`),
		});
	}

	/** An object property whose value must be an instance of `type` (or `null` when nullable). */
	static object<T, F extends number = typeof ParamFlags.READWRITE, N extends boolean = true>(
		name: string,
		type: abstract new (...args: never[]) => T,
		options: ParamSpecOptions<F> & {nullable?: N} = {},
	): ParamSpec<N extends true ? T | null : T, Writable<F>> {
		const nullable = options.nullable ?? true;
		return new ParamSpec({
			...options,
			name,
			valueType: 'object',
			defaultValue: (nullable ? null : undefined) as N extends true ? T | null : T,
			nullable,
			objectType: type,
			check: value =>
				value instanceof type || (nullable && value === null) ? null : `an instance of ${type.name}${nullable ? ' or null' : ''}`,
		});
	}

	/**
	 * A property of any other type, checked by `check` (return `null` when fine, else what was
	 * expected): the escape hatch for arrays and records, GObject's boxed and pointer types.
	 */
	static value<T, F extends number = typeof ParamFlags.READWRITE>(
		name: string,
		defaultValue: T,
		check: (value: unknown) => string | null,
		options: ParamSpecOptions<F> = {},
	): ParamSpec<T, Writable<F>> {
		return new ParamSpec({...options, name, valueType: 'value', defaultValue, check});
	}

	static #integer(
		name: string,
		valueType: 'int' | 'uint' | 'uint64',
		defaultValue: number,
		minimum: number,
		maximum: number,
		options: ParamSpecOptions<number>,
	): ParamSpec<number, never> {
		return new ParamSpec({
			...options,
			name,
			valueType,
			defaultValue,
			minimum,
			maximum,
			check: value =>
				Number.isInteger(value) && (value as number) >= minimum && (value as number) <= maximum
					? null
					: `a ${valueType} in [${minimum}, ${maximum}]`,
		});
	}
}

/** Read-only at the type level when the flags are exactly READABLE. */
export type Writable<F extends number> = F extends typeof ParamFlags.READABLE ? false : true;

/** `keepalive-interval` → `keepaliveInterval`. */
export function camelCase(name: string): string {
	return name.replaceAll(/-([a-zA-Z0-9])/g, (_match, letter: string) => letter.toUpperCase());
}

/** A short rendering of a value for error messages: `` `-1` ``, `` `"x"` ``, `an object`. */
export function describe(value: unknown): string {
	if (typeof value === 'string') {
		return `\`${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}\``;
	}

	if (value === null || typeof value !== 'object') {
		return `\`${typeof value === 'bigint' ? `${value}n` : String(value)}\``;
	}

	const name = (value as {constructor?: {name?: unknown}}).constructor?.name;
	return typeof name === 'string' && name !== '' ? `a ${name}` : 'an object';
}
