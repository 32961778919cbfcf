import { describe, expect, it } from 'vitest';
import type { BusMessage } from '../../../src/bus/bus.js';
import { LocalBus } from '../../../src/bus/local.js';

const presence = (user: string, online = true): BusMessage => ({ kind: 'presence', node: 'n1', user, online, at: 1 });

describe('LocalBus', () => {
  it('delivers every published message to every subscriber, in order, the publisher included', async () => {
    const bus = new LocalBus();
    const a: BusMessage[] = [];
    const b: BusMessage[] = [];
    bus.subscribe((m) => a.push(m));
    bus.subscribe((m) => b.push(m));
    const deliver: BusMessage = { kind: 'deliver', users: ['bob'], event: { type: 'event', event: 'shutdown', data: { reason: 'x' } } };
    await bus.publish(presence('alice'));
    await bus.publish(deliver);
    expect(a).toEqual([presence('alice'), deliver]);
    expect(b).toEqual(a);
  });

  it('has delivered by the time publish resolves', async () => {
    const bus = new LocalBus();
    const seen: string[] = [];
    bus.subscribe((m) => m.kind === 'presence' && seen.push(m.user));
    await bus.publish(presence('alice'));
    expect(seen).toEqual(['alice']);
  });

  it('unsubscribe stops delivery to that handler only', async () => {
    const bus = new LocalBus();
    const a: string[] = [];
    const b: string[] = [];
    const offA = bus.subscribe((m) => m.kind === 'presence' && a.push(m.user));
    bus.subscribe((m) => m.kind === 'presence' && b.push(m.user));
    await bus.publish(presence('one'));
    offA();
    await bus.publish(presence('two'));
    expect(a).toEqual(['one']);
    expect(b).toEqual(['one', 'two']);
  });

  it('a handler may unsubscribe itself or add another while a message is being delivered', async () => {
    const bus = new LocalBus();
    const seen: string[] = [];
    const off = bus.subscribe((m) => {
      seen.push(`self:${(m as { user: string }).user}`);
      off();
      bus.subscribe((m2) => seen.push(`late:${(m2 as { user: string }).user}`));
    });
    bus.subscribe((m) => seen.push(`other:${(m as { user: string }).user}`));
    await bus.publish(presence('x'));
    await bus.publish(presence('y'));
    expect(seen).toEqual(['self:x', 'other:x', 'other:y', 'late:y']);
  });

  it('close drops all subscribers', async () => {
    const bus = new LocalBus();
    const seen: BusMessage[] = [];
    bus.subscribe((m) => seen.push(m));
    await bus.close();
    await bus.publish(presence('alice'));
    expect(seen).toEqual([]);
  });
});
