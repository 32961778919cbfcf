// The relay carries transfers, nothing else (issue 25, finding 5): an account that offers to itself
// and pipes bytes through the relay is bounded by the byte budget, the rate, its pairs and the idle
// timeout; a transfer id cannot be taken over by another pair of users; a ticket pairs a few times.
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalBus } from '../../src/bus/local.js';
import { ChatClient } from '../../src/client/client.js';
import { relayRequest } from '../../src/protocol/relay.js';
import { DEFAULT_LIMITS, type ServerLimits } from '../../src/server/options.js';
import { createServer } from '../../src/server/server.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { closedWithin, drain, offer, readBytes, relayConn, type Transfer } from '../helpers/relay.js';
import { connectTo, startServer, tempDir, testCertificate, type ServerTarget, type TestServer } from '../helpers/server.js';

const PASSWORD = 'correct horse';
const servers: TestServer[] = [];
const clients: ChatClient[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
  for (const s of servers.splice(0)) await s.cleanup();
});

async function server(limits: Partial<ServerLimits>, log?: (line: string) => void): Promise<TestServer> {
  const ts = await startServer({ limits, log });
  servers.push(ts);
  return ts;
}

async function user(ts: ServerTarget, name: string, login = false): Promise<ChatClient> {
  const c = await connectTo(ts);
  clients.push(c);
  await (login ? c.login(name, PASSWORD) : c.register(name, PASSWORD));
  return c;
}

/** An offer from `from` to itself, accepted by the same account's other device (legitimate: a file to one's own laptop). */
async function selfTransfer(ts: TestServer, from: ChatClient): Promise<Transfer> {
  const device = await connectTo(ts);
  clients.push(device);
  await device.login(from.user!, PASSWORD);
  const t = await offer(from, from.user!);
  await device.request('accept', { offer: t.offer });
  return t;
}

async function accepted(from: ChatClient, to: ChatClient): Promise<Transfer> {
  const t = await offer(from, to.user!);
  await to.request('accept', { offer: t.offer });
  return t;
}

/** Both sides of `t` at the relay; resolves their sockets once paired. */
async function pair(ts: TestServer, t: Transfer): Promise<{ s: Socket; r: Socket }> {
  const [s, r] = await Promise.all([
    relayConn(ts, relayRequest(t.token, 'sender', t.transfer), sockets),
    relayConn(ts, relayRequest(t.token, 'receiver', t.transfer), sockets),
  ]);
  expect(s.reply).toMatchObject({ type: 'ok', result: { paired: true } });
  expect(r.reply).toMatchObject({ type: 'ok', result: { paired: true } });
  return { s: s.socket, r: r.socket };
}

/** A relay request of `t` as `role`: its (error) reply. */
async function ask(ts: TestServer, t: Transfer, role: 'sender' | 'receiver' = 'sender'): Promise<Record<string, unknown>> {
  return (await relayConn(ts, relayRequest(t.token, role, t.transfer), sockets)).reply;
}

