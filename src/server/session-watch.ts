// The sessions of this node's live connections: revocations take effect at once, on every node,
// whoever made them; sessions in use are kept from idling out; idle ones are pruned.
//
// Why a log polled from the store (and not only the bus, or an admin socket): `chat admin user
// disable` runs as another process on the data directory, possibly while every node of a
// cluster is up, and must end the user's connections everywhere. Every store revocation appends
// a row to a small revocation log in the same transaction, and each node reads the rows after
// the last it saw every `revocationPollMs` (one indexed query a second; the same for SQLite and
// for PostgreSQL). Revocations made through a node are also published on the bus, so that the
// other nodes act at once instead of within the poll interval; a bus message lost in an outage is
// still caught by the poll. An admin unix socket would reach only the node on this host.
//
// Applying a row is idempotent and exact: each live connection of that user is closed only if
// its session is no longer in the store, so reading a row twice, or late, never closes a session
// that is still valid (e.g. one logged in after the revocation).
import { ProtocolError } from '../protocol/errors.js';
import type { Connection } from './connection.js';
import type { ServerLimits } from './options.js';
import type { Registry } from './registry.js';
import type { RevocationReason, Store } from '../store/store.js';

/** What the watch needs of the server (a ServerContext is one). */
export interface SessionHost {
  readonly store: Store;
  readonly limits: ServerLimits;
  readonly registry: Registry;
  log(line: string): void;
  now(): number;
}

/** How often a session in use has its last-seen time written: at most once a minute each. */
export const SESSION_TOUCH_MS = 60_000;

/**
 * Rows re-read below the newest seen: PostgreSQL may commit ids out of order (two nodes
 * revoking at once), so a smaller id can appear after a larger one was read.
 */
const REVOCATION_OVERLAP = 64;

/** Rows read per poll (more wait for the next). */
const REVOCATION_PAGE = 256;

/** Sessions touched per store call. */
const TOUCH_BATCH = 1000;

/** What a connection of a revoked session is told as it is closed. */
export function revokedError(reason: RevocationReason): ProtocolError {
  switch (reason) {
    case 'revoked': return new ProtocolError('unauthorized', 'this session was revoked from another device: log in again');
    case 'password': return new ProtocolError('unauthorized', 'the password was changed on another device: log in again');
    case 'reset': return new ProtocolError('unauthorized', "the server's operator reset the password: log in again");
    case 'disabled': return new ProtocolError('account_disabled', "this account was disabled by the server's operator");
    case 'deleted': return new ProtocolError('unauthorized', "this account was deleted by the server's operator");
  }
}

export class SessionWatch {
  readonly #ctx: SessionHost;
  /** Newest revocation id read, and the ids read above it minus the overlap. */
  #cursor = 0;
  #read = new Set<number>();
  #timer: NodeJS.Timeout | undefined;
  #ticking = false;
  /** Wall-clock (not ctx.now) times of the last touch and prune: their cadence is real time. */
  #touchedAt = Date.now();
  /** Revocations applied on this node so far: a login that saw this change re-checks its session. */
  #applied = 0;
  /** Wrong current passwords per session in change_password (counted before the check). */
  readonly #passwordFailures = new Map<number, { count: number; since: number }>();

  constructor(ctx: SessionHost) {
    this.#ctx = ctx;
  }

