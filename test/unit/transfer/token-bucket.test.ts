import { describe, expect, it } from 'vitest';
import { TokenBucket, rateBucket } from '../../../src/transfer/token-bucket.js';

function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('TokenBucket', () => {
  it('lets a full burst through without waiting', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(1000, 500, clock.now);
    expect(bucket.take(500)).toBe(0);
  });

  it('asks the caller to wait off a debt at the configured rate', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(1000, 500, clock.now);
    bucket.take(500);
    expect(bucket.take(250)).toBe(250);
    clock.advance(250);
    expect(bucket.tokens).toBe(0);
  });

  it('refills with elapsed time, capped at the burst', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(1000, 500, clock.now);
    bucket.take(500);
    clock.advance(100);
    expect(bucket.tokens).toBe(100);
    clock.advance(10_000);
    expect(bucket.tokens).toBe(500);
  });

  it('averages to the rate over many chunks', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(1_000_000, 100_000, clock.now);
    let sent = 0;
    for (let i = 0; i < 100; i++) {
      clock.advance(bucket.take(64_000));
      sent += 64_000;
    }
    const elapsedMs = clock.now() - 1000;
    expect(sent / (elapsedMs / 1000)).toBeGreaterThan(1_000_000);
    expect(sent / (elapsedMs / 1000)).toBeLessThan(1_020_000);
  });

  it('ignores a clock that goes backwards', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(1000, 500, clock.now);
    bucket.take(500);
    clock.advance(-100);
    expect(bucket.tokens).toBe(0);
  });

  it('rejects a non-positive rate', () => {
    expect(() => new TokenBucket(0, 1)).toThrow(RangeError);
  });

  it('is absent when unlimited', () => {
    expect(rateBucket(0, 1024)).toBeUndefined();
    expect(rateBucket(undefined, 1024)).toBeUndefined();
    expect(rateBucket(1_000_000, 1024)?.burst).toBe(100_000);
  });
});
