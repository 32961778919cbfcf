// Streams one requested file over an authenticated connection (protocol.md §T4–5).
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { closeSync, constants, fstatSync, openSync, read, readSync, type Stats } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { chunkCrc, writeDataFrame } from './chunk.js';
import { TransferError, fsError } from './errors.js';
import type { GetMessage } from './messages.js';
import type { LocalFile } from './offer.js';
import { SMALL_FILE_BYTES } from './part-file.js';
import { SLOT_HEADER_BYTES, type SlotPool } from './slot-pool.js';
import { TailHasher } from './tail-hasher.js';
import type { TokenBucket } from './token-bucket.js';
import { peerGone, type Wire } from './wire.js';

/** Largest tail a receiver may ask us to verify on resume (1 MiB). */
export const MAX_TAIL_BYTES = 1 << 20;

/**
 * An offered file's `source` is a real path (offer.ts resolved any link once, checking where it
 * points): a link put in its place after the offer is not followed.
 */
const READ_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0);

/** What sendFile needs from its connection and sender. */
export interface SendContext {
  wire: Wire;
  pool: SlotPool;
  drainTimeoutMs: number;
  bucket: TokenBucket | undefined;
  /** Called with each chunk's byte count as it is handed to the socket. */
  onBytes(n: number): void;
  /**
   * Called just before `end` goes out: the peer's `verified` can arrive as soon as `end` is sent,
   * before sendFile's promise settles (closing the file takes a thread-pool round trip).
   */
  onServed(served: Served): void;
}

/** Outcome of serving one `get`. */
export interface Served {
  offset: number;
  sha256: string;
}

interface Chunk {
  slot: Buffer;
  position: number;
  length: number;
}

/** Serves one `get`: start, DATA chunks from the agreed offset, end with the whole-file SHA-256. */
export async function sendFile(index: number, file: LocalFile, req: GetMessage, ctx: SendContext): Promise<Served> {
  if (file.size <= SMALL_FILE_BYTES && file.size <= ctx.pool.slotBytes - SLOT_HEADER_BYTES) return sendSmallFile(index, file, req, ctx);
  const fh = await open(file.source, READ_FLAGS).catch((err: unknown) => {
    throw fsError(err, file.path, index);
  });
  try {
    checkUnchanged(index, file, await fh.stat());
    const offset = await agreeOffset(fh, file, req);
    ctx.wire.sendControl({ type: 'start', file: index, offset, size: file.size });
    // v3: the receiver proves the bytes it kept from an earlier session (`prefix`) against our
    // SHA-256 of them, taken from the same pass as the whole file's.
    const sealed = ctx.wire.protected;
    const prefix = sealed && req.prefix !== undefined && req.prefix > 0 && req.prefix <= offset ? req.prefix : 0;
    const hasher = new TailHasher(readerOf(fh), offset, prefix);
    await pump(index, file, fh, offset, hasher, ctx);
    checkUnchanged(index, file, await fh.stat());
    const served = { offset, sha256: await hasher.digest() };
    ctx.onServed(served);
    if (!sealed) ctx.wire.sendControl({ type: 'end', file: index, sha256: served.sha256 });
    else ctx.wire.sendControl({ type: 'end', file: index, sha256: served.sha256, size: file.size, ...(prefix > 0 && { prefixSha256: hasher.markDigest! }) });
    return served;
  } catch (err) {
    throw fsError(err, file.path, index);
  } finally {
    await fh.close().catch(() => {});
  }
}

/**
 * A file that fits one chunk, with direct syscalls (see part-file.ts): open, fstat, one read of
 * the whole file, fstat, close, instead of a thread-pool round trip for each.
 */
async function sendSmallFile(index: number, file: LocalFile, req: GetMessage, ctx: SendContext): Promise<Served> {
  let fd: number;
  try {
    fd = openSync(file.source, READ_FLAGS);
  } catch (err) {
    throw fsError(err, file.path, index);
  }
  let slot: Buffer | undefined;
  try {
    checkUnchanged(index, file, fstatSync(fd));
    slot = await ctx.pool.acquire();
    const data = slot.subarray(SLOT_HEADER_BYTES, SLOT_HEADER_BYTES + file.size);
    for (let at = 0; at < file.size; ) {
      const n = readSync(fd, data, at, file.size - at, at);
      if (n <= 0) throw changed(index, file, 'shrank');
      at += n;
    }
    checkUnchanged(index, file, fstatSync(fd));
    const offset = agreeOffsetIn(data, req);
    const sealed = ctx.wire.protected;
    const prefix = sealed && req.prefix !== undefined && req.prefix > 0 && req.prefix <= offset ? req.prefix : 0;
    const served = { offset, sha256: createHash('sha256').update(data).digest('hex') };
    const prefixSha256 = prefix > 0 ? createHash('sha256').update(data.subarray(0, prefix)).digest('hex') : undefined;
    ctx.wire.sendControl({ type: 'start', file: index, offset, size: file.size });
    if (offset > 0) data.copyWithin(0, offset); // the chunk's bytes start right after the slot header
    if (offset < file.size) {
      const chunk = { slot, position: offset, length: file.size - offset };
      slot = undefined; // sendChunk releases it
      await sendChunk(index, chunk, undefined, ctx, ctx.pool.slotBytes - SLOT_HEADER_BYTES);
    }
    ctx.onServed(served);
    if (!sealed) ctx.wire.sendControl({ type: 'end', file: index, sha256: served.sha256 });
    else ctx.wire.sendControl({ type: 'end', file: index, sha256: served.sha256, size: file.size, ...(prefixSha256 && { prefixSha256 }) });
    return served;
  } catch (err) {
    throw fsError(err, file.path, index);
  } finally {
    if (slot) ctx.pool.release(slot);
    closeSync(fd);
  }
}

