// chat serve: the relay server with embedded SQLite storage (or PostgreSQL + Redis for a
// cluster, docs/cluster.md), TLS by default.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Bus } from '../../bus/bus.js';
import { loadCertificate, selfSignedCertificate, type ServerCertificate } from '../../server/certificate.js';
import { DEFAULT_LIMITS, type ServerLimits } from '../../server/options.js';
import type { Store } from '../../store/store.js';
import { openBus, openStore, redact } from '../backends.js';
import { CliError, type CliContext } from '../context.js';
import { clock } from '../output.js';
import { privateDataDir } from '../private-data.js';
import { BUS_SECRET, STORE_SECRET, SecretReader, secretHelp } from '../secrets.js';
import { parseDuration, parseRate } from '../units.js';
import { leaf } from '../command.js';
import { COMMAND_LIST } from './list.js';

export interface ServeOptions {
  host: string;
  port: number;
  data: string;
  quiet: boolean;
  verbose: boolean;
  insecure: boolean;
  tlsCert?: string;
  tlsKey?: string;
  /** postgres://… for a cluster; SQLite in `data` when absent. */
  store?: string;
  /** redis://… for a cluster; in-process when absent. */
  bus?: string;
  nodeId?: string;
  /** "host[:port]" where clients reach this node's relay; port defaults to the listening one. */
  relayAddress?: string;
  /** Who may register; undefined: open on a loopback address, invite on any other. */
  registration?: ServerLimits['registration'];
  limits: Partial<ServerLimits>;
}

