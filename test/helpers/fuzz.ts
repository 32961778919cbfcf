// Seeded fuzzing: a small PRNG (mulberry32) and generators of hostile input for the relay
// protocol (Part I) and the peer transfer protocol (Part II). Every run prints nothing unless it
// fails; a failure names its seed, and FUZZ_SEED=n replays the same inputs. FUZZ_RUNS scales
// the number of cases (small by default so the suite stays fast; `npm run fuzz` runs many).
import { createCipheriv, randomInt } from 'node:crypto';
import { REQUEST_TYPES, type RequestType } from '../../src/protocol/messages.js';

/** mulberry32: 32-bit state, good enough spread for fuzzing, trivially reproducible. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seeded random source with the helpers the generators need. */
export class Rng {
  readonly #next: () => number;

  constructor(readonly seed: number) {
    this.#next = mulberry32(seed);
  }

  /** A float in [0, 1). */
  float(): number {
    return this.#next();
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.#next() * n);
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.#next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** A size skewed towards small values: mostly < 64, sometimes up to `max`. */
  size(max: number): number {
    const r = this.float();
    if (r < 0.6) return this.int(Math.min(64, max + 1));
    if (r < 0.9) return this.int(Math.min(4096, max + 1));
    return this.int(max + 1);
  }

  /** `n` random bytes (large ones from an AES-CTR keystream keyed by this generator: fast, still seeded). */
  bytes(n: number): Buffer {
    if (n > 256) {
      const key = Buffer.allocUnsafe(16);
      for (let i = 0; i < 16; i += 4) key.writeUInt32BE(this.int(2 ** 32), i);
      return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(n));
    }
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }

  /** A derived, independent generator (one per case, so cases replay on their own). */
  fork(salt: number): Rng {
    return new Rng((Math.imul(this.seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(salt + 1, 0xc2b2ae35)) >>> 0);
  }
}

/** The base seed of this run: FUZZ_SEED if set, else a fresh random one. */
export function fuzzSeed(): number {
  const env = process.env.FUZZ_SEED;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`FUZZ_SEED must be an integer 0..2^32-1, got ${env}`);
    return n;
  }
  return randomInt(0, 0xffffffff);
}

/** Number of cases: FUZZ_RUNS (an integer) scaled by `share`, or `fallback` when unset. */
export function fuzzRuns(fallback: number, share = 1): number {
  const env = process.env.FUZZ_RUNS;
  if (env === undefined || env === '') return fallback;
  const n = Number(env);
  if (!Number.isInteger(n) || n < 1) throw new Error(`FUZZ_RUNS must be a positive integer, got ${env}`);
  return Math.max(1, Math.round(n * share));
}

/** A test timeout: `ms` for the default run, generous when FUZZ_RUNS asks for a long one. */
export function fuzzTimeout(ms: number): number {
  return process.env.FUZZ_RUNS ? Math.max(ms, 15 * 60_000) : ms;
}

/**
 * Runs `body` with a generator seeded from FUZZ_SEED (or a random seed) and, if it throws,
 * rethrows with the seed and how to replay it in the message.
 */
