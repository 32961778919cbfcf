// The Router: the one owner of delivery between nodes, after socket.io's ClusterAdapter (the base
// routes, a bus backend only moves messages). It publishes deliveries (deliver), takes them back
// from the bus in each conversation's order (its Sequencer) and hands them to this node's
// Mailboxes; it batches presence changes, and refills the mailboxes from the store when the bus
// may have lost something (a failed publish, a bus outage, a node that died). The delivery rules
// themselves are written in mailbox.ts.
import type { Bus, BusMessage } from '../../bus/bus.js';
import { encodeEvent } from '../../protocol/encode-event.js';
import { encodeJsonFrame } from '../../protocol/frame.js';
import type { ServerEvent, ServerFrame } from '../../protocol/messages.js';
import type { MessageOrder, Store } from '../../store/store.js';
import type { ServerLimits } from '../options.js';
import { Mailbox, type MailboxConnection } from './mailbox.js';
import { Sequencer } from './sequencer.js';

/** How long presence changes are gathered before they go out together (see #flushPresence). */
const PRESENCE_FLUSH_MS = 50;

type Deliver = Extract<BusMessage, { kind: 'deliver' }>;

export interface RouterOptions {
  bus: Bus;
  store: Store;
  limits: ServerLimits;
  node: string;
  log(line: string): void;
}

export class Router {
  readonly #bus: Bus;
  readonly #store: Store;
  readonly #limits: ServerLimits;
  readonly #node: string;
  readonly #log: (line: string) => void;
  /** Keeps each conversation's messages from the bus in order (nodes publish concurrently). */
  readonly #sequencer = new Sequencer<Deliver>((m) => this.#deliverHere(m));
  /** This node's mailboxes by user, and by connection id. */
  readonly #byUser = new Map<string, Set<Mailbox>>();
  readonly #byConnection = new Map<string, Mailbox>();
  #presenceQueue: { event: ServerEvent; encoded: Buffer }[] = [];
  #presenceTimer: NodeJS.Timeout | null = null;
  /** A `deliver` failed to publish and no `refill` has gone out since. */
  #unpublished = false;

  constructor(options: RouterOptions) {
    this.#bus = options.bus;
    this.#store = options.store;
    this.#limits = options.limits;
    this.#node = options.node;
    this.#log = options.log;
  }

