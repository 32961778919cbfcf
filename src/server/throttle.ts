// Abuse limits kept in memory: failed logins per user and per address (a growing delay, then a
// temporary block) and a token bucket per connection for messages.

export interface FailureLimits {
  /** Failures that block the key. */
  maxFailures: number;
  /** Longest delay before answering a failure, in ms. */
  maxDelayMs: number;
  /** How long failures are remembered, and how long a block lasts, in ms. */
  windowMs: number;
}

interface Failures {
  count: number;
  since: number;
  blockedUntil: number;
}

/** Failed attempts per key ("user:alice", "addr:203.0.113.7"). */
export class FailureThrottle {
  #byKey = new Map<string, Failures>();

  constructor(readonly limits: FailureLimits) {}

  /** ms until `key` may try again (0: now). */
  blockedFor(key: string, now: number): number {
    const f = this.#byKey.get(key);
    return f && f.blockedUntil > now ? f.blockedUntil - now : 0;
  }

  /** Records a failure; returns how long to delay the answer (doubles with each failure, up to maxDelayMs). */
  fail(key: string, now: number): number {
    let f = this.#byKey.get(key);
    if (!f || now - f.since > this.limits.windowMs) this.#byKey.set(key, (f = { count: 0, since: now, blockedUntil: 0 }));
    f.count++;
    if (f.count >= this.limits.maxFailures) f.blockedUntil = now + this.limits.windowMs;
    if (this.#byKey.size > 100_000) this.#prune(now);
    return Math.min(100 * 2 ** (f.count - 1), this.limits.maxDelayMs);
  }

  succeed(key: string): void {
    this.#byKey.delete(key);
  }

  #prune(now: number): void {
    for (const [key, f] of this.#byKey) if (now - f.since > this.limits.windowMs && f.blockedUntil <= now) this.#byKey.delete(key);
  }
}

/** A token bucket: `rate` per second, `burst` at most. */
export class RateBucket {
  #tokens: number;
  #at: number;

  constructor(readonly rate: number, readonly burst: number, now: number) {
    this.#tokens = burst;
    this.#at = now;
  }

  /** Takes one token; false if there is none. */
  take(now: number): boolean {
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#at) * this.rate) / 1000);
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
