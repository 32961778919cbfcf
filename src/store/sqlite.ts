// SqliteStore: the embedded default Store (better-sqlite3, WAL, one transaction per logical write).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { ChatMessage } from '../protocol/messages.js';
import { MIGRATIONS } from './migrations.js';
import type { HistoryQuery, NewMessage, SessionRow, Store, UserRow } from './store.js';

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

/** The key of a two-person conversation, the same whichever way round. */
const pairKey = (a: string, b: string): string => (a < b ? `${a} ${b}` : `${b} ${a}`);

export class SqliteStore implements Store {
  readonly #db: Database.Database;

  /** Opens (creating if needed) `dir/chat.db` and brings its schema up to date. */
  constructor(dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.#db = new Database(join(dir, DB_FILE));
    this.#db.pragma('journal_mode = WAL');
    // FULL: an acknowledged message survives power loss, not only a process crash.
    this.#db.pragma('synchronous = FULL');
    this.#db.pragma('foreign_keys = ON');
    this.#db.pragma('busy_timeout = 5000');
    this.#migrate();
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

  async createUser(name: string, salt: Buffer, hash: Buffer, at: number): Promise<UserRow | null> {
    const info = this.#db
      .prepare('INSERT INTO users (name, salt, hash, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING')
      .run(name, salt, hash, at);
    if (info.changes === 0) return null;
    return { id: Number(info.lastInsertRowid), name, salt, hash, createdAt: at };
  }

  async getUser(name: string): Promise<UserRow | null> {
    const row = this.#db.prepare('SELECT id, name, salt, hash, created_at AS createdAt FROM users WHERE name = ? COLLATE NOCASE').get(name);
    return (row as UserRow | undefined) ?? null;
  }

  async createSession(userId: number, tokenHash: Buffer, at: number): Promise<SessionRow> {
    const row = this.#db
      .prepare(
        `INSERT INTO sessions (user_id, token_hash, created_at, cursor)
         SELECT id, ?, ?, acked FROM users WHERE id = ?
         RETURNING id, user_id AS userId, cursor`,
      )
      .get(tokenHash, at, userId) as { id: number; userId: number; cursor: number } | undefined;
    if (!row) throw new Error(`no user with id ${userId}`);
    const user = this.#db.prepare('SELECT name FROM users WHERE id = ?').pluck().get(userId) as string;
    return { ...row, user };
  }

  async getSessionByTokenHash(tokenHash: Buffer): Promise<SessionRow | null> {
    return this.#session('s.token_hash = ?', tokenHash);
  }

  async getSession(sessionId: number): Promise<SessionRow | null> {
    return this.#session('s.id = ?', sessionId);
  }

  #session(where: string, value: unknown): SessionRow | null {
    const row = this.#db
      .prepare(
        `SELECT s.id, s.user_id AS userId, u.name AS user, s.cursor
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE ${where}`,
      )
      .get(value);
    return (row as SessionRow | undefined) ?? null;
  }

  async deleteSession(sessionId: number): Promise<void> {
    this.#db.prepare('DELETE FROM sessions WHERE id = ?').run(sessionId);
  }

  async addMessage(m: NewMessage): Promise<ChatMessage> {
    const info = this.#db
      .prepare('INSERT INTO messages (sender, recipient, pair, text, at, from_session) VALUES (?, ?, ?, ?, ?, ?)')
      .run(m.from, m.to, pairKey(m.from, m.to), m.text, m.at, m.fromSession);
    return { id: Number(info.lastInsertRowid), from: m.from, to: m.to, text: m.text, at: m.at };
  }

  async pendingMessages(user: string, cursor: number, exceptSession: number, limit: number): Promise<ChatMessage[]> {
    const rows = this.#db
      .prepare(
        `SELECT id, sender, recipient, text, at FROM (
           SELECT * FROM messages WHERE recipient = @user AND id > @cursor
             AND (sender != @user OR from_session != @exceptSession)
           UNION
           SELECT * FROM messages WHERE sender = @user AND id > @cursor AND from_session != @exceptSession
         ) ORDER BY id LIMIT @limit`,
      )
      .all({ user, cursor, exceptSession, limit }) as MessageRecord[];
    return rows.map(toMessage);
  }

  async ackMessages(sessionId: number, upTo: number): Promise<void> {
    this.#db.transaction(() => {
      this.#db.prepare('UPDATE sessions SET cursor = max(cursor, ?) WHERE id = ?').run(upTo, sessionId);
      this.#db
        .prepare('UPDATE users SET acked = max(acked, ?) WHERE id = (SELECT user_id FROM sessions WHERE id = ?)')
        .run(upTo, sessionId);
    })();
  }

  async history(q: HistoryQuery): Promise<ChatMessage[]> {
    const rows = this.#db
      .prepare(
        `SELECT id, sender, recipient, text, at FROM messages
         WHERE pair = ? AND id < ? ORDER BY id DESC LIMIT ?`,
      )
      .all(pairKey(q.a, q.b), q.before ?? Number.MAX_SAFE_INTEGER, q.limit) as MessageRecord[];
    return rows.reverse().map(toMessage);
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}
