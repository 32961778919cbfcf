// Smoke test of the relay load benchmark: `node bench/relay.mjs --smoke --floor` (20 clients on
// 127.0.0.1, 1 s steps, no ngircd; ours, then the Node floor) runs end to end against the built server, exits 0, delivers
// messages and loses none. A correctness check of the harness only: no figure is asserted,
// so a busy machine cannot fail it. Needs `npm run build` first.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { killBenches, runBench } from '../helpers/bench.js';

const TIMEOUT_MS = 45_000;

const cleanup: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  killBenches();
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

it('bench/relay.mjs --smoke --floor delivers every accepted message, also through the Node floor, and writes its JSON where told', async () => {
  const out = await mkdtemp(path.join(os.tmpdir(), 'bench-smoke-'));
  cleanup.push(() => rm(out, { recursive: true, force: true }));

  const { code, stdout, stderr } = await runBench('relay.mjs', ['--smoke', '--floor', '--out', out], TIMEOUT_MS);

  expect(code, `stdout:\n${stdout}\nstderr:\n${stderr}`).toBe(0);
  const files = await readdir(out);
  expect(files).toHaveLength(1);
  const report = JSON.parse(await readFile(path.join(out, files[0]!), 'utf8'));
  expect(report.runs).toHaveLength(1);
  const [run] = report.runs;
  expect(run.ngircd).toBeNull();
  expect(run.inspircd).toBeNull();
  for (const target of [run.ours, run.floorMemory, run.floorSqlite]) {
    expect(target.login.ok).toBe(run.clients);
    expect(target.steps.length).toBeGreaterThan(0);
    for (const step of target.steps) {
      expect(step.delivered).toBeGreaterThan(0);
      expect(step.lost).toBe(0);
      expect(step.unanswered).toBe(0);
      expect(step.duplicates).toBe(0);
    }
  }
  expect(stdout).toContain('lost');
}, 50_000);

// The cluster path (--nodes): needs the test PostgreSQL and Redis (eval "$(.ci/services)");
// skipped without them. Two nodes, each pair of clients on both; no figure asserted either.
const services = Boolean(process.env.CHAT_TEST_PG && process.env.CHAT_TEST_REDIS);

it.skipIf(!services)('bench/relay.mjs --smoke --nodes 2 runs the same load on a two-node cluster and loses nothing', async () => {
  const out = await mkdtemp(path.join(os.tmpdir(), 'bench-smoke-'));
  cleanup.push(() => rm(out, { recursive: true, force: true }));

  const { code, stdout, stderr } = await runBench('relay.mjs', ['--smoke', '--nodes', '2', '--out', out], 50_000);

  expect(code, `stdout:\n${stdout}\nstderr:\n${stderr}`).toBe(0);
  const files = await readdir(out);
  expect(files).toHaveLength(1);
  const report = JSON.parse(await readFile(path.join(out, files[0]!), 'utf8'));
  const [run] = report.runs;
  expect(run.ngircd).toBeNull();
  expect(run.cluster).toHaveLength(1);
  const [cluster] = run.cluster;
  expect(cluster.nodes).toBe(2);
  expect(cluster.pairsAcrossNodes).toBe(run.clients / 2);
  expect(cluster.login.ok).toBe(run.clients);
  expect(cluster.presence.settled).toBe(true);
  for (const step of [...run.ours.steps, ...cluster.steps]) {
    expect(step.delivered).toBeGreaterThan(0);
    expect(step.lost).toBe(0);
    expect(step.unanswered).toBe(0);
    expect(step.duplicates).toBe(0);
  }
  expect(cluster.steps[0].nodes).toHaveLength(2);
  expect(cluster.nodeLogs.every((n: { notable: number }) => n.notable === 0)).toBe(true);
}, 60_000);

// The cluster under failure: a node killed, Redis restarted, clients reconnecting (a few seconds).
const redisServer = spawnSync('redis-server', ['--version']).status === 0;

it.skipIf(!services || !redisServer)('bench/cluster-chaos.mjs --smoke: a node killed and Redis restarted mid-run lose no acknowledged message', async () => {
  const out = await mkdtemp(path.join(os.tmpdir(), 'bench-smoke-'));
  cleanup.push(() => rm(out, { recursive: true, force: true }));

  const { code, stdout, stderr } = await runBench('cluster-chaos.mjs', ['--smoke', '--out', out], 50_000);

  expect(code, `stdout:\n${stdout}\nstderr:\n${stderr}`).toBe(0);
  const files = await readdir(out);
  expect(files).toHaveLength(1);
  const report = JSON.parse(await readFile(path.join(out, files[0]!), 'utf8'));
  expect(report.acknowledged).toBeGreaterThan(0);
  expect(report.lost).toBe(0);
  expect(report.stranded).toBe(0);
  expect(report.reconnected).toBeGreaterThan(0); // the dead node's clients moved
  expect(report.events.map((e: { what: string }) => e.what)).toEqual(['SIGKILL n2', 'SIGKILL redis-server', 'redis-server started again']);
}, 60_000);
