import { createHash } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TailHasher } from '../../../src/transfer/tail-hasher.js';

const dirs: string[] = [];
afterEach(async () => Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true }))));

function bytes(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 8)) & 0xff;
  return b;
}

async function tempFile(content: Buffer) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tail-hasher-'));
  dirs.push(dir);
  const fh = await open(path.join(dir, 'f'), 'w+');
  await fh.write(content, 0, content.length, 0);
  return fh;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('TailHasher', () => {
  const whole = bytes(3 * 1024 * 1024 + 12345);

  it('hashes live pushes when there is no prefix', async () => {
    const hasher = new TailHasher(async () => 0);
    for (let at = 0; at < whole.length; at += 100_000) {
      const piece = whole.subarray(at, at + 100_000);
      hasher.push(at, piece);
      hasher.written(at + piece.length);
    }
    expect(await hasher.digest()).toBe(sha(whole));
  });

  it('keeps the SHA-256 of [0, mark) from the same pass, wherever the mark falls in a push', async () => {
    for (const mark of [1, 99_999, 100_000, 100_001, whole.length]) {
      const hasher = new TailHasher(async () => 0, 0, mark);
      for (let at = 0; at < whole.length; at += 100_000) {
        const piece = whole.subarray(at, at + 100_000);
        hasher.push(at, piece);
        hasher.written(at + piece.length);
      }
      expect(await hasher.digest()).toBe(sha(whole));
      expect(hasher.markDigest, `mark ${mark}`).toBe(sha(whole.subarray(0, mark)));
    }
  });

  it('keeps the SHA-256 of [0, mark) when the mark lies in the prefix read back from disk', async () => {
    const prefix = 2 * 1024 * 1024 + 7;
    const fh = await tempFile(whole.subarray(0, prefix));
    for (const mark of [prefix, 1024 * 1024 + 3]) {
      const hasher = new TailHasher(async (buf, at) => (await fh.read(buf, 0, buf.length, at)).bytesRead, prefix, mark);
      hasher.push(prefix, whole.subarray(prefix));
      await fh.write(whole.subarray(prefix), 0, whole.length - prefix, prefix);
      hasher.written(whole.length);
      expect(await hasher.digest()).toBe(sha(whole));
      expect(hasher.markDigest).toBe(sha(whole.subarray(0, mark)));
    }
  });

  it('equals the real SHA-256 of the whole file on a resume (prefix read back from disk)', async () => {
    const prefix = 2 * 1024 * 1024 + 7;
    const fh = await tempFile(whole.subarray(0, prefix));
    const hasher = new TailHasher(async (buf, at) => (await fh.read(buf, 0, buf.length, at)).bytesRead, prefix);
    for (let at = prefix; at < whole.length; at += 65_536) {
      const piece = whole.subarray(at, Math.min(at + 65_536, whole.length));
      hasher.push(at, piece); // pushed before written, as the receiver does
      await fh.write(piece, 0, piece.length, at);
      hasher.written(at + piece.length);
    }
    expect(await hasher.digest()).toBe(sha(whole));
    await fh.close();
  });

  it('catches up when pushes run ahead of writes, then continues live', async () => {
    const prefix = 1000;
    const fh = await tempFile(whole.subarray(0, prefix));
    const hasher = new TailHasher(async (buf, at) => (await fh.read(buf, 0, buf.length, at)).bytesRead, prefix);
    const pieces: Array<[number, Buffer]> = [];
    for (let at = prefix; at < whole.length; at += 300_000) pieces.push([at, whole.subarray(at, at + 300_000)]);
    for (const [at, piece] of pieces.slice(0, 3)) hasher.push(at, piece);
    for (const [at, piece] of pieces.slice(0, 3)) {
      await fh.write(piece, 0, piece.length, at);
      hasher.written(at + piece.length);
    }
    for (const [at, piece] of pieces.slice(3)) {
      hasher.push(at, piece);
      await fh.write(piece, 0, piece.length, at);
      hasher.written(at + piece.length);
    }
    expect(await hasher.digest()).toBe(sha(whole));
    await fh.close();
  });

  it('hashes a prefix-only file (resume at the very end)', async () => {
    const fh = await tempFile(whole);
    const hasher = new TailHasher(async (buf, at) => (await fh.read(buf, 0, buf.length, at)).bytesRead, whole.length);
    expect(await hasher.digest()).toBe(sha(whole));
    await fh.close();
  });

  it('rejects when the prefix on disk is shorter than claimed', async () => {
    const fh = await tempFile(whole.subarray(0, 10));
    const hasher = new TailHasher(async (buf, at) => (await fh.read(buf, 0, buf.length, at)).bytesRead, 20);
    await expect(hasher.digest()).rejects.toThrow(/file ended at 10/);
    await fh.close();
  });

  it('refuses out-of-order pushes', () => {
    const hasher = new TailHasher(async () => 0);
    expect(() => hasher.push(5, Buffer.alloc(1))).toThrow(RangeError);
  });
});
