// The demo page of `websoup serve` in headless Chromium: send a message through the page's own UI,
// see the echo on the page, and take a screenshot into the test's temporary folder.

import {spawn} from 'node:child_process';
import {mkdtemp, readFile, rm, stat} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import test from 'ava';
import {withTimeout} from '../helpers/signals.ts';
import {closeChromium, launchChromium, newPage, type RunningBrowser} from './browser.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const MESSAGE = 'hello from Chromium ✓ 世界 🌍';

let running: RunningBrowser | undefined;

test.before(async () => {
	running = await launchChromium();
});

test.after.always(async () => {
	await closeChromium(running);
});

/** Starts `websoup serve --port 0` (the CLI, through tsx) and resolves with the URL it prints; killed by PID at teardown. */
async function serve(t: import('ava').ExecutionContext): Promise<{url: string; output: () => string}> {
	const child = spawn(process.execPath, ['--import', 'tsx', 'lib/cli.ts', 'serve', '--host', '127.0.0.1', '--port', '0'], {
		cwd: ROOT,
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	let output = '';
	child.stdout.setEncoding('utf8');
	child.stderr.setEncoding('utf8');
	child.stderr.on('data', (chunk: string) => {
		output += chunk;
	});
	t.teardown(async () => {
		if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) {
			return;
		}

		// SIGTERM stops it cleanly (going-away closes, bounded); SIGKILL if that takes too long.
		const exited = new Promise<void>(resolve => {
			child.once('exit', () => resolve());
		});
		process.kill(child.pid, 'SIGTERM');
		try {
			await withTimeout(exited, 8000, 'websoup serve to exit');
		} catch {
			process.kill(child.pid, 'SIGKILL');
		}
	});
	const url = await withTimeout(
		new Promise<string>((resolve, reject) => {
			child.stdout.on('data', (chunk: string) => {
				output += chunk;
				const match = /listening on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output);
				if (match?.[1] !== undefined) {
					resolve(match[1]);
				}
			});
			child.once('error', reject);
			child.once('exit', code => {
				reject(new Error(`websoup serve exited with ${String(code)}: ${output}`));
			});
		}),
		30_000,
		'"listening on" from websoup serve',
	);
	return {url, output: () => output};
}

test('demo page: a message sent through the page comes back, and a screenshot of it', async t => {
	const {url, output} = await serve(t);
	const directory = await mkdtemp(join(tmpdir(), 'websoup-demo-'));
	t.teardown(async () => {
		// WEBSOUP_KEEP_SCREENSHOTS=1 keeps the folder, to look at the picture.
		if (process.env['WEBSOUP_KEEP_SCREENSHOTS'] === undefined) {
			await rm(directory, {recursive: true, force: true});
		}
	});

	const page = await newPage(t, running!);
	await page.setViewportSize({width: 900, height: 720});
	await page.goto(url);
	await page.locator('#status.open').waitFor({state: 'visible'});
	t.regex((await page.locator('#status').textContent()) ?? '', /^connected to ws:\/\/127\.0\.0\.1:\d+\/ws/);

	await page.locator('#input').fill(MESSAGE);
	await page.locator('#send').click();
	const received = page.locator('#log li.received', {hasText: MESSAGE});
	await received.waitFor({state: 'visible'});
	t.is(await received.textContent(), `< ${MESSAGE}`, 'the echo is on the page');
	t.is(await page.locator('#log li.sent').first().textContent(), `> ${MESSAGE}`, 'the sent line is on the page');
	t.is(await page.locator('#input').inputValue(), '', 'the input was cleared');

	const file = join(directory, 'demo-page.png');
	await page.screenshot({path: file, fullPage: true});
	const info = await stat(file);
	t.true(info.isFile() && info.size > 1000, `screenshot of ${info.size} bytes`);
	const png = await readFile(file);
	t.true(png.subarray(0, 8).equals(PNG_SIGNATURE), 'the screenshot is a PNG');
	// IHDR: width and height at bytes 16–23.
	t.is(png.readUInt32BE(16), 900);
	t.true(png.readUInt32BE(20) >= 720);
	t.log(`screenshot: ${file}`);
	t.log(`websoup serve printed:\n${output().trim()}`);
});
