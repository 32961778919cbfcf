// AttemptLimiter: attempts count when they arrive; past the limit a key backs off (doubling),
// never a fixed lockout; a success forgets the key's failures.
import { describe, expect, it } from 'vitest';
import { AttemptLimiter } from '../../../src/server/throttle.js';

const limits = { maxFailures: 3, windowMs: 60_000, backoffMs: 1000 };

describe('AttemptLimiter', () => {
  it('counts attempts in flight against the limit, so parallel attempts are refused before any fails', () => {
    const l = new AttemptLimiter(limits);
    for (let i = 0; i < 3; i++) {
      expect(l.waitFor('k', 0)).toBe(0);
      l.begin('k', 0);
    }
    expect(l.waitFor('k', 0)).toBeGreaterThan(0);
  });

  it('backs off exponentially past the limit, up to the window', () => {
    const l = new AttemptLimiter(limits);
    let now = 0;
    for (let i = 0; i < 3; i++) {
      l.begin('k', now);
      l.fail('k', now);
    }
    expect(l.waitFor('k', now)).toBe(1000);
    const waits: number[] = [];
    for (let i = 0; i < 8; i++) {
      now += l.waitFor('k', now);
      l.begin('k', now);
      expect(l.waitFor('k', now)).toBeGreaterThan(0); // one probe at a time
      l.fail('k', now);
      waits.push(l.waitFor('k', now));
    }
    expect(waits).toEqual([2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
  });

  it('forgets failures after a success, and after the window', () => {
    const l = new AttemptLimiter(limits);
    for (let i = 0; i < 2; i++) {
      l.begin('k', 0);
      l.fail('k', 0);
    }
    l.begin('k', 0);
    l.succeed('k');
    expect(l.failures('k', 0)).toBe(0);
    l.begin('j', 0);
    l.fail('j', 0);
    expect(l.failures('j', 0)).toBe(1);
    expect(l.failures('j', 60_001)).toBe(0);
  });

  it('stops counting a released attempt', () => {
    const l = new AttemptLimiter(limits);
    for (let i = 0; i < 3; i++) l.begin('k', 0);
    l.release('k');
    expect(l.waitFor('k', 0)).toBe(0);
  });
});
