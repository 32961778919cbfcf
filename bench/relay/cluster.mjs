// The cluster part of the relay bench (--nodes N): N `chat serve` nodes sharing a PostgreSQL store
// and a Redis bus (docs/cluster.md), each run in a fresh PostgreSQL schema and under a fresh Redis
// key prefix, both removed at the end; and the readings a cluster adds: the CPU of the
// PostgreSQL backends serving the nodes (found by application_name in pg_stat_activity, read in
// /proc) and of the Redis server (INFO cpu), and the whole machine's busy time (/proc/stat).
//
// pg and ioredis are the project's own dependencies, imported only when --nodes is given.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { cpuSeconds, startChat, stop } from './procs.mjs';

/**
 * The PostgreSQL and Redis URLs for a cluster: CHAT_TEST_PG / CHAT_TEST_REDIS, else CHAT_STORE /
 * CHAT_BUS, else what `.ci/services` (in the repository) prints: it starts (or installs) local
 * test servers. Returns { pg, redis, from } or throws with what is missing.
 */
export function clusterServices(root, log) {
  const pick = (env) => ({
    pg: env.CHAT_TEST_PG || env.CHAT_STORE || null,
    redis: env.CHAT_TEST_REDIS || env.CHAT_BUS || null,
  });
  let found = pick(process.env);
  let from = 'environment';
  if (!found.pg || !found.redis) {
    const script = path.join(root, '.ci', 'services');
    log(`--nodes: ${!found.pg ? 'no CHAT_TEST_PG/CHAT_STORE' : ''}${!found.pg && !found.redis ? ', ' : ''}${!found.redis ? 'no CHAT_TEST_REDIS/CHAT_BUS' : ''}: running .ci/services ...`);
    const r = spawnSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 600_000 });
    const exported = {};
    for (const m of (r.stdout ?? '').matchAll(/^export (CHAT_TEST_PG|CHAT_TEST_REDIS)=(\S+)$/gm)) exported[m[1]] = m[2];
    const more = pick(exported);
    found = { pg: found.pg ?? more.pg, redis: found.redis ?? more.redis };
    from = 'environment and .ci/services';
  }
  if (!found.pg || !found.redis) {
    throw new Error(
      `--nodes needs PostgreSQL and Redis: set CHAT_TEST_PG=postgres://… and CHAT_TEST_REDIS=redis://… ` +
        `(or CHAT_STORE / CHAT_BUS), e.g. eval "$(bash .ci/services)"; .ci/services could not provide ${[!found.pg && 'PostgreSQL', !found.redis && 'Redis'].filter(Boolean).join(' and ')}`,
    );
  }
  if (!/^postgres(ql)?:\/\//.test(found.pg)) throw new Error(`--nodes: ${redact(found.pg)} is not a postgres:// URL`);
  if (!/^rediss?:\/\//.test(found.redis)) throw new Error(`--nodes: ${redact(found.redis)} is not a redis:// URL`);
  return { ...found, from };
}

/** The URL without its password. */
export function redact(url) {
  return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
}

/** `url` with `params` added to its query. */
function withQuery(url, params) {
  const u = new URL(url);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}

/** Loopback hosts, where the servers' processes can be read in /proc. */
const isLocal = (url) => ['127.0.0.1', 'localhost', '[::1]', '::1'].includes(new URL(url).hostname);

/**
 * Scratch space of one cluster run: schema `bench_<hex>` in the database (created here), Redis
 * prefix `bench_<hex>`. storeUrl carries the schema as search_path and the application_name the
 * backend probe looks for; busUrl carries the prefix. drop() removes both (idempotent).
 */
export async function clusterScratch(services) {
  const { default: pg } = await import('pg');
  const { Redis } = await import('ioredis');
  const tag = `bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: services.pg });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${tag}`);
  const settings = (await admin.query(`SELECT current_setting('server_version') AS version, current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS synchronous_commit`)).rows[0];
  const redis = new Redis(services.redis, { lazyConnect: true, maxRetriesPerRequest: 1, connectionName: `${tag}-bench` });
  redis.on('error', () => {}); // a restart (bench/cluster-chaos.mjs); commands report failures themselves
  await redis.connect();
  const redisVersion = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? null;
  let dropped = false;
  return {
    tag,
    storeUrl: withQuery(services.pg, { options: `-c search_path=${tag}`, application_name: tag }),
    busUrl: withQuery(services.redis, { prefix: tag }),
    postgres: { version: settings.version, fsync: settings.fsync, synchronousCommit: settings.synchronous_commit, local: isLocal(services.pg) },
    redis: { version: redisVersion, local: isLocal(services.redis) },
    /** PIDs of the PostgreSQL backends the nodes hold (application_name = tag). */
    async backendPids() {
      const r = await admin.query('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [tag]);
      return r.rows.map((row) => row.pid);
    },
    /** The Redis server's own CPU seconds (user + sys), from INFO cpu. */
    async redisCpuSeconds() {
      const info = await redis.info('cpu');
      const get = (k) => Number(new RegExp(`^${k}:(\\S+)`, 'm').exec(info)?.[1]);
      const v = get('used_cpu_user') + get('used_cpu_sys');
      return Number.isFinite(v) ? v : null;
    },
    async drop() {
      if (dropped) return;
      dropped = true;
      const errors = [];
      await admin.query(`DROP SCHEMA IF EXISTS ${tag} CASCADE`).catch((err) => errors.push(`schema ${tag}: ${err.message}`));
      await admin.end().catch(() => {});
      try {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${tag}:*`, 'COUNT', 1000);
          if (keys.length) await redis.del(...keys);
          cursor = next;
        } while (cursor !== '0');
      } catch (err) {
        errors.push(`redis keys ${tag}:*: ${err.message}`);
      }
      redis.disconnect();
      if (errors.length) throw new Error(`cleaning up the cluster scratch: ${errors.join('; ')}`);
    },
  };
}

/**
 * Starts `count` nodes (node ids n1..nN) on the scratch store and bus, one after the other, each
 * with the single node's flags plus --store, --bus, --node-id, --relay-address 127.0.0.1, and its
 * log kept: lines other than a connection opening, logging in or closing are counted and the
 * first ones kept (`notable`), since in a cluster they are errors (bus, store, refill…).
 */
export async function startCluster({ chatBin, count, scratch, flags, dir, nodeArgs = () => [] }) {
  const nodes = [];
  try {
    for (let k = 1; k <= count; k++) {
      const id = `n${k}`;
      const dataDir = path.join(dir, id);
      mkdirSync(dataDir, { recursive: true });
      const node = { id, notable: 0, notableLines: [] };
      const onLine = (line) => {
        if (!line.trim() || ROUTINE.test(line)) return;
        node.notable++;
        if (node.notableLines.length < 20) node.notableLines.push(line.slice(0, 400));
      };
      const extraArgs = ['--store', scratch.storeUrl, '--bus', scratch.busUrl, '--node-id', id, '--relay-address', '127.0.0.1'];
      Object.assign(node, await startChat({ chatBin, dataDir, flags, nodeArgs: nodeArgs(id), extraArgs, quiet: false, onLine }));
      nodes.push(node);
    }
  } catch (err) {
    await stopCluster(nodes);
    throw err;
  }
  return nodes;
}

/** Log lines of a node that are routine under the bench's load (not counted as notable). */
const ROUTINE = /\] conn [\w:.-]+ (open from|closed|logged in as|[a-z_]+$)|^[\d:.]+ SIG(TERM|INT): shutting down$|^chat: (node |--insecure)|^chat server (stopped|listening)/;

export async function stopCluster(nodes) {
  await Promise.all(nodes.map((n) => stop(n.child, 20_000)));
}

/** Busy and total jiffies of the whole machine (all cores), from /proc/stat. */
export function machineTicks() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = f[3] + (f[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

/** Machine busy % between two machineTicks() readings, 100 = one core (so 200 = both of two). */
export function machineBusyPercent(a, b, cores) {
  const total = b.total - a.total;
  return total > 0 ? Math.round(((b.busy - a.busy) / total) * cores * 1000) / 10 : null;
}

/**
 * CPU seconds of the PostgreSQL backends serving the nodes, kept up to date by polling
 * pg_stat_activity every 500 ms (backends of the pool come and go). window() starts a reading;
 * its end() gives the seconds used since by every backend seen (a backend first seen inside the
 * window counts from when it was first seen: a slight undercount). Null when PostgreSQL is not
 * on this machine.
 */
export function backendCpu(scratch) {
  if (!scratch.postgres.local) return null;
  const known = new Map(); // pid -> CPU seconds when first seen
  let failed = null;
  const poll = async () => {
    try {
      for (const pid of await scratch.backendPids()) if (!known.has(pid)) known.set(pid, cpuSeconds(pid));
    } catch (err) {
      failed = err.message;
    }
  };
  const timer = setInterval(poll, 500);
  void poll();
  return {
    window() {
      const start = new Map([...known.keys()].map((pid) => [pid, cpuSeconds(pid)]));
      return {
        end() {
          let sum = 0;
          for (const [pid, first] of known) {
            const now = cpuSeconds(pid);
            const from = start.get(pid) ?? first;
            if (now !== null && from !== null) sum += now - from;
          }
          return sum;
        },
      };
    },
    backends: () => known.size,
    error: () => failed,
    stop: () => clearInterval(timer),
  };
}
