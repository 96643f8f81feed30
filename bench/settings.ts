// Settings shared by both sides of every benchmark, so websoup and ws run with the same limits.

import {execFileSync} from 'node:child_process';
import {existsSync, rmSync} from 'node:fs';
import {createRequire} from 'node:module';
import {fileURLToPath} from 'node:url';

/** Per-frame and per-message limit on both servers and clients (ws's maxPayload; websoup's two limits). */
export const PAYLOAD_LIMIT = 64 * 1024 * 1024;

/**
 * Which optional native helpers ws loaded in this process: `bufferutil` (masking) and
 * `utf-8-validate` (only used by ws where `buffer.isUtf8` is missing, so not on Node 20).
 */
export function wsHelpers(): {bufferutil: boolean; utf8Validate: boolean} {
	const require = createRequire(import.meta.url);
	const loaded = Object.keys(require.cache);
	const bufferutil = loaded.find(path => /[\\/]bufferutil[\\/]index\.js$/.test(path));
	let native = false;
	if (bufferutil !== undefined) {
		const exports = require.cache[bufferutil]?.exports as {mask?: unknown} | undefined;
		// The JS fallback is plain functions; the prebuilt addon's are native.
		native = typeof exports?.mask === 'function' && String(exports.mask).includes('[native code]');
	}

	return {
		bufferutil: native,
		utf8Validate: loaded.some(path => /[\\/]utf-8-validate[\\/]/.test(path)),
	};
}

/** The library as benchmarked: `BENCH_LIB` (the compiled build) when set, else the TypeScript source. */
export type Library = typeof import('../lib/index.ts');

export async function loadLibrary(): Promise<Library> {
	const path = process.env['BENCH_LIB'];
	return (path === undefined ? await import('../lib/index.ts') : await import(path)) as Library;
}

/**
 * Compiles lib/ with tsc (tsconfig.build.json) into .bench-tmp/lib and returns the path of its
 * index.js: websoup is measured as users run it, not through tsx's transform (which, among other
 * things, wraps every arrow function to keep its name, costing memory per closure).
 */
export function buildLibrary(): string {
	const root = fileURLToPath(new URL('../', import.meta.url));
	const out = `${root}.bench-tmp/lib`;
	rmSync(out, {recursive: true, force: true});
	try {
		execFileSync(`${root}node_modules/.bin/tsc`, ['-p', `${root}tsconfig.build.json`, '--outDir', out, '--declaration', 'false', '--sourceMap', 'false', '--inlineSources', 'false'], {stdio: 'pipe'});
	} catch (error) {
		// Type errors still emit; only a missing output is fatal.
		if (!existsSync(`${out}/index.js`)) {
			throw error;
		}
	}

	return `${out}/index.js`;
}
