// createServer(): the relay. Accepts TCP connections, runs requests through the handlers,
// and routes every delivery and presence change through the Bus so several nodes can share it.
import { randomBytes } from 'node:crypto';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { LocalBus } from '../bus/local.js';
import type { Bus, BusMessage } from '../bus/bus.js';
import type { ServerEvent } from '../protocol/messages.js';
import { Connection } from './connection.js';
import { handle } from './handlers/index.js';
import { applyOfferAction, closeOffer } from './handlers/offers.js';
import { OfferBook } from './offers.js';
import { DEFAULT_LIMITS, type ServerLimits, type ServerOptions } from './options.js';
import { Presence } from './presence.js';
import { Registry } from './registry.js';
import { Relay } from './relay.js';
import { servePlainRelay } from './relay-plain.js';
import { punchRendezvous, type PunchPeer } from './punch.js';
import type { Rendezvous } from './rendezvous.js';
import { AccountGuard } from './account-guard.js';
import { addressPrefix } from './address-prefix.js';
import { SendLimits } from './send-limits.js';
import { encodeJsonFrame } from '../protocol/frame.js';
import { printable } from '../protocol/printable.js';
import type { MessageOrder, Store } from '../store/store.js';
import { Router } from './delivery/router.js';
import { SessionWatch } from './session-watch.js';
import { Blocks } from './blocks.js';
import type { ServerContext } from './context.js';

export type { ServerContext } from './context.js';

/** How long a refused connection may take to read its error before it is cut off. */
const REFUSED_LINGER_MS = 2000;
/** The first byte of every TLS connection (a handshake record, RFC 8446 §5.1); relay frames start with 0x00. */
const TLS_HANDSHAKE_RECORD = 0x16;

export class ChatServer implements ServerContext {
  readonly store: Store;
  readonly bus: Bus;
  readonly limits: ServerLimits;
  readonly node: string;
  readonly registry = new Registry();
  readonly presence = new Presence();
  readonly offers: OfferBook;
  readonly relay: Relay;
  readonly punch: Rendezvous<PunchPeer>;
  relayAddress?: { host: string; port: number };
  readonly accounts: AccountGuard;
  readonly sendLimits: SendLimits;
  readonly knownUsers = new Map<string, string>();
  readonly sessions: SessionWatch = new SessionWatch(this);
  readonly blocks: Blocks;
  /** Delivery: publishing, the bus's deliveries in order, presence batching, the mailboxes. */
  readonly router: Router;
  shuttingDown = false;
  /** Whether clients connect with TLS (protocol.md §1.1). */
  readonly tls: boolean;
  #perAddress = new Map<string, number>();
  /** "address:port" of connections over a connection limit → why, told so once they can be (after TLS). */
  #refused = new Map<string, string>();
  /** Raw connections open (from the TCP connect, before TLS). */
  #open = 0;
  /** "address:port" → deadline of a TLS handshake in progress (Node's own does not cover a silent peer). */
  #handshakes = new Map<string, NodeJS.Timeout>();
  readonly #tcp: TcpServer;
  /** With TLS: the server that TLS connections are handed to once their first byte was seen. */
  readonly #tlsServer?: TlsServer;
  readonly #log: (line: string) => void;
  readonly #verbose: boolean;
  readonly #unsubscribe: () => void;
  readonly #now: () => number;

