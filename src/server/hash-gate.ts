// Password hashing (scrypt, ~50 ms of a core and 16 MiB each) is the server's most expensive
// work that a stranger can ask for. The gate runs at most `concurrency` at once, lets one network
// hold at most `perKey` of them (running or queued), and refuses when `maxQueued` wait. Urgent
// work (an owner's login from a network it has used) goes before the rest, so a flood of
// registrations or guesses delays it by at most the hashes already running.
import { ProtocolError } from '../protocol/errors.js';

export interface HashGateLimits {
  /** Hashes computed at once. */
  concurrency: number;
  /** Hashes one key (a network) may have running or queued. */
  perKey: number;
  /** Hashes waiting at once, in all. */
  maxQueued: number;
}

export class HashGate {
  #running = 0;
  #peak = 0;
  #computed = 0;
  #queue: (() => void)[] = [];
  #urgent: (() => void)[] = [];
  #byKey = new Map<string, number>();

  constructor(readonly limits: HashGateLimits) {}

  /**
   * Runs `work` for `key` when a slot is free (`urgent` work first); throws rate_limited /
   * overloaded at once when over a bound.
   */
  async run<T>(key: string, work: () => Promise<T>, urgent = false): Promise<T> {
    const held = this.#byKey.get(key) ?? 0;
    if (held >= this.limits.perKey) {
      throw new ProtocolError('rate_limited', 'too many logins or registrations at once from your network; try again in a moment');
    }
    if (this.#running >= this.limits.concurrency && this.#queue.length + this.#urgent.length >= this.limits.maxQueued) {
      throw new ProtocolError('overloaded', 'the server is busy checking passwords; try again in a moment');
    }
    this.#byKey.set(key, held + 1);
    try {
      await this.#slot(urgent);
      try {
        return await work();
      } finally {
        this.#next();
      }
    } finally {
      const left = (this.#byKey.get(key) ?? 1) - 1;
      if (left > 0) this.#byKey.set(key, left);
      else this.#byKey.delete(key);
    }
  }

  /** Hashes running now, the most ever at once, and how many were started (for tests and stats). */
  get stats(): { running: number; peak: number; computed: number } {
    return { running: this.#running, peak: this.#peak, computed: this.#computed };
  }

  async #slot(urgent: boolean): Promise<void> {
    if (this.#running < this.limits.concurrency) {
      this.#running++;
    } else {
      await new Promise<void>((resolve) => (urgent ? this.#urgent : this.#queue).push(resolve));
    }
    this.#peak = Math.max(this.#peak, this.#running);
    this.#computed++;
  }

  // The slot passes straight to the next waiter, or frees up.
  #next(): void {
    const waiter = this.#urgent.shift() ?? this.#queue.shift();
    if (waiter) waiter();
    else this.#running--;
  }
}
