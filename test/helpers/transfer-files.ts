// Temp dirs, deterministic pseudo-random files and a one-call sender/receiver pair for transfer tests.
import { createCipheriv, createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { newKeyPair } from '../../src/transfer/keys.js';
import { adoptPart } from '../../src/transfer/part-owner.js';
import { collectFiles, newTransferSecret, type LocalFile } from '../../src/transfer/offer.js';
import { Receiver, type ReceiverOptions } from '../../src/transfer/receiver.js';
import { Sender, type SenderOptions } from '../../src/transfer/sender.js';

/** A fresh temp dir; remove it with the returned cleanup. */
export async function tmpDir(prefix = 'chat-transfer-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

/** Makes temp dirs for one test file and removes them all at once (call removeAll in afterEach). */
export function scratchDirs(): { dir(): Promise<string>; removeAll(): Promise<void> } {
  const dirs: string[] = [];
  return {
    async dir() {
      const d = await tmpDir();
      dirs.push(d);
      return d;
    },
    removeAll: () => removeDirs(dirs.splice(0)),
  };
}

/** Removes temp dirs, ignoring errors. */
export async function removeDirs(dirs: string[]): Promise<void> {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
}

/** `size` deterministic pseudo-random bytes (AES-128-CTR keystream of `seed`). */
export function pseudoRandom(size: number, seed = 1): Buffer {
  const key = createHash('sha256').update(`seed ${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  return cipher.update(Buffer.alloc(size));
}

/** Writes a pseudo-random file and returns its path. */
export async function writeRandomFile(dir: string, name: string, size: number, seed = 1): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, pseudoRandom(size, seed));
  return file;
}

/**
 * Writes `dir/name.part` as a receiver of this program left it (with its sidecar, part-owner.ts),
 * so the next receiver resumes it; returns its path. `size`: the offered size it is part of.
 */
export async function writeKeptPart(dir: string, name: string, bytes: Buffer, size: number): Promise<string> {
  const part = path.join(dir, `${name}.part`);
  await writeFile(part, bytes);
  adoptPart(part, { transferId: 'earlier', size });
  return part;
}

/** SHA-256 of a file, hex. */
export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/** A listening Sender plus options for a matching Receiver on 127.0.0.1. */
export interface Pair {
  sender: Sender;
  receiver: Receiver;
  port: number;
  /** Options the receiver was built with (to build another one). */
  receiverOptions: ReceiverOptions;
}

/** Starts a Sender on 127.0.0.1 for `files` and builds a Receiver into `dir` (not started). */
export async function startPair(
  files: LocalFile[],
  dir: string,
  senderOpts: Partial<SenderOptions> = {},
  receiverOpts: Partial<ReceiverOptions> = {},
  { plaintext = false }: { plaintext?: boolean } = {},
): Promise<Pair> {
  const secret = newTransferSecret();
  // Sealed (protocol v3, what the CLI always uses) unless the test is about plaintext v1.
  const senderKeys = newKeyPair();
  const keys = plaintext ? {} : { sender: { keys: senderKeys }, receiver: { keys: { own: newKeyPair(), peer: senderKeys.publicKey } } };
  senderOpts = { ...keys.sender, ...senderOpts };
  receiverOpts = { ...keys.receiver, ...receiverOpts };
  const sender = new Sender({ ...secret, files, host: '127.0.0.1', ...senderOpts });
  const port = await sender.listen();
  const receiverOptions: ReceiverOptions = {
    ...secret,
    candidates: [{ host: '127.0.0.1', port }],
    files: files.map(({ source: _source, ...offer }) => offer),
    dir,
    retryDelayMs: 10,
    ...receiverOpts,
  };
  // The accept (§T10.5): the sender admits only the receiver key it names, and nobody before it.
  if (senderOpts.keys) sender.accepted({ key: receiverOptions.keys?.own.publicKey });
  return { sender, receiver: new Receiver(receiverOptions), port, receiverOptions };
}

/** Runs both sides to completion. */
export async function runPair(pair: Pair) {
  const [received, sent] = await Promise.all([pair.receiver.start(), pair.sender.done]);
  return { received, sent };
}

/** Both sides' failures (each must fail), bounded by the test timeout. */
export async function failures(pair: Pair): Promise<{ receiver: unknown; sender: unknown }> {
  const [receiver, sender] = await Promise.allSettled([pair.receiver.start(), pair.sender.done]);
  return {
    receiver: receiver.status === 'rejected' ? receiver.reason : new Error('receiver succeeded'),
    sender: sender.status === 'rejected' ? sender.reason : new Error('sender succeeded'),
  };
}

export { collectFiles };