/** agreeOffset (§T5) for a file that is in memory. */
function agreeOffsetIn(data: Buffer, req: GetMessage): number {
  const { offset, tail } = req;
  if (offset === 0 || !tail || offset > data.length) return 0;
  if (tail.length === 0 || tail.length > MAX_TAIL_BYTES || tail.length > offset) return 0;
  return createHash('sha256').update(data.subarray(offset - tail.length, offset)).digest('hex') === tail.sha256 ? offset : 0;
}

function readerOf(fh: FileHandle): (buf: Buffer, position: number) => Promise<number> {
  return async (buf, position) => (await fh.read(buf, 0, buf.length, position)).bytesRead;
}

/** protocol §5: resume at `offset` only if the receiver's tail hash matches our bytes there. */
async function agreeOffset(fh: FileHandle, file: LocalFile, req: GetMessage): Promise<number> {
  const { offset, tail } = req;
  if (offset === 0 || !tail || offset > file.size) return 0;
  if (tail.length === 0 || tail.length > MAX_TAIL_BYTES || tail.length > offset) return 0;
  const buf = Buffer.allocUnsafe(tail.length);
  const { bytesRead } = await fh.read(buf, 0, tail.length, offset - tail.length);
  if (bytesRead !== tail.length) return 0;
  return createHash('sha256').update(buf).digest('hex') === tail.sha256 ? offset : 0;
}

/** Chunks read ahead of the one being sent (the slot pool must hold these plus two in the socket). */
export const READ_AHEAD = 3;

/**
 * Reads, hashes, checksums and writes chunks. Three stages overlap: the next chunks are read
 * (libuv thread pool) and the current one hashed while earlier ones are still being flushed to
 * the socket; we wait only before a write, until at most one chunk is left unsent (so the socket
 * never idles), and the slot pool bounds the memory.
 */
async function pump(index: number, file: LocalFile, fh: FileHandle, from: number, hasher: TailHasher, ctx: SendContext): Promise<void> {
  const chunkBytes = ctx.pool.slotBytes - SLOT_HEADER_BYTES;
  const reads: Array<Promise<Chunk>> = [];
  let readPos = from;
  const readAhead = (): void => {
    while (reads.length < READ_AHEAD && readPos < file.size) {
      const read = readChunk(index, file, fh, ctx.pool, readPos, chunkBytes);
      read.catch(() => {}); // observed when its turn comes; avoids an unhandled rejection if we stop first
      reads.push(read);
      readPos += Math.min(chunkBytes, file.size - readPos);
    }
  };
  try {
    readAhead();
    for (let read = reads.shift(); read; read = reads.shift()) {
      const chunk = await read;
      readAhead();
      await sendChunk(index, chunk, hasher, ctx, chunkBytes);
    }
  } finally {
    for (const read of reads) read.then((chunk) => ctx.pool.release(chunk.slot), () => {}); // stopped early
  }
}

async function readChunk(index: number, file: LocalFile, fh: FileHandle, pool: SlotPool, position: number, chunkBytes: number): Promise<Chunk> {
  const slot = await pool.acquire();
  const length = Math.min(chunkBytes, file.size - position);
  try {
    const bytesRead = await readAt(fh.fd, slot, SLOT_HEADER_BYTES, length, position);
    if (bytesRead !== length) throw changed(index, file, 'shrank');
  } catch (err) {
    pool.release(slot);
    throw err;
  }
  return { slot, position, length };
}

// fs.read on the raw fd: a little cheaper per call than FileHandle.read on Node 20.
function readAt(fd: number, buf: Buffer, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    read(fd, buf, offset, length, position, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

async function sendChunk(index: number, chunk: Chunk, hasher: TailHasher | undefined, ctx: SendContext, chunkBytes: number): Promise<void> {
  const { slot, position, length } = chunk;
  const data = slot.subarray(SLOT_HEADER_BYTES, SLOT_HEADER_BYTES + length);
  hasher?.push(position, data);
  hasher?.written(position + length);
  // Sealed (v3): the AEAD tag authenticates the bytes, a CRC would add nothing.
  const crc = ctx.wire.protected ? undefined : chunkCrc(data);
  const frame = writeDataFrame({ file: index, offset: position, crc }, slot, SLOT_HEADER_BYTES, length);
  const delay = ctx.bucket?.take(length) ?? 0;
  if (delay > 0) await sleep(delay);
  try {
    await ctx.wire.room(chunkBytes, ctx.drainTimeoutMs);
  } catch (err) {
    ctx.pool.release(slot);
    throw err;
  }
  if (ctx.wire.closed) {
    ctx.pool.release(slot);
    throw peerGone();
  }
  ctx.wire.write(frame, () => ctx.pool.release(slot));
  ctx.onBytes(length);
}

function checkUnchanged(index: number, file: LocalFile, st: Stats): void {
  if (st.size !== file.size) throw changed(index, file, st.size > file.size ? 'grew' : 'shrank');
  if (st.mtimeMs !== file.mtimeMs) throw changed(index, file, 'was modified');
}

function changed(index: number, file: LocalFile, how: string): TransferError {
  return new TransferError('source_changed', `${file.path} ${how} while it was being sent`, { file: index });
}
