// The relay server end to end: the library ChatClient against the real server (in-process,
// 127.0.0.1 port 0, SQLite in a temp dir), plus raw sockets for the hostile cases.
import type { Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import type { Bus, BusHandler, BusMessage } from '../../src/bus/bus.js';
import { LocalBus } from '../../src/bus/local.js';
import { ChatClient } from '../../src/client/client.js';
import { ClientError } from '../../src/client/errors.js';
import { FrameDecoder, encodeFrame, encodeHeader, encodeJsonFrame } from '../../src/protocol/frame.js';
import type { ChatMessage } from '../../src/protocol/messages.js';
import { LineBuffer } from '../helpers/lines.js';
import { createServer } from '../../src/server/server.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { rawConnect, startServer, testCertificate, tempDir, type TestServer, FLOOD_LIMITS } from '../helpers/server.js';

const PASSWORD = 'correct horse';
const WAIT_MS = 5_000;

type Presence = { user: string; online: boolean; at: number };

/**
 * One node's view of a shared LocalBus whose backend can be taken away, as Redis can: while down,
 * publish rejects and nothing arrives; up() emits `reconnected` to this node, as RedisBus does.
 */
class OutageBus implements Bus {
  readonly ordered = false;
  down = false;
  #handlers = new Set<BusHandler>();
  constructor(readonly inner: LocalBus) {}
  async publish(message: BusMessage): Promise<void> {
    if (this.down) throw new Error('bus is down');
    await this.inner.publish(message);
  }
  subscribe(handler: BusHandler): () => void {
    this.#handlers.add(handler);
    const off = this.inner.subscribe((m) => this.down || handler(m));
    return () => (this.#handlers.delete(handler), off());
  }
  up(): void {
    this.down = false;
    for (const h of this.#handlers) h({ kind: 'reconnected' });
  }
  join = (node: string, stats: () => { connections: number }) => this.inner.join(node, stats);
  nodes = () => this.inner.nodes();
  leave = (node: string) => this.inner.leave(node);
  close = async () => {};
}

/** Waits, without polling, until `cond()` holds; re-checked on every event of the client. */
class Inbox {
  readonly messages: ChatMessage[] = [];
  readonly presence: Presence[] = [];
  readonly shutdowns: { reason: string }[] = [];
  /** undefined while open; then the close reason (null for our own close). */
  closed: ClientError | null | undefined = undefined;
  #waiters = new Set<() => void>();

  constructor(readonly client: ChatClient) {
    client.on('message', (m) => this.#record(this.messages, m));
    client.on('presence', (p) => this.#record(this.presence, p));
    client.on('shutdown', (s) => this.#record(this.shutdowns, s));
    client.on('close', (err) => {
      this.closed = err ?? null;
      this.#changed();
    });
  }

  #record<T>(list: T[], item: T): void {
    list.push(item);
    this.#changed();
  }

  #changed(): void {
    for (const w of [...this.#waiters]) w();
  }

  get texts(): string[] {
    return this.messages.map((m) => m.text);
  }

  until(cond: () => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!cond()) return;
        this.#waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(
          new Error(
            `${this.client.user ?? 'client'}: timed out after ${timeoutMs} ms waiting for ${what}; ` +
              `messages ${JSON.stringify(this.texts)}, presence ${JSON.stringify(this.presence.map((p) => `${p.user}:${p.online}`))}, ` +
              `closed ${String(this.closed)}`,
          ),
        );
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }

  untilMessages(n: number): Promise<void> {
    return this.until(() => this.messages.length >= n, `${n} message(s)`);
  }

  untilPresence(user: string, online: boolean): Promise<void> {
    return this.until(() => this.presence.some((p) => p.user === user && p.online === online), `${user} ${online ? 'online' : 'offline'}`);
  }
}

/** A raw TCP connection speaking frames by hand (for what a well-behaved client never sends). */
class RawConn {
  readonly frames: Record<string, unknown>[] = [];
  readonly closed: Promise<void>;
  #decoder = new FrameDecoder({ maxFrameBytes: 16 * 1024 * 1024 });
  #waiters = new Set<() => void>();
  #isClosed = false;

  private constructor(readonly socket: Socket) {
    socket.on('error', () => {}); // the server may reset us; 'close' follows
    socket.on('data', (chunk) => {
      for (const f of this.#decoder.push(chunk)) this.frames.push(JSON.parse(f.toString('utf8')) as Record<string, unknown>);
      for (const w of [...this.#waiters]) w();
    });
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.#isClosed = true;
        for (const w of [...this.#waiters]) w();
        resolve();
      }),
    );
  }

  static open(ts: TestServer): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const socket = rawConnect(ts);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawConn(socket));
      });
    });
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  write(bytes: Buffer | string): void {
    this.socket.write(bytes);
  }

  request(value: Record<string, unknown>): void {
    this.socket.write(encodeJsonFrame(value));
  }

  /** The first frame (received or to come) matching `fields`. */
  frame(fields: Record<string, unknown>, timeoutMs = WAIT_MS): Promise<Record<string, unknown>> {
    const find = () => this.frames.find((f) => Object.entries(fields).every(([k, v]) => f[k] === v));
    const found = find();
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const f = find();
        if (f) {
          done();
          resolve(f);
        } else if (this.#isClosed) {
          done();
          reject(new Error(`connection closed before a frame matching ${JSON.stringify(fields)}; got ${JSON.stringify(this.frames)}`));
        }
      };
      const done = (): void => {
        this.#waiters.delete(check);
        clearTimeout(timer);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no frame matching ${JSON.stringify(fields)} within ${timeoutMs} ms; got ${JSON.stringify(this.frames)}`));
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }

  /** Resolves when the server has closed the connection; fails after timeoutMs. */
  async waitClosed(timeoutMs = WAIT_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.closed,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`server did not close the connection within ${timeoutMs} ms; got ${JSON.stringify(this.frames)}`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Rejects with the ClientError code of `promise`, or fails if it resolves. */
async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(ClientError);
    return (err as ClientError).code;
  }
  throw new Error('expected the request to fail');
}

let ts: TestServer;
let logs: LineBuffer;
const clients: ChatClient[] = [];
const raws: RawConn[] = [];

beforeEach(async () => {
  logs = new LineBuffer();
  // Some tests here flood one recipient on purpose: the per-recipient limits (test/abuse/) are lifted.
  ts = await startServer({ limits: FLOOD_LIMITS, log: (line) => logs.push(`${line}\n`) });
});

afterEach(async () => {
  for (const raw of raws.splice(0)) raw.destroy();
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
  await ts.cleanup();
});

async function connect(server: TestServer = ts): Promise<ChatClient> {
  const client = await ChatClient.connect({ host: server.host, port: server.port, tls: server.tls, timeoutMs: WAIT_MS, client: 'test' });
  clients.push(client);
  return client;
}

async function raw(): Promise<RawConn> {
  const r = await RawConn.open(ts);
  raws.push(r);
  return r;
}

/** A new account, logged in on a fresh connection. */
async function registered(name: string, server: TestServer = ts): Promise<{ client: ChatClient; token: string }> {
  const client = await connect(server);
  const { token } = await client.register(name, PASSWORD);
  return { client, token };
}

/** A connection resuming `token`'s session, subscribed, with its events recorded from the start. */
async function listening(token: string, server: TestServer = ts): Promise<{ client: ChatClient; inbox: Inbox; backlog: number }> {
  const client = await connect(server);
  await client.auth(token);
  const inbox = new Inbox(client);
  const { backlog } = await client.subscribe();
  return { client, inbox, backlog };
}

describe('accounts', () => {
  it('hello reports the protocol version, limits and the client address', async () => {
    const client = await connect();
    expect(client.hello).toMatchObject({ version: 2, address: '127.0.0.1', limits: { maxFrameBytes: 262_144, maxMessageBytes: 16_384 } });
  });

  it('registers (folding the name to lower case), then logs in on another connection and resumes with the token', async () => {
    const first = await connect();
    const reg = await first.register('Alice', PASSWORD);
    expect(reg.user).toBe('alice');
    expect(reg.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await first.request('whoami', {})).toEqual({ user: 'alice' });

    const second = await connect();
    const login = await second.login('ALICE', PASSWORD);
    expect(login.user).toBe('alice');
    expect(login.token).not.toBe(reg.token);

    const third = await connect();
    expect(await third.auth(reg.token)).toEqual({ user: 'alice' });
    expect(third.user).toBe('alice');
  });

  it('a wrong password or unknown user is bad_credentials, and the connection can still log in', async () => {
    await (await connect()).register('alice', PASSWORD);
    const client = await connect();
    expect(await codeOf(client.login('alice', 'wrong password'))).toBe('bad_credentials');
    expect(await codeOf(client.login('nobody', PASSWORD))).toBe('bad_credentials');
    expect(await codeOf(client.login('!!', PASSWORD))).toBe('bad_credentials');
    expect((await client.login('alice', PASSWORD)).user).toBe('alice');
  });

  it('rejects a taken name (in any case), an invalid name and a bad password', async () => {
    await (await connect()).register('alice', PASSWORD);
    const client = await connect();
    expect(await codeOf(client.register('alice', PASSWORD))).toBe('name_taken');
    expect(await codeOf(client.register('ALICE', PASSWORD))).toBe('name_taken');
    expect(await codeOf(client.register('a', PASSWORD))).toBe('invalid_name');
    expect(await codeOf(client.register('_alice', PASSWORD))).toBe('invalid_name');
    expect(await codeOf(client.register('al ice', PASSWORD))).toBe('invalid_name');
    expect(await codeOf(client.register('bob', 'short'))).toBe('invalid_password');
    expect(await codeOf(client.register('bob', 'x'.repeat(1025)))).toBe('invalid_password');
    expect((await client.register('bob', 'x'.repeat(1024))).user).toBe('bob');
  });

  it('a request before login is unauthorized; before hello it is fatal', async () => {
    const client = await connect();
    expect(await codeOf(client.who())).toBe('unauthorized');
    expect(await codeOf(client.send('bob', 'hi'))).toBe('unauthorized');
    expect(await codeOf(client.subscribe())).toBe('unauthorized');
    // Still usable for logging in.
    expect((await client.register('alice', PASSWORD)).user).toBe('alice');
    expect(await codeOf(client.login('alice', PASSWORD))).toBe('bad_request'); // already logged in
    expect(await codeOf(client.request('hello', { version: 2 }))).toBe('bad_request'); // hello twice

    const r = await raw();
    r.request({ id: 1, type: 'who' });
    expect(await r.frame({ type: 'error', id: 1 })).toMatchObject({ code: 'bad_request' });
    await r.waitClosed();
  });

  it('an unsupported protocol version is refused and the connection closed', async () => {
    const r = await raw();
    r.request({ id: 1, type: 'hello', version: 99 });
    expect(await r.frame({ id: 1 })).toMatchObject({ type: 'error', code: 'unsupported_version' });
    await r.waitClosed();
  });

  it('auth with an unknown token is unauthorized; logout revokes the token and closes the connection', async () => {
    const { client, token } = await registered('alice');
    const other = await connect();
    expect(await codeOf(other.auth('not-a-token'))).toBe('unauthorized');
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    expect(await client.logout()).toEqual({});
    await closed;
    expect(await codeOf(other.auth(token))).toBe('unauthorized');
  });

  it('logout also ends other connections that use the same session token', async () => {
    const { client, token } = await registered('alice');
    const { client: listener } = await listening(token);
    const ended = new Promise<ClientError | undefined>((resolve) => listener.once('close', resolve));
    await client.logout();
    expect((await ended)?.message).toContain('this session was logged out');
  });

  it('closes a connection that does not log in within handshakeTimeoutMs', async () => {
    const quick = await startServer({ limits: { handshakeTimeoutMs: 300 } });
    try {
      const r = await RawConn.open(quick);
      raws.push(r);
      r.request({ id: 1, type: 'hello', version: 2 });
      await r.frame({ type: 'ok', id: 1 });
      expect(await r.frame({ type: 'error', id: null })).toMatchObject({ code: 'unauthorized' });
      await r.waitClosed();
      // A connection that logs in in time is not affected.
      const client = await connect(quick);
      await client.register('alice', PASSWORD);
      expect(await client.who()).toEqual([]);
    } finally {
      for (const c of clients.splice(0)) await c.close();
      await quick.cleanup();
    }
  });
});

describe('presence', () => {
  it('who lists subscribed users; online/offline events only on the first and last connection', async () => {
    const alice = await registered('alice');
    const bob = await registered('bob');
    const carol = await registered('carol');
    const a = await listening(alice.token);
    expect(await a.client.who()).toEqual(['alice']);
    // Logged in but not subscribed: not online.
    expect(await bob.client.who()).toEqual(['alice']);

    const b1 = await listening(bob.token);
    await a.inbox.untilPresence('bob', true);
    // Every subscribed connection hears of every change, its own user's included.
    expect(a.inbox.presence.map((p) => `${p.user}:${p.online}`)).toEqual(['alice:true', 'bob:true']);
    expect(Math.abs(a.inbox.presence[1]!.at - Date.now())).toBeLessThan(60_000);
    expect(await a.client.who()).toEqual(['alice', 'bob']);

    // bob's second connection: no second "online". carol coming online is the marker.
    const b2 = await listening(bob.token);
    const c = await listening(carol.token);
    await a.inbox.untilPresence('carol', true);
    expect(a.inbox.presence.map((p) => `${p.user}:${p.online}`)).toEqual(['alice:true', 'bob:true', 'carol:true']);
    expect(await c.client.who()).toEqual(['alice', 'bob', 'carol']);

    // bob closes one of two: still online (the server logs the close before any presence change).
    await b1.client.close();
    await logs.waitFor(/closed \(bob\)/);
    await carol.client.close(); // not subscribed: no presence change either
    await c.client.close();
    await a.inbox.untilPresence('carol', false);
    expect(a.inbox.presence.map((p) => `${p.user}:${p.online}`)).toEqual(['alice:true', 'bob:true', 'carol:true', 'carol:false']);
    expect(await a.client.who()).toEqual(['alice', 'bob']);

    // The last one: offline.
    await b2.client.close();
    await a.inbox.untilPresence('bob', false);
    expect(await a.client.who()).toEqual(['alice']);
    // Presence reached alice's other subscribed connections too.
    expect(b2.inbox.presence.map((p) => `${p.user}:${p.online}`)).toContain('carol:true');
  });
});

describe('messages', () => {
  it('send stores and delivers live: to the recipient and to the sender\'s other connection, not back to the sender', async () => {
    const alice = await registered('alice');
    const bob = await registered('bob');
    const a1 = await listening(alice.token);
    const a2 = await listening(alice.token);
    const b = await listening(bob.token);

    const sent = await a1.client.send('Bob', 'hi bob');
    expect(sent).toMatchObject({ from: 'alice', to: 'bob', text: 'hi bob' });
    expect(sent.id).toBeGreaterThan(0);
    expect(Math.abs(sent.at - Date.now())).toBeLessThan(60_000);
    // Events to a connection precede its replies: an echo to a1 would already be here.
    expect(a1.inbox.messages).toEqual([]);
    await b.inbox.untilMessages(1);
    await a2.inbox.untilMessages(1);
    expect(b.inbox.messages).toEqual([sent]);
    expect(a2.inbox.messages).toEqual([sent]);

    const reply = await b.client.send('alice', 'hi alice');
    await a1.inbox.untilMessages(1);
    await a2.inbox.untilMessages(2);
    expect(a1.inbox.messages).toEqual([reply]);
    expect(a2.inbox.messages).toEqual([sent, reply]);
    expect(reply.id).toBeGreaterThan(sent.id);
  });

  it('unknown recipient is no_such_user; empty is bad_request; the size cap is UTF-8 bytes (too_large)', async () => {
    const alice = await registered('alice');
    await registered('bob');
    const client = alice.client;
    await expect(client.send('carl', 'hi')).rejects.toMatchObject({ code: 'no_such_user', message: 'no such user: carl' });
    expect(await codeOf(client.send('bob', ''))).toBe('bad_request');
    expect((await client.send('bob', 'x'.repeat(16_384))).text.length).toBe(16_384);
    expect(await codeOf(client.send('bob', 'x'.repeat(16_385)))).toBe('too_large');
    expect(await codeOf(client.send('bob', 'é'.repeat(8_193)))).toBe('too_large'); // 16386 bytes, 8193 characters
    expect((await client.send('bob', 'é'.repeat(8_192))).text).toBe('é'.repeat(8_192));
    // None of that closed the connection, and nothing rejected was stored.
    const page = await client.history('bob');
    expect(page.messages.map((m) => m.text.length)).toEqual([16_384, 8_192]);
  });

  it('history pages backwards: newest `limit` first, then `before` the first id; `more` says if older exist', async () => {
    const alice = await registered('alice');
    const bob = await registered('bob');
    const carol = await registered('carol');
    const sent: ChatMessage[] = [];
    for (let i = 0; i < 7; i++) {
      sent.push(await (i % 2 ? bob.client.send('alice', `m${i}`) : alice.client.send('bob', `m${i}`)));
      await carol.client.send('alice', `noise${i}`);
    }
    const p1 = await alice.client.history('bob', { limit: 3 });
    expect(p1).toEqual({ messages: sent.slice(4), more: true });
    const p2 = await alice.client.history('bob', { limit: 3, before: p1.messages[0]!.id });
    expect(p2).toEqual({ messages: sent.slice(1, 4), more: true });
    const p3 = await alice.client.history('bob', { limit: 3, before: p2.messages[0]!.id });
    expect(p3).toEqual({ messages: sent.slice(0, 1), more: false });
    // Exactly `limit` left: more is false.
    expect(await alice.client.history('bob', { limit: 7 })).toEqual({ messages: sent, more: false });
    // The same conversation from the other side, with the default limit.
    expect(await bob.client.history('ALICE')).toEqual({ messages: sent, more: false });
    expect(await codeOf(alice.client.history('nobody'))).toBe('no_such_user');
  });

  it('history clamps the limit to 1..maxHistoryLimit', async () => {
    const small = await startServer({ limits: { maxHistoryLimit: 3 } });
    try {
      const alice = await registered('alice', small);
      await registered('bob', small);
      const sent: ChatMessage[] = [];
      for (let i = 0; i < 5; i++) sent.push(await alice.client.send('bob', `m${i}`));
      expect(await alice.client.history('bob', { limit: 100 })).toEqual({ messages: sent.slice(2), more: true });
      expect(await alice.client.history('bob', { limit: 0 })).toEqual({ messages: sent.slice(4), more: true });
    } finally {
      for (const c of clients.splice(0)) await c.close();
      await small.cleanup();
    }
  });

  it('offline delivery: the backlog comes in order, exactly once per device, before the subscribe reply', async () => {
    const alice = await registered('alice');
    const bob = await registered('bob');
    const phone = await connect(); // bob's second device, logged in before he goes offline
    const phoneToken = (await phone.login('bob', PASSWORD)).token;
    await bob.client.close();
    await phone.close();

    const sent: ChatMessage[] = [];
    for (let i = 1; i <= 5; i++) sent.push(await alice.client.send('bob', `offline ${i}`));

    const laptop = await listening(bob.token);
    expect(laptop.backlog).toBe(5);
    expect(laptop.inbox.messages).toEqual(sent); // all there when the reply came, in id order
    laptop.client.acknowledge(sent[4]!.id);
    await laptop.client.close(); // flushes the acknowledgement

    const again = await listening(bob.token);
    expect(again.backlog).toBe(0);
    // The other device has its own cursor: it gets all five too.
    const phoneAgain = await listening(phoneToken);
    expect(phoneAgain.backlog).toBe(5);
    expect(phoneAgain.inbox.messages).toEqual(sent);
    // A brand-new login starts at bob's most advanced device: nothing old is replayed.
    const fresh = await connect();
    const freshToken = (await fresh.login('bob', PASSWORD)).token;
    expect((await listening(freshToken)).backlog).toBe(0);

    // And a live message after that reaches each once.
    const live = await alice.client.send('bob', 'live');
    await again.inbox.untilMessages(1);
    await phoneAgain.inbox.untilMessages(6);
    expect(again.inbox.messages).toEqual([live]);
    expect(phoneAgain.inbox.messages.filter((m) => m.id === live.id)).toHaveLength(1);
  });

  it('a backlog of several pages while new messages keep arriving: all, in order, each once', async () => {
    const alice = await registered('alice');
    const bob = await registered('bob');
    await bob.client.close();
    // More than one backlog page (500) waiting, sent pipelined.
    const before = await Promise.all(Array.from({ length: 1100 }, (_, i) => alice.client.send('bob', `old ${i}`)));
    // bob subscribes while 200 more are on their way.
    const during = Promise.all(Array.from({ length: 200 }, (_, i) => alice.client.send('bob', `new ${i}`)));
    const b = await listening(bob.token);
    const after = await during;
    await b.inbox.untilMessages(1300);
    const got = b.inbox.messages.map((m) => m.id);
    expect(new Set(got).size).toBe(got.length); // nothing twice
    expect(got).toEqual([...before, ...after].map((m) => m.id).sort((x, y) => x - y)); // nothing skipped, in id order
    expect(b.backlog).toBeGreaterThanOrEqual(1100);
  });

  it('a client that drops mid-delivery without acknowledging gets the rest on its next connection', async () => {
    const alice = await registered('alice');
    const bob = await registered('bob');
    await bob.client.close();
    const sent: ChatMessage[] = [];
    for (let i = 1; i <= 6; i++) sent.push(await alice.client.send('bob', `m${i}`));

    // A raw client: takes the backlog, acknowledges only the first two, then its connection dies.
    const r = await raw();
    r.request({ id: 1, type: 'hello', version: 2 });
    r.request({ id: 2, type: 'auth', token: bob.token });
    r.request({ id: 3, type: 'subscribe' });
    expect(await r.frame({ type: 'ok', id: 3 })).toMatchObject({ result: { backlog: 6 } });
    const events = r.frames.filter((f) => f.type === 'event' && f.event === 'message').map((f) => f.data);
    expect(events).toEqual(sent);
    r.request({ id: 4, type: 'ack', upTo: sent[1]!.id });
    await r.frame({ type: 'ok', id: 4 });
    r.destroy();
    await logs.waitFor(/closed \(bob\)/);

    const second = await listening(bob.token);
    expect(second.backlog).toBe(4);
    expect(second.inbox.messages).toEqual(sent.slice(2));
    // A message sent now arrives after the backlog, once.
    const late = await alice.client.send('bob', 'late');
    await second.inbox.untilMessages(5);
    expect(second.inbox.messages.map((m) => m.id)).toEqual([...sent.slice(2), late].map((m) => m.id));
  });

  it('a message to oneself reaches one\'s other devices, not the one that sent it', async () => {
    const alice = await registered('alice');
    const other = await connect();
    const otherToken = (await other.login('alice', PASSWORD)).token;
    await other.close();
    const note = await alice.client.send('alice', 'note to self');
    expect(note).toMatchObject({ from: 'alice', to: 'alice' });
    const sameDevice = await listening(alice.token);
    expect(sameDevice.backlog).toBe(0);
    const otherDevice = await listening(otherToken);
    expect(otherDevice.inbox.messages).toEqual([note]);
  });
});

describe('hostile input', () => {
  it('garbage bytes and an oversized length header close only the offending connections', async () => {
    const alice = await registered('alice');
    const bob = await registered('bob');
    const a = await listening(alice.token);
    const b = await listening(bob.token);
    await b.client.send('alice', 'before');

    // 1. Not our protocol at all: "GET " read as a length is far over the limit.
    const http = await raw();
    http.write('GET / HTTP/1.1\r\nHost: chat\r\n\r\n');
    // 2. A valid hello, then a header announcing 262145 bytes and the start of its body.
    const big = await raw();
    big.request({ id: 1, type: 'hello', version: 2 });
    await big.frame({ type: 'ok', id: 1 });
    big.write(Buffer.concat([encodeHeader(262_145), Buffer.alloc(100_000, 0x20)]));
    // 3. Binary noise whose first four bytes are 0xff.
    const noise = await raw();
    noise.write(Buffer.alloc(64 * 1024, 0xff));
    // 4. An empty frame.
    const empty = await raw();
    empty.write(encodeHeader(0));

    const during = a.client.send('bob', 'during');
    expect(await http.frame({ type: 'error' })).toMatchObject({ id: null, code: 'too_large' });
    expect(await big.frame({ type: 'error', id: null })).toMatchObject({ code: 'too_large' });
    expect(await noise.frame({ type: 'error' })).toMatchObject({ id: null, code: 'too_large' });
    expect(await empty.frame({ type: 'error' })).toMatchObject({ id: null, code: 'bad_frame' });
    for (let i = 0; i < 5; i++) big.write(Buffer.alloc(64 * 1024, 0x20)); // more of the refused body
    await Promise.all([http.waitClosed(), big.waitClosed(), noise.waitClosed(), empty.waitClosed()]);

    // The others were not affected.
    await during;
    await b.client.send('alice', 'after');
    await a.inbox.until(() => a.inbox.texts.includes('after'), '"after"');
    await b.inbox.until(() => b.inbox.texts.includes('during'), '"during"');
    expect(a.inbox.texts).toEqual(['before', 'after']);
    expect(b.inbox.texts).toEqual(['during']);
    expect(a.inbox.closed).toBeUndefined();
    expect(b.inbox.closed).toBeUndefined();
    // And new connections are still accepted.
    const carol = await registered('carol');
    expect(await carol.client.who()).toEqual(['alice', 'bob']);
    // No connection failed in a way the server noticed as a bug.
    // Each bad connection was refused once, with no write after its end and nothing internal.
    expect(logs.lines.filter((l) => /exceeds the limit|empty frame/.test(l))).toHaveLength(4);
    expect(logs.lines.filter((l) => /already failed|write after end|internal|failed:/i.test(l))).toEqual([]);
  });

  it('bad JSON and bad requests get error replies and the connection stays open', async () => {
    const r = await raw();
    r.write(encodeFrame(Buffer.from('{not json')));
    expect(await r.frame({ type: 'error', code: 'bad_json' })).toMatchObject({ id: null });
    r.request({ id: 5, type: 'dance' });
    expect(await r.frame({ type: 'error', id: 5 })).toMatchObject({ code: 'unknown_type' });
    r.request({ id: 6, type: 'hello' });
    expect(await r.frame({ type: 'error', id: 6 })).toMatchObject({ code: 'bad_request' });
    r.request({ id: 7, type: 'hello', version: 2 });
    expect(await r.frame({ type: 'ok', id: 7 })).toMatchObject({ result: { version: 2 } });
    r.request({ id: 8, type: 'register', user: 'alice', password: PASSWORD });
    expect(await r.frame({ type: 'ok', id: 8 })).toMatchObject({ result: { user: 'alice' } });
    expect(r.isClosed).toBe(false);
  });

  it('replies to pipelined requests in order', async () => {
    const r = await raw();
    const requests = [
      { id: 1, type: 'hello', version: 2 },
      { id: 2, type: 'register', user: 'alice', password: PASSWORD },
      { id: 3, type: 'whoami' },
      { id: 4, type: 'send', to: 'nobody', text: 'x' },
      { id: 5, type: 'send', to: 'alice', text: 'x' },
      { id: 6, type: 'who' },
    ];
    r.write(Buffer.concat(requests.map(encodeJsonFrame)));
    await r.frame({ id: 6 });
    expect(r.frames.map((f) => [f.id, f.type])).toEqual([
      [1, 'ok'],
      [2, 'ok'],
      [3, 'ok'],
      [4, 'error'],
      [5, 'ok'],
      [6, 'ok'],
    ]);
  });

  it('consecutive sends are stored and answered in request order, and the next other request sees them all', async () => {
    const bob = await registered('bob');
    const bobListening = await listening(bob.token);
    const r = await raw();
    r.request({ id: 1, type: 'hello', version: 2 });
    r.request({ id: 2, type: 'register', user: 'alice', password: PASSWORD });
    await r.frame({ id: 2 });
    // More than maxPendingRequests (32) in one write: the server pauses reading and resumes.
    const sends: Record<string, unknown>[] = [];
    const expected: string[] = [];
    for (let i = 0; i < 150; i++) {
      const id = 10 + i;
      if (i % 50 === 7) sends.push({ id, type: 'send', to: 'nobody', text: 'x' });
      else if (i % 50 === 8) sends.push({ id, type: 'send', to: 'bob', text: '' });
      else if (i % 50 === 9) sends.push({ id, type: 'send', to: '#nogroup', text: 'x' });
      else {
        sends.push({ id, type: 'send', to: 'bob', text: `m${i}` });
        expected.push(`m${i}`);
      }
    }
    r.write(Buffer.concat([...sends, { id: 500, type: 'history', with: 'bob', limit: 500 }].map(encodeJsonFrame)));
    const history = await r.frame({ id: 500 });
    // One reply per request, in request order; the errors where the bad sends were.
    expect(r.frames.slice(2).map((f) => f.id)).toEqual([...sends.map((s) => s.id), 500]);
    const codes = r.frames.slice(2, -1).map((f) => (f.type === 'ok' ? 'ok' : f.code));
    expect(codes.filter((c) => c !== 'ok')).toEqual([1, 2, 3].flatMap(() => ['no_such_user', 'bad_request', 'no_such_group']));
    for (const [i, f] of r.frames.slice(2, -1).entries()) {
      const s = sends[i]!;
      expect(f.type === 'ok', `reply to ${JSON.stringify(s)}: ${JSON.stringify(f)}`).toBe(s.to === 'bob' && s.text !== '');
    }
    // Stored in request order: receipt ids increase with the requests.
    const ids = r.frames.filter((f) => f.type === 'ok' && typeof f.id === 'number' && f.id >= 10 && f.id < 500).map((f) => (f.result as { id: number }).id);
    expect(ids).toHaveLength(expected.length);
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    // The history request ran after every send before it was stored.
    const stored = (history.result as { messages: ChatMessage[] }).messages;
    expect(stored.map((m) => m.text)).toEqual(expected);
    expect(stored.map((m) => m.id)).toEqual(ids);
    await bobListening.inbox.untilMessages(expected.length);
    expect(bobListening.inbox.texts).toEqual(expected);
  });
});

describe('restart', () => {
  it('a server restarted on the same data dir keeps accounts, sessions, history and undelivered messages', async () => {
    const alice = await registered('alice');
    const bob = await registered('bob');
    const b = await listening(bob.token);
    const m1 = await alice.client.send('bob', 'before restart');
    await b.inbox.untilMessages(1);
    b.client.acknowledge(m1.id);
    await b.client.flushAcks();
    await b.client.close();
    const m2 = await alice.client.send('bob', 'while bob was away');

    // Stopping tells connected clients and closes them.
    const aliceInbox = new Inbox(alice.client);
    await ts.stop();
    await aliceInbox.until(() => aliceInbox.closed !== undefined, 'the connection to close');
    expect(aliceInbox.shutdowns).toEqual([{ reason: 'server shutting down' }]);
    clients.splice(0);

    const dataDir = ts.dataDir;
    ts = await startServer({ dataDir, log: (line) => logs.push(`${line}\n`) });
    expect(ts.dataDir).toBe(dataDir);

    // Sessions survive: bob's token still works, and he gets exactly what he had not acknowledged.
    const again = await listening(bob.token);
    expect(again.backlog).toBe(1);
    expect(again.inbox.messages).toEqual([m2]);
    // Accounts survive: the password still works; the name is still taken.
    const client = await connect();
    expect((await client.login('alice', PASSWORD)).user).toBe('alice');
    expect(await codeOf((await connect()).register('alice', PASSWORD))).toBe('name_taken');
    // History survives, and new ids continue after the old ones.
    const m3 = await client.send('bob', 'after restart');
    expect(m3.id).toBeGreaterThan(m2.id);
    expect((await client.history('bob')).messages).toEqual([m1, m2, m3]);
  });
});

describe('verbose log', () => {
  it('logs each request type and who sent it, never passwords or texts', async () => {
    const dir = await tempDir('chat-verbose-');
    const store = new SqliteStore(dir);
    const lines: string[] = [];
    const server = createServer({ store, verbose: true, log: (line) => lines.push(line), tls: await testCertificate() });
    const { port } = await server.listen(0, '127.0.0.1');
    try {
      const client = await connect({ ...ts, port } as TestServer);
      await client.register('alice', PASSWORD);
      await client.send('alice', 'a secret note');
      expect(lines.some((l) => / register$/.test(l))).toBe(true);
      expect(lines.some((l) => /\(alice\) send$/.test(l))).toBe(true);
      expect(lines.join('\n')).not.toContain(PASSWORD);
      expect(lines.join('\n')).not.toContain('a secret note');
      await client.close();
    } finally {
      await server.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('two nodes on one bus', () => {
  it('routes messages and presence between connections on different servers', async () => {
    const dir = await tempDir('chat-cluster-');
    const store = new SqliteStore(dir);
    const bus = new LocalBus();
    const log = (line: string) => logs.push(`${line}\n`);
    const tls = await testCertificate();
    const nodes = [createServer({ store, bus, node: 'a', log, tls }), createServer({ store, bus, node: 'b', log, tls })];
    const [na, nb] = await Promise.all(nodes.map((n) => n.listen(0, '127.0.0.1')));
    const on = (port: number) => ({ ...ts, port }) as TestServer;
    try {
      const alice = await registered('alice', on(na!.port));
      const bob = await registered('bob', on(nb!.port));
      const carol = await registered('carol', on(na!.port));
      const a = await listening(alice.token, on(na!.port));
      const b1 = await listening(bob.token, on(nb!.port));
      await a.inbox.untilPresence('bob', true);
      // Both nodes know who is online anywhere.
      expect(await alice.client.who()).toEqual(['alice', 'bob']);
      expect(await bob.client.who()).toEqual(['alice', 'bob']);

      // A message sent on node a reaches bob on node b; his reply comes back.
      const m = await alice.client.send('bob', 'across nodes');
      await b1.inbox.untilMessages(1);
      expect(b1.inbox.messages).toEqual([m]);
      const r = await b1.client.send('alice', 'and back');
      await a.inbox.untilMessages(2);
      expect(a.inbox.messages).toEqual([m, r]); // alice's own message reached her other connection too

      // bob's second connection, on the other node: no second "online"; losing one is not "offline".
      const b2 = await listening(bob.token, on(na!.port));
      await b1.client.close();
      await logs.waitFor(/^conn b:\d+ closed \(bob\)/);
      const c = await listening(carol.token, on(na!.port));
      await a.inbox.untilPresence('carol', true);
      await c.inbox.untilPresence('carol', true); // presence goes out in batches (every 50 ms)
      expect(a.inbox.presence.map((p) => `${p.user}:${p.online}`)).toEqual(['alice:true', 'bob:true', 'carol:true']);
      expect(c.inbox.presence.map((p) => `${p.user}:${p.online}`)).toEqual(['carol:true']);

      // bob, now only on node a, still gets messages; his last connection going is "offline" everywhere.
      const m2 = await alice.client.send('bob', 'still here');
      await b2.inbox.until(() => b2.inbox.texts.includes('still here'), '"still here"');
      expect(b2.inbox.messages.at(-1)).toEqual(m2);
      await b2.client.close();
      await a.inbox.untilPresence('bob', false);
      expect(await bob.client.who()).toEqual(['alice', 'carol']);
    } finally {
      for (const c of clients.splice(0)) await c.close().catch(() => {});
      await Promise.all(nodes.map((n) => n.close()));
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a node whose bus was away when it stored a message gets every node to send it once the bus is back', async () => {
    // The race it closes: the other nodes' buses came back (and refilled) before this one stored it.
    const dir = await tempDir('chat-cluster-');
    const store = new SqliteStore(dir);
    const shared = new LocalBus();
    const flaky = new OutageBus(shared);
    const log = (line: string) => logs.push(`${line}\n`);
    const tls = await testCertificate();
    const nodes = [createServer({ store, bus: new OutageBus(shared), node: 'a', log, tls }), createServer({ store, bus: flaky, node: 'b', log, tls })];
    const [na, nb] = await Promise.all(nodes.map((n) => n.listen(0, '127.0.0.1')));
    const on = (port: number) => ({ ...ts, port }) as TestServer;
    try {
      const alice = await registered('alice', on(nb!.port));
      const bob = await registered('bob', on(na!.port));
      const b = await listening(bob.token, on(na!.port));
      flaky.down = true;
      const m = await alice.client.send('bob', 'stored while the bus was away'); // acknowledged: it is stored
      await logs.waitFor(/^bus: cannot deliver now/);
      expect(b.inbox.messages).toEqual([]);
      flaky.up();
      await b.inbox.untilMessages(1);
      expect(b.inbox.messages).toEqual([m]);
      expect(logs.lines.some((l) => l.startsWith('bus: b stored messages it could not publish'))).toBe(true);
      // Later messages flow as usual, and the refill sent nothing twice.
      const m2 = await alice.client.send('bob', 'after');
      await b.inbox.untilMessages(2);
      expect(b.inbox.messages).toEqual([m, m2]);
    } finally {
      for (const c of clients.splice(0)) await c.close().catch(() => {});
      await Promise.all(nodes.map((n) => n.close()));
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