type Kind = 'count' | 'duration' | 'rate' | 'size';
/** The limits `chat serve` exposes as flags (docs/security.md lists them with their defaults). */
export const LIMIT_FLAGS: { flag: string; key: keyof ServerLimits; kind: Kind; describe: string }[] = [
  { flag: 'max-connections', key: 'maxConnections', kind: 'count', describe: 'connections open at once in all' },
  { flag: 'max-connections-per-address', key: 'maxConnectionsPerAddress', kind: 'count', describe: 'connections open at once from one network (/24, /64)' },
  { flag: 'handshake-timeout', key: 'handshakeTimeoutMs', kind: 'duration', describe: 'time to finish TLS, hello and login' },
  { flag: 'ping-interval', key: 'pingIntervalMs', kind: 'duration', describe: 'silence after which a client is pinged' },
  { flag: 'ping-timeout', key: 'pingTimeoutMs', kind: 'duration', describe: 'time a pinged client has to answer' },
  { flag: 'message-rate', key: 'messageRate', kind: 'count', describe: 'messages per second per user, on average' },
  { flag: 'message-burst', key: 'messageBurst', kind: 'count', describe: 'messages a user may send in a burst' },
  { flag: 'message-bytes-rate', key: 'messageBytesRate', kind: 'rate', describe: 'message bytes per second per user, e.g. 512K' },
  { flag: 'recipient-message-rate', key: 'recipientMessageRate', kind: 'count', describe: 'messages per second from one user to another' },
  { flag: 'max-backlog-messages', key: 'maxBacklogMessages', kind: 'count', describe: 'unread direct messages stored for one user' },
  { flag: 'max-backlog-bytes', key: 'maxBacklogBytes', kind: 'size', describe: 'bytes of unread direct messages stored for one user' },
  { flag: 'max-offer-bytes', key: 'maxOfferBytes', kind: 'size', describe: "bytes of one offer's file list" },
  { flag: 'max-offer-bytes-per-user', key: 'maxOfferBytesPerUser', kind: 'size', describe: "bytes of all of one user's offers' file lists" },
  { flag: 'max-offer-bytes-total', key: 'maxOfferBytesTotal', kind: 'size', describe: 'bytes of all file lists held (at most a quarter of the heap)' },
  { flag: 'offer-list-timeout', key: 'offerListTimeoutMs', kind: 'duration', describe: "time to send an offer's whole file list" },
  { flag: 'max-login-failures', key: 'maxLoginFailures', kind: 'count', describe: 'failed logins for one user from new networks before they back off' },
  { flag: 'max-login-failures-per-user-address', key: 'maxLoginFailuresPerUserAddress', kind: 'count', describe: 'failed logins for one user from one network before it backs off' },
  { flag: 'max-login-failures-per-address', key: 'maxLoginFailuresPerAddress', kind: 'count', describe: 'failed logins from one network before it backs off' },
  { flag: 'login-block', key: 'loginBlockMs', kind: 'duration', describe: 'how long failed logins count, and the longest backoff' },
  { flag: 'max-registrations-per-address', key: 'maxRegistrationsPerAddress', kind: 'count', describe: 'registrations per hour from one network' },
  { flag: 'max-registrations-per-hour', key: 'maxRegistrationsPerHour', kind: 'count', describe: 'registrations per hour in all' },
  { flag: 'max-concurrent-hashes', key: 'maxConcurrentHashes', kind: 'count', describe: 'password hashes computed at once' },
  { flag: 'max-hashes-per-address', key: 'maxHashesPerAddress', kind: 'count', describe: 'password hashes one network may have running or waiting' },
  { flag: 'session-idle', key: 'sessionIdleMs', kind: 'duration', describe: 'a session unused this long expires, e.g. 90d' },
  { flag: 'max-buffered', key: 'maxBufferedBytes', kind: 'size', describe: 'bytes queued for a client that does not read before it is cut off' },
  { flag: 'max-groups-per-user', key: 'maxGroupsPerUser', kind: 'count', describe: 'groups one user may belong to' },
  { flag: 'max-group-members', key: 'maxGroupMembers', kind: 'count', describe: 'members of one group' },
  { flag: 'relay-max', key: 'relayMax', kind: 'count', describe: 'relayed transfers at once' },
  { flag: 'relay-rate', key: 'relayRate', kind: 'rate', describe: 'bytes/s per relayed transfer and direction, e.g. 10M (0: unlimited)' },
  { flag: 'relay-ticket', key: 'relayTicketMs', kind: 'duration', describe: 'how long after an accept and its last use a transfer may use the relay' },
  { flag: 'relay-pairs-per-user', key: 'relayPairsPerUser', kind: 'count', describe: 'relayed transfers of one sender at once' },
  { flag: 'relay-bytes-per-user', key: 'relayBytesPerUser', kind: 'size', describe: "bytes relayed for one sender's transfers per --relay-bytes-window, e.g. 32G (0: unlimited)" },
  { flag: 'relay-bytes-window', key: 'relayBytesWindowMs', kind: 'duration', describe: 'the window of --relay-bytes-per-user' },
  { flag: 'relay-idle', key: 'relayIdleMs', kind: 'duration', describe: 'a relayed transfer that moves no bytes this long is closed' },
];

