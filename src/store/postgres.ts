// PostgresStore: the Store on PostgreSQL, for cluster mode (several server nodes, one database).
// Same semantics as SqliteStore, checked by the same contract suite (test/contract/); the schema
// and how it differs from SQLite's are described in postgres-migrations.ts.
//
// Transactions: one per logical write, as in SqliteStore (a single statement is its own).
// Ordering is per conversation (a pair of users, or a group), not global: a batch of messages
// takes each of its conversations' transaction advisory locks before drawing ids, so within a
// conversation ids increase in commit order, while batches with no conversation in common never
// wait on each other. Each stored message comes with the id of its conversation's previous one
// (MessageOrder), with which the nodes receiving announcements from the bus put each
// conversation back in order (src/server/sequencer.ts). Across conversations ids may commit out
// of order; a delivery cursor therefore moves only up to the settled-id watermark
// (postgres-settled.ts). See docs/cluster.md.
// Read-then-write operations on a friendship take an advisory lock on the pair, so two nodes
// handling crossed requests at once end as friends instead of one failing on a deadlock.
import { canAcceptFriend, conversationOf, friendRequest, pairKey } from './rules.js';
import pg from 'pg';
import type { BlockedUser, ChatMessage } from '../protocol/messages.js';
import { PG_MIGRATIONS } from './postgres-migrations.js';
import { SettledIds, type Reading } from './postgres-settled.js';
import type {
  FriendRow, GroupListRow, GroupRow, HistoryQuery, MemberRow, NewMessage, NewSessionInfo, Revocation, RevocationReason, SessionInfo, SessionRow, StoredMessage, DeviceKey,
  Store, UserRow, UserState,
} from './store.js';

/** How long revocation log rows are kept: far longer than any node takes to read them. */
const REVOCATION_KEEP_MS = 24 * 3_600_000;

export interface PostgresStoreOptions {
  /**
   * Schema to use (sets search_path; it must exist). Default: the server's search_path. Ignored
   * if the URL has its own `options` parameter (the URL wins in pg).
   */
  schema?: string;
  /** Most connections this store holds (default 10). */
  maxConnections?: number;
  /**
   * Longest an ack waits for every smaller message id to settle (commit or fail) before it moves
   * the cursor only as far as they have (default 2000 ms).
   */
  ackSettleMs?: number;
  /** Errors of idle pooled connections (e.g. the server restarted). Default: printed to stderr. */
  onError?: (err: Error) => void;
}

/** bigint columns hold ids, counts and millisecond times, all far below 2^53: read them as numbers. */
const BIGINT_AS_NUMBER: pg.CustomTypesConfig = {
  getTypeParser: (id, format) => (id === pg.types.builtins.INT8 && format !== 'binary' ? Number : pg.types.getTypeParser(id, format)),
};

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

interface MessageRecord {
  id: number;
  sender: string;
  recipient: string;
  body: Buffer;
  at: number;
}

const toMessage = (r: MessageRecord): ChatMessage => ({ id: r.id, from: r.sender, to: r.recipient, text: r.body.toString('utf8'), at: r.at });

/** Message text and notes are stored as UTF-8 bytes (text cannot hold NUL). */
const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');


/** The columns of a message, as toMessage reads them. */
const MESSAGE_COLUMNS = 'id, sender, recipient, body, at';

const GROUP_COLUMNS = 'name, owner, private, created_at AS "createdAt"';

/**
 * Takes the transaction-scoped advisory lock named `name` in the current schema (so stores in
 * different schemas of one database do not contend). Released at commit or rollback.
 */
async function advisoryLock(client: pg.ClientBase, name: string): Promise<void> {
  await client.query(`SELECT pg_advisory_xact_lock(hashtext(coalesce(current_schema(), '')), hashtext($1))`, [name]);
}

/** Most messages one transaction takes. */
const MESSAGE_BATCH = 256;

/** Longest a message waits for others to share its batch with when no batch is in flight. */
const BATCH_LINGER_MS = 2;

/** With this many queued, a batch starts without waiting. */
const LINGER_BELOW = 64;

/** A batch in flight longer than this lets another start beside it. */
const BATCH_STALL_MS = 20;

interface QueuedMessage {
  m: NewMessage;
  resolve: (stored: StoredMessage) => void;
  reject: (err: Error) => void;
}

