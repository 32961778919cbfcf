#!/usr/bin/env node
// Relay load benchmark: the real `chat serve` against ngircd (an IRC server in C) in the same
// run, driven by the same load generator (bench/relay/load.mjs, a separate process). For each
// client count: login rate (and a sample of password logins), memory with everyone connected
// and idle, then direct messages between pairs at fixed total rates and as fast as delivery
// allows, each step a bounded time: msgs/s offered and delivered, lost (must be 0), latency
// p50/p99/max, server CPU (utime+stime) and RSS from /proc. See docs/benchmarks.md "Relay load".
//
//   npm run bench:relay                         1000 and 10000 clients, 5k/20k/50k msgs/s + max, 10 s each
//   npm run bench:relay -- --quick              200 clients, 1k and 5k msgs/s + max, 3 s steps (~30 s)
//   node bench/relay.mjs --smoke --out DIR      20 clients, 1 s steps, no ngircd (the test suite's smoke run)
//
// Flags (defaults of the full run): --clients 1000,10000  --rates 5000,20000,50000  --no-max
// --duration 10 (s per step)  --drain 15 (s)  --hold 5 (s idle)  --window 8 (in flight per
// sender)  --max-inflight 8000 (in flight in total)  --size 64 (text bytes)  --login-sample 200
// --connect-concurrency 8 (logins in flight; ngircd's listen backlog is 10)  --pairs auto|two-way|
// one-way (auto: two-way up to 2000 clients; one-way: half the clients send and only the
// receivers subscribe, because S chat subscribers cost S(S+1)/2 presence events)  --no-ngircd
// --out DIR  --data-parent DIR (where the data dirs go; /dev/shm for tmpfs)  --profile DIR (the
// chat server runs under node --cpu-prof; see bench/relay/profile-top.mjs).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  chatServeFlags,
  children,
  cpuSeconds,
  findNgircd,
  hardNoFile,
  IRC_OPER,
  machineInfo,
  ngircdVersion,
  rssMb,
  snapshotBuild,
  startChat,
  startGenerator,
  startNgircd,
  stop,
} from './relay/procs.mjs';
import { table } from './relay/report.mjs';
import { seedUsers } from './relay/seed.mjs';
import { round } from './relay/stats.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LOAD = path.join(ROOT, 'bench', 'relay', 'load.mjs');
/** The build under test: a snapshot of bin/ and dist/ taken at start (see snapshotBuild). */
let build = null;
const chatBin = () => path.join(build.root, 'bin', 'chat');

const log = (line = '') => process.stdout.write(`${line}\n`);

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
      pairs: { type: 'string', default: 'auto' },
      'no-max': { type: 'boolean', default: false },
      'no-ngircd': { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      smoke: { type: 'boolean', default: false },
      out: { type: 'string' },
      'data-parent': { type: 'string', default: os.tmpdir() },
      profile: { type: 'string' },
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
    pairs: values.pairs,
    ngircd: !values['no-ngircd'] && !values.smoke,
    out: values.out ?? path.join(ROOT, 'bench', 'results'),
    dataParent: values['data-parent'],
    profile: values.profile ? path.resolve(values.profile) : null,
  };
  for (const n of opts.clients) if (!Number.isInteger(n) || n < 2 || n % 2) throw new Error(`--clients: ${n} is not an even number ≥ 2`);
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

/** CPU of the server and the generator between the generator's send-start and send-end marks. */
function cpuWindow(serverPid, sampler) {
  let start = null;
  let end = null;
  const read = (genPid) => ({ t: performance.now(), mono: monoUs(), server: cpuSeconds(serverPid), generator: cpuSeconds(genPid) });
  return {
    onMark(mark, genPid) {
      if (mark === 'send-start') {
        sampler.reset();
        start = read(genPid);
      } else if (mark === 'send-end') end = { ...read(genPid), rss: sampler.max() };
    },
    result() {
      const wall = (end.t - start.t) / 1000;
      const pct = (a, b) => (a === null || b === null ? null : round(((b - a) / wall) * 100));
      return {
        serverCpuPercent: pct(start.server, end.server),
        generatorCpuPercent: pct(start.generator, end.generator),
        serverRssMb: end.rss,
        monotonicUs: { from: start.mono, to: end.mono },
      };
    },
  };
}

