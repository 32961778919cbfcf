// RedisBus: the Bus across server nodes, on Redis pub/sub plus heartbeat keys.
//
// Two connections: `pub` runs commands (PUBLISH, heartbeats, node lists) and `sub` only listens.
// Every message is the JSON of a BusMessage on one channel, `${prefix}:bus`; what one node
// publishes within one turn of its event loop goes as one PUBLISH of a JSON array of them (one
// Redis command and one reply to parse per node for a whole batch of stored messages). Redis
// sends it to every subscribed connection, this node's included, in the order one connection
// published.
//
// Redis down: publish rejects at once instead of queueing (`enableOfflineQueue: false`, and
// `maxRetriesPerRequest: 0` so a publish in flight when the connection drops rejects too). A
// rejected publish lets the server fail the request it was serving, so the client sees an error
// and can retry; a queue would leave requests hanging for as long as the outage lasts, grow
// without bound and deliver stale presence and offers late. (A publish that rejects because the
// connection dropped may still have been delivered: a retry can deliver it twice.)
//
// Reconnect: ioredis reconnects both connections by itself (every 0.1 s to 1 s). This bus
// re-subscribes `sub` itself. Once both connections are back after either dropped, it emits one
// `{ kind: 'reconnected' }` to its own subscribers (nothing is published): what was published
// meanwhile is lost to this node (pub/sub keeps nothing), so the server refills from its store;
// and with `pub` down this node did not beat, so the others may have reported it down and the
// server should announce itself again. Redis also drops a subscriber that falls too far behind
// (client-output-buffer-limit pubsub): that is a reconnect too, so never a silent loss.
//
// Nodes: join() writes `${prefix}:node:<name>` (NodeInfo JSON, expiring after expiryMs) and
// adds the name to the sorted set `${prefix}:nodes` (score: the time) every heartbeatMs. A node
// is live while its key exists; close() deletes the key. At each heartbeat every node reports
// `node_down` to its own subscribers (nothing is published; each node finds out for itself) for
// each node that is not live any more and not reported yet: one it saw live, or a name in the set
// whose key is gone. The set keeps the names of gone nodes for 10 × expiryMs before any node
// removes them, so a node that lived only between two of our heartbeats is still reported (node
// clocks must agree to well within that). Bounds: a crash is reported within expiryMs +
// heartbeatMs of the node's last heartbeat, a close() within heartbeatMs. After `pub`
// reconnects, reports wait expiryMs so that the live nodes have rewritten their keys (Redis may
// have restarted empty) before anyone is declared down.
import { Redis } from 'ioredis';
import type { Bus, BusHandler, BusMessage, NodeInfo } from './bus.js';

export interface RedisBusOptions {
  /** Prefix of the channel and keys, so several clusters can share one Redis (default 'chat'). */
  prefix?: string;
  /** How often join() rewrites this node's key (default 2000 ms). */
  heartbeatMs?: number;
  /** How long a node's key outlives its last heartbeat (default 6000 ms; more than heartbeatMs). */
  expiryMs?: number;
  /** How long open() tries to reach Redis before it gives up (default 5000 ms). */
  connectTimeoutMs?: number;
  /** Connection losses, failed heartbeats, unreadable messages (each once in a row). Default: stderr. */
  onError?: (err: Error) => void;
}

interface Member {
  node: string;
  stats: () => { connections: number };
  startedAt: number;
}

/** How long a gone node's name stays in the node set, in expiry periods, so that every node sees it gone. */
const FORGET_AFTER_EXPIRIES = 10;

/** Most messages one PUBLISH carries. */
const PUBLISH_BATCH = 256;

/** Removes a name from the node set only if its key is gone, atomically: a node rejoining under the same name is kept. */
const PRUNE = `if redis.call('EXISTS', KEYS[2]) == 0 then return redis.call('ZREM', KEYS[1], ARGV[1]) end return 0`;