describe('relay abuse', () => {
  it('a self-pipe stops at the sender\'s byte budget, and the next pair of that user is refused clearly', async () => {
    const logs: string[] = [];
    const budget = 1024 * 1024;
    const ts = await server({ relayBytesPerUser: budget, relayRate: 0 }, (l) => logs.push(l));
    const alice = await user(ts, 'alice');
    const { s, r } = await pair(ts, await selfTransfer(ts, alice));
    const got = drain(r, 5000, 'the pair past its byte budget');
    s.write(Buffer.alloc(3 * budget));
    expect(await got).toBeLessThan(budget);
    expect(logs.some((l) => l.includes("the sender's relay byte budget is used up"))).toBe(true);
    expect(await ask(ts, await selfTransfer(ts, alice))).toMatchObject({
      type: 'error', code: 'limit_reached', message: expect.stringContaining("alice has used the relay's 1 MiB per 24 h"),
    });
    // Another user is not affected.
    const bob = await user(ts, 'bob');
    const b = await pair(ts, await selfTransfer(ts, bob));
    const echoed = readBytes(b.r, 5);
    b.s.write('hello');
    expect((await echoed).toString()).toBe('hello');
  });

  it('a user\'s relayed pairs at once are bounded; others still pair', async () => {
    const ts = await server({ relayPairsPerUser: 2 });
    const alice = await user(ts, 'alice');
    await pair(ts, await selfTransfer(ts, alice));
    await pair(ts, await selfTransfer(ts, alice));
    const third = await selfTransfer(ts, alice);
    expect(await ask(ts, third)).toMatchObject({
      type: 'error', code: 'limit_reached', message: 'alice already has 2 relayed transfers open; try again when one ends',
    });
    // The limit counts against the sender: bob receiving from alice is alice's too; bob's own are not.
    const bob = await user(ts, 'bob');
    expect(await ask(ts, await accepted(alice, bob), 'receiver')).toMatchObject({ code: 'limit_reached' });
    await pair(ts, await accepted(bob, alice));
  });

  it('a relayed pair moves at most --relay-rate per direction (and the default rate is finite)', async () => {
    expect(DEFAULT_LIMITS.relayRate).toBeGreaterThan(0);
    const rate = 512 * 1024;
    const ts = await server({ relayRate: rate });
    const { s, r } = await pair(ts, await selfTransfer(ts, await user(ts, 'alice')));
    const size = 3 * rate; // the first second's worth passes at once, the rest at the rate: >= 2 s
    const start = performance.now();
    const arrived = readBytes(r, size, 10_000);
    s.write(Buffer.alloc(size));
    await arrived;
    expect(performance.now() - start).toBeGreaterThan(1500);
  });

  it('idle pairs are closed after relayIdleMs, so they cannot hold --relay-max; busy ones stay', async () => {
    const logs: string[] = [];
    const idleMs = 300;
    const ts = await server({ relayIdleMs: idleMs, relayMax: 2 }, (l) => logs.push(l));
    const alice = await user(ts, 'alice');
    const [t1, t2, third] = [await selfTransfer(ts, alice), await selfTransfer(ts, alice), await selfTransfer(ts, alice)];
    // Each pair stays busy (a byte every idleMs / 6) until the third is refused: on a loaded
    // machine the next TLS handshakes alone may take longer than idleMs.
    const moving: Socket[] = [];
    const keepMoving = setInterval(() => moving.forEach((s) => s.write('k')), idleMs / 6);
    const busyPair = async (t: Transfer): Promise<{ s: Socket; r: Socket }> => {
      const p = await pair(ts, t);
      moving.push(p.s);
      return p;
    };
    let first: { s: Socket; r: Socket };
    let second: { s: Socket; r: Socket };
    try {
      first = await busyPair(t1);
      second = await busyPair(t2);
      expect(await ask(ts, third)).toMatchObject({ code: 'overloaded', message: 'the relay is full (2 transfers); try again later' });
    } finally {
      clearInterval(keepMoving);
    }

    const start = performance.now();
    await Promise.all([first.s, first.r, second.s, second.r].map((s) => closedWithin(s, 5000, 'an idle relayed pair')));
    expect(performance.now() - start).toBeGreaterThan(idleMs / 2);
    expect(logs.filter((l) => l.includes(`(idle for ${idleMs} ms)`))).toHaveLength(2);
    expect(ts.server.relay.stats.active).toBe(0);

    // The relay has room again; a pair that keeps moving bytes outlives the idle timeout.
    const busy = await pair(ts, third);
    const ticks = 20;
    const got = readBytes(busy.r, ticks, 10_000);
    let sent = 0;
    const timer = setInterval(() => void (++sent <= ticks && busy.s.write('x')), idleMs / 6);
    try {
      await got;
    } finally {
      clearInterval(timer);
    }
    expect(busy.r.destroyed).toBe(false);
    expect(ts.server.relay.stats.active).toBe(1);
  });

  it('another user cannot take over a transfer id: refused at offer time, and the waiting sender pairs with its own receiver', async () => {
    const ts = await server({});
    const [alice, bob, mallory] = [await user(ts, 'alice'), await user(ts, 'bob'), await user(ts, 'mallory')];
    const t = await accepted(alice, bob);
    const waiting = relayConn(ts, relayRequest(t.token, 'sender', t.transfer), sockets);
    const taken = { code: 'forbidden', message: expect.stringContaining('this transfer id is already used by another transfer') };
    await expect(offer(mallory, 'mallory', t.transfer)).rejects.toMatchObject(taken);
    await expect(offer(mallory, 'bob', t.transfer)).rejects.toMatchObject(taken);
    // Mallory, with a token of her own, is no receiver of alice's transfer.
    expect(await ask(ts, { ...t, token: 'mallory-token' }, 'receiver')).toMatchObject({ code: 'unauthorized' });
    const r = await relayConn(ts, relayRequest(t.token, 'receiver', t.transfer), sockets);
    const s = await waiting;
    expect([s.reply, r.reply]).toMatchObject([{ type: 'ok' }, { type: 'ok' }]);
    const arrived = readBytes(r.socket, 5);
    s.socket.write('alice');
    expect((await arrived).toString()).toBe('alice');

    // An offer not accepted yet holds its id too; the same pair may offer it again (a resume).
    const open = await offer(alice, 'bob');
    await expect(offer(mallory, 'mallory', open.transfer)).rejects.toMatchObject(taken);
    await offer(alice, 'bob', open.transfer);
    await offer(alice, 'bob', t.transfer);
  });

  it('a ticket pairs at most relayPairingsPerTicket times (the first and its resumes)', async () => {
    const ts = await server({ relayPairingsPerTicket: 2 });
    const t = await selfTransfer(ts, await user(ts, 'alice'));
    for (let i = 0; i < 2; i++) {
      const { s, r } = await pair(ts, t);
      s.destroy();
      await closedWithin(r, 5000, 'the other side of a closed pair');
    }
    expect(await ask(ts, t)).toMatchObject({
      type: 'error', code: 'limit_reached', message: 'this transfer was relayed 2 times already; offer it again',
    });
  });

  it('in a cluster, an offer of a taken transfer id made on another node cannot be accepted where the ticket is', async () => {
    const store = new SqliteStore(await tempDir('chat-relay-cluster-'));
    const bus = new LocalBus();
    const tls = await testCertificate();
    const nodes = [createServer({ store, bus, node: 'a', tls }), createServer({ store, bus, node: 'b', tls })];
    try {
      const [pa, pb] = await Promise.all(nodes.map(async (n) => (await n.listen(0, '127.0.0.1')).port));
      const [a, b] = [pa!, pb!].map((port) => ({ host: '127.0.0.1', port, tls: { fingerprint: tls.fingerprint } }));
      const alice = await user(a!, 'alice');
      const bob = await user(b!, 'bob');
      const mallory = await user(a!, 'mallory');
      const malloryOnB = await user(b!, 'mallory', true);
      // alice's offer lives on a; bob accepts its replica on b, so the ticket is b's.
      const t = await offer(alice, 'bob');
      await bob.request('accept', { offer: t.offer });
      const waiting = relayConn(b!, relayRequest(t.token, 'sender', t.transfer), sockets);
      // Node a no longer knows the id (the offer ended there), so mallory may offer it on a ...
      const m = await offer(mallory, 'mallory', t.transfer);
      // ... but not accept it on b, where it is alice's and bob's.
      await expect(malloryOnB.request('accept', { offer: m.offer })).rejects.toMatchObject({
        code: 'forbidden', message: expect.stringContaining('this transfer id is already used by another transfer'),
      });
      const r = await relayConn(b!, relayRequest(t.token, 'receiver', t.transfer), sockets);
      const s = await waiting;
      expect([s.reply, r.reply]).toMatchObject([{ type: 'ok' }, { type: 'ok' }]);
      const arrived = readBytes(r.socket, 3);
      s.socket.write('bob');
      expect((await arrived).toString()).toBe('bob');
    } finally {
      for (const sock of sockets.splice(0)) sock.destroy();
      await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
      await Promise.all(nodes.map((n) => n.close()));
      await store.close();
    }
  });
});
