// Fuzzing live endpoints over real TCP on 127.0.0.1: the relay server (before and after login,
// the transfer relay's pairing request and its raw pipes) and the transfer peers (a Sender's
// listener, a Receiver's reverse listener). While the junk flows, well-behaved clients keep
// working: chat messages are all delivered, a transfer running at the same time completes intact.
// Seeded: a failure prints FUZZ_SEED=n to replay the same inputs; FUZZ_RUNS=n runs more cases.
import { createHash, randomBytes } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import net, { connect as netConnect, type Socket } from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChatClient } from '../../src/client/client.js';
import { ERROR_CODES } from '../../src/protocol/errors.js';
import { FrameDecoder, encodeJsonFrame } from '../../src/protocol/frame.js';
import type { ChatMessage, RequestType } from '../../src/protocol/messages.js';
import { REQUEST_TYPES } from '../../src/protocol/messages.js';
import { relayRequest } from '../../src/protocol/relay.js';
import { chunkCrc, writeDataHeader } from '../../src/transfer/chunk.js';
import { TRANSFER_ERROR_CODES, TransferError } from '../../src/transfer/errors.js';
import { acceptHandshake, dial } from '../../src/transfer/handshake.js';
import { newKeyPair } from '../../src/transfer/keys.js';
import { parseControl } from '../../src/transfer/messages.js';
import { newTransferSecret } from '../../src/transfer/offer.js';
import { Receiver } from '../../src/transfer/receiver.js';
import { Sender } from '../../src/transfer/sender.js';
import { Wire } from '../../src/transfer/wire.js';
import {
  badFrame, frame, fuzzRuns, fuzzTimeout, jsonText, requestPayload, splitRandomly, transferControl, transferPayload, withSeed,
  type FrameDefect, type RequestContext, type Rng,
} from '../helpers/fuzz.js';
import { LineBuffer } from '../helpers/lines.js';
import { startServer, type TestServer, FLOOD_LIMITS } from '../helpers/server.js';
import { collectFiles, pseudoRandom, removeDirs, sha256File, tmpDir, writeRandomFile } from '../helpers/transfer-files.js';

const PASSWORD = 'correct horse';
/** Bound on every single wait of a case (a case that needs longer is a hang). */
const WAIT_MS = 10_000;
const WORKERS = 6;

const ERROR_CODE_SET = new Set<string>(ERROR_CODES);

/** Runs `count` cases on `workers` concurrent loops; each case gets its own forked generator. */
async function runCases(base: Rng, count: number, workers: number, body: (rng: Rng, i: number, worker: number) => Promise<void>, stop?: () => boolean): Promise<number> {
  let next = 0;
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      for (;;) {
        const i = next++;
        if (i >= count || stop?.()) return;
        try {
          await body(base.fork(i), i, worker);
        } catch (err) {
          (err as Error).message = `case ${i}: ${(err as Error).message}`;
          throw err;
        }
      }
    }),
  );
  return Math.min(next, count);
}

/** Lets other I/O run between writes, so pieces of a stream reach the peer separately. */
const yieldIo = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * A raw connection that records what the peer sends as frames (`decode` turns a payload into a
 * record, or throws). After the first undecodable byte, or once `rawAfter` says the stream has
 * stopped framing (a paired relay), bytes are only counted.
 */
class Peer {
  readonly frames: Record<string, unknown>[] = [];
  readonly violations: string[] = [];
  readonly closed: Promise<void>;
  raw: Buffer[] = [];
  rawBytes = 0;
  #framing = true;
  #decoder = new FrameDecoder({ maxFrameBytes: 64 * 1024 * 1024 });
  #waiters = new Set<() => void>();
  #isClosed = false;

