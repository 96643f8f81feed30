// The package as a user gets it: `npm pack` on a fresh clone, then `npm install <tarball>` and
// `npm install git+file://<clone>` in projects of their own, each importing websoup and running its bin.
// Run by `npm test` in a suite of its own (ava.package.config.js: one file at a time, serial).

import {execFile} from 'node:child_process';
import {mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {promisify} from 'node:util';
import test, {type ExecutionContext} from 'ava';
import {root} from '../helpers/cli.ts';
import {exportedDeclarations, reachableDeclarations} from '../../scripts/prune-declarations.ts';

const run = promisify(execFile);

/** npm run by `npm test` passes its own npm_* settings to children; a user's shell has none. */
function userEnv(): NodeJS.ProcessEnv {
	const env: NodeJS.ProcessEnv = {};
	for (const [key, value] of Object.entries(process.env)) {
		if (!/^npm_/i.test(key) && key !== 'NODE_OPTIONS' && key !== 'NODE_DEBUG') {
			env[key] = value;
		}
	}
	return env;
}

async function sh(cwd: string, file: string, args: string[], timeout = 240_000): Promise<string> {
	try {
		const {stdout} = await run(file, args, {cwd, env: userEnv(), timeout, maxBuffer: 16 * 1024 * 1024});
		return stdout;
	} catch (error) {
		const {stdout, stderr} = error as {stdout?: string; stderr?: string};
		throw new Error(`${file} ${args.join(' ')} failed in ${cwd}:\n${stderr ?? ''}\n${stdout ?? ''}`, {cause: error});
	}
}

interface Packed {
	dir: string;
	clone: string;
	tarball: string;
	files: string[];
}

let packing: Promise<Packed> | undefined;

/** A fresh clone of HEAD, packed once for all tests (its dev dependencies are the checkout's). */
async function packFreshClone(): Promise<Packed> {
	const dir = mkdtempSync(join(tmpdir(), 'websoup-package-'));
	const clone = join(dir, 'clone');
	await sh(root, 'git', ['clone', '--quiet', '--no-hardlinks', root, clone]);
	// `npm pack` runs `prepare` (the build), which needs the dev dependencies: borrowed from the
	// checkout, so packing needs no network. The git install below installs its own.
	symlinkSync(join(root, 'node_modules'), join(clone, 'node_modules'), 'dir');
	const [packed] = JSON.parse(await sh(clone, 'npm', ['pack', '--json', '--pack-destination', dir])) as Array<{filename: string; files: Array<{path: string}>}>;
	return {dir, clone, tarball: join(dir, packed!.filename), files: packed!.files.map(file => file.path).sort()};
}

function packFreshCloneOnce(t: ExecutionContext): Promise<Packed> {
	packing ??= packFreshClone();
	t.timeout(300_000);
	return packing;
}

test.after.always(async () => {
	if (packing !== undefined) {
		const {dir} = await packing.catch(() => ({dir: undefined}));
		if (dir !== undefined) {
			rmSync(dir, {recursive: true, force: true});
		}
	}
});

/** A user's project: its own package.json, websoup installed by `npm install <spec>`. */
async function userProject(packed: Packed, name: string, installArgs: string[]): Promise<string> {
	const project = join(packed.dir, name);
	mkdirSync(project);
	writeFileSync(join(project, 'package.json'), JSON.stringify({name, private: true, type: 'module'}));
	await sh(project, 'npm', ['install', '--no-audit', '--no-fund', ...installArgs]);
	return project;
}

const consumerScript = `
import {WebsocketConnection, WebsocketConnectionType, websocketConnect} from 'websoup';
import {WebSocket, CloseEvent} from 'websoup/w3c';
import {WebSocketClient} from 'websoup/openharmony';
import {createRequire} from 'node:module';
const manifest = createRequire(import.meta.url)('websoup/package.json');
const main = await import('websoup');
console.log(JSON.stringify({
	connection: typeof WebsocketConnection, client: WebsocketConnectionType.CLIENT, connect: typeof websocketConnect,
	w3c: typeof WebSocket, closeEvent: new CloseEvent('close', {code: 1000}).code, openharmony: typeof WebSocketClient,
	version: manifest.version, facadesInMain: 'WebSocket' in main || 'WebSocketClient' in main,
}));
`;

// Checked against the shipped .d.ts files (skipLibCheck off), as a user's strict project would.
const consumerTypes = `
import {WebsocketConnection, WebsocketConnectionType, type WebsocketConnectOptions} from 'websoup';
import {WebSocket} from 'websoup/w3c';
import {WebSocketClient} from 'websoup/openharmony';
// @ts-expect-error the facades are subpath exports, not in the main entry
import {WebSocket as NotInMain} from 'websoup';
// @ts-expect-error internal modules are not exported
import {OutgoingQueue} from 'websoup/dist/websocket/outgoing-queue.js';

export function open(conn: WebsocketConnection, options: WebsocketConnectOptions): number {
	conn.connect('message', (self, type, data) => self.sendMessage(type, data));
	// @ts-expect-error a misspelt signal does not compile
	conn.connect('mesage', () => {});
	const ws: WebSocket = new WebSocket('ws://127.0.0.1:1/');
	const client = new WebSocketClient({onOpen() {}, onMessage() {}, onError() {}, onClose() {}});
	void [ws, client, options, NotInMain, OutgoingQueue];
	return WebsocketConnectionType.CLIENT + conn.keepaliveInterval;
}
`;

async function checkProject(t: ExecutionContext, project: string): Promise<void> {
	const result = JSON.parse(await sh(project, process.execPath, ['--input-type=module', '--eval', consumerScript])) as Record<string, unknown>;
	t.deepEqual(result, {
		connection: 'function', client: 1, connect: 'function', w3c: 'function', closeEvent: 1000, openharmony: 'function',
		version: (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {version: string}).version, facadesInMain: false,
	});

	const help = await sh(project, 'npx', ['--no-install', 'websoup', '--help']);
	t.regex(help, /^Usage: websoup <command> \[options\]/);

	writeFileSync(join(project, 'consumer.ts'), consumerTypes);
	writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
		compilerOptions: {
			target: 'es2023', lib: ['es2023'], module: 'nodenext', moduleResolution: 'nodenext', strict: true,
			exactOptionalPropertyTypes: true, noEmit: true, skipLibCheck: false,
			types: ['node'], typeRoots: [join(root, 'node_modules/@types')],
		},
		files: ['consumer.ts'],
	}));
	// The consumer's types compile against the package's declarations: tsc prints no diagnostic.
	t.is(await sh(project, join(root, 'node_modules/.bin/tsc'), ['-p', '.']), '');
}