export const serveCommand = leaf({
  ...COMMAND_LIST.serve,
  builder: (y, ctx) => {
    let b = y
      // The client's global options mean nothing to a server (issue 27, item 18).
      .hide('server')
      .hide('home')
      .hide('json')
      .option('insecure', {
        type: 'boolean',
        default: ['1', 'true', 'yes'].includes(ctx.env.CHAT_INSECURE ?? ''),
        describe: 'plaintext, no TLS: clients must use --insecure too, only on a trusted network (env CHAT_INSECURE=1)',
      })
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'address to listen on (0.0.0.0 or :: for every interface: a public server)' })
      .option('port', { type: 'number', default: 7070, describe: 'TCP port (0 picks a free one)' })
      .option('data', { type: 'string', default: './chat-data', describe: 'data directory (SQLite database, certificate)' })
      .option('quiet', { type: 'boolean', default: false, describe: 'log errors only' })
      .option('tls-cert', { type: 'string', describe: 'TLS certificate (PEM); default: a self-signed one kept in --data' })
      .option('tls-key', { type: 'string', describe: 'TLS private key (PEM), with --tls-cert' })
      .option('store', { type: 'string', nargs: 1, describe: `postgres://… to share state with other nodes (default SQLite in --data); ${secretHelp(STORE_SECRET)}` })
      .option('store-file', { type: 'string', describe: 'read the --store URL from this file' })
      .option('bus', { type: 'string', nargs: 1, describe: `redis://… to share delivery and presence with other nodes; ${secretHelp(BUS_SECRET)}` })
      .option('bus-file', { type: 'string', describe: 'read the --bus URL from this file' })
      .option('node-id', { type: 'string', describe: "this node's name in a cluster (default random)" })
      .option('relay-address', { type: 'string', describe: "host[:port] where clients reach this node's relay, in a cluster behind a balancer" })
      .option('registration', { choices: ['open', 'closed', 'invite'] as const, describe: 'who may register (invite: with a code from "chat admin invite"); default open on a loopback address, invite on any other' })
      .option('relay', { choices: ['on', 'off'] as const, default: 'on' as const, describe: 'relay transfers between peers that cannot connect directly' })
      .option('relay-plain', {
        type: 'boolean',
        default: true,
        describe: 'a TLS server also takes relay legs in plain TCP (their frames are sealed end to end; docs/security.md); --no-relay-plain: TLS only',
      });
    for (const f of LIMIT_FLAGS) {
      b = b.option(f.flag, { type: 'string', describe: `${f.describe} (default ${String(DEFAULT_LIMITS[f.key])}${f.kind === 'duration' ? ' ms' : ''})` });
    }
    return b;
  },
  options: async (argv, ctx): Promise<ServeOptions> => {
    // Its output is a log for people (and --quiet/--verbose); only an error becomes JSON.
    if (argv.json) throw new CliError('chat serve has no --json output (its lines are a log for people)', 2);
    const secrets = new SecretReader(ctx);
    return {
      host: argv.host,
      port: argv.port,
      data: argv.data,
      quiet: argv.quiet,
      verbose: argv.verbose,
      insecure: argv.insecure,
      tlsCert: argv.tlsCert,
      tlsKey: argv.tlsKey,
      store: await secrets.read(argv, STORE_SECRET),
      bus: await secrets.read(argv, BUS_SECRET),
      nodeId: argv.nodeId,
      relayAddress: argv.relayAddress,
      registration: argv.registration,
      limits: { ...limitsFrom(argv), relay: argv.relay !== 'off', relayPlain: argv.relayPlain },
    };
  },
  run: runServe,
});

function limitsFrom(argv: Record<string, unknown>): Partial<ServerLimits> {
  const limits: Record<string, number> = {};
  for (const f of LIMIT_FLAGS) {
    const value = argv[f.flag];
    if (value === undefined) continue;
    limits[f.key] = parseLimit(String(value), f.kind, `--${f.flag}`);
  }
  return limits as Partial<ServerLimits>;
}

function parseLimit(text: string, kind: Kind, flag: string): number {
  if (kind === 'duration') return parseDuration(text, flag);
  if (kind === 'rate' || kind === 'size') return parseRate(text, flag);
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n)) throw new CliError(`bad ${flag} "${text}": use a whole number`, 2);
  return n;
}