  private constructor(
    readonly socket: Socket,
    readonly decode: (payload: Buffer) => Record<string, unknown>,
    readonly rawAfter: (frame: Record<string, unknown>) => boolean,
  ) {
    socket.on('error', () => {}); // resets are expected; 'close' follows
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.#isClosed = true;
        this.#wake();
        resolve();
      }),
    );
  }

  static open(port: number, decode: Peer['decode'], rawAfter: Peer['rawAfter'] = () => false): Promise<Peer> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host: '127.0.0.1', port });
      socket.setNoDelay(true);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new Peer(socket, decode, rawAfter));
      });
    });
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  #onData(chunk: Buffer): void {
    if (!this.#framing) {
      this.raw.push(chunk);
      this.rawBytes += chunk.length;
      return this.#wake();
    }
    let payloads: Buffer[];
    try {
      payloads = this.#decoder.push(chunk);
    } catch (err) {
      this.violations.push(`undecodable frame: ${(err as Error).message}`);
      this.#framing = false;
      return this.#wake();
    }
    for (const [k, payload] of payloads.entries()) {
      let f: Record<string, unknown>;
      try {
        f = this.decode(payload);
      } catch (err) {
        this.violations.push(`${(err as Error).message}: ${payload.subarray(0, 200).toString('utf8')}`);
        continue;
      }
      this.frames.push(f);
      if (this.rawAfter(f)) {
        // Everything after this frame is the other side's raw bytes.
        this.#framing = false;
        const rest = Buffer.concat([...payloads.slice(k + 1).map(frame), this.#decoder.takeRest()]);
        if (rest.length > 0) {
          this.raw.push(rest);
          this.rawBytes += rest.length;
        }
        break;
      }
    }
    this.#wake();
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }

  /** Resolves once `cond()` holds or the connection closed; rejects after `timeoutMs`. */
  until(cond: () => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
    if (cond() || this.#isClosed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!cond() && !this.#isClosed) return;
        this.#waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`no ${what} within ${timeoutMs} ms; frames ${JSON.stringify(this.frames).slice(0, 2000)}`));
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }

  /** Resolves when the peer closed the connection; rejects after `timeoutMs`. */
  waitClosed(what: string, timeoutMs = WAIT_MS): Promise<void> {
    return this.until(() => false, `close (${what})`, timeoutMs);
  }

  /** Writes `bytes` in random pieces, yielding to I/O between them; false if the socket went away. */
  async writeSplit(rng: Rng, bytes: Buffer, maxPieces = 8): Promise<boolean> {
    for (const piece of splitRandomly(rng, bytes, maxPieces)) {
      if (this.socket.destroyed || this.#isClosed || !this.socket.writable) return false;
      if (piece.length > 0) this.socket.write(piece);
      if (rng.chance(0.5)) await yieldIo();
    }
    return true;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// The relay server.

/** Every frame the server sends must be a JSON object: ok, error (with a catalogued code) or event. */
function serverFrame(payload: Buffer): Record<string, unknown> {
  const f = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
  if (typeof f !== 'object' || f === null || Array.isArray(f)) throw new Error('server frame is not an object');
  if (f.type === 'ok') {
    if (!Number.isSafeInteger(f.id) || (f.id as number) < 1 || f.result === undefined) throw new Error('malformed ok reply');
  } else if (f.type === 'error') {
    if (!ERROR_CODE_SET.has(f.code as string)) throw new Error(`error reply with code ${String(f.code)}`);
    if (typeof f.message !== 'string' || f.message.length > 1000) throw new Error('error reply without a short message');
    if (f.id !== null && !(Number.isSafeInteger(f.id) && (f.id as number) >= 1)) throw new Error(`error reply with id ${String(f.id)}`);
  } else if (f.type !== 'event' || typeof f.event !== 'string') {
    throw new Error(`unknown server frame type ${String(f.type)}`);
  }
  return f;
}

const isReply = (f: Record<string, unknown>): boolean => f.type === 'ok' || f.type === 'error';
const paired = (f: Record<string, unknown>): boolean => f.type === 'ok' && (f.result as { paired?: boolean } | undefined)?.paired === true;

/** The two well-behaved users and what they sent and received. */
interface Chatter {
  client: ChatClient;
  user: string;
  token: string;
  received: Map<number, ChatMessage>;
  closed: boolean;
  /** Resolves once every id in `ids` was received; rejects after WAIT_MS (re-checked on each message). */
  untilReceived(ids: number[]): Promise<void>;
}

describe('fuzz: the relay server', () => {
  let ts: TestServer;
  let logs: LineBuffer;
  const peers: Peer[] = [];
  const clients: ChatClient[] = [];

  beforeEach(async () => {
    logs = new LineBuffer();
    // Abuse limits off: the fuzzer fails logins by the thousand and holds many connections (test/abuse/ covers them).
    const limits = {
      ...FLOOD_LIMITS, maxLoginDelayMs: 0, maxLoginFailures: 1e9, maxLoginFailuresPerUserAddress: 1e9, maxLoginFailuresPerAddress: 1e9,
      maxConnectionsPerAddress: 1e9, maxHashesPerAddress: 1e9, maxQueuedHashes: 1e9, maxRegistrationsPerAddress: 1e9, maxRegistrationsPerHour: 1e9,
    };
    ts = await startServer({ tls: false, limits, log: (line) => logs.push(`${line}\n`) });
  });

  afterEach(async () => {
    for (const p of peers.splice(0)) p.destroy();
    await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
    await ts.cleanup();
  });

  async function client(): Promise<ChatClient> {
    const c = await ChatClient.connect({ host: ts.host, port: ts.port, tls: ts.tls, timeoutMs: WAIT_MS, client: 'fuzz-test' });
    clients.push(c);
    return c;
  }

  async function chatter(user: string): Promise<Chatter> {
    const c = await client();
    const { token } = await c.register(user, PASSWORD);
    const received = new Map<number, ChatMessage>();
    const me: Chatter = {
      client: c, user, token, received, closed: false,
      untilReceived: (ids) =>
        new Promise((resolve, reject) => {
          const check = (): boolean => ids.every((id) => received.has(id));
          if (check()) return resolve();
          const onMessage = (): void => {
            if (!check()) return;
            clearTimeout(timer);
            c.off('message', onMessage);
            resolve();
          };
          const timer = setTimeout(() => {
            c.off('message', onMessage);
            reject(new Error(`${user} did not receive ${ids.filter((id) => !received.has(id)).length} of ${ids.length} messages within ${WAIT_MS} ms`));
          }, WAIT_MS);
          c.on('message', onMessage);
        }),
    };
    c.on('message', (m) => {
      received.set(m.id, m);
      c.acknowledge(m.id);
    });
    c.on('close', () => (me.closed = true));
    await c.subscribe();
    return me;
  }

  async function peer(rawAfter?: Peer['rawAfter']): Promise<Peer> {
    const p = await Peer.open(ts.port, serverFrame, rawAfter);
    peers.push(p);
    return p;
  }

  /** An offer from `from` to `to`, accepted: the transfer may now use the relay. */
  async function ticket(from: ChatClient, to: ChatClient, toUser: string): Promise<{ transfer: string; token: string }> {
    const transfer = randomBytes(12).toString('base64url');
    const token = randomBytes(24).toString('base64url');
    const { offer } = await from.offer(toUser, { transfer, token, candidates: [{ host: '127.0.0.1', port: 9 }], timeoutMs: 60_000 }, [
      { path: 'x', size: 1, mime: 'text/plain', mode: 0o644, mtimeMs: 0 },
    ]);
    await to.accept(offer);
    return { transfer, token };
  }

  /** Log lines that mean the server hit a bug (an 'internal' reply is logged with "failed:"). */
  function badLogLines(): string[] {
    return logs.lines.filter((l) => /internal|failed:|already failed|uncaught|unhandled/i.test(l));
  }

  it('many fuzzed connections (before and after login, relay requests, raw pipes) while two clients keep chatting', async () => {
    const alice = await chatter('alice');
    const bob = await chatter('bob');
    await alice.client.groupCreate('ops');
    await bob.client.groupJoin('ops');
    // One logged-in fuzz user per worker (auth is cheap; register costs an scrypt).
    const fuzzUsers = await Promise.all(
      Array.from({ length: WORKERS }, async (_, w) => {
        const c = await client();
        const { token } = await c.register(`fuzz${w}`, PASSWORD);
        await c.close();
        return { user: `fuzz${w}`, token };
      }),
    );
    const ctx: RequestContext & { offers: string[] } = {
      users: ['alice', 'bob', ...fuzzUsers.map((u) => u.user), 'nobody'],
      groups: ['ops', 'fuzzgroup'],
      offers: [],
      tokens: fuzzUsers.map((u) => u.token),
    };
    const single = await ticket(alice.client, bob.client, 'bob');
    const violations: string[] = [];
    const kinds = new Map<string, number>();

    // The chat that must go on: alice and bob take turns until the fuzzing is over.
    const sent: ChatMessage[] = [];
    let fuzzing = true;
    const chatting = (async () => {
      for (let n = 0; fuzzing || n < 20; n++) {
        const [from, to] = n % 2 === 0 ? [alice, bob] : [bob, alice];
        sent.push(await from.client.send(to.user, `chat ${n} \u{1F600}`));
      }
    })();
    chatting.catch(() => {}); // awaited below; a failure must not surface as an unhandled rejection first

    const loggedInTypes = REQUEST_TYPES.filter((t) => t !== 'logout' && t !== 'relay' && t !== 'punch');
    const DEFECTS: FrameDefect[] = ['zero', 'oversized', 'truncated', 'header-only', 'partial-header'];

    /** Writes `frames` (one stream, split randomly), then ends the case as `end` says. */
    async function batch(rng: Rng, p: Peer, frames: Buffer[], expectReplies: number, end: 'wait' | 'destroy' | 'end'): Promise<void> {
      const before = p.frames.filter(isReply).length;
      await p.writeSplit(rng, Buffer.concat(frames));
      if (end === 'destroy') return p.destroy();
      if (end === 'end') {
        p.socket.end();
        return p.waitClosed('after end');
      }
      // Every complete frame gets exactly one reply, in order (or the server closes on a fatal one).
      await p.until(() => p.frames.filter(isReply).length - before >= expectReplies, `${expectReplies} replies`);
    }

    async function hello(p: Peer): Promise<boolean> {
      p.socket.write(encodeJsonFrame({ id: 1, type: 'hello', version: 2 }));
      await p.until(() => p.frames.some(isReply), 'hello reply');
      return !p.isClosed;
    }

    async function auth(p: Peer, token: string): Promise<boolean> {
      p.socket.write(encodeJsonFrame({ id: 2, type: 'auth', token }));
      await p.until(() => p.frames.filter(isReply).length >= 2, 'auth reply');
      return !p.isClosed && p.frames.some((f) => f.type === 'ok' && f.id === 2);
    }

    const chooseEnd = (rng: Rng): 'wait' | 'destroy' | 'end' => (rng.chance(0.7) ? 'wait' : rng.chance(0.5) ? 'destroy' : 'end');
    const fuzzFrames = (rng: Rng, types?: readonly RequestType[]): Buffer[] =>
      Array.from({ length: rng.range(1, 8) }, (_, k) => frame(requestPayload(rng, 10 + k, ctx, types)));

    type Open = (rawAfter?: Peer['rawAfter']) => Promise<Peer>;
    const cases: Record<string, { weight: number; run: (rng: Rng, worker: number, peer: Open) => Promise<void> }> = {
      // Bytes that are not our protocol at all (sometimes an HTTP request, or TLS ClientHello-like).
      noise: {
        weight: 8,
        run: async (rng, _w, peer) => {
          const p = await peer();
          const bytes = rng.pick([
            () => rng.bytes(rng.size(70_000)),
            () => Buffer.from('GET / HTTP/1.1\r\nHost: chat\r\n\r\n'),
            () => Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]), rng.bytes(512)]),
          ])();
          await batch(rng, p, [bytes], 0, rng.chance(0.5) ? 'destroy' : 'end');
        },
      },
      // Anything but a proper hello first: fatal unless it is a parse error.
      'first-frame': {
        weight: 6,
        run: async (rng, _w, peer) => {
          const p = await peer();
          const frames = fuzzFrames(rng);
          await batch(rng, p, frames, frames.length, chooseEnd(rng));
        },
      },
      // hello, then anything, before login (login attempts included).
      'before-login': {
        weight: 18,
        run: async (rng, _w, peer) => {
          const p = await peer();
          if (!(await hello(p))) return;
          const frames = fuzzFrames(rng);
          await batch(rng, p, frames, frames.length, chooseEnd(rng));
        },
      },
      // Logged in as this worker's user: every request type with mutated fields, pipelined.
      'after-login': {
        weight: 30,
        run: async (rng, w, peer) => {
          const p = await peer();
          if (!(await hello(p)) || !(await auth(p, fuzzUsers[w]!.token))) return;
          const frames = fuzzFrames(rng, loggedInTypes);
          await batch(rng, p, frames, frames.length, chooseEnd(rng));
        },
      },
      // Logged in, one request at a time, learning offer ids from replies for later requests.
      sequence: {
        weight: 12,
        run: async (rng, w, peer) => {
          const p = await peer();
          if (!(await hello(p)) || !(await auth(p, fuzzUsers[w]!.token))) return;
          for (let k = 0, id = 3; k < rng.range(3, 12) && !p.isClosed; k++, id++) {
            const before = p.frames.filter(isReply).length;
            await p.writeSplit(rng, frame(requestPayload(rng, id, ctx, loggedInTypes)), 3);
            await p.until(() => p.frames.filter(isReply).length > before, 'a reply');
            const reply = p.frames.filter(isReply).at(-1) as { result?: { offer?: unknown } } | undefined;
            if (typeof reply?.result?.offer === 'string' && ctx.offers.length < 64) ctx.offers.push(reply.result.offer);
          }
          p.destroy();
        },
      },
      // A fresh account (scrypt), whose session may also be logged out by the fuzz.
      register: {
        weight: 2,
        run: async (rng, _w, peer) => {
          const p = await peer();
          if (!(await hello(p))) return;
          p.socket.write(encodeJsonFrame({ id: 2, type: 'register', user: `fz${rng.int(1e9)}`, password: PASSWORD }));
          await p.until(() => p.frames.filter(isReply).length >= 2, 'register reply');
          const frames = fuzzFrames(rng);
          await batch(rng, p, frames, frames.length, chooseEnd(rng));
        },
      },
      // Valid frames, then a framing defect: the server must close (or wait for the rest).
      defect: {
        weight: 8,
        run: async (rng, _w, peer) => {
          const p = await peer();
          const defect = rng.pick(DEFECTS);
          const frames = [frame(Buffer.from(jsonText({ id: 1, type: 'hello', version: 2 }))), ...fuzzFrames(rng).slice(0, 2)];
          frames.push(badFrame(rng, defect, ts.server.limits.maxFrameBytes));
          await p.writeSplit(rng, Buffer.concat(frames));
          if (defect === 'zero' || defect === 'oversized') await p.waitClosed(`${defect} frame`);
          else p.destroy(); // a frame cut short: the server waits for the rest, until we go
        },
      },
      // relay as the first request, with junk fields or a wrong proof; sometimes more frames after it.
      relay: {
        weight: 8,
        run: async (rng, _w, peer) => {
          const p = await peer(paired);
          const frames = [frame(requestPayload(rng, 1, ctx, [rng.pick(['relay', 'punch'] as const)])), ...(rng.chance(0.3) ? fuzzFrames(rng) : [])];
          await batch(rng, p, frames, 1, rng.chance(0.6) ? 'wait' : 'destroy');
          p.destroy();
        },
      },
      // A correct relay request nobody pairs with (yet), abandoned at once, maybe with junk behind it.
      'relay-abandoned': {
        weight: 3,
        run: async (rng, _w, peer) => {
          const p = await peer(paired);
          const role = rng.pick(['sender', 'receiver'] as const);
          const junk = rng.chance(0.5) ? [rng.bytes(rng.size(5000))] : rng.chance(0.5) ? fuzzFrames(rng) : [];
          await p.writeSplit(rng, Buffer.concat([encodeJsonFrame(relayRequest(single.token, role, single.transfer)), ...junk]));
          p.destroy();
        },
      },
      // Both sides of a fresh accepted offer: paired, then junk both ways must arrive unchanged.
      'relay-pair': {
        weight: 5,
        run: async (rng, _w, peer) => {
          const t = await ticket(alice.client, bob.client, 'bob');
          const [s, r] = [await peer(paired), await peer(paired)];
          s.socket.write(encodeJsonFrame(relayRequest(t.token, 'sender', t.transfer)));
          r.socket.write(encodeJsonFrame(relayRequest(t.token, 'receiver', t.transfer)));
          await Promise.all([s.until(() => s.frames.some(paired), 'paired'), r.until(() => r.frames.some(paired), 'paired')]);
          expect(s.frames.some(paired) && r.frames.some(paired), `both sides paired: ${JSON.stringify([s.frames, r.frames])}`).toBe(true);
          const [toR, toS] = [rng.bytes(rng.size(200_000)), rng.bytes(rng.size(2000))];
          await Promise.all([s.writeSplit(rng, toR), r.writeSplit(rng, toS)]);
          await Promise.all([r.until(() => r.rawBytes >= toR.length, 'relayed bytes'), s.until(() => s.rawBytes >= toS.length, 'relayed bytes')]);
          expect(Buffer.concat(r.raw).equals(toR), 'sender → receiver bytes intact').toBe(true);
          expect(Buffer.concat(s.raw).equals(toS), 'receiver → sender bytes intact').toBe(true);
          // One side goes (abruptly or not): the server closes the other.
          if (rng.chance(0.5)) s.destroy();
          else s.socket.end();
          await r.waitClosed('relay partner gone');
        },
      },
    };
    const table = Object.entries(cases);
    const totalWeight = table.reduce((sum, [, c]) => sum + c.weight, 0);
    const pickCase = (rng: Rng): [string, (typeof cases)[string]] => {
      let x = rng.int(totalWeight);
      for (const entry of table) if ((x -= entry[1].weight) < 0) return entry;
      return table[0]!;
    };

    const started = performance.now();
    const ran = await withSeed('relay server', async (base) =>
      runCases(base, fuzzRuns(600, 0.5), WORKERS, async (rng, _i, worker) => {
        const [name, c] = pickCase(rng);
        kinds.set(name, (kinds.get(name) ?? 0) + 1);
        const mine: Peer[] = [];
        const open: Open = async (rawAfter) => {
          const p = await peer(rawAfter);
          mine.push(p);
          return p;
        };
        try {
          await c.run(rng, worker, open);
        } finally {
          for (const p of mine) {
            violations.push(...p.violations.map((v) => `${name}: ${v}`));
            p.destroy();
          }
        }
      }),
    ).finally(() => (fuzzing = false));
    await chatting;
    const elapsed = Math.round(performance.now() - started);

    // Frames from the server were always well-formed (no error reply without a code, ...).
    expect(violations).toEqual([]);
    // Every chat message was delivered, and the two clients stayed connected.
    const toAlice = sent.filter((m) => m.to === 'alice').map((m) => m.id);
    const toBob = sent.filter((m) => m.to === 'bob').map((m) => m.id);
    await Promise.all([alice.untilReceived(toAlice), bob.untilReceived(toBob)]);
    for (const m of sent) expect((m.to === 'alice' ? alice : bob).received.get(m.id)).toEqual(m);
    expect(alice.closed || bob.closed).toBe(false);
    // The server still takes new clients, and nothing it logged was a bug.
    const fresh = await client();
    await fresh.register('latecomer', PASSWORD);
    // (A fuzz user's last connection may still be closing: alice and bob must be there.)
    expect(await fresh.who()).toEqual(expect.arrayContaining(['alice', 'bob']));
    expect(badLogLines()).toEqual([]);
    expect(ran).toBeGreaterThan(0);
    console.log(`[fuzz] relay server: ${ran} cases in ${elapsed} ms (${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')}), ${sent.length} chat messages delivered`);
  }, fuzzTimeout(30_000));

  it('regression: an unknown request type that cannot be turned into a string gets unknown_type, and the connection stays open', async () => {
    const p = await peer();
    p.socket.write(Buffer.concat([
      frame(Buffer.from('{"id":1,"type":{"toString":1}}')),
      frame(Buffer.from(`{"id":2,"type":${'['.repeat(100_000)}${']'.repeat(100_000)}}`)),
      encodeJsonFrame({ id: 3, type: 'hello', version: 2 }),
    ]));
    await p.until(() => p.frames.length >= 3, 'three replies');
    expect(p.violations).toEqual([]);
    expect(p.frames).toMatchObject([
      { type: 'error', id: 1, code: 'unknown_type' },
      { type: 'error', id: 2, code: 'unknown_type' },
      { type: 'ok', id: 3 },
    ]);
    expect(p.isClosed).toBe(false);
  });

  it('regression: optional fields sent as null (offer/accept "key") are absent, not an internal error', async () => {
    const alice = await client();
    await alice.register('alice', PASSWORD);
    const bob = await client();
    await bob.register('bob', PASSWORD);
    const { offer } = await alice.request<{ offer: string }>('offer', {
      to: 'bob', transfer: 't1', token: 'secret', candidates: [], fileCount: 1, totalBytes: 1, timeoutMs: 60_000, key: null as unknown as string,
    });
    await alice.request('offer_files', { offer, files: [{ path: 'x', size: 1, mime: 'text/plain', mode: 0o644, mtimeMs: 0 }], done: true });
    const accepted = new Promise((resolve) => alice.once('offer_accepted', resolve));
    const info = await bob.request<{ offer: Record<string, unknown> }>('accept', { offer, key: null as unknown as string, candidates: null as unknown as [] });
    expect(info.offer).toMatchObject({ id: offer, from: 'alice' });
    expect(info.offer).not.toHaveProperty('key');
    expect(await accepted).toMatchObject({ offer, by: 'bob' });
    expect(badLogLines()).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// The transfer peers.

/** A frame from a transfer peer before the handshake completes: a control message (kind 0x01). */
function transferFrame(payload: Buffer): Record<string, unknown> {
  if (payload[0] !== 0x01) throw new Error(`peer sent payload kind ${payload[0]} before the handshake`);
  return parseControl(payload.subarray(1)) as unknown as Record<string, unknown>;
}

describe('fuzz: transfer peers', () => {
  const BIG = 6 * 1024 * 1024;
  const CASES = fuzzRuns(300, 0.25);
  /** A rate cap that keeps the transfer running while the fuzz goes on (about 3 ms per case, at least 1 s). */
  const RATE = Math.floor((BIG * 1000) / Math.max(1000, CASES * 3));
  const dirs: string[] = [];
  const peers: Peer[] = [];
  afterEach(async () => {
    for (const p of peers.splice(0)) p.destroy();
    await removeDirs(dirs.splice(0));
  });

  async function dir(): Promise<string> {
    const d = await tmpDir('chat-fuzz-');
    dirs.push(d);
    return d;
  }

  /**
   * One fuzz case against a transfer listener: a Sender's (it speaks first, `hello`, and may answer
   * `error`) or a Receiver's reverse listener (it waits for our hello and answers `auth`).
   * `answers` are the only control messages the listener may send to a stranger.
   */
  async function transferCase(rng: Rng, port: number, violations: string[], answers: readonly string[]): Promise<void> {
    let p: Peer;
    try {
      p = await Peer.open(port, transferFrame);
    } catch {
      return; // the listener closed: the transfer is over
    }
    peers.push(p);
    try {
      const payloads: Buffer[] = [];
      const r = rng.float();
      if (r < 0.15) payloads.push(rng.bytes(rng.size(70_000)));
      else {
        for (let n = rng.range(1, 5); n > 0; n--) {
          payloads.push(frame(rng.chance(0.7) ? Buffer.concat([Buffer.from([0x01]), Buffer.from(jsonText(transferControl(rng)))]) : transferPayload(rng)));
        }
        if (rng.chance(0.3)) payloads.push(badFrame(rng, rng.pick<FrameDefect>(['zero', 'oversized', 'truncated', 'header-only']), 65_536));
      }
      // Sometimes wait for the Sender's hello first, as a receiver would.
      if (answers.includes('hello') && rng.chance(0.3)) await p.until(() => p.frames.length > 0, 'hello');
      await p.writeSplit(rng, Buffer.concat(payloads));
      if (rng.chance(0.5)) p.destroy();
      else {
        p.socket.end();
        await p.waitClosed('after our end');
      }
    } finally {
      violations.push(...p.violations);
      for (const f of p.frames) if (!answers.includes(f.type as string)) violations.push(`unexpected ${JSON.stringify(f)}`);
      p.destroy();
    }
  }

  it('a Sender refuses fuzzed connections and keeps serving the real receiver: the transfer completes intact', async () => {
    const [src, dst] = [await dir(), await dir()];
    const files = await collectFiles([await writeRandomFile(src, 'big.bin', BIG, 7), await writeRandomFile(src, 'small.txt', 1000, 8)]);
    const secret = newTransferSecret();
    const [senderKeys, receiverKeys] = [newKeyPair(), newKeyPair()];
    const sender = new Sender({ ...secret, files, host: '127.0.0.1', keys: senderKeys, via: ['direct'], limitRate: RATE, handshakeTimeoutMs: 3000 });
    const port = await sender.listen();
    sender.accepted({ key: receiverKeys.publicKey });
    let refused = 0;
    sender.on('refused', () => refused++);
    const receiver = new Receiver({
      ...secret, candidates: [{ host: '127.0.0.1', port }], files: files.map(({ source: _s, ...f }) => f), dir: dst,
      keys: { own: receiverKeys, peer: senderKeys.publicKey }, via: ['direct'], retryDelayMs: 10,
    });
    const violations: string[] = [];
    let done = false;
    const transfer = Promise.all([receiver.start(), sender.done]).finally(() => (done = true));
    const ran = await withSeed('sender listener', (base) => runCases(base, CASES, 4, (rng) => transferCase(rng, port, violations, ['hello', 'error']), () => done));
    const [received, sent] = await transfer;
    for (const [i, f] of files.entries()) {
      expect(received.files[i]!.sha256).toBe(await sha256File(f.source));
      expect(await sha256File(received.files[i]!.savedAs)).toBe(received.files[i]!.sha256);
      expect(sent.files[i]!.sha256).toBe(received.files[i]!.sha256);
    }
    expect(violations).toEqual([]);
    expect(ran).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
    console.log(`[fuzz] sender listener: ${ran} cases, ${refused} refused, transfer intact`);
  }, fuzzTimeout(30_000));

  it("a Receiver's reverse listener drops fuzzed connections; the sender's reverse connection still carries the transfer", async () => {
    const [src, dst] = [await dir(), await dir()];
    const files = await collectFiles([await writeRandomFile(src, 'big.bin', BIG, 9), await writeRandomFile(src, 'empty.txt', 0, 10)]);
    const secret = newTransferSecret();
    const [senderKeys, receiverKeys] = [newKeyPair(), newKeyPair()];
    const receiver = new Receiver({
      ...secret, candidates: [], files: files.map(({ source: _s, ...f }) => f), dir: dst,
      keys: { own: receiverKeys, peer: senderKeys.publicKey }, via: ['reverse'], retryDelayMs: 10, limitRate: RATE,
      listen: { host: '127.0.0.1', advertise: ['127.0.0.1'], advertiseOnly: true },
    });
    const candidates = await receiver.prepare();
    expect(candidates.length).toBeGreaterThan(0);
    const port = candidates[0]!.port;
    const violations: string[] = [];
    // Fuzz the listener before the real sender dials in, then all through the transfer.
    let done = false;
    const fuzz = withSeed('reverse listener', (base) => runCases(base, CASES, 4, (rng) => transferCase(rng, port, violations, ['auth']), () => done));
    const sender = new Sender({ ...secret, files, host: '127.0.0.1', keys: senderKeys, via: ['reverse'] });
    await sender.listen();
    sender.accepted({ key: receiverKeys.publicKey, candidates, observed: '127.0.0.1' });
    const [received, sent] = await Promise.all([receiver.start(), sender.done]).finally(() => (done = true));
    const ran = await fuzz;
    expect(received.path).toBe('reverse');
    for (const [i, f] of files.entries()) {
      expect(received.files[i]!.sha256).toBe(await sha256File(f.source));
      expect(sent.files[i]!.sha256).toBe(received.files[i]!.sha256);
    }
    expect(violations).toEqual([]);
    expect(ran).toBeGreaterThan(0);
    console.log(`[fuzz] reverse listener: ${ran} cases, transfer intact`);
  }, fuzzTimeout(30_000));
});


// ---------------------------------------------------------------------------------------------
// Authenticated peers: the other side knows the token and keys (it is the person we accepted
// from or sent to) but sends junk after the handshake. It may fail the transfer, but must not
// crash us, hang us, or get an unverified file placed under its final name.

describe('fuzz: authenticated peers', () => {
  const dirs: string[] = [];
  const closers: (() => void)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) close();
    await removeDirs(dirs.splice(0));
  });

  async function dir(): Promise<string> {
    const d = await tmpDir('chat-fuzz-auth-');
    dirs.push(d);
    return d;
  }

  /** A DATA frame for `file` at `offset` (the wire seals it); `v1`: a plaintext chunk with a CRC, wrong inside a sealed frame. */
  function dataFrame(file: number, offset: number, data: Buffer, v1 = false): Buffer {
    const header = writeDataHeader(v1 ? { file, offset, crc: chunkCrc(data) } : { file, offset });
    const prefix = Buffer.allocUnsafe(4);
    prefix.writeUInt32BE(header.length + data.length, 0);
    return Buffer.concat([prefix, header, data]);
  }

  /** Files on disk under `root`, relative paths. */
  async function listFiles(root: string): Promise<string[]> {
    const out: string[] = [];
    for (const e of await readdir(root, { withFileTypes: true, recursive: true })) {
      if (e.isFile()) out.push(path.relative(root, path.join(e.parentPath, e.name)));
    }
    return out.sort();
  }

  it('a Receiver facing a malicious sender fails with a TransferError and never places an unverified file', async () => {
    const contents = [pseudoRandom(300_000, 11), Buffer.alloc(0), pseudoRandom(5000, 12)];
    const names = ['a.bin', 'sub/empty', '../escape.txt'];
    const runs = fuzzRuns(100, 0.02);
    const outcomes = new Map<string, number>();
    await withSeed('malicious sender', (base) =>
      runCases(base, runs, 2, async (rng) => {
        const dst = await dir();
        const secret = newTransferSecret();
        const [senderKeys, receiverKeys] = [newKeyPair(), newKeyPair()];
        const files = contents.map((c, i) => ({ path: names[i]!, size: c.length, mime: 'application/octet-stream', mode: 0o644, mtimeMs: 1_700_000_000_000 }));
        const sha = contents.map((c) => createHash('sha256').update(c).digest('hex'));
        // The malicious sender: a real handshake, then a seeded script of right and wrong frames.
        const server = net.createServer((socket) => {
          const wire = new Wire(socket);
          void acceptHandshake(wire, { ...secret, keys: { own: senderKeys, peer: receiverKeys.publicKey } }, 5000).then(async () => {
            const gets: number[] = [];
            let wake: () => void = () => {};
            /** Resolves when a `get` is waiting (or the connection closed). */
            const nextGet = (): Promise<void> => (gets.length > 0 || wire.closed ? Promise.resolve() : new Promise((resolve) => (wake = resolve)));
            wire.handlers = {
              control: (m) => {
                if (m.type !== 'get') return;
                gets.push(m.file);
                wake();
              },
              data() {},
              close: () => wake(),
            };
            await nextGet();
            const serve = (file: number, rightHash: boolean): void => {
              const body = contents[file]!;
              wire.sendControl({ type: 'start', file, offset: 0, size: body.length });
              for (let o = 0; o < body.length; o += 65_536) wire.write(dataFrame(file, o, Buffer.from(body.subarray(o, o + 65_536))));
              wire.sendControl({ type: 'end', file, sha256: rightHash ? sha[file]! : 'f'.repeat(64), size: body.length });
            };
            const faults = rng.pick([0, 0.1, 0.4]);
            for (let n = rng.range(1, 12); n > 0 && !wire.closed; n--) {
              // Mostly the right thing for a requested file (so transfers get far), else a fault.
              if (!rng.chance(faults)) {
                await nextGet();
                if (gets.length === 0) break;
                serve(gets.shift()!, rng.chance(0.9));
                if (rng.chance(0.3)) await yieldIo();
                continue;
              }
              const file = gets.length > 0 && rng.chance(0.8) ? rng.pick(gets) : rng.int(4);
              const body = contents[file] ?? Buffer.alloc(10);
              const at = rng.chance(0.7) ? 0 : rng.int(body.length + 2);
              const len = rng.int(Math.min(70_000, body.length - Math.min(at, body.length)) + 2);
              switch (rng.int(7)) {
                case 0:
                  wire.sendControl({ type: 'start', file, offset: rng.chance(0.8) ? 0 : rng.int(10), size: rng.chance(0.8) ? body.length : rng.int(1e6) });
                  break;
                case 1:
                case 2:
                  wire.write(dataFrame(file, at, Buffer.from(body.subarray(at, at + len)), rng.chance(0.2)));
                  break;
                case 3:
                  wire.sendControl({ type: 'end', file, sha256: rng.chance(0.5) ? (sha[file] ?? '0'.repeat(64)) : '0'.repeat(64), ...(rng.chance(0.8) && { size: body.length }) });
                  break;
                case 4:
                  wire.sendControl(transferControl(rng) as unknown as Parameters<Wire['sendControl']>[0]);
                  break;
                case 5:
                  wire.write(frame(transferPayload(rng)));
                  break;
                default:
                  socket.write(frame(rng.bytes(rng.range(1, 100)))); // not sealed: must be 'tampered'
              }
              if (rng.chance(0.3)) await yieldIo();
            }
            // Sometimes the connection stays open until every request was answered.
            if (gets.length === 0 && rng.chance(0.5)) await wire.room(0, WAIT_MS).catch(() => {});
            if (rng.chance(0.5)) wire.end();
            else wire.destroy();
          }, () => {});
        });
        closers.push(() => server.close());
        const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
        const receiver = new Receiver({
          ...secret, candidates: [{ host: '127.0.0.1', port }], files, dir: dst, keys: { own: receiverKeys, peer: senderKeys.publicKey },
          via: ['direct'], retries: 1, retryDelayMs: 1, parallel: rng.range(1, 2),
        });
        let outcome: string;
        try {
          await receiver.start();
          outcome = 'ok';
        } catch (err) {
          expect(err, String(err)).toBeInstanceOf(TransferError);
          expect(TRANSFER_ERROR_CODES).toContain((err as TransferError).code);
          outcome = (err as TransferError).code;
        }
        server.close();
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        // Only verified files under their final names (inside dst), `.part` files (and their sidecars) for the rest.
        const safe = ['a.bin', 'sub/empty', 'escape.txt'];
        for (const f of await listFiles(dst)) {
          const i = safe.indexOf(f.replace(/( \(\d+\))?(\.part(\.chat)?)?$/, ''));
          expect(i, `unexpected file ${f}`).toBeGreaterThanOrEqual(0);
          if (!/\.part(\.chat)?$/.test(f)) expect((await readFile(path.join(dst, f))).equals(contents[i]!), `${f} placed with wrong contents`).toBe(true);
        }
      }),
    );
    expect([...outcomes.values()].reduce((a, b) => a + b, 0)).toBe(runs);
    console.log(`[fuzz] malicious sender: ${runs} cases (${[...outcomes].map(([k, n]) => `${k} ${n}`).join(', ')})`);
  }, fuzzTimeout(30_000));

  it('a Sender facing a malicious receiver fails cleanly or keeps going; it never crashes or hangs', async () => {
    const src = await dir();
    const files = await collectFiles([await writeRandomFile(src, 'a.bin', 200_000, 13), await writeRandomFile(src, 'b.txt', 10, 14)]);
    const runs = fuzzRuns(100, 0.02);
    const outcomes = new Map<string, number>();
    await withSeed('malicious receiver', (base) =>
      runCases(base, runs, 2, async (rng) => {
        const secret = newTransferSecret();
        const [senderKeys, receiverKeys] = [newKeyPair(), newKeyPair()];
        const sender = new Sender({ ...secret, files, host: '127.0.0.1', keys: senderKeys, via: ['direct'], chunkSize: rng.pick([1000, 65_536]) });
        closers.push(() => sender.close());
        const port = await sender.listen();
        sender.accepted({ key: receiverKeys.publicKey });
        const wire = await dial({ host: '127.0.0.1', port }, { ...secret, keys: { own: receiverKeys, peer: senderKeys.publicKey } }, { connectTimeoutMs: WAIT_MS, handshakeTimeoutMs: WAIT_MS });
        let frames = 0;
        wire.handlers = { control: () => void frames++, data: (_h, _d, release) => (frames++, release()), close() {} };
        for (let n = rng.range(1, 12); n > 0 && !wire.closed; n--) {
          switch (rng.int(6)) {
            case 0:
              wire.sendControl({ type: 'get', file: rng.int(3), offset: rng.chance(0.7) ? 0 : rng.int(300_000), tail: rng.chance(0.3) ? { length: rng.int(2e6), sha256: 'a'.repeat(64) } : undefined });
              break;
            case 1:
              wire.sendControl({ type: 'ack', file: rng.int(3), bytes: rng.pick([0, 10, 2 ** 53 - 1]) });
              break;
            case 2:
              wire.sendControl({ type: 'verified', file: rng.int(3), sha256: 'b'.repeat(64) });
              break;
            case 3:
              wire.sendControl(transferControl(rng) as unknown as Parameters<Wire['sendControl']>[0]);
              break;
            case 4:
              wire.write(frame(transferPayload(rng)));
              break;
            default:
              wire.socket.write(frame(rng.bytes(rng.range(1, 100)))); // not sealed
          }
          if (rng.chance(0.3)) await yieldIo();
        }
        if (rng.chance(0.5)) wire.end();
        else wire.destroy();
        // Whatever happened, closing the Sender settles it (aborted if nothing failed before).
        sender.close();
        const outcome = await sender.done.then(() => 'ok', (err: unknown) => {
          expect(err, String(err)).toBeInstanceOf(TransferError);
          return (err as TransferError).code;
        });
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }),
    );
    expect([...outcomes.values()].reduce((a, b) => a + b, 0)).toBe(runs);
    console.log(`[fuzz] malicious receiver: ${runs} cases (${[...outcomes].map(([k, n]) => `${k} ${n}`).join(', ')})`);
  }, fuzzTimeout(30_000));
});
