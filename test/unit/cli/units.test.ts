import { describe, expect, it } from 'vitest';
import { withObserved } from '../../../src/transfer/offer.js';
import { CliError } from '../../../src/cli/context.js';
import { fileSummary } from '../../../src/cli/transfer-view.js';
import { formatDuration, parseDuration, parseRate } from '../../../src/cli/units.js';

describe('command-line units', () => {
  it('parses durations; a bare number is seconds', () => {
    expect(parseDuration('10m', '--timeout')).toBe(600_000);
    expect(parseDuration('90s', '--timeout')).toBe(90_000);
    expect(parseDuration('1h', '--timeout')).toBe(3_600_000);
    expect(parseDuration('250ms', '--timeout')).toBe(250);
    expect(parseDuration('5', '--timeout')).toBe(5000);
    expect(parseDuration('90d', '--session-idle')).toBe(90 * 86_400_000);
    for (const bad of ['', 'soon', '-1m', '0', '1w']) expect(() => parseDuration(bad, '--timeout')).toThrow(CliError);
  });

  it('parses rates in bytes per second with binary suffixes', () => {
    expect(parseRate('0', '--limit-rate')).toBe(0);
    expect(parseRate('500K', '--limit-rate')).toBe(512_000);
    expect(parseRate('10M', '--limit-rate')).toBe(10 * 1024 * 1024);
    expect(parseRate('1.5MB/s', '--limit-rate')).toBe(1.5 * 1024 * 1024);
    expect(parseRate('2g', '--limit-rate')).toBe(2 * 1024 ** 3);
    expect(() => parseRate('fast', '--limit-rate')).toThrow('bad --limit-rate "fast"');
  });

  it('formats durations for people', () => {
    expect(formatDuration(600_000)).toBe('10m');
    expect(formatDuration(90_000)).toBe('1m30s');
    expect(formatDuration(1000)).toBe('1s');
    expect(formatDuration(3_720_000)).toBe('1h2m');
  });
});

describe('transfer output', () => {
  it('summarizes a file with size, time, rate, sha256 and where it resumed', () => {
    const line = fileSummary({ index: 0, path: 'a\u001b[31m.bin', savedAs: '/x/a.bin', size: 2 * 1024 * 1024, sha256: 'ab'.repeat(32), resumedFrom: 1024 * 1024, elapsedMs: 1000 });
    // The name was cleaned on the receiver: it says where the file went.
    expect(line).toBe(`a\\x1b[31m.bin  2.0 MiB  1.0s  1.0 MiB/s  sha256 ${'ab'.repeat(32)}  resumed from 1.0 MiB  saved as /x/a.bin`);
    const same = fileSummary({ index: 0, path: 'dir/b.bin', savedAs: '/x/dir/b.bin', size: 1, sha256: 'cd'.repeat(32), resumedFrom: 0, elapsedMs: 1000 });
    expect(same).not.toContain('saved as');
  });

  it('adds the address the server observed for the sender on each offered port', () => {
    const offered = [{ host: '10.0.0.2', port: 4000 }];
    expect(withObserved(offered, '203.0.113.9')).toEqual([...offered, { host: '203.0.113.9', port: 4000 }]);
    expect(withObserved(offered, '10.0.0.2')).toEqual(offered);
    expect(withObserved(offered, '')).toEqual(offered);
  });
});
