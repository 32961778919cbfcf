// gapFreeAck: in a cluster a connection may be sent messages out of id order; an ack of message n
// covers n and what was sent before it, never a smaller id sent after it. Real SqliteStore.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Connection } from '../../../src/server/connection.js';
import { gapFreeAck } from '../../../src/server/handlers/messages.js';
import type { ServerContext } from '../../../src/server/server.js';
import { SqliteStore } from '../../../src/store/sqlite.js';
import type { StoredMessage } from '../../../src/store/store.js';

const messageOf = (s: StoredMessage) => s.message;

describe('gapFreeAck', () => {
  let dir = '';
  let store: SqliteStore | undefined;
  afterEach(async () => {
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function setup() {
    dir = await mkdtemp(path.join(tmpdir(), 'chat-ack-'));
    store = new SqliteStore(dir);
    for (const name of ['alice', 'bob', 'carol']) await store.createUser(name, randomBytes(16), randomBytes(64), 1);
    const bob = (await store.getUser('bob'))!;
    const session = (await store.createSession(bob.id, randomBytes(32), 1))!;
    const send = (from: string) => store!.addMessage({ from, to: 'bob', text: from, at: 1, fromSession: 0 }).then(messageOf);
    const ctx = { store, limits: { maxHistoryLimit: 500 } } as unknown as ServerContext;
    const conn = { user: 'bob', sessionId: session.id, delivered: new Map<number, number>(), deliveredFloor: 0 } as unknown as Connection;
    return { ctx, conn, send };
  }

  it('does not cover a smaller id that was sent after the acknowledged message', async () => {
    const { ctx, conn, send } = await setup();
    const [a, c] = [await send('alice'), await send('carol')];
    // carol's message (the newer id) went out first, alice's after it.
    conn.delivered!.set(c.id, 1).set(a.id, 2);
    expect(await gapFreeAck(ctx, conn, 0, c.id)).toBe(a.id - 1);
    expect(await gapFreeAck(ctx, conn, 0, a.id)).toBe(a.id); // covers both; the cursor stops at the id acked
    expect(await gapFreeAck(ctx, conn, a.id, c.id)).toBe(c.id);
    expect(conn.delivered!.size).toBe(0);
  });

  it('moves no further than the pending messages it could read (a page of maxHistoryLimit)', async () => {
    const { ctx, conn, send } = await setup();
    (ctx.limits as { maxHistoryLimit: number }).maxHistoryLimit = 2;
    const [a, b, c] = [await send('alice'), await send('carol'), await send('alice')];
    conn.delivered!.set(a.id, 1).set(b.id, 2).set(c.id, 3);
    expect(await gapFreeAck(ctx, conn, 0, c.id)).toBe(b.id); // c was not checked yet
    expect(await gapFreeAck(ctx, conn, b.id, c.id)).toBe(c.id);
  });

  it('stops before a stored message the connection was never sent', async () => {
    const { ctx, conn, send } = await setup();
    const [a, c] = [await send('alice'), await send('carol')];
    conn.delivered!.set(c.id, 1); // alice's never arrived (the bus lost it)
    expect(await gapFreeAck(ctx, conn, 0, c.id)).toBe(a.id - 1);
  });
});