export class RedisBus implements Bus {
  /** Messages published during this turn of the event loop, sent together by #flush. */
  #outbox: { json: string; resolve: () => void; reject: (err: Error) => void }[] = [];
  /** PUBLISH commands not answered yet. */
  readonly #sending = new Set<Promise<void>>();
  readonly #pub: Redis;
  readonly #sub: Redis;
  readonly #prefix: string;
  readonly #channel: string;
  readonly #heartbeatMs: number;
  readonly #expiryMs: number;
  readonly #onError: (err: Error) => void;
  #handlers = new Set<BusHandler>();
  #member: Member | undefined;
  /** Nodes seen live and not reported down since. */
  #up = new Set<string>();
  /** Nodes already reported down (or down before this node joined), with their last heartbeat time. */
  #down = new Map<string, number | undefined>();
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  /** No node_down before this time (set when `pub` reconnects). */
  #graceUntil = 0;
  #lastError = '';
  /** A connection dropped since open() or the last `reconnected`. */
  #lost = false;
  /** `sub` listens on the channel. */
  #subscribed = true;
  #closing: Promise<void> | undefined;

  /** Connects and subscribes; rejects with a one-line error naming the URL if Redis can't be reached in time. */
  static async open(url: string, opts: RedisBusOptions = {}): Promise<RedisBus> {
    const bus = new RedisBus(url, opts);
    const timeoutMs = opts.connectTimeoutMs ?? 5000;
    let lastError: Error | undefined;
    const onError = (err: Error) => (lastError = err);
    bus.#pub.on('error', onError);
    bus.#sub.on('error', onError);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(lastError?.message ?? `no answer in ${timeoutMs} ms`)), timeoutMs);
    });
    const connected = Promise.all([ready(bus.#pub), ready(bus.#sub).then(() => bus.#sub.subscribe(bus.#channel))]);
    connected.catch(() => {}); // if the deadline wins, a late failure is not news
    try {
      await Promise.race([connected, deadline]);
    } catch (err) {
      bus.#pub.disconnect();
      bus.#sub.disconnect();
      throw new Error(`cannot reach Redis at ${redact(url)}: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
      bus.#pub.off('error', onError);
      bus.#sub.off('error', onError);
    }
    bus.#listen();
    return bus;
  }

  private constructor(url: string, opts: RedisBusOptions) {
    this.#prefix = opts.prefix ?? 'chat';
    this.#channel = `${this.#prefix}:bus`;
    this.#heartbeatMs = opts.heartbeatMs ?? 2000;
    this.#expiryMs = opts.expiryMs ?? 6000;
    if (!(this.#expiryMs > this.#heartbeatMs)) throw new Error('RedisBus: expiryMs must be more than heartbeatMs');
    this.#onError = opts.onError ?? ((err) => console.error(`redis bus: ${err.message}`));
    const common = {
      connectTimeout: opts.connectTimeoutMs ?? 5000,
      retryStrategy: (times: number) => Math.min(times * 100, 1000),
    };
    // Fail fast rather than queue (see the header); a Redis that hangs fails commands in 5 s.
    this.#pub = new Redis(url, { ...common, connectionName: `${this.#prefix}-pub`, enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: 5000 });
    this.#sub = new Redis(url, { ...common, connectionName: `${this.#prefix}-sub`, autoResubscribe: false });
  }

  /** Wires incoming messages, errors and reconnects (after open() succeeded). */
  #listen(): void {
    this.#sub.on('message', (channel: string, text: string) => channel === this.#channel && this.#receive(text));
    this.#sub.on('ready', () => void this.#resubscribe());
    this.#pub.on('ready', () => {
      this.#lastError = '';
      this.#graceUntil = Date.now() + this.#expiryMs;
      this.#maybeReconnected();
    });
    this.#sub.on('close', () => {
      this.#lost = true;
      this.#subscribed = false;
    });
    this.#pub.on('close', () => (this.#lost = true));
    for (const client of [this.#pub, this.#sub]) client.on('error', (err: Error) => this.#report(err));
  }

  async publish(message: BusMessage): Promise<void> {
    if (this.#closing) throw new Error('RedisBus is closed');
    const json = JSON.stringify(message);
    return new Promise((resolve, reject) => {
      this.#outbox.push({ json, resolve, reject });
      if (this.#outbox.length === 1) setImmediate(() => this.#flush());
    });
  }

  /** Publishes what queued during this turn of the event loop, at most PUBLISH_BATCH per command. */
  #flush(): void {
    while (this.#outbox.length > 0) {
      const batch = this.#outbox.splice(0, PUBLISH_BATCH);
      const payload = batch.length === 1 ? batch[0]!.json : `[${batch.map((b) => b.json).join(',')}]`;
      const sent = this.#pub.publish(this.#channel, payload).then(
        () => batch.forEach((b) => b.resolve()),
        (err: Error) => batch.forEach((b) => b.reject(err)),
      );
      this.#sending.add(sent);
      void sent.finally(() => this.#sending.delete(sent));
    }
  }

  subscribe(handler: BusHandler): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  async join(node: string, stats: () => { connections: number }): Promise<void> {
    if (this.#closing) throw new Error('RedisBus is closed');
    if (this.#member) throw new Error(`RedisBus: already joined as ${this.#member.node}`);
    this.#member = { node, stats, startedAt: Date.now() };
    try {
      await this.#beat();
      const { live, dead } = await this.#scan();
      this.#up = new Set(live.map((n) => n.node));
      this.#down = new Map(dead);
    } catch (err) {
      this.#member = undefined;
      throw err;
    }
    this.#timer = setInterval(() => this.#tick(), this.#heartbeatMs).unref();
  }

  async nodes(): Promise<NodeInfo[]> {
    return (await this.#scan()).live;
  }

  /**
   * Stops announcing `node` and deletes its key: the others report node_down at their next
   * heartbeat. The bus still carries messages, and may join() again.
   */
  async leave(node: string): Promise<void> {
    if (this.#member?.node !== node) return;
    clearInterval(this.#timer);
    await this.#ticking;
    this.#member = undefined;
    await this.#pub.del(this.#nodeKey(node));
  }

  /** Leaves (as leave()) and disconnects. Idempotent. */
  close(): Promise<void> {
    return (this.#closing ??= this.#shutdown(true));
  }

  /**
   * Stops at once as a crashed process would: no goodbye, this node's key is left to expire (so
   * the others see node_down within expiryMs + heartbeatMs). For tests, and for a shutdown that
   * must not wait on Redis. Idempotent; close() afterwards does nothing.
   */
  disconnect(): Promise<void> {
    return (this.#closing ??= this.#shutdown(false));
  }

  async #shutdown(clean: boolean): Promise<void> {
    clearInterval(this.#timer);
    if (clean) {
      this.#flush(); // what was published before close() goes out first
      await Promise.all(this.#sending);
    } else {
      for (const b of this.#outbox.splice(0)) b.reject(new Error('RedisBus is closed'));
    }
    if (clean && this.#member) await this.leave(this.#member.node).catch((err: Error) => this.#report(err));
    this.#handlers.clear();
    this.#pub.disconnect();
    this.#sub.disconnect();
  }

  // ---- messages ---------------------------------------------------------------------------------

  #receive(text: string): void {
    let messages: BusMessage | BusMessage[];
    try {
      messages = JSON.parse(text) as BusMessage | BusMessage[];
    } catch {
      return this.#report(new Error(`unreadable message on ${this.#channel}: ${text.slice(0, 80)}`));
    }
    if (Array.isArray(messages)) for (const message of messages) this.#emit(message);
    else this.#emit(messages);
  }

  /** Calls every handler; one that throws is reported and does not stop the others. */
  #emit(message: BusMessage): void {
    for (const handler of [...this.#handlers]) {
      try {
        handler(message);
      } catch (err) {
        this.#onError(err as Error);
      }
    }
  }

  /** After `sub` reconnected: subscribe again. */
  async #resubscribe(): Promise<void> {
    this.#lastError = '';
    try {
      await this.#sub.subscribe(this.#channel);
    } catch (err) {
      return this.#report(err as Error); // the connection dropped again: its next 'ready' retries
    }
    this.#subscribed = true;
    this.#maybeReconnected();
  }

  /** Once both connections are back after either dropped: tell the server what it may have missed. */
  #maybeReconnected(): void {
    if (!this.#lost || !this.#subscribed || this.#pub.status !== 'ready' || this.#closing) return;
    this.#lost = false;
    this.#emit({ kind: 'reconnected' });
  }

  /** Passes an error on, unless it is the same as the last one (an outage repeats itself). */
  #report(err: Error): void {
    if (err.message === this.#lastError) return;
    this.#lastError = err.message;
    this.#onError(err);
  }

  // ---- nodes ------------------------------------------------------------------------------------

  get #nodesKey(): string {
    return `${this.#prefix}:nodes`;
  }

  #nodeKey(node: string): string {
    return `${this.#prefix}:node:${node}`;
  }

  /** Writes this node's key and its name in the node set. */
  async #beat(): Promise<void> {
    const { node, stats, startedAt } = this.#member!;
    const now = Date.now();
    const info: NodeInfo = { node, connections: stats().connections, startedAt, seenAt: now };
    await this.#pub.multi().set(this.#nodeKey(node), JSON.stringify(info), 'PX', this.#expiryMs).zadd(this.#nodesKey, now, node).exec();
  }

  /** The live nodes, by name, and the nodes in the node set whose key is gone, with their last heartbeat time. */
  async #scan(): Promise<{ live: NodeInfo[]; dead: Map<string, number> }> {
    const flat = await this.#pub.zrange(this.#nodesKey, 0, '-1', 'WITHSCORES'); // name, score, name, score…
    const names = flat.filter((_, i) => i % 2 === 0);
    const live: NodeInfo[] = [];
    const dead = new Map<string, number>();
    if (names.length === 0) return { live, dead };
    const values = await this.#pub.mget(names.map((n) => this.#nodeKey(n)));
    values.forEach((value, i) => (value === null ? dead.set(names[i]!, Number(flat[2 * i + 1])) : live.push(JSON.parse(value) as NodeInfo)));
    live.sort((a, b) => a.node.localeCompare(b.node));
    return { live, dead };
  }

  /** One heartbeat at a time; a slow one makes the next wait. */
  #tick(): void {
    if (this.#ticking || this.#closing) return;
    this.#ticking = this.#heartbeat()
      .catch((err: Error) => this.#report(new Error(`heartbeat failed: ${err.message}`)))
      .finally(() => (this.#ticking = undefined));
  }

  /** Beats, then reports the nodes that stopped since the last heartbeat. */
  async #heartbeat(): Promise<void> {
    await this.#beat();
    const { live, dead } = await this.#scan();
    if (this.#closing) return;
    const liveNames = new Set(live.map((n) => n.node));
    for (const node of liveNames) this.#up.add(node);
    if (Date.now() < this.#graceUntil) return; // deaths are reported once the grace is over
    // Forget a report once the node is back, was forgotten, or beat again since (a life that
    // fitted between two of our heartbeats).
    for (const [node, at] of this.#down) if (dead.get(node) !== at) this.#down.delete(node);
    // Seen live and now gone (even if the node set was lost), or in the set without a key (even if
    // it lived only between two of our heartbeats), and not reported yet.
    const gone = [...new Set([...this.#up, ...dead.keys()])].filter((n) => !liveNames.has(n) && !this.#down.has(n) && n !== this.#member!.node);
    for (const node of gone) {
      this.#up.delete(node);
      this.#down.set(node, dead.get(node));
    }
    for (const node of gone) this.#emit({ kind: 'node_down', node });
    await this.#forgetOld();
  }

  /** Drops the names of nodes that have been gone for a long time from the node set. */
  async #forgetOld(): Promise<void> {
    const old = await this.#pub.zrangebyscore(this.#nodesKey, '-inf', Date.now() - this.#expiryMs * FORGET_AFTER_EXPIRIES);
    for (const node of old) await this.#pub.eval(PRUNE, 2, this.#nodesKey, this.#nodeKey(node), node);
  }
}

/** Resolves when `client` is ready to take commands. */
function ready(client: Redis): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => client.once('ready', () => resolve()));
}

/** The URL without its password, for messages. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
