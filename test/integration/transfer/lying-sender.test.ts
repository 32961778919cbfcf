// Issue 26 (d): a sender that streams other bytes than it hashes. Real TCP on 127.0.0.1, a real
// Receiver writing real files; the sender is hostile but speaks the real, sealed protocol.
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { newKeyPair } from '../../../src/transfer/keys.js';
import { newTransferSecret } from '../../../src/transfer/offer.js';
import { Receiver } from '../../../src/transfer/receiver.js';
import type { FileResult } from '../../../src/transfer/types.js';
import { startLyingSender, type LyingFile, type LyingSender } from '../../helpers/lying-sender.js';
import { pseudoRandom, scratchDirs, writeKeptPart } from '../../helpers/transfer-files.js';

const scratch = scratchDirs();
const senders: LyingSender[] = [];
afterEach(async () => {
  await Promise.all(senders.splice(0).map((s) => s.close()));
  await scratch.removeAll();
});

const MiB = 1024 * 1024;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A Receiver of one file `name` from a lying sender serving `file`; its 'file' events are collected. */
async function receiveFrom(file: LyingFile, name: string, dst: string): Promise<{ receiver: Receiver; shown: FileResult[]; sender: LyingSender }> {
  const secret = newTransferSecret();
  const keys = newKeyPair();
  const sender = await startLyingSender({ ...secret, keys }, [file]);
  const own = newKeyPair();
  sender.receiverKey = own.publicKey; // what the accept named (§T10.5)
  senders.push(sender);
  const receiver = new Receiver({
    ...secret,
    candidates: [{ host: '127.0.0.1', port: sender.port }],
    files: [{ path: name, size: file.content.length, mime: 'text/plain', mode: 0o644, mtimeMs: Date.now() }],
    dir: dst,
    retries: 0,
    keys: { own, peer: keys.publicKey },
  });
  const shown: FileResult[] = [];
  receiver.on('file', (r) => shown.push(r));
  return { receiver, shown, sender };
}

describe('transfer: a sender that lies about the SHA-256', () => {
  for (const [label, good, evil] of [
    ['a small file', Buffer.from('GOOD CONTENT'), Buffer.from('EVIL CONTENT')],
    ['a 3 MiB file', pseudoRandom(3 * MiB, 1), pseudoRandom(3 * MiB, 2)],
  ] as const) {
    it(`fails ${label} whose bytes do not hash to the claimed value: not placed, the lie never shown`, async () => {
      const dst = await scratch.dir();
      const { receiver, shown, sender } = await receiveFrom({ content: evil, claimedSha256: sha256(good) }, 'report.txt', dst);
      const err = await receiver.start().catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'checksum_mismatch' });
      expect((err as Error).message).toContain('report.txt');
      expect((err as Error).message).toContain(sha256(evil)); // what we computed, named as ours
      expect(shown).toEqual([]);
      expect(await readdir(dst)).not.toContain('report.txt');
      expect(sender.heard.filter((m) => m.type === 'verified')).toEqual([]);
      const part = path.join(dst, 'report.txt.part');
      expect((await stat(part)).size).toBe(0); // the received bytes are discarded, never resumed
    });
  }

  for (const size of [100 * 1024, 2 * MiB + 5]) {
    it(`reports its own hash when the sender tells the truth (${size} bytes, half kept from before)`, async () => {
      const dst = await scratch.dir();
      const good = pseudoRandom(size, 3);
      const kept = Math.floor(size / 2);
      await writeKeptPart(dst, 'ok.bin', good.subarray(0, kept), size);
      const { receiver } = await receiveFrom({ content: good, claimedSha256: sha256(good) }, 'ok.bin', dst);
      const result = await receiver.start();
      expect(result.files[0]).toMatchObject({ sha256: sha256(good), resumedFrom: kept });
      expect((await readFile(path.join(dst, 'ok.bin'))).equals(good)).toBe(true);
    });
  }

  for (const size of [200 * 1024, 4 * MiB]) {
    it(`fails a resumed file (${size} bytes) whose kept prefix is not what the claimed hash covers, even when the prefix proof matches`, async () => {
      const dst = await scratch.dir();
      const good = pseudoRandom(size, 4);
      const evilPrefix = pseudoRandom(size / 2, 5); // what this sender streamed in an earlier session
      await writeKeptPart(dst, 'disk.img', evilPrefix, size);
      const held = Buffer.concat([evilPrefix, good.subarray(size / 2)]);
      const { receiver, shown } = await receiveFrom({ content: held, claimedSha256: sha256(good) }, 'disk.img', dst);
      const err = await receiver.start().catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'checksum_mismatch' });
      expect((err as Error).message).toContain(sha256(held));
      expect(shown).toEqual([]);
      expect(await readdir(dst)).not.toContain('disk.img');
    });
  }
});
