import { appendFile, readdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Receiver } from '../../../src/transfer/receiver.js';
import { TransferError } from '../../../src/transfer/errors.js';
import { collectFiles, failures, pseudoRandom, runPair, sha256File, scratchDirs, startPair, writeKeptPart, writeRandomFile } from '../../helpers/transfer-files.js';
import { startProxy, type Proxy } from '../../helpers/transfer-proxy.js';

const MiB = 1024 * 1024;
const scratch = scratchDirs();
const dir = scratch.dir;
const proxies: Proxy[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.close()));
  await scratch.removeAll();
});

describe('transfer: faults', () => {
  it('plaintext (v1): detects a corrupted chunk by its CRC-32, reports checksum_mismatch on both sides and keeps the .part', async () => {
    const [src, dst] = [await dir(), await dir()];
    const files = await collectFiles([await writeRandomFile(src, 'data.bin', 4 * MiB)]);
    const pair = await startPair(files, dst, {}, { parallel: 1 }, { plaintext: true });
    const proxy = await startProxy(pair.port, { corruptAt: 200_000 });
    proxies.push(proxy);
    const receiver = new Receiver({ ...pair.receiverOptions, candidates: [{ host: '127.0.0.1', port: proxy.port }] });
    const [r, s] = await Promise.allSettled([receiver.start(), pair.sender.done]);
    expect(r).toMatchObject({ status: 'rejected', reason: { code: 'checksum_mismatch' } });
    expect(s).toMatchObject({ status: 'rejected', reason: { code: 'checksum_mismatch', fromPeer: true } });
    expect((r as PromiseRejectedResult).reason.message).toMatch(/CRC-32/);
    expect((await readdir(dst)).sort()).toEqual(['data.bin.part', 'data.bin.part.chat']); // the .part and its sidecar
  });

  it('sealed (v3): a corrupted frame fails its tag, the connection is dropped and the file resumes and arrives intact', async () => {
    const [src, dst] = [await dir(), await dir()];
    const files = await collectFiles([await writeRandomFile(src, 'data.bin', 4 * MiB)]);
    const pair = await startPair(files, dst, {}, { parallel: 1 });
    const proxy = await startProxy(pair.port, { corruptAt: 200_000 });
    proxies.push(proxy);
    const receiver = new Receiver({ ...pair.receiverOptions, candidates: [{ host: '127.0.0.1', port: proxy.port }] });
    const retries: string[] = [];
    receiver.on('retry', (r) => retries.push(r.reason));
    const [received] = await Promise.all([receiver.start(), pair.sender.done]);
    expect(retries.some((r) => /failed authentication/.test(r))).toBe(true);
    expect(proxy.connections).toBeGreaterThanOrEqual(2);
    expect(received.files[0]!.sha256).toBe(await sha256File(files[0]!.source));
    expect(await sha256File(received.files[0]!.savedAs)).toBe(await sha256File(files[0]!.source));
  });

  it('re-establishes a connection cut mid-stream and completes the file', async () => {
    const [src, dst] = [await dir(), await dir()];
    const files = await collectFiles([await writeRandomFile(src, 'data.bin', 24 * MiB, 3)]);
    const pair = await startPair(files, dst, {}, { parallel: 1 });
    const proxy = await startProxy(pair.port, { cutAfter: 5 * MiB });
    proxies.push(proxy);
    const receiver = new Receiver({ ...pair.receiverOptions, candidates: [{ host: '127.0.0.1', port: proxy.port }] });
    const connected: string[] = [];
    receiver.on('connected', (c) => connected.push(c.remote));
    const [received] = await Promise.all([receiver.start(), pair.sender.done]);
    expect(proxy.connections).toBeGreaterThanOrEqual(2);
    expect(connected.length).toBeGreaterThanOrEqual(2);
    expect(received.files[0]!.sha256).toBe(await sha256File(files[0]!.source));
    // resumed where the disk stopped, not restarted: at most the chunks in flight at the cut are sent twice
    expect(received.bytes).toBeGreaterThanOrEqual(24 * MiB);
    expect(received.bytes).toBeLessThan(26 * MiB);
  });

  it('resumes from the .part left by an aborted receiver with a new sender and receiver', async () => {
    const [src, dst] = [await dir(), await dir()];
    const size = 32 * MiB;
    const files = await collectFiles([await writeRandomFile(src, 'movie.mkv', size, 9)]);
    const first = await startPair(files, dst, {}, { parallel: 1 });
    first.receiver.on('progress', (p) => {
      if (p.bytes >= 8 * MiB) first.receiver.abort();
    });
    const failed = await failures(first);
    expect(failed.receiver).toMatchObject({ code: 'aborted' });
    expect(failed.sender).toMatchObject({ code: 'aborted', fromPeer: true });
    const partSize = (await stat(path.join(dst, 'movie.mkv.part'))).size;
    expect(partSize).toBeGreaterThanOrEqual(8 * MiB);
    expect(partSize).toBeLessThan(size);

    const second = await startPair(files, dst);
    const { received, sent } = await runPair(second);
    expect(received.files[0]!.resumedFrom).toBe(partSize);
    expect(sent.files[0]!.resumedFrom).toBe(partSize);
    expect(received.bytes).toBe(size - partSize);
    expect(received.files[0]!.sha256).toBe(await sha256File(files[0]!.source));
    expect(await readdir(dst)).toEqual(['movie.mkv']);
  });

  it('sealed (v3): proves the kept part while the rest streams in, also across a reconnect later in the same session', async () => {
    const [src, dst] = [await dir(), await dir()];
    const size = 24 * MiB;
    const source = await writeRandomFile(src, 'movie.mkv', size, 11);
    const files = await collectFiles([source]);
    await writeKeptPart(dst, 'movie.mkv', pseudoRandom(size, 11).subarray(0, 5 * MiB), size); // kept from before
    const pair = await startPair(files, dst, {}, { parallel: 1 });
    const proxy = await startProxy(pair.port, { cutAfter: 6 * MiB }); // then drop: the next connection resumes past the kept part
    proxies.push(proxy);
    const receiver = new Receiver({ ...pair.receiverOptions, candidates: [{ host: '127.0.0.1', port: proxy.port }] });
    const proving: number[] = [];
    receiver.on('proving', (p) => proving.push(p.bytes));
    const [received] = await Promise.all([receiver.start(), pair.sender.done]);
    expect(proving).toEqual([5 * MiB]); // once per session, not per connection
    expect(proxy.connections).toBeGreaterThanOrEqual(2);
    expect(received.files[0]).toMatchObject({ resumedFrom: 5 * MiB, sha256: await sha256File(source) });
    expect(await sha256File(received.files[0]!.savedAs)).toBe(await sha256File(source));
  });

  it('sealed (v3): a kept part corrupted before its tail is caught at the end, discarded, and the next try starts over', async () => {
    const [src, dst] = [await dir(), await dir()];
    const size = 6 * MiB;
    const source = await writeRandomFile(src, 'disk.img', size, 12);
    const files = await collectFiles([source]);
    const kept = Buffer.from(pseudoRandom(size, 12).subarray(0, 4 * MiB));
    kept[1000] ^= 0xff; // bit rot far from the 1 MiB tail the sender checks at the start
    await writeKeptPart(dst, 'disk.img', kept, size);
    const failed = await failures(await startPair(files, dst));
    expect(failed.receiver).toMatchObject({ code: 'checksum_mismatch' });
    expect((failed.receiver as Error).message).toMatch(/kept from an earlier transfer do not match/);
    expect(failed.sender).toMatchObject({ code: 'checksum_mismatch', fromPeer: true });
    expect((await stat(path.join(dst, 'disk.img.part'))).size).toBe(0); // never trusted again
    expect((await readdir(dst)).sort()).toEqual(['disk.img.part', 'disk.img.part.chat']);

    const { received } = await runPair(await startPair(files, dst));
    expect(received.files[0]!.resumedFrom).toBe(0);
    expect(await sha256File(received.files[0]!.savedAs)).toBe(await sha256File(source));
  });

  for (const plaintext of [false, true]) {
    it(`a small file (one chunk, direct syscalls, ${plaintext ? 'plaintext v1' : 'sealed v3'}) resumes from its .part and a bit-rotted .part starts over`, async () => {
      const [src, dst] = [await dir(), await dir()];
      const size = 200 * 1024;
      const source = await writeRandomFile(src, 'note.pdf', size, 13);
      const files = await collectFiles([source]);
      await writeKeptPart(dst, 'note.pdf', pseudoRandom(size, 13).subarray(0, 100 * 1024), size);
      const { received, sent } = await runPair(await startPair(files, dst, {}, {}, { plaintext }));
      expect(received.files[0]).toMatchObject({ resumedFrom: 100 * 1024, sha256: await sha256File(source) });
      expect(sent.files[0]!.resumedFrom).toBe(100 * 1024);
      expect(received.bytes).toBe(size - 100 * 1024);
      expect(await sha256File(received.files[0]!.savedAs)).toBe(await sha256File(source));

      const rotten = Buffer.from(pseudoRandom(size, 13).subarray(0, 100 * 1024));
      rotten[10] ^= 0x01; // the tail the sender checks covers a small file's whole kept part
      await unlink(received.files[0]!.savedAs);
      await writeKeptPart(dst, 'note.pdf', rotten, size);
      const again = await runPair(await startPair(files, dst, {}, {}, { plaintext }));
      expect(again.received.files[0]!.resumedFrom).toBe(0);
      expect(await sha256File(again.received.files[0]!.savedAs)).toBe(await sha256File(source));
      expect(await readdir(dst)).toEqual(['note.pdf']);
    });
  }

  it('restarts from 0 when the .part does not match the offered file', async () => {
    const [src, dst] = [await dir(), await dir()];
    const files = await collectFiles([await writeRandomFile(src, 'a.bin', 3 * MiB, 1)]);
    await writeKeptPart(dst, 'a.bin', pseudoRandom(2 * MiB, 2), 2 * MiB); // some other file's bytes
    const { received } = await runPair(await startPair(files, dst));
    expect(received.files[0]!.resumedFrom).toBe(0);
    expect(received.bytes).toBe(3 * MiB);
    expect(received.files[0]!.savedAs).toBe(path.join(dst, 'a.bin')); // that .part was ours: reused, not avoided
    expect(await sha256File(received.files[0]!.savedAs)).toBe(await sha256File(files[0]!.source));
  });

  it('reports source_changed on both sides when the file changes while being sent', async () => {
    const [src, dst] = [await dir(), await dir()];
    const files = await collectFiles([await writeRandomFile(src, 'log.txt', 4 * MiB)]);
    const pair = await startPair(files, dst, { limitRate: 8 * MiB, chunkSize: 256 * 1024 }, { ackBytes: 256 * 1024 });
    pair.sender.once('progress', () => void appendFile(files[0]!.source, 'more'));
    const failed = await failures(pair);
    expect(failed.sender).toBeInstanceOf(TransferError);
    expect(failed.sender).toMatchObject({ code: 'source_changed', fromPeer: false });
    expect(failed.receiver).toMatchObject({ code: 'source_changed', fromPeer: true });
    expect((failed.receiver as Error).message).toMatch(/log\.txt .* while it was being sent/);
  });

  it("marks a small file's .part left by a failure as ours (its sidecar is written only then), so the next receiver reuses that name", async () => {
    const [src, dst] = [await dir(), await dir()];
    const source = await writeRandomFile(src, 'small.txt', 1000, 3);
    const files = await collectFiles([source]);
    await unlink(source);
    const failed = await failures(await startPair(files, dst));
    expect(failed.receiver).toMatchObject({ code: 'not_found', fromPeer: true });
    expect((await readdir(dst)).sort()).toEqual(['small.txt.part', 'small.txt.part.chat']);

    const again = await collectFiles([await writeRandomFile(src, 'small.txt', 1000, 3)]); // a new offer of it
    const { received } = await runPair(await startPair(again, dst));
    expect(received.files[0]!.savedAs).toBe(path.join(dst, 'small.txt')); // not 'small (1).txt'
    expect(await readdir(dst)).toEqual(['small.txt']);
  });

  it('reports not_found on both sides when an offered file is deleted before it is sent', async () => {
    const [src, dst] = [await dir(), await dir()];
    const files = await collectFiles([await writeRandomFile(src, 'gone.txt', 1000)]);
    await unlink(files[0]!.source);
    const failed = await failures(await startPair(files, dst));
    expect(failed.sender).toMatchObject({ code: 'not_found', message: 'no such file: gone.txt', fromPeer: false });
    expect(failed.receiver).toMatchObject({ code: 'not_found', fromPeer: true });
  });
});
