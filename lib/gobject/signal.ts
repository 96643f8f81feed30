// Signal declarations and handler records: GSignal's flags, class handlers and emission stages.

/** Signal flags, as GLib's `GSignalFlags` (same values). */
export const SignalFlags = {
	/** The class handler runs before the `connect` handlers. */
	RUN_FIRST: 1,
	/** The class handler runs after the `connect` handlers and before the `connectAfter` ones. */
	RUN_LAST: 2,
	/** The class handler runs last, even when the emission was stopped. */
	RUN_CLEANUP: 4,
	/** A recursive emission on the same object restarts the running one instead of nesting. */
	NO_RECURSE: 8,
	/** The signal takes a `::detail` suffix when connected and emitted. */
	DETAILED: 16,
	ACTION: 32,
	NO_HOOKS: 64,
} as const;
export type SignalFlags = (typeof SignalFlags)[keyof typeof SignalFlags];

/**
 * The declaration of one signal: flags and an optional class handler, run at the stage the
 * flags name (RUN_FIRST, RUN_LAST or RUN_CLEANUP).
 */
export interface SignalSpec<Self = never, Args extends readonly unknown[] = never[]> {
	flags: number;
	// Method syntax on purpose: a class handler may take a narrower `self` than its base class.
	classHandler?(self: Self, ...args: Args): void;
}

/** A class's signal table, checked against its signal definitions. */
export type SignalTable<Self, S> = {
	readonly [K in keyof S]: S[K] extends readonly unknown[] ? SignalSpec<Self, S[K]> : never;
};

/** A signal as resolved for a class: its index in per-instance handler storage. */
export interface SignalInfo {
	readonly name: string;
	readonly index: number;
	readonly flags: number;
	readonly classHandler: ((self: never, ...args: never[]) => void) | undefined;
	/** No class handler, no NO_RECURSE, index below 31: a lone handler can take the hot path. */
	readonly hot: boolean;
}

/** One connected handler. */
export class HandlerRecord {
	readonly id: number;
	readonly fn: (...args: never[]) => void;
	readonly after: boolean;
	readonly detail: string | null;
	readonly signal: SignalInfo;
	blocked = 0;
	connected = true;

	constructor(id: number, signal: SignalInfo, detail: string | null, fn: (...args: never[]) => void, after: boolean) {
		this.id = id;
		this.signal = signal;
		this.detail = detail;
		this.fn = fn;
		this.after = after;
	}
}

/** Emission states, as GLib's: running, stopped by `stopEmission`, restarted by a NO_RECURSE re-emission. */
export const EmissionState = {RUN: 0, STOP: 1, RESTART: 2} as const;
export type EmissionState = (typeof EmissionState)[keyof typeof EmissionState];

/** One running emission; a stack per object, records reused. */
export class Emission {
	signal: SignalInfo | null = null;
	detail: string | null = null;
	state: EmissionState = EmissionState.RUN;
	parent: Emission | null = null;
}
