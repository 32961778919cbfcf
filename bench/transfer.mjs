#!/usr/bin/env node
// Benchmark: the real CLI path (chat send-file → chat accept over loopback, TLS control channel,
// AES-256-GCM on every frame, protocol v3) against plain copies over loopback in the same run.
// See docs/benchmarks.md, "Transfer".
//
//   npm run bench:transfer               1 GiB: 5 pairs (socat, then ours), median of the per-pair
//                                        ratios; 10,000 files of 10 KiB: 3 pairs (tar c | socat →
//                                        socat | tar x, then ours); each path once (RSS); one 4 GiB run
//   npm run bench:transfer -- --no-4g    the same without the 4 GiB run (also --no-files, --no-paths, --no-1g)
//   npm run bench:transfer -- --pairs N  N pairs of the 1 GiB run (--file-pairs N: of the 10,000 files)
//   npm run bench:transfer -- --quick    256 MiB × 2 pairs, 2000 files × 1 pair, no paths, no 4 GiB
//   node bench/transfer.mjs --smoke      4 MiB × 1 pair, 200 files × 1 pair, installs nothing;
//                                        results to a temp dir (the test suite's smoke run)
//   --out DIR                            where the raw JSON goes (default bench/results; --smoke: a temp dir)
//   --baseline DIR                       also run another built checkout's CLI (DIR/bin/chat, both sides) as
//                                        tool "baseline" in every 1 GiB and files round, right before or after
//                                        ours (alternating), for a before/after in the same run
//
// Anchors: socat (`apt-get install -y socat` when missing) and tar; magic-wormhole only when
// `wormhole` is installed AND WORMHOLE_RELAY is set (its rendezvous server URL, or `default`;
// WORMHOLE_TRANSIT optionally a transit helper tcp:HOST:PORT); otherwise "not run: why".
// Exits non-zero if any run fails or a received file differs from the source.
//
// Plain ESM over the built CLI (bin/chat → dist/): no TypeScript runtime. Units: MB = 10^6 bytes.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { mkdtemp, open } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gitInfo, machineInfo, mountFreshExt4, resultFile, runMain, table, unmountExt4 } from './common.mjs';
import { cpuSecondsOf, haveWilliam, startWormholeLab, wormholeMissing } from './wormhole.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CHAT_BIN = path.join(ROOT, 'bin', 'chat');
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const MB = 1e6;

const { values: argv } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    smoke: { type: 'boolean', default: false },
    'no-4g': { type: 'boolean', default: false },
    'no-files': { type: 'boolean', default: false },
    'no-paths': { type: 'boolean', default: false },
    'no-1g': { type: 'boolean', default: false },
    pairs: { type: 'string' },
    'file-pairs': { type: 'string' },
    'no-wormhole': { type: 'boolean', default: false },
    'no-relay': { type: 'boolean', default: false },
    out: { type: 'string' },
    baseline: { type: 'string' },
  },
});
const smoke = argv.smoke;
const quick = argv.quick && !smoke;
const MODE = smoke ? 'smoke' : quick ? 'quick' : 'full';
const SIZE = smoke ? 4 * MiB : quick ? 256 * MiB : 1 * GiB;
const PAIRS = argv['no-1g'] ? 0 : argv.pairs ? Math.max(1, Number(argv.pairs)) : smoke ? 1 : quick ? 2 : 5;
const FILES = smoke ? 200 : quick ? 2000 : 10_000;
const FILE_BYTES = 10 * 1024;
const FILE_PAIRS = argv['file-pairs'] ? Math.max(1, Number(argv['file-pairs'])) : smoke || quick ? 1 : 3;
const RUN_FILES = !argv['no-files'];
const RUN_PATHS = MODE === 'full' && !argv['no-paths'] && !argv['no-1g'];
const BIG = 4 * GiB;
const BIG_MIN_FREE = 10 * GiB;
const RUN_BIG = MODE === 'full' && !argv['no-4g'];
const RUN_TIMEOUT_MS = smoke ? 30_000 : 10 * 60_000;
const PASSWORD = 'bench-password-123';
const TIME_BIN = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
/** BENCH_PROFILE_DIR=DIR: run send-file and accept under `node --cpu-prof` (profiles land in DIR). */
/** --baseline DIR: that checkout's CLI, run beside ours in each round (before/after in one run). */
const BASE_BIN = argv.baseline ? path.join(path.resolve(argv.baseline), 'bin', 'chat') : undefined;
const PROFILE = process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_PROFILE_DIR)}`] : [];

/** Every child we started (by pid; each leads its own process group), for cleanup. */
const children = new Set();
let tmp;
/** Stops the wormhole lab (its processes and network namespace), once started. */
let stopLab;

function log(line = '') {
  process.stdout.write(`${line}\n`);
}

// ---------------------------------------------------------------------------------------------
// Processes

/**
 * Spawns `cmd args` in its own process group. With GNU time available the command runs under
 * `/usr/bin/time -f %M -o FILE` (peak RSS from wait4, exact); otherwise VmHWM is polled.
 */
function start(cmd, args, { env, rssFile, stdio = ['ignore', 'pipe', 'pipe'], input, cwd } = {}) {
  const argv = TIME_BIN && rssFile ? [TIME_BIN, '-f', '%M %U %S', '-o', rssFile, cmd, ...args] : [cmd, ...args];
  if (input !== undefined) stdio = ['pipe', ...stdio.slice(1)];
  const child = spawn(argv[0], argv.slice(1), { env: env ?? process.env, stdio, detached: true, cwd });
  if (input !== undefined) child.stdin.end(input);
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (s) => (stdout += s));
  child.stderr?.setEncoding('utf8').on('data', (s) => (stderr += s));
  let hwmKb = 0;
  const poll = !TIME_BIN && rssFile ? setInterval(() => (hwmKb = Math.max(hwmKb, vmHwmKb(child.pid))), 50) : undefined;
  const exited = new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearInterval(poll);
      children.delete(child);
      resolve({ code, signal, at: performance.now() });
    });
  });
  return {
    child,
    exited,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    /** Peak RSS in kB (after exit). */
    peakKb() {
      return TIME_BIN && rssFile ? timeLine(rssFile)[0] : hwmKb;
    },
    /** User + system CPU seconds (after exit; NaN without GNU time). */
    cpuSeconds() {
      return TIME_BIN && rssFile ? timeLine(rssFile)[1] + timeLine(rssFile)[2] : NaN;
    },
  };
}

// GNU time's last line: "maxRSS_kB user_s sys_s" (earlier lines may hold a "Command exited…" note).
function timeLine(file) {
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  return lines[lines.length - 1].split(' ').map(Number);
}

function vmHwmKb(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function killGroup(child, signal = 'SIGTERM') {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

/** Resolves with the first line of `proc`'s stdout/stderr matching `re`. */
function waitForLine(proc, re, what, ms = 30_000) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const check = () => {
        for (const line of `${proc.stdout}\n${proc.stderr}`.split('\n')) {
          const m = re.exec(line);
          if (m) return resolve(m);
        }
      };
      proc.child.stdout?.on('data', check);
      proc.child.stderr?.on('data', check);
      proc.exited.then(({ code }) => reject(new Error(`${what} exited with ${code} before printing ${re}\n${proc.stdout}${proc.stderr}`)));
      check();
    }),
    ms,
    what,
  );
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** True once something listens on 127.0.0.1:port (read from /proc/net/tcp; connecting would eat socat's one accept). */
function listening(port) {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  try {
    return readFileSync('/proc/net/tcp', 'utf8')
      .split('\n')
      .some((l) => {
        const f = l.trim().split(/\s+/);
        return f[1]?.endsWith(hex) && f[3] === '0A';
      });
  } catch {
    return false;
  }
}

async function waitListening(port, proc, ms = 10_000) {
  const until = Date.now() + ms;
  while (!listening(port)) {
    if (proc.child.exitCode !== null) throw new Error(`listener exited early: ${proc.stderr}`);
    if (Date.now() > until) throw new Error(`nothing listens on port ${port} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

