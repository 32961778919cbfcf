import { once } from 'node:events';
import net from 'node:net';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Receiver } from '../../../src/transfer/receiver.js';
import { Sender } from '../../../src/transfer/sender.js';
import { MAX_QUEUED_GETS } from '../../../src/transfer/sender-connection.js';
import { dial } from '../../../src/transfer/handshake.js';
import { newKeyPair } from '../../../src/transfer/keys.js';
import { newTransferSecret } from '../../../src/transfer/offer.js';
import { FrameDecoder } from '../../../src/protocol/frame.js';
import { startProxy } from '../../helpers/transfer-proxy.js';
import { collectFiles, runPair, sha256File, scratchDirs, startPair, writeRandomFile } from '../../helpers/transfer-files.js';

const scratch = scratchDirs();
const dir = scratch.dir;
afterEach(() => scratch.removeAll());

describe('transfer: handshake', () => {
  it('refuses a stranger with a wrong token while the real receiver succeeds', async () => {
    const [src, dst, strangerDir] = [await dir(), await dir(), await dir()];
    const files = await collectFiles([await writeRandomFile(src, 'secret.bin', 100_000)]);
    const pair = await startPair(files, dst);
    const refused = once(pair.sender, 'refused');
    const stranger = new Receiver({
      transferId: 'guess',
      token: 'wrong',
      candidates: [{ host: '127.0.0.1', port: pair.port }],
      files: files.map(({ source: _s, ...f }) => f),
      dir: strangerDir,
      retries: 0,
      keys: { own: newKeyPair(), peer: pair.receiverOptions.keys!.peer! },
    });
    await expect(stranger.start()).rejects.toMatchObject({ code: 'bad_token' });
    const [event] = await refused;
    expect(event).toMatchObject({ reason: 'bad_token' });
    const { received } = await runPair(pair);
    expect(received.files[0]!.sha256).toBe(await sha256File(files[0]!.source));
    expect(await readdir(strangerDir)).toEqual([]);
  });

  it('ignores a candidate that cannot prove the token and uses the one that can', async () => {
    const [src, dst] = [await dir(), await dir()];
    const files = await collectFiles([await writeRandomFile(src, 'a.bin', 1000)]);
    const stranger = new Sender({ ...newTransferSecret(), files, host: '127.0.0.1', keys: newKeyPair() });
    const strangerPort = await stranger.listen();
    stranger.accepted({ key: newKeyPair().publicKey }); // it accepted someone else
    const strangerRefused = once(stranger, 'refused');
    const pair = await startPair(files, dst);
    const receiver = new Receiver({
      ...pair.receiverOptions,
      candidates: [{ host: '127.0.0.1', port: strangerPort }, ...pair.receiverOptions.candidates],
    });
    const [received] = await Promise.all([receiver.start(), pair.sender.done]);
    expect(received.files[0]!.sha256).toBe(await sha256File(files[0]!.source));
    expect((await strangerRefused)[0]).toMatchObject({ reason: 'bad_token' });
    stranger.close();
    await expect(stranger.done).rejects.toMatchObject({ code: 'aborted' });
  });

  it('ends the transfer with a protocol error when an authenticated receiver piles up get requests', async () => {
    const [src, dst] = [await dir(), await dir()];
    const files = await collectFiles([await writeRandomFile(src, 'one.bin', 256 * 1024)]);
    const pair = await startPair(files, dst);
    const { transferId, token, keys } = pair.receiverOptions;
    const wire = await dial({ host: '127.0.0.1', port: pair.port }, { transferId, token, keys }, { connectTimeoutMs: 5000, handshakeTimeoutMs: 5000 });
    try {
      // In one go, so they arrive faster than one file at a time is served.
      for (let i = 0; i <= MAX_QUEUED_GETS + 1; i++) wire.sendControl({ type: 'get', file: 0, offset: 0 });
      await expect(pair.sender.done).rejects.toMatchObject({ code: 'protocol', message: expect.stringContaining(`more than ${MAX_QUEUED_GETS} get requests waiting`) });
    } finally {
      wire.destroy();
    }
  });

  it('fails with unreachable when no candidate answers', async () => {
    const dst = await dir();
    const closed = new Sender({ ...newTransferSecret(), files: [], host: '127.0.0.1' });
    const port = await closed.listen(); // resolves at once (no files) and closes its listener
    await closed.done;
    const receiver = new Receiver({
      ...newTransferSecret(),
      candidates: [{ host: '127.0.0.1', port }],
      files: [{ path: 'x', size: 1, mime: 'text/plain', mode: 0o644, mtimeMs: 0 }],
      dir: dst,
      retries: 1,
      retryDelayMs: 1,
    });
    const retries: number[] = [];
    receiver.on('retry', (r) => retries.push(r.attempt));
    await expect(receiver.start()).rejects.toMatchObject({ code: 'unreachable' });
    expect(retries).toEqual([1]);
    expect(path.isAbsolute(dst)).toBe(true);
  });
});

