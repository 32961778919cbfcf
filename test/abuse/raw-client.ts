// A hand-written client for attacks: JSON frames over real TLS from a chosen local address
// (127.0.x.y: another /24 on loopback stands for another network), requests pipelined at will.
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { afterEach, expect } from 'vitest';
import { encodeJsonFrame, FrameDecoder } from '../../src/protocol/frame.js';
import type { ServerLimits } from '../../src/server/options.js';
import { startServer, type ServerTarget, type StartServerOptions, type TestServer } from '../helpers/server.js';

export interface Reply {
  type: string;
  id: number | null;
  code?: string;
  message?: string;
  result?: Record<string, unknown>;
  event?: string;
  data?: Record<string, unknown>;
}

export interface RawClient {
  socket: TLSSocket;
  /** Sends a request; resolves with its reply (ok or error), or rejects if the socket closes first. */
  request(type: string, params?: Record<string, unknown>): Promise<Reply>;
  /** Resolves with the next event named `name`. */
  event(name: string, timeoutMs?: number): Promise<Reply>;
  /** Resolves when the socket has closed. */
  closed: Promise<void>;
  close(): void;
}

/** Connects from `localAddress` (default 127.0.0.1); resolves once the TLS handshake is done. */
export async function rawClient(target: ServerTarget, localAddress = '127.0.0.1', timeoutMs = 10_000): Promise<RawClient> {
  // localAddress reaches the underlying net.connect (missing from @types/node's TLS options).
  const options: ConnectionOptions & { localAddress: string } = { host: target.host, port: target.port, localAddress, rejectUnauthorized: false };
  const socket = tlsConnect(options);
  const decoder = new FrameDecoder({ maxFrameBytes: 64 * 1024 * 1024 });
  const pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  const waiters: { name: string; resolve: (r: Reply) => void }[] = [];
  const events: Reply[] = [];
  let nextId = 1;
  let ended = false;
  const closed = new Promise<void>((resolve) => socket.once('close', () => {
    ended = true;
    for (const p of pending.values()) p.reject(new Error('closed'));
    pending.clear();
    resolve();
  }));
  socket.on('error', () => {});
  socket.on('data', (chunk) => {
    for (const payload of decoder.push(chunk)) {
      const frame = JSON.parse(payload.toString('utf8')) as Reply;
      if (frame.type === 'event') {
        const i = waiters.findIndex((w) => w.name === frame.event);
        if (i >= 0) waiters.splice(i, 1)[0]!.resolve(frame);
        else events.push(frame);
        continue;
      }
      if (frame.id === null && frame.type === 'error') {
        // A connection-level refusal (e.g. over a connection limit): it answers whatever was asked.
        for (const p of pending.values()) p.resolve(frame);
        pending.clear();
        continue;
      }
      const p = frame.id === null ? undefined : pending.get(frame.id);
      if (p) {
        pending.delete(frame.id!);
        p.resolve(frame);
      }
    }
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('TLS handshake timed out'));
    }, timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('close', () => {
      clearTimeout(timer);
      reject(new Error('closed before the TLS handshake'));
    });
  });
  const client: RawClient = {
    socket,
    closed,
    request(type, params = {}) {
      if (ended) return Promise.reject(new Error('closed'));
      const id = nextId++;
      return new Promise<Reply>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no reply to ${type} within ${timeoutMs} ms`)), timeoutMs);
        pending.set(id, {
          resolve: (r) => (clearTimeout(timer), resolve(r)),
          reject: (e) => (clearTimeout(timer), reject(e)),
        });
        socket.write(encodeJsonFrame({ id, type, ...params }));
      });
    },
    event(name, ms = timeoutMs) {
      const i = events.findIndex((e) => e.event === name);
      if (i >= 0) return Promise.resolve(events.splice(i, 1)[0]!);
      return new Promise<Reply>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${name} event within ${ms} ms`)), ms);
        waiters.push({ name, resolve: (r) => (clearTimeout(timer), resolve(r)) });
      });
    },
    close() {
      socket.destroy();
    },
  };
  const hello = await client.request('hello', { version: 2, client: 'abuse-test' }).catch((err: Error) => {
    socket.destroy();
    throw err;
  });
  if (hello.type !== 'ok') {
    socket.destroy();
    throw Object.assign(new Error(`hello refused: ${hello.code}: ${hello.message}`), { reply: hello });
  }
  return client;
}

/**
 * The servers and raw clients of one abuse test file, all closed after each test: `server`
 * starts one with `limits`, `client` connects from an address, `as` logs a user in
 * (registering it on first use).
 */
export function abuseHarness(defaults: Partial<ServerLimits> = {}) {
  const servers: TestServer[] = [];
  const clients: RawClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const s of servers.splice(0)) await s.cleanup();
  });
  const client = async (target: ServerTarget, from = '127.0.0.1'): Promise<RawClient> => {
    const c = await rawClient(target, from);
    clients.push(c);
    return c;
  };
  return {
    servers,
    async server(limits: Partial<ServerLimits> = {}, options: Omit<StartServerOptions, 'limits'> = {}): Promise<TestServer> {
      const ts = await startServer({ ...options, limits: { ...defaults, ...limits } });
      servers.push(ts);
      return ts;
    },
    client,
    async as(target: ServerTarget, user: string, from = '127.0.0.1'): Promise<RawClient> {
      const c = await client(target, from);
      const reply = await c.request('register', { user, password: ABUSE_PASSWORD });
      if (reply.type !== 'ok') expect(await c.request('login', { user, password: ABUSE_PASSWORD })).toMatchObject({ type: 'ok' });
      return c;
    },
  };
}

export const ABUSE_PASSWORD = 'correct horse';
