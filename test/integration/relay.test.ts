// The server's transfer relay with raw sockets: pairing by transfer id and token proof, piping both
// ways with backpressure, byte counting, and each limit with its error.
import { randomBytes } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { ChatClient } from '../../src/client/client.js';
import { FrameDecoder, encodeJsonFrame } from '../../src/protocol/frame.js';
import { punchRequest, relayPlainProofRequest, relayPlainRequest, relayRequest, type RelayRole } from '../../src/protocol/relay.js';
import { relayConnect, type RelayEndpoint } from '../../src/transfer/relay-dial.js';
import type { ServerLimits } from '../../src/server/options.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { relayConn as rawRelayConn, readBytes } from '../helpers/relay.js';

const PASSWORD = 'correct horse';
const WAIT_MS = 5000;
const servers: TestServer[] = [];
const sockets: Socket[] = [];
const clients: ChatClient[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
  for (const s of servers.splice(0)) await s.cleanup();
});

async function server(limits: Partial<ServerLimits> = {}, log?: (line: string) => void): Promise<TestServer> {
  const ts = await startServer({ limits, log });
  servers.push(ts);
  return ts;
}

async function client(ts: TestServer, user: string): Promise<ChatClient> {
  const c = await ChatClient.connect({ host: ts.host, port: ts.port, tls: ts.tls, timeoutMs: WAIT_MS });
  clients.push(c);
  await c.register(user, PASSWORD);
  return c;
}

/** An accepted offer: what the two peers know (transfer id and token). */
async function acceptedOffer(ts: TestServer): Promise<{ transfer: string; token: string }> {
  const [alice, bob] = [await client(ts, `a${randomBytes(3).toString('hex')}`), await client(ts, `b${randomBytes(3).toString('hex')}`)];
  const transfer = randomBytes(12).toString('base64url');
  const token = randomBytes(24).toString('base64url');
  const { offer } = await alice.request<{ offer: string }>('offer', {
    to: bob.user!, transfer, token, candidates: [{ host: '127.0.0.1', port: 9 }], fileCount: 1, totalBytes: 1, timeoutMs: 60_000,
  });
  await alice.request('offer_files', { offer, files: [{ path: 'x', size: 1, mime: 'text/plain', mode: 0o644, mtimeMs: 0 }], done: true });
  await bob.request('accept', { offer });
  return { transfer, token };
}

/** A raw relay connection: sends `request`, resolves with its first reply frame. */
function relayConn(ts: TestServer, request: Record<string, unknown>): Promise<{ socket: Socket; reply: Record<string, unknown> }> {
  return rawRelayConn(ts, request, sockets, WAIT_MS);
}

/** A plain TCP connection to the (TLS) server's port, speaking relay version 2 frame by frame. */
function plainConn(ts: TestServer): { socket: Socket; send(frame: object): Promise<Record<string, unknown>> } {
  const socket = netConnect({ host: ts.host, port: ts.port });
  sockets.push(socket);
  const decoder = new FrameDecoder({ maxFrameBytes: 1 << 20 });
  const frames: Record<string, unknown>[] = [];
  let wake: (() => void) | undefined;
  const onData = (chunk: Buffer): void => {
    for (const f of decoder.push(chunk)) {
      const frame = JSON.parse(f.toString('utf8')) as Record<string, unknown>;
      frames.push(frame);
      if (frame.type !== 'ok') continue;
      // Paired: the rest is the peer's raw bytes.
      socket.off('data', onData);
      const rest = decoder.takeRest();
      if (rest.length > 0) socket.unshift(rest);
      break;
    }
    wake?.();
  };
  socket.on('data', onData);
  socket.on('close', () => wake?.());
  socket.on('error', () => {});
  const next = (): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no relay reply in time')), WAIT_MS);
      const check = (): void => {
        const f = frames.shift();
        if (f || socket.destroyed) {
          clearTimeout(timer);
          wake = undefined;
          return f ? resolve(f) : reject(new Error('closed without a reply'));
        }
        wake = check;
      };
      check();
    });
  return { socket, send: (frame) => (socket.write(encodeJsonFrame(frame)), next()) };
}