/** Sends one control frame (kind 0x01 + JSON) on a raw socket. */
function sendControl(socket: net.Socket, msg: object): void {
  const json = Buffer.from(JSON.stringify(msg));
  const frame = Buffer.alloc(5 + json.length);
  frame.writeUInt32BE(1 + json.length, 0);
  frame[4] = 0x01;
  json.copy(frame, 5);
  socket.write(frame);
}

/** The control messages a raw socket receives until it closes. */
function controlsOf(socket: net.Socket): { messages: Array<Record<string, unknown>>; closed: Promise<unknown> } {
  const decoder = new FrameDecoder({ maxFrameBytes: 1 << 16 });
  const messages: Array<Record<string, unknown>> = [];
  socket.on('data', (b: Buffer) => {
    for (const p of decoder.push(b)) messages.push(JSON.parse(p.subarray(1).toString()) as Record<string, unknown>);
  });
  socket.on('error', () => {});
  return { messages, closed: once(socket, 'close') };
}

describe('transfer: protocol versions', () => {
  const offered = { path: 'x', size: 1, mime: 'text/plain', mode: 0o644, mtimeMs: 0 };

  it('a sender refuses an old (protocol 2) receiver with a one-line error that says to upgrade', async () => {
    const sender = new Sender({ ...newTransferSecret(), files: [{ ...offered, source: '/nonexistent' }], host: '127.0.0.1', keys: newKeyPair() });
    const port = await sender.listen();
    sender.accepted({ key: newKeyPair().publicKey });
    const refused = once(sender, 'refused');
    const old = net.connect({ host: '127.0.0.1', port });
    const seen = controlsOf(old);
    old.once('data', () => sendControl(old, { type: 'auth', v: 2, nonce: 'ab'.repeat(32), proof: 'cd'.repeat(32), key: newKeyPair().publicKey }));
    await seen.closed;
    expect(seen.messages[0]).toMatchObject({ type: 'hello', v: 5 });
    expect(seen.messages[1]).toEqual({
      type: 'error', code: 'protocol', message: "the receiver's chat speaks transfer protocol 2; this sender needs 3: upgrade the receiver's chat",
    });
    expect((await refused)[0]).toMatchObject({ reason: 'version' });
    sender.close();
    await expect(sender.done).rejects.toMatchObject({ code: 'aborted' });
  });

  it('a receiver refuses an old (protocol 2) sender with a one-line error that says to upgrade', async () => {
    const dst = await dir();
    const oldSender = net.createServer((socket) => {
      socket.on('error', () => {});
      sendControl(socket, { type: 'hello', v: 2, nonce: 'ef'.repeat(32) });
    });
    await new Promise<void>((resolve) => oldSender.listen(0, '127.0.0.1', resolve));
    const { port } = oldSender.address() as net.AddressInfo;
    const receiver = new Receiver({
      ...newTransferSecret(),
      candidates: [{ host: '127.0.0.1', port }],
      files: [offered],
      dir: dst,
      retries: 0,
      keys: { own: newKeyPair(), peer: newKeyPair().publicKey },
    });
    await expect(receiver.start()).rejects.toMatchObject({
      code: 'protocol',
      message: expect.stringContaining("the sender's chat speaks transfer protocol 2; this one needs 3: upgrade the sender's chat"),
    });
    oldSender.close();
    expect(await readdir(dst)).toEqual([]);
  });
});

describe('transfer: handshake limits', () => {
  it('drops a peer that never answers hello after handshakeTimeoutMs and keeps waiting', async () => {
    const offered = { path: 'x', size: 1, mime: 'text/plain', mode: 0o644, mtimeMs: 0, source: '/nonexistent' };
    const sender = new Sender({ ...newTransferSecret(), files: [offered], host: '127.0.0.1', handshakeTimeoutMs: 50 });
    const port = await sender.listen();
    const refused = once(sender, 'refused');
    const silent = net.connect({ host: '127.0.0.1', port });
    silent.on('error', () => {});
    silent.resume(); // read (and ignore) hello, so the close is seen
    const closed = once(silent, 'close');
    expect((await refused)[0]).toMatchObject({ reason: 'timeout' });
    await closed;
    sender.close();
    await expect(sender.done).rejects.toMatchObject({ code: 'aborted' });
  });

  it('fails with peer_gone when a lost sender cannot be reached again', async () => {
    const [src, dst] = [await dir(), await dir()];
    const files = await collectFiles([await writeRandomFile(src, 'a.bin', 8 * 1024 * 1024)]);
    const pair = await startPair(files, dst, {}, { parallel: 1 });
    const proxy = await startProxy(pair.port, { cutAfter: 1024 * 1024 });
    void proxy.cut.then(() => proxy.close()); // the address goes dark for good
    const receiver = new Receiver({
      ...pair.receiverOptions,
      candidates: [{ host: '127.0.0.1', port: proxy.port }],
      retries: 2,
      retryDelayMs: 5,
    });
    const retries: number[] = [];
    receiver.on('retry', (r) => retries.push(r.attempt));
    await expect(receiver.start()).rejects.toMatchObject({ code: 'peer_gone' });
    expect(retries).toEqual([1, 1, 2]); // the drop itself, then two failed reconnects
    pair.sender.close();
    await expect(pair.sender.done).rejects.toMatchObject({ code: 'aborted' });
  });
});
