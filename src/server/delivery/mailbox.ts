// One Mailbox per subscribed device session (a connection that sent `subscribe`): what this
// device has been sent, and in what order. After socket.io's SessionAwareAdapter: the session's
// recovery (cursor, backlog replay, what was missed) lives here; the connection only writes bytes.
//
// The delivery rules (protocol.md §4.3, docs/cluster.md "Ordering of messages"):
//
// 1. Three ways in, one way out. Everything a subscribed connection is sent after `subscribe`
//    goes through its Mailbox:
//    - live events (messages, receipts, offers, group and friend events from the Router, i.e.
//      from the bus) through push(): sent now, or queued while a replay is in progress;
//    - presence changes through pushPresence(): all of a flush in one write, or queued (in order,
//      after the replay) while a replay is in progress;
//    - the backlog (what the store has after the session's cursor) through the replay itself.
//    Writing a live event straight to the connection would bypass the replay queue and the
//    dedupe below, and break exactly-once, in-order delivery (in a cluster first).
// 2. Exactly once. Every `message` event this mailbox writes is recorded (#delivered: id → the
//    order it was written in). A message that comes twice (the backlog and the bus, a refill and
//    the bus: the store makes a message readable before its publish reaches this node) is
//    dropped the second time.
// 3. In order per conversation. The Router hands a conversation's live messages over in id order
//    (its Sequencer). A replay (subscribe, refill) writes what the store has in id order while
//    live events wait in #queue, then writes the queued ones after it, minus what it carried.
// 4. Gap-free ack. Ids are not written in id order across conversations (nodes publish
//    concurrently; a refill brings what a bus lost). An ack of n therefore covers n and what was
//    written before it, and the session's cursor moves only up to the first stored message this
//    mailbox had not written by then (ack()): a device that drops before a late message arrives,
//    or before it processed it, gets it on its next connection. The store caps the cursor at ids
//    that are settled (no smaller id can still commit).
import { ProtocolError } from '../../protocol/errors.js';
import type { ChatMessage, ServerEvent, ServerFrame } from '../../protocol/messages.js';
import type { Store } from '../../store/store.js';
import type { ServerLimits } from '../options.js';

/** What a Mailbox needs of its connection: a writer with a bound, and who it is. */
export interface MailboxConnection {
  readonly id: string;
  readonly user: string;
  readonly sessionId: number;
  /** The connection is gone: nothing more is written. */
  readonly closed: boolean;
  /** Bytes written and not yet taken by the client. */
  readonly buffered: number;
  send(frame: ServerFrame, encoded?: Buffer): void;
  /** Replies with a (fatal) error and closes. */
  fail(err: ProtocolError): void;
  sendEncoded(frames: Buffer): void;
  drained(): Promise<void>;
}

/** Messages per backlog page read from the store. */
const BACKLOG_PAGE = 500;

const NO_OFFERS: ReadonlySet<string> = new Set();

export class Mailbox {
  readonly conn: MailboxConnection;
  readonly #store: Store;
  readonly #limits: ServerLimits;
  /** Messages written and not yet acknowledged: id → 1, 2, 3… in the order written (rule 4). */
  readonly #delivered = new Map<number, number>();
  #written = 0;
  /** Every message up to this id was written and acknowledged. */
  #floor = 0;
  /** While a replay runs, live events wait here, in order (rule 3); else null. */
  #queue: ServerEvent[] | null = null;

  constructor(conn: MailboxConnection, store: Store, limits: ServerLimits) {
    this.conn = conn;
    this.#store = store;
    this.#limits = limits;
  }