// ---------------------------------------------------------------------------------------------
// Files

/** Writes `size` bytes: a 64 MiB random block repeated, each copy with its own first 32 bytes. Returns its SHA-256. */
async function generate(file, size) {
  const BLOCK = 64 * MiB;
  const block = randomFillSync(Buffer.allocUnsafe(BLOCK));
  const hash = createHash('sha256');
  const out = createWriteStream(file, { highWaterMark: 8 * MiB });
  const write = (buf) => {
    hash.update(buf);
    return out.write(buf) ? undefined : new Promise((r) => out.once('drain', r));
  };
  for (let at = 0, n = 0; at < size; at += BLOCK, n++) {
    const len = Math.min(BLOCK, size - at);
    const head = randomFillSync(Buffer.allocUnsafe(Math.min(32, len)));
    head.writeUInt32BE(n, 0);
    await write(head);
    if (len > head.length) await write(block.subarray(head.length, len));
  }
  await new Promise((resolve, reject) => out.end((err) => (err ? reject(err) : resolve())));
  return hash.digest('hex');
}

function sha256File(file) {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file, { highWaterMark: 4 * MiB })
      .on('data', (b) => hash.update(b))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/** Writes `count` files of `bytes` random bytes under `dir` (100 per subdirectory); returns treeDigest(dir). */
function generateTree(dir, count, bytes) {
  for (let i = 0; i < count; i++) {
    const sub = path.join(dir, `d${String(Math.floor(i / 100)).padStart(3, '0')}`);
    if (i % 100 === 0) mkdirSync(sub, { recursive: true });
    writeFileSync(path.join(sub, `f${String(i).padStart(5, '0')}.bin`), randomFillSync(Buffer.allocUnsafe(bytes)));
  }
  return treeDigest(dir);
}

/** SHA-256 over every file's relative path and content, in sorted order: equal trees, equal digests. */
function treeDigest(dir) {
  const hash = createHash('sha256');
  const walk = (rel) => {
    for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const r = path.join(rel, e.name);
      if (e.isDirectory()) walk(r);
      else hash.update(`${r}\0`).update(createHash('sha256').update(readFileSync(path.join(dir, r))).digest());
    }
  };
  walk('');
  return hash.digest('hex');
}

function freeBytes(dir) {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

/**
 * Writes and deletes `bytes` of scratch data. On a VM, the first write into guest memory the host
 * has never backed is an order of magnitude slower (measured here: 416 MB/s for the first 1 GiB
 * into the page cache, ~6000 MB/s after); whichever run got fresh pages would lose. Pages freed by
 * the delete are reused by the runs that follow.
 */
async function warmPageCache(bytes) {
  const scratch = path.join(tmp, 'warm-up');
  const buf = Buffer.alloc(8 * MiB, 0x5a);
  const fh = await open(scratch, 'w');
  try {
    for (let at = 0; at < bytes; at += buf.length) await fh.write(buf, 0, Math.min(buf.length, bytes - at), at);
  } finally {
    await fh.close();
  }
  rmSync(scratch, { force: true });
}

/**
 * The previous run's output is deleted right before the next run starts its clock, not after it
 * was verified: every run then starts with the same amount of just-freed (still host-backed)
 * memory for its page cache, whatever came before it. See docs/benchmarks.md, "page cache".
 */
let previousOutput;

function keepOutput(p) {
  previousOutput = p;
}

function dropPreviousOutput() {
  if (previousOutput) rmSync(previousOutput, { recursive: true, force: true });
  previousOutput = undefined;
}

/**
 * Where a 10,000-file run writes its tree: a fresh ext4 filesystem of its own (a loop device on
 * a file in /dev/shm) when we are root and have mkfs.ext4, else a plain directory in the temp dir.
 * Why: this VM's root ext4 has no journal, and without one ext4 checks each inode it allocates
 * against recent deletions (`recently_deleted()`, fs/ext4/ialloc.c); once tens of thousands of
 * files were created and deleted there, creating 10,000 more cost either tool 3–5 s of system
 * time (perf), growing from run to run. A fresh filesystem gives every run the same start.
 */
let treeFsWhy;
function treeFs() {
  if (treeFsWhy === undefined) {
    if (smoke) treeFsWhy = '--smoke: a plain directory in the temp dir';
    else if (process.getuid?.() !== 0) treeFsWhy = 'not root: a plain directory in the temp dir';
    else if (!have('mkfs.ext4') || !have('losetup')) treeFsWhy = 'mkfs.ext4 or losetup missing: a plain directory in the temp dir';
    else if (!existsSync('/dev/shm')) treeFsWhy = 'no /dev/shm: a plain directory in the temp dir';
    else treeFsWhy = '';
  }
  return treeFsWhy === '';
}

/** Where the tree runs write, as logged and recorded in the JSON. */
const treeFsWhere = () => (treeFs() ? 'a fresh ext4 per run (loop device on /dev/shm)' : treeFsWhy);

const mounts = [];
/** A directory for one tree output: the root of a fresh filesystem if possible (see treeFs). */
function treeOutputDir(name) {
  const dir = path.join(tmp, name);
  mkdirSync(dir, { recursive: true });
  if (!treeFs()) return dir;
  try {
    mounts.push(mountFreshExt4(dir, name));
  } catch (err) {
    treeFsWhy = `could not mount a fresh ext4 (${err.message}): a plain directory in the temp dir`;
  }
  return dir;
}

function unmountTrees() {
  for (const mount of mounts.splice(0)) unmountExt4(mount); // lazily if a killed receiver still holds it
}

/** Flushes dirty pages so one run's writeback does not land in the next run's timing. */
function settle() {
  spawnSync('sync');
}

// ---------------------------------------------------------------------------------------------
// Anchors: socat, nc, magic-wormhole

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/**
 * True if `cmd` is installed, else (not in --smoke) tries `apt-get install -y PKG` and says so.
 * Returns `true` or the reason it is missing.
 */
function ensureTool(cmd, pkg, check = () => true) {
  if (have(cmd) && check()) return true;
  if (have(cmd)) return `${cmd} is installed but is not ${pkg}`;
  if (smoke) return `${cmd} is not installed (--smoke installs nothing)`;
  log(`${cmd} is not installed: running \`apt-get install -y ${pkg}\` (the ${cmd} baseline needs it)`);
  const r = spawnSync('apt-get', ['install', '-y', pkg], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status === 0 && have(cmd) && check()) return true;
  return `${cmd} is not installed and \`apt-get install -y ${pkg}\` failed (not root, or no package source?)`;
}

function toolVersion(cmd, args, re) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  const m = re.exec(`${r.stdout}${r.stderr}`);
  return m ? m[1] : null;
}

