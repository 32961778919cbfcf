// SHA-256 of the first bytes of a file, on a worker thread: a receiver resuming a `.part` from an
// earlier session proves that prefix against the sender's hash (protocol.md §T5) without taking
// the main thread from the live stream. The worker is plain CommonJS given as text, so the same
// code runs from dist/ and under a TypeScript test runner.
import { Worker } from 'node:worker_threads';

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { openSync, readSync, closeSync, constants } = require('node:fs');
const { createHash } = require('node:crypto');
const { path, length } = workerData;
const hash = createHash('sha256');
const buf = Buffer.allocUnsafe(Math.min(length, 1 << 20) || 1);
const fd = openSync(path, constants.O_RDONLY | (constants.O_NOFOLLOW || 0)); // never through a symlink
try {
  for (let at = 0; at < length; ) {
    const n = readSync(fd, buf, 0, Math.min(buf.length, length - at), at);
    if (n <= 0) throw new Error('the file ended at byte ' + at + ' of ' + length);
    hash.update(buf.subarray(0, n));
    at += n;
  }
} finally {
  closeSync(fd);
}
parentPort.postMessage(hash.digest('hex'));
`;

/** Hex SHA-256 of bytes [0, length) of the file at `path`; rejects if it is shorter or unreadable. */
export function hashFilePrefix(path: string, length: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, { eval: true, workerData: { path, length } });
    let result: string | undefined;
    worker.once('message', (digest: string) => (result = digest));
    worker.once('error', reject);
    worker.once('exit', (code) => (result !== undefined ? resolve(result) : reject(new Error(`prefix hash worker exited with ${code}`))));
  });
}