test.serial('npm pack on a fresh clone: dist/ with JavaScript, types and the bin; LICENSE; nothing else', async t => {
	const {files} = await packFreshCloneOnce(t);
	for (const file of ['LICENSE', 'README.md', 'package.json', 'dist/cli.js', 'dist/index.js', 'dist/index.d.ts',
		'dist/facades/w3c.js', 'dist/facades/w3c.d.ts', 'dist/facades/openharmony.js', 'dist/facades/openharmony.d.ts']) {
		t.true(files.includes(file), file);
	}

	t.deepEqual(files.filter(file => !file.startsWith('dist/')), ['LICENSE', 'README.md', 'package.json']);
	// No declaration of the CLI or of internals no exported type refers to.
	for (const file of ['dist/cli.d.ts', 'dist/demo-page.d.ts', 'dist/websocket/outgoing-queue.d.ts', 'dist/websocket/timer.d.ts']) {
		t.false(files.includes(file), file);
	}
});

test.serial('npm pack: every shipped .d.ts is reached from an export, every source map carries its sources', async t => {
	const {clone, files} = await packFreshCloneOnce(t);
	const reachable = reachableDeclarations(exportedDeclarations(clone));
	const declarations = files.filter(file => file.endsWith('.d.ts'));
	t.deepEqual(declarations, [...reachable].map(file => file.slice(clone.length + 1)).sort());

	const maps = files.filter(file => file.endsWith('.js.map'));
	t.is(maps.length, files.filter(file => file.endsWith('.js')).length);
	for (const file of maps) {
		const map = JSON.parse(readFileSync(join(clone, file), 'utf8')) as {sources: string[]; sourcesContent?: unknown[]};
		t.is(map.sources.length, 1, file);
		t.is(typeof map.sourcesContent?.[0], 'string', file);
	}
});

test.serial('npm install <tarball> (offline: no runtime dependencies) gives websoup, websoup/w3c, its types and npx websoup', async t => {
	const packed = await packFreshCloneOnce(t);
	const project = await userProject(packed, 'from-tarball', ['--offline', packed.tarball]);
	await checkProject(t, project);

	// What importing websoup loads, in plain Node (tsx loads most of these itself): none of what Node
	// keeps lazy. An ES import of a builtin reads every one of its exports, and so loads
	// crypto.webcrypto, util.parseArgs and MIMEType, buffer.File, net.BlockList and SocketAddress
	// (~90 KB of heap in every process); websoup takes its builtins with process.getBuiltinModule().
	const loaded = JSON.parse(await sh(project, process.execPath, ['--input-type=module', '--eval', lazyBuiltinsScript])) as string[];
	t.deepEqual(loaded, []);
});

/** The modules Node loads only on use that importing websoup must leave unloaded. */
const lazyBuiltins = [
	'NativeModule internal/crypto/webcrypto', 'NativeModule internal/util/parse_args/parse_args', 'NativeModule internal/mime',
	'NativeModule internal/file', 'NativeModule internal/blocklist', 'NativeModule internal/socketaddress',
	'NativeModule internal/webstreams/readablestream', 'NativeModule http2', 'NativeModule tls', 'NativeModule https',
];

const lazyBuiltinsScript = `
const before = new Set(process.moduleLoadList);
await import('websoup');
const lazy = new Set(${JSON.stringify(lazyBuiltins)});
console.log(JSON.stringify(process.moduleLoadList.filter(entry => !before.has(entry) && lazy.has(entry))));
`;

test.serial('npm install git+file://<clone> builds dist/ (prepare) and gives the same', async t => {
	const packed = await packFreshCloneOnce(t);
	// npm installs the clone's dev dependencies to run `prepare`: from its cache when it can.
	const project = await userProject(packed, 'from-git', ['--prefer-offline', `git+file://${packed.clone}`]);
	await checkProject(t, project);
});

test.serial('in a checkout: npm run cli -- --help, and node dist/cli.js --help once prepare has built dist/', async t => {
	const packed = await packFreshCloneOnce(t);
	t.regex(await sh(packed.clone, 'npm', ['run', '--silent', 'cli', '--', '--help']), /^Usage: websoup <command> \[options\]/);
	// `npm pack` ran `prepare` in the clone, as `npm ci` does in a checkout.
	t.regex(await sh(packed.clone, process.execPath, ['dist/cli.js', '--help']), /^Usage: websoup <command> \[options\]/);
});
