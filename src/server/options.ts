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
  /** Messages sent to a subscribed connection and not acknowledged before it is disconnected. @default 100000 */
  maxUnackedMessages: number;
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
  /** Bytes one offer's file list may take (paths, types, ~128 bytes per entry). @default 33554432 */
  maxOfferBytes: number;
  /** Bytes the file lists of all of one user's offers may take. @default 67108864 */
  maxOfferBytesPerUser: number;
  /** Bytes all file lists on this server may take (at most a quarter of the heap limit). @default 268435456 */
  maxOfferBytesTotal: number;
  /** Time from `offer` to its last `offer_files` page, in ms; an unfinished offer is dropped. @default 60000 */
  offerListTimeoutMs: number;
  /** Failed logins for one user from networks it never logged in from, before they back off. @default 10 */
  maxLoginFailures: number;
  /** Failed logins for one user from one network (/24, /64), before it backs off. @default 5 */
  maxLoginFailuresPerUserAddress: number;
  /** Failed logins from one network (/24, /64) for any users, before it backs off (NAT: many users). @default 100 */
  maxLoginFailuresPerAddress: number;
  /** Longest delay before answering a failed login (it grows with each failure), in ms. @default 2000 */
  maxLoginDelayMs: number;
  /** How long failed logins count, and the longest backoff, in ms. @default 900000 */
  loginBlockMs: number;
  /** The first wait past a login limit, in ms; it doubles with each further failure. @default 1000 */
  loginBackoffMs: number;
  /** Registrations from one network (/24, /64) per hour. @default 20 */
  maxRegistrationsPerAddress: number;
  /** Registrations on this server per hour. @default 500 */
  maxRegistrationsPerHour: number;
  /** Password hashes (scrypt) computed at once. @default 2 */
  maxConcurrentHashes: number;
  /** Password hashes one network may have running or waiting. @default 4 */
  maxHashesPerAddress: number;
  /** Password hashes waiting for a slot, in all. @default 64 */
  maxQueuedHashes: number;
  /** Connections open at once from one network (/24, /64). @default 64 */
  maxConnectionsPerAddress: number;
  /** Connections open at once in all. @default 20000 */
  maxConnections: number;
  /** Messages one user may send per second on average, over all its connections. @default 100 */
  messageRate: number;
  /** Messages one user may send in a burst. @default 2000 */
  messageBurst: number;
  /** Message text bytes one user may send per second on average. @default 524288 */
  messageBytesRate: number;
  /** Message text bytes one user may send in a burst. @default 8388608 */
  messageBytesBurst: number;
  /** Messages one user may send to one other user per second on average. @default 20 */
  recipientMessageRate: number;
  /** Messages one user may send to one other user in a burst. @default 500 */
  recipientMessageBurst: number;
  /** Direct messages stored for a user that none of its devices has received yet. @default 10000 */
  maxBacklogMessages: number;
  /** Bytes of those messages. @default 67108864 */
  maxBacklogBytes: number;
  /** Whether this server relays transfers between peers that cannot connect directly. @default true */
  relay: boolean;
  /** Relayed connection pairs at once. @default 16 */
  relayMax: number;
  /** Bytes per second per relayed pair, each way; 0 = unlimited. @default 8388608 */
  relayRate: number;
  /** How long a relay connection waits for its peer, in ms. @default 30000 */
  relayWaitMs: number;
  /** How long after an accept, and after its last use, its transfer may use the relay and punch, in ms. @default 3600000 */
  relayTicketMs: number;
  /** Pairs the relay makes for one accepted transfer (the first and its resumes after a cut). @default 8 */
  relayPairingsPerTicket: number;
  /** Accepted transfers the relay holds tickets for at once. @default 10000 */
  relayMaxTickets: number;
  /** Tickets of one sender at once; a new one drops the sender's oldest unused one. @default 64 */
  relayTicketsPerUser: number;
  /** Relayed pairs of one sender's transfers open at once. @default 4 */
  relayPairsPerUser: number;
  /** Bytes the relay moves for one sender's transfers per relayBytesWindowMs; 0 = unlimited. @default 34359738368 */
  relayBytesPerUser: number;
  /** The window of relayBytesPerUser, in ms. @default 86400000 */
  relayBytesWindowMs: number;
  /** A relayed pair that moves no byte either way this long is closed, in ms; 0 = never. @default 60000 */
  relayIdleMs: number;
  /**
   * Whether a TLS server also takes relay connections in plain TCP on its port (relay version 2,
   * protocol.md §4.8; the relayed bytes are sealed end to end). false: a relay connection must be
   * TLS (version 1), and a plain one is closed at once, as a server before version 2 did. @default true
   */
  relayPlain: boolean;
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
  maxUnackedMessages: 100_000,
  maxPendingRequests: 32,
  maxHistoryLimit: 500,
  maxOfferTimeoutMs: 24 * 60 * 60 * 1000,
  maxOfferFiles: 100_000,
  maxOffersPerUser: 32,
  maxOfferBytes: 32 * 1024 * 1024,
  maxOfferBytesPerUser: 64 * 1024 * 1024,
  maxOfferBytesTotal: 256 * 1024 * 1024,
  offerListTimeoutMs: 60_000,
  maxLoginFailures: 10,
  maxLoginFailuresPerUserAddress: 5,
  maxLoginFailuresPerAddress: 100,
  maxLoginDelayMs: 2000,
  loginBlockMs: 15 * 60 * 1000,
  loginBackoffMs: 1000,
  maxRegistrationsPerAddress: 20,
  maxRegistrationsPerHour: 500,
  maxConcurrentHashes: 2,
  maxHashesPerAddress: 4,
  maxQueuedHashes: 64,
  maxConnectionsPerAddress: 64,
  maxConnections: 20_000,
  messageRate: 100,
  messageBurst: 2000,
  messageBytesRate: 512 * 1024,
  messageBytesBurst: 8 * 1024 * 1024,
  recipientMessageRate: 20,
  recipientMessageBurst: 500,
  maxBacklogMessages: 10_000,
  maxBacklogBytes: 64 * 1024 * 1024,
  relay: true,
  relayMax: 16,
  relayRate: 8 * 1024 * 1024,
  relayWaitMs: 30_000,
  relayTicketMs: 60 * 60 * 1000,
  relayPairingsPerTicket: 8,
  relayMaxTickets: 10_000,
  relayTicketsPerUser: 64,
  relayPairsPerUser: 4,
  relayBytesPerUser: 32 * 1024 * 1024 * 1024,
  relayBytesWindowMs: 24 * 60 * 60 * 1000,
  relayIdleMs: 60_000,
  relayPlain: true,
  punchWaitMs: 10_000,
  registration: 'open' as 'open' | 'closed' | 'invite',
  pingIntervalMs: 60_000,
  pingTimeoutMs: 30_000,
  maxGroupsPerUser: 100,
  maxGroupMembers: 1000,
  sessionIdleMs: 90 * 24 * 60 * 60 * 1000,
  revocationPollMs: 1000,
} satisfies ServerLimits;
