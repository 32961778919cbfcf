// The reverse path (protocol.md §T8) over a real network: three Linux network namespaces, the
// sender's firewall drops every inbound TCP connection from the receiver, and the transfer still
// completes on its own because the sender connects back to the receiver.
//
//   chat-s-PID (sender, alice)  s0 10.231.0.1 ── r0 10.231.0.2  chat-r-PID (receiver, bob)
//              s1 10.231.1.1                                    r2 10.231.2.1
//                  │                                               │
//              v1 10.231.1.2 ──── chat-v-PID (`chat serve`) ──── v2 10.231.2.2
//
// In chat-s: `iptables -A INPUT -i s0 -p tcp --syn -j DROP` (SYNs vanish: a direct dial hangs).
// The peers have no route to each other's server-facing subnet, so the only peer-to-peer link is
// s0–r0; the server (the relay) is reachable from both. The host's own network (root namespace,
// routes, forwarding, firewall) is never touched: veths are created straight inside namespaces.
//
// Needs root, `ip netns` and iptables; otherwise (or if the setup fails) the suite is skipped.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LineBuffer } from '../helpers/lines.js';
import { CHAT_BIN, REPO_ROOT, exitOf } from '../helpers/server.js';
import { sha256File, writeRandomFile } from '../helpers/transfer-files.js';

const PASSWORD = 'correct horse battery';
const SENDER_NS = `chat-s-${process.pid}`;
const RECEIVER_NS = `chat-r-${process.pid}`;
const SERVER_NS = `chat-v-${process.pid}`;
const SENDER_IP = '10.231.0.1'; // on the peer link, behind the DROP
const RECEIVER_IP = '10.231.0.2'; // on the peer link
const SERVER_FOR_SENDER = '10.231.1.2';
const SERVER_FOR_RECEIVER = '10.231.2.2';
const PEER_IFACE = 's0'; // the sender's peer-facing interface

const created: string[] = []; // namespaces to delete

interface Ran {
  ok: boolean;
  detail: string;
}

/** A short privileged command, bounded; never throws. */
function run(cmd: string, args: string[]): Ran {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  const detail = r.error ? r.error.message : `${r.stdout}${r.stderr}`.trim();
  return { ok: !r.error && r.status === 0, detail };
}

function deleteNamespaces(): void {
  for (const ns of created.splice(0)) run('ip', ['netns', 'del', ns]);
}

/** The DROP rule's packet counter in the sender's namespace (how many SYNs it swallowed). */
function droppedSyns(): number {
  const r = run('ip', ['netns', 'exec', SENDER_NS, 'iptables', '-L', 'INPUT', '-v', '-n', '-x']);
  const line = r.detail.split('\n').find((l) => /\bDROP\b/.test(l) && l.includes(PEER_IFACE));
  if (!r.ok || !line) throw new Error(`cannot read the DROP rule:\n${r.detail}`);
  return Number(line.trim().split(/\s+/)[0]);
}

