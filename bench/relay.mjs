#!/usr/bin/env node
// Relay load benchmark: the real `chat serve` against ngircd and InspIRCd (IRC servers in C and
// C++) in the same run, driven by the same load generator (bench/relay/load.mjs, a separate process). For each
// client count: login rate (and a sample of password logins), memory with everyone connected
// and idle, then direct messages between pairs at fixed total rates and as fast as delivery
// allows, each step a bounded time: msgs/s offered and delivered, lost (must be 0), latency
// p50/p99/max, server CPU (utime+stime) and RSS from /proc. See docs/benchmarks.md "Relay load".
//
//   npm run bench:relay                         1000 and 10000 clients, 5k/20k/50k msgs/s + max, 10 s each
//   npm run bench:relay -- --quick              200 clients, 1k and 5k msgs/s + max, 3 s steps (~30 s)
//   node bench/relay.mjs --smoke --out DIR      20 clients, 1 s steps, no ngircd (the test suite's smoke run)
//   node bench/relay.mjs --nodes 3 --clients 1000   one node, then a 3-node cluster, same load (no ngircd)
//
// Flags (defaults of the full run): --clients 1000,10000  --rates 5000,20000,50000  --no-max
// --duration 10 (s per step)  --drain 15 (s)  --hold 5 (s idle)  --window 8 (in flight per
// sender)  --max-inflight 8000 (in flight in total)  --size 64 (text bytes)  --login-sample 200
// --connect-concurrency 8 (logins in flight, shared by the generators; ngircd's listen backlog is
// 10)  --generators 2 (load generator processes, each with its share of the pairs, the rate and
// the in-flight bound; bench/relay/generators.mjs)  --pairs auto|two-way|
// one-way (auto: two-way up to 2000 clients; one-way: half the clients send and only the
// receivers subscribe, because S chat subscribers cost S(S+1)/2 presence events)  --no-ngircd
// --no-inspircd (each anchor is installed from Debian when missing; --smoke and --nodes run neither)
// --out DIR  --data-parent DIR (where the data dirs go; /dev/shm for tmpfs)  --profile DIR (the
// chat server runs under node --cpu-prof; see bench/relay/profile-top.mjs).
// --floor: after the anchors, the same load against bench/relay/floor-server.mjs, the least a
// Node server must do for it, twice: messages in memory (floorMemory), and stored as ours
// stores them, durably in SQLite before the reply (floorSqlite): how far ours is from what Node
// itself allows on this machine.
//
// --nodes N[,M…] (cluster mode, docs/cluster.md; implies --no-ngircd): after the single node
// (SQLite, in-process bus) of each client count, the same load against N `chat serve` nodes
// sharing PostgreSQL (store) and Redis (bus), clients round-robin over the nodes (client i on
// node i mod N, so every pair 2k <-> 2k+1 spans two nodes). `--nodes 1,3` adds a one-node
// cluster: the cost of PostgreSQL + Redis apart from that of spreading. PostgreSQL and Redis:
// CHAT_TEST_PG / CHAT_TEST_REDIS, else CHAT_STORE / CHAT_BUS, else what `.ci/services` starts; if
// none, it says so and exits 2. Each cluster run gets a fresh schema (`CREATE SCHEMA bench_…`,
// as search_path in the store URL) and Redis prefix (`?prefix=bench_…` in the bus URL), both
// removed at the end; users are seeded through the built PostgresStore. Figures per step: each
// node's CPU and RSS and their sums, the CPU of the PostgreSQL backends serving the nodes and of
// the Redis server, and the whole machine's busy % (200 = two cores), next to the single node's.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  chatServeFlags,
  children,
  cpuSeconds,
  findInspircd,
  findNgircd,
  hardNoFile,
  IRC_OPER,
  machineInfo,
  inspircdVersion,
  ngircdVersion,
  rssMb,
  snapshotBuild,
  startChat,
  startFloor,
  startInspircd,
  startNgircd,
  stop,
} from './relay/procs.mjs';
import { backendCpu, clusterScratch, clusterServices, machineBusyPercent, machineTicks, redact, startCluster, stopCluster } from './relay/cluster.mjs';
import { clusterTable, table } from './relay/report.mjs';
import { seedUsers, seedUsersPostgres } from './relay/seed.mjs';
import { round } from './relay/stats.mjs';
import { startGenerators } from './relay/generators.mjs';
import { resultFile } from './common.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LOAD = path.join(ROOT, 'bench', 'relay', 'load.mjs');
/** The build under test: a snapshot of bin/ and dist/ taken at start (see snapshotBuild). */
let build = null;
const chatBin = () => path.join(build.root, 'bin', 'chat');

