// LocalBus: the in-process default. Several servers in one process may share one LocalBus,
// which is how the multi-node tests exercise the routing without Redis. A node that closes
// its LocalBus membership is reported as node_down to the others, as a dead node would be.
import type { Bus, BusHandler, BusMessage, NodeInfo } from './bus.js';

export interface LocalBusOptions {
  /** A handler that threw (reported, and the others still get the message). Default: stderr. */
  onError?: (err: Error) => void;
}

export class LocalBus implements Bus {
  #handlers = new Set<BusHandler>();
  #nodes = new Map<string, { stats: () => { connections: number }; startedAt: number }>();
  readonly #onError: (err: Error) => void;

  constructor(options: LocalBusOptions = {}) {
    this.#onError = options.onError ?? ((err) => console.error(`bus: ${err.message}`));
  }

  /** Calls every handler; one that throws is reported and does not stop the others (as RedisBus). */
  async publish(message: BusMessage): Promise<void> {
    for (const handler of [...this.#handlers]) {
      try {
        handler(message);
      } catch (err) {
        this.#onError(err as Error);
      }
    }
  }

  subscribe(handler: BusHandler): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  async join(node: string, stats: () => { connections: number }): Promise<void> {
    this.#nodes.set(node, { stats, startedAt: Date.now() });
  }

  /** Ends `node`'s membership (its server stopped); the others see node_down. */
  async leave(node: string): Promise<void> {
    if (this.#nodes.delete(node)) await this.publish({ kind: 'node_down', node });
  }

  async nodes(): Promise<NodeInfo[]> {
    const now = Date.now();
    return [...this.#nodes]
      .map(([node, n]) => ({ node, connections: n.stats().connections, startedAt: n.startedAt, seenAt: now }))
      .sort((a, b) => a.node.localeCompare(b.node));
  }

  async close(): Promise<void> {
    this.#handlers.clear();
    this.#nodes.clear();
  }
}
