// `websoup serve --workers` and `--redis`: what the command line refuses (exit 2, one line on stderr).
// In the serial suite (ava.cluster.config.js) with the specs that run workers: CLI processes starve each other beside the default suite.

import test from 'ava';
import {runCli} from '../helpers/cli.ts';

for (const [args, message] of [
	[['serve', '--workers', '0'], /^websoup: --workers expects a whole number from 1 to 256, got "0"$/],
	[['serve', '--workers', 'many'], /^websoup: --workers expects a whole number from 1 to 256, got "many"$/],
	[['serve', '--mode', 'chat', '--workers', '2'], /^websoup: --mode chat with --workers needs --redis: each worker has its own clients$/],
	[['serve', '--mode', 'chat', '--redis', 'http://127.0.0.1:6379'], /^websoup: --redis expects a redis:\/\/ or rediss:\/\/ URL, got "http:\/\/127\.0\.0\.1:6379"$/],
	[['serve', '--mode', 'chat', '--redis', 'redis://'], /^websoup: --redis expects a redis:\/\/ or rediss:\/\/ URL, got "redis:\/\/"$/],
	[['serve', '--redis', 'redis://127.0.0.1:6379'], /^websoup: --redis is for --mode chat \(echo needs no other process\)$/],
] as const) {
	test(`usage: websoup ${args.join(' ')} exits 2 with one line on stderr`, async t => {
		const cli = runCli(t, [...args], '');
		t.is((await cli.exited()).code, 2);
		t.regex(cli.stderr().trimEnd(), message);
		t.is(cli.stderr().trimEnd().split('\n').length, 1);
		t.is(cli.stdout(), '');
	});
}

test('usage: websoup serve --help names --workers and --redis', async t => {
	const cli = runCli(t, ['serve', '--help']);
	t.is((await cli.exited()).code, 0);
	t.regex(cli.stdout(), /--workers <n> +run n worker processes/);
	t.regex(cli.stdout(), /--redis <url> +chat: pass messages through Redis/);
});
