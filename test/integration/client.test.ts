// ChatClient against peers that are not a healthy chat server (real TCP listeners on port 0).
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ChatClient } from '../../src/client/client.js';
import { ClientError } from '../../src/client/errors.js';
import { FrameDecoder, encodeJsonFrame } from '../../src/protocol/frame.js';

/** A TCP listener whose connections are handed to `onSocket`; records when each one closes. */
async function listener(onSocket: (socket: Socket) => void): Promise<{ server: Server; port: number; closed: Promise<void> }> {
  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => resolveClosed());
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, closed };
}

function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

const servers: Server[] = [];
const sockets = new Set<Socket>();
afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets.clear();
  for (const s of servers.splice(0)) await new Promise<void>((resolve) => s.close(() => resolve()));
});

describe('ChatClient.connect against a bad peer', () => {
  it('a peer that never answers hello: rejects with timeout and closes its socket', async () => {
    const peer = await listener((socket) => socket.resume()); // reads everything, answers nothing
    servers.push(peer.server);
    const err = await ChatClient.connect({ host: '127.0.0.1', port: peer.port, tls: false, timeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientError);
    expect((err as ClientError).code).toBe('timeout');
    // The half-made connection must not be left open (it would keep a CLI process alive).
    await bounded(peer.closed, 3_000, 'the client to close its socket');
  });

  it('a peer that refuses the version: rejects with its code and closes its socket', async () => {
    const peer = await listener((socket) => {
      const decoder = new FrameDecoder();
      socket.on('data', (chunk) => {
        for (const f of decoder.push(chunk)) {
          const { id } = JSON.parse(f.toString('utf8')) as { id: number };
          // Replies, but leaves closing to the client.
          socket.write(encodeJsonFrame({ type: 'error', id, code: 'unsupported_version', message: 'speak v2' }));
        }
      });
    });
    servers.push(peer.server);
    const err = await ChatClient.connect({ host: '127.0.0.1', port: peer.port, tls: false, timeoutMs: 3_000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'unsupported_version', message: 'speak v2' });
    await bounded(peer.closed, 3_000, 'the client to close its socket');
  });

  it('a peer that sends an oversized frame: the pending request fails with a protocol error', async () => {
    const peer = await listener((socket) => {
      socket.once('data', () => socket.write(Buffer.from([0x7f, 0xff, 0xff, 0xff])));
    });
    servers.push(peer.server);
    const err = await ChatClient.connect({ host: '127.0.0.1', port: peer.port, tls: false, timeoutMs: 3_000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'protocol' });
    expect((err as Error).message).toMatch(/bad frame from server/);
    await bounded(peer.closed, 3_000, 'the client to close its socket');
  });

  it('nobody listening: unreachable, with the address in the message', async () => {
    const peer = await listener(() => {});
    const port = peer.port;
    await new Promise<void>((resolve) => peer.server.close(() => resolve()));
    const err = await ChatClient.connect({ host: '127.0.0.1', port, tls: false, timeoutMs: 3_000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'unreachable' });
    expect((err as Error).message).toContain(`cannot reach server at 127.0.0.1:${port}`);
  });
});

describe('ChatClient against a server that sends what the protocol does not define', () => {
  it('ignores events named "error", "close" or unknown, and an event without data; an unknown error code reads as protocol', async () => {
    const peer = await listener((socket) => {
      const decoder = new FrameDecoder();
      socket.on('data', (chunk) => {
        for (const f of decoder.push(chunk)) {
          const { id, type } = JSON.parse(f.toString('utf8')) as { id: number; type: string };
          if (type === 'hello') {
            // Hostile events first: none may crash the client or pose as its own close.
            for (const event of ['error', 'close', 'newListener', 'no_such_event']) socket.write(encodeJsonFrame({ type: 'event', event, data: { x: 1 } }));
            socket.write(encodeJsonFrame({ type: 'event', event: 'message', data: null }));
            socket.write(encodeJsonFrame({ type: 'event', event: 'presence', data: { user: 'bob', online: true, at: 1 } }));
            socket.write(encodeJsonFrame({ type: 'ok', id, result: { version: 1, server: 'fake', observed: '127.0.0.1' } }));
          } else socket.write(encodeJsonFrame({ type: 'error', id, code: 'rm -rf', message: 'made up' }));
        }
      });
    });
    servers.push(peer.server);
    const seen: string[] = [];
    const client = await ChatClient.connect({ host: '127.0.0.1', port: peer.port, tls: false, timeoutMs: 3_000 });
    client.on('presence', (p) => seen.push(`presence ${p.user}`));
    client.on('message', () => seen.push('message'));
    client.on('close', () => seen.push('close'));
    const err = await client.request('who', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientError);
    expect(err).toMatchObject({ code: 'protocol', message: 'made up (unknown error code)' });
    expect(seen).not.toContain('close');
    expect(seen).not.toContain('message');
    await client.close();
  });
});