const log = (line = '') => process.stdout.write(`${line}\n`);
const CORES = os.availableParallelism();

// ---------------------------------------------------------------------------------------------
// Options

const PRESETS = {
  full: { clients: '1000,10000', rates: '5000,20000,50000', duration: 10, drain: 15, hold: 5, 'login-sample': 200 },
  quick: { clients: '200', rates: '1000,5000', duration: 3, drain: 10, hold: 1, 'login-sample': 40 },
  smoke: { clients: '20', rates: '200', duration: 1, drain: 5, hold: 0, 'login-sample': 4 },
};

function options() {
  const { values } = parseArgs({
    options: {
      clients: { type: 'string' },
      rates: { type: 'string' },
      duration: { type: 'string' },
      drain: { type: 'string' },
      hold: { type: 'string' },
      window: { type: 'string', default: '8' },
      'max-inflight': { type: 'string', default: '8000' },
      size: { type: 'string', default: '64' },
      'login-sample': { type: 'string' },
      'connect-concurrency': { type: 'string', default: '8' },
      generators: { type: 'string', default: '2' },
      pairs: { type: 'string', default: 'auto' },
      'no-max': { type: 'boolean', default: false },
      'no-ngircd': { type: 'boolean', default: false },
      'no-inspircd': { type: 'boolean', default: false },
      floor: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      smoke: { type: 'boolean', default: false },
      out: { type: 'string' },
      'data-parent': { type: 'string', default: os.tmpdir() },
      profile: { type: 'string' },
      nodes: { type: 'string' },
    },
  });
  const preset = PRESETS[values.smoke ? 'smoke' : values.quick ? 'quick' : 'full'];
  const pick = (name) => values[name] ?? String(preset[name]);
  const list = (s) => s.split(',').filter(Boolean).map(Number);
  const opts = {
    mode: values.smoke ? 'smoke' : values.quick ? 'quick' : 'full',
    clients: list(pick('clients')),
    rates: list(pick('rates')),
    max: !values['no-max'],
    durationMs: Number(pick('duration')) * 1000,
    drainMs: Number(pick('drain')) * 1000,
    holdMs: Number(pick('hold')) * 1000,
    window: Number(values.window),
    maxInflight: Number(values['max-inflight']),
    size: Number(values.size),
    loginSample: Number(pick('login-sample')),
    connectConcurrency: Number(values['connect-concurrency']),
    generators: Number(values.generators),
    pairs: values.pairs,
    nodes: values.nodes === undefined ? [] : list(values.nodes),
    ngircd: !values['no-ngircd'] && !values.smoke && values.nodes === undefined,
    inspircd: !values['no-inspircd'] && !values.smoke && values.nodes === undefined,
    floor: values.floor,
    out: values.out ?? path.join(ROOT, 'bench', 'results'),
    dataParent: values['data-parent'],
    profile: values.profile ? path.resolve(values.profile) : null,
  };
  for (const n of opts.clients) if (!Number.isInteger(n) || n < 2 || n % 2) throw new Error(`--clients: ${n} is not an even number ≥ 2`);
  for (const k of opts.nodes) if (!Number.isInteger(k) || k < 1 || k > 16) throw new Error(`--nodes: ${k} is not a node count 1..16`);
  if (values.nodes !== undefined && !opts.nodes.length) throw new Error('--nodes: give a node count, e.g. --nodes 3');
  if (!Number.isInteger(opts.generators) || opts.generators < 1 || opts.generators > 8) throw new Error('--generators: 1..8 load generator processes');
  if (!['auto', 'two-way', 'one-way'].includes(opts.pairs)) throw new Error('--pairs: auto, two-way or one-way');
  if (opts.size < 40 || opts.size > 400) throw new Error('--size: 40..400 bytes (IRC lines are at most 512 bytes)');
  return opts;
}

// ---------------------------------------------------------------------------------------------
// One server under load

