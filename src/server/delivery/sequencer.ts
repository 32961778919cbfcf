// Puts each conversation's messages back in order as they arrive from the bus. Nodes announce
// concurrently, so message 7 of a conversation may arrive before its predecessor 5 (stored on
// another node a moment earlier). Each announcement names its predecessor (`prev`, from the
// store); a message whose predecessor has not been passed on yet waits for it, at most `holdMs`
// (its node may have died after storing it: then the waiting ones go on, and the predecessor, if
// it comes later, goes on late). Nothing is dropped: a connection ignores what it already got.
import type { MessageOrder } from '../../store/store.js';

interface Held<T> {
  item: T;
  id: number;
}

interface Waiting<T> {
  /** Held messages by the id of the message they wait for. */
  byPrev: Map<number, Held<T>>;
  timer: NodeJS.Timeout;
}

export interface SequencerOptions {
  /** Longest a message waits for its predecessor (default 1000 ms). */
  holdMs?: number;
  /** Conversations whose last id is remembered (least recently used forgotten first; default 100,000). */
  maxConversations?: number;
}

export class Sequencer<T> {
  readonly #pass: (item: T) => void;
  readonly #holdMs: number;
  readonly #maxConversations: number;
  /** Per conversation, the newest id passed on (Map order = least recently used first). */
  readonly #last = new Map<string, number>();
  readonly #waiting = new Map<string, Waiting<T>>();

  constructor(pass: (item: T) => void, opts: SequencerOptions = {}) {
    this.#pass = pass;
    this.#holdMs = opts.holdMs ?? 1000;
    this.#maxConversations = opts.maxConversations ?? 100_000;
  }

  /** Passes `item` (message `id`) on now, or once its predecessor has been; at once without `order`. */
  accept(item: T, id: number, order?: MessageOrder): void {
    if (!order) return this.#pass(item);
    const { conversation, prev } = order;
    const last = this.#last.get(conversation);
    // Held only when its predecessor is newer than what was passed on: it is still to come.
    if (last !== undefined && prev > last && id > last) return this.#hold(conversation, prev, { item, id });
    // The next one, the first seen (a node that just started), or late: now.
    this.#passInOrder(conversation, { item, id });
  }

  /** Passes on everything held (the server is stopping). */
  flush(): void {
    for (const conversation of [...this.#waiting.keys()]) this.#release(conversation);
  }

  #passInOrder(conversation: string, held: Held<T>): void {
    this.#pass(held.item);
    let id = Math.max(held.id, this.#last.get(conversation) ?? 0);
    // Whatever waited for it, and for that, and so on.
    const waiting = this.#waiting.get(conversation);
    for (let next = waiting?.byPrev.get(id); next; next = waiting!.byPrev.get(id)) {
      waiting!.byPrev.delete(id);
      this.#pass(next.item);
      id = next.id;
    }
    if (waiting && waiting.byPrev.size === 0) {
      clearTimeout(waiting.timer);
      this.#waiting.delete(conversation);
    }
    this.#remember(conversation, id);
  }

  #hold(conversation: string, prev: number, item: Held<T>): void {
    let waiting = this.#waiting.get(conversation);
    if (!waiting) {
      waiting = { byPrev: new Map(), timer: setTimeout(() => this.#release(conversation), this.#holdMs) };
      waiting.timer.unref();
      this.#waiting.set(conversation, waiting);
    }
    waiting.byPrev.set(prev, item);
  }

  /** The predecessor did not come in time: pass on what waited, in id order. */
  #release(conversation: string): void {
    const waiting = this.#waiting.get(conversation);
    if (!waiting) return;
    clearTimeout(waiting.timer);
    this.#waiting.delete(conversation);
    const held = [...waiting.byPrev.values()].sort((a, b) => a.id - b.id);
    for (const h of held) this.#pass(h.item);
    this.#remember(conversation, Math.max(held[held.length - 1]!.id, this.#last.get(conversation) ?? 0));
  }

  #remember(conversation: string, id: number): void {
    this.#last.delete(conversation); // re-inserted: now the most recently used
    this.#last.set(conversation, id);
    if (this.#last.size > this.#maxConversations) this.#last.delete(this.#last.keys().next().value!);
  }
}
