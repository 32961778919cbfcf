import { describe, expect, it } from 'vitest';
import { Presence } from '../../../src/server/presence.js';

describe('Presence (who is online, across nodes)', () => {
  it('reports a change only when the user goes from no node to some node, and back', () => {
    const p = new Presence();
    expect(p.apply('n1', 'alice', true)).toBe(true);
    expect(p.apply('n2', 'alice', true)).toBe(false); // already online elsewhere
    expect(p.apply('n1', 'alice', true)).toBe(false); // repeated
    expect(p.apply('n1', 'alice', false)).toBe(false); // still on n2
    expect(p.isOnline('alice')).toBe(true);
    expect(p.apply('n2', 'alice', false)).toBe(true);
    expect(p.isOnline('alice')).toBe(false);
    expect(p.apply('n2', 'alice', false)).toBe(false); // already offline
  });

  it('lists online users sorted', () => {
    const p = new Presence();
    for (const u of ['carol', 'alice', 'bob']) p.apply('n1', u, true);
    p.apply('n1', 'bob', false);
    expect(p.online()).toEqual(['alice', 'carol']);
    expect(p.isOnline('nobody')).toBe(false);
  });
});