/**
 * One plain copy over loopback: the receiver listens (`recvArgs`, its stdout into `out` when
 * `toStdout`), then the sender is started (`sendArgs`, the source on its stdin when `fromStdin`).
 * Time from starting the sender to the receiver's exit.
 */
async function runCopy(tool, { recvArgs, sendArgs, toStdout = false, fromStdin = false }, src, size, expectedSha, n) {
  const out = path.join(tmp, `${tool}-out-${n}`);
  const port = await freePort();
  const outFd = toStdout ? openSync(out, 'w') : undefined;
  let recv;
  try {
    recv = start(tool, recvArgs(port, out), {
      rssFile: path.join(tmp, `rss-${tool}-recv-${n}`),
      stdio: ['ignore', outFd ?? 'pipe', 'pipe'],
    });
  } finally {
    if (outFd !== undefined) closeSync(outFd);
  }
  await waitListening(port, recv);
  dropPreviousOutput();
  const inFd = fromStdin ? openSync(src, 'r') : undefined;
  const t0 = performance.now();
  let send;
  try {
    send = start(tool, sendArgs(port, src), {
      rssFile: path.join(tmp, `rss-${tool}-send-${n}`),
      stdio: [inFd ?? 'ignore', 'pipe', 'pipe'],
    });
  } finally {
    if (inFd !== undefined) closeSync(inFd);
  }
  let results;
  try {
    results = await withTimeout(Promise.all([send.exited, recv.exited]), RUN_TIMEOUT_MS, tool);
  } catch (err) {
    killGroup(send.child);
    killGroup(recv.child);
    throw err;
  }
  const [s, r] = results;
  const seconds = (r.at - t0) / 1000;
  if (s.code !== 0 || r.code !== 0) throw new Error(`${tool} failed (sender ${s.code}, receiver ${r.code}): ${send.stderr}${recv.stderr}`);
  const sha = await sha256File(out);
  keepOutput(out);
  if (sha !== expectedSha) throw new Error(`${tool}: received file differs from the source`);
  return { seconds, mbps: size / MB / seconds, senderKb: send.peakKb(), receiverKb: recv.peakKb(), cpu: [send.cpuSeconds(), recv.cpuSeconds()] };
}

const SOCAT = {
  recvArgs: (port, out) => ['-b', '131072', '-u', `TCP-LISTEN:${port},reuseaddr`, `OPEN:${out},creat,trunc`],
  sendArgs: (port, src) => ['-b', '131072', '-u', `OPEN:${src}`, `TCP:127.0.0.1:${port}`],
};

/**
 * A directory as a plain copy: `tar c -C PARENT NAME | socat … TCP:…` into
 * `socat TCP-LISTEN:… STDOUT | tar x -C OUT`. Timed like runCopy (sender start → receiver exit).
 */
async function runTarSocat(srcDir, expectedDigest, n) {
  const out = treeOutputDir(`tar-out-${n}`);
  const port = await freePort();
  const recv = start('sh', ['-c', `socat -b 131072 -u TCP-LISTEN:${port},reuseaddr STDOUT | tar x -C '${out}'`], { rssFile: path.join(tmp, `rss-tar-recv-${n}`) });
  await waitListening(port, recv);
  settle(); // earlier writeback must not land in this run's time
  const t0 = performance.now();
  const send = start('sh', ['-c', `tar c -C '${path.dirname(srcDir)}' '${path.basename(srcDir)}' | socat -b 131072 -u STDIN TCP:127.0.0.1:${port}`], { rssFile: path.join(tmp, `rss-tar-send-${n}`) });
  const [s, r] = await bothExited(send, recv, 'tar | socat');
  const seconds = (r.at - t0) / 1000;
  if (s.code !== 0 || r.code !== 0) throw new Error(`tar | socat failed (sender ${s.code}, receiver ${r.code}): ${send.stderr}${recv.stderr}`);
  const digest = treeDigest(path.join(out, path.basename(srcDir)));
  unmountTrees();
  if (digest !== expectedDigest) throw new Error('tar | socat: received tree differs from the source');
  return { seconds, senderKb: send.peakKb(), receiverKb: recv.peakKb(), cpu: [send.cpuSeconds(), recv.cpuSeconds()] };
}

/** magic-wormhole: true, or why it is not run (see bench/wormhole.mjs). */
function wormholeAvailable() {
  if (smoke) return 'not part of --smoke';
  if (argv['no-wormhole']) return '--no-wormhole';
  return wormholeMissing() ?? true;
}

/**
 * One wormhole transfer inside the lab's namespace, both ends started at once with a fixed code:
 * `wormhole` (Python; both listen, so it goes direct), `wormhole-relay` (both `--no-listen`: only
 * the transit relay is left) or `wormhole-william` (Go; direct). Time from starting both to both
 * exiting: both start-ups and the rendezvous (PAKE) round trips included, as ours includes the
 * receiver's start-up, login and the offer's round trips. `relayCpu`: the transit relay's CPU
 * seconds during the run.
 */
