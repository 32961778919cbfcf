// npm run bench:nat [-- --runs N --size BYTES --smoke --only TEXT]
// Per NAT combination in the NAT lab (test/helpers/nat-lab.mjs: network namespaces, root and
// iptables needed; python3 for the latency), which path won and the time from the receiver's
// accept to its first file byte, N runs each (default 10), against the same figure for a receiver
// that reaches a public sender directly (the baseline, same run; the rows with latency pay it on
// top). Then the punch success rate per router kind ("stealth" routers drop unsolicited SYNs,
// "reset" ones answer them with a RST), with and without internet latency, and the issue-28
// targets: exit code 1 if one is missed. `--only TEXT` runs only the combinations whose label
// contains TEXT (plus the baseline). Raw JSON in bench/results/nat-<date>.json.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NatLab, ROUTER_KINDS, SERVER_V4, SERVER_V6 } from '../test/helpers/nat-lab.mjs';
import { gitInfo, machineInfo, resultFile, runMain, table } from './common.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CHAT = path.join(ROOT, 'bin', 'chat');
const args = process.argv.slice(2);
const flag = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const SMOKE = args.includes('--smoke');
const RUNS = flag('--runs', SMOKE ? 1 : 10);
const ONLY = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const SIZE = flag('--size', SMOKE ? 65_536 : 8 * 1024 * 1024);
const OUT = args.includes('--out') ? args[args.indexOf('--out') + 1] : path.join(ROOT, 'bench', 'results');
const PASSWORD = 'correct horse battery';

// A realistic internet for the reset-router case: 5 ms each way between the routers, and B 20 ms
// further from the server than A (so A hears the punch meeting 20 ms before B does).
const LATENCY = { routers: 5, serverB: 20 };
const NO_LATENCY = { routers: 0, serverB: 0 };
const NAT_NAT = { from: 'homeA', to: 'homeB', v6: false, symmetric: false, latency: NO_LATENCY };
// `target`: the least share of runs that must go via punch (issue 28); combinations without one are reported only.
const ALL_COMBOS = [
  { label: 'public sender -> NAT (baseline)', from: 'pub', to: 'homeB', v6: false, symmetric: false, kind: 'stealth', latency: NO_LATENCY },
  { ...NAT_NAT, label: 'NAT -> NAT, stealth routers', kind: 'stealth', target: 1 },
  { ...NAT_NAT, label: 'NAT -> NAT, IPv6, stealth routers', kind: 'stealth', v6: true, target: 1 },
  { ...NAT_NAT, label: 'NAT -> NAT, stealth routers, latency', kind: 'stealth', latency: LATENCY, target: 1 },
  { ...NAT_NAT, label: 'NAT -> NAT, reset routers, latency', kind: 'reset', latency: LATENCY, target: 0.9 },
  { ...NAT_NAT, label: 'NAT -> NAT, IPv6, reset routers, latency', kind: 'reset', v6: true, latency: LATENCY, target: 0.9 },
  { ...NAT_NAT, label: 'NAT -> NAT, reset routers, no latency (stress)', kind: 'reset' },
  { ...NAT_NAT, label: 'NAT -> NAT, IPv6, reset routers, no latency (stress)', kind: 'reset', v6: true },
  { ...NAT_NAT, label: 'NAT -> symmetric NAT, stealth routers', kind: 'stealth', symmetric: true },
];
const COMBOS = ALL_COMBOS.filter((c, i) => i === 0 || !ONLY || c.label.includes(ONLY));
const USERS = { homeA: 'alice', homeB: 'bob', pub: 'carol' };

const lab = new NatLab(`b${process.pid}`);
const procs = new Set();
let work;

/** Runs chat in `role`'s namespace; resolves {code, lines: [{t, line}]} (t: ms since spawn). */
function chat(role, argv, env, until) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = lab.spawn(role, process.execPath, [CHAT, ...argv], { env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    procs.add(child);
    const lines = [];
    let buf = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      buf += d;
      for (let i; (i = buf.indexOf('\n')) >= 0; buf = buf.slice(i + 1)) {
        const line = buf.slice(0, i);
        lines.push({ t: performance.now(), line });
        until?.(line, child);
      }
    });
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      procs.delete(child);
      resolve({ code, lines, stderr, started });
    });
  });
}

