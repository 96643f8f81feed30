// @redis/client is an optional peer dependency: without it the package loads and hubs work, and
// only RedisBroker.connect() fails, saying what to install.

import {execFile} from 'node:child_process';
import {promisify} from 'node:util';
import test from 'ava';
import {root} from '../helpers/cli.ts';

const execFileAsync = promisify(execFile);

test('without @redis/client: websoup loads, a hub publishes, RedisBroker.connect names the package to install', async t => {
	const {stdout} = await execFileAsync(
		process.execPath,
		['--import', './spec/topics/fixtures/hide-redis.mjs', '--import', 'tsx', 'spec/topics/fixtures/without-redis.ts'],
		{cwd: root, timeout: 60_000},
	);
	const result = JSON.parse(stdout) as {published: number; error: string | null; cause: string};
	t.is(result.published, 0);
	t.is(result.error, 'RedisBroker needs the optional peer dependency @redis/client: npm install @redis/client');
	t.regex(result.cause, /Cannot find package '@redis\/client'/);
});