async function runWormhole(lab, kind, src, size, expected, n, tree = false) {
  const label = `${kind}-${n}`;
  const outDir = tree ? treeOutputDir(`${label}-out`) : path.join(tmp, `${label}-out`);
  mkdirSync(outDir, { recursive: true });
  const out = path.join(outDir, path.basename(src));
  const code = `${4 + (n % 90)}-bench-${randomFillSync(Buffer.alloc(6)).toString('hex')}`;
  const william = kind === 'wormhole-william';
  const noListen = kind === 'wormhole-relay' ? ['--no-listen'] : [];
  const global = william ? ['wormhole-william', '--relay-url', lab.mailboxUrl] : ['wormhole', '--relay-url', lab.mailboxUrl, '--transit-helper', lab.transit];
  const sendArgv = lab.exec([...global, 'send', ...noListen, '--hide-progress', '--code', code, src]);
  const recvArgv = william
    ? lab.exec([...global, 'receive', '--hide-progress', code])
    : lab.exec([...global, 'receive', ...noListen, '--hide-progress', '--accept-file', '--output-file', out, code]);
  if (tree) settle();
  else dropPreviousOutput();
  const cpu0 = cpuSecondsOf(lab.relayPid);
  const t0 = performance.now();
  const send = start(sendArgv[0], sendArgv[1], { rssFile: path.join(tmp, `rss-${label}-send`) });
  // wormhole-william asks "ok? (y/N)" and writes into its working directory.
  const recv = start(recvArgv[0], recvArgv[1], { rssFile: path.join(tmp, `rss-${label}-recv`), ...(william ? { input: 'y\n', cwd: outDir } : {}) });
  const [s, r] = await bothExited(send, recv, kind);
  const seconds = (Math.max(s.at, r.at) - t0) / 1000;
  const relayCpu = cpuSecondsOf(lab.relayPid) - cpu0;
  if (s.code !== 0 || r.code !== 0) throw new Error(`${kind} failed (send ${s.code}, receive ${r.code}): ${send.stdout}${send.stderr}${recv.stdout}${recv.stderr}`);
  // Python wormhole names its connection ("Sending (->relay:tcp:…)"); wormhole-william does not,
  // so its path is read from the transit relay's CPU (a relayed GiB costs it ≥ 0.5 s).
  const said = `${send.stdout}${send.stderr}${recv.stdout}${recv.stderr}`;
  const via = william ? (relayCpu > 0.25 * (size / GiB) ? 'relay' : 'direct') : /->relay:|<-relay:|relay:tcp/.test(said) ? 'relay' : 'direct';
  const sha = tree ? treeDigest(out) : await sha256File(out);
  if (tree) unmountTrees();
  else keepOutput(outDir);
  if (sha !== expected) throw new Error(`${kind}: received ${tree ? 'tree' : 'file'} differs from the source`);
  return { seconds, mbps: size / MB / seconds, via, relayCpu, senderKb: send.peakKb(), receiverKb: recv.peakKb(), cpu: [send.cpuSeconds(), recv.cpuSeconds()] };
}

// ---------------------------------------------------------------------------------------------
// chat

function chatEnv(home, server) {
  const env = { ...process.env, CHAT_HOME: home, CHAT_SERVER: server, CHAT_PASSWORD: PASSWORD, NO_COLOR: '1' };
  return env;
}

async function startRelay() {
  const data = path.join(tmp, 'relay-data');
  mkdirSync(data, { recursive: true });
  // The relay's per-pair rate and per-user byte budget lifted: the benchmark measures the pipe, not its caps.
  const caps = ['--relay-rate', '0', '--relay-bytes-per-user', '0'];
  const relay = start(process.execPath, [CHAT_BIN, 'serve', '--host', '127.0.0.1', '--port', '0', '--data', data, '--quiet', ...caps]);
  const m = await waitForLine(relay, /chat server listening on (\S+):(\d+)/, 'chat serve');
  return { relay, server: `${m[1]}:${m[2]}` };
}

async function register(user, server) {
  const home = path.join(tmp, `home-${user}`);
  mkdirSync(home, { recursive: true });
  const p = start(process.execPath, [CHAT_BIN, 'register', user], { env: chatEnv(home, server) });
  const { code } = await withTimeout(p.exited, 30_000, `chat register ${user}`);
  if (code !== 0) throw new Error(`chat register ${user} failed (${code}): ${p.stdout}${p.stderr}`);
  return home;
}

async function runOurs(ctx, src, size, expectedSha, label, force = 'auto', tree = false, bin = CHAT_BIN) {
  const outDir = tree ? treeOutputDir(`ours-out-${label}`) : path.join(tmp, `ours-out-${label}`);
  mkdirSync(outDir, { recursive: true });
  const local = ['--bind', '127.0.0.1', '--advertise', '127.0.0.1', '--advertise-only', '--via', force];
  const send = start(
    process.execPath,
    [...PROFILE, bin, 'send-file', 'bob', src, ...local, '--json'],
    { env: chatEnv(ctx.aliceHome, ctx.server), rssFile: path.join(tmp, `rss-ours-send-${label}`) },
  );
  await waitForLine(send, /"event":"offer"/, 'chat send-file');
  if (tree) settle(); // earlier writeback must not land in this run's time
  else dropPreviousOutput();
  const cpu0 = cpuSecondsOf(ctx.serverPid);
  const t0 = performance.now();
  const recv = start(process.execPath, [...PROFILE, bin, 'accept', '--dir', outDir, '--json', ...local], {
    env: chatEnv(ctx.bobHome, ctx.server),
    rssFile: path.join(tmp, `rss-ours-recv-${label}`),
  });
  const [s, r] = await bothExited(send, recv, 'chat send-file/accept');
  const seconds = (Math.max(s.at, r.at) - t0) / 1000;
  const relayCpu = cpuSecondsOf(ctx.serverPid) - cpu0; // the server: control channel, and every byte when relayed
  if (s.code !== 0 || r.code !== 0) {
    throw new Error(`chat failed (send-file ${s.code}, accept ${r.code})\n--- send-file\n${send.stdout}${send.stderr}\n--- accept\n${recv.stdout}${recv.stderr}`);
  }
  // The receiver's own timing (first byte requested → verified), without process start-up and relay round trips.
  const done = recv.stdout.split('\n').find((l) => l.includes('"event":"done"'));
  const transferSeconds = done ? JSON.parse(done).elapsedMs / 1000 : NaN;
  // Which path won the race (direct, reverse or relay; --via auto), when the CLI reports it.
  const connected = recv.stdout.split('\n').find((l) => l.includes('"event":"connected"'));
  const via = connected ? (JSON.parse(connected).via ?? 'direct') : '?';
  const sealed = !recv.stdout.includes('"message":"unencrypted"'); // accept warns when the sender does not encrypt (v1)
  const received = path.join(outDir, path.basename(src));
  const sha = tree ? treeDigest(received) : await sha256File(received);
  if (tree) unmountTrees();
  else keepOutput(outDir);
  if (sha !== expectedSha) throw new Error(`ours: received file differs from the source (${sha} vs ${expectedSha})`);
  return {
    seconds,
    mbps: size / MB / seconds,
    transferMbps: size / MB / transferSeconds,
    via,
    sealed,
    relayCpu,
    senderKb: send.peakKb(),
    receiverKb: recv.peakKb(),
    cpu: [send.cpuSeconds(), recv.cpuSeconds()],
  };
}

