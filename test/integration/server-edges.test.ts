// Edges the fuzzer found: each is a clear error now, never a silent difference.
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChatClient } from '../../src/client/client.js';
import { FrameDecoder, encodeJsonFrame } from '../../src/protocol/frame.js';
import { rawConnect, startServer, type TestServer } from '../helpers/server.js';

const PASSWORD = 'correct horse';
let ts: TestServer;
const clients: ChatClient[] = [];

beforeEach(async () => {
  ts = await startServer();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
  await ts.cleanup();
});

async function user(name: string): Promise<{ client: ChatClient; token: string }> {
  const client = await ChatClient.connect({ host: ts.host, port: ts.port, tls: ts.tls, timeoutMs: 5000 });
  clients.push(client);
  const { token } = await client.register(name, PASSWORD);
  return { client, token };
}

describe('server edges', () => {
  it('refuses text with a lone surrogate (it could not be stored as sent)', async () => {
    const { client } = await user('alice');
    await expect(client.send('alice', 'bad \ud800 text')).rejects.toMatchObject({ code: 'bad_request' });
    expect((await client.send('alice', 'fine 😀')).text).toBe('fine 😀');
  });

  it('an ack past the newest message does not skip messages sent later', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    await bob.client.request('ack', { upTo: 1_000_000 });
    const m = await alice.client.send('bob', 'after the big ack');
    const later = await ChatClient.connect({ host: ts.host, port: ts.port, tls: ts.tls, timeoutMs: 5000 });
    clients.push(later);
    await later.auth(bob.token);
    const got: number[] = [];
    later.on('message', (msg) => got.push(msg.id));
    expect(await later.subscribe()).toEqual({ backlog: 1 });
    expect(got).toEqual([m.id]);
  });

  it('limits offer_files to 1000 files per request', async () => {
    const alice = await user('alice');
    await user('bob');
    const { offer } = await alice.client.request<{ offer: string }>('offer', {
      to: 'bob', transfer: 't', token: 'k', candidates: [], fileCount: 1001, totalBytes: 1001, timeoutMs: 60_000,
    });
    const files = Array.from({ length: 1001 }, (_, i) => ({ path: `f${i}`, size: 1, mime: 'x', mode: 0o644, mtimeMs: 0 }));
    await expect(alice.client.request('offer_files', { offer, files, done: true })).rejects.toMatchObject({ code: 'bad_request' });
  });

  it('refuses a relay request of another version and closes', async () => {
    const reply = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const socket = rawConnect(ts);
      const decoder = new FrameDecoder();
      socket.on('connect', () => socket.write(encodeJsonFrame({ id: 1, type: 'relay', version: 9, transfer: randomBytes(4).toString('hex'), role: 'sender', proof: 'x' })));
      socket.on('data', (chunk) => {
        const [frame] = decoder.push(chunk);
        if (frame) resolve(JSON.parse(frame.toString('utf8')) as Record<string, unknown>);
      });
      socket.on('error', reject);
      setTimeout(() => reject(new Error('no reply')), 5000).unref();
    });
    expect(reply).toMatchObject({ type: 'error', code: 'unsupported_version' });
  });
});
