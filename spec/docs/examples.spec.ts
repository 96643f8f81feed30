// Docs that cannot drift: every TypeScript block of README.md and docs/*.md is type-checked, and
// the ones marked runnable are run. A block may be preceded by a directive comment:
//
//   <!-- doc-check run -->                      run the block too (it must exit 0, nothing on stderr)
//   <!-- doc-check                              prepend these lines, unseen by readers, to the block
//   declare const conn: WebsocketConnection;    (the names a fragment assumes); `run` may follow
//   -->                                         `doc-check` on the first line
//
// Imports of 'websoup' and its subpaths resolve as package.json's exports say, to the sources in lib/.

import {execFile} from 'node:child_process';
import {mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {join, relative} from 'node:path';
import {promisify} from 'node:util';
import test from 'ava';
import {root} from '../helpers/cli.ts';

const run = promisify(execFile);

interface Example {
	/** `docs/api.md:82`: the file and the line of the opening fence. */
	where: string;
	file: string;
	/** Line (1-based) in the Markdown file of the block's first line of code. */
	firstLine: number;
	prelude: string[];
	code: string[];
	runnable: boolean;
}

const fence = /^```(\S*)/;

/** The TypeScript blocks of one Markdown file, with their directives. */
export function extractExamples(file: string, text: string): Example[] {
	const lines = text.split('\n');
	const examples: Example[] = [];
	let directive: {prelude: string[]; runnable: boolean; endLine: number} | null = null;
	for (let index = 0; index < lines.length; index++) {
		const line = lines[index]!;
		const opening = /^<!-- doc-check\b(.*)$/.exec(line);
		if (opening !== null) {
			const flags = opening[1]!.replace(/-->\s*$/, '').trim().split(/\s+/).filter(Boolean);
			const prelude: string[] = [];
			if (!line.trimEnd().endsWith('-->')) {
				// Bounded by the file: the comment ends at the first `-->` line.
				for (index++; index < lines.length && lines[index]!.trim() !== '-->'; index++) {
					prelude.push(lines[index]!);
				}
			}

			for (const flag of flags) {
				if (flag !== 'run') {
					throw new Error(`${file}:${index + 1}: unknown doc-check flag ${flag}`);
				}
			}

			directive = {prelude, runnable: flags.includes('run'), endLine: index};
			continue;
		}

		const match = fence.exec(line);
		if (match === null) {
			continue;
		}

		const language = match[1]!;
		const start = index;
		const code: string[] = [];
		for (index++; index < lines.length && !lines[index]!.startsWith('```'); index++) {
			code.push(lines[index]!);
		}

		if (language === 'ts' || language === 'typescript') {
			const applies = directive !== null && directive.endLine === start - 1;
			examples.push({
				where: `${file}:${start + 1}`,
				file,
				firstLine: start + 2,
				prelude: applies ? directive!.prelude : [],
				code,
				runnable: applies && directive!.runnable,
			});
		} else if (directive !== null && directive.endLine === start - 1) {
			throw new Error(`${file}:${start + 1}: doc-check before a block that is not TypeScript`);
		}

		directive = null;
	}

	return examples;
}

