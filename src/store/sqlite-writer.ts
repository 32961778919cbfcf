// The hot writes of SqliteStore (messages and acknowledgements) on a worker thread with its own
// connection: one transaction per batch, so SQLite's B-tree and WAL work (about half of the
// server's CPU at full load, docs/benchmarks.md "Where the server's time goes") runs beside the
// event loop instead of on it. The worker is plain CommonJS given as text, as in checkpointer.ts,
// so the same code runs from dist/ and under a TypeScript test runner.
import { Worker } from 'node:worker_threads';

/** One write of a batch. */
export type WriteOp =
  | { op: 'insert'; from: string; to: string; pair: string; text: string; at: number; fromSession: number }
  | { op: 'ack'; sessionId: number; upTo: number };

/**
 * Per op: for an insert the new message id and the id of its conversation's previous message
 * (`prev`, 0 for the first: MessageOrder, read in the same transaction), null for an ack; or why
 * it failed.
 */
export type WriteResult = { ok: number; prev: number } | { ok: null } | { error: string };

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
// This connection checkpoints itself, between its own batches (it is the only busy writer, and
// a worker thread). A checkpoint from elsewhere never catches up with a writer that keeps
// appending, so the WAL could never start over and grew by ~10 KB per message (5.5 GB in a
// 40 s load test), making every page lookup slower.
db.pragma('wal_autocheckpoint = ' + workerData.autocheckpointPages);
db.pragma('foreign_keys = ON');
db.pragma('busy_timeout = 5000');
const insert = db.prepare('INSERT INTO messages (sender, recipient, pair, text, at, from_session) VALUES (?, ?, ?, ?, ?, ?)');
// Migration 5: the conversations a message's sender (and, for a direct message, its recipient)
// takes part in; a lookup that finds the row writes nothing.
const joinSender = db.prepare('INSERT OR IGNORE INTO conversations (user, pair) VALUES (?, ?)');
const joinBoth = db.prepare('INSERT OR IGNORE INTO conversations (user, pair) VALUES (?, ?), (?, ?)');
// The conversation's previous message: an index probe on (pair, id), in the insert's transaction.
const prevOf = db.prepare('SELECT coalesce(max(id), 0) FROM messages WHERE pair = ? AND id < ?').pluck();
const newest = db.prepare('SELECT coalesce(max(id), 0) FROM messages').pluck();
const ackSession = db.prepare('UPDATE sessions SET cursor = max(cursor, ?) WHERE id = ?');
const ackUser = db.prepare('UPDATE users SET acked = max(acked, ?) WHERE id = (SELECT user_id FROM sessions WHERE id = ?)');
function apply(w) {
  if (w.op === 'insert') {
    const id = Number(insert.run(w.from, w.to, w.pair, w.text, w.at, w.fromSession).lastInsertRowid);
    if (w.to.startsWith('#')) joinSender.run(w.from, w.pair);
    else joinBoth.run(w.from, w.pair, w.to, w.pair);
    return { ok: id, prev: prevOf.get(w.pair, id) };
  }
  // Never past the newest message: a cursor ahead of it would skip messages not yet sent.
  const to = Math.min(w.upTo, newest.get());
  ackSession.run(to, w.sessionId);
  ackUser.run(to, w.sessionId);
  return { ok: null };
}
const all = db.transaction((ops) => ops.map(apply));
parentPort.on('message', (msg) => {
  if (msg === 'close') {
    db.close();
    return process.exit(0);
  }
  let results;
  try {
    results = all(msg.ops);
  } catch {
    // One bad write must not fail the others: each on its own (nothing of the batch was committed).
    results = msg.ops.map((w) => {
      try { return db.transaction(apply)(w); } catch (err) { return { error: String(err && err.message) }; }
    });
  }
  parentPort.postMessage({ id: msg.id, results });
});
`;

/**
 * WAL size (in pages, 64 MiB at 4 KiB) at which the writer's commit also checkpoints. Measured at
 * 1000 clients: 4096 pages checkpoint too often (max 12.5k msgs/s); 16384 gave 19.7k/s with the
 * WAL at ≤ 75 MB, where without a bound it reached 5.5 GB and 14.1k/s within 40 s.
 */
export const WAL_CHECKPOINT_PAGES = 16384;

/** A worker thread that commits batches of writes to the database file `file`. */
export class SqliteWriter {
  readonly #worker: Worker;
  #nextId = 1;
  readonly #pending = new Map<number, { resolve: (r: WriteResult[]) => void; reject: (err: Error) => void }>();
  #failed: Error | undefined;
  #stopped: Promise<void> | undefined;

  /** `autocheckpointPages`: WAL size at which a commit also checkpoints (SQLite's wal_autocheckpoint). */
  constructor(file: string, driver: string, autocheckpointPages = WAL_CHECKPOINT_PAGES) {
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, driver, autocheckpointPages } });
    this.#worker.unref(); // only a batch in flight keeps the process alive
    this.#worker.on('message', (m: { id: number; results: WriteResult[] }) => this.#settle(m.id, m.results));
    this.#worker.on('error', (err) => this.#fail(new Error(`the database writer stopped: ${err.message}`)));
    this.#worker.on('exit', () => this.#fail(new Error('the store is closed')));
  }

  /** Commits `ops` in one transaction (each alone if that fails); resolves once committed. */
  run(ops: WriteOp[]): Promise<WriteResult[]> {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => {
      const id = this.#nextId++;
      if (this.#pending.size === 0) this.#worker.ref();
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ id, ops });
    });
  }

  /** Closes the worker's connection after the batches already sent (idempotent). */
  stop(): Promise<void> {
    return (this.#stopped ??= new Promise<void>((resolve) => {
      if (this.#failed) return resolve();
      this.#worker.ref(); // whoever awaits this must not see the process exit first
      this.#worker.once('exit', () => resolve());
      this.#worker.postMessage('close');
    }));
  }

  #settle(id: number, results: WriteResult[]): void {
    const p = this.#pending.get(id);
    this.#pending.delete(id);
    if (this.#pending.size === 0) this.#worker.unref();
    p?.resolve(results);
  }

  #fail(err: Error): void {
    this.#failed ??= err;
    for (const p of this.#pending.values()) p.reject(this.#failed);
    this.#pending.clear();
  }
}
