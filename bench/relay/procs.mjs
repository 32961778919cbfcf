// Processes for the relay bench: children spawned through bash so they get `ulimit -n` raised
// to the hard limit first (Node has no setrlimit), /proc readings (CPU ticks, RSS), the two
// servers under test (chat serve, ngircd) and the load generator with its IPC channel.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/** Every child we started, for cleanup on exit. */
export const children = new Set();

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** The open-files hard limit (what a child can raise its soft limit to). */
export function hardNoFile() {
  const out = spawnSync('bash', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim();
  return out === 'unlimited' ? Infinity : Number(out);
}

/** Spawns `cmd args` with the soft open-files limit raised to the hard one; pid is cmd's (exec). */
export function spawnRaised(cmd, args, options = {}) {
  const quoted = [cmd, ...args].map((a) => `'${String(a).replaceAll("'", "'\\''")}'`).join(' ');
  const child = spawn('bash', ['-c', `ulimit -n "$(ulimit -Hn)" && exec ${quoted}`], options);
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

/** Resolves with the first stdout/stderr match of `re` (or rejects on exit / timeout). */
function waitForOutput(child, re, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk) => {
      seen += chunk;
      const m = seen.match(re);
      if (m) finish(null, m);
    };
    const onExit = (code, signal) => finish(new Error(`${what} exited (${code ?? signal}) before it was ready:\n${seen.slice(-2000)}`));
    const timer = setTimeout(() => finish(new Error(`${what} not ready within ${timeoutMs} ms:\n${seen.slice(-2000)}`)), timeoutMs);
    function finish(err, m) {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(m);
    }
    child.stdout?.setEncoding('utf8').on('data', onData);
    child.stderr?.setEncoding('utf8').on('data', onData);
    child.on('exit', onExit);
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the child is gone. */
export function stop(child, graceMs = 10_000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

// ---------------------------------------------------------------------------------------------
// /proc

/** utime + stime of `pid` in seconds. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // fields 14 and 15 of proc(5)
  } catch {
    return null;
  }
}

/** VmRSS of `pid` in MB (10^6 bytes), or null. */
export function rssMb(pid) {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
    return m ? (Number(m[1]) * 1024) / 1e6 : null;
  } catch {
    return null;
  }
}

/** CPU model, cores, memory, kernel: the machine the figures come from. */
export function machineInfo() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1] ?? 'unknown';
  const cores = (cpuinfo.match(/^processor\s*:/gm) ?? []).length;
  const mem = readFileSync('/proc/meminfo', 'utf8').match(/^MemTotal:\s+(\d+) kB/m);
  const kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  return { cpu: model, cores, memoryGB: mem ? Math.round((Number(mem[1]) * 1024) / 1e8) / 10 : null, kernel, node: process.version };
}

/** A free TCP port on 127.0.0.1 (closed again; a tiny race, fine for a bench). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The servers under test

/**
 * Copies bin/, dist/ and package.json to `dir` (node_modules linked), so a rebuild of the
 * working tree during a run cannot change the server between scenarios. Returns
 * { root, distSha256 }: the hash covers every file of dist/ (path and contents).
 */
export function snapshotBuild(root, dir) {
  mkdirSync(dir, { recursive: true });
  for (const entry of ['bin', 'dist', 'package.json']) cpSync(path.join(root, entry), path.join(dir, entry), { recursive: true });
  symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  const hash = createHash('sha256');
  const files = readdirSync(path.join(dir, 'dist'), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath ?? e.path, e.name))
    .sort();
  for (const file of files) hash.update(path.relative(dir, file)).update('\0').update(readFileSync(file));
  return { root: dir, distSha256: hash.digest('hex') };
}

/** Abuse limits that a load from one address on loopback would hit; lifted for the benchmark. */
const LIFTED_FLAGS = [
  '--max-connections', '--message-bytes-rate', '--recipient-message-rate', '--max-backlog-messages', '--max-backlog-bytes',
  '--max-hashes-per-address', '--max-login-failures-per-user-address',
];

/** Which of the optional `chat serve` flags this build has (from --help). */
export function chatServeFlags(chatBin) {
  const help = spawnSync(process.execPath, [chatBin, 'serve', '--help'], { encoding: 'utf8' }).stdout ?? '';
  const has = (flag) => new RegExp(`\\s${flag}[\\s=]`).test(help);
  return {
    maxConnectionsPerAddress: has('--max-connections-per-address'),
    messageRate: has('--message-rate'),
    messageBurst: has('--message-burst'),
    insecure: has('--insecure'),
    // Newer abuse limits (issue 25), lifted the same way where this build has them.
    lifted: LIFTED_FLAGS.filter((flag) => has(flag)),
  };
}

