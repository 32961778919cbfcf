// The relay benchmark's helpers that are not exercised by its smoke run: how clients are split
// over generator processes, and the flame graph renderer.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { shards } from '../../../bench/relay/generators.mjs';

describe('shards (bench/relay/generators.mjs)', () => {
  it('splits the clients into contiguous ranges of whole pairs that cover every client once', () => {
    for (const [clients, k] of [[20, 2], [10_000, 2], [1000, 3], [6, 8], [2, 2]] as const) {
      const ranges = shards(clients, k) as [number, number][];
      expect(ranges.length).toBe(Math.min(k, clients / 2));
      expect(ranges[0]![0]).toBe(0);
      expect(ranges.at(-1)![1]).toBe(clients);
      for (const [i, [from, to]] of ranges.entries()) {
        expect(from % 2).toBe(0);
        expect(to % 2).toBe(0);
        expect(to).toBeGreaterThan(from);
        if (i > 0) expect(from).toBe(ranges[i - 1]![1]);
      }
    }
  });
});

describe('bench/relay/flamegraph.mjs', () => {
  let dir: string | undefined;
  afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('draws a box per function on the sampled stacks, sized by samples, and leaves idle out', () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'flame-'));
    const frame = (id: number, functionName: string, url: string, children: number[] = []) => ({
      id, callFrame: { functionName, scriptId: '0', url, lineNumber: 9, columnNumber: 0 }, children,
    });
    const profile = {
      nodes: [
        frame(1, '(root)', '', [2, 4]),
        frame(2, 'deliver', 'file:///x/dist/server/server.js', [3]),
        frame(3, 'writeBuffer', ''),
        frame(4, '(idle)', ''),
      ],
      startTime: 0,
      endTime: 4000,
      samples: [3, 3, 2, 4],
      timeDeltas: [1000, 1000, 1000, 1000],
    };
    const input = path.join(dir, 'p.cpuprofile');
    const output = path.join(dir, 'p.svg');
    writeFileSync(input, JSON.stringify(profile));
    execFileSync(process.execPath, ['bench/relay/flamegraph.mjs', input, output, '--title', 'T & t'], { stdio: 'pipe' });
    const svg = readFileSync(output, 'utf8');
    expect(svg).toContain('T &amp; t: 4 samples, idle 25.0 %');
    expect(svg).toContain('<title>deliver dist/server/server.js:10: 3 samples, 75.0 % of all</title>');
    expect(svg).toContain('<title>writeBuffer: 2 samples, 50.0 % of all</title>');
    expect(svg).not.toContain('<title>(idle)');
  });
});
