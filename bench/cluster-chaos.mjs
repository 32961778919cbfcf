#!/usr/bin/env node
// A cluster under failure (docs/cluster.md, "When something dies"): clients on three `chat serve`
// nodes (PostgreSQL store, Redis bus) exchange messages at a steady rate while one node is killed
// with SIGKILL and, later, Redis is killed and restarted. Clients of the dead node reconnect to
// the others and resume their sessions, as the CLI does; every client acknowledges what it
// receives, as a real one does. Then it waits until every acknowledged send has reached its
// recipient, or the drain time is up.
//
// Pass (exit 0): lost = 0 (an acknowledged send never delivered) and every client reconnected.
// Also reported: sends that failed or got no answer while things were dying (not acknowledged:
// a client may retry them), duplicates (a message delivered to a connection again after a
// reconnect), and messages that arrived after a newer one of their conversation.
//
//   node bench/cluster-chaos.mjs [--pairs 150] [--rate 2000] [--duration 20] [--kill-at 5]
//        [--redis-at 10] [--drain 30] [--out DIR] [--smoke]
//
// PostgreSQL: CHAT_TEST_PG or CHAT_STORE (a fresh schema per run, dropped at the end). Redis: its
// own redis-server on a free loopback port (it is killed during the run). Loopback only.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { resultFile } from './common.mjs';
import { clusterScratch, redact, startCluster, stopCluster } from './relay/cluster.mjs';
import { chatServeFlags, freePort, machineInfo } from './relay/procs.mjs';
import { seedUsersPostgres, tokenFor, userName } from './relay/seed.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { ChatClient } = await import(pathToFileURL(path.join(root, 'dist', 'client', 'index.js')).href);
/** Sends a client may have unanswered; it skips its turn while at this many. */
const WINDOW = 8;
const log = (line) => console.log(`${new Date().toISOString().slice(11, 23)} ${line}`);

function options() {
  const { values } = parseArgs({
    options: {
      pairs: { type: 'string', default: '150' },
      rate: { type: 'string', default: '2000' },
      duration: { type: 'string', default: '20' },
      'kill-at': { type: 'string', default: '5' },
      'redis-at': { type: 'string', default: '10' },
      drain: { type: 'string', default: '30' },
      out: { type: 'string', default: path.join(root, 'bench', 'results') },
      smoke: { type: 'boolean', default: false },
    },
  });
  const o = {
    pairs: Number(values.pairs), rate: Number(values.rate), duration: Number(values.duration),
    killAt: Number(values['kill-at']), redisAt: Number(values['redis-at']), drain: Number(values.drain), out: values.out,
  };
  if (values.smoke) Object.assign(o, { pairs: 10, rate: 200, duration: 4, killAt: 1, redisAt: 2, drain: 20 });
  return o;
}

/** A redis-server of our own, on `port`: resolves once it accepts connections. */
async function startRedis(port) {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('redis-server did not start within 10 s')), 10_000);
    child.once('error', (err) => reject(new Error(`redis-server: ${err.message} (apt-get install redis-server)`)));
    child.stdout.on('data', (b) => b.toString().includes('Ready to accept connections') && (clearTimeout(timer), resolve()));
  });
  return child;
}

const killed = (child) => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', resolve)));

/**
 * Client `i`: its connection (replaced after a reconnect), what it received, and its sends.
 * `nodes()` gives the live nodes' ports, preferred one first.
 */
class Peer {
  constructor(i, seed, ports, stats) {
    Object.assign(this, { i, seed, ports, stats, client: null, stopping: false, reconnects: 0, inFlight: 0 });
    this.got = new Map(); // id → times received
    this.lastId = new Map(); // conversation partner → newest id received from it
  }

