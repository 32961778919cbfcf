// Crash safety: `chat serve` killed with SIGKILL in the middle of a flood of messages and
// registrations, restarted on the same data directory. Whatever the server acknowledged must
// still be there: every acknowledged message in history and delivered to its recipient, every
// acknowledged account and session usable. And a client that dies in the middle of receiving a
// large backlog gets the rest when it comes back.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { ChatClient } from '../../src/client/client.js';
import { FrameDecoder, encodeJsonFrame } from '../../src/protocol/frame.js';
import type { ChatMessage } from '../../src/protocol/messages.js';
import { DB_FILE } from '../../src/store/sqlite.js';
import { LineBuffer } from '../helpers/lines.js';
import { connectTo, rawConnect, spawnServer, startServer, type ServerTarget, type SpawnedServer, FLOOD_LIMITS } from '../helpers/server.js';
import type { Socket } from 'node:net';

const PASSWORD = 'correct horse';
const WAIT_MS = 10_000;
/** Messages acknowledged in each cycle before the server is killed. */
const KILL_AFTER = 300;
/** Accounts registered in each cycle before the server is killed (more are being registered then). */
const ACCOUNTS_BEFORE_KILL = 6;
/** Requests each flooding client keeps in flight. */
const WINDOW = 8;

const clients: ChatClient[] = [];
const servers: SpawnedServer[] = [];
const dirs: string[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
  for (const s of servers.splice(0)) await s.stop('SIGKILL').catch(() => {});
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function connect(server: ServerTarget): Promise<ChatClient> {
  const client = await connectTo(server, { timeoutMs: WAIT_MS, client: 'crash-test' });
  clients.push(client);
  return client;
}

async function serve(dataDir?: string): Promise<SpawnedServer> {
  const server = await spawnServer({ dataDir });
  servers.push(server);
  if (!dataDir) dirs.push(server.dataDir);
  return server;
}

/** A session resumed with `token`, subscribed, recording every message from the backlog on. */
async function listen(server: ServerTarget, token: string, onMessage: (m: ChatMessage) => void): Promise<{ client: ChatClient; backlog: number }> {
  const client = await connect(server);
  await client.auth(token);
  client.on('message', onMessage);
  const { backlog } = await client.subscribe();
  return { client, backlog };
}

/** Every message between the caller and `other` (a user or #group), oldest first, all pages. */
async function fullHistory(client: ChatClient, other: string): Promise<ChatMessage[]> {
  const out: ChatMessage[] = [];
  let before: number | undefined;
  for (;;) {
    const page = await client.history(other, { limit: 500, before });
    out.unshift(...page.messages);
    if (!page.more || page.messages.length === 0) return out;
    before = page.messages[0]!.id;
  }
}

describe('crash safety: kill -9 mid-flood', () => {
  it('every acknowledged message, account and session survives two SIGKILLs; the database opens cleanly', async () => {
    let server = await serve();
    const dataDir = server.dataDir;

    // Four senders, two recipients (r0 online and acknowledging, r1 offline), one group.
    const tokens = new Map<string, string>();
    const registered = async (user: string): Promise<ChatClient> => {
      const c = await connect(server);
      tokens.set(user, (await c.register(user, PASSWORD)).token);
      return c;
    };
    const senders = ['s0', 's1', 's2', 's3'];
    let senderClients = await Promise.all(senders.map(registered));
    const r0 = await registered('r0');
    const r1 = await registered('r1');
    await senderClients[0]!.groupCreate('crash');
    await r0.groupJoin('crash');
    await r1.groupJoin('crash');
    await r1.close();
    await r0.close();

    const acked: ChatMessage[] = [];
    const accounts = new Map<string, string>(tokens); // user → token, acknowledged registrations only
    const r0Received = new Map<number, ChatMessage>();
    const onR0 = (m: ChatMessage): void => void r0Received.set(m.id, m);
    let r0Client = (await listen(server, tokens.get('r0')!, onR0)).client;
    r0Client.on('message', (m) => r0Client.acknowledge(m.id));

    for (let cycle = 0; cycle < 2; cycle++) {
      // The flood: pipelined sends from every sender, and registrations one after another.
      let killed: Promise<number | null> | undefined;
      const target = acked.length + KILL_AFTER;
      const accountTarget = accounts.size + ACCOUNTS_BEFORE_KILL;
      const kill = (): void => {
        if (!killed && acked.length >= target && accounts.size >= accountTarget) killed = server.stop('SIGKILL');
      };
      const flood = async (client: ChatClient, from: string, i: number): Promise<void> => {
        const targets = from === 's0' ? ['r0', 'r1', '#crash'] : ['r0', 'r1'];
        const inflight = new Set<Promise<void>>();
        let gone = false;
        client.once('close', () => (gone = true));
        for (let n = 0; !killed && !gone; n++) {
          const to = targets[(n + i) % targets.length]!;
          const sent = client.send(to, `${from} c${cycle} #${n} ${'é😀'.repeat(n % 40)}`).then(
            (m) => {
              acked.push(m);
              kill();
            },
            () => {}, // lost with the connection: the server may or may not have stored it
          );
          inflight.add(sent);
          void sent.finally(() => inflight.delete(sent));
          if (inflight.size >= WINDOW) await Promise.race(inflight);
        }
        await Promise.all(inflight);
      };
      const register = async (k: number): Promise<void> => {
        for (let n = 0; !killed; n++) {
          const user = `acct${cycle}x${k}x${n}`;
          try {
            const c = await connect(server);
            accounts.set(user, (await c.register(user, PASSWORD)).token);
            void c.close();
          } catch {
            return; // the server went away in the middle
          }
          kill();
        }
      };
      await Promise.all([...senderClients.map((c, i) => flood(c, senders[i]!, i)), register(0), register(1), register(2)]);
      expect(await killed, 'killed by SIGKILL: no exit code').toBeNull();
      expect(server.child.signalCode).toBe('SIGKILL');
      const before = acked.length;
      expect(before).toBeGreaterThanOrEqual(target);
      expect(accounts.size).toBeGreaterThanOrEqual(accountTarget);

      // Restart on the same directory: the database must open (the server starts and listens).
      server = await serve(dataDir);
      expect(server.output.text).not.toMatch(/error|corrupt|malformed/i);

      // Every acknowledged account exists, and every session token still works.
      const checker = await connect(server);
      await checker.auth(tokens.get('s1')!);
      const names = new Set([...(await checker.searchUsers('acct', 100)), ...(await checker.searchUsers('s', 100)), ...(await checker.searchUsers('r', 100))]);
      expect(names.size).toBeLessThan(100); // (each search returned everything)
      for (const user of accounts.keys()) expect(names.has(user), `account ${user}`).toBe(true);
      for (const [user, token] of accounts) {
        const c = await connect(server);
        expect((await c.auth(token)).user, `session of ${user}`).toBe(user);
        void c.close();
      }
      // A password still logs in (the one registered last before the kill, and an old one).
      const newest = [...accounts.keys()].at(-1)!;
      for (const user of new Set([newest, 's0'])) expect((await (await connect(server)).login(user, PASSWORD)).user).toBe(user);

      // Every acknowledged message is in history, unchanged, seen from its sender.
      senderClients = [];
      for (const from of senders) {
        const c = await connect(server);
        await c.auth(tokens.get(from)!);
        senderClients.push(c);
        const mine = acked.filter((m) => m.from === from);
        const seen = new Map<number, ChatMessage>();
        for (const other of new Set(mine.map((m) => m.to))) for (const m of await fullHistory(c, other)) seen.set(m.id, m);
        for (const m of mine) expect(seen.get(m.id), `message ${m.id} in history`).toEqual(m);
      }

      // Delivered: r1 (never acknowledged anything) gets every message to it or its group in its
      // backlog; r0 has each one from before the crash or from its backlog now.
      const r1Got = new Map<number, ChatMessage>();
      const r1Listen = await listen(server, tokens.get('r1')!, (m) => void r1Got.set(m.id, m));
      expect(r1Listen.backlog).toBe(r1Got.size);
      for (const m of acked.filter((m) => m.to === 'r1' || m.to === '#crash')) expect(r1Got.get(m.id), `message ${m.id} to r1`).toEqual(m);
      await r1Listen.client.close(); // without acknowledging: next cycle's backlog repeats all of it

      r0Client = (await listen(server, tokens.get('r0')!, onR0)).client;
      r0Client.on('message', (m) => r0Client.acknowledge(m.id));
      for (const m of acked.filter((m) => m.to === 'r0' || m.to === '#crash')) expect(r0Received.get(m.id), `message ${m.id} to r0`).toEqual(m);

      // New messages get new ids, after every acknowledged one.
      const after = await senderClients[1]!.send('r0', 'after the crash');
      expect(after.id).toBeGreaterThan(Math.max(...acked.map((m) => m.id)));
      await checker.close();
    }

    // A clean stop, then the database file passes SQLite's own integrity check.
    await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
    expect(await server.stop('SIGTERM')).toBe(0);
    const db = new Database(path.join(dataDir, DB_FILE), { readonly: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(db.prepare('SELECT count(*) FROM messages').pluck().get()).toBeGreaterThanOrEqual(acked.length);
    } finally {
      db.close();
    }
  }, 60_000);
});

describe('crash safety: a client killed mid-delivery', () => {
  // server.test.ts covers a client that took a whole (small) backlog, acknowledged part of it and
  // dropped. Here the client dies while the server is still writing a multi-page backlog to it
  // (between pages the server waits for the socket to drain) and never acknowledged anything.
  it('a subscriber destroyed in the middle of a large backlog gets all of it, in order, on reconnect', async () => {
    const logs = new LineBuffer();
    // Floods one recipient on purpose: the per-recipient limits (test/abuse/) are lifted.
    const ts = await startServer({ limits: FLOOD_LIMITS, log: (line) => logs.push(`${line}\n`) });
    try {
      const alice = await ChatClient.connect({ host: ts.host, port: ts.port, tls: ts.tls, timeoutMs: WAIT_MS });
      clients.push(alice);
      await alice.register('alice', PASSWORD);
      const bobClient = await ChatClient.connect({ host: ts.host, port: ts.port, tls: ts.tls, timeoutMs: WAIT_MS });
      const bobToken = (await bobClient.register('bob', PASSWORD)).token;
      await bobClient.close();
      // Three backlog pages of 1 KiB messages.
      const body = 'b'.repeat(1000);
      const sent = await Promise.all(Array.from({ length: 1400 }, (_, i) => alice.send('bob', `${i} ${body}`)));

      // A raw subscriber: reads part of the backlog (no acks), then its connection is destroyed.
      const socket = rawConnect(ts);
      sockets.push(socket);
      socket.on('error', () => {});
      const decoder = new FrameDecoder({ maxFrameBytes: 1 << 24 });
      let messages = 0;
      const gotPart = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${messages} backlog messages arrived`)), WAIT_MS);
        socket.on('data', (chunk: Buffer) => {
          for (const f of decoder.push(chunk)) {
            const frame = JSON.parse(f.toString('utf8')) as { type: string; event?: string };
            if (frame.type === 'event' && frame.event === 'message') messages++;
          }
          if (messages >= 300) {
            clearTimeout(timer);
            socket.destroy(); // mid-backlog: the server still has pages to send
            resolve();
          }
        });
      });
      socket.write(Buffer.concat([
        encodeJsonFrame({ id: 1, type: 'hello', version: 2 }),
        encodeJsonFrame({ id: 2, type: 'auth', token: bobToken }),
        encodeJsonFrame({ id: 3, type: 'subscribe' }),
      ]));
      await gotPart;
      expect(messages).toBeLessThan(sent.length);
      await logs.waitFor(/closed \(bob\)/, WAIT_MS);

      // Back again with the same session: everything, in order, once; then live messages.
      const bob = await ChatClient.connect({ host: ts.host, port: ts.port, tls: ts.tls, timeoutMs: WAIT_MS });
      clients.push(bob);
      await bob.auth(bobToken);
      const got: ChatMessage[] = [];
      bob.on('message', (m) => got.push(m));
      const { backlog } = await bob.subscribe();
      expect(backlog).toBe(sent.length);
      expect(got.map((m) => m.id)).toEqual(sent.map((m) => m.id));
      expect(got).toEqual(sent);
      const live = await alice.send('bob', 'live');
      await new Promise<void>((resolve) => (got.length > sent.length ? resolve() : bob.once('message', () => resolve())));
      expect(got.at(-1)).toEqual(live);
      // The server noticed nothing wrong beyond a closed connection.
      expect(logs.lines.filter((l) => /internal|failed:|write after end/i.test(l))).toEqual([]);
    } finally {
      await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
      await ts.cleanup();
    }
  });
});
