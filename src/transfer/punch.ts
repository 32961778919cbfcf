// TCP hole punching (protocol.md §T8 "punch", §4.9). From one local port we ask the server where it
// sees us and the peer (each NAT's mapping of the port its side punches from), then connect to the
// peer from that same port while the peer connects to us: a TCP simultaneous open. Each NAT lets
// the other side's SYN in because it looks like the answer to the SYN we sent out.
import { hostPort } from '../protocol/address.js';
import { lookup } from 'node:dns/promises';
import net, { type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { punchRequest, type RelayRole } from '../protocol/relay.js';
import { TransferError } from './errors.js';
import type { Candidate } from './offer.js';
import { firstReply, openServer, type LocalBinding, type RelayEndpoint } from './relay-dial.js';
import { connectWithin } from './tcp-connect.js';

export interface PunchOptions {
  transferId: string;
  token: string;
  role: RelayRole;
  /** How long the server may take to bring the other side (it waits 10 s), plus a margin. @default 15000 */
  meetTimeoutMs?: number;
  /** How long we keep connecting to the peer after the meeting. @default 5000 */
  connectMs?: number;
  signal?: AbortSignal;
}

/**
 * The retry schedule after a connect is refused at once (protocol.md §T8 "punch"). A reset means
 * our SYN reached the other side's router (or host) before the other side's own SYN had gone out
 * through it, and a reset-answering router closes our NAT's mapping with it. The two SYNs must
 * cross in flight: be sent within one one-way delay of each other. So the next connect starts
 * almost at once, which paces each side at one attempt per round trip to the other router (its
 * reset is the clock), so two such sequences overlap within a few attempts whatever their offset;
 * a fixed pause longer than the round trip keeps the two sides the same distance apart (the old
 * 100 ms). Each wait is random, so that two sides with the same pace do not stay in lock-step.
 * Pending connects are left to the kernel (a router that drops SYNs: the other side's SYN comes in).
 */
export const PUNCH_RETRY = {
  /** The first `burst` retries wait uniformly in [0, burstMs) ms (under 1 ms: the next turn of the event loop). */
  burst: 256,
  burstMs: 1,
  /** Then the range starts at backoffMs, doubling every `perDoubling` retries, up to maxMs. */
  backoffMs: 2,
  perDoubling: 32,
  maxMs: 256,
  /** At most this many connects per meeting (and at most PunchOptions.connectMs), one in flight at a time. */
  maxAttempts: 512,
} as const;

/** The wait (ms) before the next connect after `resets` refused ones (≥ 1), for `random` in [0, 1). */
export function punchRetryDelayMs(resets: number, random: number): number {
  const { burst, burstMs, backoffMs, perDoubling, maxMs } = PUNCH_RETRY;
  if (resets <= burst) return random * burstMs;
  return random * Math.min(maxMs, backoffMs * 2 ** Math.floor((resets - burst - 1) / perDoubling));
}

/** Resolves a TCP connection to the peer made through both NATs (not yet authenticated: §T2.2 follows). */
export async function punch(server: RelayEndpoint, opts: PunchOptions): Promise<Socket> {
  const local = await bindingFor(server.host);
  const probe = await openServer(server, 'the punch rendezvous', local, opts.signal);
  const port = probe.localPort;
  let meeting: { observed: Candidate; peer: Candidate };
  try {
    const request = punchRequest(opts.token, opts.role, opts.transferId);
    const what = `the punch rendezvous at ${show(server)}`;
    const { result } = await firstReply(probe, what, request, { timeoutMs: opts.meetTimeoutMs ?? 15_000, signal: opts.signal });
    meeting = parseMeeting(result, what);
  } finally {
    probe.destroy();
  }
  if (!port) throw new TransferError('io_error', 'the punch port was not bound');
  if (net.isIP(meeting.peer.host) !== local.family) {
    throw new TransferError('unreachable', `cannot punch to ${show(meeting.peer)}: the peer reached the server over another IP version`);
  }
  return simultaneousOpen({ ...local, localPort: port }, meeting.peer, opts.connectMs ?? 5000, opts.signal);
}

/** Any free port (bound explicitly, so it can be bound again), in the server address's family. */
async function bindingFor(host: string): Promise<LocalBinding> {
  const family = net.isIP(host) || (await lookup(host).then((a) => a.family, () => 4));
  return family === 6 ? { localAddress: '::', localPort: 0, family: 6 } : { localAddress: '0.0.0.0', localPort: 0, family: 4 };
}

function parseMeeting(result: unknown, what: string): { observed: Candidate; peer: Candidate } {
  const { observed, peer } = (result ?? {}) as Record<string, unknown>;
  if (!isEndpoint(observed) || !isEndpoint(peer)) throw new TransferError('protocol', `${what} sent a malformed meeting`);
  return { observed, peer };
}

function isEndpoint(c: unknown): c is Candidate {
  const { host, port } = (c ?? {}) as Record<string, unknown>;
  return typeof host === 'string' && net.isIP(host) !== 0 && Number.isInteger(port) && (port as number) >= 1 && (port as number) <= 65535;
}

/**
 * Connects from `local` to `peer` until it works, `connectMs` passed or PUNCH_RETRY.maxAttempts
 * connects were made, waiting punchRetryDelayMs() after each failed one; the peer does the same.
 */
async function simultaneousOpen(local: LocalBinding, peer: Candidate, connectMs: number, signal?: AbortSignal): Promise<Socket> {
  const deadline = performance.now() + connectMs;
  let last = 'no answer';
  for (let attempt = 1; ; attempt++) {
    const left = deadline - performance.now();
    if (signal?.aborted) throw new TransferError('aborted', 'transfer aborted');
    if (left <= 0 || attempt > PUNCH_RETRY.maxAttempts) {
      const tried = `${attempt - 1} connect${attempt === 2 ? '' : 's'}`;
      throw new TransferError('unreachable', `no hole punched to ${show(peer)} within ${connectMs} ms (${tried}, last: ${last}; a NAT may map each connection to a new port)`);
    }
    try {
      return await connectFrom(local, peer, left, signal);
    } catch (err) {
      last = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      await pause(punchRetryDelayMs(attempt, Math.random()), signal);
    }
  }
}

/** Waits `ms` (under a millisecond: only until the event loop's next turn); never rejects. */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms < 1) return new Promise((resolve) => setImmediate(resolve));
  return sleep(ms, undefined, { signal }).catch(() => {});
}

/** One connect from the bound port; the kernel retransmits our SYN meanwhile (1 s, 3 s, …). */
function connectFrom(local: LocalBinding, peer: Candidate, timeoutMs: number, signal?: AbortSignal): Promise<Socket> {
  return connectWithin({ host: peer.host, port: peer.port, localAddress: local.localAddress, localPort: local.localPort }, timeoutMs, signal);
}

function show(c: Candidate): string {
  return hostPort(c.host, c.port);
}