  async connect(port) {
    const client = await ChatClient.connect({ host: '127.0.0.1', port, tls: false, timeoutMs: 5000 });
    await client.auth(tokenFor(this.seed, this.i));
    client.on('message', (m) => this.#received(m));
    client.on('close', () => void this.#lost(client));
    await client.subscribe();
    this.client = client;
  }

  #received(m) {
    const times = (this.got.get(m.id) ?? 0) + 1;
    this.got.set(m.id, times);
    if (times > 1) this.stats.duplicates++;
    else if (m.id < (this.lastId.get(m.from) ?? 0)) this.stats.outOfOrder++;
    else this.lastId.set(m.from, m.id);
    this.client?.acknowledge(m.id);
  }

  async #lost(client) {
    if (this.stopping || this.client !== client) return;
    this.client = null;
    const started = performance.now();
    for (let attempt = 0; attempt < 100 && !this.stopping; attempt++) {
      const port = this.ports()[attempt % this.ports().length];
      try {
        await this.connect(port);
        this.reconnects++;
        this.stats.reconnectMs = Math.max(this.stats.reconnectMs, performance.now() - started);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    if (!this.stopping) this.stats.stranded++;
  }
}

async function main() {
  const o = options();
  const pgUrl = process.env.CHAT_TEST_PG ?? process.env.CHAT_STORE;
  if (!pgUrl) {
    console.error('cluster-chaos: set CHAT_TEST_PG (or CHAT_STORE) to a PostgreSQL URL; eval "$(bash .ci/services)" starts one');
    process.exit(2);
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'chat-chaos-'));
  const redisPort = await freePort();
  let redis = await startRedis(redisPort);
  const scratch = await clusterScratch({ pg: pgUrl, redis: `redis://127.0.0.1:${redisPort}` });
  const chatBin = path.join(root, 'bin', 'chat');
  let nodes = [];
  const peers = [];
  try {
    const clients = 2 * o.pairs;
    const seed = `chaos-${Date.now()}`;
    await seedUsersPostgres(root, scratch.storeUrl, clients, seed);
    // Short heartbeats, so the dead node is noticed within the run (as the cluster test does).
    scratch.busUrl += '&heartbeatMs=500&expiryMs=2000';
    nodes = await startCluster({ chatBin, count: 3, scratch, flags: chatServeFlags(chatBin), dir });
    const dead = new Set();
    const live = (k) => [0, 1, 2].map((d) => (k + d) % 3).filter((x) => !dead.has(x)).map((x) => nodes[x].port);
    const stats = { duplicates: 0, outOfOrder: 0, reconnectMs: 0, stranded: 0 };
    for (let i = 0; i < clients; i++) {
      const peer = new Peer(i, seed, () => live((i % 3) + 1), stats);
      await peer.connect(nodes[i % 3].port);
      peers.push(peer);
    }
    log(`${clients} clients on 3 nodes (${nodes.map((n) => `${n.id} :${n.port}`).join(', ')}), Redis :${redisPort}, PostgreSQL fsync ${scratch.postgres.fsync}`);

    // Client 2k talks to 2k+1 and back; k mod 3 puts every pair on two nodes.
    const acked = []; // { id, to, from }
    let attempted = 0;
    let failed = 0;
    let pending = 0; // sends not answered yet
    const errors = new Map(); // why sends failed (digits as N) → how many
    const events = [];
    const t0 = performance.now();
    const at = () => Math.round(performance.now() - t0);
    const chaos = [
      [o.killAt, async () => {
        dead.add(1);
        nodes[1].child.kill('SIGKILL');
        await killed(nodes[1].child);
        events.push({ atMs: at(), what: `SIGKILL ${nodes[1].id}` });
        log(`killed ${nodes[1].id}`);
      }],
      [o.redisAt, async () => {
        redis.kill('SIGKILL');
        await killed(redis);
        events.push({ atMs: at(), what: 'SIGKILL redis-server' });
        redis = await startRedis(redisPort);
        events.push({ atMs: at(), what: 'redis-server started again' });
        log('restarted Redis');
      }],
    ];
    for (const [sec, act] of chaos) setTimeout(() => void act(), sec * 1000);
    const perTick = o.rate / 100;
    let carry = 0;
    let next = 0;
    while (performance.now() - t0 < o.duration * 1000) {
      carry += perTick;
      for (; carry >= 1; carry--) {
        const i = next++ % clients;
        const from = peers[i];
        const to = peers[i ^ 1];
        if (!from.client || from.inFlight >= WINDOW) continue; // reconnecting, or waiting for answers
        attempted++;
        pending++;
        from.inFlight++;
        from.client.send(userName(to.i), `${i}:${attempted}`).finally(() => (pending--, from.inFlight--)).then(
          (m) => acked.push({ id: m.id, to: to.i }),
          (err) => {
            failed++;
            const reason = `${String(err.message).replace(/\d+/g, 'N').slice(0, 100)} (s ${Math.floor(at() / 1000)})`;
            errors.set(reason, (errors.get(reason) ?? 0) + 1);
          },
        );
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    const sentMs = at();
    log(`sent for ${sentMs} ms: ${attempted} attempted, ${acked.length} acknowledged so far; draining`);
    const missing = () => acked.filter((a) => !peers[a.to].got.has(a.id));
    const drainEnd = performance.now() + o.drain * 1000;
    while (performance.now() < drainEnd && (pending > 0 || missing().length > 0)) await new Promise((r) => setTimeout(r, 100));
    const lost = missing();
    const result = {
      date: new Date().toISOString(),
      machine: machineInfo(),
      options: o,
      postgres: scratch.postgres,
      nodes: nodes.map((n) => ({ id: n.id, args: n.args.map(redact), notable: n.notable, notableLines: n.notableLines })),
      events,
      sentMs,
      attempted,
      acknowledged: acked.length,
      notAcknowledged: attempted - acked.length,
      unansweredAtEnd: pending,
      failedBecause: Object.fromEntries(errors),
      lost: lost.length,
      lostSample: lost.slice(0, 10),
      duplicates: stats.duplicates,
      outOfOrder: stats.outOfOrder,
      reconnected: peers.reduce((n, p) => n + p.reconnects, 0),
      slowestReconnectMs: Math.round(stats.reconnectMs),
      stranded: stats.stranded,
      drainedMs: at() - sentMs,
    };
    const file = resultFile(o.out, 'cluster-chaos', result.date.slice(0, 10));
    await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
    console.log([
      `acknowledged ${result.acknowledged} of ${attempted} sends (${result.notAcknowledged} failed or unanswered while things died: ${JSON.stringify(result.failedBecause)})`,
      `lost (acknowledged, never delivered): ${result.lost}`,
      `duplicates: ${result.duplicates}   out of order within a conversation: ${result.outOfOrder}`,
      `reconnected clients: ${result.reconnected} (slowest ${result.slowestReconnectMs} ms), stranded: ${result.stranded}`,
      `events: ${events.map((e) => `${e.what} at ${e.atMs} ms`).join('; ')}`,
      `raw results: ${path.relative(process.cwd(), file)}`,
    ].join('\n'));
    return result.lost === 0 && result.stranded === 0 ? 0 : 1;
  } finally {
    for (const p of peers) p.stopping = true;
    await Promise.all(peers.map((p) => p.client?.close().catch(() => {})));
    await stopCluster(nodes).catch(() => {});
    await scratch.drop().catch((err) => console.error(err.message));
    redis.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code), (err) => {
  console.error(`cluster-chaos: ${err.message}`);
  process.exit(1);
});
