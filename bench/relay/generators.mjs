// Several load generator processes (bench/relay/load.mjs) driven as one: issue 16 asks for at
// least two at the max step, so that one generator's core is not what limits a fast server.
// Generator k of K holds the pairs in its slice of the clients (a pair never spans two
// processes, so a latency is always measured on one process's clock); a command goes to all of
// them at once and their replies are merged into the reply one generator would give.
import { cpuSeconds, startGenerator } from './procs.mjs';
import { Samples, round } from './stats.mjs';

/** Client ranges [from, to) for `k` generators: contiguous, even-aligned (whole pairs). */
export function shards(clients, k) {
  const pairs = clients / 2;
  const count = Math.max(1, Math.min(k, pairs));
  return Array.from({ length: count }, (_, i) => [Math.floor((pairs * i) / count) * 2, Math.floor((pairs * (i + 1)) / count) * 2]);
}

/**
 * `k` generators; `onMark` gets the first generator's send-start / send-end marks (all start a
 * step at the same moment, within a millisecond or so).
 */
export function startGenerators(script, k, onMark) {
  const gens = Array.from({ length: k }, (_, i) => startGenerator(script, i === 0 ? onMark : () => {}));
  let ranges = null;
  const all = (cmd, args, timeoutMs) => Promise.all(gens.slice(0, ranges?.length ?? gens.length).map((g) => g.call(cmd, args, timeoutMs)));
  const group = {
    children: gens.map((g) => g.child),
    /** CPU seconds of all generators together. */
    cpuSeconds() {
      const values = gens.map((g) => cpuSeconds(g.pid));
      return values.some((v) => v === null || v === undefined) ? null : values.reduce((a, b) => a + b, 0);
    },
    async call(cmd, args = {}, timeoutMs) {
      switch (cmd) {
        case 'setup':
          ranges = shards(args.clients, k);
          return (await Promise.all(ranges.map(([from, to], i) => gens[i].call('setup', { ...args, from, to, maxInflight: Math.ceil(args.maxInflight / ranges.length), samples: ranges.length > 1 }, timeoutMs))))[0];
        case 'connect':
        case 'relaxFlood':
          return mergeRates(await all(cmd, { ...args, concurrency: Math.max(1, Math.ceil(args.concurrency / ranges.length)) }, timeoutMs));
        case 'passwordLogins':
          return gens[0].call(cmd, args, timeoutMs); // users 0..count-1, on fresh connections
        case 'settle':
          return ranges.length === 1 ? gens[0].call(cmd, args, timeoutMs) : settleAll(group, args);
        case 'step':
          return mergeSteps(await all(cmd, { ...args, rate: args.rate === null ? null : args.rate / ranges.length }, timeoutMs));
        case 'hold':
        case 'status':
          return mergeStatus(await all(cmd, args, timeoutMs));
        case 'finish':
          return mergeFinish(await all(cmd, args, timeoutMs));
        case 'subscribers':
          return { subscribers: sum(await all(cmd, args, timeoutMs), (r) => r.subscribers) };
        default:
          return (await Promise.all(gens.map((g) => g.call(cmd, args, timeoutMs))))[0];
      }
    },
  };
  return group;
}

const sum = (xs, f) => xs.reduce((a, x) => a + (f(x) ?? 0), 0);

function mergeRates(rs) {
  const ms = Math.max(...rs.map((r) => r.ms));
  const ok = sum(rs, (r) => r.ok);
  return { count: sum(rs, (r) => r.count), ok, errors: sum(rs, (r) => r.errors), firstErrors: rs.flatMap((r) => r.firstErrors).slice(0, 3), ms, perSecond: Math.round((ok / ms) * 1000) };
}

function mergeStatus(rs) {
  return {
    connected: sum(rs, (r) => r.connected),
    ended: sum(rs, (r) => r.ended),
    endedReasons: rs.flatMap((r) => r.endedReasons).slice(0, 5),
    presence: sum(rs, (r) => r.presence),
    pings: sum(rs, (r) => r.pings),
  };
}

function mergeCounts(objects) {
  const out = {};
  for (const o of objects) for (const [key, n] of Object.entries(o)) out[key] = (out[key] ?? 0) + n;
  return out;
}

/** One step's results: counts and rates add up, latencies are merged from the raw samples. */
function mergeSteps(rs) {
  if (rs.length === 1) return rs[0];
  const samples = new Samples();
  for (const r of rs) for (const v of r.latencySamples) samples.add(v);
  const seconds = Math.max(...rs.map((r) => r.seconds));
  const out = { ...mergeStatus(rs), id: rs[0].id, targetPerSecond: rs[0].targetPerSecond === null ? null : round(sum(rs, (r) => r.targetPerSecond), 0), seconds };
  for (const key of ['offered', 'offeredPerSecond', 'accepted', 'unanswered', 'delivered', 'deliveredPerSecond', 'undeliveredAtDrainEnd', 'duplicates', 'outOfOrder', 'skippedWindowFull']) {
    out[key] = sum(rs, (r) => r[key]);
  }
  out.rejected = mergeCounts(rs.map((r) => r.rejected));
  out.latencyMs = samples.summary();
  out.drain = { ms: Math.max(...rs.map((r) => r.drain.ms)), complete: rs.every((r) => r.drain.complete) };
  out.generators = rs.length;
  return out;
}

function mergeFinish(rs) {
  const steps = {};
  for (const r of rs) {
    for (const [id, s] of Object.entries(r.steps)) {
      const t = (steps[id] ??= { lateDelivered: 0, unanswered: 0, lost: 0 });
      t.lateDelivered += s.lateDelivered;
      t.unanswered += s.unanswered;
      t.lost += s.lost;
    }
  }
  return { waitedMs: Math.max(...rs.map((r) => r.waitedMs)), steps };
}

/**
 * settle across generators: every subscriber got every presence event, S(S+1)/2 in all for S
 * subscribers (each generator sees only its own), then, with `quietMs`, none for that long.
 */
async function settleAll(group, { timeoutMs, quietMs = 0 }) {
  const started = performance.now();
  const subscribers = (await group.call('subscribers')).subscribers;
  const expected = (subscribers * (subscribers + 1)) / 2;
  const presence = async () => (await group.call('status')).presence;
  let seen = await presence();
  while (seen < expected && performance.now() - started < timeoutMs) {
    await delay(50);
    seen = await presence();
  }
  if (quietMs > 0 && seen >= expected) {
    for (let last = -1; last !== seen && performance.now() - started < timeoutMs; ) {
      last = seen;
      await delay(quietMs);
      seen = await presence();
    }
  }
  return { subscribers, presence: seen, expected, ms: Math.round(performance.now() - started), settled: seen >= expected };
}

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
