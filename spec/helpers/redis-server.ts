// A real redis-server (Debian's) for the broker specs: a free loopback port, no persistence, stopped by PID.

import {spawn, type ChildProcess} from 'node:child_process';
import {mkdtempSync, rmSync} from 'node:fs';
import net from 'node:net';
import {tmpdir} from 'node:os';
import path from 'node:path';

/** A loopback port that was free a moment ago (the kernel's pick for port 0). */
export async function freePort(): Promise<number> {
	const server = net.createServer();
	await new Promise<void>(resolve => {
		server.listen(0, '127.0.0.1', resolve);
	});
	const {port} = server.address() as net.AddressInfo;
	await new Promise<void>(resolve => {
		server.close(() => {
			resolve();
		});
	});
	return port;
}

/** Where cleanup is registered: ava's ExecutionContext, or the bench's own list. */
export interface Teardowns {
	teardown(fn: () => Promise<void> | void): void;
}

/** One redis-server process; `restart()` stops it and starts it again on the same port. */
export class RedisServer {
	readonly port: number;
	readonly url: string;
	readonly #dir: string;
	#child: ChildProcess | null = null;

	private constructor(port: number, dir: string) {
		this.port = port;
		this.url = `redis://127.0.0.1:${port}`;
		this.#dir = dir;
	}

	/** Starts redis-server on a free port (trying a few, should another process take the one picked). */
	static async start(t: Teardowns): Promise<RedisServer> {
		const dir = mkdtempSync(path.join(tmpdir(), 'websoup-redis-'));
		let lastError: unknown;
		for (let attempt = 0; attempt < 5; attempt++) {
			const server = new RedisServer(await freePort(), dir);
			try {
				await server.#spawn();
				t.teardown(async () => {
					await server.stop();
					rmSync(dir, {recursive: true, force: true});
				});
				return server;
			} catch (error) {
				lastError = error;
			}
		}

		rmSync(dir, {recursive: true, force: true});
		throw lastError;
	}

	/** The PID of the running server, or `undefined`. */
	get pid(): number | undefined {
		return this.#child?.pid;
	}

	/** Stops the server (SIGTERM to its PID) and waits for it to exit. */
	async stop(): Promise<void> {
		const child = this.#child;
		this.#child = null;
		if (child === null || child.exitCode !== null || child.signalCode !== null) {
			return;
		}

		const exited = new Promise<void>(resolve => {
			child.once('exit', () => {
				resolve();
			});
		});
		process.kill(child.pid!, 'SIGTERM');
		const timer = setTimeout(() => {
			if (child.exitCode === null && child.signalCode === null) {
				process.kill(child.pid!, 'SIGKILL');
			}
		}, 10_000);
		await exited;
		clearTimeout(timer);
	}

	/** Stops the server and starts a new one on the same port: every client loses its connection and subscriptions. */
	async restart(): Promise<void> {
		await this.stop();
		// The old process has exited (stop() waited for it), so its port is free; should the bind still
		// fail, try again: each attempt waits for the new process to be ready or to exit.
		let lastError: unknown;
		for (let attempt = 0; attempt < 20; attempt++) {
			try {
				await this.#spawn();
				return;
			} catch (error) {
				lastError = error;
			}
		}

		throw lastError;
	}

	async #spawn(): Promise<void> {
		const child = spawn(
			'redis-server',
			[
				'--port', String(this.port),
				'--bind', '127.0.0.1',
				'--save', '',
				'--appendonly', 'no',
				'--dir', this.#dir,
				'--daemonize', 'no',
				'--loglevel', 'notice',
			],
			{stdio: ['ignore', 'pipe', 'pipe']},
		);
		let output = '';
		await new Promise<void>((resolve, reject) => {
			const timer = setTimeout(() => {
				fail(new Error(`redis-server did not start within 20 s:\n${output}`));
			}, 20_000);
			const fail = (error: Error): void => {
				clearTimeout(timer);
				if (child.exitCode === null && child.signalCode === null) {
					child.kill('SIGKILL');
				}

				reject(error);
			};

			child.once('error', error => {
				fail(new Error(`cannot run redis-server (apt-get install redis-server): ${error.message}`));
			});
			const onExit = (code: number | null): void => {
				fail(new Error(`redis-server exited with ${String(code)}:\n${output}`));
			};
			const onOutput = (chunk: Buffer): void => {
				output += chunk.toString();
				if (output.includes('Ready to accept connections')) {
					clearTimeout(timer);
					child.off('exit', onExit);
					child.stdout.off('data', onOutput);
					child.stderr.off('data', onOutput);
					resolve();
				}
			};

			child.once('exit', onExit);
			child.stdout.on('data', onOutput);
			child.stderr.on('data', onOutput);
		});
		// Keep draining its output so it never blocks on a full pipe.
		child.stdout.resume();
		child.stderr.resume();
		this.#child = child;
	}
}
