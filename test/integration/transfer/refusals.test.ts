// Issue 28: a per-file error fails only that file (§T7); a receiver that refuses an offer says so
// and both sides end with an error, never a hang; a sender whose receiver went silent or never
// came gives up with peer_gone (§T4); `via` in the offer and accept sends the other side straight
// to the one path (§T8). Real TCP on 127.0.0.1, a real server for the relay; no sleeps.
import { randomBytes } from 'node:crypto';
import { readdir, symlink, unlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ChatClient } from '../../../src/client/client.js';
import { newKeyPair } from '../../../src/transfer/keys.js';
import { newTransferSecret } from '../../../src/transfer/offer.js';
import { Receiver } from '../../../src/transfer/receiver.js';
import { Sender } from '../../../src/transfer/sender.js';
import type { TransferError } from '../../../src/transfer/errors.js';
import { startServer, type TestServer } from '../../helpers/server.js';
import { collectFiles, failures, runPair, sha256File, scratchDirs, startPair, writeRandomFile } from '../../helpers/transfer-files.js';

const MiB = 1024 * 1024;
const scratch = scratchDirs();
const dir = scratch.dir;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await scratch.removeAll();
});

/** A proxy that forwards until silence(), then keeps both sockets open and forwards nothing (a peer that vanished without a FIN). */
async function silentProxy(targetPort: number): Promise<{ port: number; silence(): void }> {
  let silent = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      sockets.add(from);
      from.on('error', () => {});
      from.on('data', (chunk: Buffer) => void (silent || to.write(chunk)));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port: (server.address() as net.AddressInfo).port, silence: () => void (silent = true) };
}

describe('transfer: a per-file error fails only that file (§T7)', () => {
  it('a file deleted after the offer fails alone: the others arrive, both sides report not_found for it, and both reject at the end', async () => {
    const [src, dst] = [await dir(), await dir()];
    const files = await collectFiles([
      await writeRandomFile(src, 'a.txt', 1000, 1),
      await writeRandomFile(src, 'gone.txt', 1000, 2),
      await writeRandomFile(src, 'c.bin', 3 * MiB, 3),
    ]);
    await unlink(files[1]!.source);
    const pair = await startPair(files, dst);
    const failedHere: string[] = [];
    const failedThere: string[] = [];
    pair.receiver.on('fileFailed', (f) => failedHere.push(`${f.path} ${f.error.code}`));
    pair.sender.on('fileFailed', (f) => failedThere.push(`${f.path} ${f.error.code}`));
    const failed = await failures(pair);
    expect(failed.sender).toMatchObject({ code: 'not_found', fromPeer: false, file: 1 });
    expect(failed.receiver).toMatchObject({ code: 'not_found', fromPeer: true, file: 1 });
    expect(failedHere).toEqual(['gone.txt not_found']);
    expect(failedThere).toEqual(['gone.txt not_found']);
    expect((await readdir(dst)).sort()).toEqual(['a.txt', 'c.bin', 'gone.txt.part', 'gone.txt.part.chat']);
    expect(await sha256File(path.join(dst, 'c.bin'))).toBe(await sha256File(files[2]!.source));
  });

  it('a file the receiver cannot place (its directory is a symbolic link) fails alone: the sender is told permission_denied for it, the other file arrives', async () => {
    const [src, dst, elsewhere] = [await dir(), await dir(), await dir()];
    const files = await collectFiles([await writeRandomFile(src, 'ok.txt', 2000, 1), await writeRandomFile(src, 'x.txt', 2000, 2)]);
    files[1]!.path = 'sub/x.txt';
    await symlink(elsewhere, path.join(dst, 'sub'));
    const pair = await startPair(files, dst);
    const failed = await failures(pair);
    expect(failed.receiver).toMatchObject({ code: 'permission_denied', fromPeer: false, file: 1 });
    expect(failed.sender).toMatchObject({ code: 'permission_denied', fromPeer: true, file: 1 });
    expect((await readdir(dst)).sort()).toEqual(['ok.txt', 'sub']);
    expect(await readdir(elsewhere)).toEqual([]);
  });

  it('several failed files are summed up in one error that names them, with the first one’s code', async () => {
    const [src, dst] = [await dir(), await dir()];
    const files = await collectFiles(await Promise.all([1, 2, 3].map((n) => writeRandomFile(src, `f${n}.txt`, 100, n))));
    await unlink(files[0]!.source);
    await unlink(files[2]!.source);
    const failed = await failures(await startPair(files, dst, {}, { parallel: 1, pipeline: 1 }));
    expect((failed.sender as TransferError).message).toMatch(/^2 of 3 files failed \(f1\.txt: .*; f3\.txt: .*\); the others arrived$/);
    expect(failed.receiver).toMatchObject({ code: 'not_found' });
    expect((await readdir(dst)).filter((f) => !f.endsWith('.chat')).sort()).toEqual(['f1.txt.part', 'f2.txt', 'f3.txt.part']);
  });
});

describe('transfer: refusals end both sides (§T7)', () => {
  it('a receiver that cannot save into its directory refuses before the accept (prepare rejects) and, started anyway, tells the sender: both reject with the same code', async () => {
    const [src, base] = [await dir(), await dir()];
    const notADir = path.join(base, 'a-file');
    await writeFile(notADir, 'x');
    const files = await collectFiles([await writeRandomFile(src, 'a.txt', 100)]);
    const pair = await startPair(files, notADir);
    await expect(pair.receiver.prepare()).rejects.toMatchObject({ message: expect.stringMatching(/^cannot save into /) });
    const failed = await failures(pair);
    const code = (failed.receiver as TransferError).code;
    expect(['io_error', 'permission_denied', 'not_found']).toContain(code);
    expect(failed.sender).toMatchObject({ code, fromPeer: true, message: expect.stringMatching(/^cannot save into /) });
  });

  it('a receiver and a sender with no path in common: prepare() refuses the offer before the accept', async () => {
    const pair = await startPair([], await dir(), {}, { via: ['direct'], peerVia: ['relay'] });
    await expect(pair.receiver.prepare()).rejects.toMatchObject({ code: 'unreachable', message: expect.stringMatching(/the sender uses only relay and this side only direct/) });
    pair.sender.close();
  });
});