/** Relay version 2 from request to the final reply; `proofToken` is the token the proof is made with. */
async function plainRelay(ts: TestServer, proofToken: string, role: RelayRole, transfer: string) {
  const conn = plainConn(ts);
  const challenge = await conn.send(relayPlainRequest(role, transfer));
  expect(challenge).toMatchObject({ id: 1, type: 'challenge' });
  expect(String(challenge.nonce)).toMatch(/^[0-9a-f]{64}$/);
  const proof = relayPlainProofRequest(proofToken, role, transfer, String(challenge.nonce));
  return { socket: conn.socket, proof, reply: await conn.send(proof) };
}

/** The test server as a RelayEndpoint, TLS opened without checking the certificate (as the CLI does after pinning). */
function endpoint(ts: TestServer): RelayEndpoint {
  return {
    host: ts.host,
    port: ts.port,
    open: (target) =>
      new Promise((resolve, reject) => {
        const s = tlsConnect({ host: target.host, port: target.port, rejectUnauthorized: false }, () => resolve(s));
        s.once('error', reject);
      }),
  };
}

/** `size` random bytes from the sender's leg arrive whole at the receiver's, five come back, and the relay counted them all. */
async function expectPiped(ts: TestServer, s: Socket, r: Socket, size: number): Promise<void> {
  const big = randomBytes(size);
  const arrived = readBytes(r, big.length);
  s.write(big);
  expect((await arrived).equals(big)).toBe(true);
  const back = readBytes(s, 5);
  r.write('hello');
  expect((await back).toString()).toBe('hello');
  expect(ts.server.relay.stats).toMatchObject({ active: 1, pairs: 1, bytes: big.length + 5 });
}

function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));
}

describe('transfer relay', () => {
  it('pairs the two sides of an accepted transfer and pipes bytes both ways, counting them', async () => {
    const ts = await server();
    const { transfer, token } = await acceptedOffer(ts);
    const [s, r] = await Promise.all([
      relayConn(ts, relayRequest(token, 'sender', transfer)),
      relayConn(ts, relayRequest(token, 'receiver', transfer)),
    ]);
    expect(s.reply).toMatchObject({ type: 'ok', id: 1, result: { paired: true } });
    expect(r.reply).toMatchObject({ type: 'ok', id: 1, result: { paired: true } });

    await expectPiped(ts, s.socket, r.socket, 8 * 1024 * 1024);

    s.socket.destroy();
    await closed(r.socket);
  });

  it('refuses a wrong proof, an unknown transfer, and a relay request after hello', async () => {
    const ts = await server();
    const { transfer } = await acceptedOffer(ts);
    const wrong = await relayConn(ts, relayRequest('not-the-token', 'receiver', transfer));
    expect(wrong.reply).toMatchObject({ type: 'error', code: 'unauthorized' });
    await closed(wrong.socket);
    const unknown = await relayConn(ts, relayRequest('x', 'sender', 'no-such-transfer'));
    expect(unknown.reply).toMatchObject({ type: 'error', code: 'unauthorized' });
    const c = await ChatClient.connect({ host: ts.host, port: ts.port, tls: ts.tls, timeoutMs: WAIT_MS });
    clients.push(c);
    await expect(c.request('relay', { version: 1, transfer, role: 'sender', proof: 'x' })).rejects.toMatchObject({ code: 'bad_request' });
  });

  it('enforces --relay off, --relay-max and the wait for the other side, with clear errors', async () => {
    const off = await server({ relay: false });
    const t0 = await acceptedOffer(off);
    expect((await relayConn(off, relayRequest(t0.token, 'sender', t0.transfer))).reply).toMatchObject({
      code: 'forbidden', message: 'this server does not relay transfers',
    });

    const small = await server({ relayMax: 1, relayWaitMs: 300 });
    const t1 = await acceptedOffer(small);
    const t2 = await acceptedOffer(small);
    await Promise.all([
      relayConn(small, relayRequest(t1.token, 'sender', t1.transfer)),
      relayConn(small, relayRequest(t1.token, 'receiver', t1.transfer)),
    ]);
    const full = await relayConn(small, relayRequest(t2.token, 'sender', t2.transfer));
    expect(full.reply).toMatchObject({ code: 'overloaded' });
    expect(String(full.reply.message)).toContain('the relay is full (1 transfers)');

    const lonely = await server({ relayWaitMs: 200 });
    const t3 = await acceptedOffer(lonely);
    const alone = await relayConn(lonely, relayRequest(t3.token, 'sender', t3.transfer));
    expect(alone.reply).toMatchObject({ code: 'offer_closed', message: 'the other side did not come to the relay in time' });
    await closed(alone.socket);
  });
});