/** Polls the server's RSS; max() since the last reset(). */
function rssSampler(pid) {
  let max = 0;
  const timer = setInterval(() => (max = Math.max(max, rssMb(pid) ?? 0)), 100);
  return {
    reset: () => (max = rssMb(pid) ?? 0),
    max: () => round(Math.max(max, rssMb(pid) ?? 0)),
    stop: () => clearInterval(timer),
  };
}

/** CLOCK_MONOTONIC in µs: the clock of V8's .cpuprofile timestamps (profile-top.mjs --from/--to). */
const monoUs = () => Number(process.hrtime.bigint() / 1000n);

/** The processes of the server under test: the one server, or every node of a cluster. */
const procsOf = (server) => server.nodes ?? [server];

/** fn(pid) summed over the server's processes; null if a reading failed. */
function sumOver(server, fn) {
  let sum = 0;
  for (const { pid } of procsOf(server)) {
    const v = fn(pid);
    if (v === null || v === undefined) return null;
    sum += v;
  }
  return sum;
}

const sumOrNull = (values) => (values.some((v) => v === null) ? null : values.reduce((a, b) => a + b, 0));

/**
 * CPU of the server (each node of a cluster) and the generator between the generator's
 * send-start and send-end marks, the server's RSS (max per process over the window), and the
 * whole machine's busy %. For a cluster (`extra`: { scratch, backends }) also the CPU of the
 * PostgreSQL backends serving the nodes and of the Redis server.
 */
function cpuWindow(server, samplers, extra) {
  const procs = procsOf(server);
  let start = null;
  let end = null;
  const read = (gen) => ({
    t: performance.now(),
    mono: monoUs(),
    procs: procs.map((p) => cpuSeconds(p.pid)),
    generator: gen.cpuSeconds(),
    machine: machineTicks(),
    postgres: extra?.backends?.window() ?? null,
    redis: extra ? extra.scratch.redisCpuSeconds().catch(() => null) : null,
  });
  return {
    onMark(mark, gen) {
      if (mark === 'send-start') {
        for (const s of samplers) s.reset();
        start = read(gen);
      } else if (mark === 'send-end') {
        end = { ...read(gen), rss: samplers.map((s) => s.max()), postgresSeconds: start.postgres?.end() ?? null };
      }
    },
    async result() {
      const wall = (end.t - start.t) / 1000;
      const pct = (a, b) => (a === null || b === null ? null : round(((b - a) / wall) * 100));
      const cpu = procs.map((_, i) => pct(start.procs[i], end.procs[i]));
      const out = {
        serverCpuPercent: round(sumOrNull(cpu)),
        generatorCpuPercent: pct(start.generator, end.generator),
        serverRssMb: round(sumOrNull(end.rss)),
        monotonicUs: { from: start.mono, to: end.mono },
        machineBusyPercent: machineBusyPercent(start.machine, end.machine, CORES),
      };
      if (server.nodes) {
        out.nodes = server.nodes.map((node, i) => ({ id: node.id, cpuPercent: cpu[i], rssMb: end.rss[i] }));
        out.postgresCpuPercent = end.postgresSeconds === null ? null : round((end.postgresSeconds / wall) * 100);
        out.redisCpuPercent = pct(await start.redis, await end.redis);
      }
      // The machine's busy time not in the processes above: the kernel (loopback TCP), this
      // process, PostgreSQL's background processes, and whatever else runs on the machine.
      const known = [out.serverCpuPercent, out.generatorCpuPercent, ...(server.nodes ? [out.postgresCpuPercent, out.redisCpuPercent] : [])];
      out.otherCpuPercent = out.machineBusyPercent === null || known.includes(null) ? null : round(out.machineBusyPercent - known.reduce((a, b) => a + b, 0));
      return out;
    },
  };
}

/** Two-way pairs (everyone sends, every chat client subscribes) up to 2000 clients with --pairs auto. */
const twoWay = (n, opts) => opts.pairs === 'two-way' || (opts.pairs === 'auto' && n <= 2000);

