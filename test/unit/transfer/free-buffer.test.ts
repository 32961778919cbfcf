import { createCipheriv, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { canFree, discard, freeBuffer, reclaimMode, scavengeCount, useCollector } from '../../../src/transfer/free-buffer.js';
import { exposeScavenge } from '../../../src/cli/heap.js';
import { newKeyPair } from '../../../src/transfer/keys.js';
import { collectFiles, removeDirs, runPair, sha256File, startPair, tmpDir, writeRandomFile } from '../../helpers/transfer-files.js';

describe('freeBuffer', () => {
  it('frees a large buffer that owns its memory: it reads as empty afterwards', () => {
    const cipher = createCipheriv('aes-256-gcm', randomBytes(32), randomBytes(12));
    const out = cipher.update(Buffer.alloc(256 * 1024, 1)); // what sealing allocates per chunk
    expect(canFree(out)).toBe(true);
    freeBuffer(out);
    expect(out.length).toBe(0);
    expect(out.buffer.byteLength).toBe(0);
    freeBuffer(out); // a second call is harmless
  });

  it('leaves small buffers, pooled slices and views of a larger buffer alone', () => {
    const small = Buffer.allocUnsafe(100); // from the shared pool
    const big = Buffer.alloc(1 << 20, 7);
    const view = big.subarray(1, 200_000);
    for (const b of [small, view]) {
      expect(canFree(b)).toBe(false);
      freeBuffer(b);
    }
    expect(small.length).toBe(100);
    expect(view.length).toBe(199_999);
    expect(big[0]).toBe(7);
  });
});

describe('discard', () => {
  it('frees one buffer at a time until a program hands it V8\'s gc (the library sets no V8 flag)', () => {
    useCollector(null);
    expect(reclaimMode()).toBe('free');
    const big = Buffer.alloc(512 * 1024, 1);
    discard(big);
    expect(big.length).toBe(0); // freed at once
  });

  it('batches: one scavenge per 8 MiB discarded once the CLI exposed gc, never touching a buffer', () => {
    exposeScavenge();
    expect(reclaimMode()).toBe('scavenge');
    const before = scavengeCount();
    const kept: Buffer[] = [];
    for (let i = 0; i < 64; i++) {
      const b = Buffer.alloc(512 * 1024, i);
      discard(b);
      if (i % 16 === 0) kept.push(b);
    }
    expect(scavengeCount() - before).toBe(4); // 32 MiB
    expect(kept.map((b) => b[0])).toEqual([0, 16, 32, 48]); // discard frees nothing that is still referenced
  });
});

describe('sealed (version 3) transfer with early-freed buffers', () => {
  const dirs: string[] = [];
  afterEach(() => removeDirs(dirs.splice(0)));

  it('moves a multi-chunk file intact', async () => {
    const src = await tmpDir();
    const dst = await tmpDir();
    dirs.push(src, dst);
    const file = await writeRandomFile(src, 'big.bin', 24 * 1024 * 1024 + 12_345);
    const senderKeys = newKeyPair();
    const receiverKeys = newKeyPair();
    const pair = await startPair(await collectFiles([file]), dst, { keys: senderKeys }, { keys: { own: receiverKeys, peer: senderKeys.publicKey } });
    const { received } = await runPair(pair);
    expect(received.files[0]!.sha256).toBe(await sha256File(file));
    expect(await sha256File(received.files[0]!.savedAs)).toBe(await sha256File(file));
  }, 30_000);
});