describe('transfer relay in plain TCP (version 2, protocol.md §4.8)', () => {
  it('pairs two plain connections after proofs over the server\'s nonces and pipes bytes both ways', async () => {
    const logs: string[] = [];
    const ts = await server({}, (line) => logs.push(line));
    const { transfer, token } = await acceptedOffer(ts);
    const [s, r] = await Promise.all([plainRelay(ts, token, 'sender', transfer), plainRelay(ts, token, 'receiver', transfer)]);
    expect(s.reply).toEqual({ id: 2, type: 'ok', result: { paired: true } });
    expect(r.reply).toEqual({ id: 2, type: 'ok', result: { paired: true } });
    await expectPiped(ts, s.socket, r.socket, 4 * 1024 * 1024);
    expect(logs.some((l) => l.includes('as sender (plain): waiting for the other side'))).toBe(true);
    s.socket.destroy();
    await closed(r.socket);
  });

  it('refuses a proof replayed on a new connection (a new nonce), a wrong token and version 1 in plain, and closes on a chat request in plain', async () => {
    const ts = await server({ relayWaitMs: 300 });
    const { transfer, token } = await acceptedOffer(ts);
    const first = await plainRelay(ts, token, 'sender', transfer); // nobody comes: offer_closed after 300 ms
    expect(first.reply).toMatchObject({ code: 'offer_closed' });
    const replay = plainConn(ts);
    expect(await replay.send(relayPlainRequest('sender', transfer))).toMatchObject({ type: 'challenge' });
    expect(await replay.send(first.proof)).toMatchObject({ id: 2, type: 'error', code: 'unauthorized' });
    await closed(replay.socket);
    expect((await plainRelay(ts, 'not-the-token', 'receiver', transfer)).reply).toMatchObject({ code: 'unauthorized' });
    expect(await plainConn(ts).send(relayRequest(token, 'sender', transfer))).toMatchObject({ id: 1, code: 'unsupported_version' });
    // A chat request in plain is closed unanswered, as by a TLS-only server (the CLI then suggests dropping --insecure).
    await expect(plainConn(ts).send({ id: 1, type: 'hello', version: 1 })).rejects.toThrow('closed without a reply');
  });

  it('hands over, in order, bytes a peer sent with its proof before it was paired', async () => {
    const ts = await server();
    const { transfer, token } = await acceptedOffer(ts);
    const early = plainConn(ts);
    const challenge = await early.send(relayPlainRequest('sender', transfer));
    // The proof, a whole frame and a cut one in one write: none of it is the server's to read.
    const extra = Buffer.concat([encodeJsonFrame({ type: 'hello', v: 5 }), Buffer.from([0, 0, 0, 9, 1, 2])]);
    early.socket.write(Buffer.concat([encodeJsonFrame(relayPlainProofRequest(token, 'sender', transfer, String(challenge.nonce))), extra]));
    const r = await plainRelay(ts, token, 'receiver', transfer);
    expect(r.reply).toMatchObject({ type: 'ok', result: { paired: true } });
    expect((await readBytes(r.socket, extra.length)).equals(extra)).toBe(true);
  });

  it('relayConnect pairs in plain TCP, and falls back to version 1 in TLS when the server takes no plain relay', async () => {
    for (const relayPlain of [true, false]) {
      const logs: string[] = [];
      const ts = await server({ relayPlain }, (line) => logs.push(line));
      const { transfer, token } = await acceptedOffer(ts);
      const [s, r] = await Promise.all([
        relayConnect(endpoint(ts), { transferId: transfer, token, role: 'sender', timeoutMs: WAIT_MS }),
        relayConnect(endpoint(ts), { transferId: transfer, token, role: 'receiver', timeoutMs: WAIT_MS }),
      ]);
      sockets.push(s, r);
      const arrived = readBytes(r, 6);
      r.resume(); // relayConnect hands the socket over paused
      s.write('sealed');
      expect((await arrived).toString()).toBe('sealed');
      expect(logs.filter((l) => l.includes('(plain): waiting')).length).toBe(relayPlain ? 2 : 0);
      expect('encrypted' in s).toBe(!relayPlain); // a TLSSocket only on the fallback
    }
  });
});

