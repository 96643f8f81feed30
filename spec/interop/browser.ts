// Debian's Chromium, headless, driven by playwright-core (never a downloaded browser).

import type {ExecutionContext} from 'ava';
import {chromium, type Browser, type BrowserServer} from 'playwright-core';
import {withTimeout} from '../helpers/signals.ts';
import {CHROMIUM} from './peer.ts';

/** The machine's launch flags: without the background-networking ones, Chromium tries the closed network. */
export const CHROMIUM_ARGS = [
	'--headless',
	'--no-sandbox',
	'--disable-gpu',
	'--disable-quic',
	'--no-first-run',
	'--disable-background-networking',
	'--disable-component-update',
	'--disable-sync',
] as const;

/** A running Chromium: the browser process (killed by PID at the end) and a Playwright connection to it. */
export interface RunningBrowser {
	readonly server: BrowserServer;
	readonly browser: Browser;
	readonly pid: number;
	readonly version: string;
}

/** Launches Chromium from /usr/bin/chromium, with `extraArgs` after the machine's; a missing browser fails (it is not a skip). */
export async function launchChromium(extraArgs: readonly string[] = []): Promise<RunningBrowser> {
	const server = await withTimeout(
		chromium.launchServer({executablePath: CHROMIUM, args: [...CHROMIUM_ARGS, ...extraArgs], timeout: 30_000}),
		40_000,
		'Chromium to start',
	);
	const pid = server.process().pid;
	if (pid === undefined) {
		await server.kill();
		throw new Error('Chromium started without a PID');
	}

	let browser: Browser;
	try {
		browser = await withTimeout(chromium.connect(server.wsEndpoint(), {timeout: 20_000}), 25_000, 'Playwright to connect');
	} catch (error) {
		killByPid(pid);
		throw error;
	}

	return {server, browser, pid, version: browser.version()};
}

function killByPid(pid: number): void {
	try {
		process.kill(pid, 'SIGKILL');
	} catch {
		// Already gone.
	}
}

/** Closes the browser (bounded), then kills its process by PID whatever happened. */
export async function closeChromium(running: RunningBrowser | undefined): Promise<void> {
	if (running === undefined) {
		return;
	}

	try {
		await withTimeout(running.browser.close(), 10_000, 'browser.close');
		await withTimeout(running.server.close(), 10_000, 'browser server close');
	} catch {
		// Killed below.
	} finally {
		killByPid(running.pid);
	}
}

/** A fresh page in its own context, closed at teardown; the page's console errors are logged. */
export async function newPage(t: ExecutionContext, running: RunningBrowser): Promise<import('playwright-core').Page> {
	const context = await running.browser.newContext();
	t.teardown(async () => {
		await withTimeout(context.close(), 10_000, 'context close').catch(() => {});
	});
	const page = await context.newPage();
	page.setDefaultTimeout(15_000);
	page.on('console', message => {
		if (message.type() === 'error') {
			t.log(`page console: ${message.text()}`);
		}
	});
	page.on('pageerror', error => {
		t.log(`page error: ${error.message}`);
	});
	return page;
}