describe('transfer: a sender waiting for a receiver gives up (§T4)', () => {
  it('drops a connection whose receiver went silent (a real socket that stops answering) and ends with peer_gone', async () => {
    const [src, dst] = [await dir(), await dir()];
    const files = await collectFiles([await writeRandomFile(src, 'a.bin', 64 * 1024)]);
    const pair = await startPair(files, dst, { idleTimeoutMs: 300, peerTimeoutMs: 300 });
    const proxy = await silentProxy(pair.port);
    pair.sender.once('connected', () => proxy.silence());
    const receiver = new Receiver({ ...pair.receiverOptions, candidates: [{ host: '127.0.0.1', port: proxy.port }] });
    void receiver.start().catch(() => {});
    cleanups.push(() => receiver.abort());
    await expect(pair.sender.done).rejects.toMatchObject({ code: 'peer_gone', message: expect.stringMatching(/did not come back within 300 ms/) });
  });

  it('ends with peer_gone when the receiver accepted but never connects', async () => {
    const src = await dir();
    const files = await collectFiles([await writeRandomFile(src, 'a.bin', 100)]);
    const pair = await startPair(files, await dir(), { firstPeerTimeoutMs: 200 });
    await expect(pair.sender.done).rejects.toMatchObject({ code: 'peer_gone', message: expect.stringMatching(/accepted but did not connect within 200 ms/) });
  });

  it('the receiver flushes its last verified before start() resolves: a sender that would wait forever for a reconnect is done', async () => {
    const [src, dst] = [await dir(), await dir()];
    const files = await collectFiles([await writeRandomFile(src, 'a.txt', 10, 1), await writeRandomFile(src, 'b.txt', 10, 2)]);
    const { received, sent } = await runPair(await startPair(files, dst, { peerTimeoutMs: 0, idleTimeoutMs: 0 }));
    expect(sent.files.map((f) => f.sha256)).toEqual(received.files.map((f) => f.sha256));
  });
});

describe('transfer: `via` in the offer and the accept (§T8)', () => {
  const PASSWORD = 'correct horse';
  async function relayedPair(): Promise<{ ts: TestServer; transferId: string; token: string }> {
    const ts = await startServer({ tls: false });
    cleanups.push(() => ts.cleanup());
    const [alice, bob] = await Promise.all(['a', 'b'].map(async (p) => {
      const c = await ChatClient.connect({ host: ts.host, port: ts.port, tls: false, timeoutMs: 5000 });
      cleanups.push(() => c.close().catch(() => {}));
      await c.register(`${p}${randomBytes(3).toString('hex')}`, PASSWORD);
      return c;
    }));
    const { transferId, token } = newTransferSecret();
    const { offer } = await alice!.request<{ offer: string }>('offer', {
      to: bob!.user!, transfer: transferId, token, candidates: [], fileCount: 1, totalBytes: 1000, timeoutMs: 60_000,
    });
    await alice!.request('offer_files', { offer, files: [{ path: 'a.txt', size: 1000, mime: 'text/plain', mode: 0o644, mtimeMs: 0 }], done: true });
    await bob!.request('accept', { offer });
    return { ts, transferId, token };
  }

  // A side that did not honour the other's `via` would wait its relay delay (10 minutes here)
  // first: the relay would give up on the forced side after 30 s and the test would time out.
  for (const forced of ['sender', 'receiver'] as const) {
    it(`a ${forced} that uses only the relay says so, and the other side goes to the relay at once`, async () => {
      const { ts, transferId, token } = await relayedPair();
      const src = await dir();
      const files = await collectFiles([await writeRandomFile(src, 'a.txt', 1000)]);
      const [sk, rk] = [newKeyPair(), newKeyPair()];
      const relay = { host: ts.host, port: ts.port };
      const late = 600_000;
      const sender = new Sender({ transferId, token, files, host: '127.0.0.1', keys: sk, relay, via: forced === 'sender' ? ['relay'] : undefined, relayDelayMs: late });
      cleanups.push(() => sender.close());
      await sender.listen();
      const receiver = new Receiver({
        transferId, token, candidates: [], files: files.map(({ source: _s, ...f }) => f), dir: await dir(),
        keys: { own: rk, peer: sk.publicKey }, relay, relayDelayMs: late,
        via: forced === 'receiver' ? ['relay'] : undefined, peerVia: sender.signalVia,
      });
      cleanups.push(() => receiver.abort());
      expect(forced === 'sender' ? sender.signalVia : receiver.signalVia).toEqual(['relay']);
      expect(forced === 'sender' ? receiver.signalVia : sender.signalVia).toBeUndefined(); // auto: no field, as before
      await receiver.prepare();
      const events: string[] = [];
      receiver.on('connected', (c) => events.push(`receiver connected ${c.path}`));
      receiver.on('retry', () => events.push('receiver retry'));
      sender.accepted({ key: rk.publicKey, via: receiver.signalVia });
      const [received, sent] = await Promise.all([receiver.start(), sender.done]);
      expect(received.path).toBe('relay');
      expect(sent.path).toBe('relay');
      expect(events[0]).toBe('receiver connected relay');
    });
  }
});
