// Token bucket for `limitRate` (bytes/s). Pure: the clock is injected, callers do the waiting.

/** Milliseconds since an arbitrary origin. */
export type Clock = () => number;

/** A token bucket that lets callers go into debt and tells them how long to wait it off. */
export class TokenBucket {
  readonly rate: number;
  readonly burst: number;
  #tokens: number;
  #last: number;
  #now: Clock;

  /** `rate` bytes per second; at most `burst` bytes may accumulate while idle. */
  constructor(rate: number, burst: number, now: Clock = () => performance.now()) {
    if (!(rate > 0) || !(burst > 0)) throw new RangeError('rate and burst must be positive');
    this.rate = rate;
    this.burst = burst;
    this.#now = now;
    this.#last = now();
    this.#tokens = burst;
  }

  /** Takes `n` tokens now; returns how many ms the caller must wait before using them (0 = go). */
  take(n: number): number {
    this.#refill();
    this.#tokens -= n;
    return this.#tokens >= 0 ? 0 : (-this.#tokens / this.rate) * 1000;
  }

  /** Tokens available now (negative while in debt). */
  get tokens(): number {
    this.#refill();
    return this.#tokens;
  }

  #refill(): void {
    const now = this.#now();
    const elapsed = Math.max(0, now - this.#last);
    this.#last = now;
    this.#tokens = Math.min(this.burst, this.#tokens + (elapsed * this.rate) / 1000);
  }
}

/** A bucket for `limitRate` (undefined when unlimited); the burst is one chunk or 1/10 s of traffic. */
export function rateBucket(limitRate: number | undefined, chunkBytes: number): TokenBucket | undefined {
  if (!limitRate || limitRate <= 0) return undefined;
  return new TokenBucket(limitRate, Math.max(chunkBytes, limitRate / 10));
}
