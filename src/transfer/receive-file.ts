// One file on the receiving side, for one request: `.part` file, resume proof, in-order writes
// with bounded memory, verify, then place without clobbering. Verify: the receiver hashes every
// byte of the file it holds (a prefix kept from an earlier session read back from the `.part`,
// the rest as it arrives) and compares its own SHA-256 with the sender's `end.sha256`; what it
// shows and reports is its own value, never the sender's claim (a sender can lie about the hash
// of what it streamed). On a sealed (v3) connection every byte was also authenticated by its
// frame's tag and a kept prefix must hash to the sender's `prefixSha256`; on a plaintext (v1)
// one each chunk has a CRC-32.
import { createHash } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import { chunkCrc, type DataHeader } from './chunk.js';
import { TransferError, fsError } from './errors.js';
import { identicalAt, placeWithoutClobber, receivedMode } from './finalize.js';
import { SMALL_FILE_BYTES, type PartFile } from './part-file.js';
import { SIDECAR_SUFFIX, claimPart, markPart, releasePart, removeSidecar, reopenPart, type PartOwner } from './part-owner.js';
import type { EndMessage, GetMessage, StartMessage } from './messages.js';
import type { OfferFile } from './offer.js';
import { MAX_TAIL_BYTES } from './send-file.js';
import { TailHasher } from './tail-hasher.js';
import type { TokenBucket } from './token-bucket.js';
import { BUNDLE_VERSION, type Wire } from './wire.js';

/** A file to receive and where it goes. */
export interface FileJob {
  index: number;
  file: OfferFile;
  /** Absolute final path (before ` (n)` numbering). */
  finalPath: string;
  /** Absolute path of the `.part` file: `finalPath.part` until claimed, then the one claimed (part-owner.ts). */
  partPath: string;
  /** True once the `.part` is claimed; `number` is the ` (n)` of its name, where final names are tried from. */
  claimed?: boolean;
  number?: number;
  /** "dev:ino" of the claimed `.part`, once known; `marked`: its sidecar is written (part-owner.ts). */
  partId?: string;
  marked?: boolean;
  /** What the files of one receiver share. */
  target: ReceiveTarget;
  /** Offset of the first accepted `start` (bytes kept from an earlier session). */
  resumedFrom?: number;
  startedAt?: number;
  /** Bytes of the `.part` kept from before this session (set by the first attempt; 0 once refused). */
  priorBytes?: number;
  /** True once the re-check of those bytes was announced (once per session, not per connection). */
  provingShown?: boolean;
}

/** The receiver's side of a FileJob. */
export interface ReceiveTarget {
  transferId: string;
  /** The process umask, read once (each read is two syscalls). */
  umask: number;
  /** `.part` paths (lower case) taken by this receiver's files. */
  claimed: Set<string>;
  /** Creates a directory inside the target directory, each once, never through a symlink. */
  ensureDir(dir: string): Promise<void>;
  /** Save a file again (as `name (1)`) even when an identical one is already at its name. */
  forceCopy: boolean;
}

/** What a sink needs from its channel and receiver. */
export interface SinkHooks {
  wire: Wire;
  bucket: TokenBucket | undefined;
  ackBytes: number;
  ackIntervalMs: number;
  onWritten(index: number, bytes: number): void;
  onBytes(n: number): void;
  /** v3: the `bytes` kept from an earlier session are being re-hashed to prove them. */
  onProvingPrefix?(index: number, bytes: number): void;
}

/** The verified outcome of a sink. */
export interface Received {
  savedAs: string;
  sha256: string;
  /** An identical file was already at `savedAs`: kept, not saved again. */
  identical?: true;
}

const MAX_PENDING_WRITES = 4;

/** Receives one file over one connection attempt. */
export class FileSink {
  readonly job: FileJob;
  /** Resolves once verified and placed; rejects (after pending writes settle) on any failure. */
  readonly done: Promise<Received>;
  #hooks: SinkHooks | undefined;
  #part: PartFile | undefined;
  #have = 0;
  #pos = -1;
  #written = 0;
  /** SHA-256 of the whole file as this receiver holds it (kept prefix read back, then live bytes). */
  #hasher: TailHasher | undefined;
  /** The connection is sealed (v3): no CRC; a kept prefix is proven by `end.prefixSha256`. */
  #sealed = false;
  #chain: Promise<void> = Promise.resolve();
  #queued: Array<{ data: Buffer; release: () => void }> = [];
  #release: (() => void) | undefined;
  #failure: TransferError | undefined;
  #ackedBytes = 0;
  #ackedAt = 0;
  #ended = false;
  #settled = false;
  #resolve!: (r: Received) => void;
  #reject!: (e: TransferError) => void;