async function startServer() {
  const child = lab.spawn('inet', process.execPath, [CHAT, 'serve', '--host', '::', '--port', '0', '--data', path.join(work, 'data'), '--registration', 'open'], { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.add(child);
  const log = [];
  const port = await new Promise((resolve, reject) => {
    const onLine = (d) => {
      log.push(String(d));
      const m = /listening on \S+:(\d+)/.exec(String(d));
      if (m) resolve(Number(m[1]));
    };
    child.stdout.on('data', onLine);
    child.stderr.on('data', onLine);
    child.on('close', () => reject(new Error(`chat serve exited:\n${log.join('')}`)));
  });
  return { port, log };
}

async function once(combo, port, file, n) {
  const { from, to, v6 } = combo;
  const server = v6 ? `[${SERVER_V6}]:${port}` : `${SERVER_V4}:${port}`;
  const env = (role) => ({ CHAT_HOME: path.join(work, USERS[role]), CHAT_SERVER: server });
  let offered;
  const ready = new Promise((resolve) => (offered = resolve));
  const sender = chat(from, ['send-file', USERS[to], file, '--json'], env(from), (line) => line.includes('"event":"offer"') && offered());
  await ready;
  const receiver = await chat(to, ['accept', '--json', '--dir', path.join(work, `out-${n}`)], env(to));
  const sent = await sender;
  if (receiver.code !== 0 || sent.code !== 0) throw new Error(`transfer failed: ${receiver.stderr}${sent.stderr}`);
  const at = (pred) => receiver.lines.find((l) => pred(l.line))?.t;
  const accepted = at((l) => l.includes('"event":"accepted"'));
  const firstByte = at((l) => /"event":"progress".*"bytes":[1-9]/.test(l));
  const done = JSON.parse(receiver.lines.find((l) => l.line.includes('"event":"done"')).line);
  return { via: done.via, acceptToFirstByteMs: Math.round((firstByte - accepted) * 10) / 10 };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const why = lab.setUp();
  if (why) throw new Error(`the NAT lab cannot run here: ${why}`);
  work = mkdtempSync(path.join(tmpdir(), 'chat-bench-nat-'));
  const file = path.join(work, 'payload.bin');
  writeFileSync(file, randomBytes(SIZE));
  const { port } = await startServer();
  for (const role of Object.keys(USERS)) {
    mkdirSync(path.join(work, USERS[role]));
    for (const [verb, server] of [['register', `${SERVER_V4}:${port}`], ['login', `[${SERVER_V6}]:${port}`]]) {
      const r = await chat(role, [verb, USERS[role]], { CHAT_HOME: path.join(work, USERS[role]), CHAT_SERVER: server, CHAT_PASSWORD: PASSWORD });
      if (r.code !== 0) throw new Error(`${verb} ${USERS[role]}: ${r.stderr}`);
    }
  }
  const results = [];
  for (let run = 0; run < RUNS; run++) {
    // Interleaved, so a noisy moment of the machine hits every combination alike.
    for (const combo of COMBOS) {
      lab.setSymmetric('natB', combo.symmetric);
      lab.setRouterKind(combo.kind);
      await lab.setLatency(combo.latency);
      const r = await once(combo, port, file, `${run}-${results.length}`);
      results.push({ combo: combo.label, run, ...r });
    }
  }
  const base = median(results.filter((r) => r.combo === COMBOS[0].label).map((r) => r.acceptToFirstByteMs));
  const rows = [['combination', 'path (runs)', 'accept→first byte median ms', 'min', 'max', '× baseline']];
  const summary = COMBOS.map(({ label }) => {
    const mine = results.filter((r) => r.combo === label);
    const ms = mine.map((r) => r.acceptToFirstByteMs);
    const paths = Object.entries(mine.reduce((acc, r) => ({ ...acc, [r.via]: (acc[r.via] ?? 0) + 1 }), {})).map(([p, c]) => `${p} ${c}`).join(', ');
    const s = { combo: label, paths, medianMs: median(ms), minMs: Math.min(...ms), maxMs: Math.max(...ms), ratio: Math.round((median(ms) / base) * 100) / 100 };
    rows.push([label, paths, s.medianMs, s.minMs, s.maxMs, s.ratio]);
    return s;
  });
  // Punch success per router kind (IPv4 and IPv6 together), with and without internet latency.
  const punchRate = [];
  for (const kind of ROUTER_KINDS) {
    for (const latency of [NO_LATENCY, LATENCY]) {
      const labels = new Set(COMBOS.filter((c) => c.from === 'homeA' && !c.symmetric && c.kind === kind && c.latency === latency).map((c) => c.label));
      const mine = results.filter((r) => labels.has(r.combo));
      const where = latency === LATENCY ? `${LATENCY.routers} ms between routers, B +${LATENCY.serverB} ms to the server` : 'no latency';
      if (mine.length > 0) punchRate.push({ kind, latency: where, punched: mine.filter((r) => r.via === 'punch').length, runs: mine.length });
    }
  }
  const targets = COMBOS.filter((c) => c.target !== undefined).map((c) => {
    const mine = results.filter((r) => r.combo === c.label);
    const punched = mine.filter((r) => r.via === 'punch').length;
    return { combo: c.label, punched, runs: mine.length, needed: Math.ceil(c.target * mine.length), met: punched >= Math.ceil(c.target * mine.length) };
  });
  const date = new Date().toISOString();
  console.log(`NAT lab, ${RUNS} run(s) per combination, ${SIZE} bytes, ${date}\n`);
  console.log(table(rows));
  console.log(`\npunch success rate, both behind port-preserving NATs (IPv4 and IPv6 together):\n`);
  console.log(table([['router kind', 'internet', 'via punch', 'rate'], ...punchRate.map((r) => [r.kind, r.latency, `${r.punched} of ${r.runs}`, `${Math.round((100 * r.punched) / r.runs)} %`])]));
  console.log(`\ntargets (issue 28: reset routers >= 90 %, stealth routers 100 %):\n`);
  console.log(table([['combination', 'via punch', 'needed', ''], ...targets.map((t) => [t.combo, `${t.punched} of ${t.runs}`, t.needed, t.met ? 'met' : 'MISSED'])]));
  if (targets.some((t) => !t.met)) process.exitCode = 1;
  const out = { date, machine: machineInfo(), git: gitInfo(ROOT), runs: RUNS, bytes: SIZE, latency: LATENCY, summary, punchRate, targets, results };
  const target = resultFile(OUT, 'nat', date.slice(0, 10));
  writeFileSync(target, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`\nraw results: ${path.relative(process.cwd(), target)}`);
}

function cleanup() {
  for (const p of procs) p.kill('SIGKILL');
  lab.tearDown();
  if (work) rmSync(work, { recursive: true, force: true });
}

await runMain(main, cleanup);
