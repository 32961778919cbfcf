// Mailbox.gapFreeAck: in a cluster a connection may be sent messages out of id order; an ack of
// message n covers n and what was sent before it, never a smaller id sent after it. Real
// SqliteStore; the connection is only what a Mailbox writes to (MailboxConnection).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Mailbox, type MailboxConnection } from '../../../src/server/delivery/mailbox.js';
import { DEFAULT_LIMITS } from '../../../src/server/options.js';
import type { ChatMessage } from '../../../src/protocol/messages.js';
import { SqliteStore } from '../../../src/store/sqlite.js';
import type { StoredMessage } from '../../../src/store/store.js';

const messageOf = (s: StoredMessage) => s.message;

describe('Mailbox.gapFreeAck', () => {
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
    const written: number[] = [];
    const conn: MailboxConnection = {
      id: 'n:1', user: 'bob', sessionId: session.id, closed: false, buffered: 0,
      send: (frame) => void (frame.type === 'event' && frame.event === 'message' && written.push(frame.data.id)),
      sendEncoded: () => {},
      drained: async () => {},
    };
    const limits = { ...DEFAULT_LIMITS, maxHistoryLimit: 500 };
    const mailbox = new Mailbox(conn, store, limits);
    // Written to the device in this order (as the Router's push does).
    const write = (...ms: ChatMessage[]) => ms.forEach((m) => mailbox.push({ type: 'event', event: 'message', data: m }));
    return { mailbox, limits, write, written, send };
  }

  it('does not cover a smaller id that was sent after the acknowledged message', async () => {
    const { mailbox, write, written, send } = await setup();
    const [a, c] = [await send('alice'), await send('carol')];
    // carol's message (the newer id) went out first, alice's after it.
    write(c, a);
    expect(written).toEqual([c.id, a.id]);
    expect(await mailbox.gapFreeAck(0, c.id)).toBe(a.id - 1);
    expect(await mailbox.gapFreeAck(0, a.id)).toBe(a.id); // covers both; the cursor stops at the id acked
    expect(await mailbox.gapFreeAck(a.id, c.id)).toBe(c.id);
    expect(mailbox.unacknowledged).toBe(0);
  });

  it('moves no further than the pending messages it could read (a page of maxHistoryLimit)', async () => {
    const { mailbox, limits, write, send } = await setup();
    limits.maxHistoryLimit = 2;
    const [a, b, c] = [await send('alice'), await send('carol'), await send('alice')];
    write(a, b, c);
    expect(await mailbox.gapFreeAck(0, c.id)).toBe(b.id); // c was not checked yet
    expect(await mailbox.gapFreeAck(b.id, c.id)).toBe(c.id);
  });

  it('stops before a stored message the connection was never sent', async () => {
    const { mailbox, write, send } = await setup();
    const [a, c] = [await send('alice'), await send('carol')];
    write(c); // alice's never arrived (the bus lost it)
    expect(await mailbox.gapFreeAck(0, c.id)).toBe(a.id - 1);
  });
});