  constructor(job: FileJob) {
    this.job = job;
    this.done = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.done.catch(() => {});
  }

  /** Bytes of the file on disk when this attempt began. */
  get initialBytes(): number {
    return this.#have;
  }

  /** True between this attempt's `start` and its `end`: the sender may still be streaming DATA for it. */
  get streaming(): boolean {
    return this.#pos >= 0 && !this.#ended;
  }

  /** Bytes written by this attempt so far, counted from 0. */
  get writtenBytes(): number {
    return this.#written;
  }

  /** Opens (or creates) the `.part` file and builds the `get` request, with a resume proof if any. */
  async prepare(): Promise<GetMessage> {
    const { index, file, partPath } = this.job;
    try {
      await this.job.target.ensureDir(path.dirname(partPath));
      const part = await this.#openPart();
      this.#part = part;
      this.#have = part.created ? 0 : await part.size();
      if (this.#have > file.size) {
        await part.truncate(0);
        this.#have = 0;
      }
      this.job.priorBytes ??= this.#have;
      if (this.#have === 0) return { type: 'get', file: index, offset: 0 };
      const prior = this.job.priorBytes;
      return { type: 'get', file: index, offset: this.#have, tail: await this.#tailProof(), ...(prior > 0 && { prefix: prior }) };
    } catch (err) {
      await this.#keepPart().catch(() => {});
      await this.#part?.close().catch(() => {});
      throw fsError(err, partPath, index);
    }
  }

  // The first attempt claims a `.part` of ours (or a new name); later ones reopen that very file.
  async #openPart(): Promise<PartFile> {
    const { job } = this;
    const small = job.file.size <= SMALL_FILE_BYTES;
    if (job.claimed) {
      const part = await reopenPart(job.partPath, small, job.partId);
      if (!part) throw new TransferError('io_error', `${job.partPath} was replaced or its ${SIDECAR_SUFFIX} file removed during the transfer`, { file: job.index });
      return part;
    }
    const claim = await claimPart(job.finalPath, this.#owner(), small, !small, job.target.claimed);
    const partId = claim.marked ? await claim.part.identity() : undefined;
    Object.assign(job, { partPath: claim.partPath, number: claim.number, claimed: true, marked: claim.marked, partId });
    return claim.part;
  }

  #owner(): PartOwner {
    return { transferId: this.job.target.transferId, size: this.job.file.size };
  }

  // A `.part` left behind is marked as ours (a small file's sidecar is written only now), so a
  // retry or a later receiver resumes it.
  async #keepPart(): Promise<void> {
    const { job } = this;
    if (!this.#part || !job.claimed) return;
    job.partId ??= await this.#part.identity();
    if (!job.marked) job.marked = markPart(job.partPath, this.#owner(), job.partId);
  }

  async #tailProof(): Promise<{ length: number; sha256: string }> {
    const length = Math.min(MAX_TAIL_BYTES, this.#have);
    const buf = Buffer.allocUnsafe(length);
    const bytesRead = await this.#part!.read(buf, this.#have - length);
    return { length, sha256: createHash('sha256').update(buf.subarray(0, bytesRead)).digest('hex') };
  }

  /** Binds the sink to the connection it was requested on. */
  attach(hooks: SinkHooks): void {
    this.#hooks = hooks;
    this.#sealed = hooks.wire.protected;
  }

  /** protocol §4 `start`: DATA follows from `offset` (≤ what we have; less means truncate). */
  onStart(msg: StartMessage): void {
    const { file } = this.job;
    if (this.#failure) return;
    if (this.#pos >= 0 || msg.offset > this.#have || msg.size !== file.size) {
      throw new TransferError('protocol', `bad start for ${file.path}`, { file: this.job.index });
    }
    const prior = this.job.priorBytes ?? 0;
    if (msg.offset > 0 && msg.offset < prior) {
      throw new TransferError('protocol', `start inside the part of ${file.path} kept from before`, { file: this.job.index });
    }
    if (msg.offset < this.#have) this.#enqueue(() => this.#part!.truncate(msg.offset));
    if (msg.offset === 0) this.job.priorBytes = 0; // the kept part was refused: nothing to prove
    this.#pos = msg.offset;
    this.#written = msg.offset;
    this.#ackedAt = performance.now(); // §T4: the first ack is due after ackBytes or ackIntervalMs, so a small file costs none (v4)
    this.job.resumedFrom ??= msg.offset;
    // One pass over [0, size): bytes on disk are read back, the rest hashed as it arrives; the
    // digest of the kept part [0, prior) comes from the same pass (v3, §T5).
    const mark = this.#sealed && msg.offset > 0 ? prior : 0;
    this.#hasher = new TailHasher((buf, at) => this.#part!.read(buf, at), msg.offset, mark);
    if (mark > 0 && !this.job.provingShown) {
      this.job.provingShown = true;
      this.#hooks!.onProvingPrefix?.(this.job.index, mark);
    }
    this.#hooks!.onWritten(this.job.index, msg.offset);
  }

  /** One DATA chunk: checked (order, bounds; v1: CRC-32 and hashed), queued for writing; `release` once written. */
  onData(header: DataHeader, data: Buffer, release: () => void): void {
    const { file, index } = this.job;
    if (this.#failure) return release();
    if (this.#pos < 0 || header.offset !== this.#pos || this.#pos + data.length > file.size) {
      throw new TransferError('protocol', `unexpected chunk at ${header.offset} of ${file.path}`, { file: index });
    }
    if (!this.#sealed && chunkCrc(data) !== header.crc) {
      throw new TransferError('checksum_mismatch', `chunk at byte ${header.offset} of ${file.path} is corrupt (CRC-32 mismatch)`, { file: index });
    }
    const n = data.length;
    this.#hasher?.push(this.#pos, data);
    this.#pos += n;
    this.#hooks!.onBytes(n);
    this.#write(data, header.offset, release); // `data` belongs to the write queue from here on
    this.#throttle(n);
  }

  /** protocol §4 `end`: after the last write, compare our SHA-256 with the sender's, then finalize. */
  onEnd(msg: EndMessage): void {
    const { file, index } = this.job;
    this.#ended = true;
    if (this.#failure) return;
    if (this.#pos !== file.size) {
      return this.fail(new TransferError('protocol', `end of ${file.path} at ${this.#pos} of ${file.size} bytes`, { file: index }));
    }
    if (this.#sealed && (msg.size !== file.size || ((this.job.priorBytes ?? 0) > 0 && !msg.prefixSha256))) {
      return this.fail(new TransferError('protocol', `end of ${file.path} without its size or the hash of the kept part`, { file: index }));
    }
    this.#enqueue(() => this.#finish(msg));
  }

  /** Stops this attempt: pending writes settle, the `.part` stays, `done` rejects with `err`. */
  fail(err: TransferError): void {
    if (this.#failure) return;
    this.#failure = err;
    this.#release?.();
    void this.#chain.then(() => this.#settle());
  }

  // Chunks are queued and written in batches: one writev per batch of contiguous chunks.
  #write(data: Buffer, at: number, release: () => void): void {
    this.#queued.push({ data, release });
    if (this.#queued.length >= MAX_PENDING_WRITES && !this.#release) this.#release = this.#hooks!.wire.hold();
    if (this.#queued.length === 1) this.#enqueue(() => this.#writeQueued(at), true);
  }

  async #writeQueued(at: number): Promise<void> {
    const batch = this.#queued;
    this.#queued = [];
    const bytes = batch.reduce((n, c) => n + c.data.length, 0);
    try {
      await this.#part!.write(batch.map((c) => c.data), at);
    } finally {
      for (const c of batch) c.release(); // the buffers may be freed: not touched after this
    }
    this.#written = at + bytes;
    this.#hasher?.written(this.#written);
    if (this.#release) {
      this.#release();
      this.#release = undefined;
    }
    if (!this.#failure) this.#maybeAck();
  }

  // Steps are skipped after a failure, except writes of already-checked chunks after a mere
  // disconnect (`flush`): they shorten the resume.
  #enqueue(step: () => Promise<void>, flush = false): void {
    this.#chain = this.#chain.then(async () => {
      if (this.#failure && !(flush && this.#failure.code === 'peer_gone')) return;
      try {
        await step();
      } catch (err) {
        this.fail(fsError(err, this.job.file.path, this.job.index));
      }
    });
  }

  #throttle(n: number): void {
    const delay = this.#hooks!.bucket?.take(n) ?? 0;
    if (delay <= 0) return;
    const release = this.#hooks!.wire.hold();
    setTimeout(release, delay);
  }

  #maybeAck(final = false): void {
    const now = performance.now();
    const due = this.#written - this.#ackedBytes >= this.#hooks!.ackBytes || now - this.#ackedAt >= this.#hooks!.ackIntervalMs;
    if (!final && !due) return;
    this.#ackedBytes = this.#written;
    this.#ackedAt = now;
    this.#hooks!.wire.sendControl({ type: 'ack', file: this.job.index, bytes: this.#written });
    this.#hooks!.onWritten(this.job.index, this.#written);
  }

  async #finish(end: EndMessage): Promise<void> {
    const { file, index, partPath, finalPath } = this.job;
    const sha256 = await this.#hasher!.digest(); // ours: of the bytes in the `.part`, never the sender's claim
    if (this.#sealed) await this.#proveKept(end);
    if (sha256 !== end.sha256) await this.#mismatch(sha256, end.sha256);
    await this.#part!.finish(receivedMode(file.mode, this.job.target.umask), file.mtimeMs);
    // The same bytes already under this name: keep that file, drop ours (issue 27, item 14).
    const small = file.size <= SMALL_FILE_BYTES;
    const identical = !this.job.target.forceCopy && (await identicalAt(finalPath, file.size, sha256, small));
    if (identical) await unlink(partPath);
    const savedAs = identical ? finalPath : await placeWithoutClobber(partPath, finalPath, small, this.job.number);
    if (this.job.marked) removeSidecar(partPath);
    releasePart(this.job.target.claimed, partPath);
    if (this.#hooks!.wire.version >= BUNDLE_VERSION) this.#hooks!.onWritten(index, this.#written); // v4: `verified` stands for the last ack
    else this.#maybeAck(true);
    this.#hooks!.wire.sendControl({ type: 'verified', file: index, sha256 });
    this.#settled = true;
    this.#resolve({ savedAs, sha256, ...(identical && { identical: true as const }) });
  }

  /**
   * v3: what was kept from before must hash to the sender's prefix. A kept part that does not is
   * discarded (truncated), never trusted.
   */
  async #proveKept(end: EndMessage): Promise<void> {
    const { file, index } = this.job;
    const prior = this.job.priorBytes ?? 0;
    if (prior === 0 || this.#hasher!.markDigest === end.prefixSha256) return;
    await this.#discard();
    throw new TransferError('checksum_mismatch', `the ${prior} bytes of ${file.path} kept from an earlier transfer do not match the sender's file; discarded them, send it again`, { file: index });
  }

  /**
   * The bytes we hold do not hash to what the sender says it sent: the file is never given its
   * final name. v3: the `.part` is discarded (every byte of it came from this sender, or was
   * proven against it); v1: kept, as a CRC-checked stream may have met a disk error.
   */
  async #mismatch(ours: string, theirs: string): Promise<never> {
    const { file, index, partPath } = this.job;
    const what = `SHA-256 of ${file.path} computed here (${ours}) does not match the sender's (${theirs})`;
    if (!this.#sealed) throw new TransferError('checksum_mismatch', `${what}; data kept in ${partPath}`, { file: index });
    await this.#discard();
    throw new TransferError('checksum_mismatch', `${what}: not saved, the received bytes were discarded`, { file: index });
  }

  async #discard(): Promise<void> {
    await this.#part!.truncate(0);
    this.job.priorBytes = 0;
  }

  async #settle(): Promise<void> {
    if (this.#settled) return;
    this.#settled = true;
    await this.#keepPart().catch(() => {});
    await this.#part?.close().catch(() => {});
    this.#reject(this.#failure!);
  }
}