/** Inserts messages in one transaction (chat_add_messages, migration 3), with their conversation order. */
async function insertMessages(c: pg.PoolClient, messages: NewMessage[]): Promise<StoredMessage[]> {
  const conversations = messages.map((m) => conversationOf(m.from, m.to));
  const { rows } = await c.query<{ stored_id: number; prev_id: number }>(
    `SELECT stored_id, prev_id FROM chat_add_messages(hashtext(coalesce(current_schema(), '')), $1, $2, $3, $4, $5, $6)`,
    [
      conversations,
      messages.map((m) => m.from),
      messages.map((m) => m.to),
      messages.map((m) => utf8(m.text)),
      messages.map((m) => m.at),
      messages.map((m) => m.fromSession),
    ],
  );
  if (rows.length !== messages.length) throw new Error(`stored ${rows.length} of ${messages.length} messages`);
  return messages.map((m, i) => ({
    message: { id: rows[i]!.stored_id, from: m.from, to: m.to, text: m.text, at: m.at },
    order: { conversation: conversations[i]!, prev: rows[i]!.prev_id },
  }));
}

async function schemaVersionOf(client: pg.ClientBase): Promise<number> {
  const { rows } = await client.query<{ version: number }>('SELECT coalesce(max(version), 0) AS version FROM chat_schema');
  return rows[0]!.version;
}

export class PostgresStore implements Store {
  /** A batch that stalls gets another beside it, which may commit first. */
  readonly commitsInCallOrder = false;
  /** Reads and the other writes. */
  readonly #pool: pg.Pool;
  /** Message batches only, one connection per batch in flight: they never queue behind reads. */
  readonly #writers: pg.Pool;
  #closing: Promise<void> | undefined;
  /** Messages waiting for the next batch (see addMessage). */
  #queued: QueuedMessage[] = [];
  /** The batches in flight, by when they started. */
  readonly #batchesInFlight = new Set<{ started: number }>();
  /** When the oldest queued message was queued. */
  #queuedAt = 0;
  #lingering: NodeJS.Timeout | undefined;
  /** Most batches in flight at once (see #startBatches). */
  readonly #maxBatches: number;
  #settled: SettledIds | undefined;
  readonly #ackSettleMs: number;

  private constructor(pool: pg.Pool, writers: pg.Pool, maxBatches: number, opts: PostgresStoreOptions) {
    this.#pool = pool;
    this.#writers = writers;
    this.#maxBatches = maxBatches;
    this.#ackSettleMs = opts.ackSettleMs ?? 2000;
  }