export async function withSeed<T>(name: string, body: (rng: Rng) => T | Promise<T>): Promise<T> {
  const seed = fuzzSeed();
  try {
    return await body(new Rng(seed));
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    const replay = `[fuzz] ${name} failed with seed ${seed}; replay: FUZZ_SEED=${seed}${process.env.FUZZ_RUNS ? ` FUZZ_RUNS=${process.env.FUZZ_RUNS}` : ''}`;
    console.error(replay);
    e.message = `${replay}\n${e.message}`;
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// JSON with hostile values. Values are built as JS data and serialized by `jsonText`, which can
// also emit number spellings JSON.stringify never produces (1e999, -0, 1.0, huge integers).

/** A verbatim piece of JSON text inside a value passed to jsonText. */
export class Raw {
  constructor(readonly text: string) {}
}

/** Serializes like JSON.stringify, but Raw values are emitted as they are. Iterative (any depth). */
export function jsonText(value: unknown): string {
  if (value instanceof Raw) return value.text;
  if (value === undefined) return 'null';
  if (Array.isArray(value)) return `[${value.map(jsonText).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${jsonText(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Strings that break naive code: control characters, lone surrogates, bidi, emoji, prototype keys. */
export const NASTY_STRINGS: readonly string[] = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\udfff',
  'x\ud83dy', // half an emoji
  '\u202eevil\u202c', // right-to-left override
  '\u200f\u05e9\u05dc\u05d5\u05dd', // RTL mark + Hebrew
  '😀🏳️‍🌈👨‍👩‍👧‍👦',
  'e\u0301\u0301\u0301\u0301',
  '\ufeff',
  '\uffff',
  '\r\n',
  '\u2028\u2029',
  '#',
  '##',
  '#\u0000',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'null',
  'NaN',
  '-Infinity',
  '1e999',
  '%s%n%x',
  "'; DROP TABLE users; --",
  '../../etc/passwd',
  'C:\\con\\aux',
  'alice',
  'ALICE',
  'Alice\u212a', // KELVIN SIGN, folds to "k"
  '\u0130stanbul',
  'relay',
];

/** Numbers (and number-like spellings) that break naive checks. */
export function nastyNumber(rng: Rng): unknown {
  return rng.pick<unknown>([
    0, 1, -1, 2, 7, 255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2,
    -(2 ** 53), 1.5, -0.5, 1e-300, 1e300, Number.MAX_VALUE, Number.MIN_VALUE,
    new Raw('-0'), new Raw('1e999'), new Raw('-1e999'), new Raw('1.0'), new Raw('1E2'), new Raw('123456789012345678901234567890'),
    new Raw('0.0000000000000000000000001'), new Raw('9007199254740993'),
    'NaN', 'Infinity', '-Infinity', '1', '0x10', '', ' 1', '1e3',
  ]);
}

/** A string: nasty, random code units, random printable, or long. */
export function nastyString(rng: Rng, maxLength = 2000): string {
  const r = rng.float();
  if (r < 0.4) return rng.pick(NASTY_STRINGS);
  if (r < 0.6) {
    // Random UTF-16 code units, surrogates included.
    const n = rng.size(64);
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(rng.int(0x10000));
    return s;
  }
  if (r < 0.85) {
    const n = rng.size(40);
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(rng.range(0x20, 0x7e));
    return s;
  }
  return rng.pick(['x', 'é', '😀', '\u0000', '#', 'ab']).repeat(rng.range(1, maxLength));
}

/** Deeply nested JSON text: arrays, objects or a mix, `depth` levels. */
export function deepJson(rng: Rng, depth: number): Raw {
  const kind = rng.int(3);
  if (kind === 0) return new Raw('['.repeat(depth) + ']'.repeat(depth));
  if (kind === 1) return new Raw('{"a":'.repeat(depth) + '1' + '}'.repeat(depth));
  return new Raw('[{"a":'.repeat(depth) + 'null' + '}]'.repeat(depth));
}

/** Any JSON value, hostile, at most `depth` levels of containers. */
export function nastyValue(rng: Rng, depth = 3): unknown {
  const r = rng.float();
  if (r < 0.25) return nastyString(rng);
  if (r < 0.45) return nastyNumber(rng);
  if (r < 0.5) return rng.pick([true, false, null]);
  if (r < 0.55) return deepJson(rng, rng.pick([2, 100, 1000, 10_000]));
  if (depth <= 0) return null;
  if (r < 0.75) return Array.from({ length: rng.size(8) }, () => nastyValue(rng, depth - 1));
  const obj: Record<string, unknown> = {};
  for (let i = rng.size(6); i > 0; i--) obj[rng.chance(0.5) ? rng.pick(NASTY_STRINGS) : nastyString(rng, 20)] = nastyValue(rng, depth - 1);
  return obj;
}

// ---------------------------------------------------------------------------------------------
// Relay protocol requests (Part I).

/** Known user names a request may point at (so some mutated requests reach deep into handlers). */
export interface RequestContext {
  users: readonly string[];
  groups: readonly string[];
  offers: readonly string[];
  tokens: readonly string[];
}

const EMPTY_CONTEXT: RequestContext = { users: ['alice', 'bob'], groups: ['ops'], offers: ['abcdefgh'], tokens: [] };

function someUser(rng: Rng, ctx: RequestContext): string {
  return rng.chance(0.8) ? rng.pick(ctx.users) : nastyString(rng, 40);
}

/** A well-formed request of `type` with plausible field values. */
export function validRequest(rng: Rng, type: RequestType, id: number, ctx: RequestContext = EMPTY_CONTEXT): Record<string, unknown> {
  const user = (): string => someUser(rng, ctx);
  const group = (): string => (rng.chance(0.5) ? '#' : '') + (rng.chance(0.8) ? rng.pick(ctx.groups) : nastyString(rng, 40));
  const offer = (): string => (rng.chance(0.7) && ctx.offers.length > 0 ? rng.pick(ctx.offers) : nastyString(rng, 20));
  const candidates = (): unknown[] => Array.from({ length: rng.size(4) }, () => ({ host: '127.0.0.1', port: rng.range(1, 65535) }));
  const file = (): Record<string, unknown> => ({ path: `f${rng.int(100)}.bin`, size: rng.int(1000), mime: 'application/octet-stream', mode: 0o644, mtimeMs: 1 });
  const fields: Record<RequestType, () => Record<string, unknown>> = {
    hello: () => ({ version: 2, client: 'fuzz' }),
    register: () => ({ user: `fz${rng.int(1e9)}`, password: 'correct horse', device: rng.chance(0.5) ? nastyString(rng, 300) : undefined }),
    login: () => ({ user: user(), password: 'correct horse', device: rng.chance(0.5) ? nastyString(rng, 300) : undefined }),
    auth: () => ({ token: ctx.tokens.length > 0 && rng.chance(0.5) ? rng.pick(ctx.tokens) : nastyString(rng, 60) }),
    logout: () => ({}),
    whoami: () => ({}),
    sessions: () => ({}),
    device_keys: () => ({ user: nastyString(rng) }),
    revoke_session: () => (rng.chance(0.5) ? { session: rng.int(1000) } : { others: rng.chance(0.5) }),
    change_password: () => ({ password: rng.chance(0.5) ? 'correct horse' : nastyString(rng, 40), newPassword: 'correct horse' }),
    ping: () => ({}),
    who: () => ({}),
    subscribe: () => ({}),
    send: () => ({ to: rng.chance(0.3) ? group() : user(), text: nastyString(rng, 20_000) }),
    history: () => ({ with: rng.chance(0.3) ? group() : user(), limit: rng.int(600), before: rng.chance(0.5) ? rng.int(1e6) : undefined }),
    ack: () => ({ upTo: rng.int(1000) }),
    offer: () => ({
      to: user(), transfer: nastyString(rng, 200), token: nastyString(rng, 300), candidates: candidates(),
      fileCount: rng.range(1, 3), totalBytes: rng.int(3000), timeoutMs: rng.int(100_000), key: rng.chance(0.5) ? 'k'.repeat(43) : undefined,
    }),
    offer_files: () => ({ offer: offer(), files: Array.from({ length: rng.size(3) }, file), done: rng.chance(0.5) }),
    offer_list: () => ({ offer: offer(), start: rng.int(5), limit: rng.int(2000) }),
    offers: () => ({}),
    accept: () => ({ offer: offer(), key: rng.chance(0.5) ? 'k'.repeat(43) : undefined, candidates: rng.chance(0.5) ? candidates() : undefined }),
    reject: () => ({ offer: offer(), reason: rng.chance(0.5) ? nastyString(rng) : undefined }),
    withdraw: () => ({ offer: offer(), reason: rng.chance(0.5) ? nastyString(rng) : undefined }),
    group_create: () => ({ group: group(), private: rng.chance(0.5) }),
    group_join: () => ({ group: group() }),
    group_leave: () => ({ group: group() }),
    group_members: () => ({ group: group() }),
    group_list: () => ({}),
    group_invite: () => ({ group: group(), user: user() }),
    group_kick: () => ({ group: group(), user: user() }),
    group_delete: () => ({ group: group() }),
    friend_add: () => ({ user: user() }),
    friend_accept: () => ({ user: user() }),
    friend_decline: () => ({ user: user() }),
    friend_remove: () => ({ user: user() }),
    friend_note: () => ({ user: user(), note: nastyString(rng, 700) }),
    friend_list: () => ({}),
    block: () => ({ user: user() }),
    unblock: () => ({ user: user() }),
    blocked: () => ({}),
    users_search: () => ({ prefix: nastyString(rng, 40), limit: rng.int(200) }),
    relay: () => ({ version: 1, transfer: nastyString(rng, 40), role: rng.pick(['sender', 'receiver', nastyString(rng, 10)]), proof: rng.bytes(32).toString('hex') }),
    punch: () => ({ version: rng.pick([1, 1, 2]), transfer: nastyString(rng, 40), role: rng.pick(['sender', 'receiver', nastyString(rng, 10)]), proof: rng.bytes(32).toString('hex') }),
  };
  return { id, type, ...fields[type]() };
}

/** `request` with one to three mutations: a field dropped, retyped, replaced, or junk added. */
export function mutateRequest(rng: Rng, request: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...request };
  for (let n = rng.range(1, 3); n > 0; n--) {
    const keys = Object.keys(out);
    const key = rng.pick(keys.length > 0 ? keys : ['id']);
    switch (rng.int(7)) {
      case 0:
        delete out[key];
        break;
      case 1:
        out[key] = nastyValue(rng);
        break;
      case 2:
        out[key] = nastyNumber(rng);
        break;
      case 3:
        out[key] = nastyString(rng);
        break;
      case 4:
        out[rng.chance(0.5) ? rng.pick(NASTY_STRINGS) : nastyString(rng, 20)] = nastyValue(rng);
        break;
      case 5:
        out.type = rng.chance(0.7) ? rng.pick(REQUEST_TYPES) : nastyValue(rng, 1);
        break;
      default:
        out.id = nastyNumber(rng);
    }
  }
  return out;
}

/** Some request payload: valid, mutated, or not a request at all. */
export function requestPayload(rng: Rng, id: number, ctx?: RequestContext, types: readonly RequestType[] = REQUEST_TYPES): Buffer {
  const r = rng.float();
  const valid = (): Record<string, unknown> => validRequest(rng, rng.pick(types), id, ctx);
  if (r < 0.3) return Buffer.from(jsonText(valid()), 'utf8');
  if (r < 0.75) return Buffer.from(jsonText(mutateRequest(rng, valid())), 'utf8');
  if (r < 0.85) return Buffer.from(jsonText(nastyValue(rng)), 'utf8');
  if (r < 0.9) return rng.bytes(rng.size(300));
  // Almost JSON: a valid request cut short, or with a byte flipped.
  const text = Buffer.from(jsonText(valid()), 'utf8');
  if (rng.chance(0.5)) return text.subarray(0, rng.int(text.length));
  const copy = Buffer.from(text);
  if (copy.length > 0) copy[rng.int(copy.length)] = rng.int(256);
  return copy;
}

// ---------------------------------------------------------------------------------------------
// Frames (both protocols use the same 4-byte big-endian length prefix).

export function frame(payload: Buffer): Buffer {
  const header = Buffer.allocUnsafe(4);
  header.writeUInt32BE(payload.length, 0);
  return Buffer.concat([header, payload]);
}

/** A frame-level defect to end a stream with. */
export type FrameDefect = 'zero' | 'oversized' | 'truncated' | 'header-only' | 'partial-header';

/** Bytes that break framing: `limit` is the receiver's frame limit. */
export function badFrame(rng: Rng, defect: FrameDefect, limit: number, payload: Buffer = Buffer.from('{"id":1}')): Buffer {
  const header = Buffer.allocUnsafe(4);
  switch (defect) {
    case 'zero':
      return Buffer.alloc(4);
    case 'oversized':
      header.writeUInt32BE(rng.pick([limit + 1, limit + 17, 2 ** 31, 0xffffffff, rng.range(limit + 1, 0xffffffff)]), 0);
      return Buffer.concat([header, rng.bytes(rng.size(2000))]);
    case 'truncated': {
      const f = frame(payload);
      return f.subarray(0, rng.range(5, Math.max(5, f.length - 1)));
    }
    case 'header-only':
      header.writeUInt32BE(rng.range(1, limit), 0);
      return header;
    case 'partial-header':
      return header.subarray(0, rng.range(1, 3)).fill(0);
  }
}

/** Splits `bytes` at random points into 1..max pieces (empty pieces included now and then). */
export function splitRandomly(rng: Rng, bytes: Buffer, max = 8): Buffer[] {
  const n = rng.range(1, max);
  const cuts = Array.from({ length: n - 1 }, () => rng.int(bytes.length + 1)).sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let at = 0;
  for (const cut of cuts) {
    parts.push(bytes.subarray(at, cut));
    at = cut;
  }
  parts.push(bytes.subarray(at));
  return parts;
}

// ---------------------------------------------------------------------------------------------
// Transfer protocol frames (Part II): kind byte, then JSON or a DATA header.

const HEX64 = (rng: Rng): string => rng.bytes(32).toString('hex');

/** A control message as the transfer protocol knows them, mutated or not. */
export function transferControl(rng: Rng): Record<string, unknown> {
  const base = rng.pick<() => Record<string, unknown>>([
    () => ({ type: 'hello', v: rng.pick([1, 2, 3]), nonce: HEX64(rng) }),
    () => ({ type: 'auth', v: rng.pick([1, 2, 3, 0]), nonce: HEX64(rng), proof: HEX64(rng), key: rng.chance(0.7) ? rng.bytes(32).toString('base64url') : nastyString(rng, 60) }),
    () => ({ type: 'auth', v: 3, nonce: HEX64(rng), proof: HEX64(rng), key: Buffer.alloc(32).toString('base64url') }), // low-order key
    () => ({ type: 'welcome', v: 3, proof: HEX64(rng) }),
    () => ({ type: 'get', file: rng.pick([0, 1, 2 ** 32, -1]), offset: nastyNumber(rng), tail: rng.chance(0.5) ? { length: nastyNumber(rng), sha256: HEX64(rng) } : undefined }),
    () => ({ type: 'start', file: 0, offset: 0, size: nastyNumber(rng) }),
    () => ({ type: 'end', file: 0, sha256: HEX64(rng) }),
    () => ({ type: 'end', file: 0, sha256: HEX64(rng), size: nastyNumber(rng), prefixSha256: rng.chance(0.5) ? HEX64(rng) : nastyString(rng, 70) }),
    () => ({ type: 'get', file: 0, offset: nastyNumber(rng), tail: { length: 1, sha256: HEX64(rng) }, prefix: nastyNumber(rng) }),
    () => ({ type: 'ack', file: 0, bytes: nastyNumber(rng) }),
    () => ({ type: 'verified', file: 0, sha256: HEX64(rng) }),
    () => ({ type: 'error', code: rng.pick(['protocol', 'aborted', 'bad_token', 'nonsense']), message: nastyString(rng), file: rng.chance(0.5) ? 0 : undefined }),
  ])();
  return rng.chance(0.6) ? mutateTransfer(rng, base) : base;
}

function mutateTransfer(rng: Rng, msg: Record<string, unknown>): Record<string, unknown> {
  const out = { ...msg };
  const key = rng.pick(Object.keys(out));
  switch (rng.int(4)) {
    case 0:
      delete out[key];
      break;
    case 1:
      out[key] = nastyValue(rng);
      break;
    case 2:
      out.type = rng.chance(0.5) ? nastyValue(rng, 1) : rng.pick(['hello', 'auth', 'welcome', 'get', 'data', '']);
      break;
    default:
      out[nastyString(rng, 10)] = nastyValue(rng);
  }
  return out;
}

/** One transfer-protocol payload (kind byte included): control, DATA, unknown kind, bundle, or noise. */
export function transferPayload(rng: Rng, depth = 0): Buffer {
  const r = rng.float();
  if (r < 0.55) return Buffer.concat([Buffer.from([0x01]), Buffer.from(jsonText(transferControl(rng)), 'utf8')]);
  if (r < 0.65) return Buffer.concat([Buffer.from([0x01]), Buffer.from(jsonText(nastyValue(rng)), 'utf8')]);
  if (r < 0.8) {
    // DATA: sometimes with a header that is too short, a huge offset, or a wrong CRC.
    const header = rng.bytes(rng.pick([0, 3, 16, 16, 16]));
    return Buffer.concat([Buffer.from([0x02]), header, rng.bytes(rng.size(3000))]);
  }
  if (r < 0.85) return Buffer.concat([Buffer.from([rng.pick([0x00, 0x03, 0x7f, 0xff])]), rng.bytes(rng.size(100))]);
  if (r < 0.93 && depth === 0) return fuzzBundle(rng);
  return rng.bytes(rng.range(1, 200));
}

/** A BUNDLE payload (protocol.md §T9.1) of fuzzed entries, sometimes with a wrong length or cut short. */
function fuzzBundle(rng: Rng): Buffer {
  const parts: Buffer[] = [Buffer.from([0x04])];
  for (let n = rng.range(1, 5); n > 0; n--) {
    const entry = transferPayload(rng, 1);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(rng.chance(0.15) ? rng.int(2 ** 32) : entry.length);
    parts.push(length, entry);
  }
  const bundle = Buffer.concat(parts);
  return rng.chance(0.1) ? bundle.subarray(0, rng.range(1, bundle.length)) : bundle;
}