/** package.json's exports as module specifiers → the TypeScript source each is built from. */
function exportedSources(): Map<string, string> {
	const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {name: string; exports: Record<string, unknown>};
	const sources = new Map<string, string>();
	for (const [subpath, target] of Object.entries(manifest.exports)) {
		const built = typeof target === 'object' && target !== null && 'default' in target ? target.default : null;
		if (typeof built === 'string' && built.endsWith('.js')) {
			const specifier = subpath === '.' ? manifest.name : `${manifest.name}/${subpath.slice(2)}`;
			sources.set(specifier, join(root, built.replace(/^\.\/dist\//, 'lib/').replace(/\.js$/, '.ts')));
		}
	}

	return sources;
}

const markdownFiles = ['README.md', ...readdirSync(join(root, 'docs')).filter(name => name.endsWith('.md')).sort().map(name => `docs/${name}`)];
const examples = markdownFiles.flatMap(file => extractExamples(file, readFileSync(join(root, file), 'utf8')));
const outDir = join(root, `.doc-examples-${process.pid}`);
const sources = exportedSources();

function moduleName(example: Example): string {
	return `${example.where.replace(/[/.:]/g, '_')}.ts`;
}

/** The module checked for `example`: prelude, then the block, 'websoup' imports pointed at lib/. */
function moduleText(example: Example): string {
	const text = [...example.prelude, ...example.code].join('\n');
	return text.replace(/(\bfrom\s*|\bimport\s*\(\s*)(['"])([^'"]+)\2/g, (whole, keyword: string, quote: string, specifier: string) => {
		const source = sources.get(specifier);
		if (source === undefined) {
			// A subpath the package does not export stays as written, and fails as it would for a user.
			return whole;
		}

		return `${keyword}${quote}./${relative(outDir, source)}${quote}`;
	}) + '\n';
}

let checking: Promise<Map<string, string[]>> | undefined;

/** Type-checks every example in one tsc run; the diagnostics per example, located in the Markdown. */
async function typeCheckAll(): Promise<Map<string, string[]>> {
	rmSync(outDir, {recursive: true, force: true});
	mkdirSync(outDir);
	for (const example of examples) {
		writeFileSync(join(outDir, moduleName(example)), moduleText(example));
	}

	writeFileSync(join(outDir, 'tsconfig.json'), JSON.stringify({
		extends: '../tsconfig.json',
		// A fragment names a value to show it: unused names are fine in docs.
		compilerOptions: {noUnusedLocals: false, noUnusedParameters: false},
		include: ['*.ts'],
	}));
	let output = '';
	try {
		await run(join(root, 'node_modules/.bin/tsc'), ['-p', outDir, '--pretty', 'false'], {cwd: root, maxBuffer: 16 * 1024 * 1024});
	} catch (error) {
		output = (error as {stdout?: string}).stdout ?? String(error);
	}

	const byModule = new Map<string, string[]>();
	for (const example of examples) {
		byModule.set(moduleName(example), []);
	}

	for (const line of output.split('\n')) {
		const diagnostic = /^(?:.*[/\\])?([^/\\(]+\.ts)\((\d+),(\d+)\): (.*)$/.exec(line);
		if (diagnostic === null) {
			continue;
		}

		const [, name, row, column, message] = diagnostic;
		const example = examples.find(candidate => moduleName(candidate) === name);
		if (example === undefined) {
			// An error in lib/ itself: every example reports it, so none passes silently.
			for (const list of byModule.values()) {
				list.push(line);
			}

			continue;
		}

		const inBlock = Number(row) - example.prelude.length;
		const place = inBlock >= 1 ? `${example.file}:${example.firstLine + inBlock - 1}:${column}` : `${example.where} (doc-check prelude, line ${row})`;
		byModule.get(name!)!.push(`${place}: ${message}`);
	}

	// With a syntax error anywhere, tsc reports no semantic error at all: no example may pass then.
	if (/\): error TS1\d{3}:/.test(output)) {
		for (const list of byModule.values()) {
			list.push('tsc found syntax errors (in this or another example), so no example was type-checked');
		}
	}

	return byModule;
}

test.after.always(() => {
	rmSync(outDir, {recursive: true, force: true});
});

test('no code block escapes the check: each is ts, or a language that is not TypeScript', t => {
	// A TypeScript example fenced as js, javascript or without a language would never be compiled.
	const others = new Set(['sh', 'text', 'json', 'c', 'python', 'html']);
	const unchecked: string[] = [];
	for (const file of markdownFiles) {
		const lines = readFileSync(join(root, file), 'utf8').split('\n');
		let inside = false;
		for (const [index, line] of lines.entries()) {
			const match = fence.exec(line);
			if (match === null) {
				continue;
			}

			if (!inside && match[1] !== 'ts' && !others.has(match[1]!)) {
				unchecked.push(`${file}:${index + 1}: \`\`\`${match[1]}`);
			}

			inside = !inside;
		}
	}

	t.deepEqual(unchecked, []);
	t.true(examples.some(example => example.runnable));
});

for (const example of examples) {
	test(`${example.where} type-checks`, async t => {
		t.timeout(120_000);
		checking ??= typeCheckAll();
		const diagnostics = (await checking).get(moduleName(example))!;
		t.deepEqual(diagnostics, []);
	});

	if (example.runnable) {
		test(`${example.where} runs`, async t => {
			t.timeout(60_000);
			const file = join(outDir, `run-${moduleName(example)}`);
			mkdirSync(outDir, {recursive: true});
			writeFileSync(file, moduleText(example));
			const {stderr} = await run(process.execPath, ['--import', 'tsx', file], {cwd: root, timeout: 30_000, env: {...process.env, NODE_DEBUG: ''}});
			t.is(stderr, '');
		});
	}
}
