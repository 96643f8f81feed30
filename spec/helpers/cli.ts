// Runs the `websoup` command (or any script) as a child process for specs: its output, a wait for a line, its exit.

import {spawn, type ChildProcessWithoutNullStreams} from 'node:child_process';
import {fileURLToPath} from 'node:url';
import type {ExecutionContext} from 'ava';
import {withTimeout} from './signals.ts';

/** The repository's root, where `lib/cli.ts` is run from. */
export const root = fileURLToPath(new URL('../..', import.meta.url));

/** Every wait on a CLI process gives up after this long. */
export const TIMEOUT = 15_000;

export interface Cli {
	child: ChildProcessWithoutNullStreams;
	/** Everything written to stdout so far. */
	stdout(): string;
	/** Everything written to stderr so far. */
	stderr(): string;
	/** Resolves with the first match of `pattern` in stdout, waiting for more output as needed. */
	waitFor(pattern: RegExp, timeout?: number): Promise<RegExpMatchArray>;
	/** Resolves with the exit code once the process has exited. */
	exited(timeout?: number): Promise<{code: number | null; signal: NodeJS.Signals | null}>;
}

/** Runs `node --import tsx lib/cli.ts ...args` from the repository root; killed at teardown. */
export function runCli(t: ExecutionContext, args: string[], input?: string): Cli {
	return runNode(t, ['lib/cli.ts', ...args], input);
}

/** Runs `node --import tsx ...args` (a script, or `-e` code) from the repository root; killed at teardown. */
export function runNode(t: ExecutionContext, args: string[], input?: string): Cli {
	const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
		cwd: root,
		env: {...process.env, NODE_DEBUG: ''},
	});
	let stdout = '';
	let stderr = '';
	const listeners = new Set<() => void>();
	child.stdout.setEncoding('utf8');
	child.stderr.setEncoding('utf8');
	child.stdout.on('data', (chunk: string) => {
		stdout += chunk;
		for (const listener of listeners) {
			listener();
		}
	});
	child.stderr.on('data', (chunk: string) => {
		stderr += chunk;
	});
	const exit = new Promise<{code: number | null; signal: NodeJS.Signals | null}>(resolve => {
		child.once('close', (code, signal) => {
			resolve({code, signal});
		});
	});
	t.teardown(() => {
		if (child.exitCode === null && child.signalCode === null) {
			child.kill('SIGKILL');
		}
	});
	if (input === undefined) {
		child.stdin.on('error', () => {});
	} else {
		child.stdin.end(input);
	}

	return {
		child,
		stdout: () => stdout,
		stderr: () => stderr,
		async waitFor(pattern, timeout = TIMEOUT) {
			return new Promise((resolve, reject) => {
				const check = (): void => {
					const match = pattern.exec(stdout);
					if (match !== null) {
						listeners.delete(check);
						clearTimeout(timer);
						resolve(match);
					}
				};

				const timer = setTimeout(() => {
					listeners.delete(check);
					reject(new Error(`timed out waiting for ${String(pattern)} in stdout: ${JSON.stringify(stdout)}; stderr: ${JSON.stringify(stderr)}`));
				}, timeout);
				listeners.add(check);
				check();
				void exit.then(() => {
					if (listeners.has(check)) {
						listeners.delete(check);
						clearTimeout(timer);
						reject(new Error(`exited before ${String(pattern)} appeared; stdout: ${JSON.stringify(stdout)}; stderr: ${JSON.stringify(stderr)}`));
					}
				});
			});
		},
		async exited(timeout = TIMEOUT) {
			return withTimeout(exit, timeout, `the exit of node ${args.join(' ')}`);
		},
	};
}