  constructor(options: ServerOptions) {
    this.store = options.store;
    this.bus = options.bus ?? new LocalBus();
    this.node = options.node ?? randomBytes(4).toString('hex');
    this.limits = { ...DEFAULT_LIMITS, ...definedOnly(options) };
    this.#log = options.log ?? (() => {});
    this.#verbose = options.verbose ?? false;
    this.#now = options.now ?? Date.now;
    this.relayAddress = options.relayAddress;
    this.relay = new Relay(this.limits, (line) => this.log(line));
    this.punch = punchRendezvous(this.limits.punchWaitMs, (line) => this.log(line));
    this.offers = new OfferBook(this.limits);
    this.accounts = new AccountGuard(this.limits);
    this.sendLimits = new SendLimits(this.limits, this.store);
    this.blocks = new Blocks(this.store, () => this.now());
    this.router = new Router({ bus: this.bus, store: this.store, limits: this.limits, node: this.node, log: (line) => this.log(line) });
    this.#unsubscribe = this.bus.subscribe((m) => this.#onBus(m));
    this.tls = Boolean(options.tls);
    // One port: with TLS, a connection whose first byte opens a TLS handshake (0x16) is TLS; any
    // other may only be a plain relay connection (relay version 2, protocol.md §4.8).
    this.#tlsServer = options.tls
      ? createTlsServer(
          // The handshake deadline is ours (#admit): Node's does not cover a peer that never says hello.
          { cert: options.tls.cert, key: options.tls.key, minVersion: 'TLSv1.2', handshakeTimeout: 0 },
          (socket) => this.#onSocket(socket),
        )
      : undefined;
    this.#tcp = createTcpServer((socket) => (this.#tlsServer ? this.#sniff(socket, this.#tlsServer) : this.#onSocket(socket)));
    // Before TLS: a flood of unfinished handshakes from one address counts against its limit too.
    this.#tcp.prependListener('connection', (socket: Socket) => this.#admit(socket));
    this.#tlsServer?.on('tlsClientError', (err: Error, socket: Socket) => {
      if (this.#verbose) this.log(`TLS handshake from ${socket.remoteAddress ?? '?'} failed: ${err.message}`);
    });
    this.#tcp.on('error', (err) => this.log(`server error: ${err.message}`));
  }

  /** Every log line passes here: one line, controls escaped, so a name with `\n` forges no log line. */
  log(line: string): void {
    this.#log(printable(line));
  }

  now(): number {
    return this.#now();
  }

  /** Starts listening and joins the bus; resolves with the bound address. Rejects on EADDRINUSE and the like. */
  async listen(port: number, host = '127.0.0.1'): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.#tcp.once('error', reject);
      this.#tcp.listen(port, host, () => {
        this.#tcp.off('error', reject);
        resolve();
      });
    });
    await this.bus.join(this.node, () => ({ connections: this.registry.all.size }));
    await this.sessions.start();
    // Other nodes answer with their online users and open offers.
    await this.bus.publish({ kind: 'sync', node: this.node });
    return this.address();
  }

  address(): AddressInfo {
    return this.#tcp.address() as AddressInfo;
  }

  /** Pushes `event` to every listening connection of `users`, on every node (the Router's deliver). */
  deliver(users: string[], event: ServerEvent, except?: Connection, order?: MessageOrder): Promise<void> {
    return this.router.deliver(users, event, except?.id, order);
  }

  /** Stops accepting, tells every client, waits (bounded) for them to go. Does not close the store. */
  async announce(message: BusMessage): Promise<void> {
    await this.bus.publish(message).catch((err: Error) => this.log(`bus: cannot publish ${message.kind} now (${err.message}); the nodes catch up when it is back`));
  }

  async close(reason = 'server shutting down'): Promise<void> {
    this.shuttingDown = true;
    const closed = new Promise<void>((resolve) => this.#tcp.close(() => resolve()));
    this.router.close(); // what waited for an earlier message goes out before the goodbye
    for (const conn of this.registry.all) {
      conn.send({ type: 'event', event: 'shutdown', data: { reason } });
      conn.close();
    }
    await closed;
    this.offers.clear();
    this.relay.close();
    this.punch.close();
    this.sessions.stop();
    this.#unsubscribe();
    await this.bus.leave?.(this.node);
  }

  /** Counts the raw connection against its network and the server; marks it refused past a limit. */
  #admit(socket: Socket): void {
    const address = socket.remoteAddress ?? '?';
    const network = addressPrefix(address);
    const key = `${address}:${socket.remotePort}`;
    if (this.tls) {
      const timer = setTimeout(() => {
        this.log(`${address} did not finish the TLS handshake within ${this.limits.handshakeTimeoutMs} ms; closing`);
        socket.destroy();
      }, this.limits.handshakeTimeoutMs);
      timer.unref();
      this.#handshakes.set(key, timer);
    }
    this.#open++;
    socket.once('close', () => {
      this.#open--;
      clearTimeout(this.#handshakes.get(key));
      this.#handshakes.delete(key);
      this.#refused.delete(key);
      const left = (this.#perAddress.get(network) ?? 1) - 1;
      if (left > 0) this.#perAddress.set(network, left);
      else this.#perAddress.delete(network);
    });
    const open = this.#perAddress.get(network) ?? 0;
    this.#perAddress.set(network, open + 1);
    if (open >= this.limits.maxConnectionsPerAddress) {
      this.#refused.set(key, 'too many connections from your network');
      this.log(`refused a connection from ${address}: ${open} already open from ${network}`);
    } else if (this.#open > this.limits.maxConnections) {
      this.#refused.set(key, 'the server is full; try again later');
      this.log(`refused a connection from ${address}: ${this.#open - 1} connections open (--max-connections)`);
    }
  }

  // TLS or a plain relay connection, by the first byte (the #admit deadline covers a silent peer).
  #sniff(socket: Socket, tls: TlsServer): void {
    socket.on('error', () => {}); // a reset before the first byte
    socket.once('data', (chunk: Buffer) => {
      socket.pause();
      socket.unshift(chunk);
      if (chunk[0] === TLS_HANDSHAKE_RECORD) tls.emit('connection', socket);
      else if (this.limits.relayPlain) this.#onPlainRelay(socket);
      else socket.destroy(); // as a TLS server that knows no plain relay: the client falls back to TLS
    });
  }

  #onPlainRelay(socket: Socket): void {
    const key = `${socket.remoteAddress ?? '?'}:${socket.remotePort}`;
    if (this.#refuse(socket, key)) return;
    servePlainRelay(this.relay, socket, {
      handshakeDone: () => {
        clearTimeout(this.#handshakes.get(key));
        this.#handshakes.delete(key);
      },
      log: (line) => this.log(line),
      now: () => this.now(),
    });
  }

  // True if `socket` may not be served (shutting down, or over a connection limit: told so, then closed).
  #refuse(socket: Socket, key: string): boolean {
    if (this.shuttingDown) {
      socket.destroy();
      return true;
    }
    const refused = this.#refused.get(key);
    if (!refused) return false;
    socket.on('error', () => {});
    socket.end(encodeJsonFrame({ type: 'error', id: null, code: 'overloaded', message: refused }));
    // Whatever it sends is discarded (a paused socket would never see the peer's close), and
    // a peer that does not close is cut off: a refused connection must not linger.
    socket.resume();
    setTimeout(() => socket.destroy(), REFUSED_LINGER_MS).unref();
    return true;
  }

  #onSocket(socket: Socket): void {
    const key = `${socket.remoteAddress ?? '?'}:${socket.remotePort}`;
    clearTimeout(this.#handshakes.get(key));
    this.#handshakes.delete(key);
    if (this.#refuse(socket, key)) return;
    const conn = new Connection(socket, this.node, this.limits, {
      handle: (c, request) => {
        // Only the type: requests carry passwords and message texts.
        if (this.#verbose) this.log(`conn ${c.id}${c.user ? ` (${c.user})` : ''} ${request.type}`);
        return handle(this, c, request);
      },
      closed: (c) => this.#onClosed(c),
      log: (line) => this.log(line),
      pipelineSends: this.store.commitsInCallOrder,
    });
    this.registry.all.add(conn);
    this.log(`conn ${conn.id} open from ${conn.remote}`);
  }

  #onClosed(conn: Connection): void {
    this.log(`conn ${conn.id} closed${conn.user ? ` (${conn.user})` : ''}`);
    for (const offer of this.offers.sentOver(conn)) closeOffer(this, offer, 'sender_gone', conn.user ?? '');
    this.registry.remove(conn);
    if (this.router.unsubscribe(conn.id) && conn.user) {
      void this.announce({ kind: 'presence', node: this.node, user: conn.user, online: false, at: this.now() });
    }
  }

  #onBus(message: BusMessage): void {
    this.router.onBus(message); // deliveries, refills (also on reconnected and node_down)
    switch (message.kind) {
      case 'presence':
        return this.#presenceChanged(message.node, message.user, message.online, message.at);
      case 'presence_all': {
        if (message.node === this.node) return;
        const now = new Set(message.users);
        for (const user of this.presence.usersOf(message.node)) if (!now.has(user)) this.#presenceChanged(message.node, user, false, message.at);
        for (const user of now) this.#presenceChanged(message.node, user, true, message.at);
        return;
      }
      case 'offer_open':
        if (message.node !== this.node) this.offers.replicate(message.offer, message.files, message.node);
        return;
      case 'offer_end': {
        const offer = this.offers.get(message.offer);
        if (offer && !offer.sender) this.offers.remove(offer);
        return;
      }
      case 'offer_action':
        if (message.owner === this.node) {
          const { kind: _k, node: _n, owner: _o, offer, ...act } = message;
          applyOfferAction(this, offer, act);
        }
        return;
      case 'sync':
        if (message.node !== this.node) void this.#announce();
        return;
      case 'node_down':
        return this.#nodeDown(message.node);
      case 'sessions_revoked':
        return void this.sessions.apply(message.user, message.reason).catch((err: Error) => this.log(`sessions: ${err.message}`));
      case 'reconnected':
        // Something may have been missed while the bus was away: announce ourselves again (the
        // Router refills every mailbox from the store).
        this.log('bus reconnected: refilling from the store');
        void this.#announce();
        return;
      case 'deliver':
      case 'refill':
        return; // the Router's
    }
  }

  #presenceChanged(node: string, user: string, online: boolean, at: number): void {
    if (this.presence.apply(node, user, online)) this.router.presenceChanged(user, online, at);
  }

  /** Publishes this node's online users and open offers (for a node that joined, or after a bus outage). */
  async #announce(): Promise<void> {
    try {
      await this.bus.publish({ kind: 'presence_all', node: this.node, users: this.router.users(), at: this.now() });
      for (const offer of this.offers.ownedBy(this.node)) {
        if (offer.open) await this.bus.publish({ kind: 'offer_open', node: this.node, offer: offer.info, files: offer.files });
      }
    } catch (err) {
      this.log(`bus: cannot announce this node: ${(err as Error).message}`);
    }
  }

  /** A node died: its users are offline (unless connected elsewhere), its offers are gone. */
  #nodeDown(node: string): void {
    if (node === this.node) return;
    this.log(`node ${node} is down`); // the Router refills its mailboxes: what that node stored and did not publish
    for (const user of this.presence.usersOf(node)) this.#presenceChanged(node, user, false, this.now());
    for (const offer of this.offers.ownedBy(node)) {
      this.offers.remove(offer);
      const event = { type: 'event', event: 'offer_closed', data: { offer: offer.info.id, reason: 'sender_gone', by: offer.info.from } } as const;
      this.router.pushHere([offer.info.to], event);
    }
  }
}

function definedOnly(options: ServerOptions): Partial<ServerLimits> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof ServerLimits)[]) {
    if (options[key] !== undefined) out[key] = options[key];
  }
  return out as Partial<ServerLimits>;
}

/** A relay server over `options.store`, with an in-process bus unless one is given. */
export function createServer(options: ServerOptions): ChatServer {
  return new ChatServer(options);
}
