// LocalBus: the in-process default. Several servers in one process may share one LocalBus,
// which is how the multi-node tests exercise the routing without Redis.
import type { Bus, BusHandler, BusMessage } from './bus.js';

export class LocalBus implements Bus {
  #handlers = new Set<BusHandler>();

  async publish(message: BusMessage): Promise<void> {
    for (const handler of [...this.#handlers]) handler(message);
  }

  subscribe(handler: BusHandler): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  async close(): Promise<void> {
    this.#handlers.clear();
  }
}