// ---------------------------------------------------------------------------------------------
// Report

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};
const max = (xs) => Math.max(...xs);
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : '-');
const r1 = (x) => (Number.isFinite(x) ? Math.round(x * 10) / 10 : null);
const r3 = (x) => (Number.isFinite(x) ? Math.round(x * 1000) / 1000 : null);
const mbOfKb = (kb) => (kb * 1024) / MB;
const sizeLabel = (bytes) => (bytes >= GiB ? `${bytes / GiB} GiB` : `${bytes / MiB} MiB`);

// ---------------------------------------------------------------------------------------------

/** Every run, failed ones too, as written to the JSON. */
const records = [];
let failures = 0;

/** Runs one measurement; a failure is recorded and logged, and makes the exit code non-zero. */
async function attempt(meta, fn) {
  try {
    const r = await fn();
    const rec = {
      ...meta,
      ok: true,
      bytes: meta.bytes,
      seconds: Math.round(r.seconds * 1e6) / 1e6,
      mbps: r1(r.mbps),
      ...(r.transferMbps !== undefined ? { transferMbps: r1(r.transferMbps), path: r.via, encrypted: r.sealed } : r.via ? { path: r.via } : {}),
      ...(Number.isFinite(r.relayCpu) ? { relayCpuSeconds: r3(r.relayCpu) } : {}),
      peakRssKb: { sender: r.senderKb ?? null, receiver: r.receiverKb ?? null },
      peakRssMB: { sender: r.senderKb ? r1(mbOfKb(r.senderKb)) : null, receiver: r.receiverKb ? r1(mbOfKb(r.receiverKb)) : null },
      cpuSeconds: { sender: r3(r.cpu[0]), receiver: r3(r.cpu[1]) },
      checksum: 'sha256 match',
    };
    records.push(rec);
    return { ...r, rec };
  } catch (err) {
    failures++;
    records.push({ ...meta, ok: false, error: String(err?.message ?? err).slice(0, 2000) });
    log(`  ${meta.tool}${meta.via ? ` --via ${meta.via}` : ''} (${sizeLabel(meta.bytes)}, round ${meta.round}) FAILED: ${err?.message ?? err}`);
    return undefined;
  }
}

const okRuns = (tool, scenario) => records.filter((r) => r.ok && r.tool === tool && r.scenario === scenario);

