// Seeds bench users straight into a chat data directory through the built store, before the
// server starts: registering 10,000 users over the wire would spend ~50 ms of scrypt each.
// Every user gets the same salt and scrypt hash of PASSWORD (so `login` works, computed once
// with the server's own hashPassword) and one session whose token the load generator can
// derive again from the run's seed (tokenFor), so clients log in with a cheap `auth`.
// A cluster's users go into PostgreSQL the same way (seedUsersPostgres, through PostgresStore).
import { createHash } from 'node:crypto';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export const PASSWORD = 'bench-password-123';

/** User name of client `i`: 2-32 chars of [a-z0-9_-] (protocol §5) and ≤ 9 chars for IRC nicks. */
export function userName(i) {
  return `u${String(i).padStart(5, '0')}`;
}

/** The session token of user `i` in a run seeded with `seed`: 43 base64url chars, like the server's. */
export function tokenFor(seed, i) {
  return createHash('sha256').update(`${seed}:${i}`).digest().toString('base64url');
}

/**
 * Creates users 0..count-1 with a session each in `dataDir` (SqliteStore from dist/).
 * Returns { users, ms }.
 */
export async function seedUsers(root, dataDir, count, seed) {
  const dist = (p) => pathToFileURL(path.join(root, 'dist', p)).href;
  const { SqliteStore } = await import(dist('store/sqlite.js'));
  const { hashPassword, hashToken } = await import(dist('server/auth.js'));
  const started = performance.now();
  const { salt, hash } = await hashPassword(PASSWORD);
  const store = new SqliteStore(dataDir);
  try {
    const at = Date.now();
    for (let i = 0; i < count; i++) {
      const user = await store.createUser(userName(i), salt, hash, at);
      if (!user) throw new Error(`seeding: ${userName(i)} already exists in ${dataDir}`);
      await store.createSession(user.id, hashToken(tokenFor(seed, i)), at);
    }
  } finally {
    await store.close();
  }
  return { users: count, ms: performance.now() - started };
}

/**
 * The same users and sessions in the PostgreSQL store at `url` (PostgresStore from dist/; the
 * URL's search_path names the run's fresh schema, whose tables this creates). 8 users at once.
 * Returns { users, ms }.
 */
export async function seedUsersPostgres(root, url, count, seed) {
  const dist = (p) => pathToFileURL(path.join(root, 'dist', p)).href;
  const { PostgresStore } = await import(dist('store/postgres.js'));
  const { hashPassword, hashToken } = await import(dist('server/auth.js'));
  const started = performance.now();
  const { salt, hash } = await hashPassword(PASSWORD);
  const store = await PostgresStore.open(url, { maxConnections: 8 });
  try {
    const at = Date.now();
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const i = next++;
        const user = await store.createUser(userName(i), salt, hash, at);
        if (!user) throw new Error(`seeding: ${userName(i)} already exists in the PostgreSQL store`);
        await store.createSession(user.id, hashToken(tokenFor(seed, i)), at);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
  } finally {
    await store.close();
  }
  return { users: count, ms: performance.now() - started };
}
