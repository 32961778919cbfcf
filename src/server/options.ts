// Every limit and timeout of the server, with its default, in one place (protocol.md §7).
import type { Bus } from '../bus/bus.js';
import type { Store } from '../store/store.js';

export interface ServerLimits {
  /** Largest frame payload accepted from a client, in bytes. @default 262144 */
  maxFrameBytes: number;
  /** Largest message text, in UTF-8 bytes. @default 16384 */
  maxMessageBytes: number;
  /** Time from connect to a completed hello and login, in ms. @default 30000 */
  handshakeTimeoutMs: number;
  /** Bytes queued for a client that is not reading before it is disconnected. @default 8388608 */
  maxBufferedBytes: number;
  /** Requests read ahead per connection before reading pauses. @default 32 */
  maxPendingRequests: number;
  /** Most messages a history page returns. @default 500 */
  maxHistoryLimit: number;
  /** Longest an offer may wait for an answer, in ms. @default 86400000 */
  maxOfferTimeoutMs: number;
  /** Most files in one offer. @default 100000 */
  maxOfferFiles: number;
  /** Open offers one user may have at once. @default 32 */
  maxOffersPerUser: number;
  /** Failed logins for one user before it is blocked. @default 10 */
  maxLoginFailures: number;
  /** Failed logins from one IP address before it is blocked (NAT: many users). @default 100 */
  maxLoginFailuresPerAddress: number;
  /** Longest delay before answering a failed login (it grows with each failure), in ms. @default 2000 */
  maxLoginDelayMs: number;
  /** How long login failures count, and a block lasts, in ms. @default 900000 */
  loginBlockMs: number;
  /** Connections open at once from one IP address. @default 64 */
  maxConnectionsPerAddress: number;
  /** Messages a connection may send per second on average. @default 100 */
  messageRate: number;
  /** Messages a connection may send in a burst. @default 2000 */
  messageBurst: number;
  /** Whether this server relays transfers between peers that cannot connect directly. @default true */
  relay: boolean;
  /** Relayed connection pairs at once. @default 16 */
  relayMax: number;
  /** Bytes per second per relayed pair, each way; 0 = unlimited. @default 0 */
  relayRate: number;
  /** How long a relay connection waits for its peer, in ms. @default 30000 */
  relayWaitMs: number;
  /** How long after an accept its transfer may use the relay, in ms. @default 86400000 */
  relayTicketMs: number;
  /** How long a punch request waits for the other peer (protocol.md §4.9), in ms. @default 10000 */
  punchWaitMs: number;
  /** Who may register: anyone, nobody, or holders of an invite code (protocol.md §4.1). @default 'open' */
  registration: 'open' | 'closed' | 'invite';
  /** Silence from a client after which the server pings it, in ms. @default 60000 */
  pingIntervalMs: number;
  /** How long a pinged client has to answer before it is disconnected, in ms. @default 30000 */
  pingTimeoutMs: number;
  /** Groups one user may be a member of. @default 100 */
  maxGroupsPerUser: number;
  /** Members of one group. @default 1000 */
  maxGroupMembers: number;
  /** A session unused this long (no login, resume or live connection) expires; 0 = never, in ms. @default 7776000000 (90 days) */
  sessionIdleMs: number;
  /** How often the server reads the store's revocation log (chat admin, other nodes), in ms. @default 1000 */
  revocationPollMs: number;
}

export interface ServerOptions extends Partial<ServerLimits> {
  store: Store;
  bus?: Bus;
  /** This node's name on the bus. @default random */
  node?: string;
  /** One line per connection event; nothing by default. */
  log?: (line: string) => void;
  /** Extra detail (each request) when true. @default false */
  verbose?: boolean;
  /** Where clients reach this node's relay, if not at the address they connected to (cluster nodes behind a balancer). */
  relayAddress?: { host: string; port: number };
  /** Certificate and key (PEM) for TLS; plaintext without (protocol.md §1.1). */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** The clock for stored times and session expiry (tests move it). @default Date.now */
  now?: () => number;
}

export const DEFAULT_LIMITS = {
  maxFrameBytes: 262_144,
  maxMessageBytes: 16_384,
  handshakeTimeoutMs: 30_000,
  maxBufferedBytes: 8 * 1024 * 1024,
  maxPendingRequests: 32,
  maxHistoryLimit: 500,
  maxOfferTimeoutMs: 24 * 60 * 60 * 1000,
  maxOfferFiles: 100_000,
  maxOffersPerUser: 32,
  maxLoginFailures: 10,
  maxLoginFailuresPerAddress: 100,
  maxLoginDelayMs: 2000,
  loginBlockMs: 15 * 60 * 1000,
  maxConnectionsPerAddress: 64,
  messageRate: 100,
  messageBurst: 2000,
  relay: true,
  relayMax: 16,
  relayRate: 0,
  relayWaitMs: 30_000,
  relayTicketMs: 24 * 60 * 60 * 1000,
  punchWaitMs: 10_000,
  registration: 'open' as 'open' | 'closed' | 'invite',
  pingIntervalMs: 60_000,
  pingTimeoutMs: 30_000,
  maxGroupsPerUser: 100,
  maxGroupMembers: 1000,
  sessionIdleMs: 90 * 24 * 60 * 60 * 1000,
  revocationPollMs: 1000,
} satisfies ServerLimits;
