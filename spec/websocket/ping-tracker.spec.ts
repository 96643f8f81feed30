// PingTracker: which pings a Pong answers, their round trips, forgetting unanswered keepalive pings.

import test from 'ava';
import {PingTracker, type PingSettle} from '../../lib/websocket/ping-tracker.ts';

/** Logs how the ping `name` settled; the round trip it resolved with goes into `times`. */
function settle(log: string[], name: string, times = new Map<string, number>()): PingSettle {
	return {
		resolve(ms) {
			times.set(name, ms);
			log.push(`${name} ${ms >= 0 ? 'resolved' : 'negative'}`);
		},
		reject(error) {
			log.push(`${name} rejected ${error.message}`);
		},
	};
}

test('a pong answers the first ping with its payload and every one before it', t => {
	const log: string[] = [];
	const times = new Map<string, number>();
	const tracker = new PingTracker();
	tracker.add(Buffer.from('a'), settle(log, 'a', times), null);
	tracker.add(Buffer.from('k'), null, null);
	tracker.add(Buffer.from('b'), settle(log, 'b', times), null);
	tracker.add(Buffer.from('c'), settle(log, 'c', times), null);
	t.is(tracker.answer(Buffer.from('nope')), -1);
	const roundTrip = tracker.answer(Buffer.from('b'));
	t.true(roundTrip >= 0);
	t.deepEqual(log, ['a resolved', 'b resolved']);
	// answer() returns the round trip of the ping the pong names; an earlier ping waited at least as long.
	t.is(times.get('b'), roundTrip);
	t.true(times.get('a')! >= roundTrip);
	t.is(tracker.size, 1);
	tracker.rejectAll(new Error('gone'));
	t.deepEqual(log, ['a resolved', 'b resolved', 'c rejected gone']);
	t.is(tracker.size, 0);
	t.is(tracker.answer(Buffer.from('c')), -1);
});

test('bytes are compared exactly (latin1 keys), and remove() forgets one ping', t => {
	const log: string[] = [];
	const tracker = new PingTracker();
	const one = settle(log, 'one');
	tracker.add(Buffer.from([0xff, 0x00]), one, null);
	t.is(tracker.answer(Buffer.from([0xff])), -1);
	t.true(tracker.remove(one));
	t.false(tracker.remove(one));
	t.is(tracker.answer(Buffer.from([0xff, 0x00])), -1);
	t.deepEqual(log, []);
});

test('a peer that never answers keepalive pings cannot grow the list past 16; ping() entries are kept', t => {
	const log: string[] = [];
	const tracker = new PingTracker();
	tracker.add(Buffer.from('user'), settle(log, 'user'), null);
	for (let i = 0; i < 1000; i++) {
		tracker.add(Buffer.from(`k${i}`), null, null);
	}

	t.is(tracker.size, 16);
	t.is(tracker.answer(Buffer.from('k0')), -1, 'the oldest keepalive pings are forgotten');
	t.true(tracker.answer(Buffer.from('k999')) >= 0);
	t.deepEqual(log, ['user resolved']);
	t.is(tracker.size, 0, 'the newest keepalive ping answers everything before it');
});
