// This node's live connections, and which of them listen for each user.
import type { Connection } from './connection.js';

export class Registry {
  readonly all = new Set<Connection>();
  #listeners = new Map<string, Set<Connection>>();

  /** Adds a subscribed connection; true if it is the user's first on this node. */
  listen(conn: Connection): boolean {
    const user = conn.user!;
    let set = this.#listeners.get(user);
    if (!set) this.#listeners.set(user, (set = new Set()));
    set.add(conn);
    return set.size === 1;
  }

  /** Removes a connection; true if it was the user's last listening one on this node. */
  remove(conn: Connection): boolean {
    this.all.delete(conn);
    const set = conn.user ? this.#listeners.get(conn.user) : undefined;
    if (!set?.delete(conn)) return false;
    if (set.size > 0) return false;
    this.#listeners.delete(conn.user!);
    return true;
  }

  /** The listening connections of `user` on this node. */
  listenersOf(user: string): Iterable<Connection> {
    return this.#listeners.get(user) ?? [];
  }

  /** Users with a listening connection on this node. */
  users(): string[] {
    return [...this.#listeners.keys()];
  }

  /** Every listening connection on this node. */
  *listeners(): Iterable<Connection> {
    for (const set of this.#listeners.values()) yield* set;
  }
}