  /**
   * Opens a mailbox for a connection that subscribes, in replay (live events wait for its
   * backlog); `first`: it is the user's first on this node. Null if it has one already.
   */
  subscribe(conn: MailboxConnection): { mailbox: Mailbox; first: boolean } | null {
    if (this.#byConnection.has(conn.id)) return null;
    const mailbox = new Mailbox(conn, this.#store, this.#limits);
    mailbox.startReplay();
    this.#byConnection.set(conn.id, mailbox);
    let set = this.#byUser.get(conn.user);
    if (!set) this.#byUser.set(conn.user, (set = new Set()));
    set.add(mailbox);
    return { mailbox, first: set.size === 1 };
  }

  /** Closes a connection's mailbox; true if it was its user's last on this node. */
  unsubscribe(connectionId: string): boolean {
    const mailbox = this.#byConnection.get(connectionId);
    if (!mailbox) return false;
    this.#byConnection.delete(connectionId);
    const set = this.#byUser.get(mailbox.conn.user)!;
    set.delete(mailbox);
    if (set.size > 0) return false;
    this.#byUser.delete(mailbox.conn.user);
    return true;
  }

  /** The mailbox of a subscribed connection. */
  mailboxOf(connectionId: string): Mailbox | undefined {
    return this.#byConnection.get(connectionId);
  }

  /** Users with a mailbox on this node. */
  users(): string[] {
    return [...this.#byUser.keys()];
  }

  /** Pushes `event` to every mailbox of `users` on this node only (not through the bus). */
  pushHere(users: string[], event: ServerEvent): void {
    for (const user of users) for (const mailbox of this.#byUser.get(user) ?? []) mailbox.push(event);
  }

  /** A live event for one connection: through its mailbox if it subscribed, else written now. */
  pushTo(conn: { readonly id: string; send(frame: ServerFrame): void }, event: ServerEvent): void {
    const mailbox = this.#byConnection.get(conn.id);
    if (mailbox) mailbox.push(event);
    else conn.send(event);
  }

  /**
   * Pushes `event` to every mailbox of `users`, on every node, but the connection `except`. A
   * stored message goes with its `order` (from the store): every node hands each conversation's
   * messages to its mailboxes in id order. Never fails: what the bus cannot take now is stored
   * already, and every node refills its mailboxes from the store once the bus takes a publish.
   */
  async deliver(users: string[], event: ServerEvent, except?: string, order?: MessageOrder): Promise<void> {
    try {
      await this.#bus.publish({ kind: 'deliver', users: [...new Set(users)], event, exceptConnection: except, ...(order ? { order } : {}) });
    } catch (err) {
      this.#unpublished = true;
      this.#log(`bus: cannot deliver now (${(err as Error).message}); it will be sent on reconnect`);
      return;
    }
    if (this.#unpublished) void this.#askRefill(); // a publish failed without the bus dropping
  }

  /** The Router's part of a bus message (the server's #onBus passes every one here). */
  onBus(message: BusMessage): void {
    switch (message.kind) {
      case 'deliver':
        if (message.order && message.event.event === 'message') return this.#sequencer.accept(message, message.event.data.id, message.order);
        return this.#deliverHere(message);
      case 'reconnected':
        // Something may have been missed while the bus was away.
        if (this.#unpublished) void this.#askRefill();
        return this.refillAll();
      case 'refill':
        if (message.node !== this.#node) this.#log(`bus: ${message.node} stored messages it could not publish: refilling from the store`);
        return this.refillAll();
      case 'node_down':
        // It may have stored messages it died before publishing: its listeners' only way to them.
        if (message.node !== this.#node) this.refillAll();
        return;
      default:
        return;
    }
  }

  /** Sends every mailbox on this node what the store has for it that it was not sent. */
  refillAll(): void {
    for (const mailbox of this.#byConnection.values()) void mailbox.refill().catch((err: Error) => this.#log(`refill failed: ${err.message}`));
  }

  /** A user went online or offline: told to every mailbox with the next presence flush. */
  presenceChanged(user: string, online: boolean, at: number): void {
    const event: ServerEvent = { type: 'event', event: 'presence', data: { user, online, at } };
    this.#presenceQueue.push({ event, encoded: encodeJsonFrame(event) });
    this.#presenceTimer ??= setTimeout(() => this.#flushPresence(), PRESENCE_FLUSH_MS).unref();
  }

  /** Hands on what the sequencer holds (the server is stopping): it goes out before the goodbye. */
  close(): void {
    this.#sequencer.flush();
    if (this.#presenceTimer) clearTimeout(this.#presenceTimer);
    this.#presenceTimer = null;
  }

  /** Asks every node (this one too) to refill its mailboxes from the store; retried until it is published. */
  async #askRefill(): Promise<void> {
    this.#unpublished = false;
    try {
      await this.#bus.publish({ kind: 'refill', node: this.#node });
    } catch {
      this.#unpublished = true;
    }
  }

  /** Pushes a delivery to this node's mailboxes of its users. */
  #deliverHere(message: Deliver): void {
    let encoded: Buffer | undefined; // once, however many connections get it
    for (const user of message.users) {
      for (const mailbox of this.#byUser.get(user) ?? []) {
        if (mailbox.conn.id !== message.exceptConnection) mailbox.push(message.event, (encoded ??= encodeEvent(message.event)));
      }
    }
  }

  /**
   * Presence changes go out every PRESENCE_FLUSH_MS, all of them in one write per mailbox:
   * N users logging in would otherwise cost N writes to each of N listeners.
   */
  #flushPresence(): void {
    this.#presenceTimer = null;
    const queued = this.#presenceQueue.splice(0);
    if (queued.length === 0) return;
    const all = queued.length === 1 ? queued[0]!.encoded : Buffer.concat(queued.map((q) => q.encoded));
    const events = queued.map((q) => q.event);
    for (const mailbox of this.#byConnection.values()) mailbox.pushPresence(events, all);
  }
}
