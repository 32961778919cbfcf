// What handlers see of the server: its parts and the one way out to other connections (deliver).
// A file of its own so that handlers do not import server.ts, which imports them.
import type { Bus, BusMessage } from '../bus/bus.js';
import type { ServerEvent } from '../protocol/messages.js';
import type { MessageOrder, Store } from '../store/store.js';
import type { AccountGuard } from './account-guard.js';
import type { Blocks } from './blocks.js';
import type { Connection } from './connection.js';
import type { OfferBook } from './offers.js';
import type { ServerLimits } from './options.js';
import type { Presence } from './presence.js';
import type { PunchPeer } from './punch.js';
import type { Registry } from './registry.js';
import type { Router } from './delivery/router.js';
import type { Relay } from './relay.js';
import type { Rendezvous } from './rendezvous.js';
import type { SendLimits } from './send-limits.js';
import type { SessionWatch } from './session-watch.js';

export interface ServerContext {
  readonly store: Store;
  readonly bus: Bus;
  readonly limits: ServerLimits;
  readonly node: string;
  readonly registry: Registry;
  /** Delivery: every event for other connections, and every subscribed connection's Mailbox. */
  readonly router: Router;
  readonly presence: Presence;
  readonly offers: OfferBook;
  readonly relay: Relay;
  /** Peers of accepted transfers meeting to punch through their NATs (protocol.md §4.9). */
  readonly punch: Rendezvous<PunchPeer>;
  /** Where clients reach this node's relay, when it differs from the address they connected to (cluster). */
  readonly relayAddress?: { host: string; port: number };
  /** Login and registration attempts and password hashing (docs/security.md). */
  readonly accounts: AccountGuard;
  /** Per-user message rates and recipients' backlog quotas. */
  readonly sendLimits: SendLimits;
  /** Names known to exist (normalized → canonical): saves a store lookup per message. */
  readonly knownUsers: Map<string, string>;
  /** Revocations, session expiry and last-seen times (session-watch.ts). */
  readonly sessions: SessionWatch;
  /** Who blocks whom, cached briefly (blocks.ts). */
  readonly blocks: Blocks;
  readonly shuttingDown: boolean;
  log(line: string): void;
  now(): number;
  /**
   * Tells the other nodes (and this one) of something already done here; never fails: a publish
   * the bus cannot take now is logged, and the nodes catch up on their own (docs/cluster.md, "A
   * failed publish"). A publish that is itself the request's effect is awaited on `bus` instead.
   */
  announce(message: BusMessage): Promise<void>;
  /** Pushes `event` to every listening connection of `users`, on every node. */
  deliver(users: string[], event: ServerEvent, except?: Connection, order?: MessageOrder): Promise<void>;
}