  /** A live event: written now, or after the replay in progress (rules 1, 3). */
  push(event: ServerEvent, encoded?: Buffer): void {
    if (this.#queue) return void this.#queue.push(event);
    this.#write(event, encoded);
    // What a device was sent is remembered until it acks: one that goes on taking live messages
    // and never acks is cut off (they stay stored for its next connection) instead of growing the
    // server's memory. A replay is bounded by the store's backlog and is not counted against it.
    if (this.#delivered.size > this.#limits.maxUnackedMessages) this.#tooManyUnacked();
  }

  /** Presence changes of one flush: one write (`all`), or queued after the replay in progress. */
  pushPresence(events: readonly ServerEvent[], all: Buffer): void {
    if (this.#queue) this.#queue.push(...events);
    else this.conn.sendEncoded(all);
  }

  /** Starts a replay: live events wait until finishReplay(). False if one is already running. */
  startReplay(): boolean {
    if (this.#queue) return false;
    this.#queue = [];
    return true;
  }

  /**
   * Writes the backlog: every stored message after the session's cursor, page by page, waiting
   * for the socket to drain between pages. Returns how many messages it read.
   */
  async replayBacklog(): Promise<number> {
    let cursor = (await this.#store.getSession(this.conn.sessionId))?.cursor ?? 0;
    let count = 0;
    for (;;) {
      const page = await this.#store.pendingMessages(this.conn.user, cursor, this.conn.sessionId, BACKLOG_PAGE);
      for (const message of page) {
        this.#writeMessage(message);
        // Well below maxBufferedBytes: a reading client must never look like a stalled one.
        if (this.conn.buffered > this.#limits.maxBufferedBytes / 4) await this.conn.drained();
        if (this.conn.closed) return count;
      }
      count += page.length;
      if (page.length > 0) cursor = page[page.length - 1]!.id;
      if (page.length < BACKLOG_PAGE || this.conn.closed) return count;
      await this.conn.drained();
    }
  }

  /** Writes an event of the replay (open offers, pending invitations) before the queued live ones. */
  replayEvent(event: ServerEvent): void {
    this.#write(event);
  }

  /**
   * Ends a replay: writes the live events that waited, minus what the replay carried (messages by
   * rule 2; the offers in `offered`, already written as open offers).
   */
  finishReplay(offered: ReadonlySet<string> = NO_OFFERS): void {
    const queued = this.#queue ?? [];
    this.#queue = null;
    for (const event of queued) {
      if (event.event === 'offer' && offered.has(event.data.id)) continue;
      this.#write(event);
    }
  }

  /**
   * Writes what the store has for this session that it was not written (the bus lost messages,
   * or a node died before publishing some). Live events wait meanwhile, so that each
   * conversation still arrives in id order. Does nothing while another replay runs.
   */
  async refill(): Promise<void> {
    if (!this.startReplay()) return;
    try {
      const cursor = (await this.#store.getSession(this.conn.sessionId))?.cursor ?? 0;
      for (const m of await this.#store.pendingMessages(this.conn.user, cursor, this.conn.sessionId, this.#limits.maxHistoryLimit)) {
        this.#writeMessage(m);
      }
    } finally {
      this.finishReplay();
    }
  }

  /**
   * The device acknowledges message `upTo` (rule 4): returns the id the session's cursor may move
   * to, from `before` (the cursor now): `upTo`, or less if a stored message had not been written
   * to it by the time `upTo` was. Forgets what that covers.
   */
  async gapFreeAck(before: number, upTo: number): Promise<number> {
    const delivered = this.#delivered;
    const covered = delivered.get(upTo) ?? Number.POSITIVE_INFINITY;
    // What it was written after `before`, and one more: enough to find the first it was not.
    let limit = 1;
    for (const id of delivered.keys()) if (id > before) limit++;
    limit = Math.min(limit, this.#limits.maxHistoryLimit);
    const pending = await this.#store.pendingMessages(this.conn.user, before, this.conn.sessionId, limit);
    // A full page may not reach upTo: then only as far as it was checked.
    let safe = pending.length === limit ? Math.min(upTo, pending[pending.length - 1]!.id) : upTo;
    for (const m of pending) {
      if (m.id > upTo) break;
      const sent = delivered.get(m.id);
      if (sent === undefined || sent > covered) {
        safe = m.id - 1;
        break;
      }
    }
    for (const id of delivered.keys()) if (id <= safe) delivered.delete(id);
    this.#floor = Math.max(this.#floor, safe);
    return safe;
  }

  /** Messages written and not yet acknowledged past. */
  get unacknowledged(): number {
    return this.#delivered.size;
  }

  /** Whether message `id` was written to this mailbox (and not yet acknowledged past). */
  wrote(id: number): boolean {
    return id <= this.#floor || this.#delivered.has(id);
  }

  #writeMessage(message: ChatMessage): void {
    this.#write({ type: 'event', event: 'message', data: message });
  }

  #tooManyUnacked(): void {
    const max = this.#limits.maxUnackedMessages;
    this.conn.fail(new ProtocolError('limit_reached', `more than ${max} messages sent and not acknowledged: send ack for what you have read (protocol.md §4.3)`, { fatal: true }));
  }

  /** The one place a mailbox writes: each message once (rule 2). */
  #write(event: ServerEvent, encoded?: Buffer): void {
    if (this.conn.closed) return;
    if (event.event === 'message') {
      const id = event.data.id;
      if (this.wrote(id)) return; // a refill and the bus both brought it
      this.#delivered.set(id, ++this.#written);
    }
    this.conn.send(event, encoded);
  }
}
