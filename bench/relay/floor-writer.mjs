// The writer thread of floor-server.mjs --store sqlite: the messages table with its (pair, id)
// index and the conversations table of schema 5 (src/store/migrations.ts), the inserts of
// src/store/sqlite-writer.ts, one transaction per batch, checkpoints at 64 MiB of WAL. Replies
// with the new ids.
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';

const Database = createRequire(import.meta.url)(workerData.driver);
const db = new Database(workerData.file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('wal_autocheckpoint = 16384');
db.exec(`CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY AUTOINCREMENT, sender TEXT NOT NULL,
  recipient TEXT NOT NULL, pair TEXT NOT NULL, text TEXT NOT NULL, at INTEGER NOT NULL, from_session INTEGER NOT NULL DEFAULT 0);
  CREATE INDEX IF NOT EXISTS messages_pair ON messages(pair, id);
  CREATE TABLE IF NOT EXISTS conversations (user TEXT NOT NULL, pair TEXT NOT NULL, PRIMARY KEY (user, pair)) WITHOUT ROWID;`);
const insert = db.prepare('INSERT INTO messages (sender, recipient, pair, text, at, from_session) VALUES (?, ?, ?, ?, ?, 1)');
const join = db.prepare('INSERT OR IGNORE INTO conversations (user, pair) VALUES (?, ?), (?, ?)');
const commit = db.transaction((batch) =>
  batch.map((m) => {
    const id = Number(insert.run(m.from, m.to, m.pair, m.text, m.at).lastInsertRowid);
    join.run(m.from, m.pair, m.to, m.pair);
    return id;
  }),
);
parentPort.on('message', (batch) => parentPort.postMessage(commit(batch)));
