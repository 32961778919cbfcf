// Two peers of one transfer meet here, one of each role, first come first served: the relay pairs
// their sockets (protocol.md §4.8), the punch rendezvous tells each where the other is (§4.9).
import type { ProtocolError } from '../protocol/errors.js';
import type { RelayRole } from '../protocol/relay.js';

/** What a rendezvous needs of a waiting peer. */
export interface Waiter {
  /** True once its connection closed: it is skipped (and dropped) by the next arrival. */
  readonly closed: boolean;
}

export interface RendezvousOptions<P extends Waiter> {
  /** How long a peer waits for the other side, in ms. */
  waitMs: number;
  /** Peers waiting for one transfer at once; more are refused with `crowded()`. */
  maxWaiting: number;
  /** The error for a peer nobody came for. */
  late(): ProtocolError;
  crowded(): ProtocolError;
  /** Called once per pair, by the second arrival, before either join() resolves; if it throws, both reject with that. */
  meet(key: string, waiting: P, arriving: P): void;
}

interface Entry<P> {
  role: RelayRole;
  peer: P;
  resolve(): void;
  reject(err: unknown): void;
  timer: NodeJS.Timeout;
}

export class Rendezvous<P extends Waiter> {
  readonly #o: RendezvousOptions<P>;
  #waiting = new Map<string, Entry<P>[]>();

  constructor(options: RendezvousOptions<P>) {
    this.#o = options;
  }

  /** Resolves once a peer of the other role joined `key` (and meet() ran); rejects after waitMs. */
  join(key: string, role: RelayRole, peer: P): Promise<void> {
    return new Promise((resolve, reject) => {
      const queue = (this.#waiting.get(key) ?? []).filter((w) => !w.peer.closed);
      const other = queue.find((w) => w.role !== role);
      if (other) {
        queue.splice(queue.indexOf(other), 1);
        clearTimeout(other.timer);
        this.#set(key, queue);
        try {
          this.#o.meet(key, other.peer, peer);
        } catch (err) {
          other.reject(err);
          return reject(err);
        }
        other.resolve();
        resolve();
        return;
      }
      if (queue.length >= this.#o.maxWaiting) {
        this.#set(key, queue);
        return reject(this.#o.crowded());
      }
      const me: Entry<P> = {
        role,
        peer,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#set(key, (this.#waiting.get(key) ?? []).filter((w) => w !== me));
          reject(this.#o.late());
        }, this.#o.waitMs),
      };
      me.timer.unref();
      queue.push(me);
      this.#set(key, queue);
    });
  }

  #set(key: string, queue: Entry<P>[]): void {
    if (queue.length === 0) this.#waiting.delete(key);
    else this.#waiting.set(key, queue);
  }

  /** Forgets every waiting peer (their connections are being closed). */
  close(): void {
    for (const list of this.#waiting.values()) for (const w of list) clearTimeout(w.timer);
    this.#waiting.clear();
  }
}
