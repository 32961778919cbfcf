// Abuse limits kept in memory: attempts per key counted when they arrive (AttemptLimiter) and
// token buckets (the common TokenBucket, one per key in a BucketMap).
import { TokenBucket } from '../common/token-bucket.js';

export interface AttemptLimits {
  /** Failures (finished or still in flight) a key may have before it must wait. */
  maxFailures: number;
  /** How long failures are remembered after the last one, and the longest wait, in ms. */
  windowMs: number;
  /** The first wait past maxFailures, in ms; it doubles with each further failure. @default 1000 */
  backoffMs?: number;
}

interface Attempts {
  failures: number;
  inFlight: number;
  lastFailure: number;
  /** No attempt before this (0: none set). */
  nextAt: number;
}

/**
 * Attempts per key ("alice@203.0.113.0/24"), counted when they ARRIVE: an attempt still in flight
 * counts as a failure, so parallel guesses cannot all be evaluated before the first failure is
 * recorded. Past maxFailures a key waits with exponential backoff (never a fixed lockout), and
 * then only one attempt at a time is evaluated.
 */
export class AttemptLimiter {
  #byKey = new Map<string, Attempts>();
  readonly #backoffMs: number;

  constructor(readonly limits: AttemptLimits) {
    this.#backoffMs = limits.backoffMs ?? 1000;
  }

  /** ms until `key` may try (0: now); does not count anything. */
  waitFor(key: string, now: number): number {
    const a = this.#live(key, now);
    if (!a || a.failures + a.inFlight < this.limits.maxFailures) return 0;
    if (a.nextAt > now) return a.nextAt - now;
    return a.inFlight > 0 ? this.#backoffMs : 0;
  }

  /** Counts an attempt in flight; call exactly one of fail, succeed or release for it later. */
  begin(key: string, now: number): void {
    let a = this.#live(key, now);
    if (!a) this.#byKey.set(key, (a = { failures: 0, inFlight: 0, lastFailure: now, nextAt: 0 }));
    a.inFlight++;
    if (this.#byKey.size > 100_000) this.#prune(now);
  }

  /** The attempt failed: it stays counted, and past the limit the key waits (doubling). */
  fail(key: string, now: number): void {
    const a = this.#end(key);
    if (!a) return;
    a.failures++;
    a.lastFailure = now;
    const over = a.failures - this.limits.maxFailures;
    if (over >= 0) a.nextAt = now + Math.min(this.#backoffMs * 2 ** Math.min(over, 30), this.limits.windowMs);
  }

  /** The attempt succeeded: the key's failures are forgotten. */
  succeed(key: string): void {
    const a = this.#end(key);
    if (a && a.inFlight === 0) this.#byKey.delete(key);
    else if (a) a.failures = 0;
  }

  /** The attempt neither failed nor succeeded (e.g. an internal error): it stops counting. */
  release(key: string): void {
    const a = this.#end(key);
    if (a && a.inFlight === 0 && a.failures === 0) this.#byKey.delete(key);
  }

  /** Failures recorded for `key` in its window. */
  failures(key: string, now: number): number {
    return this.#live(key, now)?.failures ?? 0;
  }

  #end(key: string): Attempts | undefined {
    const a = this.#byKey.get(key);
    if (a && a.inFlight > 0) a.inFlight--;
    return a;
  }

  #live(key: string, now: number): Attempts | undefined {
    const a = this.#byKey.get(key);
    if (a && a.inFlight === 0 && now - a.lastFailure > this.limits.windowMs && a.nextAt <= now) {
      this.#byKey.delete(key);
      return undefined;
    }
    return a;
  }

  #prune(now: number): void {
    for (const key of [...this.#byKey.keys()]) this.#live(key, now);
  }
}

/**
 * One token bucket per key (a user, a sender → recipient pair, a network). Buckets that refilled
 * are forgotten when the map grows past `maxKeys`, so memory stays bounded while a key that is
 * still limited keeps its state (a reconnect does not refill it).
 */
export class BucketMap {
  #byKey = new Map<string, TokenBucket>();

  constructor(readonly rate: number, readonly burst: number, readonly maxKeys = 100_000) {}

  /** Takes `n` tokens from `key`'s bucket; false if it has fewer. */
  take(key: string, now: number, n = 1): boolean {
    let bucket = this.#byKey.get(key);
    if (!bucket) {
      if (this.#byKey.size >= this.maxKeys) this.#prune(now);
      this.#byKey.set(key, (bucket = new TokenBucket(this.rate, this.burst, () => now)));
    }
    return bucket.tryTake(n, now);
  }

  /** Keys held. */
  get size(): number {
    return this.#byKey.size;
  }

  #prune(now: number): void {
    for (const [key, bucket] of this.#byKey) if (bucket.full(now)) this.#byKey.delete(key);
    // Still full of limited keys: the oldest tenth goes (insertion order), so the map stays bounded.
    let drop = this.#byKey.size >= this.maxKeys ? Math.ceil(this.maxKeys / 10) : 0;
    for (const key of this.#byKey.keys()) {
      if (drop-- <= 0) break;
      this.#byKey.delete(key);
    }
  }
}