/** Two-way pairs (everyone sends, every chat client subscribes) up to 2000 clients with --pairs auto. */
const twoWay = (n, opts) => opts.pairs === 'two-way' || (opts.pairs === 'auto' && n <= 2000);

/** CPU % of the server and the generator since `before` ({ t, server, generator }), and the wall time. */
function cpuSince(before, serverPid, genPid) {
  const wall = (performance.now() - before.t) / 1000;
  const pct = (a, b) => (a === null || b === null ? null : round(((b - a) / wall) * 100));
  return {
    seconds: round(wall, 2),
    serverCpuPercent: pct(before.server, cpuSeconds(serverPid)),
    generatorCpuPercent: pct(before.generator, cpuSeconds(genPid)),
    monotonicUs: { from: before.mono, to: monoUs() },
  };
}

/** Runs every phase against one started server; returns the run's figures. */
async function drive(kind, server, n, opts) {
  const sampler = rssSampler(server.pid);
  const marks = { window: null };
  const gen = startGenerator(LOAD, (mark) => marks.window?.onMark(mark, gen.pid));
  const run = { target: kind === 'chat' ? 'ours' : 'ngircd', clients: n, pairs: twoWay(n, opts) ? 'two-way' : 'one-way', serverArgs: server.args, steps: [] };
  try {
    const perAddress = kind === 'chat' && !opts.flags.maxConnectionsPerAddress ? 60 : 1000;
    const { size, window, maxInflight, seed } = opts;
    await gen.call('setup', { kind, root: build.root, host: '127.0.0.1', port: server.port, clients: n, seed, perAddress, size, window, maxInflight, twoWay: twoWay(n, opts) });
    run.serverRssMbAtStart = round(rssMb(server.pid));
    await loginPhase(kind, gen, server, run, opts);
    for (const rate of [...opts.rates, ...(opts.max ? [null] : [])]) {
      marks.window = cpuWindow(server.pid, sampler);
      const s = await gen.call('step', { rate, durationMs: opts.durationMs, drainMs: opts.drainMs }, opts.durationMs + opts.drainMs + 60_000);
      run.steps.push({ ...s, ...marks.window.result() });
      marks.window = null;
      logStep(run.steps.at(-1));
    }
    await endPhase(kind, gen, server, run, opts);
  } finally {
    sampler.stop();
    await gen.call('close').catch(() => {});
    await stop(gen.child, 5000);
  }
  return run;
}

/** Connects and logs in every client (chat: until every presence event arrived), then holds them idle. */
async function loginPhase(kind, gen, server, run, opts) {
  const before = { t: performance.now(), mono: monoUs(), server: cpuSeconds(server.pid), generator: cpuSeconds(gen.pid) };
  run.login = await gen.call('connect', { concurrency: opts.connectConcurrency }, opts.connectTimeoutMs);
  log(`  connected + logged in ${run.login.ok}/${run.clients}: ${run.login.perSecond}/s${run.login.errors ? `, errors: ${run.login.firstErrors.join('; ')}` : ''}`);
  if (kind === 'chat') {
    run.presence = await gen.call('settle', { timeoutMs: opts.settleMs }, opts.settleMs + 60_000);
    log(`  presence: ${run.presence.presence}/${run.presence.expected} events, settled after ${run.presence.ms} ms`);
  }
  run.loginCpu = cpuSince(before, server.pid, gen.pid);
  log(`  login phase: ${run.loginCpu.seconds} s, server CPU ${run.loginCpu.serverCpuPercent}%, generator CPU ${run.loginCpu.generatorCpuPercent}%`);
  if (kind === 'irc') {
    run.relaxFlood = await gen.call('relaxFlood', { concurrency: 256, ...IRC_OPER }, 600_000);
    if (run.relaxFlood.errors) log(`  OPER/MODE +F failed for ${run.relaxFlood.errors}: ${run.relaxFlood.firstErrors.join('; ')}`);
  }
  run.idle = { ...(await gen.call('hold', { ms: opts.holdMs })), serverRssMb: round(rssMb(server.pid)), serverCpuSeconds: cpuSeconds(server.pid) };
  log(`  idle: server RSS ${run.idle.serverRssMb} MB with ${run.idle.connected} connected, ${run.idle.ended} ended`);
}

