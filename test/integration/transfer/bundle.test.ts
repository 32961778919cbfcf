// Protocol v4's BUNDLE frames over real TCP (protocol.md §T9): what a v4 Wire sends, what a
// v3 one refuses, and that v3 and v4 peers still transfer files to each other.
import { once } from 'node:events';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { FrameDecoder } from '../../../src/protocol/frame.js';
import { decodeBundle } from '../../../src/transfer/bundle.js';
import { Opener, Sealer, TAG_BYTES } from '../../../src/transfer/seal.js';
import type { TransferError } from '../../../src/transfer/errors.js';
import { Wire } from '../../../src/transfer/wire.js';
import type { ReceiverOptions } from '../../../src/transfer/receiver.js';
import type { SenderOptions } from '../../../src/transfer/sender.js';
import { collectFiles, runPair, scratchDirs, sha256File, startPair, writeRandomFile } from '../../helpers/transfer-files.js';

const scratch = scratchDirs();
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await scratch.removeAll();
});

/** Two connected sockets on 127.0.0.1. */
async function socketPair(): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const [accepted] = (await once(server, 'connection')) as [net.Socket];
  await once(client, 'connect');
  server.close();
  sockets.push(client, accepted);
  return [client, accepted];
}

/** A Wire sealed at `version` on one end of a fresh TCP pair; the raw other end and the Wire's keys. */
async function wireAndPeer(version: number): Promise<{ wire: Wire; peer: net.Socket; sendKey: Buffer; receiveKey: Buffer }> {
  const [a, b] = await socketPair();
  const [sendKey, receiveKey] = [randomBytes(32), randomBytes(32)];
  const wire = new Wire(a);
  wire.protect(sendKey, receiveKey, version);
  return { wire, peer: b, sendKey, receiveKey };
}

/** The sealed frames a raw socket receives, opened with `key`. */
function openedFrames(socket: net.Socket, key: Buffer): { frames: Buffer[]; arrived(n: number): Promise<void> } {
  const decoder = new FrameDecoder({ maxFrameBytes: 17 + (1 << 20) + TAG_BYTES });
  const opener = new Opener(key);
  const frames: Buffer[] = [];
  let wanted = Infinity;
  let wake = (): void => {};
  socket.on('data', (chunk: Buffer) => {
    for (const sealed of decoder.push(chunk)) {
      const header = Buffer.alloc(4);
      header.writeUInt32BE(sealed.length);
      frames.push(opener.open(sealed, header));
    }
    if (frames.length >= wanted) wake();
  });
  return {
    frames,
    arrived: (n) => (frames.length >= n ? Promise.resolve() : new Promise<void>((resolve) => ((wanted = n), (wake = resolve)))),
  };
}

/** Seals `payload` as the next frame of `sealer` onto a raw socket. */
function writeSealed(socket: net.Socket, sealer: Sealer, payload: Buffer): void {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(payload.length + TAG_BYTES);
  socket.write(Buffer.concat([header, ...sealer.seal([payload], header)]));
}

/** Resolves with the error a Wire closes with. */
function closedWith(wire: Wire): Promise<TransferError | undefined> {
  return new Promise((resolve) => {
    wire.handlers = { control() {}, data() {}, close: resolve };
  });
}

