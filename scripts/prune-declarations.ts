// After the build: delete each dist/**/*.d.ts that no exported entry's types reach, so the package
// ships no declaration file a user could neither import nor reach (the CLI's, the internal timers').
import {readdirSync, readFileSync, rmSync} from 'node:fs';
import {dirname, join, relative, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';

/** The `types` files named by package.json's `exports`, as absolute paths. */
export function exportedDeclarations(packageDir: string): string[] {
	const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {exports: Record<string, unknown>};
	const entries: string[] = [];
	for (const target of Object.values(manifest.exports)) {
		if (typeof target === 'object' && target !== null && 'types' in target && typeof target.types === 'string') {
			entries.push(resolve(packageDir, target.types));
		}
	}
	return entries;
}

const specifier = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g;

/** Every declaration file reachable from `entries` through relative imports and re-exports. */
export function reachableDeclarations(entries: readonly string[]): Set<string> {
	const seen = new Set<string>();
	const pending = [...entries];
	while (pending.length > 0) {
		const file = pending.pop()!;
		if (seen.has(file)) {
			continue;
		}
		seen.add(file);
		for (const match of readFileSync(file, 'utf8').matchAll(specifier)) {
			// A declaration imports its neighbour as `./x.ts` (or `./x.js`); the file is `./x.d.ts`.
			pending.push(resolve(dirname(file), match[1]!.replace(/\.(?:ts|js)$/, '') + '.d.ts'));
		}
	}
	return seen;
}

function declarationsUnder(dir: string): string[] {
	return readdirSync(dir, {recursive: true, encoding: 'utf8'})
		.filter(name => name.endsWith('.d.ts'))
		.map(name => join(dir, name));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
	const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
	const reachable = reachableDeclarations(exportedDeclarations(packageDir));
	for (const file of declarationsUnder(join(packageDir, 'dist'))) {
		if (!reachable.has(file)) {
			rmSync(file);
			console.error(`pruned ${relative(packageDir, file)}`);
		}
	}
}
