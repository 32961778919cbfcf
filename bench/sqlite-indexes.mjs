#!/usr/bin/env node
// What each secondary index of the messages table costs per insert (docs/benchmarks.md, "Where
// the server's time goes"): 300,000 direct messages between 1000 users (500 pairs, in a
// scattered order), in transactions of 50 as the server's writer thread commits them, WAL with
// checkpoints every 64 MiB, for each schema variant in turn. CPU µs per message, this process.
//
//   node bench/sqlite-indexes.mjs [--messages 300000] [--dir DIR]
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const Database = createRequire(import.meta.url)('better-sqlite3');
const { values } = parseArgs({ options: { messages: { type: 'string', default: '300000' }, dir: { type: 'string' } } });
const total = Number(values.messages);
const dir = mkdtempSync(path.join(values.dir ?? os.tmpdir(), 'chat-sqlite-indexes-'));

const VARIANTS = {
  'pair, recipient, sender (the schema)': ['pair', 'recipient', 'sender'],
  'pair, recipient': ['pair', 'recipient'],
  'pair only': ['pair'],
  'pair, and conversations(user, pair)': ['pair'],
  'no index': [],
  'the three, integer keys': ['pair', 'recipient', 'sender'],
};

function run(label, indexes) {
  const ints = label.includes('integer');
  const db = new Database(path.join(dir, `${Object.keys(VARIANTS).indexOf(label)}.sqlite`));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('wal_autocheckpoint = 16384');
  const t = ints ? 'INTEGER' : 'TEXT';
  db.exec(`CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, sender ${t} NOT NULL, recipient ${t} NOT NULL,
    pair ${t} NOT NULL, text TEXT NOT NULL, at INTEGER NOT NULL, from_session INTEGER NOT NULL DEFAULT 0)`);
  for (const column of indexes) db.exec(`CREATE INDEX messages_${column} ON messages(${column}, id)`);
  const insert = db.prepare('INSERT INTO messages (sender, recipient, pair, text, at, from_session) VALUES (?, ?, ?, ?, ?, 1)');
  // Migration 5: a user's conversations in a table of their own, instead of indexes on messages.
  const conversations = label.includes('conversations');
  if (conversations) db.exec('CREATE TABLE conversations (user TEXT NOT NULL, pair TEXT NOT NULL, PRIMARY KEY (user, pair)) WITHOUT ROWID');
  const member = conversations ? db.prepare('INSERT OR IGNORE INTO conversations (user, pair) VALUES (?, ?), (?, ?)') : null;
  const commit = db.transaction((rows) => {
    for (const r of rows) {
      insert.run(r[0], r[1], r[2], r[3], r[4]);
      member?.run(r[0], r[2], r[1], r[2]);
    }
  });
  const name = (i) => (ints ? i : `user${String(i).padStart(5, '0')}`);
  const text = `1 2 3.456 ${'x'.repeat(54)}`;
  const before = process.cpuUsage();
  for (let n = 0; n < total; n += 50) {
    const rows = [];
    for (let k = 0; k < 50; k++) {
      const a = ((n + k) * 7919) % 1000; // senders in a scattered order, as many clients send
      const lo = Math.min(a, a ^ 1);
      const hi = Math.max(a, a ^ 1);
      rows.push([name(a), name(a ^ 1), ints ? lo * 100_000 + hi : `${name(lo)}\n${name(hi)}`, text, Date.now()]);
    }
    commit(rows);
  }
  const cpu = process.cpuUsage(before);
  db.close();
  return (cpu.user + cpu.system) / total;
}

try {
  console.log(`${total} messages per variant, batches of 50, in ${dir}`);
  for (const [label, indexes] of Object.entries(VARIANTS)) console.log(`${label.padEnd(38)} ${run(label, indexes).toFixed(1)} µs CPU per message`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
