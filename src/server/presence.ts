// Who is online across all nodes, built only from the bus's presence messages.

export class Presence {
  #nodes = new Map<string, Set<string>>();

  /** Applies one node's change; returns true if the user's overall online state changed. */
  apply(node: string, user: string, online: boolean): boolean {
    let nodes = this.#nodes.get(user);
    const wasOnline = nodes !== undefined && nodes.size > 0;
    if (online) {
      if (!nodes) this.#nodes.set(user, (nodes = new Set()));
      nodes.add(node);
    } else if (nodes) {
      nodes.delete(node);
      if (nodes.size === 0) this.#nodes.delete(user);
    }
    return wasOnline !== this.isOnline(user);
  }

  isOnline(user: string): boolean {
    return (this.#nodes.get(user)?.size ?? 0) > 0;
  }

  /** Users online through `node`. */
  usersOf(node: string): string[] {
    return [...this.#nodes].filter(([, nodes]) => nodes.has(node)).map(([user]) => user);
  }

  /** Online user names, sorted. */
  online(): string[] {
    return [...this.#nodes.keys()].sort();
  }
}