/** Final loss per step (stragglers included), the state at the end, then the password-login sample. */
async function endPhase(kind, gen, server, run, opts) {
  const final = await gen.call('finish', { timeoutMs: opts.drainMs * 2 }, opts.drainMs * 2 + 60_000);
  for (const s of run.steps) Object.assign(s, final.steps[s.id]);
  log(`  lost (final, ${final.waitedMs} ms after the last step): ${run.steps.map((s) => s.lost).join(', ')}`);
  run.end = { ...(await gen.call('status')), serverRssMb: round(rssMb(server.pid)) };
  // Last: scrypt's 16 MiB per hash (on up to 4 threads) would otherwise inflate every RSS above.
  if (kind === 'chat' && opts.loginSample > 0) {
    run.passwordLogin = await gen.call('passwordLogins', { count: opts.loginSample, concurrency: 16 }, 300_000);
    log(`  password logins (with ${run.clients} clients connected): ${run.passwordLogin.perSecond}/s (${run.passwordLogin.ok}/${run.passwordLogin.count} ok)`);
  }
}

function logStep(s) {
  const rejected = Object.entries(s.rejected).map(([k, v]) => `${k}=${v}`).join(',') || '0';
  const l = s.latencyMs;
  log(
    `  ${s.targetPerSecond === null ? 'max' : s.targetPerSecond + '/s'}: offered ${s.offeredPerSecond}/s, delivered ${s.deliveredPerSecond}/s, ` +
      `undelivered ${s.undeliveredAtDrainEnd}, rejected ${rejected}, p50 ${l.p50} p99 ${l.p99} max ${l.max} ms, server CPU ${s.serverCpuPercent}% RSS ${s.serverRssMb} MB, ` +
      `generator CPU ${s.generatorCpuPercent}%${s.drain.complete ? '' : ' (drain incomplete)'}`,
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

async function runNgircd(n, opts, tmp) {
  log(`ngircd, ${n} clients`);
  const dir = path.join(tmp, `ngircd-${n}`);
  mkdirSync(dir, { recursive: true });
  const server = await startNgircd({ bin: opts.ngircdBin, dir });
  try {
    return await drive('irc', server, n, opts);
  } finally {
    await stop(server.child);
  }
}

// ---------------------------------------------------------------------------------------------
// Main

/** HEAD and whether src/ differs from it at the start (dist/ is whatever was built last). */
function sourceState() {
  const git = (...args) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() ?? '';
  return { commit: git('rev-parse', 'HEAD') || null, srcUncommitted: git('status', '--porcelain', '--', 'src') !== '' };
}

function resultFile(dir, date) {
  mkdirSync(dir, { recursive: true });
  for (let i = 1; ; i++) {
    const file = path.join(dir, `relay-${date}${i === 1 ? '' : `-${i}`}.json`);
    if (!existsSync(file)) return file;
  }
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
  opts.ngircdBin = opts.ngircd ? findNgircd(log) : null;

  const byClients = [];
  try {
    for (const n of opts.clients) {
      const ours = await runChat(n, opts, tmp);
      const ngircd = opts.ngircdBin ? await runNgircd(n, opts, tmp) : null;
      byClients.push({ clients: n, ours, ngircd });
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }

  const lines = table(byClients);
  for (const line of lines) log(line);
  const report = {
    benchmark: 'relay',
    date: started.toISOString(),
    elapsedSeconds: Math.round((Date.now() - started.getTime()) / 1000),
    machine: { ...machine, openFilesHardLimit: noFile, ngircd: opts.ngircdBin ? ngircdVersion(opts.ngircdBin) : null },
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
      pairs: opts.pairs,
      chatServeFlags: opts.flags,
      dataParent: opts.dataParent,
    },
    runs: byClients,
  };
  const file = resultFile(opts.out, started.toISOString().slice(0, 10));
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  log();
  log(`raw results: ${path.relative(process.cwd(), file)}`);
  const failures = byClients.flatMap((b) => problems(b.ours));
  for (const f of failures) log(`FAILED (ours): ${f}`);
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
  return out;
}

/** The temp dir of this run (data directories, ngircd.conf), removed on exit. */
let scratch = null;

function cleanup() {
  for (const child of children) child.kill('SIGKILL');
  if (scratch) rmSync(scratch, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });
}

main().catch((err) => {
  console.error(err.stack ?? err);
  process.exitCode = 1;
});
