import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { DB_FILE, SqliteStore } from '../../src/store/sqlite.js';
import { messageOf, storeContract } from './store.contract.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'chat-store-'));
  dirs.push(dir);
  return dir;
}

storeContract('SqliteStore', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'chat-store-'));
  const store = new SqliteStore(dir);
  return {
    store,
    async cleanup() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('SqliteStore on disk', () => {
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  it('keeps users, sessions, cursors and messages when the same directory is reopened', async () => {
    const dir = await tempDir();
    const tokenHash = randomBytes(32);
    let store = new SqliteStore(dir);
    const alice = (await store.createUser('alice', randomBytes(16), randomBytes(64), 1))!;
    await store.createUser('bob', randomBytes(16), randomBytes(64), 2);
    const s = (await store.createSession(alice.id, tokenHash, 3))!;
    const m1 = await store.addMessage({ from: 'bob', to: 'alice', text: 'one', at: 4, fromSession: 0 }).then(messageOf);
    const m2 = await store.addMessage({ from: 'alice', to: 'bob', text: 'two', at: 5, fromSession: s.id }).then(messageOf);
    await store.ackMessages(s.id, m1.id);
    await store.close();

    store = new SqliteStore(dir);
    try {
      expect((await store.getUser('alice'))!.id).toBe(alice.id);
      expect(await store.getSessionByTokenHash(tokenHash)).toEqual({ id: s.id, userId: alice.id, user: 'alice', cursor: m1.id, lastSeenAt: 3, identityKey: '' });
      expect(await store.history({ a: 'alice', b: 'bob', limit: 10 })).toEqual([m1, m2]);
      // Ids keep increasing after a restart.
      const m3 = await store.addMessage({ from: 'bob', to: 'alice', text: 'three', at: 6, fromSession: 0 }).then(messageOf);
      expect(m3.id).toBeGreaterThan(m2.id);
    } finally {
      await store.close();
    }
  });

  it('applies every migration once; reopening is a no-op that keeps the schema version', async () => {
    const dir = await tempDir();
    const first = new SqliteStore(dir);
    expect(first.schemaVersion).toBe(MIGRATIONS.length);
    await first.createUser('alice', randomBytes(16), randomBytes(64), 1);
    await first.close();
    for (let i = 0; i < 3; i++) {
      const again = new SqliteStore(dir);
      expect(again.schemaVersion).toBe(MIGRATIONS.length);
      expect(await again.getUser('alice')).not.toBeNull();
      await again.close();
    }
  });

  it('upgrades a database made by the first schema version, keeping its data', async () => {
    const dir = await tempDir();
    // A database as the first release left it: migration 1 only, some rows.
    const db = new Database(path.join(dir, DB_FILE));
    db.exec(MIGRATIONS[0]!);
    db.pragma('user_version = 1');
    db.prepare('INSERT INTO users (id, name, salt, hash, created_at) VALUES (1, ?, ?, ?, 1)').run('alice', randomBytes(16), randomBytes(64));
    db.prepare('INSERT INTO sessions (id, user_id, token_hash, created_at, cursor) VALUES (7, 1, ?, 1, 3)').run(randomBytes(32));
    // Session 9 existed, sent a message, and was deleted: its id must not come back.
    db.prepare("INSERT INTO messages (sender, recipient, pair, text, at, from_session) VALUES ('alice', 'alice', 'alice alice', 'x', 1, 9)").run();
    db.close();

    const store = new SqliteStore(dir);
    try {
      expect(store.schemaVersion).toBe(MIGRATIONS.length);
      expect(await store.getSession(7)).toMatchObject({ id: 7, userId: 1, user: 'alice', cursor: 3 });
      // Sessions from before idle expiry count as seen at the upgrade (migration 6), so none expires because of it.
      expect((await store.getSession(7))!.lastSeenAt).toBeGreaterThan(Date.now() - 60_000);
      const next = (await store.createSession(1, randomBytes(32), 2))!;
      expect(next.id).toBeGreaterThan(9);
    } finally {
      await store.close();
    }
  });

  it('upgrades a schema-4 database with messages: conversations are filled in, offline delivery and receipts go on', async () => {
    const dir = await tempDir();
    // Schema 4 kept indexes on recipient and sender; migration 5 finds messages through conversations.
    const db = new Database(path.join(dir, DB_FILE));
    for (const sql of MIGRATIONS.slice(0, 4)) db.exec(sql);
    db.pragma('user_version = 4');
    const addUser = db.prepare('INSERT INTO users (id, name, salt, hash, created_at) VALUES (?, ?, ?, ?, 1)');
    addUser.run(1, 'alice', randomBytes(16), randomBytes(64));
    addUser.run(2, 'bob', randomBytes(16), randomBytes(64));
    const addSession = db.prepare('INSERT INTO sessions (id, user_id, token_hash, created_at, cursor) VALUES (?, ?, ?, 1, 0)');
    addSession.run(1, 1, randomBytes(32));
    addSession.run(2, 1, randomBytes(32));
    addSession.run(3, 2, randomBytes(32));
    db.prepare("INSERT INTO groups (name, owner, private, created_at) VALUES ('ops', 'bob', 0, 1)").run();
    db.prepare("INSERT INTO members (grp, user, since, joined_at) VALUES ('ops', 'bob', 0, 1)").run();
    const addMessage = db.prepare('INSERT INTO messages (sender, recipient, pair, text, at, from_session) VALUES (?, ?, ?, ?, 1, ?)');
    addMessage.run('alice', 'bob', 'alice bob', 'to bob', 1); // id 1
    addMessage.run('bob', 'alice', 'alice bob', 'to alice', 3); // id 2
    addMessage.run('alice', '#ops', '#ops', 'to the group', 1); // id 3 (alice has left since)
    db.close();

    const store = new SqliteStore(dir);
    try {
      expect(store.schemaVersion).toBe(MIGRATIONS.length);
      const ids = (ms: { id: number }[]): number[] => ms.map((m) => m.id);
      expect(ids(await store.pendingMessages('alice', 0, 2, 100))).toEqual([1, 2, 3]); // her other device
      expect(ids(await store.pendingMessages('alice', 0, 1, 100))).toEqual([2]);
      expect(ids(await store.pendingMessages('bob', 0, 3, 100))).toEqual([1, 3]);
      expect(ids(await store.directMessagesTo('alice', 0, 3, 10))).toEqual([2]);
      // New messages keep the table up to date; the two old indexes are gone.
      const m4 = await store.addMessage({ from: 'bob', to: 'carol', text: 'hi', at: 2, fromSession: 3 }).then(messageOf);
      expect(ids(await store.pendingMessages('carol', 0, 0, 100))).toEqual([m4.id]);
      expect(ids(await store.pendingMessages('bob', 3, 0, 100))).toEqual([m4.id]);
    } finally {
      await store.close();
    }
    const check = new Database(path.join(dir, DB_FILE), { readonly: true });
    const indexes = check.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages'").pluck().all();
    check.close();
    expect(indexes).toEqual(['messages_pair']);
  });

  it('refuses a database from a newer version of the program', async () => {
    const dir = await tempDir();
    const db = new Database(path.join(dir, DB_FILE));
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    expect(() => new SqliteStore(dir)).toThrow(/newer than this program/);
  });

  it('close() is idempotent', async () => {
    const store = new SqliteStore(await tempDir());
    await store.close();
    await expect(store.close()).resolves.toBeUndefined();
  });

  it('runs its other writes between the writer thread\'s batches: none waits on a lock or fails', async () => {
    const store = new SqliteStore(await tempDir());
    const user = await store.createUser('alice', randomBytes(16), randomBytes(32), 1);
    const session = (await store.createSession(user!.id, randomBytes(32), 2))!;
    const send = (i: number) => store.addMessage({ from: 'bob', to: 'alice', text: `m${i}`, at: 3, fromSession: 0 }).then(messageOf);
    const sends = Array.from({ length: 150 }, (_, i) => send(i));
    await new Promise((resolve) => setImmediate(resolve)); // the batch above is now on the writer's connection
    const others = [store.createUser('bob', randomBytes(16), randomBytes(32), 4), store.createGroup('ops', 'alice', false, 5), store.ackMessages(session.id, 10)];
    sends.push(...Array.from({ length: 150 }, (_, i) => send(150 + i)));
    const stored = await Promise.all(sends);
    const [bob, group] = await Promise.all(others);
    expect(stored.map((m) => m.id)).toEqual([...stored.map((m) => m.id)].sort((a, b) => a - b));
    expect(bob).toMatchObject({ name: 'bob' });
    expect(group).toMatchObject({ name: 'ops', owner: 'alice' });
    expect(await store.pendingMessages('alice', 0, session.id, 500)).toHaveLength(300);
    await store.close();
  });

  it('keeps the WAL bounded while messages keep coming (the writer checkpoints between its batches)', async () => {
    const dir = await tempDir();
    const store = new SqliteStore(dir, { walCheckpointPages: 64 });
    let largest = 0;
    for (let round = 0; round < 30; round++) {
      await Promise.all(Array.from({ length: 100 }, (_, i) => store.addMessage({ from: `u${i}`, to: `v${round}`, text: 'x'.repeat(200), at: 1, fromSession: 0 })));
      largest = Math.max(largest, statSync(path.join(dir, `${DB_FILE}-wal`)).size);
    }
    // Measured: ~0.4 MB with the writer's checkpoints (64 pages), 3.6 MB without them (the WAL
    // then holds every frame written since the start, and grows with every message).
    expect(largest).toBeLessThan(1.5 * 1024 * 1024);
    expect(await store.pendingMessages('v29', 0, 0, 500)).toHaveLength(100);
    await store.close();
  });

  // A small tmpfs stands for a full disk: needs root (mount), as CI has; otherwise skipped, saying why.
  const mountable = process.getuid?.() === 0 && spawnSync('mount', ['--version']).status === 0;
  if (!mountable) console.warn('skipping the full-disk test: it mounts a small tmpfs, which needs root');
  it.skipIf(!mountable)('on a full disk, sends fail with a clear error, every acknowledged message survives, close() still closes', async () => {
    const disk = await tempDir();
    expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', disk]).status).toBe(0);
    try {
      const dir = path.join(disk, 'data');
      const store = new SqliteStore(dir);
      let acknowledged = 0;
      const errors = new Set<string>();
      for (let round = 0; round < 200 && errors.size === 0; round++) {
        const sends = Array.from({ length: 50 }, () => store.addMessage({ from: 'a', to: 'b', text: 'x'.repeat(2000), at: 1, fromSession: 0 }).then(messageOf));
        for (const r of await Promise.allSettled(sends)) {
          if (r.status === 'fulfilled') acknowledged++;
          else errors.add((r.reason as Error).message);
        }
      }
      expect([...errors]).toEqual(['database or disk is full']);
      await expect(store.close()).resolves.toBeUndefined();
      const again = new SqliteStore(dir);
      try {
        expect(await again.pendingMessages('b', 0, 0, 100_000)).toHaveLength(acknowledged);
      } finally {
        await again.close();
      }
    } finally {
      spawnSync('umount', ['--lazy', disk]); // lazy: also when a failed store still holds its files
    }
  });

  it('close() completes when the data directory was removed before its worker threads opened it', async () => {
    const dir = await tempDir();
    const store = new SqliteStore(dir);
    await rm(dir, { recursive: true, force: true });
    await expect(store.close()).resolves.toBeUndefined();
  });

  it('writes what was accepted before close() resolves, and rejects writes after it', async () => {
    const dir = await tempDir();
    const store = new SqliteStore(dir);
    const sends = Array.from({ length: 50 }, (_, i) => store.addMessage({ from: 'bob', to: 'alice', text: `m${i}`, at: 1, fromSession: 0 }));
    await store.close();
    expect(await Promise.all(sends)).toHaveLength(50);
    await expect(store.addMessage({ from: 'bob', to: 'alice', text: 'late', at: 2, fromSession: 0 }).then(messageOf)).rejects.toThrow(/closed/);
    const again = new SqliteStore(dir);
    try {
      expect(await again.pendingMessages('alice', 0, 0, 100)).toHaveLength(50);
    } finally {
      await again.close();
    }
  });
});
