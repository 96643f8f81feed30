// Child-process peers that speak the interop line protocol (spec/interop/peers/*): JSON lines of
// events on stdout, JSON lines of commands on stdin. Every wait is bounded; teardown kills by PID.

import {spawn, type ChildProcess} from 'node:child_process';
import {createHash} from 'node:crypto';
import {fileURLToPath} from 'node:url';
import type {ExecutionContext} from 'ava';

/** Where the peer scripts are. */
export const PEERS_DIR = fileURLToPath(new URL('peers/', import.meta.url));

/** Debian's python3 (its python3-websockets module); another python3 may come first on PATH. */
export const PYTHON = '/usr/bin/python3';
export const GJS = '/usr/bin/gjs';
export const CHROMIUM = '/usr/bin/chromium';

/** The Origin every interop handshake sends and every server requires. */
export const ORIGIN = 'http://interop.websoup.test';
/** What servers support, in order of preference. */
export const SERVER_PROTOCOLS = ['v1.interop', 'v2.interop'] as const;
/** What clients offer: only `v2.interop` is in common, so every implementation must choose it. */
export const CLIENT_PROTOCOLS = ['x-unsupported.interop', 'v2.interop'] as const;
export const EXPECTED_PROTOCOL = 'v2.interop';

/** Multi-byte UTF-8: 2-, 3- and 4-byte sequences. */
export const TEXT = 'Grüße, 世界 🌍 — ✓ ŝ';
/** Binary sizes every peer exchanges: empty, the largest 7-bit length, 16-bit → 64-bit boundary, 1 MiB. */
export const BINARY_SIZES = [0, 125, 65_536, 1024 * 1024] as const;
/** Limits raised on websoup's side too (the server glue's default is 128 KiB). */
export const LIMIT = 4 * 1024 * 1024;

/** Deterministic bytes of length `size` (the Chromium page builds the same pattern). */
export function pattern(size: number): Buffer {
	const data = Buffer.alloc(size);
	for (let i = 0; i < size; i++) {
		data[i] = (i * 31 + (i >>> 8) + 7) & 0xff;
	}

	return data;
}

export function sha256(data: Uint8Array | string): string {
	return createHash('sha256').update(data).digest('hex');
}

/** {@link pattern} and {@link sha256} in page JavaScript, for the Chromium pages' scripts. */
export const PAGE_PATTERN_AND_SHA256 = `function pattern(size) {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + (i >>> 8) + 7) & 0xff;
  return data;
}
async function sha256(data) {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : new Uint8Array(data);
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), b => b.toString(16).padStart(2, "0")).join("");
}
`;

/** One line a peer printed. */
export interface PeerEvent {
	event: string;
	[key: string]: unknown;
}

interface Waiter {
	readonly name: string;
	readonly resolve: (event: PeerEvent) => void;
	readonly reject: (error: Error) => void;
	readonly timer: NodeJS.Timeout;
}

/** A running peer process. */
export class Peer {
	readonly name: string;
	readonly child: ChildProcess;
	/** Every event printed so far, in order. */
	readonly events: PeerEvent[] = [];
	#stderr = '';
	#stdoutRest = '';
	/** Per event name, how many of that name `next()` has handed out. */
	readonly #consumed = new Map<string, number>();
	readonly #waiters = new Set<Waiter>();
	#failure: Error | null = null;

	constructor(t: ExecutionContext, name: string, command: string, args: readonly string[]) {
		this.name = name;
		this.child = spawn(command, args, {cwd: PEERS_DIR, stdio: ['pipe', 'pipe', 'pipe']});
		const {child} = this;
		t.teardown(() => {
			this.kill();
		});
		child.stdout!.setEncoding('utf8');
		child.stderr!.setEncoding('utf8');
		child.stdin!.on('error', () => {
			// The peer may be gone already (EPIPE); its exit is reported instead.
		});
		child.stdout!.on('data', (chunk: string) => {
			this.#onStdout(chunk);
		});
		child.stderr!.on('data', (chunk: string) => {
			this.#stderr += chunk;
		});
		child.on('error', error => {
			// ENOENT: the peer is not installed. That is a failure, never a skip.
			this.#fail(new Error(`${name}: cannot run ${command}: ${error.message}`));
		});
		// 'close', not 'exit': 'exit' can come before the last lines of stdout were read.
		child.on('close', (code, signal) => {
			this.#fail(new Error(`${name} exited (code ${String(code)}, signal ${String(signal)})`));
		});
	}

