// Where `chat serve` (and `chat admin`) keep state: SQLite in --data and an in-process bus by
// default; PostgreSQL (--store postgres://…, CHAT_STORE) and Redis (--bus redis://…, CHAT_BUS)
// for a cluster (docs/cluster.md). The drivers load only when asked for.
import type { Bus } from '../bus/bus.js';
import { LocalBus } from '../bus/local.js';
import type { Store } from '../store/store.js';
import { CliError } from './context.js';

/** Opens the store: a postgres:// URL, else SQLite in `dataDir`. */
export async function openStore(url: string | undefined, dataDir: string): Promise<Store> {
  if (url && /^postgres(ql)?:\/\//.test(url)) {
    const { PostgresStore } = await import('../store/postgres.js');
    try {
      return await PostgresStore.open(url);
    } catch (err) {
      throw new CliError(`cannot open the PostgreSQL store at ${redact(url)}: ${(err as Error).message}`);
    }
  }
  if (url) throw new CliError(`bad --store "${redact(url)}": use postgres://… (or leave it out for SQLite in --data)`, 2);
  const { SqliteStore } = await import('../store/sqlite.js');
  try {
    return new SqliteStore(dataDir);
  } catch (err) {
    throw new CliError(`cannot open data directory ${dataDir}: ${(err as Error).message}`);
  }
}

/** Opens the bus: a redis:// URL, else in-process. */
export async function openBus(url: string | undefined, log: (line: string) => void): Promise<Bus> {
  if (!url) return new LocalBus({ onError: (err: Error) => log(`bus: ${err.message}`) });
  if (!/^rediss?:\/\//.test(url)) throw new CliError(`bad --bus "${redact(url)}": use redis://host:port`, 2);
  const { RedisBus } = await import('../bus/redis.js');
  const { url: plain, options } = busOptions(url);
  try {
    return await RedisBus.open(plain, { ...options, onError: (err: Error) => log(`bus: ${err.message}`) });
  } catch (err) {
    throw new CliError(`cannot reach the Redis bus at ${redact(url)}: ${(err as Error).message}`);
  }
}

/** Our settings in the bus URL's query (?prefix=chat&heartbeatMs=2000&expiryMs=6000), taken out of it. */
export function busOptions(url: string): { url: string; options: { prefix?: string; heartbeatMs?: number; expiryMs?: number } } {
  const parsed = new URL(url);
  const options: { prefix?: string; heartbeatMs?: number; expiryMs?: number } = {};
  const prefix = parsed.searchParams.get('prefix');
  if (prefix !== null) options.prefix = prefix;
  for (const key of ['heartbeatMs', 'expiryMs'] as const) {
    const value = parsed.searchParams.get(key);
    if (value === null) continue;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 10) throw new CliError(`bad ${key}=${value} in the bus URL: use milliseconds ≥ 10`, 2);
    options[key] = n;
  }
  for (const key of ['prefix', 'heartbeatMs', 'expiryMs']) parsed.searchParams.delete(key);
  return { url: parsed.toString(), options };
}

/** The URL without its password (user:PASSWORD@ or ?password=), for messages and logs. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@').replace(/([?&]password=)[^&#]*/gi, '$1***');
}
