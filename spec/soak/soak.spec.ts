// The soak test of `npm test`: 20 connections over loopback TCP (websoup↔websoup directly, and
// through addWebsocketHandler + websocketConnect, each with and without permessage-deflate) exchange
// numbered messages of 1 B … 300 KiB, text and binary, both ways, and close at random moments from
// either side or both. The delivery rule is spelled out at the top of ./soak.ts: every message sent
// while the sender was OPEN and before it called close() arrives, in order, exactly once, unless the
// receiver had itself called close() (then what it got is still an in-order, intact prefix); both
// ends see `closed`, cleanly, with the code the other end sent.
//
// SOAK_SECONDS (default 3, at most 5 in npm test), SOAK_SEED and SOAK_WINDOW (bytes in flight per
// direction, default 1 MiB, 0 = unbounded: see SoakOptions.window) change the run;
// `npm run fuzz -- --iterations 0 --soak 60` runs it for a minute.

import test from 'ava';
import {runSoak} from './soak.ts';

const seconds = Number(process.env['SOAK_SECONDS'] ?? 3);
const seed = Number(process.env['SOAK_SEED'] ?? 20_261_201);
const window = Number(process.env['SOAK_WINDOW'] ?? 1024 * 1024);

test(`soak: 20 connections, ${seconds} s, seed ${seed}: nothing lost, duplicated or reordered; every close clean, codes matching`, async t => {
	t.timeout(seconds * 1000 + 30_000);
	const result = await runSoak({seed, milliseconds: seconds * 1000, connections: 20, window});
	t.log(result.summary);
	t.deepEqual(result.problems.slice(0, 20), [], result.summary);
});