/** CPU % of the server (all its processes) and the generator since `before` ({ t, server, generator }), and the wall time. */
function cpuSince(before, server, gen) {
  const wall = (performance.now() - before.t) / 1000;
  const pct = (a, b) => (a === null || b === null ? null : round(((b - a) / wall) * 100));
  return {
    seconds: round(wall, 2),
    serverCpuPercent: pct(before.server, sumOver(server, cpuSeconds)),
    generatorCpuPercent: pct(before.generator, gen.cpuSeconds()),
    monotonicUs: { from: before.mono, to: monoUs() },
  };
}

/**
 * Runs every phase against one started server, or the nodes of a cluster (`server.nodes`, each
 * { id, pid, port }; `extra`: { scratch, backends } of cluster.mjs); returns the run's figures.
 */
async function drive(kind, server, n, opts, extra = null) {
  const samplers = procsOf(server).map((p) => rssSampler(p.pid));
  const marks = { window: null };
  const gen = startGenerators(LOAD, opts.generators, (mark) => marks.window?.onMark(mark, gen));
  const run = { target: server.name ?? 'ours', clients: n, pairs: twoWay(n, opts) ? 'two-way' : 'one-way', serverArgs: server.args, steps: [] };
  try {
    const perAddress = kind === 'chat' && !opts.flags.maxConnectionsPerAddress ? 60 : 1000;
    const { size, window, maxInflight, seed } = opts;
    const ports = server.nodes?.map((node) => node.port);
    await gen.call('setup', { kind, root: build.root, host: '127.0.0.1', port: server.port, ports, clients: n, seed, perAddress, size, window, maxInflight, twoWay: twoWay(n, opts) });
    run.serverRssMbAtStart = round(sumOver(server, rssMb));
    await loginPhase(kind, gen, server, run, opts);
    for (const rate of [...opts.rates, ...(opts.max ? [null] : [])]) {
      marks.window = cpuWindow(server, samplers, extra);
      const s = await gen.call('step', { rate, durationMs: opts.durationMs, drainMs: opts.drainMs }, opts.durationMs + opts.drainMs + 60_000);
      run.steps.push({ ...s, ...(await marks.window.result()) });
      marks.window = null;
      logStep(run.steps.at(-1), opts);
    }
    await endPhase(kind, gen, server, run, opts);
  } finally {
    for (const s of samplers) s.stop();
    await gen.call('close').catch(() => {});
    await Promise.all(gen.children.map((child) => stop(child, 5000)));
  }
  return run;
}

/** Per-node RSS of a cluster now, or undefined for one server. */
const nodesRss = (server) => server.nodes?.map((node) => ({ id: node.id, rssMb: round(rssMb(node.pid)) }));

/** Connects and logs in every client (chat: until every presence event arrived), then holds them idle. */
async function loginPhase(kind, gen, server, run, opts) {
  const before = { t: performance.now(), mono: monoUs(), server: sumOver(server, cpuSeconds), generator: gen.cpuSeconds() };
  run.login = await gen.call('connect', { concurrency: server.connectConcurrency ?? opts.connectConcurrency }, opts.connectTimeoutMs);
  log(`  connected + logged in ${run.login.ok}/${run.clients}: ${run.login.perSecond}/s${run.login.errors ? `, errors: ${run.login.firstErrors.join('; ')}` : ''}`);
  if (kind === 'chat') {
    // A cluster: bounded lower (a presence event that never comes is a finding, not a reason to
    // wait 15 min), and until no event came for 1 s (a node may send a few more than S(S+1)/2).
    const settle = server.nodes ? { timeoutMs: Math.min(opts.settleMs, Math.max(60_000, (run.clients * run.clients) / 10)), quietMs: 1000 } : { timeoutMs: opts.settleMs };
    run.presence = await gen.call('settle', settle, settle.timeoutMs + 60_000);
    log(`  presence: ${run.presence.presence}/${run.presence.expected} events, ${run.presence.settled ? 'settled' : 'NOT settled'} after ${run.presence.ms} ms`);
  }
  run.loginCpu = cpuSince(before, server, gen);
  log(`  login phase: ${run.loginCpu.seconds} s, server CPU ${run.loginCpu.serverCpuPercent}%, generator CPU ${run.loginCpu.generatorCpuPercent}%`);
  if (kind === 'irc' && server.relaxFlood) {
    run.relaxFlood = await gen.call('relaxFlood', { concurrency: 256, ...IRC_OPER }, 600_000);
    if (run.relaxFlood.errors) log(`  OPER/MODE +F failed for ${run.relaxFlood.errors}: ${run.relaxFlood.firstErrors.join('; ')}`);
  }
  run.idle = { ...(await gen.call('hold', { ms: opts.holdMs })), serverRssMb: round(sumOver(server, rssMb)), serverCpuSeconds: sumOver(server, cpuSeconds), ...(server.nodes ? { nodes: nodesRss(server) } : {}) };
  log(`  idle: server RSS ${run.idle.serverRssMb} MB${server.nodes ? ` (${run.idle.nodes.map((x) => `${x.id} ${x.rssMb}`).join(', ')})` : ''} with ${run.idle.connected} connected, ${run.idle.ended} ended`);
}

