// The Bus contract: every backend (LocalBus, RedisBus) must pass this suite. Call busContract()
// from a *.test.ts file with a factory that makes two buses sharing one backend, as two server
// nodes would (for LocalBus, one instance can play both). Nothing here sleeps to synchronize:
// tests wait for events, with a deadline (waitFor).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Bus, BusMessage } from '../../src/bus/bus.js';

export interface BusFixture {
  /** Two buses on one backend, as seen by two nodes. */
  buses: [Bus, Bus];
  /** What the buses reported to their onError. */
  errors: Error[];
  /** How long a backend may take to report a node that left or died (ms). */
  nodeDownMs: number;
  /** Ends `node`'s membership cleanly (default: bus.close()). */
  leave?(bus: Bus, node: string): Promise<void>;
  /** Stops `bus` as a crash would: no goodbye, its heartbeat just stops. Backends with heartbeats only. */
  kill?(bus: Bus): Promise<void>;
  cleanup(): Promise<void>;
}

/** Polls `predicate` until it holds; fails after `ms` with `what`. */
export async function waitFor(what: string, predicate: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A subscriber that records what it gets. */
export function recorder(bus: Bus): { seen: BusMessage[]; off: () => void } {
  const seen: BusMessage[] = [];
  return { seen, off: bus.subscribe((m) => seen.push(m)) };
}

export const presence = (node: string, user: string, at = 1): BusMessage => ({ kind: 'presence', node, user, online: true, at });

const downs = (seen: BusMessage[]) => seen.flatMap((m) => (m.kind === 'node_down' ? [m.node] : []));

export function busContract(name: string, open: () => Promise<BusFixture>): void {
  describe(`Bus contract: ${name}`, () => {
    let fx: BusFixture;
    let a: Bus;
    let b: Bus;

    beforeEach(async () => {
      fx = await open();
      [a, b] = fx.buses;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    const leave = (bus: Bus, node: string) => (fx.leave ? fx.leave(bus, node) : bus.close());

    /** Waits until `node` has sent at least `n` more heartbeats, as `bus` sees them. */
    async function beats(bus: Bus, node: string, n: number): Promise<void> {
      const seenAt = async () => (await bus.nodes()).find((i) => i.node === node)?.seenAt ?? 0;
      for (let i = 0; i < n; i++) {
        const last = await seenAt();
        await waitFor(`a heartbeat of ${node}`, async () => (await seenAt()) > last);
      }
    }

    it('delivers every message to every subscriber of both nodes, the publisher included, in order per publisher', async () => {
      const subs = [recorder(a), recorder(a), recorder(b)];
      const N = 600; // more than one PUBLISH of RedisBus carries
      await Promise.all([
        ...Array.from({ length: N }, (_, i) => a.publish(presence('A', `u${i}`, i))),
        ...Array.from({ length: N }, (_, i) => b.publish(presence('B', `u${i}`, i))),
      ]);
      for (const { seen } of subs) {
        await waitFor(`${2 * N} messages`, () => seen.length >= 2 * N);
        expect(seen).toHaveLength(2 * N);
        for (const node of ['A', 'B']) {
          const ats = seen.flatMap((m) => (m.kind === 'presence' && m.node === node ? [m.at] : []));
          expect(ats).toEqual(Array.from({ length: N }, (_, i) => i));
        }
      }
    });

    it('publishes every message kind a node sends unchanged', async () => {
      const { seen } = recorder(b);
      const sent: BusMessage[] = [
        { kind: 'deliver', users: ['bob', 'carol'], event: { type: 'event', event: 'shutdown', data: { reason: 'bye' } }, exceptConnection: 'c1' },
        {
          kind: 'deliver', users: ['bob'], event: { type: 'event', event: 'message', data: { id: 7, from: 'al', to: 'bob', text: 'hi', at: 1 } },
          order: { conversation: 'al bob', prev: 5 },
        },
        presence('n1', 'alice'),
        { kind: 'offer_end', node: 'n1', offer: 'o1' },
        { kind: 'offer_action', node: 'n2', owner: 'n1', offer: 'o1', action: 'reject', by: 'bob', reason: 'no' },
        { kind: 'sync', node: 'n2' },
        { kind: 'sessions_revoked', node: 'n2', user: 'alice', reason: 'disabled' },
      ];
      for (const m of sent) await a.publish(m);
      await waitFor('all kinds', () => seen.length >= sent.length);
      expect(seen).toEqual(sent);
    });

    it('a handler that throws is reported and keeps the message from no other handler, nor fails the publish', async () => {
      const before = recorder(a);
      a.subscribe(() => {
        throw new Error('handler bug');
      });
      const after = recorder(a);
      await b.publish(presence('B', 'first'));
      await b.publish(presence('B', 'second'));
      await waitFor('both messages past the throwing handler', () => before.seen.length === 2 && after.seen.length === 2);
      await waitFor('the errors reported', () => fx.errors.filter((e) => e.message === 'handler bug').length === 2);
    });

    it('unsubscribe stops delivery to that handler only', async () => {
      const one = recorder(a);
      const two = recorder(a);
      await b.publish(presence('B', 'first'));
      await waitFor('first', () => one.seen.length === 1 && two.seen.length === 1);
      one.off();
      await b.publish(presence('B', 'second'));
      await b.publish(presence('B', 'marker'));
      // Both handlers hang off the same node, which delivers in order: once two has the marker,
      // one would have had 'second' if it were still subscribed.
      await waitFor('marker', () => two.seen.length === 3);
      expect(one.seen).toEqual([presence('B', 'first')]);
      expect(two.seen.map((m) => (m as { user: string }).user)).toEqual(['first', 'second', 'marker']);
    });

    it('round-trips unicode and a 200 kB event intact', async () => {
      const { seen } = recorder(b);
      const text = 'héllo 🌍 \u{1F600} עברית 中文 e\u0301 "quoted" \\ back\nnewline \u0000nul \u2028\u2029';
      const big = 'x🌍y'.repeat(50_000); // ≈ 300 kB of UTF-8
      const messages: BusMessage[] = [
        { kind: 'deliver', users: ['ünï', '名前'], event: { type: 'event', event: 'shutdown', data: { reason: text } } },
        { kind: 'deliver', users: ['bob'], event: { type: 'event', event: 'shutdown', data: { reason: big } } },
      ];
      for (const m of messages) await a.publish(m);
      await waitFor('both messages', () => seen.length >= 2);
      expect(seen).toEqual(messages);
    });

    it('nodes() lists the joined nodes by name with their connection counts, as both see them', async () => {
      let bConnections = 5;
      await b.join('node-b', () => ({ connections: bConnections }));
      await a.join('node-a', () => ({ connections: 3 }));
      for (const bus of [a, b]) {
        const list = await bus.nodes();
        expect(list.map((n) => [n.node, n.connections])).toEqual([
          ['node-a', 3],
          ['node-b', 5],
        ]);
        for (const n of list) {
          expect(n.startedAt).toBeGreaterThan(0);
          expect(n.seenAt).toBeGreaterThanOrEqual(n.startedAt);
        }
      }
      bConnections = 8;
      await waitFor('the new count', async () => (await a.nodes()).find((n) => n.node === 'node-b')?.connections === 8);
    });

    it('two live nodes never report each other down', async () => {
      const seenA = recorder(a).seen;
      const seenB = recorder(b).seen;
      await a.join('node-a', () => ({ connections: 0 }));
      await b.join('node-b', () => ({ connections: 0 }));
      await beats(a, 'node-b', 5);
      await beats(b, 'node-a', 1);
      expect(downs(seenA)).toEqual([]);
      expect(downs(seenB)).toEqual([]);
    });

    for (const order of ['before', 'after'] as const) {
      it(`reports a node that joined ${order} it and left as node_down, once, and stops listing it`, async () => {
        const { seen } = recorder(a);
        if (order === 'before') await b.join('node-b', () => ({ connections: 1 }));
        await a.join('node-a', () => ({ connections: 0 }));
        if (order === 'after') await b.join('node-b', () => ({ connections: 1 }));
        expect((await a.nodes()).map((n) => n.node)).toEqual(['node-a', 'node-b']);
        const t0 = Date.now();
        await leave(b, 'node-b');
        await waitFor('node_down node-b', () => downs(seen).includes('node-b'), fx.nodeDownMs);
        const took = Date.now() - t0;
        expect((await a.nodes()).map((n) => n.node)).toEqual(['node-a']);
        await beats(a, 'node-a', 2); // a few more checks, which must not report it again
        expect(downs(seen)).toEqual(['node-b']);
        expect(took).toBeLessThanOrEqual(fx.nodeDownMs);
      });
    }

    it('reports a node that died without a goodbye (its heartbeat stopped) as node_down', async (ctx) => {
      if (!fx.kill) return ctx.skip();
      const { seen } = recorder(a);
      await b.join('node-b', () => ({ connections: 1 }));
      await a.join('node-a', () => ({ connections: 0 }));
      const t0 = Date.now();
      await fx.kill(b);
      await waitFor('node_down node-b', () => downs(seen).includes('node-b'), fx.nodeDownMs);
      const took = Date.now() - t0;
      expect((await a.nodes()).map((n) => n.node)).toEqual(['node-a']);
      expect(downs(seen)).toEqual(['node-b']);
      expect(took).toBeLessThanOrEqual(fx.nodeDownMs);
    });

    it('close() is idempotent', async () => {
      await a.close();
      await expect(a.close()).resolves.toBeUndefined();
    });
  });
}
