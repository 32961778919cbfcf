// Smoke run of the abuse soak (`npm run soak:abuse`: every attack at once for 30 s while a normal
// user is served): 3 s here, checking that the server survives and answers every probe of the
// normal user, and that each attack met its limit. No latency is asserted (a busy machine would
// fail it); the full run reports it. Needs `npm run build` first.
import { expect, it } from 'vitest';
import { killBenches, runBench } from '../helpers/bench.js';

it('bench/abuse-soak.mjs: under every attack at once the server stays up and serves a normal user', async () => {
  const { code, stdout, stderr } = await runBench('abuse-soak.mjs', ['--seconds', '3', '--baseline-seconds', '1', '--max-latency-ms', '1000000', '--json'], 60_000);
  killBenches();
  expect(code, `stdout:\n${stdout}\nstderr:\n${stderr}`).toBe(0);
  const report = JSON.parse(stdout.trim().split('\n').at(-1)!);
  expect(report).toMatchObject({ serverAlive: true, probeFailureCount: 0, ok: true });
  expect(report.probes).toBeGreaterThan(0);
  expect(report.attacks['login guesses at alice'].rate_limited).toBeGreaterThan(0);
  expect(report.attacks['offer metadata flood'].ok).toBeGreaterThan(0);
}, 90_000);
