// Cluster mode (docs/cluster.md): three real `chat serve` processes on one PostgreSQL (CHAT_TEST_PG,
// a fresh schema) and one Redis (a redis-server of its own on a free port, so it can be restarted).
// Users spread across nodes chat, see each other, send files; a node is killed with SIGKILL and
// Redis is restarted mid-traffic: nothing acknowledged is lost.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatClient } from '../../src/client/client.js';
import type { ChatMessage } from '../../src/protocol/messages.js';
import { runCli, spawnCli, tempHome } from '../helpers/cli.js';
import { connectTo, exitOf, spawnServer, tempDir, type SpawnedServer } from '../helpers/server.js';
import { sha256File, writeRandomFile } from '../helpers/transfer-files.js';

const PG_URL = process.env.CHAT_TEST_PG;
const REDIS_BIN = spawnSync('redis-server', ['--version']).status === 0 ? 'redis-server' : undefined;
const why = !PG_URL ? 'CHAT_TEST_PG not set' : !REDIS_BIN ? 'redis-server is not installed' : undefined;
if (why) console.warn(`${why}: skipping the cluster tests (run .ci/services)`);

const PASSWORD = 'correct horse';
const WAIT_MS = 20_000;
const schema = `chat_cluster_${randomBytes(4).toString('hex')}`;
let redis: { port: number; child: ChildProcess } | undefined;
const nodes: SpawnedServer[] = [];
const clients: ChatClient[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createTcpServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** A redis-server of our own (no persistence), resolved once it accepts connections. */
async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(REDIS_BIN!, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('redis-server did not start')), 10_000);
    child.stdout!.on('data', (b: Buffer) => {
      if (b.toString().includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return child;
}

const storeUrl = (): string => `${PG_URL}${PG_URL!.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
const busUrl = (): string => `redis://127.0.0.1:${redis!.port}?heartbeatMs=200&expiryMs=1500`;

async function node(id: string): Promise<SpawnedServer> {
  const s = await spawnServer({ args: ['--store', storeUrl(), '--bus', busUrl(), '--node-id', id, '--relay-address', '127.0.0.1'], timeoutMs: 20_000 });
  nodes.push(s);
  return s;
}

async function client(at: SpawnedServer, user: string, register = false): Promise<ChatClient> {
  const c = await connectTo(at, { timeoutMs: WAIT_MS });
  clients.push(c);
  if (register) await c.register(user, PASSWORD);
  else await c.login(user, PASSWORD);
  return c;
}

function nextMessage(c: ChatClient, text: string): Promise<ChatMessage> {
  return new Promise((resolve) => c.on('message', (m) => m.text === text && resolve(m)));
}

function bounded<T>(p: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)))]).finally(() => clearTimeout(timer));
}

/** Polls `check` (bounded) for state that other processes change. */
async function eventually<T>(check: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (let wait = 50; Date.now() < deadline; wait = Math.min(wait * 2, 500)) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, wait));
  }
  throw new Error(`timed out: ${what}`);
}

