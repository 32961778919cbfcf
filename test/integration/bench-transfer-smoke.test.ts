// Smoke test of the transfer benchmark: `node bench/transfer.mjs --smoke` (a 4 MiB file, one run
// of chat send-file → chat accept over loopback against a real TLS `chat serve`, plus socat when
// installed) runs end to end against the built CLI, exits 0 and writes a sane JSON result where
// told. A correctness check of the harness only: no figure is asserted, so a busy machine cannot
// fail it. Needs `npm run build` first.
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

interface Run {
  tool: string;
  scenario: string;
  ok: boolean;
  bytes: number;
  seconds: number;
  mbps: number;
  checksum?: string;
  path?: string;
  encrypted?: boolean;
  peakRssKb: { sender: number | null; receiver: number | null };
}

it('bench/transfer.mjs --smoke moves the file intact and writes its JSON where told', async () => {
  const out = await mkdtemp(path.join(os.tmpdir(), 'bench-transfer-smoke-'));
  cleanup.push(() => rm(out, { recursive: true, force: true }));

  const { code, stdout, stderr } = await runBench('transfer.mjs', ['--smoke', '--out', out], TIMEOUT_MS);

  expect(code, `stdout:\n${stdout}\nstderr:\n${stderr}`).toBe(0);
  const files = await readdir(out);
  expect(files).toHaveLength(1);
  expect(files[0]).toMatch(/^transfer-\d{4}-\d{2}-\d{2}\.json$/);
  const report = JSON.parse(await readFile(path.join(out, files[0]!), 'utf8'));
  expect(report.mode).toBe('smoke');
  expect(report.failures).toBe(0);
  expect(report.machine.cores).toBeGreaterThan(0);
  expect(typeof report.machine.cpu).toBe('string');
  const size = report.config.bytes as number;
  expect(size).toBe(4 * 1024 * 1024);

  const all = report.runs as Run[];
  for (const r of all) expect(r.ok, JSON.stringify(r)).toBe(true);
  const runs = all.filter((r) => r.scenario === 'main');
  const ours = runs.filter((r) => r.tool === 'ours');
  expect(ours).toHaveLength(1);
  // socat runs when installed; nothing else in --smoke.
  for (const r of runs) expect(['ours', 'socat']).toContain(r.tool);
  if (report.tools.socat) expect(runs.filter((r) => r.tool === 'socat')).toHaveLength(1);
  else expect(report.notRun.socat).toBeTruthy();

  for (const r of runs) {
    expect(r.bytes).toBe(size);
    expect(r.checksum).toBe('sha256 match');
    expect(r.seconds).toBeGreaterThan(0);
    expect(r.mbps).toBeGreaterThan(0);
    expect(Math.abs((r.mbps * r.seconds * 1e6) / size - 1)).toBeLessThan(0.02); // MB/s = bytes / 10^6 / s
  }
  expect(ours[0]!.encrypted).toBe(true);
  expect(['direct', 'reverse', 'relay']).toContain(ours[0]!.path);

  // The many-files pair: 200 files of 10 KiB, the tree compared file by file after each run.
  const tree = all.filter((r) => r.scenario === 'files');
  expect(tree.filter((r) => r.tool === 'ours')).toHaveLength(1);
  if (report.tools.socat && report.tools.tar) expect(tree.filter((r) => r.tool === 'tar+socat')).toHaveLength(1);
  for (const r of tree) expect(r).toMatchObject({ bytes: 200 * 10 * 1024, checksum: 'sha256 match' });
  expect(report.config.files).toMatchObject({ count: 200, bytes: 10 * 1024, pairs: 1, writtenTo: expect.stringMatching(/^--smoke: a plain directory/) });
  expect(stdout).toContain('raw results:');
}, 60_000);
