// Benchmark processes: spawn one pinned to a core, talk to it by request/reply over IPC, stop it by PID.

import {execFileSync, fork, type ChildProcess} from 'node:child_process';
import {fileURLToPath} from 'node:url';

/** A command sent to a child; `id` pairs it with its reply. */
export interface Request {
	id: number;
	cmd: string;
	[key: string]: unknown;
}

/** A child's reply: `ok` with any fields, or an error message. */
interface RawReply {
	id: number;
	ok: boolean;
	error?: string;
}

/**
 * The fields bench children answer with, as the orchestrator reads them. IPC is untyped: a
 * command answers only some of these, and a field it does not send reads as `undefined` (NaN in sums).
 */
export interface Reply {
	readonly count: number;
	readonly bytes: number;
	readonly seconds: number;
	readonly cpu: number;
	readonly failed: number;
	readonly port: number;
	readonly open: number;
	readonly rss: number;
	readonly heapUsed: number;
	readonly heapTotal: number;
	readonly external: number;
	/** The committed size of each V8 heap space (`v8.getHeapSpaceStatistics()`), by name. */
	readonly spaces: Readonly<Record<string, number>>;
	/** The resident bytes of malloc's main arena (`[heap]` in /proc/self/smaps). */
	readonly mallocRss: number;
	readonly cpuMs: number;
	readonly gobject: number;
	readonly eventemitter3: number;
	readonly helpers: unknown;
}

const live = new Set<ChildProcess>();

let tasksetChecked: boolean | undefined;

/** Whether `taskset` can pin processes here. */
export function hasTaskset(): boolean {
	if (tasksetChecked === undefined) {
		try {
			execFileSync('taskset', ['-p', String(process.pid)], {stdio: 'ignore'});
			tasksetChecked = true;
		} catch {
			tasksetChecked = false;
		}
	}

	return tasksetChecked;
}

export interface StartOptions {
	/** Core to pin the process (and all its threads) to, when taskset is available. */
	core?: number | undefined;
	env?: Record<string, string> | undefined;
	/** Extra Node options (`--expose-gc`, `--cpu-prof`, …). */
	nodeOptions?: readonly string[] | undefined;
	args?: readonly string[] | undefined;
}

/** A child process running a bench script under tsx. */
export class Child {
	readonly name: string;
	readonly process: ChildProcess;
	#nextId = 1;
	readonly #pending = new Map<number, {resolve: (reply: RawReply) => void; reject: (error: Error) => void; timer: NodeJS.Timeout}>();
	readonly #exited: Promise<void>;
	/** Unsolicited messages (`{event: …}`) go here. */
	onEvent: ((message: Record<string, unknown>) => void) | null = null;

	private constructor(name: string, child: ChildProcess) {
		this.name = name;
		this.process = child;
		live.add(child);
		this.#exited = new Promise(resolve => {
			child.once('exit', () => {
				live.delete(child);
				for (const {reject, timer} of this.#pending.values()) {
					clearTimeout(timer);
					reject(new Error(`${name} exited`));
				}

				this.#pending.clear();
				resolve();
			});
		});
		child.on('message', (message: unknown) => {
			const record = message as Record<string, unknown>;
			if (typeof record['id'] === 'number') {
				const entry = this.#pending.get(record['id']);
				if (entry !== undefined) {
					this.#pending.delete(record['id']);
					clearTimeout(entry.timer);
					entry.resolve(record as unknown as RawReply);
				}
			} else {
				this.onEvent?.(record);
			}
		});
	}

	/** Forks `script` (relative to bench/) and waits for its `{event: 'ready'}`. */
	static async start(name: string, script: string, options: StartOptions = {}): Promise<Child> {
		const path = fileURLToPath(new URL(script, import.meta.url));
		const child = fork(path, [...(options.args ?? [])], {
			execArgv: ['--import', 'tsx', ...(options.nodeOptions ?? [])],
			env: {...process.env, ...options.env},
			stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
		});
		const wrapper = new Child(name, child);
		if (options.core !== undefined && hasTaskset() && child.pid !== undefined) {
			execFileSync('taskset', ['-a', '-p', '-c', String(options.core), String(child.pid)], {stdio: 'ignore'});
		}

		await new Promise<void>((resolve, reject) => {
			const timer = setTimeout(() => {
				reject(new Error(`${name} did not start within 30 s`));
			}, 30_000);
			wrapper.onEvent = message => {
				if (message['event'] === 'ready') {
					clearTimeout(timer);
					wrapper.onEvent = null;
					resolve();
				}
			};
			child.once('exit', code => {
				clearTimeout(timer);
				reject(new Error(`${name} exited with ${String(code)} before it was ready`));
			});
		});
		return wrapper;
	}

	/** Sends a command and waits (at most `timeoutMs`) for its reply; rejects on an error reply. */
	async request(cmd: string, fields: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<Reply> {
		const id = this.#nextId++;
		const reply = await new Promise<RawReply>((resolve, reject) => {
			const timer = setTimeout(() => {
				this.#pending.delete(id);
				reject(new Error(`${this.name}: '${cmd}' timed out after ${timeoutMs} ms`));
			}, timeoutMs);
			this.#pending.set(id, {resolve, reject, timer});
			this.process.send({id, cmd, ...fields});
		});
		if (!reply.ok) {
			throw new Error(`${this.name}: '${cmd}' failed: ${reply.error ?? 'unknown error'}`);
		}

		return reply as unknown as Reply;
	}

	/** Asks the child to exit, then kills it by PID if it has not within 5 s. */
	async stop(): Promise<void> {
		if (this.process.exitCode !== null || this.process.signalCode !== null) {
			return;
		}

		if (this.process.connected) {
			this.process.send({id: 0, cmd: 'exit'});
		}

		const timer = setTimeout(() => {
			killPid(this.process);
		}, 5000);
		await this.#exited;
		clearTimeout(timer);
	}
}

function killPid(child: ChildProcess): void {
	if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
		try {
			process.kill(child.pid, 'SIGKILL');
		} catch {
			// Already gone.
		}
	}
}

/** Kills every child still running, by PID; for error paths and exit. */
export function killAll(): void {
	for (const child of live) {
		killPid(child);
	}
}

type Handler = (request: Request) => Promise<Record<string, unknown>> | Record<string, unknown>;

/**
 * The child side: answers each command with its handler's result, exits on `exit` or when the
 * parent goes away, and announces `ready`.
 */
export function serve(handlers: Record<string, Handler>): void {
	process.on('disconnect', () => {
		process.exit(0);
	});
	process.on('message', (message: unknown) => {
		const request = message as Request;
		if (request.cmd === 'exit') {
			process.disconnect?.();
			process.exit(0);
		}

		const handler = handlers[request.cmd];
		if (handler === undefined) {
			process.send?.({id: request.id, ok: false, error: `unknown command ${request.cmd}`});
			return;
		}

		Promise.resolve()
			.then(() => handler(request))
			.then(
				result => process.send?.({id: request.id, ok: true, ...result}),
				(error: unknown) =>
					process.send?.({id: request.id, ok: false, error: error instanceof Error ? error.message : String(error)}),
			);
	});
	process.send?.({event: 'ready'});
}

/** CPU time (user + system) in ms since `since`, or in total. */
export function cpuMs(since?: NodeJS.CpuUsage): number {
	const usage = process.cpuUsage(since);
	return (usage.user + usage.system) / 1000;
}
