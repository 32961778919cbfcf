import { appendFile, readdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Receiver } from '../../../src/transfer/receiver.js';
import { TransferError } from '../../../src/transfer/errors.js';
import { collectFiles, failures, runPair, sha256File, scratchDirs, startPair, writeRandomFile } from '../../helpers/transfer-files.js';
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
  it('detects a corrupted chunk, reports checksum_mismatch on both sides and keeps the .part', async () => {
    const [src, dst] = [await dir(), await dir()];
    const files = await collectFiles([await writeRandomFile(src, 'data.bin', 4 * MiB)]);
    const pair = await startPair(files, dst, {}, { parallel: 1 });
    const proxy = await startProxy(pair.port, { corruptAt: 200_000 });
    proxies.push(proxy);
    const receiver = new Receiver({ ...pair.receiverOptions, candidates: [{ host: '127.0.0.1', port: proxy.port }] });
    const [r, s] = await Promise.allSettled([receiver.start(), pair.sender.done]);
    expect(r).toMatchObject({ status: 'rejected', reason: { code: 'checksum_mismatch' } });
    expect(s).toMatchObject({ status: 'rejected', reason: { code: 'checksum_mismatch', fromPeer: true } });
    expect((r as PromiseRejectedResult).reason.message).toMatch(/CRC-32/);
    expect(await readdir(dst)).toEqual(['data.bin.part']);
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

  it('restarts from 0 when the .part does not match the offered file', async () => {
    const [src, dst] = [await dir(), await dir()];
    const files = await collectFiles([await writeRandomFile(src, 'a.bin', 3 * MiB, 1)]);
    await writeRandomFile(dst, 'a.bin.part', 2 * MiB, 2); // some other file's bytes
    const { received } = await runPair(await startPair(files, dst));
    expect(received.files[0]!.resumedFrom).toBe(0);
    expect(received.bytes).toBe(3 * MiB);
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

  it('reports not_found on both sides when an offered file is deleted before it is sent', async () => {
    const [src, dst] = [await dir(), await dir()];
    const files = await collectFiles([await writeRandomFile(src, 'gone.txt', 1000)]);
    await unlink(files[0]!.source);
    const failed = await failures(await startPair(files, dst));
    expect(failed.sender).toMatchObject({ code: 'not_found', message: 'no such file: gone.txt', fromPeer: false });
    expect(failed.receiver).toMatchObject({ code: 'not_found', fromPeer: true });
  });
});