  /** Starts reading the revocation log from its current end. */
  async start(): Promise<void> {
    this.#cursor = await this.#ctx.store.latestRevocation();
    this.#timer = setInterval(() => void this.#tick(), this.#ctx.limits.revocationPollMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** A counter that moves whenever a revocation is applied here (see confirm). */
  get applied(): number {
    return this.#applied;
  }

  /**
   * After `conn` authenticated: if a revocation was applied since `seen` (it may have looked for
   * this user's connections before this one counted), checks the session still exists.
   */
  async confirm(conn: Connection, seen: number): Promise<void> {
    if (this.#applied === seen) return;
    if (await this.#ctx.store.getSession(conn.sessionId)) return;
    throw new ProtocolError('unauthorized', 'session expired or revoked: log in again', { fatal: true });
  }

  /** Closes this node's connections of `user` whose session is gone from the store. */
  async apply(user: string, reason: RevocationReason): Promise<void> {
    this.#applied++;
    const conns = [...this.#ctx.registry.all].filter((c) => c.user === user && c.sessionId > 0);
    const sessions = new Map<number, boolean>();
    for (const conn of conns) {
      if (!sessions.has(conn.sessionId)) sessions.set(conn.sessionId, (await this.#ctx.store.getSession(conn.sessionId)) !== null);
      if (sessions.get(conn.sessionId)) continue;
      this.#ctx.log(`conn ${conn.id} ${user}: session ${conn.sessionId} ${reason === 'revoked' ? 'revoked' : `ended (${reason})`}; closing`);
      conn.fail(revokedError(reason));
    }
  }

  /**
   * Counts a change_password attempt of `sessionId` before its password is checked (so parallel
   * guesses count too); throws rate_limited past maxLoginFailures within loginBlockMs.
   */
  countPasswordAttempt(sessionId: number): void {
    const { maxLoginFailures, loginBlockMs } = this.#ctx.limits;
    const now = this.#ctx.now();
    let entry = this.#passwordFailures.get(sessionId);
    if (!entry || now - entry.since >= loginBlockMs) entry = { count: 0, since: now };
    if (entry.count >= maxLoginFailures) {
      throw new ProtocolError('rate_limited', `too many wrong passwords; try again in ${Math.ceil((entry.since + loginBlockMs - now) / 60_000)} min`);
    }
    entry.count++;
    if (this.#passwordFailures.size >= 100_000) this.#passwordFailures.clear();
    this.#passwordFailures.set(sessionId, entry);
  }

  /** The password was right: the attempt does not count. */
  passwordAccepted(sessionId: number): void {
    this.#passwordFailures.delete(sessionId);
  }

  async #tick(): Promise<void> {
    if (this.#ticking) return;
    this.#ticking = true;
    try {
      await this.#poll();
      if (Date.now() - this.#touchedAt >= SESSION_TOUCH_MS) {
        this.#touchedAt = Date.now();
        await this.#touchLive();
        await this.#pruneIdle();
      }
    } catch (err) {
      this.#ctx.log(`sessions: ${(err as Error).message}`);
    } finally {
      this.#ticking = false;
    }
  }

  /** Applies the revocation log's new rows. */
  async #poll(): Promise<void> {
    const floor = Math.max(0, this.#cursor - REVOCATION_OVERLAP);
    const rows = await this.#ctx.store.revocationsSince(floor, REVOCATION_PAGE);
    for (const row of rows) {
      if (this.#read.has(row.id)) continue;
      this.#read.add(row.id);
      this.#cursor = Math.max(this.#cursor, row.id);
      await this.apply(row.user, row.reason);
    }
    for (const id of this.#read) if (id <= this.#cursor - REVOCATION_OVERLAP) this.#read.delete(id);
  }

  /** Sessions in use stay fresh: their last-seen time moves while their connection lives. */
  async #touchLive(): Promise<void> {
    const ids = [...new Set([...this.#ctx.registry.all].filter((c) => c.state === 'ready').map((c) => c.sessionId))];
    for (let i = 0; i < ids.length; i += TOUCH_BATCH) await this.#ctx.store.touchSessions(ids.slice(i, i + TOUCH_BATCH), this.#ctx.now());
  }

  async #pruneIdle(): Promise<void> {
    const idleMs = this.#ctx.limits.sessionIdleMs;
    if (idleMs <= 0) return;
    const pruned = await this.#ctx.store.deleteIdleSessions(this.#ctx.now() - idleMs);
    if (pruned > 0) this.#ctx.log(`sessions: ${pruned} idle for more than ${Math.round(idleMs / 86_400_000)} days removed`);
  }
}
