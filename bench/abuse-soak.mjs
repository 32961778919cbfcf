#!/usr/bin/env node
// Every attack of issue 25 at once against one `chat serve` (default limits, a 256 MiB heap, open
// registration on 127.0.0.1), while a normal user is served: its device (a session token)
// sends a message and reads history every 100 ms, and a fresh connection logs in with its
// password every second. Reports the probes' latency (p50, p99, max), the server's peak RSS and
// what each attacker was answered; exits 1 if the server died or a probe failed or took longer
// than --max-latency-ms. Attackers come from 127.0.x.y: each /24 of loopback counts as one
// network. Touches only 127.0.0.1 and its loopback aliases.
//
//   npm run build && node bench/abuse-soak.mjs [--seconds 30] [--max-latency-ms 1000] [--json]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { encodeJsonFrame, FrameDecoder } = await import(path.join(ROOT, 'dist/protocol/frame.js'));
const PASSWORD = 'correct horse battery';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' },
    // The same probes first without any attack: the baseline the figures are compared with.
    'baseline-seconds': { type: 'string', default: '10' },
    'max-latency-ms': { type: 'string', default: '1000' },
    json: { type: 'boolean', default: false },
    only: { type: 'string' },
    // Internal: run only the normal user's probes (in a process of their own, so the attackers'
    // event loop does not delay them) against --port with --token.
    probe: { type: 'boolean', default: false },
    port: { type: 'string' },
    token: { type: 'string' },
  },
});
const SECONDS = Number(args.seconds);
const BASELINE_SECONDS = Number(args['baseline-seconds']);
const MAX_LATENCY_MS = Number(args['max-latency-ms']);

/** A JSON-frame client over TLS from `localAddress`; every request resolves with its reply frame. */
function client(port, localAddress = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, localAddress, rejectUnauthorized: false });
    const decoder = new FrameDecoder({ maxFrameBytes: 64 * 1024 * 1024 });
    const pending = new Map();
    let next = 1;
    const fail = () => {
      for (const p of pending.values()) p({ type: 'error', code: 'closed' });
      pending.clear();
    };
    socket.on('error', () => {});
    socket.on('close', fail);
    socket.on('data', (chunk) => {
      let frames;
      try {
        frames = decoder.push(chunk);
      } catch {
        return socket.destroy();
      }
      for (const payload of frames) {
        const frame = JSON.parse(payload.toString('utf8'));
        if (frame.type === 'event') continue;
        if (frame.id === null) fail(frame);
        const p = pending.get(frame.id);
        if (p) {
          pending.delete(frame.id);
          p(frame);
        }
      }
    });
    const c = {
      socket,
      request(type, params = {}) {
        if (socket.destroyed) return Promise.resolve({ type: 'error', code: 'closed' });
        const id = next++;
        return new Promise((done) => {
          pending.set(id, done);
          socket.write(encodeJsonFrame({ id, type, ...params }));
        });
      },
      close: () => socket.destroy(),
    };
    socket.once('secureConnect', async () => {
      const hello = await c.request('hello', { version: 2, client: 'abuse-soak' });
      if (hello.type === 'ok') resolve(c);
      else {
        socket.destroy();
        reject(new Error(`${hello.code}: ${hello.message ?? ''}`));
      }
    });
    socket.once('close', () => reject(new Error('closed')));
  });
}

async function account(port, user, from) {
  const c = await client(port, from);
  const r = await c.request('register', { user, password: PASSWORD });
  if (r.type !== 'ok') await c.request('login', { user, password: PASSWORD });
  return c;
}

function startServer(dataDir) {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/chat'), 'serve', '--port', '0', '--data', dataDir, '--quiet'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '--max-old-space-size=256' },
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`chat serve did not start: ${out}`)), 20_000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on \S+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]) });
      }
    });
    child.stderr.on('data', (d) => (out += d));
    child.once('exit', (code) => reject(new Error(`chat serve exited ${code}: ${out}`)));
  });
}

const tally = {};
const count = (attack, reply) => {
  const key = reply.type === 'ok' ? 'ok' : reply.code;
  tally[attack] ??= {};
  tally[attack][key] = (tally[attack][key] ?? 0) + 1;
};