describe('transfer v4: BUNDLE frames', () => {
  it('seals every control message written in one go as one bundle, in order', async () => {
    const { wire, peer, sendKey } = await wireAndPeer(4);
    const raw = openedFrames(peer, sendKey);
    for (let i = 0; i < 100; i++) wire.sendControl({ type: 'ack', file: i, bytes: i });
    await raw.arrived(1);
    expect(raw.frames).toHaveLength(1);
    expect(raw.frames[0]![0]).toBe(0x04);
    const messages = decodeBundle(raw.frames[0]!).map((e) => JSON.parse(e.subarray(1).toString()) as { file: number });
    expect(messages.map((m) => m.file)).toEqual([...Array(100).keys()]);
    wire.destroy();
  });

  it('sends a lone message as a plain sealed frame, and a big DATA chunk on its own after what came before', async () => {
    const { wire, peer, sendKey } = await wireAndPeer(4);
    const raw = openedFrames(peer, sendKey);
    wire.sendControl({ type: 'start', file: 0, offset: 0, size: 200_000 });
    const frame = Buffer.alloc(4 + 13 + 200_000, 7);
    frame.writeUInt32BE(13 + 200_000);
    frame.set([0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 4);
    wire.write(frame);
    wire.sendControl({ type: 'end', file: 0, sha256: '0'.repeat(64), size: 200_000 });
    await raw.arrived(3);
    expect(raw.frames.map((f) => [f[0], f.length])).toEqual([[0x01, expect.any(Number)], [0x03, 13 + 200_000], [0x01, expect.any(Number)]]);
    wire.destroy();
  });

  it('a v3 connection refuses a bundle as a protocol error', async () => {
    const { wire: v4, peer, sendKey, receiveKey } = await wireAndPeer(4);
    const v3 = new Wire(peer);
    v3.protect(receiveKey, sendKey, 3);
    const closed = closedWith(v3);
    v4.sendControl({ type: 'ack', file: 0, bytes: 1 });
    v4.sendControl({ type: 'ack', file: 1, bytes: 1 });
    expect(await closed).toMatchObject({ code: 'protocol', message: expect.stringContaining('unknown payload kind 0x4') });
  });

  it.each([
    ['an entry that overruns the bundle', '04' + '00000009' + '017b7d'],
    ['a bundle inside a bundle', '04' + '00000007' + '04' + '00000002' + '017b'],
  ])('a v4 connection closes on %s (authenticated but malformed) with a protocol error', async (_what, hex) => {
    const { wire: v4, peer, receiveKey } = await wireAndPeer(4);
    const closed = closedWith(v4);
    writeSealed(peer, new Sealer(receiveKey), Buffer.from(hex, 'hex'));
    expect(await closed).toMatchObject({ code: 'protocol' });
  });
});

/**
 * Transfers `sources` and checks every file's SHA-256 and that the sender's progress reaches
 * the total; returns the protocol versions both sides' connections agreed on.
 */
async function transferAll(sources: string[], senderOpts: Partial<SenderOptions>, receiverOpts: Partial<ReceiverOptions>): Promise<Set<number>> {
  const files = await collectFiles(sources);
  const pair = await startPair(files, await scratch.dir(), senderOpts, receiverOpts);
  const versions = new Set<number>();
  pair.sender.on('connected', (c) => versions.add(c.version));
  pair.receiver.on('connected', (c) => versions.add(c.version));
  let progress = 0;
  pair.sender.on('progress', (p) => (progress = p.totalBytes));
  const { received } = await runPair(pair);
  for (const [i, f] of received.files.entries()) expect(f.sha256).toBe(await sha256File(files[i]!.source));
  expect(progress).toBe(files.reduce((n, f) => n + f.size, 0));
  return versions;
}

describe('transfer: v3 and v4 peers', () => {
  it.each([
    ['a v4 sender and a v3 receiver', {}, { maxVersion: 3 as const }],
    ['a v3 sender and a v4 receiver', { maxVersion: 3 as const }, {}],
  ])('%s agree on v3 and transfer small and large files', async (_what, senderOpts, receiverOpts) => {
    const src = await scratch.dir();
    const sources = [await writeRandomFile(src, 'big.bin', 3_000_000, 1)];
    for (let i = 0; i < 40; i++) sources.push(await writeRandomFile(src, `s${i}.bin`, 100 + i * 997, i + 2));
    expect(await transferAll(sources, senderOpts, receiverOpts)).toEqual(new Set([3]));
  });

  it('two v4 peers agree on v4, and the sender sees every byte verified without a last ack', async () => {
    const src = await scratch.dir();
    const sources: string[] = [];
    for (let i = 0; i < 300; i++) sources.push(await writeRandomFile(src, `f${i}.bin`, (i * 131) % 5000, i + 1));
    expect(await transferAll(sources, { maxVersion: 4 as const }, { maxVersion: 4 as const })).toEqual(new Set([4]));
  });

  it('two current peers agree on v5 (v4 framing), and a v4 peer still speaks v4 with them on the wire', async () => {
    const src = await scratch.dir();
    const sources = [await writeRandomFile(src, 'a.bin', 10_000, 1)];
    expect(await transferAll(sources, {}, {})).toEqual(new Set([5]));
    expect(await transferAll(sources, {}, { maxVersion: 4 as const })).toEqual(new Set([4]));
  });
});
