// Pings waiting for their Pong: round-trip times for the connection's `latency` and `ping()` promises (RFC 6455 §5.5.3).

import type {LongTimer} from './timer.ts';

/** How a `ping()` promise is settled. */
export interface PingSettle {
	resolve(milliseconds: number): void;
	reject(error: Error): void;
}

interface PendingPing {
	/** The payload as a latin1 string: one character per byte, so equal keys mean equal bytes. */
	readonly key: string;
	readonly sentAt: number;
	/** `null` for a keepalive ping, which only measures. */
	readonly settle: PingSettle | null;
	timer: LongTimer | null;
}

/** Unanswered keepalive pings kept for measuring; older ones are forgotten (a peer that never answers cannot grow the list). */
const MAX_UNANSWERED = 16;

/**
 * The pings a connection sent and has no Pong for, in sending order. RFC 6455 §5.5.3: a peer may
 * answer only the most recent Ping, so a Pong answers the first pending ping with its payload and
 * every ping sent before it; each is settled with its own round trip.
 */
export class PingTracker {
	readonly #pending: PendingPing[] = [];

	/** Pings still waiting for a Pong. */
	get size(): number {
		return this.#pending.length;
	}

	/** A ping was sent now with `payload`; `settle` (a `ping()` promise) and `timer` (its pong timeout) are optional. */
	add(payload: Buffer, settle: PingSettle | null, timer: LongTimer | null): void {
		const pending = this.#pending;
		if (settle === null && pending.length >= MAX_UNANSWERED) {
			const oldest = pending.findIndex(entry => entry.settle === null);
			if (oldest !== -1) {
				pending.splice(oldest, 1);
			}
		}

		pending.push({key: payload.toString('latin1'), sentAt: performance.now(), settle, timer});
	}

	/**
	 * A Pong with `payload` arrived: settles the first pending ping with that payload and those sent
	 * before it. Returns the matching ping's round trip in milliseconds, or -1 when none matches.
	 */
	answer(payload: Buffer): number {
		const pending = this.#pending;
		if (pending.length === 0) {
			return -1;
		}

		const key = payload.toString('latin1');
		const index = pending.findIndex(entry => entry.key === key);
		if (index === -1) {
			return -1;
		}

		const now = performance.now();
		const answered = pending.splice(0, index + 1);
		for (const entry of answered) {
			entry.timer?.clear();
			entry.settle?.resolve(now - entry.sentAt);
		}

		return now - answered[index]!.sentAt;
	}

	/** Forgets the ping settled by `settle` (its pong timeout passed); returns whether it was pending. */
	remove(settle: PingSettle): boolean {
		const index = this.#pending.findIndex(entry => entry.settle === settle);
		if (index === -1) {
			return false;
		}

		this.#pending[index]!.timer?.clear();
		this.#pending.splice(index, 1);
		return true;
	}

	/** Stops the pong timeouts; the pings stay pending (a Close was sent, or keepalive-pong-timeout set to 0). */
	clearTimers(): void {
		for (const entry of this.#pending) {
			entry.timer?.clear();
			entry.timer = null;
		}
	}

	/** Rejects every pending `ping()` with `error` and forgets them all (the connection is closing). */
	rejectAll(error: Error): void {
		const pending = this.#pending.splice(0);
		for (const entry of pending) {
			entry.timer?.clear();
			entry.settle?.reject(error);
		}
	}
}
