// What one user may take of the relay (protocol.md §4.8): pairs open at once and bytes per
// window, counted against the sender of the relayed transfer, whichever connection moves them.
import { ProtocolError } from '../protocol/errors.js';
import { duration, mib } from './units.js';

export interface QuotaLimits {
  /** Relayed pairs of one user's transfers open at once. */
  pairsPerUser: number;
  /** Bytes relayed for one user per window (both directions); 0 = unlimited. */
  bytesPerUser: number;
  /** The window of bytesPerUser, in ms. */
  windowMs: number;
}

interface Use {
  pairs: number;
  bytes: number;
  windowStart: number;
}

export class RelayQuota {
  readonly #limits: QuotaLimits;
  readonly #users = new Map<string, Use>();

  constructor(limits: QuotaLimits) {
    this.#limits = limits;
  }

  /** Throws `limit_reached` if `user` may not open another pair now. */
  check(user: string, now: number): void {
    const use = this.#current(user, now);
    if (!use) return;
    if (use.pairs >= this.#limits.pairsPerUser) {
      throw new ProtocolError('limit_reached', `${user} already has ${this.#limits.pairsPerUser} relayed transfers open; try again when one ends`, { fatal: true });
    }
    if (this.#spent(use)) throw this.#budgetError(user);
  }

  /** Counts a new pair of `user` (after check()). */
  open(user: string, now: number): void {
    const use = this.#current(user, now) ?? { pairs: 0, bytes: 0, windowStart: now };
    use.pairs++;
    this.#users.set(user, use);
  }

  close(user: string, now: number): void {
    const use = this.#users.get(user);
    if (!use) return;
    use.pairs--;
    if (use.pairs <= 0 && (use.bytes === 0 || now - use.windowStart >= this.#limits.windowMs)) this.#users.delete(user);
  }

  /** Counts `n` relayed bytes for `user`; false once its budget is used up. */
  spend(user: string, n: number, now: number): boolean {
    const use = this.#current(user, now);
    if (!use) return true; // not open: nothing to count against
    use.bytes += n;
    return !this.#spent(use);
  }

  /** The message for a user whose byte budget is used up. */
  #budgetError(user: string): ProtocolError {
    const { bytesPerUser, windowMs } = this.#limits;
    return new ProtocolError(
      'limit_reached',
      `${user} has used the relay's ${mib(bytesPerUser)} per ${duration(windowMs)}; try again later or connect directly`,
      { fatal: true },
    );
  }

  #spent(use: Use): boolean {
    return this.#limits.bytesPerUser > 0 && use.bytes >= this.#limits.bytesPerUser;
  }

  // This user's record, its window restarted if it ran out.
  #current(user: string, now: number): Use | undefined {
    const use = this.#users.get(user);
    if (use && now - use.windowStart >= this.#limits.windowMs) {
      use.bytes = 0;
      use.windowStart = now;
    }
    return use;
  }

  /** Users with a record (open pairs or bytes in the current window). */
  get size(): number {
    return this.#users.size;
  }

  /** Forgets users with no open pair whose window is over. */
  prune(now: number): void {
    for (const [user, use] of this.#users) if (use.pairs <= 0 && now - use.windowStart >= this.#limits.windowMs) this.#users.delete(user);
  }
}
