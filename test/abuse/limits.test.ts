// Abuse limits of the relay server, each with its clear error (protocol.md §6, §7).
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ChatClient } from '../../src/client/client.js';
import { FrameDecoder } from '../../src/protocol/frame.js';
import type { ServerLimits } from '../../src/server/options.js';
import { rawConnect, startServer, type TestServer } from '../helpers/server.js';

const PASSWORD = 'correct horse';
const servers: TestServer[] = [];
const clients: ChatClient[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
  for (const s of servers.splice(0)) await s.cleanup();
});

async function server(limits: Partial<ServerLimits>): Promise<TestServer> {
  const ts = await startServer({ limits });
  servers.push(ts);
  return ts;
}

async function client(ts: TestServer): Promise<ChatClient> {
  const c = await ChatClient.connect({ host: ts.host, port: ts.port, tls: ts.tls, timeoutMs: 5000 });
  clients.push(c);
  return c;
}

/** Opens a raw socket; resolves its first frame, or null if the server leaves it open (none within `ms`). */
function firstFrame(ts: TestServer, ms: number): Promise<{ socket: Socket; frame: Record<string, unknown> | null }> {
  return new Promise((resolve, reject) => {
    const socket = rawConnect(ts);
    sockets.push(socket);
    const decoder = new FrameDecoder();
    const timer = setTimeout(() => resolve({ socket, frame: null }), ms);
    socket.on('data', (chunk) => {
      const [frame] = decoder.push(chunk);
      if (!frame) return;
      clearTimeout(timer);
      resolve({ socket, frame: JSON.parse(frame.toString('utf8')) as Record<string, unknown> });
    });
    socket.on('error', reject);
  });
}

describe('abuse limits', () => {
  it('blocks a user after repeated failed logins, with a clear error, also for the right password', async () => {
    const ts = await server({ maxLoginFailuresPerUserAddress: 3, maxLoginDelayMs: 20 });
    await (await client(ts)).register('alice', PASSWORD);
    await (await client(ts)).register('bob', PASSWORD);
    const c = await client(ts);
    for (let i = 0; i < 3; i++) await expect(c.login('alice', 'wrong password')).rejects.toMatchObject({ code: 'bad_credentials' });
    await expect(c.login('alice', PASSWORD)).rejects.toMatchObject({ code: 'rate_limited', message: expect.stringContaining('too many failed logins') });
    // Another user from the same address is not blocked.
    expect((await c.login('bob', PASSWORD)).user).toBe('bob');
  });

  it('blocks an address after repeated failed logins for any users', async () => {
    const ts = await server({ maxLoginFailuresPerAddress: 4, maxLoginDelayMs: 20 });
    await (await client(ts)).register('carol', PASSWORD);
    const c = await client(ts);
    for (const name of ['u1', 'u2', 'u3', 'u4']) await expect(c.login(name, 'nope nope')).rejects.toMatchObject({ code: 'bad_credentials' });
    await expect(c.login('carol', PASSWORD)).rejects.toMatchObject({ code: 'rate_limited' });
  });

  it('refuses connections beyond the per-address limit, and accepts again when one closes', async () => {
    const ts = await server({ maxConnectionsPerAddress: 2 });
    const a = await client(ts);
    await client(ts);
    const refused = await firstFrame(ts, 5000);
    expect(refused.frame).toMatchObject({ type: 'error', id: null, code: 'overloaded', message: 'too many connections from your network' });
    await a.close();
    // The server learns of the close asynchronously: a fresh connection is accepted once it has.
    let accepted: ChatClient | undefined;
    for (let i = 0; i < 50 && !accepted; i++) {
      accepted = await client(ts).catch(() => undefined);
    }
    expect(accepted?.hello.version).toBe(2);
  });

  it('limits the message rate per user', async () => {
    const ts = await server({ messageRate: 0.001, messageBurst: 3 });
    const c = await client(ts);
    await c.register('dave', PASSWORD);
    for (let i = 0; i < 3; i++) await c.send('dave', `note ${i}`);
    await expect(c.send('dave', 'one too many')).rejects.toMatchObject({ code: 'rate_limited', message: 'slow down: at most 0.001 messages per second' });
  });
});

describe('a subscriber that never acknowledges', () => {
  it('is closed with limit_reached past maxUnackedMessages; its messages stay stored for its next connection', async () => {
    const ts = await server({ maxUnackedMessages: 3 });
    const bob = await client(ts);
    await bob.register('bob', PASSWORD);
    const alice = await client(ts);
    await alice.register('alice', PASSWORD);
    const sloppy = await client(ts);
    await sloppy.login('bob', PASSWORD);
    const closed = new Promise<unknown>((resolve) => sloppy.on('close', resolve));
    let got = 0;
    sloppy.on('message', () => got++); // read, never acknowledged
    await sloppy.subscribe();
    for (let i = 1; i <= 4; i++) await alice.send('bob', `m${i}`);
    const err = (await closed) as { code?: string; message?: string };
    expect(err.code).toBe('limit_reached');
    expect(err.message).toContain('more than 3 messages sent and not acknowledged');
    expect(got).toBe(4); // the fourth went out, then the cut
    // Nothing was lost: a connection that acknowledges gets all four.
    const careful = await client(ts);
    await careful.login('bob', PASSWORD);
    const texts: string[] = [];
    careful.on('message', (m) => {
      texts.push(m.text!);
      careful.acknowledge(m.id);
    });
    await careful.subscribe();
    expect(texts).toEqual(['m1', 'm2', 'm3', 'm4']);
  });
});
