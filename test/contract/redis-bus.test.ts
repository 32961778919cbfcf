// RedisBus: the Bus contract suite, then what only Redis has (dropped connections, outages,
// crashes and rejoins, startup failure). Needs a server: CHAT_TEST_REDIS=redis://… (see
// .ci/services). Each test uses its own key prefix, so runs sharing a server don't collide, and
// short heartbeats so node deaths show quickly. The shared server is never restarted: connections
// are dropped with CLIENT KILL, and outages are made by a TCP proxy that the test cuts.
import { randomBytes } from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Bus, BusMessage } from '../../src/bus/bus.js';
import { RedisBus, type RedisBusOptions } from '../../src/bus/redis.js';
import { busContract, presence, recorder, waitFor } from './bus.contract.js';

const REDIS_URL = process.env.CHAT_TEST_REDIS;
const HEARTBEAT_MS = 100;
const EXPIRY_MS = 400;

if (!REDIS_URL) {
  console.warn('CHAT_TEST_REDIS not set: skipping Redis bus tests');
  describe.skip('RedisBus (set CHAT_TEST_REDIS=redis://… to run; .ci/services starts a server)', () => {
    it('Bus contract and Redis-specific tests', () => {});
  });
} else {
  redisTests(REDIS_URL);
}

function redisTests(url: string): void {
  const admin = new Redis(url);
  const prefixes: string[] = [];
  const opened: RedisBus[] = [];

  afterAll(async () => {
    admin.disconnect();
  });

  function freshPrefix(): string {
    const prefix = `chattest-${randomBytes(6).toString('hex')}`;
    prefixes.push(prefix);
    return prefix;
  }

  async function dropKeys(prefix: string): Promise<void> {
    const keys = await admin.keys(`${prefix}:*`);
    if (keys.length) await admin.del(keys);
  }

  /** A bus on `prefix`, closed after the test. */
  async function open(prefix: string, opts: RedisBusOptions = {}, at = url): Promise<RedisBus> {
    const bus = await RedisBus.open(at, { prefix, heartbeatMs: HEARTBEAT_MS, expiryMs: EXPIRY_MS, ...opts });
    opened.push(bus);
    return bus;
  }

  /** The connections named `${prefix}-pub` or `${prefix}-sub` (the buses on that prefix): id → name. */
  async function clients(prefix: string): Promise<Map<string, string>> {
    const list = (await admin.client('LIST')) as string;
    const found = new Map<string, string>();
    for (const line of list.split('\n')) {
      const [, id, name] = /^id=(\d+) .* name=(\S*)/.exec(line) ?? [];
      if (name === `${prefix}-pub` || name === `${prefix}-sub`) found.set(id!, name);
    }
    return found;
  }

  /** A bus on `prefix` with the ids of its two connections (no other bus may be opening there). */
  async function openWithIds(prefix: string, opts: RedisBusOptions = {}): Promise<{ bus: RedisBus; pub: string; sub: string }> {
    const before = await clients(prefix);
    const bus = await open(prefix, opts);
    const mine = [...(await clients(prefix))].filter(([id]) => !before.has(id));
    expect(mine.map(([, name]) => name).sort()).toEqual([`${prefix}-pub`, `${prefix}-sub`]);
    const idOf = (role: string) => mine.find(([, name]) => name === `${prefix}-${role}`)![0];
    return { bus, pub: idOf('pub'), sub: idOf('sub') };
  }

  const downs = (seen: BusMessage[]) => seen.flatMap((m) => (m.kind === 'node_down' ? [m.node] : []));
  const reconnects = (seen: BusMessage[]) => seen.filter((m) => m.kind === 'reconnected').length;
  const users = (seen: BusMessage[]) => seen.flatMap((m) => (m.kind === 'presence' ? [m.user] : []));

  busContract('RedisBus', async () => {
    const prefix = freshPrefix();
    const errors: Error[] = [];
    const options = { prefix, heartbeatMs: HEARTBEAT_MS, expiryMs: EXPIRY_MS, onError: (err: Error) => errors.push(err) };
    const buses: [Bus, Bus] = [await RedisBus.open(url, options), await RedisBus.open(url, options)];
    return {
      buses,
      errors,
      // A crash shows within EXPIRY_MS + HEARTBEAT_MS; the rest is slack for a loaded machine.
      nodeDownMs: EXPIRY_MS + HEARTBEAT_MS + 1000,
      kill: (bus) => (bus as RedisBus).disconnect(),
      async cleanup() {
        await Promise.all(buses.map((b) => b.close()));
        await dropKeys(prefix);
      },
    };
  });

  describe('RedisBus on Redis', () => {
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((b) => b.close()));
      await Promise.all(prefixes.splice(0).map(dropKeys));
    });

    it('its connections killed (CLIENT KILL), it reconnects by itself: reconnected, then publish and delivery work both ways', async () => {
      const prefix = freshPrefix();
      const { bus: a, pub, sub } = await openWithIds(prefix, { onError: () => {} });
      const b = await open(prefix);
      const [seenA, seenB] = [recorder(a).seen, recorder(b).seen];
      await a.join('node-a', () => ({ connections: 0 }));
      await b.join('node-b', () => ({ connections: 0 }));

      for (const id of [pub, sub]) expect(await admin.client('KILL', 'ID', id)).toBe(1);
      await waitFor('reconnected', () => reconnects(seenA) === 1);
      expect((await clients(prefix)).size).toBe(4); // a has both connections back

      await a.publish(presence('A', 'after'));
      await b.publish(presence('B', 'after'));
      await waitFor('both messages on both nodes', () => users(seenA).length === 2 && users(seenB).length === 2);
      expect(reconnects(seenA)).toBe(1); // once for both connections
      expect(reconnects(seenB)).toBe(0); // b's connections were not touched
      expect((await b.nodes()).map((n) => n.node)).toEqual(['node-a', 'node-b']);
    });

    it('emits reconnected when only one of its connections dropped', async () => {
      const prefix = freshPrefix();
      const { bus: a, pub, sub } = await openWithIds(prefix, { onError: () => {} });
      const { seen } = recorder(a);
      await admin.client('KILL', 'ID', pub);
      await waitFor('reconnected after the publisher dropped', () => reconnects(seen) === 1);
      await admin.client('KILL', 'ID', sub);
      await waitFor('reconnected after the subscriber dropped', () => reconnects(seen) === 2);
      await a.publish(presence('A', 'still here'));
      await waitFor('its own message', () => users(seen).length === 1);
    });

    it('while Redis is unreachable publish rejects at once; when it is back everything works again without help', async () => {
      const proxy = await tcpProxy(url);
      try {
        const prefix = freshPrefix();
        const errors: Error[] = [];
        const a = await open(prefix, { onError: (err) => errors.push(err) }, proxy.url);
        const b = await open(prefix);
        const [seenA, seenB] = [recorder(a).seen, recorder(b).seen];
        await a.join('node-a', () => ({ connections: 0 }));
        await b.join('node-b', () => ({ connections: 0 }));

        await proxy.down();
        await waitFor('a publish to fail', () => a.publish(presence('A', 'probe')).then(() => false, () => true));
        // Settles while Redis is still unreachable: rejected, not queued until it is back.
        await expect(a.publish(presence('A', 'lost'))).rejects.toThrow();
        await expect(a.nodes()).rejects.toThrow();
        await waitFor('an error report', () => errors.length > 0);
        // Cut off, a stops beating: b reports it down.
        await waitFor('b to report node-a down', () => downs(seenB).includes('node-a'), EXPIRY_MS + HEARTBEAT_MS + 1000);

        await proxy.up();
        await waitFor('reconnected', () => reconnects(seenA) === 1);
        await waitFor('node-a listed again', async () => (await b.nodes()).some((n) => n.node === 'node-a'));
        await a.publish(presence('A', 'back'));
        await b.publish(presence('B', 'back'));
        const backs = (seen: BusMessage[]) => users(seen).filter((u) => u === 'back').length;
        await waitFor('both messages on both nodes', () => backs(seenA) === 2 && backs(seenB) === 2);
        expect(users(seenB)).not.toContain('lost');
        expect(downs(seenA)).toEqual([]); // a never saw b stop beating
        expect(errors.every((e) => !e.message.includes('\n'))).toBe(true);
      } finally {
        await proxy.close();
      }
    });

    it('after an outage that lost the node keys (Redis restarted empty), no live node is reported down', async () => {
      const proxy = await tcpProxy(url);
      try {
        const prefix = freshPrefix();
        // Both behind the proxy; expiry long enough for both to be back within it.
        const opts = { heartbeatMs: HEARTBEAT_MS, expiryMs: 1500, onError: () => {} };
        const [a, b] = [await open(prefix, opts, proxy.url), await open(prefix, opts, proxy.url)];
        const [seenA, seenB] = [recorder(a).seen, recorder(b).seen];
        await a.join('node-a', () => ({ connections: 0 }));
        await b.join('node-b', () => ({ connections: 0 }));

        await proxy.down();
        await dropKeys(prefix);
        await proxy.up();
        await waitFor('both reconnected', () => reconnects(seenA) === 1 && reconnects(seenB) === 1);
        // Past the grace period (expiryMs after reconnecting), and a few checks more.
        const until = Date.now() + 1500 + 5 * HEARTBEAT_MS;
        await waitFor('the grace period to pass', async () => Date.now() > until && (await a.nodes()).length === 2, 5000);
        expect(downs(seenA)).toEqual([]);
        expect(downs(seenB)).toEqual([]);
        expect((await b.nodes()).map((n) => n.node)).toEqual(['node-a', 'node-b']);
      } finally {
        await proxy.close();
      }
    });

    it('a node that crashed and rejoins under its name is listed again, and reported again when it leaves', async () => {
      const prefix = freshPrefix();
      const a = await open(prefix);
      const { seen } = recorder(a);
      await a.join('node-a', () => ({ connections: 0 }));
      const b1 = await open(prefix);
      await b1.join('node-b', () => ({ connections: 1 }));
      await b1.disconnect();
      await waitFor('first node_down', () => downs(seen).length === 1);
      expect((await a.nodes()).map((n) => n.node)).toEqual(['node-a']);

      const b2 = await open(prefix);
      await b2.join('node-b', () => ({ connections: 2 }));
      expect((await a.nodes()).map((n) => [n.node, n.connections])).toEqual([
        ['node-a', 0],
        ['node-b', 2],
      ]);
      await b2.close();
      expect(await admin.exists(`${prefix}:node:node-b`)).toBe(0);
      await waitFor('second node_down', () => downs(seen).length === 2);
      expect(downs(seen)).toEqual(['node-b', 'node-b']);
    });

    it('leave() ends the membership only: the other reports node_down, the bus still carries messages and may join again', async () => {
      const prefix = freshPrefix();
      const [a, b] = [await open(prefix), await open(prefix)];
      const [seenA, seenB] = [recorder(a).seen, recorder(b).seen];
      await a.join('node-a', () => ({ connections: 0 }));
      await b.join('node-b', () => ({ connections: 0 }));
      await b.leave('node-b');
      expect(await admin.exists(`${prefix}:node:node-b`)).toBe(0);
      await waitFor('node_down node-b', () => downs(seenA).includes('node-b'), EXPIRY_MS + HEARTBEAT_MS + 1000);
      await b.publish(presence('B', 'still'));
      await waitFor('its message on both', () => users(seenA).length === 1 && users(seenB).length === 1);
      await b.join('node-b', () => ({ connections: 4 }));
      expect((await a.nodes()).map((n) => [n.node, n.connections])).toEqual([
        ['node-a', 0],
        ['node-b', 4],
      ]);
      await b.leave('node-b');
      await waitFor('node_down node-b again', () => downs(seenA).length === 2);
      expect(downs(seenB)).toEqual([]);
    });

    it('keeps a gone node in the node set for 10 expiry periods, then forgets it', async () => {
      const prefix = freshPrefix();
      const opts = { heartbeatMs: 20, expiryMs: 100 };
      const a = await open(prefix, opts);
      const { seen } = recorder(a);
      await a.join('node-a', () => ({ connections: 0 }));
      const b = await open(prefix, opts);
      await b.join('node-b', () => ({ connections: 0 }));
      await b.close();
      const t0 = Date.now();
      await waitFor('node_down', () => downs(seen).length === 1);
      expect((await admin.zrange(`${prefix}:nodes`, 0, '-1')).sort()).toEqual(['node-a', 'node-b']);
      await waitFor('node-b forgotten', async () => (await admin.zrange(`${prefix}:nodes`, 0, '-1')).length === 1, 5000);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(10 * 100 - 2 * 20);
      expect(await admin.zrange(`${prefix}:nodes`, 0, '-1')).toEqual(['node-a']);
      expect(downs(seen)).toEqual(['node-b']);
    });

    it('does not report itself, and keeps apart clusters with other prefixes', async () => {
      const [p1, p2] = [freshPrefix(), freshPrefix()];
      const a = await open(p1);
      const other = await open(p2);
      const [seenA, seenOther] = [recorder(a).seen, recorder(other).seen];
      await a.join('node-a', () => ({ connections: 0 }));
      await other.join('node-x', () => ({ connections: 0 }));
      await other.publish(presence('X', 'elsewhere'));
      await a.publish(presence('A', 'here'));
      await waitFor('own messages', () => users(seenA).length === 1 && users(seenOther).length === 1);
      expect(users(seenA)).toEqual(['here']);
      expect((await a.nodes()).map((n) => n.node)).toEqual(['node-a']);
      await other.close();
      expect(downs(seenA)).toEqual([]);
    });

    it('reports an unreadable message and a throwing handler, and goes on delivering', async () => {
      const prefix = freshPrefix();
      const errors: Error[] = [];
      const a = await open(prefix, { onError: (err) => errors.push(err) });
      a.subscribe(() => {
        throw new Error('handler bug');
      });
      const { seen } = recorder(a);
      await admin.publish(`${prefix}:bus`, 'not json');
      await a.publish(presence('A', 'fine'));
      await waitFor('the good message', () => seen.length === 1);
      expect(errors.map((e) => e.message)).toEqual([expect.stringContaining('unreadable message'), 'handler bug']);
    });

    it('open() rejects with one line naming the URL (password hidden) when Redis cannot be reached', async () => {
      const port = await freePort();
      const err = await RedisBus.open(`redis://:secret@127.0.0.1:${port}`, { connectTimeoutMs: 300 }).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(new RegExp(`^cannot reach Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}`));
      expect((err as Error).message).not.toContain('secret');
      expect((err as Error).message).not.toContain('\n');
    });

    it('close() deletes its node key and leaves no connection behind; publish afterwards rejects', async () => {
      const prefix = freshPrefix();
      const a = await open(prefix);
      await a.join('node-a', () => ({ connections: 0 }));
      expect(await admin.exists(`${prefix}:node:node-a`)).toBe(1);
      await a.close();
      expect(await admin.exists(`${prefix}:node:node-a`)).toBe(0);
      await waitFor('its connections to go', async () => (await clients(prefix)).size === 0);
      await expect(a.publish(presence('A', 'late'))).rejects.toThrow(/closed/);
    });
  });
}

/** A port nothing listens on (it just did, and was closed). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A TCP proxy to Redis that can be cut (down: connections dropped, new ones refused) and restored. */
async function tcpProxy(redisUrl: string): Promise<{ url: string; down(): Promise<void>; up(): Promise<void>; close(): Promise<void> }> {
  const target = new URL(redisUrl);
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 6379), target.hostname);
    track(client);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  const listen = (port: number) => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  await listen(0);
  const { port } = server.address() as AddressInfo;
  const proxyUrl = new URL(redisUrl);
  proxyUrl.hostname = '127.0.0.1';
  proxyUrl.port = String(port);
  const down = async () => {
    if (!server.listening) return;
    const closed = new Promise((resolve) => server.close(resolve));
    for (const s of sockets) s.destroy();
    await closed;
  };
  return { url: proxyUrl.toString(), down, up: () => listen(port), close: down };
}
