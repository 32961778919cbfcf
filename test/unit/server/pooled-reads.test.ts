// The relay's reads (src/server/pooled-reads.ts) and pipe (relay-pipe.ts) on real TCP: an accepted
// socket's handle moves to a socket that reads into reused buffers; bytes stay whole and in order
// through backpressure, both ways; closing either socket closes both, and the server counts it.
import { createHash, randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_BUFFER, takeReads } from '../../../src/server/pooled-reads.js';
import { pipe, type PipeEnd } from '../../../src/server/relay-pipe.js';
import { readBytes } from '../../helpers/relay.js';

const WAIT_MS = 10_000;
const servers: Server[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

/** A server on 127.0.0.1 and `n` clients: resolves with each client and the server's side of it. */
async function accepted(n: number): Promise<{ server: Server; pairs: { client: Socket; served: Socket }[] }> {
  const served: Socket[] = [];
  let wake: (() => void) | undefined;
  const server = createServer({ pauseOnConnect: true }, (s) => (served.push(s), wake?.()));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const clients: Socket[] = [];
  for (let i = 0; i < n; i++) {
    const c = connect(port, '127.0.0.1');
    c.on('error', () => {});
    sockets.push(c);
    clients.push(c);
  }
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${served.length} of ${n} connections accepted`)), WAIT_MS);
    const check = (): void => void (served.length >= n && (clearTimeout(timer), resolve()));
    wake = check;
    check();
  });
  // Accepted in the order they connected is not promised: match by port.
  const pairs = clients.map((client) => ({ client, served: served.find((s) => s.remotePort === client.localPort)! }));
  for (const p of pairs) sockets.push(p.served);
  return { server, pairs };
}

function closed(s: Socket): Promise<void> {
  return new Promise((resolve) => (s.destroyed && s.closed ? resolve() : s.once('close', () => resolve())));
}

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

describe('pooled reads of an accepted socket', () => {
  it('moves the handle to a new socket, hands over what the old one had read, and reads on in order', async () => {
    const { pairs } = await accepted(1);
    const { client, served } = pairs[0]!;
    const first = Buffer.from('read before the move');
    client.write(first);
    // Let the old socket read it into its own buffer, unconsumed.
    await new Promise<void>((resolve) => served.once('readable', resolve));
    served.removeAllListeners('readable');
    const chunks: Buffer[] = [];
    const reads = takeReads(served, (chunk, written) => (chunks.push(Buffer.from(chunk)), written()));
    expect(reads.socket).not.toBe(served);
    expect(Buffer.concat(reads.buffered).equals(first)).toBe(true);
    const rest = randomBytes(3 * MAX_BUFFER + 17);
    client.end(rest);
    reads.socket.resume();
    await new Promise<void>((resolve) => reads.socket.once('end', resolve));
    expect(sha(Buffer.concat(chunks))).toBe(sha(rest));
    expect(Math.max(...chunks.map((c) => c.length))).toBeLessThanOrEqual(MAX_BUFFER);
    expect(served.remoteAddress).toBe('127.0.0.1'); // still known after the move
  });

  it('sends what was corked on the old socket first, and keeps the old socket while a write is still in flight', async () => {
    const { pairs } = await accepted(2);
    const corked = pairs[0]!;
    corked.served.cork(); // as a chat connection batches its replies
    corked.served.write('ok, paired');
    const moved = takeReads(corked.served, (_c, written) => written());
    expect(moved.socket).not.toBe(corked.served);
    expect((await readBytes(corked.client, 10)).toString()).toBe('ok, paired');
    const busy = pairs[1]!;
    busy.client.pause();
    busy.served.write(Buffer.alloc(64 * 1024 * 1024)); // more than the kernel takes while nobody reads
    const kept = takeReads(busy.served, (_c, written) => written());
    expect(kept.socket).toBe(busy.served);
  });

  it('closing either socket closes both, and the server stops counting the connection', async () => {
    const { server, pairs } = await accepted(2);
    const count = (): Promise<number> => new Promise((resolve, reject) => server.getConnections((e, n) => (e ? reject(e) : resolve(n))));
    expect(await count()).toBe(2);
    const a = takeReads(pairs[0]!.served, (_c, written) => written());
    const b = takeReads(pairs[1]!.served, (_c, written) => written());
    a.socket.destroy(); // the new one
    pairs[1]!.served.destroy(); // the old one
    await Promise.all([closed(pairs[0]!.served), closed(b.socket), closed(pairs[0]!.client), closed(pairs[1]!.client)]);
    expect(await count()).toBe(0);
  });

  it('never reuses a buffer before its chunk was written, however late that is', async () => {
    const { pairs } = await accepted(1);
    const { client, served } = pairs[0]!;
    const data = randomBytes(8 * MAX_BUFFER + 5);
    const held: { chunk: Buffer; written: () => void }[] = [];
    const seen: Buffer[] = [];
    // Chunks are "written" in batches of 5, the newest first; each is copied out only then.
    const release = (): void => {
      for (const h of held.splice(0).reverse()) {
        seen.unshift(Buffer.from(h.chunk));
        h.written();
      }
    };
    const batches: Buffer[] = [];
    const reads = takeReads(served, (chunk, written) => {
      held.push({ chunk, written });
      if (held.length < 5) return;
      release();
      batches.push(Buffer.concat(seen.splice(0)));
    });
    client.end(data);
    reads.socket.resume();
    await new Promise<void>((resolve) => reads.socket.once('end', resolve));
    release();
    batches.push(Buffer.concat(seen.splice(0)));
    expect(sha(Buffer.concat(batches))).toBe(sha(data));
  });
});

describe('relay pipe over pooled reads', () => {
  it('carries 24 MiB one way and 6 MiB the other at once, whole and in order', async () => {
    const { pairs } = await accepted(2);
    const [s, r] = [pairs[0]!, pairs[1]!];
    let moved = 0;
    let ended: PipeEnd | undefined;
    pipe(s.served, Buffer.alloc(0), r.served, Buffer.alloc(0), { rate: 0, idleMs: 0, moved: (n) => ((moved += n), true), ended: (why) => (ended = why) });
    const down = randomBytes(24 * 1024 * 1024);
    const up = randomBytes(6 * 1024 * 1024);
    const gotDown = readBytes(r.client, down.length, WAIT_MS * 3);
    const gotUp = readBytes(s.client, up.length, WAIT_MS * 3);
    s.client.write(down);
    r.client.write(up);
    expect(sha(await gotDown)).toBe(sha(down));
    expect(sha(await gotUp)).toBe(sha(up));
    expect(moved).toBe(down.length + up.length);
    s.client.destroy();
    await closed(r.client);
    expect(ended).toBe('closed');
  });


  it('keeps to a rate, ends at a byte budget and after an idle time, reading through pooled sockets', async () => {
    const { pairs } = await accepted(6);
    const [p1, p2, p3, p4, p5, p6] = pairs;
    const ends: PipeEnd[] = [];
    const options = (o: Partial<Parameters<typeof pipe>[4]>): Parameters<typeof pipe>[4] => ({ rate: 0, idleMs: 0, moved: () => true, ended: (why) => ends.push(why), ...o });
    // Rate: the first second's worth passes at once, the rest at the rate, so 3 × rate takes ≥ 2 s.
    const rate = 256 * 1024;
    pipe(p1!.served, Buffer.alloc(0), p2!.served, Buffer.alloc(0), options({ rate }));
    const start = performance.now();
    const paced = readBytes(p2!.client, 3 * rate, WAIT_MS);
    p1!.client.write(randomBytes(3 * rate));
    await paced;
    expect(performance.now() - start).toBeGreaterThan(1500);
    // Budget: the pair ends once `moved` says no, and what passed is less than what was sent.
    let budget = 1024 * 1024;
    pipe(p3!.served, Buffer.alloc(0), p4!.served, Buffer.alloc(0), options({ moved: (n) => (budget -= n) >= 0 }));
    let got = 0;
    p4!.client.on('data', (c: Buffer) => (got += c.length));
    p3!.client.write(Buffer.alloc(4 * 1024 * 1024));
    await closed(p4!.client);
    expect(got).toBeLessThan(1024 * 1024);
    // Idle: nothing moves, the pair is closed.
    pipe(p5!.served, Buffer.alloc(0), p6!.served, Buffer.alloc(0), options({ idleMs: 200 }));
    await Promise.all([closed(p5!.client), closed(p6!.client)]);
    expect(ends.sort()).toEqual(['budget', 'idle']);
  });
});