async function certificateFor(opts: ServeOptions): Promise<ServerCertificate | undefined> {
  if (opts.insecure) {
    if (opts.tlsCert || opts.tlsKey) throw new CliError('--insecure and --tls-cert/--tls-key exclude each other', 2);
    return undefined;
  }
  if (Boolean(opts.tlsCert) !== Boolean(opts.tlsKey)) throw new CliError('--tls-cert and --tls-key go together', 2);
  try {
    return opts.tlsCert ? loadCertificate(opts.tlsCert, opts.tlsKey!) : await selfSignedCertificate(opts.data);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

export async function runServe(opts: ServeOptions, ctx: CliContext): Promise<void> {
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new CliError(`bad --port ${opts.port}`, 2);
  const node = opts.nodeId ?? randomBytes(4).toString('hex');
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(node)) throw new CliError(`bad --node-id "${node.slice(0, 64)}": use letters, digits, _ . -`, 2);
  // In a cluster every line names its node.
  const tag = opts.nodeId || opts.store || opts.bus ? ` [${node}]` : '';
  const log = opts.quiet ? undefined : (line: string) => ctx.err(`${clock(Date.now())}${tag} ${line}`);
  if (opts.relayAddress) parseRelayAddress(opts.relayAddress, 1); // checked before anything starts
  const opened: { store?: Store; bus?: Bus } = {};
  const closeAll = async (): Promise<void> => {
    await opened.bus?.close();
    await opened.store?.close();
  };
  let server;
  let address;
  let certificate: ServerCertificate | undefined;
  privateDataDir(opts.data, ctx);
  try {
    opened.store = await openStore(opts.store, opts.data);
    certificate = await certificateFor(opts);
    opened.bus = await openBus(opts.bus, log ?? (() => {}));
    const { createServer } = await import('../../server/server.js');
    const registration = registrationFor(opts);
    server = createServer({ store: opened.store, bus: opened.bus, node, log, verbose: opts.verbose, tls: certificate, ...opts.limits, registration });
    address = await server.listen(opts.port, opts.host);
  } catch (err) {
    await closeAll();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new CliError(`port ${opts.port} on ${opts.host} is already in use`);
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot listen on ${opts.host}:${opts.port}: ${(err as Error).message}`);
  }
  if (opts.relayAddress) server.relayAddress = parseRelayAddress(opts.relayAddress, address.port);
  if (opts.store || opts.bus) {
    const parts = [opts.store && `store ${redact(opts.store)}`, opts.bus && `bus ${redact(opts.bus)}`].filter(Boolean);
    ctx.err(`chat: node ${node}: ${parts.join(', ')}${server.relayAddress ? `, relay at ${server.relayAddress.host}:${server.relayAddress.port}` : ''}`);
  }
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  if (certificate) {
    const source = opts.tlsCert ?? `${certificate.created ? 'new self-signed, ' : 'self-signed, '}${path.join(opts.data, 'server.crt')}`;
    ctx.out(`TLS certificate SHA-256 ${certificate.fingerprint} (${source})`);
  } else {
    ctx.err('chat: --insecure: plaintext, no TLS; anyone on the path can read passwords and messages');
  }
  ctx.out(`chat server listening on ${host}:${address.port} (data: ${opts.data})`);
  const notice = registrationNotice(opts, `${host}:${address.port}`);
  if (notice) ctx.err(notice);
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      if (!opts.quiet) ctx.err(`${clock(Date.now())} ${signal}: shutting down`);
      void server.close().then(closeAll).then(resolve);
    };
    const onInt = (): void => stop('SIGINT');
    const onTerm = (): void => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
  ctx.out('chat server stopped');
}

/** "host" or "host:port" (or "[v6]:port"); the port defaults to the one we listen on. */
function parseRelayAddress(text: string, port: number): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:]+)(?::(\d+))?$/.exec(text);
  const p = m?.[2] === undefined ? port : Number(m[2]);
  if (!m || !m[1] || !Number.isInteger(p) || p < 1 || p > 65535) throw new CliError(`bad --relay-address "${text}": use host or host:port`, 2);
  return { host: m[1], port: p };
}

/** Who may register: as given, else open on a loopback address and by invitation on any other. */
export function registrationFor(opts: Pick<ServeOptions, 'host' | 'registration'>): ServerLimits['registration'] {
  return opts.registration ?? (isLoopback(opts.host) ? 'open' : 'invite');
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** On a non-loopback address, who may register is never left unsaid (docs/security.md). */
export function registrationNotice(opts: Pick<ServeOptions, 'host' | 'registration' | 'data'>, where: string): string | null {
  if (isLoopback(opts.host)) return null;
  if (opts.registration === 'open') return `chat: registration is OPEN: anyone who can reach ${where} can create an account (--registration invite to require codes)`;
  if (opts.registration === undefined) {
    return `chat: registration by invitation (the default on a non-loopback address): make codes with "chat admin invite --data ${opts.data}", or pass --registration open`;
  }
  return null;
}