/** Final loss per step (stragglers included), the state at the end, then the password-login sample. */
async function endPhase(kind, gen, server, run, opts) {
  const final = await gen.call('finish', { timeoutMs: opts.drainMs * 2 }, opts.drainMs * 2 + 60_000);
  for (const s of run.steps) Object.assign(s, final.steps[s.id]);
  log(`  lost (final, ${final.waitedMs} ms after the last step): ${run.steps.map((s) => s.lost).join(', ')}`);
  run.end = { ...(await gen.call('status')), serverRssMb: round(sumOver(server, rssMb)), ...(server.nodes ? { nodes: nodesRss(server) } : {}) };
  // Last: scrypt's 16 MiB per hash (on up to 4 threads) would otherwise inflate every RSS above.
  if (kind === 'chat' && !server.floor && opts.loginSample > 0) {
    run.passwordLogin = await gen.call('passwordLogins', { count: opts.loginSample, concurrency: 16 }, 300_000);
    log(`  password logins (with ${run.clients} clients connected): ${run.passwordLogin.perSecond}/s (${run.passwordLogin.ok}/${run.passwordLogin.count} ok)`);
  }
}

function logStep(s, opts) {
  const rejected = Object.entries(s.rejected).map(([k, v]) => `${k}=${v}`).join(',') || '0';
  const l = s.latencyMs;
  // With --nodes (both the single node and the cluster): the machine's busy time; a cluster: per node, PostgreSQL, Redis.
  const more = !opts.nodes.length
    ? ''
    : `${s.nodes ? ` [${s.nodes.map((x) => `${x.id} ${x.cpuPercent}% ${x.rssMb} MB`).join(', ')}; PostgreSQL ${s.postgresCpuPercent}%, Redis ${s.redisCpuPercent}%]` : ''}, machine busy ${s.machineBusyPercent}% (${s.otherCpuPercent}% outside these)` +
      (s.outOfOrder || s.duplicates ? `, out of order ${s.outOfOrder}, duplicates ${s.duplicates}` : '');
  log(
    `  ${s.targetPerSecond === null ? 'max' : s.targetPerSecond + '/s'}: offered ${s.offeredPerSecond}/s, delivered ${s.deliveredPerSecond}/s, ` +
      `undelivered ${s.undeliveredAtDrainEnd}, rejected ${rejected}, p50 ${l.p50} p99 ${l.p99} max ${l.max} ms, server CPU ${s.serverCpuPercent}% RSS ${s.serverRssMb} MB, ` +
      `generator CPU ${s.generatorCpuPercent}%${more}${s.drain.complete ? '' : ' (drain incomplete)'}`,
  );
}

