// Micro-benchmark: GObject.emit with 0, 1 and 5 handlers against a plain eventemitter3 emit.
// Run: npx tsx bench/emit.ts [--quick]

import {EventEmitter} from 'eventemitter3';
import * as source from '../lib/gobject/index.ts';
import type {SignalTable} from '../lib/gobject/index.ts';

interface Signals {
	message: [type: number, data: Uint8Array];
}

/** The object model to measure: the TypeScript source, or the compiled build `npm run bench` loads. */
export type ObjectModel = Pick<typeof source, 'GObject' | 'SignalFlags'>;

function emitterClass({GObject, SignalFlags}: ObjectModel) {
	return class Emitter extends GObject<Record<never, never>, Signals> {
		static override signals: SignalTable<Emitter, Signals> = {message: {flags: SignalFlags.RUN_FIRST}};

		/** The measured loop: inside the class, as `emit` is protected. */
		emitMessages(count: number, payload: Uint8Array): void {
			for (let i = 0; i < count; i++) {
				this.emit('message', 1, payload);
			}
		}
	};
}

let Emitter = emitterClass(source);

const quick = process.argv.includes('--quick');
const iterations = quick ? 500_000 : 5_000_000;
const rounds = quick ? 3 : 5;
const data = new Uint8Array(32);
let sink = 0;

function timeIt(fn: () => void): number {
	const start = process.hrtime.bigint();
	fn();
	return Number(process.hrtime.bigint() - start) / iterations;
}

function gobjectRun(handlers: number): number {
	const emitter = new Emitter();
	for (let i = 0; i < handlers; i++) {
		emitter.connect('message', (_self, type) => {
			sink += type;
		});
	}

	return timeIt(() => {
		emitter.emitMessages(iterations, data);
	});
}

function eventemitter3Run(handlers: number): number {
	const emitter = new EventEmitter<{message: (type: number, data: Uint8Array) => void}>();
	for (let i = 0; i < handlers; i++) {
		emitter.on('message', type => {
			sink += type;
		});
	}

	return timeIt(() => {
		for (let i = 0; i < iterations; i++) {
			emitter.emit('message', 1, data);
		}
	});
}

function median(values: number[]): number {
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.floor(sorted.length / 2)]!;
}

/** Returns median ns per emit for each library, measured alternately. */
export function measureEmit(handlers: number, model: ObjectModel = source): {gobject: number; eventemitter3: number} {
	Emitter = emitterClass(model);
	const gobject: number[] = [];
	const ee3: number[] = [];
	for (let round = 0; round < rounds; round++) {
		gobject.push(gobjectRun(handlers));
		ee3.push(eventemitter3Run(handlers));
	}

	return {gobject: median(gobject), eventemitter3: median(ee3)};
}

if (import.meta.url === `file://${process.argv[1]}`) {
	console.log('handlers | GObject.emit ns | eventemitter3 ns | ratio');
	for (const handlers of [0, 1, 5]) {
		const {gobject, eventemitter3} = measureEmit(handlers);
		console.log(
			`${String(handlers).padStart(8)} | ${gobject.toFixed(1).padStart(15)} | ${eventemitter3.toFixed(1).padStart(16)} | ${(gobject / eventemitter3).toFixed(2)}x`,
		);
	}

	if (sink === -1) {
		console.log(sink);
	}
}
