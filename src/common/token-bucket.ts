// The one token bucket: rates of bytes (--limit-rate) and of attempts (the server's limits).
// Pure: the clock is injected (or each call passes `now`), callers do any waiting.

/** Milliseconds since an arbitrary origin. */
export type Clock = () => number;

export class TokenBucket {
  readonly rate: number;
  readonly burst: number;
  #tokens: number;
  #last: number;
  #now: Clock;

  /** `rate` tokens per second; at most `burst` accumulate while idle; starts full. */
  constructor(rate: number, burst: number, now: Clock = () => performance.now()) {
    if (!(rate > 0) || !(burst > 0)) throw new RangeError('rate and burst must be positive');
    this.rate = rate;
    this.burst = burst;
    this.#now = now;
    this.#last = now();
    this.#tokens = burst;
  }

  /** Takes `n` tokens, going into debt if need be; how many ms the caller must wait before using them (0: go). */
  take(n: number, now = this.#now()): number {
    this.#refill(now);
    this.#tokens -= n;
    return this.#tokens >= 0 ? 0 : (-this.#tokens / this.rate) * 1000;
  }

  /** Takes `n` tokens if there are that many; false, taking none, if not (a refused attempt). */
  tryTake(n: number, now = this.#now()): boolean {
    this.#refill(now);
    if (this.#tokens < n) return false;
    this.#tokens -= n;
    return true;
  }

  /** True if the bucket is full (it can be forgotten: a new one starts full). */
  full(now = this.#now()): boolean {
    this.#refill(now);
    return this.#tokens >= this.burst;
  }

  /** Tokens available now (negative while in debt). */
  get tokens(): number {
    this.#refill(this.#now());
    return this.#tokens;
  }

  #refill(now: number): void {
    const elapsed = Math.max(0, now - this.#last);
    this.#last = Math.max(this.#last, now);
    this.#tokens = Math.min(this.burst, this.#tokens + (elapsed * this.rate) / 1000);
  }
}
