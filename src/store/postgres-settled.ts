// The settled-id watermark of PostgresStore: the highest message id n such that every message
// with an id ≤ n is committed or never will be. Conversations insert concurrently, so ids do not
// become visible in order (10 may commit after 11); a delivery cursor must never pass an id that
// can still appear, or a device that acknowledged 11 would never be sent 10.
//
// How: a writer gets its transaction id before it draws message ids (chat_add_messages). Each
// tick reads the id sequence's newest value L and the transaction ids running in the database.
// A writer that drew an id ≤ L(tick i-1) had its transaction id before that read, so at tick i it
// is either finished or among tick i's running ids R(i). Once a later tick sees none of R(i)
// running, every id ≤ L(i-1) is settled. Snapshots cannot be used for this: their xmax is the
// newest *completed* id + 1, so a running writer can be above it and missing from the snapshot.
// Ticks run only while someone waits (an ack), at most every TICK_MS.

/** One tick's reading: the newest id drawn, and the transaction ids running. */
export interface Reading {
  last: number;
  running: string[];
}

interface Waiter {
  target: number;
  /** The newest id drawn when the wait began: ids above it need not settle for this waiter. */
  cap?: number;
  resolve: (settled: number) => void;
  timer: NodeJS.Timeout;
}

const TICK_MS = 4;

/** Most readings waiting for their running transactions to end. */
const MAX_CANDIDATES = 256;

export class SettledIds {
  readonly #read: () => Promise<Reading>;
  #settled = 0;
  /** L of the previous tick, not yet paired with a later tick's running set. */
  #previousLast: number | undefined;
  /** Ids that settle once none of `running` is running any more. */
  #candidates: { upTo: number; running: Set<string> }[] = [];
  #waiters = new Set<Waiter>();
  #ticking = false;
  #onError: (err: Error) => void;

  constructor(read: () => Promise<Reading>, onError: (err: Error) => void) {
    this.#read = read;
    this.#onError = onError;
  }

  /**
   * Resolves with the watermark once it is ≥ `target` (or ≥ the newest id drawn, if that is
   * lower), or after `timeoutMs` with whatever is settled by then.
   */
  atLeast(target: number, timeoutMs: number): Promise<number> {
    if (this.#settled >= target) return Promise.resolve(this.#settled);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        target,
        resolve,
        timer: setTimeout(() => this.#finish(waiter), timeoutMs),
      };
      this.#waiters.add(waiter);
      if (!this.#ticking) void this.#tickWhileWaited();
    });
  }

  /** Resolves every waiter with what is settled now (the store is closing). */
  stop(): void {
    for (const w of this.#waiters) this.#finish(w);
  }

  #finish(w: Waiter): void {
    clearTimeout(w.timer);
    this.#waiters.delete(w);
    w.resolve(this.#settled);
  }

  async #tickWhileWaited(): Promise<void> {
    this.#ticking = true;
    try {
      while (this.#waiters.size > 0) {
        const started = Date.now();
        try {
          this.#apply(await this.#read());
        } catch (err) {
          this.#onError(err as Error);
          this.#previousLast = undefined; // a failed read breaks the chain of ticks
        }
        const rest = TICK_MS - (Date.now() - started);
        if (this.#waiters.size > 0 && rest > 0) await new Promise((r) => setTimeout(r, rest));
      }
    } finally {
      this.#ticking = false;
    }
  }

  #apply({ last, running }: Reading): void {
    const now = new Set(running);
    this.#candidates = this.#candidates.filter((c) => {
      for (const xid of c.running) if (now.has(xid)) return true;
      this.#settled = Math.max(this.#settled, c.upTo);
      return false;
    });
    if (this.#previousLast !== undefined) {
      if (now.size === 0) this.#settled = Math.max(this.#settled, this.#previousLast);
      // Bounded (a transaction running for hours): skipping one only delays the watermark.
      else if (this.#candidates.length < MAX_CANDIDATES) this.#candidates.push({ upTo: this.#previousLast, running: now });
    }
    this.#previousLast = last;
    for (const w of this.#waiters) {
      w.cap ??= last;
      if (this.#settled >= Math.min(w.target, w.cap)) this.#finish(w);
    }
  }
}