  /** Connects to `url` (postgres://…) and brings the schema up to date. */
  static async open(url: string, opts: PostgresStoreOptions = {}): Promise<PostgresStore> {
    if (opts.schema !== undefined && !SCHEMA_NAME.test(opts.schema)) {
      throw new Error(`invalid schema name ${JSON.stringify(opts.schema)} (lower-case letters, digits, _)`);
    }
    const poolOf = (max: number): pg.Pool => {
      const pool = new pg.Pool({
        connectionString: url,
        max,
        // Keep idle connections: opening one costs PostgreSQL a process (~40 ms measured here),
        // and a burst after a quiet spell would wait for it.
        idleTimeoutMillis: 0,
        types: BIGINT_AS_NUMBER,
        ...(opts.schema !== undefined ? { options: `-c search_path=${opts.schema}` } : {}),
      });
      pool.on('error', opts.onError ?? ((err) => console.error(`postgres: idle connection failed: ${err.message}`)));
      return pool;
    };
    // maxConnections in all: up to 4 for message batches, the rest (at least 1) for the others.
    const maxConnections = opts.maxConnections ?? 10;
    const maxBatches = Math.max(1, Math.min(4, maxConnections - 2));
    const store = new PostgresStore(poolOf(Math.max(1, maxConnections - maxBatches)), poolOf(maxBatches), maxBatches, opts);
    try {
      await store.#migrate();
      store.#settled = new SettledIds(await store.#settledReader(), opts.onError ?? ((err) => console.error(`postgres: ${err.message}`)));
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  /** The schema version (number of migrations applied). */
  async schemaVersion(): Promise<number> {
    const client = await this.#pool.connect();
    try {
      return await schemaVersionOf(client);
    } finally {
      client.release();
    }
  }

  /**
   * Applies the missing migrations in one transaction, under an advisory lock: nodes starting
   * together wait for each other, and the later ones find the work done.
   */
  async #migrate(): Promise<void> {
    await this.#transaction(async (c) => {
      await advisoryLock(c, 'chat migrate');
      await c.query(
        `CREATE TABLE IF NOT EXISTS chat_schema (
           version    integer PRIMARY KEY,
           applied_at timestamptz NOT NULL DEFAULT now()
         )`,
      );
      const applied = await schemaVersionOf(c);
      if (applied > PG_MIGRATIONS.length) {
        throw new Error(`database schema ${applied} is newer than this program (${PG_MIGRATIONS.length}); upgrade chat`);
      }
      for (let v = applied; v < PG_MIGRATIONS.length; v++) {
        await c.query(PG_MIGRATIONS[v]!);
        await c.query('INSERT INTO chat_schema (version) VALUES ($1)', [v + 1]);
      }
    });
  }

  /**
   * The settled-id watermark's reading (postgres-settled.ts): the newest id drawn from the message
   * id sequence, and the transaction ids running in this database.
   */
  async #settledReader(): Promise<() => Promise<Reading>> {
    const rows = await this.#rows<{ seq: string }>(`SELECT pg_get_serial_sequence('messages', 'id') AS seq`, []);
    const sql = `SELECT (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM ${rows[0]!.seq}) AS last,
                        array(SELECT backend_xid::text FROM pg_stat_activity
                              WHERE backend_xid IS NOT NULL AND datname = current_database()) AS running`;
    return async () => (await this.#rows<Reading>(sql, []))[0]!;
  }

  /** Runs `work` in one transaction on one pooled connection; rolls back if it throws. */
  async #transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {
        broken = true; // the connection is unusable: the pool must not hand it out again
      });
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async #rows<R extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<R[]> {
    return (await this.#pool.query<R>(sql, params)).rows;
  }

  /** Rows changed by a single-statement write. */
  async #changes(sql: string, params: unknown[]): Promise<number> {
    return (await this.#pool.query(sql, params)).rowCount ?? 0;
  }

  async #messages(sql: string, params: unknown[]): Promise<ChatMessage[]> {
    return (await this.#rows<MessageRecord>(sql, params)).map(toMessage);
  }

  // ---- users and sessions ----------------------------------------------------------------------

  async createUser(name: string, salt: Buffer, hash: Buffer, at: number): Promise<UserRow | null> {
    const rows = await this.#rows<{ id: number }>(
      `INSERT INTO users (name, salt, hash, created_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT DO NOTHING
       RETURNING id`,
      [name, salt, hash, at],
    );
    return rows[0] ? { id: rows[0].id, name, salt, hash, createdAt: at } : null;
  }

  async createUserWithCode(name: string, salt: Buffer, hash: Buffer, at: number, codeHash: Buffer): Promise<UserRow | 'name_taken' | 'invalid_code'> {
    return this.#transaction(async (c) => {
      const used = await c.query(
        'UPDATE registration_codes SET uses_left = uses_left - 1 WHERE code_hash = $1 AND uses_left > 0 AND expires_at > $2',
        [codeHash, at],
      );
      if (used.rowCount === 0) return 'invalid_code' as const;
      const rows = (await c.query<{ id: number }>(
        'INSERT INTO users (name, salt, hash, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING id',
        [name, salt, hash, at],
      )).rows;
      // A taken name must not use up the code: undo the decrement (same transaction).
      if (!rows[0]) {
        await c.query('UPDATE registration_codes SET uses_left = uses_left + 1 WHERE code_hash = $1', [codeHash]);
        return 'name_taken' as const;
      }
      return { id: rows[0].id, name, salt, hash, createdAt: at };
    });
  }

  async addRegistrationCode(codeHash: Buffer, uses: number, expiresAt: number, at: number): Promise<void> {
    await this.#rows('INSERT INTO registration_codes (code_hash, uses_left, expires_at, created_at) VALUES ($1, $2, $3, $4)', [codeHash, uses, expiresAt, at]);
  }

  async getUser(name: string): Promise<UserRow | null> {
    const rows = await this.#rows<UserRow>(
      `SELECT id, name, salt, hash, created_at AS "createdAt" FROM users WHERE chat_nocase(name) = chat_nocase($1) AND state <> 'deleted'`,
      [name],
    );
    return rows[0] ?? null;
  }

  async createSession(userId: number, tokenHash: Buffer, at: number, info: NewSessionInfo = {}): Promise<SessionRow | null> {
    // FOR SHARE: waits for a concurrent disable/delete of the user to commit, then sees its state;
    // a disable that comes second waits for this insert and then deletes the new session too.
    const rows = await this.#rows<SessionRow & { active: boolean }>(
      `WITH u AS (
         SELECT id, name, acked, state = 'active' AS active FROM users WHERE id = $1 FOR SHARE
       ), created AS (
         INSERT INTO sessions (user_id, token_hash, created_at, cursor, last_seen_at, device, address)
         SELECT id, $2, $3, acked, $3, $4, $5 FROM u WHERE active
         RETURNING id, user_id, cursor, last_seen_at, identity_key
       )
       SELECT c.id, u.id AS "userId", u.name AS "user", c.cursor, c.last_seen_at AS "lastSeenAt", c.identity_key AS "identityKey", u.active
       FROM u LEFT JOIN created c ON c.user_id = u.id`,
      [userId, tokenHash, at, utf8(info.device ?? ''), info.address ?? ''],
    );
    if (!rows[0]) throw new Error(`no user with id ${userId}`);
    const { active, ...session } = rows[0];
    return active && session.id !== null ? session : null;
  }

  async getSessionByTokenHash(tokenHash: Buffer): Promise<SessionRow | null> {
    return this.#session('s.token_hash = $1', tokenHash);
  }

  async getSession(sessionId: number): Promise<SessionRow | null> {
    return this.#session('s.id = $1', sessionId);
  }

  async #session(where: string, value: unknown): Promise<SessionRow | null> {
    const rows = await this.#rows<SessionRow>(
      `SELECT s.id, s.user_id AS "userId", u.name AS "user", s.cursor, s.last_seen_at AS "lastSeenAt", s.identity_key AS "identityKey"
       FROM sessions s JOIN users u ON u.id = s.user_id
       WHERE ${where}`,
      [value],
    );
    return rows[0] ?? null;
  }

  async deleteSession(sessionId: number): Promise<void> {
    await this.#changes('DELETE FROM sessions WHERE id = $1', [sessionId]);
  }

  async touchSession(sessionId: number, at: number, address?: string): Promise<void> {
    await this.#changes(
      'UPDATE sessions SET last_seen_at = greatest(last_seen_at, $2), address = coalesce($3, address) WHERE id = $1',
      [sessionId, at, address ?? null],
    );
  }

  async touchSessions(sessionIds: number[], at: number): Promise<void> {
    await this.#changes('UPDATE sessions SET last_seen_at = greatest(last_seen_at, $2) WHERE id = ANY($1::bigint[])', [sessionIds, at]);
  }

  async deleteIdleSessions(before: number): Promise<number> {
    return this.#changes('DELETE FROM sessions WHERE last_seen_at < $1', [before]);
  }

  async setSessionIdentity(sessionId: number, key: string): Promise<void> {
    await this.#changes('UPDATE sessions SET identity_key = $2 WHERE id = $1', [sessionId, key]);
  }

  async deviceKeys(userId: number, limit: number): Promise<DeviceKey[]> {
    const rows = await this.#rows<Omit<DeviceKey, 'device' | 'session'> & { device: Buffer; session: string | number }>(
      `SELECT id AS session, device, identity_key AS key FROM sessions
       WHERE user_id = $1 AND identity_key <> '' ORDER BY id LIMIT $2`,
      [userId, limit],
    );
    return rows.map((r) => ({ ...r, session: Number(r.session), device: r.device.toString('utf8') }));
  }

  async listSessions(userId: number, limit: number): Promise<SessionInfo[]> {
    const rows = await this.#rows<Omit<SessionInfo, 'device'> & { device: Buffer }>(
      `SELECT id, device, created_at AS "createdAt", last_seen_at AS "lastSeenAt", address FROM sessions
       WHERE user_id = $1
       ORDER BY last_seen_at DESC, id DESC
       LIMIT $2`,
      [userId, limit],
    );
    return rows.map((r) => ({ ...r, device: r.device.toString('utf8') }));
  }

  async revokeSessions(userId: number, which: number | { except: number }, reason: RevocationReason, at: number): Promise<number> {
    return this.#transaction(async (c) => {
      const deleted = typeof which === 'number'
        ? await c.query('DELETE FROM sessions WHERE id = $1 AND user_id = $2', [which, userId])
        : await c.query('DELETE FROM sessions WHERE user_id = $1 AND id <> $2', [userId, which.except]);
      if ((deleted.rowCount ?? 0) > 0) await logRevocation(c, userId, reason, at);
      return deleted.rowCount ?? 0;
    });
  }

  async setPassword(userId: number, salt: Buffer, hash: Buffer, keepSession: number, reason: RevocationReason, at: number): Promise<number> {
    return this.#transaction(async (c) => {
      await c.query('UPDATE users SET salt = $2, hash = $3 WHERE id = $1', [userId, salt, hash]);
      const deleted = await c.query('DELETE FROM sessions WHERE user_id = $1 AND id <> $2', [userId, keepSession]);
      await logRevocation(c, userId, reason, at);
      return deleted.rowCount ?? 0;
    });
  }

  async setUserState(name: string, state: UserState, at: number): Promise<UserState | null> {
    return this.#transaction(async (c) => {
      const { rows } = await c.query<{ id: number; name: string; state: UserState }>(
        'SELECT id, name, state FROM users WHERE chat_nocase(name) = chat_nocase($1) FOR UPDATE',
        [name],
      );
      const user = rows[0];
      if (!user) return null;
      if (user.state === 'deleted' || user.state === state) return user.state;
      await c.query('UPDATE users SET state = $2 WHERE id = $1', [user.id, state]);
      if (state === 'active') return user.state;
      await c.query('DELETE FROM sessions WHERE user_id = $1', [user.id]);
      if (state === 'deleted') {
        await c.query(`UPDATE users SET hash = decode(repeat('00', 64), 'hex') WHERE id = $1`, [user.id]);
        await c.query('DELETE FROM friends WHERE username = $1 OR other = $1', [user.name]);
        await c.query('DELETE FROM members WHERE username = $1', [user.name]);
        await c.query('DELETE FROM invites WHERE username = $1', [user.name]);
      }
      await logRevocation(c, user.id, state, at);
      return user.state;
    });
  }

  async latestRevocation(): Promise<number> {
    const rows = await this.#rows<{ id: number }>('SELECT coalesce(max(id), 0) AS id FROM revocations', []);
    return rows[0]!.id;
  }

  async revocationsSince(after: number, limit: number): Promise<Revocation[]> {
    return this.#rows<Revocation>('SELECT id, username AS "user", reason, at FROM revocations WHERE id > $1 ORDER BY id LIMIT $2', [after, limit]);
  }

  // ---- messages --------------------------------------------------------------------------------

  /**
   * Messages queued while this node's batches are in flight go in the next batch: one call, one
   * commit, whatever their conversations. Each resolves with its place in its conversation
   * (MessageOrder): nodes publish concurrently, receivers restore each conversation's order.
   */
  addMessage(m: NewMessage): Promise<StoredMessage> {
    return new Promise((resolve, reject) => {
      if (this.#queued.push({ m, resolve, reject }) === 1) this.#queuedAt = Date.now();
      this.#startBatches();
    });
  }

  /**
   * One batch being inserted at a time, so that messages queued meanwhile make the next one large
   * (a statement per batch is most of PostgreSQL's work); another starts beside a batch that is
   * taking longer than BATCH_STALL_MS (e.g. waiting for a conversation another node is inserting
   * into).
   */
  #startBatches(): void {
    const now = Date.now();
    if (this.#batchesInFlight.size === 0 && this.#queued.length < LINGER_BELOW && now - this.#queuedAt < BATCH_LINGER_MS) {
      // Idle, few queued: wait a moment for more (each batch costs PostgreSQL a statement).
      this.#lingering ??= setTimeout(() => {
        this.#lingering = undefined;
        this.#startBatches();
      }, BATCH_LINGER_MS - (now - this.#queuedAt));
      return;
    }
    let stalled = 0;
    for (const b of this.#batchesInFlight) if (now - b.started >= BATCH_STALL_MS) stalled++;
    const allowed = Math.min(this.#maxBatches, stalled + 1);
    while (this.#batchesInFlight.size < allowed && this.#queued.length > 0) {
      const batch = this.#queued.splice(0, MESSAGE_BATCH);
      const inFlight = { started: now };
      this.#batchesInFlight.add(inFlight);
      setTimeout(() => this.#startBatches(), BATCH_STALL_MS).unref();
      // The next batch may start once this one is committed.
      void this.#insertBatch(batch)
        .finally(() => {
          this.#batchesInFlight.delete(inFlight);
          this.#startBatches();
        })
        .then((stored) => this.#settleBatch(batch, stored), (err: Error) => batch.forEach((b) => b.reject(err)));
    }
  }

  /** Stores a batch: each message's result, or its error. */
  async #insertBatch(batch: QueuedMessage[]): Promise<(StoredMessage | Error)[]> {
    const c = await this.#writers.connect();
    try {
      // One bad row must not fail the others: then each in its own transaction.
      return await insertMessages(c, batch.map((b) => b.m)).catch(async () => {
        const each: (StoredMessage | Error)[] = [];
        for (const b of batch) each.push(await insertMessages(c, [b.m]).then((one) => one[0]!, (err: Error) => err));
        return each;
      });
    } finally {
      c.release();
    }
  }

  /** Resolves a committed batch's messages, in id order (what their callers publish at once). */
  #settleBatch(batch: QueuedMessage[], stored: (StoredMessage | Error)[]): void {
    batch.forEach((b, i) => {
      const result = stored[i]!;
      if (result instanceof Error) b.reject(result);
      else b.resolve(result);
    });
  }

  async pendingMessages(user: string, cursor: number, exceptSession: number, limit: number): Promise<ChatMessage[]> {
    // $1 user, $2 cursor, $3 the session not to echo to, $4 limit.
    return this.#messages(
      `SELECT ${MESSAGE_COLUMNS} FROM (
         SELECT * FROM messages
           WHERE recipient = $1 AND id > $2 AND (sender <> $1 OR from_session <> $3)
         UNION
         SELECT * FROM messages
           WHERE sender = $1 AND id > $2 AND from_session <> $3
         UNION
         SELECT m.* FROM members g JOIN messages m ON m.recipient = '#' || g.grp AND m.id > greatest($2, g.since)
           WHERE g.username = $1 AND (m.sender <> $1 OR m.from_session <> $3)
       ) AS pending
       ORDER BY id
       LIMIT $4`,
      [user, cursor, exceptSession, limit],
    );
  }

  async backlog(user: string, limit: number): Promise<{ count: number; bytes: number }> {
    const { rows } = await this.#pool.query(
      `SELECT count(*)::int AS count, coalesce(sum(octet_length(body)), 0)::bigint AS bytes FROM (
         SELECT m.body FROM users u JOIN messages m ON m.recipient = u.name AND m.id > u.acked
         WHERE u.name = $1 AND m.sender <> $1
         LIMIT $2) AS waiting`,
      [user, limit],
    );
    return { count: Number(rows[0].count), bytes: Number(rows[0].bytes) };
  }

  async ackMessages(sessionId: number, upTo: number): Promise<void> {
    // Never past an id that may still commit: the device would never be sent that message.
    const settled = await this.#settled!.atLeast(upTo, this.#ackSettleMs);
    await this.#changes(
      `WITH acked AS (
         UPDATE sessions SET cursor = greatest(cursor, least($2::bigint, $3::bigint))
         WHERE id = $1
         RETURNING user_id, least($2::bigint, $3::bigint) AS up_to
       )
       UPDATE users SET acked = greatest(users.acked, acked.up_to)
       FROM acked
       WHERE users.id = acked.user_id`,
      [sessionId, upTo, settled],
    );
  }

  async history(q: HistoryQuery): Promise<ChatMessage[]> {
    return this.#conversation(pairKey(q.a, q.b), q.limit, q.before);
  }

  async groupHistory(group: string, limit: number, before?: number): Promise<ChatMessage[]> {
    return this.#conversation(`#${group}`, limit, before);
  }

  /** The newest `limit` messages of a conversation before `before`, oldest first. */
  async #conversation(pair: string, limit: number, before: number | undefined): Promise<ChatMessage[]> {
    const newestFirst = await this.#messages(
      `SELECT ${MESSAGE_COLUMNS} FROM messages
       WHERE pair = $1 AND id < $2
       ORDER BY id DESC
       LIMIT $3`,
      [pair, before ?? Number.MAX_SAFE_INTEGER, limit],
    );
    return newestFirst.reverse();
  }

  async directMessagesTo(user: string, after: number, upTo: number, limit: number): Promise<ChatMessage[]> {
    const newestFirst = await this.#messages(
      `SELECT ${MESSAGE_COLUMNS} FROM messages
       WHERE recipient = $1 AND sender <> $1 AND id > $2 AND id <= $3
       ORDER BY id DESC
       LIMIT $4`,
      [user, after, upTo, limit],
    );
    return newestFirst.reverse();
  }

  // ---- groups ----------------------------------------------------------------------------------

  async createGroup(name: string, owner: string, isPrivate: boolean, at: number): Promise<GroupRow | null> {
    return this.#transaction(async (c) => {
      const created = await c.query(
        `INSERT INTO groups (name, owner, private, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING`,
        [name, owner, isPrivate, at],
      );
      if (created.rowCount === 0) return null;
      await insertMember(c, name, owner, at);
      return { name, owner, private: isPrivate, createdAt: at };
    });
  }

  async getGroup(name: string): Promise<GroupRow | null> {
    const rows = await this.#rows<GroupRow>(`SELECT ${GROUP_COLUMNS} FROM groups WHERE chat_nocase(name) = chat_nocase($1)`, [name]);
    return rows[0] ?? null;
  }

  async deleteGroup(name: string): Promise<void> {
    await this.#transaction(async (c) => {
      await c.query('DELETE FROM messages WHERE pair = $1', [`#${name}`]);
      // Members and invitations go with it (ON DELETE CASCADE).
      await c.query('DELETE FROM groups WHERE chat_nocase(name) = chat_nocase($1)', [name]);
    });
  }

  async listGroups(user: string): Promise<GroupListRow[]> {
    return this.#rows<GroupListRow>(
      `SELECT ${GROUP_COLUMNS}, members, member FROM (
         SELECT g.*,
                (SELECT count(*) FROM members m WHERE m.grp = g.name) AS members,
                EXISTS (SELECT 1 FROM members m WHERE m.grp = g.name AND m.username = $1) AS member
         FROM groups g
       ) AS listed
       WHERE NOT private OR member
       ORDER BY name`,
      [user],
    );
  }

  async addMember(group: string, user: string, at: number): Promise<boolean> {
    return this.#transaction((c) => insertMember(c, group, user, at));
  }

  async removeMember(group: string, user: string): Promise<boolean> {
    return (await this.#changes('DELETE FROM members WHERE grp = $1 AND username = $2', [group, user])) > 0;
  }

  async members(group: string): Promise<MemberRow[]> {
    return this.#rows<MemberRow>(
      `SELECT m.username AS "user", CASE WHEN g.owner = m.username THEN 'owner' ELSE 'member' END AS role
       FROM members m JOIN groups g ON g.name = m.grp
       WHERE m.grp = $1
       ORDER BY g.owner = m.username DESC, m.username`,
      [group],
    );
  }

  async isMember(group: string, user: string): Promise<boolean> {
    return (await this.#rows('SELECT 1 FROM members WHERE grp = $1 AND username = $2', [group, user])).length > 0;
  }

  async addInvite(group: string, user: string, by: string, at: number): Promise<void> {
    await this.#changes(
      `INSERT INTO invites (grp, username, invited_by, at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (grp, username) DO UPDATE SET invited_by = excluded.invited_by, at = excluded.at`,
      [group, user, by, at],
    );
  }

  async hasInvite(group: string, user: string): Promise<boolean> {
    return (await this.#rows('SELECT 1 FROM invites WHERE grp = $1 AND username = $2', [group, user])).length > 0;
  }

  async pendingInvites(user: string): Promise<{ group: string; by: string; at: number }[]> {
    const rows = await this.#rows(
      `SELECT i.grp AS "group", i.invited_by AS by, i.at FROM invites i
       WHERE i.username = $1 AND NOT EXISTS (SELECT 1 FROM members m WHERE m.grp = i.grp AND m.username = i.username)
       ORDER BY i.at, i.grp LIMIT 200`,
      [user],
    );
    return rows.map((r) => ({ group: String(r.group), by: String(r.by), at: Number(r.at) }));
  }

  // ---- contacts --------------------------------------------------------------------------------

  async requestFriend(user: string, other: string, at: number): Promise<'outgoing' | 'friend' | 'unchanged'> {
    return this.#friendship(user, other, async (c) => {
      const move = friendRequest(await friendState(c, user, other));
      if (!move) return 'unchanged' as const;
      await setFriendState(c, user, other, move.mine, at);
      await setFriendState(c, other, user, move.theirs, at);
      return move.result;
    });
  }

  async acceptFriend(user: string, other: string, at: number): Promise<boolean> {
    return this.#friendship(user, other, async (c) => {
      if (!canAcceptFriend(await friendState(c, user, other))) return false;
      await setFriendState(c, user, other, 'friend', at);
      await setFriendState(c, other, user, 'friend', at);
      return true;
    });
  }

  async removeFriend(user: string, other: string): Promise<boolean> {
    return this.#friendship(user, other, async (c) => {
      const removed = await c.query(
        'DELETE FROM friends WHERE (username = $1 AND other = $2) OR (username = $2 AND other = $1)',
        [user, other],
      );
      return (removed.rowCount ?? 0) > 0;
    });
  }

  /** A transaction that holds the lock on the pair's relation: changes to it happen one at a time. */
  async #friendship<T>(user: string, other: string, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.#transaction(async (c) => {
      await advisoryLock(c, `chat friends ${pairKey(user, other)}`);
      return work(c);
    });
  }

  async setFriendNote(user: string, other: string, note: string): Promise<boolean> {
    return (await this.#changes('UPDATE friends SET note = $3 WHERE username = $1 AND other = $2', [user, other, utf8(note)])) > 0;
  }

  async friends(user: string): Promise<FriendRow[]> {
    const rows = await this.#rows<{ user: string; state: FriendRow['state']; note: Buffer }>(
      `SELECT other AS "user", state, note FROM friends
       WHERE username = $1
       ORDER BY state = 'friend' DESC, other`,
      [user],
    );
    return rows.map((r) => ({ user: r.user, state: r.state, note: r.note.toString('utf8') }));
  }

  async block(user: string, other: string, at: number): Promise<boolean> {
    return (await this.#changes('INSERT INTO blocks (username, other, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [user, other, at])) > 0;
  }

  async unblock(user: string, other: string): Promise<boolean> {
    return (await this.#changes('DELETE FROM blocks WHERE username = $1 AND other = $2', [user, other])) > 0;
  }

  async blocks(user: string): Promise<BlockedUser[]> {
    const rows = await this.#rows<{ user: string; at: string }>('SELECT other AS "user", at FROM blocks WHERE username = $1 ORDER BY other', [user]);
    return rows.map((r) => ({ user: r.user, at: Number(r.at) }));
  }

  async searchUsers(prefix: string, limit: number): Promise<string[]> {
    // As SQLite's LIKE: ASCII letters match either case; the prefix's wildcards are literal.
    const pattern = `${prefix.toLowerCase().replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
    const rows = await this.#rows<{ name: string }>(
      `SELECT name FROM users
       WHERE chat_nocase(name) LIKE $1 ESCAPE '\\'
       ORDER BY name
       LIMIT $2`,
      [pattern, limit],
    );
    return rows.map((r) => r.name);
  }

  /** Ends the pool (waiting for queries in flight); calling it again is harmless. */
  async close(): Promise<void> {
    this.#settled?.stop();
    this.#closing ??= Promise.all([this.#pool.end(), this.#writers.end()]).then(() => {});
    return this.#closing;
  }
}

/** Joins `user` to `group` from the newest message on, using up an invitation; false if already a member. */
async function insertMember(c: pg.ClientBase, group: string, user: string, at: number): Promise<boolean> {
  const joined = await c.query(
    `INSERT INTO members (grp, username, since, joined_at)
     SELECT $1, $2, coalesce(max(id), 0), $3 FROM messages
     ON CONFLICT DO NOTHING`,
    [group, user, at],
  );
  await c.query('DELETE FROM invites WHERE grp = $1 AND username = $2', [group, user]);
  return (joined.rowCount ?? 0) > 0;
}

/** Appends to the revocation log, pruning rows older than REVOCATION_KEEP_MS; inside a transaction. */
async function logRevocation(c: pg.ClientBase, userId: number, reason: RevocationReason, at: number): Promise<void> {
  await c.query('DELETE FROM revocations WHERE at < $1', [at - REVOCATION_KEEP_MS]);
  await c.query('INSERT INTO revocations (username, reason, at) SELECT name, $2, $3 FROM users WHERE id = $1', [userId, reason, at]);
}

async function friendState(c: pg.ClientBase, user: string, other: string): Promise<FriendRow['state'] | undefined> {
  const { rows } = await c.query<{ state: FriendRow['state'] }>('SELECT state FROM friends WHERE username = $1 AND other = $2', [user, other]);
  return rows[0]?.state;
}

async function setFriendState(c: pg.ClientBase, user: string, other: string, state: FriendRow['state'], at: number): Promise<void> {
  await c.query(
    `INSERT INTO friends (username, other, state, at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (username, other) DO UPDATE SET state = excluded.state, at = excluded.at`,
    [user, other, state, at],
  );
}
