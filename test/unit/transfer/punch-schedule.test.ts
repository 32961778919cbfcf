// The punch retry schedule (protocol.md §T8 "punch"): pure arithmetic, checked against the numbers
// the document states, so a third party's implementation can be compared with this table.
import { describe, expect, it } from 'vitest';
import { PUNCH_RETRY, punchRetryDelayMs } from '../../../src/transfer/punch.js';

/** The upper end of the wait after `resets` refused connects (random → 1). */
const range = (resets: number): number => punchRetryDelayMs(resets, 1);

describe('punch retry schedule', () => {
  it('waits below 1 ms after each of the first 256 resets', () => {
    for (let n = 1; n <= 256; n++) expect(range(n)).toBe(1);
  });

  it('then starts at 2 ms and doubles every 32 resets up to 256 ms', () => {
    const table: [number, number][] = [
      [257, 2],
      [288, 2],
      [289, 4],
      [321, 8],
      [353, 16],
      [385, 32],
      [417, 64],
      [449, 128],
      [481, 256],
      [512, 256],
      [10_000, 256],
    ];
    for (const [n, ms] of table) expect(range(n), `after ${n} resets`).toBe(ms);
  });

  it('draws each wait uniformly inside the range', () => {
    expect(punchRetryDelayMs(1, 0)).toBe(0);
    expect(punchRetryDelayMs(260, 0.5)).toBe(1);
    expect(punchRetryDelayMs(481, 0.25)).toBe(64);
  });

  it('bounds a meeting to 512 connects', () => {
    expect(PUNCH_RETRY.maxAttempts).toBe(512);
    // The longest a full schedule could wait in all (every draw at its maximum), in ms.
    let total = 0;
    for (let n = 1; n < PUNCH_RETRY.maxAttempts; n++) total += range(n);
    expect(total).toBe(256 + 32 * (2 + 4 + 8 + 16 + 32 + 64 + 128) + 31 * 256);
  });
});
