// The checks of spec/facades/wpt/ that undici fails, run in headless Chromium (Debian's, through playwright-core)
// against the same WPT handlers: a browser agrees with websoup's reading of the standard.

import test from 'ava';
import type {Page} from 'playwright-core';
import {wptServer, type WptServer} from '../facades/wpt/harness.ts';
import {withTimeout} from '../helpers/signals.ts';
import {closeChromium, launchChromium, newPage, type RunningBrowser} from './browser.ts';

let running: RunningBrowser | undefined;

test.before(async () => {
	running = await launchChromium();
});

test.after.always(async () => {
	await closeChromium(running);
});

async function page(t: Parameters<typeof wptServer>[0]): Promise<{page: Page; server: WptServer}> {
	const server = await wptServer(t);
	const opened = await newPage(t, running!);
	await opened.goto(`http://127.0.0.1:${server.port}/`);
	return {page: opened, server};
}

test('Chromium: replacing an event handler keeps its listener in place', async t => {
	const {page: p, server} = await page(t);
	const calls = await withTimeout(
		p.evaluate(async url => {
			const ws = new WebSocket(url);
			const log: string[] = [];
			ws.addEventListener('open', () => log.push('listener 1'));
			ws.onopen = () => log.push('first handler');
			ws.addEventListener('open', () => log.push('listener 2'));
			ws.onopen = () => log.push('second handler');
			await new Promise(resolve => {
				ws.addEventListener('open', resolve);
			});
			ws.close();
			return log;
		}, `${server.origin}/echo`),
		20_000,
		'the page',
	);
	t.deepEqual(calls, ['listener 1', 'second handler', 'listener 2']);
});

test('Chromium: send(SharedArrayBuffer) throws TypeError', async t => {
	const {page: p, server} = await page(t);
	const result = await withTimeout(
		p.evaluate(async url => {
			if (!(globalThis as unknown as {crossOriginIsolated: boolean}).crossOriginIsolated) {
				return 'not cross-origin isolated';
			}

			const ws = new WebSocket(url);
			await new Promise(resolve => {
				ws.onopen = resolve;
			});
			try {
				ws.send(new SharedArrayBuffer(4));
				return 'sent';
			} catch (error) {
				return (error as Error).constructor.name;
			} finally {
				ws.close();
			}
		}, `${server.origin}/echo`),
		20_000,
		'the page',
	);
	t.is(result, 'TypeError');
});

test('Chromium: close(1000n) and binaryType = Symbol throw TypeError; binaryType ignores other strings', async t => {
	const {page: p, server} = await page(t);
	const result = await withTimeout(
		p.evaluate(url => {
			const ws = new WebSocket(url);
			// No named functions in here: the bundler would wrap them in a helper the page lacks.
			let bigint = 'no error';
			try {
				ws.close(1000n as unknown as number);
			} catch (error) {
				bigint = (error as Error).constructor.name;
			}

			ws.binaryType = 'arraybuffer';
			ws.binaryType = 'nodebuffer' as 'blob';
			const after = ws.binaryType;
			let symbol = 'no error';
			try {
				ws.binaryType = Symbol('x') as unknown as 'blob';
			} catch (error) {
				symbol = (error as Error).constructor.name;
			}

			ws.close();
			return {bigint, after, symbol};
		}, `${server.origin}/echo`),
		20_000,
		'the page',
	);
	t.deepEqual(result, {bigint: 'TypeError', after: 'arraybuffer', symbol: 'TypeError'});
});

test('Chromium: the error event is a plain Event', async t => {
	const {page: p, server} = await page(t);
	const result = await withTimeout(
		p.evaluate(
			async url =>
				new Promise<string>(resolve => {
					const ws = new WebSocket(url);
					ws.onerror = event => resolve(event.constructor.name);
				}),
			`${server.origin}/refuse`,
		),
		20_000,
		'the page',
	);
	t.is(result, 'Event');
});

test('Chromium: send() once CLOSING still adds to bufferedAmount', async t => {
	const {page: p, server} = await page(t);
	const result = await withTimeout(
		p.evaluate(async url => {
			const ws = new WebSocket(url);
			await new Promise(resolve => {
				ws.onopen = resolve;
			});
			ws.close();
			ws.send('12345');
			return ws.bufferedAmount;
		}, `${server.origin}/echo`),
		20_000,
		'the page',
	);
	t.is(result, 5);
});