async function main() {
  const started = new Date();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'chat-bench-'));
  const outDir = argv.out ? path.resolve(argv.out) : smoke ? await mkdtemp(path.join(os.tmpdir(), 'chat-bench-results-')) : path.join(ROOT, 'bench', 'results');
  const machine = machineInfo();
  const git = gitInfo(ROOT);
  log(`chat transfer benchmark (${MODE}) ${started.toISOString()}: ${sizeLabel(SIZE)} × ${PAIRS} pair(s), ${RUN_FILES ? `${FILES} files × ${FILE_PAIRS} pair(s)` : 'no files'}, temp dir ${tmp}`);
  log(`${machine.cpu}, ${machine.cores} core(s), node ${machine.node}, load ${machine.loadAverage.join(' ')}, commit ${git.commit}${git.srcModified ? ' (src/ modified)' : ''}`);
  log(`peak RSS and CPU via ${TIME_BIN ? '/usr/bin/time -f "%M %U %S"' : '/proc/<pid>/status VmHWM polling (no CPU figures)'}`);

  // Which anchors run, or why not.
  const notRun = {};
  const socatOk = ensureTool('socat', 'socat');
  if (socatOk !== true) notRun.socat = socatOk;
  const tarOk = socatOk === true && have('tar') ? true : `needs tar and socat${socatOk === true ? ' (tar missing)' : ''}`;
  if (RUN_FILES && tarOk !== true) notRun['tar+socat'] = tarOk;
  if (!RUN_FILES) notRun.files = '--no-files';
  const wormholeOk = wormholeAvailable();
  if (wormholeOk !== true) notRun.wormhole = wormholeOk;
  if (!RUN_PATHS) notRun.paths = MODE === 'full' ? '--no-paths' : `not part of --${MODE}`;
  if (!RUN_BIG) notRun.big = MODE === 'full' ? '--no-4g' : `not part of --${MODE}`;
  const williamOk = wormholeOk !== true ? `needs the wormhole lab (${wormholeOk})` : haveWilliam() ? true : '`wormhole-william` is not installed (apt-get install -y wormhole-william)';
  if (williamOk !== true) notRun['wormhole-william'] = williamOk;
  const RUN_RELAY = !argv['no-relay'] && PAIRS > 0;
  if (!RUN_RELAY) notRun.relay = argv['no-relay'] ? '--no-relay' : 'no 1 GiB pairs';
  const tools = {
    socat: socatOk === true ? toolVersion('socat', ['-V'], /socat version (\S+)/) : null,
    tar: have('tar') ? toolVersion('tar', ['--version'], /tar\)? (\S+)/) : null,
    wormhole: wormholeOk === true ? toolVersion('wormhole', ['--version'], /(\d+\.\d+\S*)/) : null,
    'wormhole-william': williamOk === true ? toolVersion('dpkg-query', ['-W', '-f', '${Version}', 'wormhole-william'], /(\S+)/) : null,
    'magic-wormhole-transit-relay': wormholeOk === true ? toolVersion('dpkg-query', ['-W', '-f', '${Version}', 'magic-wormhole-transit-relay'], /(\S+)/) : null,
  };
  for (const [k, why] of Object.entries(notRun)) log(`${k}: not run: ${why}`);

  let t = performance.now();
  const src = path.join(tmp, 'source.bin');
  let sha;
  if (PAIRS > 0) {
    await warmPageCache(3 * SIZE);
    log(`page-cache warm-up: wrote and deleted ${(3 * SIZE) / MiB} MiB in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    t = performance.now();
    sha = await generate(src, SIZE);
    log(`generated ${src} (${SIZE / MiB} MiB, sha256 ${sha.slice(0, 16)}…) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }

  const { relay, server } = await startRelay();
  const ctx = { server, serverPid: relay.child.pid, aliceHome: await register('alice', server), bobHome: await register('bob', server) };
  let lab;
  if (wormholeOk === true) {
    try {
      lab = await startWormholeLab(tmp, log);
      stopLab = lab.stop;
    } catch (err) {
      notRun.wormhole = `the loopback-only lab did not start: ${err.message}`;
      notRun['wormhole-william'] = notRun.wormhole;
      log(`wormhole: not run: ${notRun.wormhole}`);
    }
  }
  const wormholes = lab ? ['wormhole', ...(williamOk === true ? ['wormhole-william'] : [])] : [];
  log(`chat serve (TLS) on ${server}; alice and bob registered (certificate pinned on first use)`);

  const cpuLine = (r, bytes) => `CPU s/GiB sender ${f2(r.cpu[0] / (bytes / GiB))}, receiver ${f2(r.cpu[1] / (bytes / GiB))}`;
  const main = { scenario: 'main', bytes: SIZE };
  // Each pair runs its steps in one order in odd rounds and in the reverse order in even ones, so
  // that no tool is always the one that runs after another (this VM hands freed memory back to
  // its host within seconds, and whichever run gets fresh pages pays for them: see "Page cache").
  for (let i = 0; i < PAIRS; i++) {
    const round = i + 1;
    const steps = [];
    if (socatOk === true) {
      steps.push(async () => {
        const r = await attempt({ tool: 'socat', round, ...main }, () => runCopy('socat', SOCAT, src, SIZE, sha, i));
        if (r) log(`  pair ${round} socat: ${f1(r.mbps)} MB/s (${r.seconds.toFixed(2)} s), ${cpuLine(r, SIZE)}`);
      });
    }
    for (const kind of wormholes) {
      steps.push(async () => {
        const r = await attempt({ tool: kind, round, ...main }, () => runWormhole(lab, kind, src, SIZE, sha, i));
        if (r) log(`  pair ${round} ${kind}: ${f1(r.mbps)} MB/s (${r.seconds.toFixed(2)} s; via ${r.via}), ${cpuLine(r, SIZE)}`);
      });
    }
    // With --baseline, the other build runs right before ours (so right after it in even rounds).
    for (const tool of oursTools()) {
      steps.push(async () => {
        const bin = tool === 'baseline' ? BASE_BIN : CHAT_BIN;
        const r = await attempt({ tool, round, via: 'auto', ...main }, () => runOurs(ctx, src, SIZE, sha, `${tool}-${i}`, 'auto', false, bin));
        if (r) log(`  pair ${round} ${tool === 'ours' ? 'ours:' : 'baseline:'}  ${f1(r.mbps)} MB/s (${r.seconds.toFixed(2)} s; transfer alone ${f1(r.transferMbps)} MB/s; via ${r.via}${r.sealed ? '' : ', NOT encrypted'}), RSS sender ${f1(mbOfKb(r.senderKb))} MB, receiver ${f1(mbOfKb(r.receiverKb))} MB, ${cpuLine(r, SIZE)}`);
      });
    }
    // Through each relay: wormhole's transit relay (both --no-listen) and our server (--via relay).
    if (RUN_RELAY && lab) {
      steps.push(async () => {
        const w = await attempt({ tool: 'wormhole', round, scenario: 'relay', bytes: SIZE }, () => runWormhole(lab, 'wormhole-relay', src, SIZE, sha, i));
        if (w) log(`  pair ${round} wormhole via its transit relay: ${f1(w.mbps)} MB/s (via ${w.via}), ${cpuLine(w, SIZE)}, transit relay ${f2(w.relayCpu / (SIZE / GiB))} CPU-s/GiB`);
      });
    }
    if (RUN_RELAY) {
      steps.push(async () => {
        const o = await attempt({ tool: 'ours', round, via: 'relay', scenario: 'relay', bytes: SIZE }, () => runOurs(ctx, src, SIZE, sha, `relay-${i}`, 'relay'));
        if (o) log(`  pair ${round} ours --via relay: ${f1(o.mbps)} MB/s (transfer alone ${f1(o.transferMbps)} MB/s; via ${o.via}), ${cpuLine(o, SIZE)}, server ${f2(o.relayCpu / (SIZE / GiB))} CPU-s/GiB`);
      });
    }
    if (round % 2 === 0) steps.reverse();
    for (const step of steps) {
      settle();
      await step();
    }
  }

  // Each path forced (§T8), encrypted, one run each: direct, reverse (the sender connects back), relay (TLS).
  if (RUN_PATHS) {
    for (const via of ['direct', 'reverse', 'relay']) {
      settle();
      const r = await attempt({ tool: 'ours', scenario: 'path', round: 1, via, bytes: SIZE }, () => runOurs(ctx, src, SIZE, sha, `via-${via}`, via));
      if (r) log(`  --via ${via}: ${f1(r.mbps)} MB/s (transfer alone ${f1(r.transferMbps)} MB/s; path ${r.via}${r.sealed ? ', encrypted' : ', NOT encrypted'}), RSS sender ${f1(mbOfKb(r.senderKb))} MB, receiver ${f1(mbOfKb(r.receiverKb))} MB`);
    }
  }
  rmSync(src, { force: true });
  dropPreviousOutput();

  // Many small files: the same tree through tar | socat and through ours, alternating.
  const filesBytes = FILES * FILE_BYTES;
  if (RUN_FILES) {
    const treeDir = path.join(tmp, 'tree-src', 'photos');
    t = performance.now();
    const digest = generateTree(treeDir, FILES, FILE_BYTES);
    log(`generated ${FILES} files of ${FILE_BYTES / 1024} KiB in ${((performance.now() - t) / 1000).toFixed(1)} s; tree runs write to ${treeFsWhere()}`);
    const files = { scenario: 'files', bytes: filesBytes, files: FILES };
    for (let i = 0; i < FILE_PAIRS; i++) {
      const round = i + 1;
      const steps = []; // reversed in even rounds, as the 1 GiB pairs
      if (tarOk === true) {
        steps.push(async () => {
          const r = await attempt({ tool: 'tar+socat', round, ...files }, () => runTarSocat(treeDir, digest, i).then((x) => ({ ...x, mbps: filesBytes / MB / x.seconds })));
          if (r) log(`  files pair ${round} tar+socat: ${r.seconds.toFixed(2)} s (${f1(FILES / r.seconds)} files/s)`);
        });
      }
      if (lab) {
        steps.push(async () => {
          const w = await attempt({ tool: 'wormhole', round, ...files }, () => runWormhole(lab, 'wormhole', treeDir, filesBytes, digest, 100 + i, true));
          if (w) log(`  files pair ${round} wormhole:  ${w.seconds.toFixed(2)} s (${f1(FILES / w.seconds)} files/s; via ${w.via})`);
        });
      }
      for (const tool of oursTools()) {
        steps.push(async () => {
          const bin = tool === 'baseline' ? BASE_BIN : CHAT_BIN;
          const r = await attempt({ tool, round, via: 'auto', ...files }, () => runOurs(ctx, treeDir, filesBytes, digest, `${tool}-files-${i}`, 'auto', true, bin));
          if (r) log(`  files pair ${round} ${tool === 'ours' ? 'ours:    ' : 'baseline:'}  ${r.seconds.toFixed(2)} s (${f1(FILES / r.seconds)} files/s; via ${r.via}), RSS sender ${f1(mbOfKb(r.senderKb))} MB, receiver ${f1(mbOfKb(r.receiverKb))} MB, CPU s sender ${f2(r.cpu[0])}, receiver ${f2(r.cpu[1])}`);
        });
      }
      if (round % 2 === 0) steps.reverse();
      for (const step of steps) {
        settle();
        await step();
      }
    }
    rmSync(path.dirname(treeDir), { recursive: true, force: true });
    dropPreviousOutput();
  }

  if (RUN_BIG) {
    const free = freeBytes(tmp);
    if (free < BIG_MIN_FREE) {
      notRun.big = `only ${(free / GiB).toFixed(1)} GiB free in ${tmp} (needs 10 GiB)`;
      log(`4 GiB run skipped: ${notRun.big}`);
    } else {
      const bigSrc = path.join(tmp, 'source-4g.bin');
      t = performance.now();
      const bigSha = await generate(bigSrc, BIG);
      log(`generated ${bigSrc} (4 GiB) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      settle();
      const r = await attempt({ tool: 'ours', scenario: 'big', round: 1, via: 'auto', bytes: BIG }, () => runOurs(ctx, bigSrc, BIG, bigSha, '4g'));
      if (r) log(`  4 GiB ours: ${f1(r.mbps)} MB/s (via ${r.via}), RSS sender ${f1(mbOfKb(r.senderKb))} MB, receiver ${f1(mbOfKb(r.receiverKb))} MB`);
      rmSync(bigSrc, { force: true });
    }
  }

  killGroup(relay.child);
  await withTimeout(relay.exited, 10_000, 'chat serve').catch(() => killGroup(relay.child, 'SIGKILL'));
  stopLab?.();
  stopLab = undefined;

  // Pairs: ours / anchor within each round, then the median of those ratios.
  const label = sizeLabel(SIZE);
  const pairRatios = (scenario, anchor, key = 'mbps', anchorScenario = scenario, tool = 'ours') => {
    const out = [];
    for (const o of okRuns(tool, scenario)) {
      const a = okRuns(anchor, anchorScenario).find((x) => x.round === o.round);
      if (a) out.push(key === 'mbps' ? o.mbps / a.mbps : a.seconds / o.seconds);
    }
    return out;
  };
  const perGiB = (runs, side, bytes) => (runs.length && runs.every((r) => Number.isFinite(r.cpuSeconds[side])) ? median(runs.map((r) => r.cpuSeconds[side] / (bytes / GiB))) : NaN);
  const peak = (runs, side) => (runs.length && runs.every((r) => r.peakRssKb[side]) ? mbOfKb(max(runs.map((r) => r.peakRssKb[side]))) : NaN);
  const med = (runs, k = 'mbps') => (runs.length ? median(runs.map((r) => r[k])) : NaN);
  const names = { socat: 'socat -b 131072', 'tar+socat': 'tar c | socat → socat | tar x', wormhole: 'magic-wormhole', 'wormhole-william': 'wormhole-william', ours: 'chat send-file/accept', baseline: `baseline (${argv.baseline ?? '-'})` };
  const relayPerGiB = (runs, bytes) => (runs.length && runs.every((r) => Number.isFinite(r.relayCpuSeconds)) ? median(runs.map((r) => r.relayCpuSeconds / (bytes / GiB))) : NaN);

  const rows = [['', 'size', 'runs', 'median MB/s', 'CPU s/GiB send', 'CPU s/GiB recv', 'CPU s/GiB relay', 'peak RSS send MB', 'peak RSS recv MB']];
  for (const tool of ['socat', 'wormhole', 'wormhole-william', 'baseline', 'ours']) {
    const runs = okRuns(tool, 'main');
    if (runs.length) rows.push([names[tool], label, runs.length, f1(med(runs)), f2(perGiB(runs, 'sender', SIZE)), f2(perGiB(runs, 'receiver', SIZE)), '', f1(peak(runs, 'sender')), f1(peak(runs, 'receiver'))]);
  }
  for (const tool of ['wormhole', 'ours']) {
    const runs = okRuns(tool, 'relay');
    if (runs.length) rows.push([`${names[tool]} via ${tool === 'ours' ? 'our server' : 'its transit relay'}`, label, runs.length, f1(med(runs)), f2(perGiB(runs, 'sender', SIZE)), f2(perGiB(runs, 'receiver', SIZE)), f2(relayPerGiB(runs, SIZE)), f1(peak(runs, 'sender')), f1(peak(runs, 'receiver'))]);
  }
  for (const r of records.filter((x) => x.ok && x.scenario === 'path')) rows.push([`  ours --via ${r.via}`, label, 1, f1(r.mbps), f2(r.cpuSeconds.sender / (SIZE / GiB)), f2(r.cpuSeconds.receiver / (SIZE / GiB)), f2(r.relayCpuSeconds / (SIZE / GiB)), f1(r.peakRssMB.sender), f1(r.peakRssMB.receiver)]);
  for (const r of records.filter((x) => x.ok && x.scenario === 'big')) rows.push([`  ours, 4 GiB`, sizeLabel(r.bytes), 1, f1(r.mbps), f2(r.cpuSeconds.sender / 4), f2(r.cpuSeconds.receiver / 4), '', f1(r.peakRssMB.sender), f1(r.peakRssMB.receiver)]);
  for (const tool of ['tar+socat', 'wormhole', 'baseline', 'ours']) {
    const runs = okRuns(tool, 'files');
    if (runs.length) rows.push([`${names[tool]}, ${FILES} files`, `${(filesBytes / MiB).toFixed(0)} MiB`, runs.length, f1(med(runs)), f2(perGiB(runs, 'sender', filesBytes)), f2(perGiB(runs, 'receiver', filesBytes)), '', f1(peak(runs, 'sender')), f1(peak(runs, 'receiver'))]);
  }
  log();
  log(table(rows));

  const mainRatios = pairRatios('main', 'socat');
  const filesRatios = pairRatios('files', 'tar+socat', 'seconds');
  const scenarios = [];
  if (mainRatios.length) scenarios.push({ scenario: `${label}, ours / socat per pair`, ratios: mainRatios.map(r3), median: r3(median(mainRatios)) });
  if (filesRatios.length) scenarios.push({ scenario: `${FILES} files, ours / tar+socat per pair (time⁻¹)`, ratios: filesRatios.map(r3), median: r3(median(filesRatios)) });
  const wormholeRatios = pairRatios('main', 'wormhole');
  const williamRatios = pairRatios('main', 'wormhole-william');
  const relayRatios = pairRatios('relay', 'wormhole');
  const filesWormholeRatios = pairRatios('files', 'wormhole', 'seconds');
  // Relay CPU per relayed GiB, per pair: our server's / wormhole's transit relay's.
  const relayCpuRatios = [];
  for (const o of okRuns('ours', 'relay')) {
    const w = okRuns('wormhole', 'relay').find((x) => x.round === o.round);
    if (w && Number.isFinite(o.relayCpuSeconds) && w.relayCpuSeconds > 0) relayCpuRatios.push(o.relayCpuSeconds / w.relayCpuSeconds);
  }
  if (wormholeRatios.length) scenarios.push({ scenario: `${label}, ours / magic-wormhole per pair (both direct)`, ratios: wormholeRatios.map(r3), median: r3(median(wormholeRatios)) });
  if (williamRatios.length) scenarios.push({ scenario: `${label}, ours / wormhole-william per pair (ours direct; wormhole-william as it chose: its transit relay on loopback)`, ratios: williamRatios.map(r3), median: r3(median(williamRatios)) });
  if (relayRatios.length) scenarios.push({ scenario: `${label}, ours --via relay / magic-wormhole via its transit relay per pair`, ratios: relayRatios.map(r3), median: r3(median(relayRatios)) });
  if (relayCpuRatios.length) scenarios.push({ scenario: `${label}, relay CPU per GiB: our server / wormhole's transit relay per pair (lower is better)`, ratios: relayCpuRatios.map(r3), median: r3(median(relayCpuRatios)) });
  if (filesWormholeRatios.length) scenarios.push({ scenario: `${FILES} files, ours / magic-wormhole per pair (time⁻¹)`, ratios: filesWormholeRatios.map(r3), median: r3(median(filesWormholeRatios)) });
  if (BASE_BIN) {
    const pairs = [
      [`${label}, ours / baseline per pair`, pairRatios('main', 'baseline')],
      [`${label}, baseline / magic-wormhole per pair`, pairRatios('main', 'wormhole', 'mbps', 'main', 'baseline')],
      [`${FILES} files, ours / baseline per pair (time⁻¹)`, pairRatios('files', 'baseline', 'seconds')],
      [`${FILES} files, baseline / magic-wormhole per pair (time⁻¹)`, pairRatios('files', 'wormhole', 'seconds', 'files', 'baseline')],
    ];
    for (const [scenario, ratios] of pairs) if (ratios.length) scenarios.push({ scenario, ratios: ratios.map(r3), median: r3(median(ratios)) });
  }
  log();
  for (const x of scenarios) log(`${x.scenario}: ${x.ratios.map(f2).join(', ')} → median ${f2(x.median)}`);

  const oursAll = records.filter((x) => x.ok && x.tool === 'ours');
  const rssMB = oursAll.length ? mbOfKb(max(oursAll.flatMap((r) => [r.peakRssKb.sender ?? 0, r.peakRssKb.receiver ?? 0]))) : NaN;
  const judged = (value, target, ok) => ({ target, value: Number.isFinite(value) ? r3(value) : null, met: Number.isFinite(value) ? ok(value) : null });
  const targets = {
    ratioToSocat: judged(mainRatios.length ? median(mainRatios) : NaN, 0.6, (v) => v >= 0.6),
    filesRatioToTarSocat: judged(filesRatios.length ? median(filesRatios) : NaN, 0.5, (v) => v >= 0.5),
    peakRssMB: judged(rssMB, 100, (v) => v < 100),
    // issue 28
    ratioToWormhole: judged(wormholeRatios.length ? median(wormholeRatios) : NaN, 1.2, (v) => v >= 1.2),
    filesRatioToWormhole: judged(filesWormholeRatios.length ? median(filesWormholeRatios) : NaN, 1.2, (v) => v >= 1.2),
    relayRatioToWormhole: judged(relayRatios.length ? median(relayRatios) : NaN, 1.0, (v) => v >= 1.0),
    relayCpuToWormhole: judged(relayCpuRatios.length ? median(relayCpuRatios) : NaN, 1.0, (v) => v <= 1.0),
  };
  if (smoke) log('(--smoke: small files are mostly process start-up; the targets below are not judged on them)');
  const say = (what, t, fmt) => log(t.met === null ? `${what}: n/a` : `${what}: ${fmt(t.value)}  (target ${t.target}: ${t.met ? 'met' : 'NOT met'})`);
  say('median ratio ours/socat, 1 file', targets.ratioToSocat, f2);
  say('median ratio ours/tar+socat, many files', targets.filesRatioToTarSocat, f2);
  say('largest peak RSS of ours (MB)', targets.peakRssMB, f1);
  say('median ratio ours/magic-wormhole, 1 file direct', targets.ratioToWormhole, f2);
  say('median ratio ours/magic-wormhole, many files', targets.filesRatioToWormhole, f2);
  say('median ratio ours/magic-wormhole, 1 file through each relay', targets.relayRatioToWormhole, f2);
  say('median relay CPU per GiB, our server / transit relay (target: at most)', targets.relayCpuToWormhole, f2);
  for (const [k, why] of Object.entries(notRun)) log(`${k}: not run: ${why}`);
  log('MB = 10^6 bytes. ours: size / (accept start → both processes exited 0), incl. process start-up, TLS, login and relay round trips;');
  log('"transfer alone": size / the receiver\'s own elapsedMs (first request → verified). socat, tar: sender start → receiver exit.');

  const result = {
    bench: 'transfer',
    mode: MODE,
    date: started.toISOString(),
    ...git,
    machine,
    command: `node bench/transfer.mjs ${process.argv.slice(2).join(' ')}`.trim(),
    ...(BASE_BIN && { baseline: { dir: path.resolve(argv.baseline), ...gitInfo(path.resolve(argv.baseline)) } }),
    tools,
    notRun,
    config: { bytes: SIZE, pairs: PAIRS, files: RUN_FILES ? { count: FILES, bytes: FILE_BYTES, pairs: FILE_PAIRS, writtenTo: treeFsWhere() } : null, bigBytes: RUN_BIG ? BIG : null, tls: true, peakRssFrom: TIME_BIN ? '/usr/bin/time -f %M' : 'VmHWM polling', mb: 1e6 },
    runs: records,
    scenarios,
    targets,
    failures,
  };
  const file = resultFile(outDir, 'transfer', started.toISOString().slice(0, 10));
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  log(`raw results: ${file.startsWith(`${process.cwd()}${path.sep}`) ? path.relative(process.cwd(), file) : file}`);
  if (failures) {
    process.exitCode = 1;
    log(`${failures} run(s) FAILED`);
  }
}

/** ours alone, or with --baseline the other build right before it (a round's reversal makes it after). */
function oursTools() {
  return BASE_BIN ? ['baseline', 'ours'] : ['ours'];
}

/** Both ends' exits, or (past RUN_TIMEOUT_MS) both killed and an error. */
async function bothExited(send, recv, what) {
  try {
    return await withTimeout(Promise.all([send.exited, recv.exited]), RUN_TIMEOUT_MS, what);
  } catch (err) {
    killGroup(send.child);
    killGroup(recv.child);
    throw err;
  }
}

function cleanup() {
  for (const child of children) killGroup(child, 'SIGKILL');
  stopLab?.();
  unmountTrees();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}

await runMain(main, cleanup);