/**
 * `chat serve` on 127.0.0.1, port 0, with the abuse limits lifted where the flags exist.
 * `extraArgs` go after those (a cluster node's --store/--bus/--node-id/--relay-address);
 * `quiet: false` keeps the server's log, whose lines (after "listening") go to `onLine`.
 * CHAT_STORE and CHAT_BUS are removed from the server's environment, so a single node is
 * SQLite with the in-process bus whatever the caller's shell exports.
 * Returns { child, pid, port, args }.
 */
export async function startChat({ chatBin, dataDir, flags, nodeArgs = [], extraArgs = [], quiet = true, onLine = null }) {
  const args = ['serve', '--host', '127.0.0.1', '--port', '0', '--data', dataDir, ...(quiet ? ['--quiet'] : [])];
  const big = '1000000000';
  if (flags.maxConnectionsPerAddress) args.push('--max-connections-per-address', big);
  if (flags.messageRate) args.push('--message-rate', big);
  if (flags.messageBurst) args.push('--message-burst', big);
  if (flags.insecure) args.push('--insecure');
  for (const flag of flags.lifted ?? []) args.push(flag, big);
  args.push(...extraArgs);
  const env = { ...process.env };
  delete env.CHAT_STORE;
  delete env.CHAT_BUS;
  const child = spawnRaised(process.execPath, [...nodeArgs, chatBin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  const m = await waitForOutput(child, /chat server listening on ([^\s]+):(\d+)/, 30_000, 'chat serve');
  if (onLine) readLines(child, onLine);
  else drainOutput(child);
  return { child, pid: child.pid, port: Number(m[2]), args };
}

/**
 * bench/relay/floor-server.mjs (`store`: memory or sqlite, its database in `dir`) with the
 * tokens of `users` users of run `seed`. Returns { child, pid, port, args }.
 */
export async function startFloor({ store, seed, users, dir, nodeArgs = [] }) {
  const script = path.join(path.dirname(new URL(import.meta.url).pathname), 'floor-server.mjs');
  const args = ['--store', store, '--seed', seed, '--users', String(users), '--dir', dir];
  const child = spawnRaised(process.execPath, [...nodeArgs, script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const m = await waitForOutput(child, /floor listening on ([^\s]+):(\d+)/, 30_000, 'floor server');
  drainOutput(child);
  return { child, pid: child.pid, port: Number(m[2]), args };
}

/** Calls onLine(line) for every line the child writes to stdout or stderr from now on. */
function readLines(child, onLine) {
  for (const stream of [child.stdout, child.stderr]) {
    let rest = '';
    stream?.on('data', (chunk) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop();
      for (const line of lines) onLine(line);
    });
  }
}

/** The `cmd` binary, installing the Debian package `pkg` if it is missing; null if impossible. */
function findInstalled(cmd, pkg, log) {
  const which = () => spawnSync('bash', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim();
  if (which()) return which();
  log(`${cmd} is missing: running \`apt-get install -y ${pkg}\` ...`);
  const r = spawnSync('apt-get', ['install', '-y', pkg], { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.status === 0 && which()) return which();
  log(`could not install ${pkg} (${(r.stderr || r.error?.message || '').trim().split('\n').pop()}): reporting without it`);
  return null;
}

/** The ngircd binary, installing the Debian package if it is missing; null if impossible. */
export const findNgircd = (log) => findInstalled('ngircd', 'ngircd', log);

/** The inspircd binary, installing the Debian package if it is missing; null if impossible. */
export const findInspircd = (log) => findInstalled('inspircd', 'inspircd', log);

/** "InspIRCd-3.15.0-debian". */
export function inspircdVersion(bin) {
  return spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.trim().split('\n')[0];
}

export function ngircdVersion(bin) {
  return spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0].trim();
}

/** Operator block the IRC clients use to get mode +F (see writeNgircdConf). */
export const IRC_OPER = { name: 'bench', password: 'bench-oper-pass' };

/**
 * ngircd.conf(5) for the bench: loopback only, no connection limits, no DNS/IDENT/PAM lookups,
 * no penalty time (MaxPenaltyTime = 0), long PING timeouts, and an operator any client can
 * become (OPER, then MODE +F: exempt from flood throttling).
 */
export function writeNgircdConf(dir, port) {
  const includeDir = path.join(dir, 'conf.d');
  mkdirSync(includeDir, { recursive: true });
  const file = path.join(dir, 'ngircd.conf');
  writeFileSync(
    file,
    `[Global]
Name = bench.local
Info = chat relay bench
AdminInfo1 = bench
AdminInfo2 = bench
AdminEMail = bench@localhost
Listen = 127.0.0.1
Ports = ${port}
MotdPhrase = bench

[Limits]
MaxConnections = 0
MaxConnectionsIP = 0
MaxJoins = 0
MaxPenaltyTime = 0
PingTimeout = 3600
PongTimeout = 3600

[Options]
DNS = no
Ident = no
PAM = no
IncludeDir = ${includeDir}

[Operator]
Name = ${IRC_OPER.name}
Password = ${IRC_OPER.password}
`,
  );
  return file;
}

/** ngircd in the foreground on `port`. Returns { child, pid, port, args }. */
export async function startNgircd({ bin, dir }) {
  const port = await freePort();
  const conf = writeNgircdConf(dir, port);
  const args = ['-n', '-f', conf];
  const child = spawnRaised(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  await waitForOutput(child, /Server "bench\.local".*ready/, 30_000, 'ngircd');
  drainOutput(child);
  return { child, pid: child.pid, port, args };
}

/**
 * inspircd.conf for the bench (InspIRCd 3): loopback only, no per-address or class limits, no
 * DNS or ident lookups (its resolver, were it used, is pointed at loopback, not the machine's),
 * long pings, and flood control off for every client (threshold and commandrate far above the
 * load, fakelag off), so no OPER step is needed; queues of 64 MiB. InspIRCd completes a
 * registration on its once-a-second user tick, so logins are measured with many in flight.
 */
export function writeInspircdConf(dir, port) {
  const file = path.join(dir, 'inspircd.conf');
  const big = 64 * 1024 * 1024;
  writeFileSync(
    file,
    `<server name="bench.local" description="chat relay bench" network="bench">
<admin name="bench" nick="bench" email="bench@localhost">
<bind address="127.0.0.1" port="${port}" type="clients">
<connect name="bench" allow="*" timeout="600" pingfreq="3600" threshold="1000000000" commandrate="4000000000" fakelag="no"
         hardsendq="${big}" softsendq="${big}" recvq="${big}" localmax="1000000" globalmax="1000000" maxconnwarn="no"
         limit="1000000" resolvehostnames="no" useident="no">
<performance softlimit="1000000" somaxconn="4096" nouserdns="yes" quietbursts="yes">
<options syntaxhints="no">
<dns server="127.0.0.1" timeout="1">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="${path.join(dir, 'inspircd.log')}">
`,
  );
  return file;
}

/** InspIRCd in the foreground on `port` (--runasroot: the bench may run as root). */
export async function startInspircd({ bin, dir }) {
  const port = await freePort();
  const conf = writeInspircdConf(dir, port);
  const args = [`--config=${conf}`, '--nofork', '--nopid', '--runasroot'];
  const child = spawnRaised(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  await waitForOutput(child, /InspIRCd is now running/, 30_000, 'inspircd');
  drainOutput(child);
  return { child, pid: child.pid, port, args };
}

// A child's output must keep being read or it blocks on a full pipe.
function drainOutput(child) {
  child.stdout?.resume();
  child.stderr?.resume();
}

// ---------------------------------------------------------------------------------------------
// The load generator

/** Starts bench/relay/load.mjs; call(cmd, args, timeoutMs) → result; marks go to onMark. */
export function startGenerator(script, onMark) {
  // 'advanced': a step's raw latencies (a Float64Array, bench/relay/generators.mjs) pass as is.
  const child = spawnRaised(process.execPath, [script], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
  let nextId = 1;
  const waiting = new Map();
  child.on('message', (msg) => {
    if (msg.mark) return onMark(msg.mark);
    const w = waiting.get(msg.id);
    if (!w) return;
    waiting.delete(msg.id);
    clearTimeout(w.timer);
    if (msg.ok) w.resolve(msg.result);
    else w.reject(new Error(`load generator: ${msg.error}`));
  });
  child.on('exit', (code, signal) => {
    for (const w of waiting.values()) w.reject(new Error(`load generator exited (${code ?? signal})`));
    waiting.clear();
  });
  const call = (cmd, args, timeoutMs = 120_000) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error(`load generator: ${cmd} took longer than ${timeoutMs} ms`));
      }, timeoutMs);
      waiting.set(id, { resolve, reject, timer });
      child.send({ id, cmd, args });
    });
  return { child, pid: child.pid, call };
}
