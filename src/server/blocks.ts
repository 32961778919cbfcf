// Who blocks whom (protocol.md §4.7): read on every direct message, offer, group invitation and
// friend request, so each recipient's list is cached for a moment. A change made on this node is
// seen at once; one made on another node of a cluster within BLOCKS_TTL_MS.
import type { Store } from '../store/store.js';

/** How long a recipient's block list is trusted before it is read again. */
export const BLOCKS_TTL_MS = 1000;
/** Most users one user may block (each list is held in memory while cached). */
export const MAX_BLOCKS = 1000;
/** Most lists cached (cleared when full, as knownUsers is). */
const MAX_CACHED = 10_000;

export class Blocks {
  readonly #store: Store;
  readonly #now: () => number;
  readonly #cache = new Map<string, { users: ReadonlySet<string>; until: number }>();

  constructor(store: Store, now: () => number) {
    this.#store = store;
    this.#now = now;
  }

  /** True if `user` blocks `other` (both canonical names). */
  async has(user: string, other: string): Promise<boolean> {
    const cached = this.#cache.get(user);
    if (cached && cached.until > this.#now()) return cached.users.has(other);
    const users = new Set((await this.#store.blocks(user)).map((b) => b.user));
    if (this.#cache.size >= MAX_CACHED) this.#cache.clear();
    this.#cache.set(user, { users, until: this.#now() + BLOCKS_TTL_MS });
    return users.has(other);
  }

  /** `user` changed its list on this node: read it again next time. */
  changed(user: string): void {
    this.#cache.delete(user);
  }
}
