#!/usr/bin/env node
// Benchmark: one big file through the real CLI path (chat send-file → chat accept over loopback)
// against socat on the same machine, in the same run, and against bench/floor.mjs (the same
// checks and AES-256-GCM sealing in a minimal Node program). See docs/benchmarks.md.
//
//   npm run bench:transfer            1 GiB × 3 runs each (alternating), then one 4 GiB run of ours
//   npm run bench:transfer -- --quick 256 MiB × 1 run, no 4 GiB run (smoke test)
//
// Plain ESM over the built CLI (bin/chat → dist/): no TypeScript runtime. Units: MB = 10^6 bytes.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, statfsSync } from 'node:fs';
import { mkdtemp, open } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CHAT_BIN = path.join(ROOT, 'bin', 'chat');
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const MB = 1e6;

const quick = process.argv.includes('--quick');
const SIZE = quick ? 256 * MiB : 1 * GiB;
const RUNS = quick ? 1 : 3;
const BIG = 4 * GiB;
const BIG_MIN_FREE = 10 * GiB;
const RUN_TIMEOUT_MS = 10 * 60_000;
const PASSWORD = 'bench-password-123';
const TIME_BIN = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
/** BENCH_PROFILE_DIR=DIR: run send-file and accept under `node --cpu-prof` (profiles land in DIR). */
const PROFILE = process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_PROFILE_DIR)}`] : [];

/** Every child we started (by pid; each leads its own process group), for cleanup. */
const children = new Set();
let tmp;

function log(line = '') {
  process.stdout.write(`${line}\n`);
}

// ---------------------------------------------------------------------------------------------
// Processes

/**
 * Spawns `cmd args` in its own process group. With GNU time available the command runs under
 * `/usr/bin/time -f %M -o FILE` (peak RSS from wait4, exact); otherwise VmHWM is polled.
 */
function start(cmd, args, { env, rssFile, stdio = ['ignore', 'pipe', 'pipe'] } = {}) {
  const argv = TIME_BIN && rssFile ? [TIME_BIN, '-f', '%M %U %S', '-o', rssFile, cmd, ...args] : [cmd, ...args];
  const child = spawn(argv[0], argv.slice(1), { env: env ?? process.env, stdio, detached: true });
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

/** Flushes dirty pages so one run's writeback does not land in the next run's timing. */
function settle() {
  spawnSync('sync');
}

// ---------------------------------------------------------------------------------------------
// socat

function ensureSocat() {
  if (spawnSync('sh', ['-c', 'command -v socat'], { stdio: 'ignore' }).status === 0) return true;
  log('socat is not installed: running `apt-get install -y socat` (baseline needs it)');
  const r = spawnSync('apt-get', ['install', '-y', 'socat'], { stdio: 'inherit' });
  if (r.status === 0 && spawnSync('sh', ['-c', 'command -v socat'], { stdio: 'ignore' }).status === 0) return true;
  log('could not install socat (not root, or no package source?): the baseline is skipped');
  return false;
}

async function runSocat(src, size, expectedSha, n) {
  const out = path.join(tmp, `socat-out-${n}`);
  const port = await freePort();
  const recv = start('socat', ['-b', '131072', '-u', `TCP-LISTEN:${port},reuseaddr`, `OPEN:${out},creat,trunc`], {
    rssFile: path.join(tmp, `rss-socat-recv-${n}`),
  });
  await waitListening(port, recv);
  dropPreviousOutput();
  const t0 = performance.now();
  const send = start('socat', ['-b', '131072', '-u', `OPEN:${src}`, `TCP:127.0.0.1:${port}`], {
    rssFile: path.join(tmp, `rss-socat-send-${n}`),
  });
  const [s, r] = await withTimeout(Promise.all([send.exited, recv.exited]), RUN_TIMEOUT_MS, 'socat');
  const seconds = (r.at - t0) / 1000;
  if (s.code !== 0 || r.code !== 0) throw new Error(`socat failed (sender ${s.code}, receiver ${r.code}): ${send.stderr}${recv.stderr}`);
  const sha = await sha256File(out);
  keepOutput(out);
  if (sha !== expectedSha) throw new Error('socat: received file differs from the source');
  return { seconds, mbps: size / MB / seconds, senderKb: send.peakKb(), receiverKb: recv.peakKb(), cpu: [send.cpuSeconds(), recv.cpuSeconds()] };
}

// ---------------------------------------------------------------------------------------------
// floor: the same per-byte work (SHA-256 + CRC-32 + AES-256-GCM on both sides) without protocol or CLI

async function runFloor(src, n) {
  const out = path.join(tmp, `floor-out-${n}`);
  dropPreviousOutput();
  const proc = start(process.execPath, [path.join(ROOT, 'bench', 'floor.mjs'), src, out], { rssFile: path.join(tmp, `rss-floor-${n}`) });
  const { code } = await withTimeout(proc.exited, RUN_TIMEOUT_MS, 'bench/floor.mjs');
  const m = /: ([\d.]+) MB\/s, ([\d.]+) s, CPU s sender ([\d.]+), receiver ([\d.]+)/.exec(proc.stdout);
  keepOutput(out);
  if (code !== 0 || !m) throw new Error(`bench/floor.mjs failed (${code}): ${proc.stdout}${proc.stderr}`);
  return { mbps: Number(m[1]), seconds: Number(m[2]), cpu: [Number(m[3]), Number(m[4])] };
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
  const relay = start(process.execPath, [CHAT_BIN, 'serve', '--host', '127.0.0.1', '--port', '0', '--data', data, '--quiet']);
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

async function runOurs(ctx, src, size, expectedSha, label, force = 'auto') {
  const outDir = path.join(tmp, `ours-out-${label}`);
  mkdirSync(outDir, { recursive: true });
  const local = ['--bind', '127.0.0.1', '--advertise', '127.0.0.1', '--advertise-only', '--via', force];
  const send = start(
    process.execPath,
    [...PROFILE, CHAT_BIN, 'send-file', 'bob', src, ...local, '--json'],
    { env: chatEnv(ctx.aliceHome, ctx.server), rssFile: path.join(tmp, `rss-ours-send-${label}`) },
  );
  await waitForLine(send, /"event":"offer"/, 'chat send-file');
  dropPreviousOutput();
  const t0 = performance.now();
  const recv = start(process.execPath, [...PROFILE, CHAT_BIN, 'accept', '--dir', outDir, '--json', ...local], {
    env: chatEnv(ctx.bobHome, ctx.server),
    rssFile: path.join(tmp, `rss-ours-recv-${label}`),
  });
  let results;
  try {
    results = await withTimeout(Promise.all([send.exited, recv.exited]), RUN_TIMEOUT_MS, 'chat send-file/accept');
  } catch (err) {
    killGroup(send.child);
    killGroup(recv.child);
    throw err;
  }
  const [s, r] = results;
  const seconds = (Math.max(s.at, r.at) - t0) / 1000;
  if (s.code !== 0 || r.code !== 0) {
    throw new Error(`chat failed (send-file ${s.code}, accept ${r.code})\n--- send-file\n${send.stdout}${send.stderr}\n--- accept\n${recv.stdout}${recv.stderr}`);
  }
  // The receiver's own timing (first byte requested → verified), without process start-up and relay round trips.
  const done = recv.stdout.split('\n').find((l) => l.includes('"event":"done"'));
  const transferSeconds = done ? JSON.parse(done).elapsedMs / 1000 : NaN;
  // Which path won the race (direct, reverse or relay; --via auto), when the CLI reports it.
  const connected = recv.stdout.split('\n').find((l) => l.includes('"event":"connected"'));
  const via = connected ? (JSON.parse(connected).path ?? 'direct') : '?';
  const sealed = !recv.stdout.includes('"message":"unencrypted"'); // accept warns when the sender does not encrypt (v1)
  const received = path.join(outDir, path.basename(src));
  const sha = await sha256File(received);
  keepOutput(outDir);
  if (sha !== expectedSha) throw new Error(`ours: received file differs from the source (${sha} vs ${expectedSha})`);
  return {
    seconds,
    mbps: size / MB / seconds,
    transferMbps: size / MB / transferSeconds,
    via,
    sealed,
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
const mbOfKb = (kb) => (kb * 1024) / MB;

function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ')).join('\n');
}

// ---------------------------------------------------------------------------------------------

async function main() {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'chat-bench-'));
  log(`chat transfer benchmark${quick ? ' (--quick)' : ''}: ${SIZE / MiB} MiB × ${RUNS} run(s) each, temp dir ${tmp}`);
  log(`node ${process.version}, ${os.cpus().length} CPU(s), peak RSS via ${TIME_BIN ? '/usr/bin/time -f %M' : '/proc/<pid>/status VmHWM polling'}`);
  const haveSocat = ensureSocat();

  let t = performance.now();
  await warmPageCache(3 * SIZE);
  log(`page-cache warm-up: wrote and deleted ${(3 * SIZE) / MiB} MiB in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const src = path.join(tmp, 'source.bin');
  t = performance.now();
  const sha = await generate(src, SIZE);
  log(`generated ${src} (${SIZE / MiB} MiB, sha256 ${sha.slice(0, 16)}…) in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  const { relay, server } = await startRelay();
  const ctx = { server, aliceHome: await register('alice', server), bobHome: await register('bob', server) };
  log(`relay on ${server}; alice and bob registered`);

  const socat = [];
  const floor = [];
  const ours = [];
  for (let i = 0; i < RUNS; i++) {
    if (haveSocat) {
      settle();
      const r = await runSocat(src, SIZE, sha, i);
      socat.push(r);
      log(`  run ${i + 1} socat: ${f1(r.mbps)} MB/s (${r.seconds.toFixed(2)} s), CPU s sender ${f2(r.cpu[0])}, receiver ${f2(r.cpu[1])}`);
    }
    settle();
    const fl = await runFloor(src, i);
    floor.push(fl);
    log(`  run ${i + 1} floor: ${f1(fl.mbps)} MB/s (${fl.seconds.toFixed(2)} s), CPU s sender ${f2(fl.cpu[0])}, receiver ${f2(fl.cpu[1])}`);
    settle();
    const r = await runOurs(ctx, src, SIZE, sha, String(i));
    ours.push(r);
    log(`  run ${i + 1} ours:  ${f1(r.mbps)} MB/s (${r.seconds.toFixed(2)} s; transfer alone ${f1(r.transferMbps)} MB/s; via ${r.via}${r.sealed ? '' : ', NOT encrypted'}), RSS sender ${f1(mbOfKb(r.senderKb))} MB, receiver ${f1(mbOfKb(r.receiverKb))} MB, CPU s sender ${f2(r.cpu[0])}, receiver ${f2(r.cpu[1])}`);
  }

  // Each path forced (§T8), encrypted, one run each: direct, reverse (the sender connects back), relay.
  const paths = [];
  for (const via of ['direct', 'reverse', 'relay']) {
    settle();
    const r = await runOurs(ctx, src, SIZE, sha, `via-${via}`, via);
    paths.push({ via, ...r });
    log(`  --via ${via}: ${f1(r.mbps)} MB/s (transfer alone ${f1(r.transferMbps)} MB/s; path ${r.via}${r.sealed ? ', encrypted' : ', NOT encrypted'}), RSS sender ${f1(mbOfKb(r.senderKb))} MB, receiver ${f1(mbOfKb(r.receiverKb))} MB`);
  }

  let big;
  if (!quick) {
    rmSync(src, { force: true });
    dropPreviousOutput();
    const free = freeBytes(tmp);
    if (free < BIG_MIN_FREE) {
      log(`4 GiB run skipped: only ${(free / GiB).toFixed(1)} GiB free in ${tmp} (needs 10 GiB)`);
    } else {
      const bigSrc = path.join(tmp, 'source-4g.bin');
      t = performance.now();
      const bigSha = await generate(bigSrc, BIG);
      log(`generated ${bigSrc} (4 GiB) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      settle();
      big = await runOurs(ctx, bigSrc, BIG, bigSha, '4g');
      log(`  4 GiB ours: ${f1(big.mbps)} MB/s (via ${big.via}), RSS sender ${f1(mbOfKb(big.senderKb))} MB, receiver ${f1(mbOfKb(big.receiverKb))} MB`);
      rmSync(bigSrc, { force: true });
    }
  }

  killGroup(relay.child);
  await withTimeout(relay.exited, 10_000, 'chat serve').catch(() => killGroup(relay.child, 'SIGKILL'));

  const rows = [['', 'size', 'runs', 'median MB/s', 'transfer-only MB/s', 'peak RSS send MB', 'peak RSS recv MB']];
  const label = `${SIZE / MiB} MiB`;
  if (socat.length) {
    rows.push(['socat -b 131072', label, socat.length, f1(median(socat.map((r) => r.mbps))), '-', f1(mbOfKb(max(socat.map((r) => r.senderKb)))), f1(mbOfKb(max(socat.map((r) => r.receiverKb))))]);
  }
  rows.push(['floor (bench/floor.mjs)', label, floor.length, f1(median(floor.map((r) => r.mbps))), '-', '-', '-']);
  rows.push(['chat send-file/accept', label, ours.length, f1(median(ours.map((r) => r.mbps))), f1(median(ours.map((r) => r.transferMbps))), f1(mbOfKb(max(ours.map((r) => r.senderKb)))), f1(mbOfKb(max(ours.map((r) => r.receiverKb))))]);
  if (big) rows.push(['chat send-file/accept', '4096 MiB', 1, f1(big.mbps), f1(big.transferMbps), f1(mbOfKb(big.senderKb)), f1(mbOfKb(big.receiverKb))]);
  for (const p of paths) {
    rows.push([`  --via ${p.via}`, label, 1, f1(p.mbps), f1(p.transferMbps), f1(mbOfKb(p.senderKb)), f1(mbOfKb(p.receiverKb))]);
  }
  log();
  log(table(rows));
  log();
  if (socat.length) {
    const ratio = median(ours.map((r) => r.mbps)) / median(socat.map((r) => r.mbps));
    const rss = max(ours.flatMap((r) => [r.senderKb, r.receiverKb]).concat(big ? [big.senderKb, big.receiverKb] : []));
    log(`ratio ours/socat (medians): ${ratio.toFixed(2)}  (target ≥ 0.60: ${ratio >= 0.6 ? 'met' : 'NOT met'})`);
    log(`largest peak RSS of ours: ${f1(mbOfKb(rss))} MB  (target < 100 MB: ${mbOfKb(rss) < 100 ? 'met' : 'NOT met'})`);
    const socatMbps = median(socat.map((r) => r.mbps));
    for (const p of paths) log(`ratio --via ${p.via}/socat: ${(p.mbps / socatMbps).toFixed(2)}`);
  } else {
    log('ratio ours/socat: n/a (no socat baseline)');
  }
  const floorMbps = median(floor.map((r) => r.mbps));
  if (socat.length) log(`floor/socat (medians): ${(floorMbps / median(socat.map((r) => r.mbps))).toFixed(2)}: the same checks and AES-256-GCM in a minimal Node program`);
  log(`ours/floor (medians): ${(median(ours.map((r) => r.mbps)) / floorMbps).toFixed(2)}`);
  log('MB = 10^6 bytes. "median MB/s": size / (accept start → both processes exited 0), incl. process start-up and relay round trips;');
  log('"transfer-only": size / the receiver\'s own elapsedMs (first request → verified).');
}

function cleanup() {
  for (const child of children) killGroup(child, 'SIGKILL');
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}

process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});
process.on('SIGTERM', () => {
  cleanup();
  process.exit(143);
});

try {
  await main();
} catch (err) {
  process.exitCode = 1;
  console.error(`benchmark failed: ${err?.stack ?? err}`);
} finally {
  cleanup();
}
