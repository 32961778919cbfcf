// Relay tickets (protocol.md §4.8): bound to a transfer id and the offer's two users, alive
// relayTicketMs after their last use (and while a pair of them is open), bounded per sender and in total.
import { describe, expect, it } from 'vitest';
import { TicketBook } from '../../../src/server/relay-tickets.js';

const T0 = 1_000_000;

function book(limits: Partial<ConstructorParameters<typeof TicketBook>[0]> = {}): TicketBook {
  return new TicketBook({ ttlMs: 1000, maxTickets: 100, perUser: 10, ...limits });
}

describe('TicketBook', () => {
  it('binds a transfer id to its pair: another pair is refused, the same pair refreshes it', () => {
    const b = book();
    b.allow('t1', 'tok', 'alice', 'bob', T0);
    expect(() => b.allow('t1', 'evil', 'mallory', 'mallory', T0)).toThrow(expect.objectContaining({ code: 'forbidden' }));
    expect(() => b.allow('t1', 'evil', 'bob', 'alice', T0)).toThrow(expect.objectContaining({ code: 'forbidden' }));
    expect(b.mayUse('t1', 'mallory', 'bob', T0)).toBe(false);
    expect(b.mayUse('t1', 'alice', 'bob', T0)).toBe(true);
    expect(b.get('t1', T0)?.token).toBe('tok');

    b.get('t1', T0)!.pairings = 3;
    const again = b.allow('t1', 'tok2', 'alice', 'bob', T0 + 10);
    expect(again).toMatchObject({ token: 'tok2', pairings: 0, expiresAt: T0 + 1010 });
    expect(b.size).toBe(1);
  });

  it('expires ttlMs after its last use, unless a pair of it is open; then the id is free', () => {
    const b = book();
    const t = b.allow('t1', 'tok', 'alice', 'bob', T0);
    b.touch(t, T0 + 500);
    expect(b.get('t1', T0 + 1499)).toBe(t);
    expect(b.get('t1', T0 + 1500)).toBeUndefined();
    t.active = 1;
    expect(b.get('t1', T0 + 5000)).toBe(t);
    b.prune(T0 + 5000);
    expect(b.size).toBe(1);
    t.active = 0;
    b.prune(T0 + 5999);
    expect(b.size).toBe(1); // prune kept it alive while it was open
    b.prune(T0 + 6000);
    expect(b.size).toBe(0);
    expect(b.allow('t1', 'x', 'mallory', 'mallory', T0 + 6001)).toMatchObject({ from: 'mallory' });
  });

  it('prunes only expired tickets, from the front, and never loops (ttl 0, an open pair)', () => {
    const b = book({ ttlMs: 0 });
    const t = b.allow('t1', 'tok', 'alice', 'bob', T0);
    t.active = 1;
    b.allow('t2', 'tok', 'alice', 'bob', T0 + 1);
    b.prune(T0 + 1);
    expect(b.size).toBe(2); // t1 open: kept alive; t2 new
    t.active = 0;
    b.prune(T0 + 5);
    expect(b.size).toBe(0);
  });

  it('a sender at its cap loses its oldest unused ticket; the table as a whole is bounded', () => {
    const b = book({ perUser: 2, maxTickets: 3 });
    const first = b.allow('a1', 'tok', 'alice', 'bob', T0);
    first.active = 1; // in use: kept
    b.allow('a2', 'tok', 'alice', 'bob', T0);
    b.allow('a3', 'tok', 'alice', 'bob', T0);
    expect([b.get('a1', T0), b.get('a2', T0), b.get('a3', T0)].map(Boolean)).toEqual([true, false, true]);
    b.allow('b1', 'tok', 'bob', 'alice', T0);
    expect(() => b.allow('c1', 'tok', 'carol', 'alice', T0)).toThrow(expect.objectContaining({ code: 'overloaded' }));
  });
});
