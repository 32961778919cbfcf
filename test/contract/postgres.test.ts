// PostgresStore: the Store contract suite, then what only PostgreSQL has (concurrent nodes,
// migrations shared by several processes). Needs a server: CHAT_TEST_PG=postgres://… (see
// .ci/services). Each test gets a fresh schema in that database, dropped afterwards.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { PostgresStore, type PostgresStoreOptions } from '../../src/store/postgres.js';
import { PG_MIGRATIONS } from '../../src/store/postgres-migrations.js';
import { messageOf, storeContract } from './store.contract.js';

const PG_URL = process.env.CHAT_TEST_PG;

if (!PG_URL) {
  console.warn('CHAT_TEST_PG not set: skipping PostgreSQL store tests');
  describe.skip('PostgresStore (set CHAT_TEST_PG=postgres://… to run; .ci/services starts a server)', () => {
    it('Store contract and PostgreSQL-specific tests', () => {});
  });
} else {
  postgresTests(PG_URL);
}

function postgresTests(url: string): void {
  const admin = new pg.Pool({ connectionString: url, max: 2 });
  const schemas: string[] = [];
  const stores: PostgresStore[] = [];

  afterAll(async () => {
    await admin.end();
  });

  async function freshSchema(): Promise<string> {
    const schema = `chat_test_${randomBytes(6).toString('hex')}`;
    await admin.query(`CREATE SCHEMA ${schema}`);
    schemas.push(schema);
    return schema;
  }

  async function dropSchema(schema: string): Promise<void> {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  }

  /** A store on `schema`, closed after the test. */
  async function open(schema: string, opts: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const store = await PostgresStore.open(url, { schema, maxConnections: 4, ...opts });
    stores.push(store);
    return store;
  }

  async function appliedVersions(schema: string): Promise<number[]> {
    const { rows } = await admin.query<{ version: number }>(`SELECT version FROM ${schema}.chat_schema ORDER BY version`);
    return rows.map((r) => r.version);
  }

  const allVersions = PG_MIGRATIONS.map((_, i) => i + 1);

  storeContract('PostgresStore', async () => {
    const schema = await freshSchema();
    const store = await PostgresStore.open(url, { schema, maxConnections: 4 });
    const nodes: PostgresStore[] = [];
    return {
      store,
      async node() {
        const node = await PostgresStore.open(url, { schema, maxConnections: 4 });
        nodes.push(node);
        return node;
      },
      async cleanup() {
        await Promise.all([store, ...nodes].map((s) => s.close()));
        await dropSchema(schema);
      },
    };
  });

  describe('PostgresStore on PostgreSQL', () => {
    afterEach(async () => {
      await Promise.all(stores.splice(0).map((s) => s.close()));
      await Promise.all(schemas.splice(0).map(dropSchema));
    });

    it('applies every migration once; reopening is a no-op that keeps data and the schema version', async () => {
      const schema = await freshSchema();
      const first = await open(schema);
      expect(await first.schemaVersion()).toBe(PG_MIGRATIONS.length);
      const alice = (await first.createUser('alice', randomBytes(16), randomBytes(64), 1))!;
      const m1 = await first.addMessage({ from: 'bob', to: 'alice', text: 'one', at: 2, fromSession: 0 }).then(messageOf);
      await first.close();
      for (let i = 0; i < 3; i++) {
        const again = await open(schema);
        expect(await again.schemaVersion()).toBe(PG_MIGRATIONS.length);
        expect((await again.getUser('alice'))?.id).toBe(alice.id);
        expect(await again.history({ a: 'alice', b: 'bob', limit: 10 })).toEqual([m1]);
        await again.close();
      }
      expect(await appliedVersions(schema)).toEqual(allVersions);
      // Ids keep increasing after a restart.
      const last = await open(schema);
      expect((await last.addMessage({ from: 'bob', to: 'alice', text: 'two', at: 3, fromSession: 0 }).then(messageOf)).id).toBeGreaterThan(m1.id);
    });

    it('upgrades a schema-2 database with messages in place: cursors, history and order go on from them', async () => {
      const schema = await freshSchema();
      // A database as the release before per-conversation ordering left it.
      const c = await admin.connect();
      try {
        await c.query(`SET search_path = ${schema}`);
        await c.query('CREATE TABLE chat_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
        for (let v = 0; v < 2; v++) {
          await c.query(PG_MIGRATIONS[v]!);
          await c.query('INSERT INTO chat_schema (version) VALUES ($1)', [v + 1]);
        }
        await c.query(`INSERT INTO users (name, salt, hash, created_at) VALUES ('alice', '\\x00', '\\x00', 1), ('bob', '\\x00', '\\x00', 1)`);
        await c.query(`INSERT INTO sessions (user_id, token_hash, created_at) SELECT id, '\\x01', 1 FROM users WHERE name = 'bob'`);
        await c.query(`INSERT INTO messages (sender, recipient, pair, body, at, from_session)
                       VALUES ('alice', 'bob', 'alice bob', '\\x6f6c64', 1, 0), ('alice', 'bob', 'alice bob', '\\x6f6c6432', 2, 0)`);
      } finally {
        c.release();
      }
      const store = await open(schema);
      expect(await appliedVersions(schema)).toEqual(allVersions);
      const old = await store.history({ a: 'alice', b: 'bob', limit: 10 });
      expect(old.map((m) => m.text)).toEqual(['old', 'old2']);
      const { message: next, order } = await store.addMessage({ from: 'bob', to: 'alice', text: 'new', at: 3, fromSession: 0 });
      expect([order]).toEqual([{ conversation: 'alice bob', prev: old[1]!.id }]);
      const session = (await store.getSessionByTokenHash(Buffer.from([1])))!;
      expect((await store.pendingMessages('bob', session.cursor, session.id, 10)).map((m) => m.id)).toEqual([...old.map((m) => m.id), next.id]);
      await store.ackMessages(session.id, next.id);
      expect((await store.getSession(session.id))!.cursor).toBe(next.id);
    });

    it('lets several nodes open a fresh database at once: all succeed, migrations run once', async () => {
      const schema = await freshSchema();
      const nodes = await Promise.all([open(schema), open(schema), open(schema), open(schema)]);
      expect(await appliedVersions(schema)).toEqual(allVersions);
      const alice = await nodes[0]!.createUser('alice', randomBytes(16), randomBytes(64), 1);
      expect((await nodes[3]!.getUser('ALICE'))?.id).toBe(alice!.id);
    });

    it('refuses a database whose schema is newer than the program', async () => {
      const schema = await freshSchema();
      await (await open(schema)).close();
      await admin.query(`INSERT INTO ${schema}.chat_schema (version) VALUES ($1)`, [PG_MIGRATIONS.length + 1]);
      await expect(PostgresStore.open(url, { schema })).rejects.toThrow(/newer than this program/);
    });

    it('refuses a schema name it would have to quote', async () => {
      await expect(PostgresStore.open(url, { schema: 'x; DROP' })).rejects.toThrow(/invalid schema name/);
    });

    it('a batch waiting for a conversation another node is inserting into does not hold up the next one', async () => {
      const schema = await freshSchema();
      const store = await open(schema);
      const holder = await admin.connect();
      const key = [schema, 'chat conversation alice bob'];
      try {
        await holder.query('SELECT pg_advisory_lock(hashtext($1), hashtext($2))', key); // "another node"
        let aliceStored = false;
        const alice = store.addMessage({ from: 'alice', to: 'bob', text: 'waits', at: 1, fromSession: 0 }).then(messageOf).then((m) => {
          aliceStored = true;
          return m;
        });
        // Until alice's batch is waiting for the lock (bounded).
        for (let i = 0; i < 500; i++) {
          const { rows } = await admin.query(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`);
          if (rows.length > 0) break;
        }
        const carol = await store.addMessage({ from: 'carol', to: 'dave', text: 'goes', at: 2, fromSession: 0 }).then(messageOf);
        expect(carol.text).toBe('goes');
        expect(aliceStored).toBe(false); // its conversation is still locked
        await holder.query('SELECT pg_advisory_unlock(hashtext($1), hashtext($2))', key);
        expect((await alice).id).toBeGreaterThan(carol.id); // drawn only once it had its conversation's lock
      } finally {
        await holder.query('SELECT pg_advisory_unlock_all()');
        holder.release();
      }
    });

    it('an ack never moves a cursor past a message id that may still commit (a writer elsewhere is slow)', async () => {
      const schema = await freshSchema();
      const store = await open(schema, { ackSettleMs: 100 });
      await store.createUser('alice', randomBytes(16), randomBytes(64), 1);
      const bob = (await store.createUser('bob', randomBytes(16), randomBytes(64), 1))!;
      const session = (await store.createSession(bob.id, randomBytes(32), 1))!;
      const slow = await admin.connect();
      try {
        // A node that drew id `late` for alice → bob and has not committed yet.
        await slow.query('BEGIN');
        await slow.query('SELECT txid_current()');
        const { rows } = await slow.query<{ id: string }>(
          `INSERT INTO ${schema}.messages (sender, recipient, pair, body, at, from_session)
           VALUES ('alice', 'bob', 'alice bob', '\\x6869', 1, 0) RETURNING id`,
        );
        const late = Number(rows[0]!.id);
        const carol = await store.addMessage({ from: 'carol', to: 'bob', text: 'later id, committed first', at: 2, fromSession: 0 }).then(messageOf);
        expect(carol.id).toBeGreaterThan(late);
        await store.ackMessages(session.id, carol.id); // bob's device saw carol's message
        const cursor = (await store.getSession(session.id))!.cursor;
        expect(cursor).toBeLessThan(late);
        await slow.query('COMMIT');
        expect((await store.pendingMessages('bob', cursor, session.id, 10)).map((m) => m.id)).toEqual([late, carol.id]);
        await store.ackMessages(session.id, carol.id);
        expect((await store.getSession(session.id))!.cursor).toBe(carol.id);
      } finally {
        await slow.query('ROLLBACK').catch(() => {});
        slow.release();
      }
    });

    it('commits a conversation\'s messages in id order: a reader following a cursor never skips one, whatever the concurrency', async () => {
      const schema = await freshSchema();
      // Six nodes writing (each queues its own inserts), one reading.
      const writers = await Promise.all(Array.from({ length: 6 }, () => open(schema, { maxConnections: 2 })));
      const reader = await open(schema);
      await reader.createUser('alice', randomBytes(16), randomBytes(64), 1);
      const bob = (await reader.createUser('bob', randomBytes(16), randomBytes(64), 1))!;
      const session = (await reader.createSession(bob.id, randomBytes(32), 1))!;

      const seen: number[] = [];
      let cursor = 0;
      const follow = async () => {
        const page = await reader.pendingMessages('bob', cursor, session.id, 50);
        for (const m of page) {
          seen.push(m.id);
          cursor = m.id;
        }
        return page.length;
      };
      let writing = true;
      const sent = Promise.all(
        Array.from({ length: 300 }, (_, i) =>
          writers[i % writers.length]!.addMessage({ from: 'alice', to: 'bob', text: `m${i}`, at: i, fromSession: 0 }).then(messageOf),
        ),
      ).finally(() => {
        writing = false;
      });
      while (writing) await follow();
      for (let rounds = 0; rounds < 100 && (await follow()) > 0; rounds++); // the rest, page by page

      const ids = (await sent).map((m) => m.id).sort((a, b) => a - b);
      expect(new Set(ids).size).toBe(300);
      expect(seen).toEqual(ids);
    });

    it('a message insert that fails does not hold up the next ones', async () => {
      const store = await open(await freshSchema());
      const bad = store.addMessage({ from: 'alice', to: 'bob', text: 'x', at: 1, fromSession: Number.NaN }).then(messageOf);
      const good = store.addMessage({ from: 'alice', to: 'bob', text: 'y', at: 2, fromSession: 0 }).then(messageOf);
      await expect(bad).rejects.toThrow();
      expect((await good).text).toBe('y');
      expect((await store.addMessage({ from: 'alice', to: 'bob', text: 'z', at: 3, fromSession: 0 }).then(messageOf)).id).toBeGreaterThan((await good).id);
    });

    it('crossed friend requests from two nodes at once always end as friends', async () => {
      const schema = await freshSchema();
      const [n1, n2] = [await open(schema), await open(schema)];
      const pairs = Array.from({ length: 20 }, (_, i) => [`a${i}`, `b${i}`] as const);
      const results = await Promise.all(
        pairs.map(async ([a, b]) => (await Promise.all([n1.requestFriend(a, b, 1), n2.requestFriend(b, a, 1)])).sort()),
      );
      expect(results).toEqual(pairs.map(() => ['friend', 'outgoing']));
      for (const [a, b] of pairs) {
        expect(await n1.friends(a)).toEqual([{ user: b, state: 'friend', note: '' }]);
        expect(await n2.friends(b)).toEqual([{ user: a, state: 'friend', note: '' }]);
      }
    });

    it('keeps friend notes exactly, NUL included (stored as UTF-8 bytes)', async () => {
      const store = await open(await freshSchema());
      await store.requestFriend('alice', 'bob', 1);
      const note = 'ünïcode 🌍\u0000after NUL';
      expect(await store.setFriendNote('alice', 'bob', note)).toBe(true);
      expect((await store.friends('alice'))[0]!.note).toBe(note);
    });

    it('close() is idempotent', async () => {
      const store = await open(await freshSchema());
      await store.close();
      await expect(store.close()).resolves.toBeUndefined();
    });
  });
}
