#!/usr/bin/env node
// Benchmark: start-up time of the commands people type all day, against `node -e 0` in the same
// run. See docs/benchmarks.md, "Start-up".
//
//   npm run bench:startup                 21 timed runs of each command (after 2 warm-up runs)
//   node bench/startup.mjs --smoke        3 runs each (1 warm-up), results to a temp dir (the test suite's smoke run)
//   --runs N  --warmup N                  other counts
//   --out DIR                             where the raw JSON goes (default bench/results; --smoke: a temp dir)
//   --no-hyperfine                        time with spawn + process.hrtime even if hyperfine is installed
//
// Measured, each as a fresh process:
//   node -e 0                             the anchor: Node's own start-up
//   node -e "import('yargs')"             Node + the argument parser the CLI uses
//   node bin/chat --help
//   node bin/chat whoami                  connect + TLS (pinned certificate) + resume the session + exit
//   node bin/chat send bob <text>         connect + TLS + resume the session + send (stored) + exit
// against a real `chat serve` (TLS, its self-signed certificate) that this script starts on
// 127.0.0.1 with alice and bob registered, each with their own CHAT_HOME.
//
// With hyperfine installed: `hyperfine --shell=none --warmup W --runs N` per command (one block of
// runs per command). Without: the commands are spawned in interleaved rounds (one run of each per
// round) and each run is timed from spawn() to the child's exit with process.hrtime. Peak RSS:
// one more run of each under /usr/bin/time -f %M. Reports median and p90 (nearest rank) in ms and
// the ratio of each median to `node -e 0`'s. Target (issue 7): `chat --help` < 150 ms.
// Exits non-zero if a chat command fails. No timing is asserted by the smoke test.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gitInfo, machineInfo, resultFile, runMain, table } from './common.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CHAT_BIN = path.join(ROOT, 'bin', 'chat');
const PASSWORD = 'bench-password-123';
const TIME_BIN = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
const HELP_TARGET_MS = 150;
const RUN_TIMEOUT_MS = 30_000;

const { values: argv } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    runs: { type: 'string' },
    warmup: { type: 'string' },
    out: { type: 'string' },
    'no-hyperfine': { type: 'boolean', default: false },
  },
});
const smoke = argv.smoke;
const RUNS = argv.runs ? Number(argv.runs) : smoke ? 3 : 21;
const WARMUP = argv.warmup ? Number(argv.warmup) : smoke ? 1 : 2;
if (!Number.isInteger(RUNS) || RUNS < 1 || !Number.isInteger(WARMUP) || WARMUP < 0) {
  console.error('--runs must be ≥ 1 and --warmup ≥ 0');
  process.exit(2);
}

let tmp;
const children = new Set();

function log(line = '') {
  process.stdout.write(`${line}\n`);
}

// ---------------------------------------------------------------------------------------------
// Processes

/** Runs argv to completion; resolves { code, stdout, stderr, ms } (ms: spawn → exit, hrtime). */
function run(argvList, { env = process.env, timeoutMs = RUN_TIMEOUT_MS } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(argvList[0], argvList.slice(1), { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    let ms;
    child.stdout.setEncoding('utf8').on('data', (s) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s) => (stderr += s));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${argvList.join(' ')} did not finish within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('exit', () => (ms = Number(process.hrtime.bigint() - t0) / 1e6));
    child.on('close', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, stdout, stderr, ms });
    });
  });
}