/** Builds the topology; returns why it cannot (the suite is then skipped), or undefined. */
function setUpNetwork(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not running as root';
  const list = run('ip', ['netns', 'list']);
  if (!list.ok) return `\`ip netns\` is unavailable: ${list.detail}`;
  const ipt = run('iptables', ['--version']);
  if (!ipt.ok) return `iptables is unavailable (apt-get install iptables): ${ipt.detail}`;
  const steps: [string, string[]][] = [];
  for (const ns of [SENDER_NS, RECEIVER_NS, SERVER_NS]) steps.push(['ip', ['netns', 'add', ns]], ['ip', ['-n', ns, 'link', 'set', 'lo', 'up']]);
  const link = (a: [string, string, string], b: [string, string, string]): void => {
    steps.push(['ip', ['link', 'add', a[1], 'netns', a[0], 'type', 'veth', 'peer', 'name', b[1], 'netns', b[0]]]);
    for (const [ns, dev, cidr] of [a, b]) {
      steps.push(['ip', ['-n', ns, 'addr', 'add', cidr, 'dev', dev]], ['ip', ['-n', ns, 'link', 'set', dev, 'up']]);
    }
  };
  link([SENDER_NS, PEER_IFACE, `${SENDER_IP}/24`], [RECEIVER_NS, 'r0', `${RECEIVER_IP}/24`]);
  link([SENDER_NS, 's1', '10.231.1.1/24'], [SERVER_NS, 'v1', `${SERVER_FOR_SENDER}/24`]);
  link([RECEIVER_NS, 'r2', '10.231.2.1/24'], [SERVER_NS, 'v2', `${SERVER_FOR_RECEIVER}/24`]);
  steps.push(['ip', ['netns', 'exec', SENDER_NS, 'iptables', '-A', 'INPUT', '-i', PEER_IFACE, '-p', 'tcp', '--syn', '-j', 'DROP']]);
  for (const [cmd, args] of steps) {
    const r = run(cmd, args);
    if (!r.ok) {
      deleteNamespaces();
      return `network setup failed at \`${cmd} ${args.join(' ')}\`: ${r.detail}`;
    }
    if (args[0] === 'netns' && args[1] === 'add') created.push(args[2]!);
  }
  try {
    if (droppedSyns() !== 0) throw new Error('the DROP rule already counted packets');
  } catch (err) {
    deleteNamespaces();
    return `network setup failed: ${(err as Error).message}`;
  }
  return undefined;
}

const skipReason = setUpNetwork();
process.once('exit', deleteNamespaces); // in case afterAll never runs (the worker is torn down)
if (skipReason) console.warn(`netns.test.ts: skipped: ${skipReason}`);

// ---- processes inside the namespaces ----

const children = new Set<ChildProcess>();

interface Proc {
  child: ChildProcess;
  stdout: LineBuffer;
  stderr: LineBuffer;
  /** stdout and stderr merged, line by line. */
  output: LineBuffer;
  /** Exit code once the process closed; rejects if it has not within `ms` (then it is killed). */
  exit(ms: number): Promise<number | null>;
}

/** `chat ...args` inside namespace `ns` (`ip netns exec` execs node: the pid is node's). */
function chatIn(ns: string, args: string[], env: Record<string, string> = {}): Proc {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...env };
  if (!env.CHAT_PASSWORD) delete childEnv.CHAT_PASSWORD;
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, CHAT_BIN, ...args], {
    cwd: REPO_ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const stdout = new LineBuffer(child.stdout);
  const stderr = new LineBuffer(child.stderr);
  const output = new LineBuffer(child.stdout, child.stderr);
  const closed = exitOf(child).finally(() => children.delete(child));
  const exit = (ms: number): Promise<number | null> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`chat ${args.join(' ')} (in ${ns}) did not exit within ${ms} ms\nstdout:\n${stdout.text}\nstderr:\n${stderr.text}`));
      }, ms);
    });
    return Promise.race([closed, late]).finally(() => clearTimeout(timer));
  };
  return { child, stdout, stderr, output, exit };
}