	/** What the peer wrote to stderr so far. */
	get stderr(): string {
		return this.#stderr;
	}

	/** Sends one command line. */
	send(command: Record<string, unknown>): void {
		this.child.stdin!.write(`${JSON.stringify(command)}\n`);
	}

	/** Resolves with the next not yet returned event named `name`; rejects on timeout or when the peer dies first. */
	async next(name: string, timeout = 10_000): Promise<PeerEvent> {
		const index = this.#consumed.get(name) ?? 0;
		const found = this.events.filter(event => event.event === name)[index];
		if (found !== undefined) {
			this.#consumed.set(name, index + 1);
			return found;
		}

		if (this.#failure !== null) {
			throw this.#describe(this.#failure, name);
		}

		return new Promise<PeerEvent>((resolve, reject) => {
			const waiter: Waiter = {
				name,
				resolve: event => {
					this.#consumed.set(name, index + 1);
					resolve(event);
				},
				reject,
				timer: setTimeout(() => {
					this.#waiters.delete(waiter);
					reject(this.#describe(new Error(`${this.name}: timed out after ${timeout} ms`), name));
				}, timeout),
			};
			this.#waiters.add(waiter);
		});
	}

	/** Resolves with the exit code once the process has exited; bounded. */
	async exited(timeout = 10_000): Promise<number | null> {
		const {child} = this;
		if (child.exitCode !== null || child.signalCode !== null) {
			return child.exitCode;
		}

		return new Promise<number | null>((resolve, reject) => {
			const timer = setTimeout(() => {
				reject(new Error(`${this.name} did not exit within ${timeout} ms`));
			}, timeout);
			child.once('exit', code => {
				clearTimeout(timer);
				resolve(code);
			});
		});
	}

	/** Kills the process by its PID, if it is still running. */
	kill(): void {
		const {child} = this;
		for (const waiter of this.#waiters) {
			clearTimeout(waiter.timer);
		}

		this.#waiters.clear();
		child.stdin?.end();
		if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
			try {
				process.kill(child.pid, 'SIGKILL');
			} catch {
				// Already gone.
			}
		}
	}

	#describe(error: Error, name: string): Error {
		const events = this.events.map(event => JSON.stringify(event)).join('\n  ');
		return new Error(
			`${error.message} (waiting for "${name}")\n events:\n  ${events}\n stderr:\n  ${this.#stderr.trim().replaceAll('\n', '\n  ')}`,
		);
	}

	#fail(error: Error): void {
		this.#failure ??= error;
		for (const waiter of this.#waiters) {
			clearTimeout(waiter.timer);
			waiter.reject(this.#describe(error, waiter.name));
		}

		this.#waiters.clear();
	}

	#onStdout(chunk: string): void {
		const lines = (this.#stdoutRest + chunk).split('\n');
		this.#stdoutRest = lines.pop() ?? '';
		for (const line of lines) {
			if (line.trim() === '') {
				continue;
			}

			let event: PeerEvent;
			try {
				event = JSON.parse(line) as PeerEvent;
			} catch {
				event = {event: 'garbage', line};
			}

			this.events.push(event);
			for (const waiter of this.#waiters) {
				if (waiter.name === event.event) {
					clearTimeout(waiter.timer);
					this.#waiters.delete(waiter);
					waiter.resolve(event);
					break;
				}
			}
		}
	}
}