/** Resolves once `proc` printed a line matching `re` (stdout or stderr). */
function waitForLine(proc, re, what, ms = 30_000) {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`${what}: no line matching ${re} within ${ms / 1000} s\n${text}`)), ms);
    const check = (s) => {
      text += s;
      for (const line of text.split('\n')) {
        const m = re.exec(line);
        if (m) {
          clearTimeout(timer);
          return resolve(m);
        }
      }
    };
    proc.stdout.setEncoding('utf8').on('data', check);
    proc.stderr.setEncoding('utf8').on('data', check);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code} before printing ${re}\n${text}`));
    });
  });
}

/** `chat serve` with TLS (its self-signed certificate) on 127.0.0.1, any free port. */
async function startServer() {
  const data = path.join(tmp, 'server-data');
  mkdirSync(data, { recursive: true });
  const proc = spawn(process.execPath, [CHAT_BIN, 'serve', '--host', '127.0.0.1', '--port', '0', '--data', data, '--quiet'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(proc);
  // Prints "TLS certificate SHA-256 …" first, then "chat server listening on HOST:PORT (…)".
  const m = await waitForLine(proc, /chat server listening on (\S+):(\d+)/, 'chat serve');
  return { proc, server: `${m[1]}:${m[2]}` };
}

function chatEnv(home, server, extra = {}) {
  const env = { ...process.env, CHAT_HOME: home, CHAT_SERVER: server, NO_COLOR: '1', ...extra };
  delete env.CHAT_INSECURE;
  return env;
}

async function register(user, server) {
  const home = path.join(tmp, `home-${user}`);
  mkdirSync(home, { recursive: true });
  const r = await run([process.execPath, CHAT_BIN, 'register', user], { env: chatEnv(home, server, { CHAT_PASSWORD: PASSWORD }) });
  if (r.code !== 0) throw new Error(`chat register ${user} failed (${r.code}): ${r.stdout}${r.stderr}`);
  return home;
}

/** Peak RSS in MB of one run under GNU time (null without it). */
function peakRssMB(cmd) {
  if (!TIME_BIN) return null;
  const file = path.join(tmp, 'rss');
  const r = spawnSync(TIME_BIN, ['-f', '%M', '-o', file, ...cmd.argv], { cwd: ROOT, env: cmd.env, stdio: 'ignore', timeout: RUN_TIMEOUT_MS });
  if (r.status !== 0) return null;
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  return Math.round((Number(lines[lines.length - 1]) * 1024) / 1e5) / 10;
}

// ---------------------------------------------------------------------------------------------
// Timing

function hyperfineVersion() {
  if (argv['no-hyperfine']) return null;
  const r = spawnSync('hyperfine', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** POSIX single quotes (hyperfine --shell=none splits its command line like a shell would). */
const shq = (s) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** Samples in ms from hyperfine (one block of runs of this command). */
function timeWithHyperfine(cmd) {
  const json = path.join(tmp, 'hyperfine.json');
  const r = spawnSync(
    'hyperfine',
    ['--shell=none', '--style', 'none', '--warmup', String(WARMUP), '--runs', String(RUNS), '--export-json', json, cmd.argv.map(shq).join(' ')],
    { cwd: ROOT, env: cmd.env, encoding: 'utf8', timeout: (RUNS + WARMUP + 2) * RUN_TIMEOUT_MS },
  );
  if (r.status !== 0) throw new Error(`hyperfine failed on ${cmd.name} (${r.status}): ${r.stdout}${r.stderr}`);
  const [result] = JSON.parse(readFileSync(json, 'utf8')).results;
  if (result.exit_codes?.some((c) => c !== 0)) throw new Error(`${cmd.name} exited non-zero under hyperfine: ${result.exit_codes}`);
  return result.times.map((s) => s * 1000);
}

/** Samples in ms for every command: interleaved rounds of spawn → exit timed with process.hrtime. */
async function timeWithSpawn(cmds) {
  const samples = new Map(cmds.map((c) => [c, []]));
  for (let round = 0; round < WARMUP + RUNS; round++) {
    for (const cmd of cmds) {
      const r = await run(cmd.argv, { env: cmd.env });
      if (r.code !== 0) throw new Error(`${cmd.name} failed (${r.code}): ${r.stdout}${r.stderr}`);
      if (round >= WARMUP) samples.get(cmd).push(r.ms);
    }
  }
  return samples;
}

// ---------------------------------------------------------------------------------------------
// Report

const sorted = (xs) => [...xs].sort((a, b) => a - b);
function median(xs) {
  const s = sorted(xs);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}
/** Nearest-rank percentile. */
const percentile = (xs, p) => sorted(xs)[Math.max(0, Math.ceil((p / 100) * xs.length) - 1)];
const r1 = (x) => (Number.isFinite(x) ? Math.round(x * 10) / 10 : null);
const r2 = (x) => (Number.isFinite(x) ? Math.round(x * 100) / 100 : null);
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : '-');

// ---------------------------------------------------------------------------------------------

async function main() {
  const started = new Date();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'chat-bench-startup-'));
  const outDir = argv.out ? path.resolve(argv.out) : smoke ? await mkdtemp(path.join(os.tmpdir(), 'chat-bench-results-')) : path.join(ROOT, 'bench', 'results');
  const machine = machineInfo();
  const git = gitInfo(ROOT);
  const hyperfine = hyperfineVersion();
  const method = hyperfine ? `${hyperfine} --shell=none --warmup ${WARMUP} --runs ${RUNS} (one block per command)` : `spawn → exit timed with process.hrtime, ${WARMUP} warm-up + ${RUNS} interleaved rounds`;
  log(`chat start-up benchmark${smoke ? ' (--smoke)' : ''} ${started.toISOString()}: ${RUNS} run(s) of each command`);
  log(`${machine.cpu}, ${machine.cores} core(s), node ${machine.node}, load ${machine.loadAverage.join(' ')}, commit ${git.commit}${git.srcModified ? ' (src/ modified)' : ''}`);
  log(`timing: ${method}${hyperfine || argv['no-hyperfine'] ? '' : ' (hyperfine is not installed)'}`);

  const { proc: server, server: address } = await startServer();
  const aliceHome = await register('alice', address);
  await register('bob', address);
  log(`chat serve (TLS) on ${address}; alice and bob registered (certificate pinned on first use)`);

  const node = process.execPath;
  const alice = chatEnv(aliceHome, address);
  const plain = chatEnv(path.join(tmp, 'home-nobody'), address);
  const cmds = [
    { name: 'node -e 0', argv: [node, '-e', '0'], env: plain, anchor: true },
    { name: `node -e "import('yargs')"`, argv: [node, '-e', "import('yargs')"], env: plain, anchor: true },
    { name: 'chat --help', argv: [node, CHAT_BIN, '--help'], env: plain },
    { name: 'chat whoami', argv: [node, CHAT_BIN, 'whoami'], env: alice },
    { name: 'chat send bob <text>', argv: [node, CHAT_BIN, 'send', 'bob', 'start-up bench: hello'], env: alice },
  ];

  // Every command must work once before it is timed; an anchor that does not is left out.
  const notRun = {};
  for (const cmd of [...cmds]) {
    const r = await run(cmd.argv, { env: cmd.env });
    if (r.code === 0) continue;
    if (!cmd.anchor) throw new Error(`${cmd.name} failed (${r.code}): ${r.stdout}${r.stderr}`);
    notRun[cmd.name] = `exits ${r.code}: ${r.stderr.trim().split('\n')[0]}`;
    cmds.splice(cmds.indexOf(cmd), 1);
    log(`${cmd.name}: not run: ${notRun[cmd.name]}`);
  }

  let samples;
  if (hyperfine) {
    samples = new Map();
    for (const cmd of cmds) samples.set(cmd, timeWithHyperfine(cmd));
  } else {
    samples = await timeWithSpawn(cmds);
  }
  for (const cmd of cmds) cmd.peakRssMB = peakRssMB(cmd);

  server.kill('SIGTERM');
  await new Promise((resolve) => {
    const timer = setTimeout(resolve, 5000);
    server.once('exit', () => resolve(clearTimeout(timer)));
    if (server.exitCode !== null) resolve(clearTimeout(timer));
  });
  const base = median(samples.get(cmds[0]));
  const results = cmds.map((cmd) => {
    const xs = samples.get(cmd);
    return {
      name: cmd.name,
      command: cmd.argv.map((a) => (a === node ? 'node' : a === CHAT_BIN ? 'bin/chat' : shq(a))).join(' '),
      anchor: Boolean(cmd.anchor),
      runs: xs.length,
      medianMs: r1(median(xs)),
      p90Ms: r1(percentile(xs, 90)),
      minMs: r1(Math.min(...xs)),
      maxMs: r1(Math.max(...xs)),
      ratioToNode: r2(median(xs) / base),
      peakRssMB: cmd.peakRssMB,
      samplesMs: xs.map(r1),
    };
  });

  log();
  log(
    table([
      ['command', 'runs', 'median ms', 'p90 ms', 'min ms', '× node -e 0', 'peak RSS MB'],
      ...results.map((r) => [r.name, r.runs, f1(r.medianMs), f1(r.p90Ms), f1(r.minMs), f2(r.ratioToNode), f1(r.peakRssMB ?? NaN)]),
    ]),
  );
  log();
  const help = results.find((r) => r.name === 'chat --help');
  const targets = { helpMedianMs: { target: HELP_TARGET_MS, value: help.medianMs, met: help.medianMs < HELP_TARGET_MS } };
  log(`chat --help median ${f1(help.medianMs)} ms (target < ${HELP_TARGET_MS} ms: ${targets.helpMedianMs.met ? 'met' : 'NOT met'}${smoke ? '; --smoke: 3 runs, not a measurement' : ''})`);
  log(`load average at the end: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);

  const result = {
    bench: 'startup',
    mode: smoke ? 'smoke' : 'full',
    date: started.toISOString(),
    ...git,
    machine,
    loadAverageEnd: os.loadavg().map((x) => Math.round(x * 100) / 100),
    command: `node bench/startup.mjs ${process.argv.slice(2).join(' ')}`.trim(),
    method,
    runs: RUNS,
    warmup: WARMUP,
    server: 'chat serve --host 127.0.0.1 --port 0 --quiet (TLS, self-signed, pinned by the clients on register)',
    notRun,
    results,
    targets,
  };
  const file = resultFile(outDir, 'startup', started.toISOString().slice(0, 10));
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  log(`raw results: ${file.startsWith(`${process.cwd()}${path.sep}`) ? path.relative(process.cwd(), file) : file}`);
}

function cleanup() {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}

await runMain(main, cleanup);
