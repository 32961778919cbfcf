#!/usr/bin/env node
// Single-core throughput of the per-byte work a transfer does on each side, on 512 KiB chunks
// held in cache: SHA-256 (whole file), CRC-32 (per chunk), AES-256-GCM (protocol v2, one
// createCipheriv per chunk as src/transfer/seal.ts does). See docs/benchmarks.md.
//
//   node bench/primitives.mjs
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

const CHUNK = 512 * 1024;
const COUNT = 2048; // 1 GiB
const data = randomBytes(CHUNK);
const key = randomBytes(32);

const work = {
  'SHA-256': () => {
    const h = createHash('sha256');
    for (let i = 0; i < COUNT; i++) h.update(data);
    h.digest();
  },
  'CRC-32 (zlib.crc32)': () => {
    for (let i = 0; i < COUNT; i++) crc32(data);
  },
  'AES-256-GCM (cipher per chunk)': () => {
    const iv = Buffer.alloc(12);
    for (let i = 0; i < COUNT; i++) {
      iv.writeUInt32BE(i, 8);
      const c = createCipheriv('aes-256-gcm', key, iv);
      c.update(data);
      c.final();
      c.getAuthTag();
    }
  },
};

for (const [name, fn] of Object.entries(work)) {
  fn(); // warm-up
  const best = Math.min(
    ...[1, 2, 3].map(() => {
      const t = performance.now();
      fn();
      return (performance.now() - t) / 1000;
    }),
  );
  console.log(`${name.padEnd(32)} ${((COUNT * CHUNK) / 1e6 / best).toFixed(0).padStart(6)} MB/s  (${(best * 1000).toFixed(0)} ms per GiB)`);
}
