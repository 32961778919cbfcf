// Smoke test of the start-up benchmark: `node bench/startup.mjs --smoke` (3 runs of each command:
// node -e 0, chat --help, chat whoami and chat send against a real TLS `chat serve` it starts)
// runs end to end against the built CLI, exits 0 and writes its JSON where told with a figure for
// every command. A correctness check of the harness only: no timing is asserted, so a busy
// machine cannot fail it. Needs `npm run build` first.
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { killBenches, runBench } from '../helpers/bench.js';

const TIMEOUT_MS = 50_000;

const cleanup: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  killBenches();
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

interface Result {
  name: string;
  anchor: boolean;
  runs: number;
  medianMs: number;
  p90Ms: number;
  ratioToNode: number;
  samplesMs: number[];
}

it('bench/startup.mjs --smoke times every command and writes its JSON where told', async () => {
  const out = await mkdtemp(path.join(os.tmpdir(), 'bench-startup-smoke-'));
  cleanup.push(() => rm(out, { recursive: true, force: true }));

  const { code, stdout, stderr } = await runBench('startup.mjs', ['--smoke', '--out', out], TIMEOUT_MS);

  expect(code, `stdout:\n${stdout}\nstderr:\n${stderr}`).toBe(0);
  const files = await readdir(out);
  expect(files).toHaveLength(1);
  expect(files[0]).toMatch(/^startup-\d{4}-\d{2}-\d{2}\.json$/);
  const report = JSON.parse(await readFile(path.join(out, files[0]!), 'utf8'));
  expect(report.mode).toBe('smoke');
  expect(report.runs).toBe(3);
  expect(report.machine.cores).toBeGreaterThan(0);

  const results = report.results as Result[];
  expect(results[0]!.name).toBe('node -e 0');
  for (const name of ['node -e 0', 'chat --help', 'chat whoami', 'chat send bob <text>']) {
    const r = results.find((x) => x.name === name);
    expect(r, name).toBeDefined();
    expect(r!.runs).toBe(3);
    expect(r!.samplesMs).toHaveLength(3);
    for (const ms of r!.samplesMs) expect(ms).toBeGreaterThan(0);
    expect(r!.medianMs).toBeGreaterThan(0);
    expect(r!.p90Ms).toBeGreaterThanOrEqual(r!.medianMs);
    expect(r!.ratioToNode).toBeGreaterThan(0);
  }
  expect(typeof report.targets.helpMedianMs.met).toBe('boolean');
  expect(stdout).toMatch(/chat --help median [\d.]+ ms/);
}, 60_000);