describe.skipIf(why !== undefined)('cluster: three nodes on PostgreSQL and Redis', () => {
  let n1: SpawnedServer, n2: SpawnedServer, n3: SpawnedServer;

  beforeAll(async () => {
    const db = new pg.Client({ connectionString: PG_URL });
    await db.connect();
    await db.query(`CREATE SCHEMA ${schema}`);
    await db.end();
    const port = await freePort();
    redis = { port, child: await startRedis(port) };
    [n1, n2, n3] = [await node('n1'), await node('n2'), await node('n3')];
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    for (const n of nodes) await n.stop('SIGKILL').catch(() => {});
    redis?.child.kill('SIGKILL');
    if (PG_URL) {
      const db = new pg.Client({ connectionString: PG_URL });
      await db.connect();
      await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await db.end();
    }
  });

  it('direct and group messages, presence and offline delivery across nodes; chat admin nodes lists them', async () => {
    const alice = await client(n1, 'alice', true);
    const bob = await client(n2, 'bob', true);
    const carol = await client(n3, 'carol', true);
    await (await client(n3, 'dave', true)).close();
    for (const c of [alice, bob, carol]) await c.subscribe();

    // Presence is cluster-wide.
    await eventually(async () => ((await bob.who()).includes('alice') && (await bob.who()).includes('carol') ? true : undefined), 'bob to see alice and carol online');

    const got = nextMessage(bob, 'hi bob, from n1');
    const sent = await alice.send('bob', 'hi bob, from n1');
    expect((await bounded(got, 'bob gets alice\'s message')).id).toBe(sent.id);

    await carol.request('group_create', { group: 'ops' });
    await alice.request('group_join', { group: 'ops' });
    await bob.request('group_join', { group: 'ops' });
    const [toBob, toCarol] = [nextMessage(bob, 'to #ops'), nextMessage(carol, 'to #ops')];
    await alice.send('#ops', 'to #ops');
    await bounded(Promise.all([toBob, toCarol]), 'the group message on n2 and n3');

    // dave is offline: he gets it when he connects, on another node.
    const forDave = await alice.send('dave', 'while you were away');
    const dave = await client(n2, 'dave');
    const backlog = nextMessage(dave, 'while you were away');
    await dave.subscribe();
    expect((await bounded(backlog, 'dave gets his backlog')).id).toBe(forDave.id);

    const h = await tempHome();
    const listed = await runCli(['admin', 'nodes', '--bus', busUrl()], { home: h });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/^n1 +\d+ connections?/m);
    expect(listed.stdout).toMatch(/^n2 /m);
    expect(listed.stdout).toMatch(/^n3 /m);
  });

  it('a recipient gets each conversation\'s messages from senders on two other nodes in id order, none missing', async () => {
    const [kim, lee] = [await client(n1, 'kim', true), await client(n2, 'lee', true)];
    const moe = await client(n3, 'moe', true);
    await moe.subscribe();
    const got: ChatMessage[] = [];
    const all = new Promise<void>((resolve) => moe.on('message', (m) => got.push(m) === 200 && resolve()));
    const [fromKim, fromLee] = await Promise.all([
      Promise.all(Array.from({ length: 100 }, (_, i) => kim.send('moe', `k${i}`))),
      Promise.all(Array.from({ length: 100 }, (_, i) => lee.send('moe', `l${i}`))),
    ]);
    await bounded(all, 'moe gets 200 messages');
    // Two conversations: each in its own id order (which is the order sent); between them, any.
    const ids = (ms: { id: number }[]) => ms.map((m) => m.id);
    expect(ids(got.filter((m) => m.from === 'kim'))).toEqual(ids(fromKim).sort((a, b) => a - b));
    expect(ids(got.filter((m) => m.from === 'lee'))).toEqual(ids(fromLee).sort((a, b) => a - b));
    expect(got.filter((m) => m.from === 'kim').map((m) => m.text)).toEqual(fromKim.map((_, i) => `k${i}`));
  });

  it('a file from a sender on n1 to a receiver on n2, through the accepting node\'s relay', async () => {
    const [alice, bob] = [await tempHome(), await tempHome()];
    const env = { CHAT_PASSWORD: PASSWORD };
    expect((await runCli(['register', 'erin'], { home: alice, server: n1.address, env })).code).toBe(0);
    expect((await runCli(['register', 'frank'], { home: bob, server: n2.address, env })).code).toBe(0);
    const dir = await tempDir('chat-cluster-file-');
    const file = await writeRandomFile(dir, 'data.bin', 2_000_000);
    const sender = spawnCli(['send-file', 'frank', file, '--via', 'relay', '--json'], { home: alice, server: n1.address, timeoutMs: 60_000 });
    await sender.stdout.waitFor(/"event":"offer"/, WAIT_MS);
    // frank sees the offer on n2 (a replica of n1's) and accepts there.
    const offers = await runCli(['offers'], { home: bob, server: n2.address });
    expect(offers.stdout).toContain('erin');
    const out = path.join(dir, 'out');
    const r = await runCli(['accept', '--via', 'relay', '--json', '--dir', out], { home: bob, server: n2.address, timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/"event":"done".*"via":"relay"/);
    expect(await sender.exited).toBe(0);
    expect(await sha256File(path.join(out, 'data.bin'))).toBe(await sha256File(file));
    expect(n2.output.lines.some((l) => /relay/.test(l) && /pair/.test(l))).toBe(true);
  });

  it('kill -9 of a node: its users show offline, clients move to another node, nothing acknowledged is lost', async () => {
    const gina = await client(n1, 'gina', true);
    await gina.subscribe();
    const hank = await client(n3, 'hank', true);
    await hank.subscribe();
    const acked: number[] = [];
    for (let i = 0; i < 50; i++) acked.push((await gina.send('hank', `before ${i}`)).id);
    await eventually(async () => ((await hank.who()).includes('gina') ? true : undefined), 'hank to see gina');
    const offline = new Promise<void>((resolve) => hank.on('presence', (p) => p.user === 'gina' && !p.online && resolve()));

    await n1.stop('SIGKILL');
    await bounded(offline, 'gina to go offline when n1 died');

    // The CLI takes several addresses and skips the dead one.
    const h = await tempHome();
    const servers = `${n1.address},${n2.address},${n3.address}`;
    const login = await runCli(['login', 'gina'], { home: h, server: servers, env: { CHAT_PASSWORD: PASSWORD } });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stderr).toContain(`${n1.address} is unreachable; trying ${n2.address}`);
    const sent = await runCli(['send', 'hank', 'after the crash'], { home: h, server: servers });
    expect(sent.code, sent.stderr).toBe(0);
    const history = await runCli(['history', 'hank', '--json', '--limit', '500'], { home: h, server: servers });
    const ids = history.stdout.trim().split('\n').map((l) => (JSON.parse(l) as ChatMessage).id);
    for (const id of acked) expect(ids).toContain(id);
    expect(history.stdout).toContain('after the crash');
  });

  it('a Redis restart mid-traffic loses nothing: nodes reconnect and refill from the store', async () => {
    const ivy = await client(n2, 'ivy', true);
    const jack = await client(n3, 'jack', true);
    await jack.subscribe();
    const seen = new Set<number>();
    jack.on('message', (m) => seen.add(m.id));
    const sentIds: number[] = [];
    const sendSome = async (from: number, n: number): Promise<void> => {
      for (let i = from; i < from + n; i++) {
        try {
          sentIds.push((await ivy.send('jack', `m${i}`)).id);
        } catch {
          // Not acknowledged (Redis was away): not promised, may be retried.
        }
      }
    };
    await sendSome(0, 30);
    redis!.child.kill('SIGKILL');
    await exitOf(redis!.child).catch(() => {});
    await sendSome(30, 30);
    redis!.child = await startRedis(redis!.port);
    await sendSome(60, 30);
    await eventually(async () => (sentIds.every((id) => seen.has(id)) ? true : undefined), `jack to get all ${sentIds.length} acknowledged messages`);
    expect(sentIds.length).toBe(90); // stored and acknowledged even while Redis was away
    // Those went out when the bus came back: n2 could not publish them, n3 refilled jack from PostgreSQL.
    expect(n2.output.lines.some((l) => l.includes('cannot deliver now'))).toBe(true);
    expect(n3.output.lines.some((l) => l.includes('bus reconnected: refilling from the store'))).toBe(true);
  });
});
