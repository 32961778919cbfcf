// SqliteStore: the embedded default Store (better-sqlite3, WAL, one transaction per logical write).
// Durability without blocking: SQLite commits without fsync (synchronous = NORMAL) and every write
// resolves only after an fsync of the WAL that ran in libuv's thread pool after its commit, so the
// event loop keeps serving while the disk syncs, and one fsync covers every commit before it.
// Messages and acknowledgements are committed in batches by a worker thread (sqlite-writer.ts);
// reads and the rare other writes use this thread's connection, the latter only while the worker
// has no batch in flight, so the two connections never wait for each other's lock.
import { canAcceptFriend, conversationOf, friendRequest, pairKey } from './rules.js';
import { closeSync, fsync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import Database from 'better-sqlite3';
import { Checkpointer } from './checkpointer.js';
import { SqliteWriter, type WriteOp, type WriteResult } from './sqlite-writer.js';
import type { BlockedUser, ChatMessage } from '../protocol/messages.js';
import { MIGRATIONS } from './migrations.js';
import type {
  FriendRow, GroupListRow, GroupRow, HistoryQuery, MemberRow, NewMessage, NewSessionInfo, Revocation, RevocationReason, SessionInfo, SessionRow, Store, StoredMessage, UserRow, DeviceKey,
  UserState,
} from './store.js';

const require = createRequire(import.meta.url);

/** File name of the database inside the data directory. */
export const DB_FILE = 'chat.db';

interface MessageRecord {
  id: number;
  sender: string;
  recipient: string;
  text: string;
  at: number;
}

const toMessage = (r: MessageRecord): ChatMessage => ({ id: r.id, from: r.sender, to: r.recipient, text: r.text, at: r.at });


interface GroupRecord {
  name: string;
  owner: string;
  private: number;
  created_at: number;
}

const toGroup = (r: GroupRecord): GroupRow => ({ name: r.name, owner: r.owner, private: r.private === 1, createdAt: r.created_at });

/** Options of a SqliteStore. */
export interface SqliteStoreOptions {
  /** WAL size in pages at which the writer thread's commit also checkpoints. @default 16384 (64 MiB) */
  walCheckpointPages?: number;
}

/** A batched write waiting for the writer. */
interface Queued {
  op: WriteOp;
  resolve: (value: WriteResult & { ok: unknown }) => void;
  reject: (err: Error) => void;
}

/** How long revocation log rows are kept: far longer than any node takes to read them. */
export const REVOCATION_KEEP_MS = 24 * 3_600_000;

export class SqliteStore implements Store {
  /** One queue, one writer, batches in queue order. */
  readonly commitsInCallOrder = true;
  readonly #db: Database.Database;
  readonly #walPath: string;
  #walFd: number | undefined;
  /** Writes committed since the fsync in flight started: they wait for the next one. */
  #syncWaiters: { resolve: () => void; reject: (err: Error) => void }[] = [];
  #syncing = false;
  readonly #checkpointer: Checkpointer;
  readonly #writer: SqliteWriter;
  /** The batch the writer is committing; one at a time, so each carries what queued meanwhile. */
  #inFlight: Promise<void> | undefined;
  /** Writes of this thread's connection waiting for the batch in flight to end. */
  #afterBatch: (() => void)[] = [];
  /** Inside #write's `run`: the only place this thread's connection may write. */
  #writing = false;

  /** Opens (creating if needed) `dir/chat.db` and brings its schema up to date. */
  constructor(dir: string, opts: SqliteStoreOptions = {}) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.#db = new Database(join(dir, DB_FILE));
    this.#walPath = `${join(dir, DB_FILE)}-wal`;
    this.#db.pragma('journal_mode = WAL');
    // NORMAL: no fsync inside COMMIT; #durable() fsyncs the WAL off the event loop before a write
    // resolves, so an acknowledged message still survives power loss, not only a process crash.
    this.#db.pragma('synchronous = NORMAL');
    // Checkpoints run in worker threads (checkpointer.ts, sqlite-writer.ts), never inside a commit of this thread.
    this.#db.pragma('wal_autocheckpoint = 0');
    this.#db.pragma('foreign_keys = ON');
    this.#db.pragma('busy_timeout = 5000');
    this.#migrate();
    this.#checkpointer = new Checkpointer(join(dir, DB_FILE), require.resolve('better-sqlite3'));
    this.#writer = new SqliteWriter(join(dir, DB_FILE), require.resolve('better-sqlite3'), opts.walCheckpointPages);
  }

  /**
   * Every write of this thread's connection goes through here (#prepare refuses a writing
   * statement anywhere else): `run` executes its SQL synchronously between two of the writer
   * thread's batches, and the promise resolves only after an fsync of the WAL that covers it.
   */
  #write<T>(run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#whenWriterIdle(() => {
        let result: T;
        this.#writing = true;
        try {
          result = run();
        } catch (err) {
          return reject(err as Error);
        } finally {
          this.#writing = false;
        }
        this.#durable().then(() => resolve(result), reject);
      });
    });
  }

  #whenWriterIdle(run: () => void): void {
    if (this.#inFlight) this.#afterBatch.push(run);
    else run();
  }

  /** Resolves after an fsync of the WAL that started after this call (so it covers every earlier commit). */
  #durable(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#syncWaiters.push({ resolve, reject });
      if (!this.#syncing) this.#startSync();
    });
  }

  #startSync(): void {
    const waiters = this.#syncWaiters.splice(0);
    this.#syncing = true;
    const done = (err: Error | null): void => {
      this.#syncing = false;
      for (const w of waiters) {
        if (err) w.reject(err);
        else w.resolve();
      }
      if (this.#syncWaiters.length > 0 && !this.#syncing) this.#startSync();
    };
    try {
      this.#walFd ??= openSync(this.#walPath, 'r');
    } catch (err) {
      return done(err as Error);
    }
    fsync(this.#walFd, done);
  }

  /** The schema version (number of migrations applied). */
  get schemaVersion(): number {
    return this.#db.pragma('user_version', { simple: true }) as number;
  }

  #migrate(): void {
    const applied = this.schemaVersion;
    if (applied > MIGRATIONS.length) {
      throw new Error(`database schema ${applied} is newer than this program (${MIGRATIONS.length}); upgrade chat`);
    }
    for (let i = applied; i < MIGRATIONS.length; i++) {
      this.#db.transaction(() => {
        this.#db.exec(MIGRATIONS[i]!);
        this.#db.pragma(`user_version = ${i + 1}`);
      })();
    }
  }

  createUser(name: string, salt: Buffer, hash: Buffer, at: number): Promise<UserRow | null> {
    return this.#write(() => {
      const info = this.#prepare('INSERT INTO users (name, salt, hash, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING')
        .run(name, salt, hash, at);
      if (info.changes === 0) return null;
      return { id: Number(info.lastInsertRowid), name, salt, hash, createdAt: at };
    });
  }

  createUserWithCode(name: string, salt: Buffer, hash: Buffer, at: number, codeHash: Buffer): Promise<UserRow | 'name_taken' | 'invalid_code'> {
    return this.#write(() => {
      return this.#db.transaction((): UserRow | 'name_taken' | 'invalid_code' => {
        const used = this.#prepare('UPDATE registration_codes SET uses_left = uses_left - 1 WHERE code_hash = ? AND uses_left > 0 AND expires_at > ?')
          .run(codeHash, at);
        if (used.changes === 0) return 'invalid_code';
        const info = this.#prepare('INSERT INTO users (name, salt, hash, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING')
          .run(name, salt, hash, at);
        // A taken name must not use up the code: undo the decrement (same transaction).
        if (info.changes === 0) {
          this.#prepare('UPDATE registration_codes SET uses_left = uses_left + 1 WHERE code_hash = ?').run(codeHash);
          return 'name_taken';
        }
        return { id: Number(info.lastInsertRowid), name, salt, hash, createdAt: at };
      })();
    });
  }

  addRegistrationCode(codeHash: Buffer, uses: number, expiresAt: number, at: number): Promise<void> {
    return this.#write(() => {
      this.#prepare('INSERT INTO registration_codes (code_hash, uses_left, expires_at, created_at) VALUES (?, ?, ?, ?)').run(codeHash, uses, expiresAt, at);
    });
  }

  async getUser(name: string): Promise<UserRow | null> {
    const row = this.#prepare(
        `SELECT id, name, salt, hash, created_at AS createdAt FROM users WHERE name = ? COLLATE NOCASE AND state != 'deleted'`,
      )
      .get(name);
    return (row as UserRow | undefined) ?? null;
  }

  createSession(userId: number, tokenHash: Buffer, at: number, info: NewSessionInfo = {}): Promise<SessionRow | null> {
    return this.#write(() => {
      const row = this.#prepare(
          `INSERT INTO sessions (user_id, token_hash, created_at, cursor, last_seen_at, device, address)
           SELECT id, ?, ?, acked, ?, ?, ? FROM users WHERE id = ? AND state = 'active'
           RETURNING id, user_id AS userId, cursor, last_seen_at AS lastSeenAt, identity_key AS identityKey`,
        )
        .get(tokenHash, at, at, info.device ?? '', info.address ?? '', userId) as Omit<SessionRow, 'user'> | undefined;
      const user = this.#prepare('SELECT name FROM users WHERE id = ?').pluck().get(userId) as string | undefined;
      if (user === undefined) throw new Error(`no user with id ${userId}`);
      return row ? { ...row, user } : null;
    });
  }

  async getSessionByTokenHash(tokenHash: Buffer): Promise<SessionRow | null> {
    return this.#session('s.token_hash = ?', tokenHash);
  }

  async getSession(sessionId: number): Promise<SessionRow | null> {
    return this.#session('s.id = ?', sessionId);
  }

  #session(where: string, value: unknown): SessionRow | null {
    const row = this.#prepare(
        `SELECT s.id, s.user_id AS userId, u.name AS user, s.cursor, s.last_seen_at AS lastSeenAt, s.identity_key AS identityKey
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE ${where}`,
      )
      .get(value);
    return (row as SessionRow | undefined) ?? null;
  }

  deleteSession(sessionId: number): Promise<void> {
    return this.#write(() => {
      this.#prepare('DELETE FROM sessions WHERE id = ?').run(sessionId);
    });
  }

  touchSession(sessionId: number, at: number, address?: string): Promise<void> {
    return this.#write(() => {
      this.#prepare('UPDATE sessions SET last_seen_at = max(last_seen_at, ?), address = coalesce(?, address) WHERE id = ?')
        .run(at, address ?? null, sessionId);
    });
  }

  touchSessions(sessionIds: number[], at: number): Promise<void> {
    return this.#write(() => {
      this.#prepare('UPDATE sessions SET last_seen_at = max(last_seen_at, ?) WHERE id IN (SELECT value FROM json_each(?))')
        .run(at, JSON.stringify(sessionIds));
    });
  }

  deleteIdleSessions(before: number): Promise<number> {
    return this.#write(() => {
      return this.#prepare('DELETE FROM sessions WHERE last_seen_at < ?').run(before).changes;
    });
  }

  setSessionIdentity(sessionId: number, key: string): Promise<void> {
    return this.#write(() => {
      this.#prepare('UPDATE sessions SET identity_key = ? WHERE id = ?').run(key, sessionId);
    });
  }

  async deviceKeys(userId: number, limit: number): Promise<DeviceKey[]> {
    return this.#prepare(
        `SELECT id AS session, device, identity_key AS key FROM sessions
         WHERE user_id = ? AND identity_key != '' ORDER BY id LIMIT ?`,
      )
      .all(userId, limit) as DeviceKey[];
  }

  async listSessions(userId: number, limit: number): Promise<SessionInfo[]> {
    return this.#prepare(
        `SELECT id, device, created_at AS createdAt, last_seen_at AS lastSeenAt, address FROM sessions
         WHERE user_id = ? ORDER BY last_seen_at DESC, id DESC LIMIT ?`,
      )
      .all(userId, limit) as SessionInfo[];
  }

  revokeSessions(userId: number, which: number | { except: number }, reason: RevocationReason, at: number): Promise<number> {
    return this.#write(() => {
      return this.#db.transaction(() => {
        const deleted = typeof which === 'number'
          ? this.#prepare('DELETE FROM sessions WHERE id = ? AND user_id = ?').run(which, userId).changes
          : this.#prepare('DELETE FROM sessions WHERE user_id = ? AND id != ?').run(userId, which.except).changes;
        if (deleted > 0) this.#logRevocation(userId, reason, at);
        return deleted;
      })();
    });
  }

  setPassword(userId: number, salt: Buffer, hash: Buffer, keepSession: number, reason: RevocationReason, at: number): Promise<number> {
    return this.#write(() => {
      return this.#db.transaction(() => {
        this.#prepare('UPDATE users SET salt = ?, hash = ? WHERE id = ?').run(salt, hash, userId);
        const deleted = this.#prepare('DELETE FROM sessions WHERE user_id = ? AND id != ?').run(userId, keepSession).changes;
        this.#logRevocation(userId, reason, at);
        return deleted;
      })();
    });
  }

  setUserState(name: string, state: UserState, at: number): Promise<UserState | null> {
    return this.#write(() => {
      return this.#db.transaction((): UserState | null => {
        const user = this.#prepare('SELECT id, name, state FROM users WHERE name = ? COLLATE NOCASE').get(name) as
          { id: number; name: string; state: UserState } | undefined;
        if (!user) return null;
        if (user.state === 'deleted' || user.state === state) return user.state;
        this.#prepare('UPDATE users SET state = ? WHERE id = ?').run(state, user.id);
        if (state === 'active') return user.state;
        this.#prepare('DELETE FROM sessions WHERE user_id = ?').run(user.id);
        if (state === 'deleted') {
          this.#prepare('UPDATE users SET hash = zeroblob(64) WHERE id = ?').run(user.id);
          this.#prepare('DELETE FROM friends WHERE user = @name OR other = @name').run({ name: user.name });
          this.#prepare('DELETE FROM members WHERE user = ?').run(user.name);
          this.#prepare('DELETE FROM invites WHERE user = ?').run(user.name);
        }
        this.#logRevocation(user.id, state, at);
        return user.state;
      })();
    });
  }

  /** Appends to the revocation log (pruning rows older than REVOCATION_KEEP_MS); inside a transaction. */
  #logRevocation(userId: number, reason: RevocationReason, at: number): void {
    this.#prepare('DELETE FROM revocations WHERE at < ?').run(at - REVOCATION_KEEP_MS);
    this.#prepare('INSERT INTO revocations (user, reason, at) SELECT name, ?, ? FROM users WHERE id = ?').run(reason, at, userId);
  }

  async latestRevocation(): Promise<number> {
    return (this.#prepare(`SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'revocations'`).pluck().get() as number) ?? 0;
  }

  async revocationsSince(after: number, limit: number): Promise<Revocation[]> {
    return this.#prepare('SELECT id, user, reason, at FROM revocations WHERE id > ? ORDER BY id LIMIT ?').all(after, limit) as Revocation[];
  }

  #statements = new Map<string, Database.Statement>();

  /** Prepared once per SQL text (preparing costs more than running these small queries). */
  #prepare(sql: string): Database.Statement {
    let statement = this.#statements.get(sql);
    if (!statement) this.#statements.set(sql, (statement = this.#db.prepare(sql)));
    // A write outside #write would resolve before its data is on disk.
    if (!statement.readonly && !this.#writing) throw new Error(`SqliteStore: a write outside #write: ${sql.slice(0, 60)}`);
    return statement;
  }

  /**
   * Stores a message through the writer's group commit (#batched); resolves once it is on disk,
   * with its place in its conversation (read in the insert's transaction). A batch resolves in id
   * order (one writer, one queue).
   */
  async addMessage(m: NewMessage): Promise<StoredMessage> {
    const { from, to, text, at, fromSession } = m;
    const conversation = conversationOf(from, to);
    const r = (await this.#batched({ op: 'insert', from, to, pair: conversation, text, at, fromSession })) as { ok: number; prev: number };
    return { message: { id: r.ok, from, to, text, at }, order: { conversation, prev: r.prev } };
  }

  #queued: Queued[] = [];

  /**
   * Group commit: the messages and acknowledgements written while the writer commits the previous
   * batch (or during one turn of the event loop) go to disk in one transaction, and each promise
   * resolves only after that commit and an fsync after it, so "resolved" still means "on disk".
   */
  #batched(op: WriteOp): Promise<WriteResult & { ok: unknown }> {
    return new Promise((resolve, reject) => {
      this.#queued.push({ op, resolve, reject });
      if (this.#queued.length === 1 && !this.#inFlight) setImmediate(() => this.#commitQueued());
    });
  }

  #commitQueued(): void {
    if (this.#inFlight) return; // called again when the batch in flight ends
    const batch = this.#queued.splice(0);
    if (batch.length === 0) return;
    if (!this.#db.open) return batch.forEach((b) => b.reject(new Error('the store is closed')));
    this.#inFlight = this.#writer.run(batch.map((b) => b.op)).then(
      (results) => this.#committed(batch, results),
      (err: Error) => this.#committed(batch, batch.map(() => ({ error: err.message }))),
    );
  }

  #committed(batch: Queued[], results: WriteResult[]): void {
    this.#inFlight = undefined;
    const settled: (() => void)[] = [];
    batch.forEach((b, i) => {
      const r = results[i]!;
      if ('error' in r) b.reject(new Error(r.error));
      else settled.push(() => b.resolve(r));
    });
    if (settled.length > 0) {
      this.#durable().then(
        () => settled.forEach((resolve) => resolve()),
        (err: Error) => batch.forEach((b) => b.reject(err)),
      );
    }
    for (const run of this.#afterBatch.splice(0)) run();
    this.#commitQueued();
  }

  async pendingMessages(user: string, cursor: number, exceptSession: number, limit: number): Promise<ChatMessage[]> {
    const rows = this.#prepare(
        // Direct messages to or from the user, and what the user sent to groups (for their other
        // devices, also after leaving), through the conversations table (migration 5); what the
        // groups they are in received since they joined, through membership.
        `SELECT id, sender, recipient, text, at FROM (
           SELECT m.* FROM conversations c JOIN messages m ON m.pair = c.pair AND m.id > @cursor
             WHERE c.user = @user
               AND ((m.recipient = @user AND (m.sender != @user OR m.from_session != @exceptSession))
                 OR (m.sender = @user AND m.from_session != @exceptSession))
           UNION
           SELECT m.* FROM members g JOIN messages m ON m.pair = '#' || g.grp AND m.id > max(@cursor, g.since)
             WHERE g.user = @user AND (m.sender != @user OR m.from_session != @exceptSession)
         ) ORDER BY id LIMIT @limit`,
      )
      .all({ user, cursor, exceptSession, limit }) as MessageRecord[];
    return rows.map(toMessage);
  }

  async ackMessages(sessionId: number, upTo: number): Promise<void> {
    await this.#batched({ op: 'ack', sessionId, upTo });
  }

  async backlog(user: string, limit: number): Promise<{ count: number; bytes: number }> {
    const row = this.#prepare(
        `SELECT count(*) AS count, coalesce(sum(length(CAST(text AS BLOB))), 0) AS bytes FROM (
           SELECT m.text FROM users u
             JOIN conversations c ON c.user = @user
             JOIN messages m ON m.pair = c.pair AND m.id > u.acked
           WHERE u.name = @user AND m.recipient = @user AND m.sender != @user
           LIMIT @limit)`,
      )
      .get({ user, limit }) as { count: number; bytes: number };
    return { count: row.count, bytes: row.bytes };
  }

  async history(q: HistoryQuery): Promise<ChatMessage[]> {
    const rows = this.#prepare(
        `SELECT id, sender, recipient, text, at FROM messages
         WHERE pair = ? AND id < ? ORDER BY id DESC LIMIT ?`,
      )
      .all(pairKey(q.a, q.b), q.before ?? Number.MAX_SAFE_INTEGER, q.limit) as MessageRecord[];
    return rows.reverse().map(toMessage);
  }

  async groupHistory(group: string, limit: number, before?: number): Promise<ChatMessage[]> {
    const rows = this.#prepare('SELECT id, sender, recipient, text, at FROM messages WHERE pair = ? AND id < ? ORDER BY id DESC LIMIT ?')
      .all(`#${group}`, before ?? Number.MAX_SAFE_INTEGER, limit) as MessageRecord[];
    return rows.reverse().map(toMessage);
  }

  async directMessagesTo(user: string, after: number, upTo: number, limit: number): Promise<ChatMessage[]> {
    const rows = this.#prepare(
        `SELECT m.id, m.sender, m.recipient, m.text, m.at FROM conversations c
           JOIN messages m ON m.pair = c.pair AND m.id > @after AND m.id <= @upTo
         WHERE c.user = @user AND m.recipient = @user AND m.sender != @user ORDER BY m.id DESC LIMIT @limit`,
      )
      .all({ user, after, upTo, limit }) as MessageRecord[];
    return rows.reverse().map(toMessage);
  }

  createGroup(name: string, owner: string, isPrivate: boolean, at: number): Promise<GroupRow | null> {
    return this.#write(() => {
      return this.#db.transaction(() => {
        const info = this.#prepare('INSERT INTO groups (name, owner, private, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING')
          .run(name, owner, isPrivate ? 1 : 0, at);
        if (info.changes === 0) return null;
        this.#insertMember(name, owner, at);
        return { name, owner, private: isPrivate, createdAt: at };
      })();
    });
  }

  #insertMember(group: string, user: string, at: number): boolean {
    const since = (this.#prepare('SELECT coalesce(max(id), 0) FROM messages').pluck().get() as number) ?? 0;
    const info = this.#prepare('INSERT INTO members (grp, user, since, joined_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING')
      .run(group, user, since, at);
    this.#prepare('DELETE FROM invites WHERE grp = ? AND user = ?').run(group, user);
    return info.changes > 0;
  }

  async getGroup(name: string): Promise<GroupRow | null> {
    const row = this.#prepare('SELECT * FROM groups WHERE name = ?').get(name) as GroupRecord | undefined;
    return row ? toGroup(row) : null;
  }

  deleteGroup(name: string): Promise<void> {
    return this.#write(() => {
      this.#db.transaction(() => {
        this.#prepare('DELETE FROM messages WHERE pair = ?').run(`#${name}`);
        this.#prepare('DELETE FROM conversations WHERE pair = ?').run(`#${name}`);
        this.#prepare('DELETE FROM groups WHERE name = ?').run(name);
      })();
    });
  }

  async listGroups(user: string): Promise<GroupListRow[]> {
    const rows = this.#prepare(
        `SELECT g.*, (SELECT count(*) FROM members WHERE grp = g.name) AS members,
                EXISTS (SELECT 1 FROM members WHERE grp = g.name AND user = @user) AS member
         FROM groups g WHERE g.private = 0 OR member ORDER BY g.name`,
      )
      .all({ user }) as (GroupRecord & { members: number; member: number })[];
    return rows.map((r) => ({ ...toGroup(r), members: r.members, member: r.member === 1 }));
  }

  addMember(group: string, user: string, at: number): Promise<boolean> {
    return this.#write(() => {
      return this.#db.transaction(() => this.#insertMember(group, user, at))();
    });
  }

  removeMember(group: string, user: string): Promise<boolean> {
    return this.#write(() => {
      return this.#prepare('DELETE FROM members WHERE grp = ? AND user = ?').run(group, user).changes > 0;
    });
  }

  async members(group: string): Promise<MemberRow[]> {
    const rows = this.#prepare(
        `SELECT m.user, CASE WHEN g.owner = m.user THEN 'owner' ELSE 'member' END AS role
         FROM members m JOIN groups g ON g.name = m.grp WHERE m.grp = ? ORDER BY role = 'owner' DESC, m.user`,
      )
      .all(group) as MemberRow[];
    return rows;
  }

  async isMember(group: string, user: string): Promise<boolean> {
    return this.#prepare('SELECT 1 FROM members WHERE grp = ? AND user = ?').get(group, user) !== undefined;
  }

  addInvite(group: string, user: string, by: string, at: number): Promise<void> {
    return this.#write(() => {
      this.#prepare('INSERT OR REPLACE INTO invites (grp, user, by, at) VALUES (?, ?, ?, ?)').run(group, user, by, at);
    });
  }

  async hasInvite(group: string, user: string): Promise<boolean> {
    return this.#prepare('SELECT 1 FROM invites WHERE grp = ? AND user = ?').get(group, user) !== undefined;
  }

  async pendingInvites(user: string): Promise<{ group: string; by: string; at: number }[]> {
    return this.#prepare(
        `SELECT i.grp AS "group", i.by, i.at FROM invites i
         WHERE i.user = ? AND NOT EXISTS (SELECT 1 FROM members m WHERE m.grp = i.grp AND m.user = i.user)
         ORDER BY i.at, i.grp LIMIT 200`,
      )
      .all(user) as { group: string; by: string; at: number }[];
  }

  #friendState(user: string, other: string): FriendRow['state'] | undefined {
    return this.#prepare('SELECT state FROM friends WHERE user = ? AND other = ?').pluck().get(user, other) as FriendRow['state'] | undefined;
  }

  #setFriendState(user: string, other: string, state: FriendRow['state'], at: number): void {
    this.#prepare(
        `INSERT INTO friends (user, other, state, at) VALUES (?, ?, ?, ?)
         ON CONFLICT (user, other) DO UPDATE SET state = excluded.state, at = excluded.at`,
      )
      .run(user, other, state, at);
  }

  requestFriend(user: string, other: string, at: number): Promise<'outgoing' | 'friend' | 'unchanged'> {
    return this.#write(() => {
      return this.#db.transaction(() => {
        const move = friendRequest(this.#friendState(user, other));
        if (!move) return 'unchanged' as const;
        this.#setFriendState(user, other, move.mine, at);
        this.#setFriendState(other, user, move.theirs, at);
        return move.result;
      })();
    });
  }

  acceptFriend(user: string, other: string, at: number): Promise<boolean> {
    return this.#write(() => {
      return this.#db.transaction(() => {
        if (!canAcceptFriend(this.#friendState(user, other))) return false;
        this.#setFriendState(user, other, 'friend', at);
        this.#setFriendState(other, user, 'friend', at);
        return true;
      })();
    });
  }

  removeFriend(user: string, other: string): Promise<boolean> {
    return this.#write(() => {
      const info = this.#prepare('DELETE FROM friends WHERE (user = @user AND other = @other) OR (user = @other AND other = @user)')
        .run({ user, other });
      return info.changes > 0;
    });
  }

  setFriendNote(user: string, other: string, note: string): Promise<boolean> {
    return this.#write(() => {
      return this.#prepare('UPDATE friends SET note = ? WHERE user = ? AND other = ?').run(note, user, other).changes > 0;
    });
  }

  async friends(user: string): Promise<FriendRow[]> {
    return this.#prepare(`SELECT other AS user, state, note FROM friends WHERE user = ? ORDER BY state = 'friend' DESC, other`)
      .all(user) as FriendRow[];
  }

  block(user: string, other: string, at: number): Promise<boolean> {
    return this.#write(() => {
      return this.#prepare('INSERT INTO blocks (user, other, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING').run(user, other, at).changes > 0;
    });
  }

  unblock(user: string, other: string): Promise<boolean> {
    return this.#write(() => {
      return this.#prepare('DELETE FROM blocks WHERE user = ? AND other = ?').run(user, other).changes > 0;
    });
  }

  async blocks(user: string): Promise<BlockedUser[]> {
    return this.#prepare('SELECT other AS user, at FROM blocks WHERE user = ? ORDER BY other').all(user) as BlockedUser[];
  }

  async searchUsers(prefix: string, limit: number): Promise<string[]> {
    const pattern = `${prefix.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    return this.#prepare(`SELECT name FROM users WHERE name LIKE ? ESCAPE '\\' ORDER BY name LIMIT ?`).pluck().all(pattern, limit) as string[];
  }

  async close(): Promise<void> {
    // What was accepted is written before the database closes.
    for (let i = 0; i < 1000 && this.#db.open && (this.#inFlight || this.#queued.length > 0); i++) {
      this.#commitQueued();
      await this.#inFlight;
    }
    if (this.#db.open && (this.#syncing || this.#syncWaiters.length > 0)) await this.#durable().catch(() => {});
    await this.#writer.stop();
    await this.#checkpointer.stop();
    if (this.#walFd !== undefined) closeSync(this.#walFd);
    this.#walFd = undefined;
    if (this.#db.open) {
      try {
        this.#db.pragma('wal_checkpoint(TRUNCATE)'); // leave a compact database behind
      } catch {
        // e.g. the disk is full: the WAL keeps what the database could not take, and is read on the next open
      }
      this.#db.close();
    }
  }
}
