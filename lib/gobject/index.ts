// The object model: GObject-style typed properties and signals.

export {GObject, type ErrorReporter, type GObjectSignals} from './object.ts';
export {ParamFlags, ParamSpec, UINT64_MAX_SAFE, UINT_MAX, INT_MIN, INT_MAX, type ValueType, type ParamSpecOptions} from './param-spec.ts';
export {SignalFlags, type SignalSpec, type SignalTable} from './signal.ts';
export type {
	CamelCase,
	ConstructProperties,
	HandlerId,
	PropertyAccessors,
	PropertyName,
	PropertyTable,
	PropertyValue,
	SignalArgs,
	SignalDefinitions,
	SignalHandler,
	SignalName,
	WritableName,
} from './types.ts';
