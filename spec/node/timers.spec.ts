// Lifecycle timers (keepalive, pong timeout, idle timeout, ping(), close, shutdown, reconnect) never keep a process alive once everything is closed, and never fire after `closed`.

import test from 'ava';
import {LongTimer} from '../../lib/websocket/timer.ts';
import {runNode} from '../helpers/cli.ts';
import {gluePair} from '../helpers/handler.ts';
import {until, withTimeout} from '../helpers/signals.ts';

test('a process that closed everything ends by itself, no Timeout left, with hour-long timers set on every connection', async t => {
	const child = runNode(t, ['spec/helpers/lifecycle-child.ts']);
	const {code} = await child.exited(30_000);
	t.is(code, 0, child.stderr());
	const report = JSON.parse(child.stdout()) as {result: unknown; resources: string[]};
	t.deepEqual(report.result, {clean: 1, dirty: 0, terminated: 0});
	t.false(report.resources.includes('Timeout'), report.resources.join(', '));
});

test('the close timer never outlives the stream: every path of the close handshake and the drain, with an hour\'s close timeout', async t => {
	const child = runNode(t, ['spec/helpers/drain-lifecycle-child.ts']);
	const {code} = await child.exited(30_000);
	t.is(code, 0, child.stderr());
	const {report, resources} = JSON.parse(child.stdout()) as {report: Record<string, unknown>; resources: string[]};
	t.deepEqual(report, {
		terminateInDrain: 1000,
		resetInDrain: 1000,
		lateClose: true,
		clientEcho: true,
		clientLateClose: true,
		closePending: ['held'],
		terminateBeforeReads: 0,
	});
	t.false(resources.includes('Timeout'), resources.join(', '));
});

test('after closed, no timer fires: no signal, no notify, no warning (idle, keepalive, pong timeout, a ping in flight)', async t => {
	const {client, server} = await gluePair(t, {keepaliveInterval: 1, keepalivePongTimeout: 1, idleTimeout: 1});
	client.setKeepaliveInterval(1);
	client.setKeepalivePongTimeout(1);
	client.setIdleTimeout(1);
	// In flight when the close starts (the server answers it before its Close).
	const inFlight = client.ping('in flight');
	let afterClosed = 0;
	const warnings: Error[] = [];
	const onWarning = (warning: Error): void => {
		warnings.push(warning);
	};

	process.on('warning', onWarning);
	t.teardown(() => process.off('warning', onWarning));
	for (const connection of [client, server]) {
		let closed = false;
		for (const signal of ['message', 'error', 'closing', 'closed', 'pong', 'notify'] as const) {
			connection.connect(signal, () => {
				if (closed) {
					afterClosed++;
				}
			});
		}

		// Connected last: the first `closed` is not counted, anything after it is.
		connection.connect('closed', () => {
			closed = true;
		});
	}

	client.close(1000);
	await withTimeout(Promise.all([client.closed, server.closed]), 10_000, 'both closed');
	t.true((await inFlight) > 0);
	const closedAt = afterClosed;
	// Longer than every timer that was set (1 s each, and the close timeout for good measure).
	const control = new LongTimer(() => {}, Math.max(2500, Math.min(client.closeTimeout, 6000)));
	await until(() => !control.pending, 15_000, 'the control timer');
	t.is(closedAt, 0);
	t.is(afterClosed, 0);
	t.deepEqual(warnings, []);
});