/** Runs `step` again and again until `until`, counting the replies under `attack`. */
async function loop(attack, until, step) {
  while (Date.now() < until) {
    try {
      count(attack, await step());
    } catch (err) {
      count(attack, { type: 'error', code: `refused: ${err.message.slice(0, 40)}` });
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

const page = (offer, n) => ({
  offer, done: false,
  files: Array.from({ length: 60 }, (_, i) => ({ path: `${n}-${i}-${'p'.repeat(4000)}`, size: 1, mime: 'x/y', mode: 0o644, mtimeMs: 1 })),
});

async function offerFlood(port, until, n) {
  const c = await account(port, `flood${n}`, `127.0.${10 + n}.1`);
  let offer = null;
  let pages = 0;
  await loop('offer metadata flood', until, async () => {
    if (!offer || pages++ % 100 === 0) {
      const r = await c.request('offer', { to: 'victim', transfer: `t${n}-${pages}-${'0'.repeat(16)}`, token: 'k'.repeat(43), candidates: [], timeoutMs: 3_600_000, fileCount: 100_000, totalBytes: 100_000 });
      if (r.type !== 'ok') return r;
      offer = r.result.offer;
    }
    return c.request('offer_files', page(offer, pages));
  });
}

async function guesses(port, until, n) {
  await loop('login guesses at alice', until, async () => {
    const c = await client(port, `127.0.${40 + n}.${1 + (n % 200)}`);
    const r = await c.request('login', { user: 'alice', password: `guess ${Math.random()}` });
    c.close();
    return r;
  });
}

async function registrations(port, until, n) {
  let i = 0;
  await loop('registration burst', until, async () => {
    const c = await client(port, `127.0.${80 + n}.1`);
    const r = await c.request('register', { user: `bot${n}x${i++}`, password: PASSWORD });
    c.close();
    return r;
  });
}

async function messageFlood(port, until, conns) {
  const text = 'm'.repeat(16_000);
  await Promise.all(conns.map((c, n) =>
    loop('message flood (one account, 10 connections)', until, () => c.request('send', { to: n % 2 ? 'victim' : 'alice', text }))));
}

async function connectionFlood(port, until) {
  const held = [];
  await loop('connection flood (one /24)', until, async () => {
    const c = await client(port, `127.0.120.${1 + (held.length % 250)}`);
    held.push(c);
    return { type: 'ok' };
  });
  for (const c of held) c.close();
}

/** CPU seconds (user + system) the process `pid` has used. */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

function percentile(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : 0;
}

async function probes(port, until, token) {
  const latencies = [];
  const failures = [];
  const device = await client(port);
  if ((await device.request('auth', { token })).type !== 'ok') throw new Error('alice cannot resume her session');
  let lastLogin = 0;
  while (Date.now() < until) {
    const t0 = performance.now();
    const sent = await device.request('send', { to: 'bob', text: 'still there?' });
    const history = await device.request('history', { with: 'bob', limit: 5 });
    latencies.push(['device', performance.now() - t0]);
    if (sent.type !== 'ok' || history.type !== 'ok') failures.push(`device: ${sent.code ?? history.code}`);
    if (Date.now() - lastLogin > 1000) {
      lastLogin = Date.now();
      const t1 = performance.now();
      try {
        const fresh = await client(port);
        const login = await fresh.request('login', { user: 'alice', password: PASSWORD });
        fresh.close();
        if (login.type !== 'ok') failures.push(`login: ${login.code}: ${login.message}`);
      } catch (err) {
        failures.push(`login: ${err.message}`);
      }
      latencies.push(['login', performance.now() - t1]);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  device.close();
  return { latencies, failures };
}

if (args.probe) {
  const result = await probes(Number(args.port), Date.now() + SECONDS * 1000, args.token);
  console.log(JSON.stringify(result));
  process.exit(0);
}

/** The probes in a child process; resolves with their latencies and failures. */
function probeProcess(port, token, seconds) {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--probe', '--port', String(port), '--token', token, '--seconds', String(seconds)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  return new Promise((resolve) => child.once('close', () => {
    try {
      resolve(JSON.parse(out.trim().split('\n').at(-1)));
    } catch {
      resolve({ latencies: [], failures: [`probe process: ${out.slice(0, 200)}`] });
    }
  }));
}

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'chat-soak-'));
let server;
try {
  server = await startServer(dataDir);
  const { port, child } = server;
  const alice = await client(port);
  const { result } = await alice.request('register', { user: 'alice', password: PASSWORD });
  alice.close();
  for (const user of ['bob', 'victim']) (await account(port, user)).close();
  let peakRss = 0;
  const rss = setInterval(() => {
    try {
      peakRss = Math.max(peakRss, Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]) / 1024);
    } catch {}
  }, 200);
  const mallory = [];
  for (let i = 0; i < 10; i++) mallory.push(await account(port, 'mallory', '127.0.100.1'));
  const baseline = BASELINE_SECONDS > 0 ? await probeProcess(port, result.token, BASELINE_SECONDS) : { latencies: [], failures: [] };
  const cpu0 = cpuSeconds(child.pid);
  const cpuSelf0 = process.cpuUsage();
  const until = Date.now() + SECONDS * 1000;
  const runs = {
    offers: () => [0, 1, 2, 3].map((n) => offerFlood(port, until, n)),
    guesses: () => Array.from({ length: 20 }, (_, n) => guesses(port, until, n)),
    registrations: () => [0, 1, 2, 3, 4].map((n) => registrations(port, until, n)),
    messages: () => [messageFlood(port, until, mallory)],
    connections: () => [connectionFlood(port, until)],
  };
  // --only offers,guesses runs just those (to see which attack costs the probes what).
  const chosen = args.only ? args.only.split(',') : Object.keys(runs);
  const attacks = chosen.flatMap((name) => runs[name]());
  const probe = probeProcess(port, result.token, SECONDS);
  const [{ latencies, failures }] = await Promise.all([probe, ...attacks]);
  clearInterval(rss);
  const serverCpuPercent = Math.round(((cpuSeconds(child.pid) - cpu0) / SECONDS) * 100);
  const used = process.cpuUsage(cpuSelf0);
  const attackerCpuPercent = Math.round(((used.user + used.system) / 1e6 / SECONDS) * 100);
  const alive = child.exitCode === null;
  const stats = (kind, from = latencies) => {
    const sorted = from.filter(([k]) => !kind || k === kind).map(([, ms]) => ms).sort((a, b) => a - b);
    return { n: sorted.length, p50: Math.round(percentile(sorted, 50)), p99: Math.round(percentile(sorted, 99)), max: Math.round(sorted.at(-1) ?? 0) };
  };
  const all = stats();
  const report = {
    date: new Date().toISOString(), machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}`, seconds: SECONDS,
    serverAlive: alive, serverPeakRssMiB: Math.round(peakRss), serverCpuPercent, attackerCpuPercent, loadAverage: os.loadavg()[0],
    probes: latencies.length, probeFailures: failures.slice(0, 10), probeFailureCount: failures.length,
    latencyMs: all,
    // A message sent and history read on the user's device; a fresh TLS connection and password login.
    deviceLatencyMs: stats('device'), loginLatencyMs: stats('login'),
    baseline: { seconds: BASELINE_SECONDS, deviceLatencyMs: stats('device', baseline.latencies), loginLatencyMs: stats('login', baseline.latencies), failures: baseline.failures.length },
    attacks: tally,
  };
  const ok = alive && failures.length === 0 && report.latencyMs.max <= MAX_LATENCY_MS && latencies.length > 0;
  console.log(args.json ? JSON.stringify({ ...report, ok }) : JSON.stringify({ ...report, ok }, null, 2));
  process.exitCode = ok ? 0 : 1;
} finally {
  server?.child.kill('SIGTERM');
  if (server) await new Promise((r) => (server.child.exitCode !== null ? r() : server.child.once('exit', r)));
  rmSync(dataDir, { recursive: true, force: true });
}
