// What one account may send (docs/security.md "Messages"): rates per user over all its
// connections and devices (a reconnect does not refill them), a rate per sender → recipient, and
// a quota on what waits for a recipient that none of its devices has received (like ejabberd's
// max_user_offline_messages), so nobody can fill the database or a victim's next backlog.
import { ProtocolError } from '../protocol/errors.js';
import type { Store } from '../store/store.js';
import type { ServerLimits } from './options.js';
import { BucketMap } from './throttle.js';
import { mib } from './units.js';

/** How long a recipient's counted backlog is trusted before it is read again (other nodes add to it too). */
const BACKLOG_FRESH_MS = 30_000;
const MAX_TRACKED = 100_000;

interface Backlog {
  count: number;
  bytes: number;
  readAt: number;
}

export class SendLimits {
  readonly #limits: ServerLimits;
  readonly #store: Store;
  readonly #messages: BucketMap;
  readonly #bytes: BucketMap;
  readonly #pairs: BucketMap;
  /** recipient → what waits for it, counted from the store and then by this node's sends. */
  readonly #backlog = new Map<string, Backlog | Promise<Backlog>>();

  constructor(limits: ServerLimits, store: Store) {
    this.#limits = limits;
    this.#store = store;
    this.#messages = new BucketMap(limits.messageRate, limits.messageBurst);
    this.#bytes = new BucketMap(limits.messageBytesRate, limits.messageBytesBurst);
    this.#pairs = new BucketMap(limits.recipientMessageRate, limits.recipientMessageBurst);
  }

  /** Takes a message of `bytes` from `user`'s rates; throws rate_limited, taking nothing, if over one. */
  takeMessage(user: string, bytes: number, now: number): void {
    const { messageRate, messageBytesRate } = this.#limits;
    if (!this.#messages.take(user, now)) throw new ProtocolError('rate_limited', `slow down: at most ${messageRate} messages per second`);
    if (!this.#bytes.take(user, now, bytes)) {
      throw new ProtocolError('rate_limited', `slow down: at most ${Math.round(messageBytesRate / 1024)} KiB of messages per second`);
    }
  }

  /**
   * Checks a direct message from `from` to `to` against the pair's rate and `to`'s backlog quota,
   * then counts it as waiting; throws rate_limited or limit_reached.
   */
  async takeDirect(from: string, to: string, bytes: number, now: number): Promise<void> {
    if (from === to) return; // notes to self and one's own devices: the user's own rates bound them
    if (!this.#pairs.take(`${from}\n${to}`, now)) {
      throw new ProtocolError('rate_limited', `slow down: at most ${this.#limits.recipientMessageRate} messages per second to ${to}`);
    }
    const waiting = await this.#read(to, now);
    const { maxBacklogMessages, maxBacklogBytes } = this.#limits;
    if (waiting.count + 1 > maxBacklogMessages || waiting.bytes + bytes > maxBacklogBytes) {
      throw new ProtocolError('limit_reached', `${to} has too many unread messages waiting (at most ${maxBacklogMessages}, ${mib(maxBacklogBytes)}); try again once they have read them`);
    }
    waiting.count++;
    waiting.bytes += bytes;
  }

  /** `user` acknowledged messages: its backlog is read from the store again on the next send. */
  acked(user: string): void {
    this.#backlog.delete(user);
  }

  async #read(user: string, now: number): Promise<Backlog> {
    const known = this.#backlog.get(user);
    if (known && (known instanceof Promise || now - known.readAt < BACKLOG_FRESH_MS)) return known;
    if (this.#backlog.size >= MAX_TRACKED) this.#backlog.clear();
    const limit = this.#limits.maxBacklogMessages + 1;
    // One read per recipient at a time; concurrent sends wait for it and then count on the result.
    const reading = this.#store.backlog(user, limit).then((b) => ({ ...b, readAt: now }));
    this.#backlog.set(user, reading);
    try {
      const read = await reading;
      if (this.#backlog.get(user) === reading) this.#backlog.set(user, read);
      return read;
    } catch (err) {
      if (this.#backlog.get(user) === reading) this.#backlog.delete(user);
      throw err;
    }
  }
}
