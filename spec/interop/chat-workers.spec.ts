// The demo page, unchanged, against `websoup serve --mode chat --workers 2 --redis …` in headless
// Chromium (which offers permessage-deflate): pages on different workers chat through Redis.

import test from 'ava';
import {runCli} from '../helpers/cli.ts';
import {RedisServer} from '../helpers/redis-server.ts';
import {until} from '../helpers/signals.ts';
import {closeChromium, launchChromium, newPage, type RunningBrowser} from './browser.ts';

const MESSAGE = 'hello across workers ✓ 世界 🌍';

let running: RunningBrowser | undefined;

test.before(async () => {
	running = await launchChromium();
});

test.after.always(async () => {
	await closeChromium(running);
});

test('chat demo page: a message typed on a page served by one worker appears on a page of the other', async t => {
	const redis = await RedisServer.start(t);
	const cli = runCli(t, ['serve', '--port', '0', '--mode', 'chat', '--workers', '2', '--redis', redis.url]);
	const [, url] = await cli.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+\/) \(mode chat/, 60_000);
	// Open pages until two have their WebSocket on different workers.
	const pages = [];
	const workerOf = (index: number): string | undefined => [...cli.stdout().matchAll(/^worker (\d+): open /gm)][index]?.[1];
	for (let index = 0; index < 6; index++) {
		const page = await newPage(t, running!);
		await page.goto(url!);
		await page.locator('#status.open').waitFor({state: 'visible'});
		await until(() => workerOf(index) !== undefined, 30_000, `the open line of page ${index}`);
		pages.push({page, worker: workerOf(index)!});
		if (new Set(pages.map(entry => entry.worker)).size === 2) {
			break;
		}

		// The primary hands connections round-robin and each page makes two (the page, its
		// WebSocket): one more connection in between moves the next WebSocket to the other worker.
		const response = await fetch(url!, {headers: {connection: 'close'}});
		await response.text();
	}

	const sender = pages[0]!;
	const other = pages.find(entry => entry.worker !== sender.worker);
	t.truthy(other, `pages on workers ${pages.map(entry => entry.worker).join(', ')}`);
	await sender.page.locator('#input').fill(MESSAGE);
	await sender.page.locator('#send').click();
	for (const {page} of pages) {
		const received = page.locator('#log li.received', {hasText: MESSAGE});
		await received.waitFor({state: 'visible'});
		t.is(await received.textContent(), `< ${MESSAGE}`);
	}

	cli.child.kill('SIGTERM');
	t.is((await cli.exited(30_000)).code, 0);
});