async function runChat(n, opts, tmp) {
  const dataDir = path.join(tmp, `chat-${n}`);
  const seeded = await seedUsers(build.root, dataDir, Math.max(n, opts.loginSample), opts.seed);
  log(`ours, ${n} clients (seeded ${seeded.users} users in ${Math.round(seeded.ms)} ms)`);
  const nodeArgs = opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${opts.profile}`, `--cpu-prof-name=chat-${n}-${Date.now()}.cpuprofile`] : [];
  const server = await startChat({ chatBin: chatBin(), dataDir, flags: opts.flags, nodeArgs });
  try {
    return { ...(await drive('chat', server, n, opts)), seedMs: Math.round(seeded.ms) };
  } finally {
    await stop(server.child, 20_000);
    await rm(dataDir, { recursive: true, force: true });
  }
}

/**
 * The Node floor (bench/relay/floor-server.mjs) with `store` memory or sqlite: the same load as
 * ours, against the least a Node server must do for it.
 */
async function runFloor(store, n, opts, tmp) {
  log(`floor-${store}, ${n} clients`);
  const dir = path.join(tmp, `floor-${store}-${n}`);
  mkdirSync(dir, { recursive: true });
  const nodeArgs = opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${opts.profile}`, `--cpu-prof-name=floor-${store}-${n}-${Date.now()}.cpuprofile`] : [];
  const started = await startFloor({ store, seed: opts.seed, users: n, dir, nodeArgs });
  try {
    return await drive('chat', { ...started, name: `floor-${store}`, floor: true }, n, opts);
  } finally {
    await stop(started.child);
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * ngircd needs OPER + MODE +F per client to lift its flood throttling, and takes 8 logins in
 * flight (listen backlog 10); InspIRCd's class has flood control off, and it finishes
 * registrations once a second, so it gets 1000 in flight (its somaxconn is 4096).
 */
const IRC_ANCHORS = {
  ngircd: { start: startNgircd, relaxFlood: true, connectConcurrency: null },
  inspircd: { start: startInspircd, relaxFlood: false, connectConcurrency: 1000 },
};

async function runIrc(name, n, opts, tmp) {
  log(`${name}, ${n} clients`);
  const dir = path.join(tmp, `${name}-${n}`);
  mkdirSync(dir, { recursive: true });
  const anchor = IRC_ANCHORS[name];
  const server = { ...(await anchor.start({ bin: opts.bins[name], dir })), name, relaxFlood: anchor.relaxFlood, connectConcurrency: anchor.connectConcurrency };
  try {
    return await drive('irc', server, n, opts);
  } finally {
    await stop(server.child);
  }
}

/**
 * The same load against `count` cluster nodes: a fresh PostgreSQL schema and Redis prefix,
 * users seeded into PostgreSQL, the nodes started, clients round-robin over them. The schema,
 * the Redis keys and the nodes' data dirs are removed afterwards.
 */
async function runCluster(n, count, opts, tmp) {
  const scratch = await clusterScratch(opts.services);
  scratches.add(scratch);
  const dir = path.join(tmp, `cluster-${count}-${n}`);
  let nodes = [];
  let backends = null;
  let run;
  try {
    const seeded = await seedUsersPostgres(build.root, scratch.storeUrl, Math.max(n, opts.loginSample), opts.seed);
    log(`ours, ${count} node${count === 1 ? '' : 's'}, ${n} clients (PostgreSQL schema and Redis prefix ${scratch.tag}; seeded ${seeded.users} users in ${Math.round(seeded.ms)} ms)`);
    const nodeArgs = (id) => (opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${opts.profile}`, `--cpu-prof-name=chat-${n}-${count}n-${id}-${Date.now()}.cpuprofile`] : []);
    nodes = await startCluster({ chatBin: chatBin(), count, scratch, flags: opts.flags, dir, nodeArgs });
    log(`  nodes: ${nodes.map((x) => `${x.id} on :${x.port} (pid ${x.pid})`).join(', ')}`);
    backends = backendCpu(scratch);
    const server = { nodes, port: nodes[0].port, args: nodes.map((x) => x.args.map(redact)) };
    run = await drive('chat', server, n, opts, { scratch, backends });
    let across = 0;
    for (let k = 0; k < n; k += 2) if (k % count !== (k + 1) % count) across++;
    Object.assign(run, {
      nodes: count,
      pairsAcrossNodes: across,
      seedMs: Math.round(seeded.ms),
      postgresBackendsSeen: backends.backends(),
      postgresProbeError: backends.error(),
      store: { url: redact(opts.services.pg), schema: scratch.tag, ...scratch.postgres },
      bus: { url: redact(opts.services.redis), prefix: scratch.tag, ...scratch.redis },
    });
  } finally {
    backends?.stop();
    await stopCluster(nodes);
    // After the stop: a node's last lines (its shutdown) count too.
    const nodeLogs = nodes.map((x) => ({ id: x.id, notable: x.notable, first: x.notableLines }));
    if (run) run.nodeLogs = nodeLogs;
    for (const x of nodeLogs) if (x.notable) log(`  node ${x.id} logged ${x.notable} notable line(s), first: ${x.first.slice(0, 3).join(' | ')}`);
    await scratch.drop().catch((err) => log(`  ${err.message}`));
    scratches.delete(scratch);
    await rm(dir, { recursive: true, force: true });
  }
  return run;
}

// ---------------------------------------------------------------------------------------------
// Main

/** HEAD and whether src/ differs from it at the start (dist/ is whatever was built last). */
function sourceState() {
  const git = (...args) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() ?? '';
  return { commit: git('rev-parse', 'HEAD') || null, srcUncommitted: git('status', '--porcelain', '--', 'src') !== '' };
}

/** Other relay benches (node processes, not a wrapper such as `timeout`) running now: their figures and ours would mix. */
function otherBenches() {
  const ps = spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).stdout ?? '';
  return ps
    .split('\n')
    .map((line) => line.trim().match(/^(\d+)\s+(.*)$/))
    .filter((m) => m && ![process.pid, process.ppid].includes(Number(m[1])) && /^(\S*\/)?node\s.*bench\/relay(\.mjs|\/load\.mjs)/.test(m[2]))
    .map((m) => `${m[1]} ${m[2].slice(0, 120)}`);
}

async function main() {
  const opts = options();
  const started = new Date();
  opts.seed = `bench-${started.getTime()}`;
  opts.settleMs = 900_000;
  opts.connectTimeoutMs = 900_000;
  const tmp = await mkdtemp(path.join(opts.dataParent, 'chat-relay-bench-'));
  scratch = tmp;
  build = snapshotBuild(ROOT, path.join(tmp, 'build'));
  opts.flags = chatServeFlags(chatBin());
  const noFile = hardNoFile();
  const machine = machineInfo();
  const source = sourceState();
  log(`relay bench (${opts.mode}) ${started.toISOString()}: ${machine.cpu}, ${machine.cores} cores, node ${machine.node}, open files hard limit ${noFile}`);
  log(`build under test: HEAD ${source.commit?.slice(0, 7)}${source.srcUncommitted ? ' (src/ has uncommitted changes)' : ''}, dist/ sha256 ${build.distSha256.slice(0, 12)} (snapshot)`);
  const missing = Object.entries(opts.flags).filter(([, has]) => !has).map(([f]) => f);
  if (missing.length) log(`chat serve has no flag for: ${missing.join(', ')} (left at their defaults; clients spread over 127.1.x.y, ≤ 60 per address)`);
  const need = Math.max(...opts.clients) + 100;
  if (noFile < need) throw new Error(`open files hard limit ${noFile} < ${need}: raise it (ulimit -Hn) or lower --clients`);
  opts.bins = { ngircd: opts.ngircd ? findNgircd(log) : null, inspircd: opts.inspircd ? findInspircd(log) : null };
  const others = otherBenches();
  if (others.length) log(`WARNING: another relay bench is running (${others.join('; ')}): both share the machine's cores; see "machine busy" and "outside these"`);
  if (opts.nodes.length) {
    opts.services = clusterServices(ROOT, log);
    log(`cluster (--nodes ${opts.nodes.join(',')}; no ngircd): PostgreSQL ${redact(opts.services.pg)}, Redis ${redact(opts.services.redis)} (from the ${opts.services.from}); ${CORES} cores for the nodes, PostgreSQL, Redis and the generator`);
  }

  const byClients = [];
  try {
    for (const n of opts.clients) {
      const ours = await runChat(n, opts, tmp);
      const ngircd = opts.bins.ngircd ? await runIrc('ngircd', n, opts, tmp) : null;
      const inspircd = opts.bins.inspircd ? await runIrc('inspircd', n, opts, tmp) : null;
      const floorMemory = opts.floor ? await runFloor('memory', n, opts, tmp) : null;
      const floorSqlite = opts.floor ? await runFloor('sqlite', n, opts, tmp) : null;
      const cluster = [];
      for (const count of opts.nodes) cluster.push(await runCluster(n, count, opts, tmp));
      byClients.push({ clients: n, ours, ngircd, inspircd, ...(opts.floor ? { floorMemory, floorSqlite } : {}), ...(opts.nodes.length ? { cluster } : {}) });
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }

  const othersAtEnd = otherBenches();
  if (othersAtEnd.length) log(`WARNING: another relay bench is running now (${othersAtEnd.join('; ')})`);
  const lines = opts.nodes.length ? clusterTable(byClients) : table(byClients);
  for (const line of lines) log(line);
  const report = {
    benchmark: 'relay',
    date: started.toISOString(),
    elapsedSeconds: Math.round((Date.now() - started.getTime()) / 1000),
    machine: {
      ...machine,
      openFilesHardLimit: noFile,
      ngircd: opts.bins.ngircd ? ngircdVersion(opts.bins.ngircd) : null,
      inspircd: opts.bins.inspircd ? inspircdVersion(opts.bins.inspircd) : null,
    },
    source: { ...source, distSha256: build.distSha256 },
    settings: {
      mode: opts.mode,
      clients: opts.clients,
      rates: opts.rates,
      max: opts.max,
      stepSeconds: opts.durationMs / 1000,
      drainSeconds: opts.drainMs / 1000,
      holdSeconds: opts.holdMs / 1000,
      window: opts.window,
      maxInflight: opts.maxInflight,
      textBytes: opts.size,
      loginSample: opts.loginSample,
      connectConcurrency: opts.connectConcurrency,
      generators: opts.generators,
      pairs: opts.pairs,
      chatServeFlags: opts.flags,
      dataParent: opts.dataParent,
      otherBenchesAtStart: others,
      otherBenchesAtEnd: othersAtEnd,
      ...(opts.nodes.length ? { nodes: opts.nodes, cluster: { postgres: redact(opts.services.pg), redis: redact(opts.services.redis), from: opts.services.from, cores: CORES } } : {}),
    },
    runs: byClients,
  };
  const file = resultFile(opts.out, 'relay', started.toISOString().slice(0, 10));
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  log();
  log(`raw results: ${path.relative(process.cwd(), file)}`);
  const failures = byClients.flatMap((b) => [
    ...problems(b.ours).map((f) => `(ours) ${f}`),
    ...(b.cluster ?? []).flatMap((c) => problems(c).map((f) => `(ours, ${c.nodes} node${c.nodes === 1 ? '' : 's'}, ${b.clients} clients) ${f}`)),
  ]);
  for (const f of failures) log(`FAILED ${f}`);
  if (failures.length) process.exitCode = 1;
}

/** What makes a run of ours a failure rather than a slow result: errors, losses, dropped clients. */
function problems(run) {
  const out = [];
  if (run.login.errors) out.push(`${run.login.errors} of ${run.clients} clients failed to log in: ${run.login.firstErrors.join('; ')}`);
  if (run.passwordLogin?.errors) out.push(`${run.passwordLogin.errors} password logins failed: ${run.passwordLogin.firstErrors.join('; ')}`);
  for (const s of run.steps) {
    const name = s.targetPerSecond === null ? 'max rate' : `${s.targetPerSecond}/s`;
    if (s.lost) out.push(`${name}: ${s.lost} messages lost`);
    if (s.unanswered) out.push(`${name}: ${s.unanswered} sends never answered`);
    if (s.delivered === 0) out.push(`${name}: nothing delivered`);
  }
  if (run.end?.ended) out.push(`${run.end.ended} connections ended during the run: ${run.end.endedReasons.join('; ')}`);
  if (run.nodes && run.presence && !run.presence.settled) out.push(`presence: ${run.presence.presence} of ${run.presence.expected} events arrived`);
  return out;
}

/** The temp dir of this run (data directories, ngircd.conf), removed on exit. */
let scratch = null;
/** Cluster scratch spaces (PostgreSQL schema, Redis keys) not dropped yet. */
const scratches = new Set();

function cleanup() {
  for (const child of children) child.kill('SIGKILL');
  if (scratch) rmSync(scratch, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    cleanup();
    // The schema and keys of a cluster run in progress: dropped if that takes under 5 s.
    const timeout = new Promise((resolve) => setTimeout(resolve, 5000).unref());
    await Promise.race([Promise.allSettled([...scratches].map((s) => s.drop())), timeout]);
    process.exit(130);
  });
}

main().catch((err) => {
  // --nodes without PostgreSQL/Redis: the message alone, exit 2.
  if (/^--nodes/.test(err.message)) {
    console.error(`relay bench: ${err.message}`);
    process.exitCode = 2;
    return;
  }
  console.error(err.stack ?? err);
  process.exitCode = 1;
});