function events(lines: string[]): Record<string, unknown>[] {
  return lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe.skipIf(skipReason !== undefined)('transfer across network namespaces', () => {
  let server: Proc;
  let port: number;
  let alice: string; // CHAT_HOME of the sender
  let bob: string; // CHAT_HOME of the receiver
  let work: string | undefined; // everything on disk lives under it: homes, server data, files

  const senderEnv = (): Record<string, string> => ({ CHAT_HOME: alice, CHAT_SERVER: `${SERVER_FOR_SENDER}:${port}` });
  const receiverEnv = (): Record<string, string> => ({ CHAT_HOME: bob, CHAT_SERVER: `${SERVER_FOR_RECEIVER}:${port}` });

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'chat-netns-'));
    [alice, bob] = [path.join(work, 'alice'), path.join(work, 'bob')];
    for (const dir of [alice, bob]) await mkdir(dir);
    server = chatIn(SERVER_NS, ['serve', '--host', '0.0.0.0', '--port', '0', '--data', path.join(work, 'data'), '--registration', 'open']);
    const line = await server.output.waitFor(/chat server listening on \S+:\d+/, 5000);
    port = Number(/listening on \S+:(\d+)/.exec(line)![1]);
    expect(port).toBeGreaterThan(0);
    // Each user registers from its own namespace, through the address it will use later.
    for (const [ns, user, env] of [[SENDER_NS, 'alice', senderEnv()], [RECEIVER_NS, 'bob', receiverEnv()]] as const) {
      const p = chatIn(ns, ['register', user], { ...env, CHAT_PASSWORD: PASSWORD });
      const code = await p.exit(5000);
      expect(code, `register ${user}: ${p.stderr.text}`).toBe(0);
    }
  });

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL'); // by pid, only our own children
    await Promise.all([...children].map((c) => (c.exitCode === null && c.signalCode === null ? exitOf(c) : undefined)));
    deleteNamespaces();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('the sender drops inbound connections: the receiver gets the file over the reverse path, intact', async () => {
    const file = await writeRandomFile(work!, 'payload.bin', 3 * 1024 * 1024 + 17, 7);
    const out = path.join(work!, 'out');
    const started = performance.now();

    const sender = chatIn(SENDER_NS, ['send-file', 'bob', file, '--json', '--advertise', SENDER_IP, '--advertise-only'], senderEnv());
    const offerLine = await sender.stdout.waitFor('"event":"offer"', 5000);
    const offer = JSON.parse(offerLine) as { port: number; candidates: { host: string; port: number }[] };
    expect(offer.port).toBeGreaterThan(0);
    expect(offer.candidates).toEqual([{ host: SENDER_IP, port: offer.port }]); // only the blocked address

    const receiver = chatIn(RECEIVER_NS, ['accept', '--json', '--dir', out, '--advertise', RECEIVER_IP, '--advertise-only'], receiverEnv());
    const [receiverCode, senderCode] = await Promise.all([receiver.exit(12_000), sender.exit(12_000)]);
    const elapsedMs = performance.now() - started;
    expect(receiverCode, `receiver stderr:\n${receiver.stderr.text}`).toBe(0);
    expect(senderCode, `sender stderr:\n${sender.stderr.text}`).toBe(0);

    // The receiver: connected over reverse, from the sender's peer-link address, and done over reverse.
    const got = events(receiver.stdout.lines);
    const connected = got.find((e) => e.event === 'connected');
    expect(connected).toMatchObject({ via: 'reverse' });
    expect(String(connected?.remote)).toContain(SENDER_IP);
    expect(got.find((e) => e.event === 'done')).toMatchObject({ via: 'reverse', files: 1, totalBytes: 3 * 1024 * 1024 + 17 });
    expect(got.filter((e) => e.event === 'connected')).toHaveLength(1);
    expect(got.some((e) => e.event === 'retry' || e.event === 'warning')).toBe(false);

    // The sender: it dialed the receiver's peer-link address, and says reverse too.
    const sent = events(sender.stdout.lines);
    const dialed = sent.find((e) => e.event === 'connected');
    expect(dialed).toMatchObject({ via: 'reverse' });
    expect(String(dialed?.remote)).toContain(RECEIVER_IP);
    expect(sent.find((e) => e.event === 'done')).toMatchObject({ via: 'reverse', files: 1 });

    // The file arrived intact.
    expect(await sha256File(path.join(out, 'payload.bin'))).toBe(await sha256File(file));

    // The direct dial really was tried and swallowed by the firewall; the relay never paired.
    expect(droppedSyns()).toBeGreaterThan(0);
    expect(server.output.text).not.toMatch(/relay \S+: paired/);
    // Nobody waited out the direct dial against the DROP: the whole run, from two process starts
    // to both exits, took less than that dial's connect timeout alone (receiver.ts, 10 s).
    expect(elapsedMs).toBeLessThan(10_000);
  });
});