describe('punch rendezvous (protocol.md §4.9)', () => {
  it('answers both peers at once with where it saw each one\'s port, then closes both', async () => {
    const logs: string[] = [];
    const ts = await server({ relay: false }, (line) => logs.push(line)); // --relay off does not stop punching
    const t = await acceptedOffer(ts);
    const [s, r] = await Promise.all([
      relayConn(ts, punchRequest(t.token, 'sender', t.transfer)),
      relayConn(ts, punchRequest(t.token, 'receiver', t.transfer)),
    ]);
    const at = (socket: Socket) => ({ host: '127.0.0.1', port: socket.localPort });
    expect(s.reply).toEqual({ type: 'ok', id: 1, result: { observed: at(s.socket), peer: at(r.socket) } });
    expect(r.reply).toEqual({ type: 'ok', id: 1, result: { observed: at(r.socket), peer: at(s.socket) } });
    await Promise.all([closed(s.socket), closed(r.socket)]);
    expect(logs.some((l) => /punch \S+: 127\.0\.0\.1:\d+ <-> 127\.0\.0\.1:\d+/.test(l))).toBe(true);
  });

  it('refuses a wrong proof, the relay\'s proof, an unknown transfer, and a lonely peer, with clear errors', async () => {
    const ts = await server({ punchWaitMs: 200 });
    const t = await acceptedOffer(ts);
    const wrong = await relayConn(ts, { ...punchRequest(t.token, 'sender', t.transfer), proof: 'ab'.repeat(32) });
    expect(wrong.reply).toMatchObject({ code: 'unauthorized', message: 'unknown transfer or wrong proof' });
    const relayProof = await relayConn(ts, { ...relayRequest(t.token, 'sender', t.transfer), type: 'punch' });
    expect(relayProof.reply).toMatchObject({ code: 'unauthorized' });
    const unknown = await relayConn(ts, punchRequest(t.token, 'sender', 'no-such-transfer'));
    expect(unknown.reply).toMatchObject({ code: 'unauthorized' });
    const version = await relayConn(ts, { ...punchRequest(t.token, 'sender', t.transfer), version: 2 });
    expect(version.reply).toMatchObject({ code: 'unsupported_version' });
    const alone = await relayConn(ts, punchRequest(t.token, 'receiver', t.transfer));
    expect(alone.reply).toMatchObject({ code: 'offer_closed', message: 'the other side did not come to punch in time' });
    await closed(alone.socket);
  });

  it('punch after hello is bad_request', async () => {
    const ts = await server();
    const c = await ChatClient.connect({ host: ts.host, port: ts.port, tls: ts.tls, timeoutMs: WAIT_MS });
    clients.push(c);
    await expect(c.request('punch', { version: 1, transfer: 'x', role: 'sender', proof: 'x' })).rejects.toMatchObject({ code: 'bad_request' });
  });
});
