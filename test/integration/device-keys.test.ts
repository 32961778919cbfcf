// Device identity keys on the server (protocol.md §4.1, §4.4): registered with login/register/auth,
// published by device_keys, carried in offers and accepts; the server checks their shape only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatClient } from '../../src/client/client.js';
import { newIdentity } from '../../src/transfer/identity.js';
import { connectTo, startServer, type TestServer } from '../helpers/server.js';

const PASSWORD = 'correct horse battery';
let server: TestServer;
const clients: ChatClient[] = [];

async function connect(): Promise<ChatClient> {
  const c = await connectTo(server);
  clients.push(c);
  return c;
}

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => {});
  await server?.cleanup();
});

describe('device identity keys', () => {
  it('stores the key each device registers and publishes them per device; auth with a new key replaces it', async () => {
    const [laptop, phone] = [newIdentity().publicKey, newIdentity().publicKey];
    const a = await connect();
    const { token } = await a.register('alice', PASSWORD, undefined, 'laptop', laptop);
    const b = await connect();
    await b.login('alice', PASSWORD, 'phone', phone);
    await (await connect()).register('bob', PASSWORD);
    const bob = clients[2]!;
    expect(await bob.deviceKeys('Alice')).toEqual({ user: 'alice', keys: [{ device: 'laptop', key: laptop }, { device: 'phone', key: phone }] });
    const renewed = newIdentity().publicKey;
    await (await connect()).auth(token, renewed);
    expect((await bob.deviceKeys('alice')).keys[0]).toEqual({ device: 'laptop', key: renewed });
    expect(await a.deviceKeys('bob')).toEqual({ user: 'bob', keys: [] });
    await expect(a.deviceKeys('nobody')).rejects.toMatchObject({ code: 'no_such_user' });
  });

  it('refuses a malformed identity key or signed identity with bad_request', async () => {
    const c = await connect();
    await expect(c.login('alice', PASSWORD, 'x', 'not-a-key')).rejects.toMatchObject({ code: 'bad_request' });
    await c.login('alice', PASSWORD);
    const offer = { to: 'bob', transfer: 't-shape', token: 'x'.repeat(32), candidates: [], fileCount: 1, totalBytes: 1, timeoutMs: 60_000 };
    for (const identity of [{ key: newIdentity().publicKey, device: 'd' }, { key: 'short', device: 'd', sig: 'A'.repeat(86) }, { key: newIdentity().publicKey, device: 'x'.repeat(65), sig: 'A'.repeat(86) }]) {
      await expect(c.request('offer', { ...offer, identity })).rejects.toMatchObject({ code: 'bad_request' });
    }
  });

  it('carries the sender\'s identity and verify flag in the offer, and the receiver\'s in offer_accepted', async () => {
    const alice = await connect();
    await alice.login('alice', PASSWORD);
    const bob = await connect();
    await bob.login('bob', PASSWORD);
    const sent = { key: newIdentity().publicKey, device: 'laptop', sig: 'S'.repeat(86) };
    const offered = new Promise((resolve) => bob.on('offer', resolve));
    await bob.subscribe();
    const file = { path: 'a.txt', size: 1, mime: 'text/plain', mode: 0o644, mtimeMs: 1 };
    const { offer } = await alice.offer('bob', { transfer: 't-carry', token: 'y'.repeat(32), candidates: [], timeoutMs: 60_000, identity: sent, verify: true }, [file]);
    expect(await offered).toMatchObject({ id: offer, identity: sent, verify: true });
    const answered = new Promise((resolve) => alice.on('offer_accepted', resolve));
    const back = { key: newIdentity().publicKey, device: 'desk', sig: 'R'.repeat(86) };
    await bob.accept(offer, { identity: back, verify: false });
    expect(await answered).toMatchObject({ offer, by: 'bob', identity: back, verify: false });
  });
});
