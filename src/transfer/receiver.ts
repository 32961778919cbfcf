// The receiving side: races every candidate, then fetches the offered files through a bounded
// queue over a few authenticated connections, reconnecting and resuming when one drops.
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import PQueue from 'p-queue';
import { Channel } from './channel.js';
import { MAX_CHUNK_BYTES } from './chunk.js';
import { TransferError, filesFailed, isFileFailure, toTransferError } from './errors.js';
import type { DialOptions } from './handshake.js';
import type { Candidate, OfferFile } from './offer.js';
import { FileSink, type FileJob } from './receive-file.js';
import { SMALL_FILE_BYTES } from './part-file.js';
import type { KeyPair } from './keys.js';
import { ReceiverPaths, type ListenOptions } from './paths.js';
import { relayAt, type RelayEndpoint } from './relay-dial.js';
import { resolveInside, sanitizePath, uniquePaths } from './safe-path.js';
import { makeDirInside } from './target-dir.js';
import { rateBucket, type TokenBucket } from './token-bucket.js';
import { ALL_PATHS, ProgressTracker, peerPaths, sharedPaths, signalOf, type FileResult, type ReceiverEvents, type TransferResult, type Via } from './types.js';

/** Options of a Receiver. */
export interface ReceiverOptions {
  transferId: string;
  token: string;
  candidates: Candidate[];
  files: OfferFile[];
  /** Target directory (created if missing). */
  dir: string;
  /** Connections used at once. @default 4 */
  parallel?: number;
  /** Requests in flight per connection. @default 16 */
  pipeline?: number;
  /** Bandwidth cap in bytes/s; 0 = unlimited. @default 0 */
  limitRate?: number;
  /** TCP connect timeout per candidate. @default 10000 */
  connectTimeoutMs?: number;
  /** Handshake timeout after connecting. @default 10000 */
  handshakeTimeoutMs?: number;
  /** Reconnection attempts after a failure (per connection and per file). @default 5 */
  retries?: number;
  /** First backoff delay, doubled each attempt. @default 200 */
  retryDelayMs?: number;
  /** Largest backoff delay. @default 5000 */
  maxRetryDelayMs?: number;
  /** Acknowledge after this many written bytes… @default 1048576 */
  ackBytes?: number;
  /** …or after this long. @default 100 */
  ackIntervalMs?: number;
  /** Aborts the transfer like abort(). */
  signal?: AbortSignal;
  /** Our key pair and the sender's public key from the offer: end-to-end encryption (§T9). */
  keys?: { own: KeyPair; peer: string };
  /** Highest encrypted protocol version accepted (§T2.3); 3 only to test compatibility. @default 4 */
  maxVersion?: 3 | 4 | 5;
  /** Paths we may use (§T8). @default all four */
  via?: Via[];
  /** The paths the sender said it uses (the offer's `via`, §T8): we use only those of ours. */
  peerVia?: unknown;
  /** The server's relay address (its chat address); no relay without it. */
  relay?: RelayEndpoint;
  /** Time before we also try the relay. @default 2000 */
  relayDelayMs?: number;
  /** Where to listen for reverse connections; none without it. */
  listen?: ListenOptions;
  /**
   * Before the first connection, keep retrying this long whatever `retries` says: a sender still
   * confirming a --verify code (§T10.4) holds our connections unanswered until it is done.
   * @default 0
   */
  patienceMs?: number;
  /** Save a file as `name (1)` even when the same bytes are already at its name. @default false */
  forceCopy?: boolean;
}

/** Defaults of the optional ReceiverOptions. */
export const RECEIVER_DEFAULTS = {
  parallel: 4,
  pipeline: 16,
  limitRate: 0,
  connectTimeoutMs: 10_000,
  handshakeTimeoutMs: 10_000,
  retries: 5,
  retryDelayMs: 200,
  maxRetryDelayMs: 5000,
  ackBytes: 1 << 20,
  ackIntervalMs: 100,
  via: ALL_PATHS,
  relayDelayMs: 2000,
  patienceMs: 0,
  forceCopy: false,
} satisfies Required<Omit<ReceiverOptions, 'transferId' | 'token' | 'candidates' | 'files' | 'dir' | 'signal' | 'keys' | 'relay' | 'listen' | 'maxVersion' | 'peerVia'>>;

type Optional = 'signal' | 'keys' | 'relay' | 'listen' | 'maxVersion' | 'peerVia';
type Resolved = Required<Omit<ReceiverOptions, Optional>> & Pick<ReceiverOptions, Optional>;

interface Slot {
  load: number;
  channel?: Channel;
  connecting?: Promise<Channel>;
}

/** Fetches the files of one offer straight from the sender. */
export class Receiver extends EventEmitter<ReceiverEvents> {
  #opts: Resolved;
  #abort = new AbortController();
  #fatal: TransferError | undefined;
  #slots: Slot[];
  #progress: ProgressTracker;
  #bucket: TokenBucket | undefined;
  #bytes = 0;
  #started = false;
  #everConnected = false;
  #patientUntil = 0;
  #dirs = new Map<string, Promise<void>>();
  #paths: ReceiverPaths;
  #jobs: FileJob[] | undefined;
  #failures: TransferError[] = [];

  constructor(opts: ReceiverOptions) {
    super();
    this.#opts = { ...RECEIVER_DEFAULTS, ...stripUndefined(opts) };
    this.#slots = Array.from({ length: Math.max(1, this.#opts.parallel) }, () => ({ load: 0 }));
    this.#progress = new ProgressTracker(opts.files.map((f) => f.size));
    this.#bucket = rateBucket(this.#opts.limitRate, MAX_CHUNK_BYTES);
    opts.signal?.addEventListener('abort', () => this.abort(), { once: true });
    const { transferId, token, keys, maxVersion } = this.#opts;
    this.#paths = new ReceiverPaths({
      secret: { transferId, token, keys, maxVersion },
      candidates: this.#opts.candidates,
      via: sharedPaths(this.#opts.via, opts.peerVia),
      relay: this.#opts.relay,
      relayDelayMs: this.#opts.relayDelayMs,
      listen: this.#opts.listen,
      dialOptions: () => this.#dialOptions(),
    });
  }

  /** Uses the relay at `at` instead (the accept reply named one, protocol.md §4.8); call before run(). */
  useRelay(at: Candidate | undefined): void {
    this.#opts.relay = this.#paths.options.relay = relayAt(this.#opts.relay, at);
  }

  /**
   * Checks that the offer can be received here (names, target directory, a path in common), then
   * opens the reverse-connection listener; resolves the candidates for the accept (§T8). Call it
   * before accepting: a rejection is a refusal of the offer (reject it, with the error's message).
   */
  async prepare(): Promise<Candidate[]> {
    await this.#check();
    return this.#paths.listen();
  }

  /** What to put in the accept's `via` (§T8): the paths we use, unless all; undefined = no field. */
  get signalVia(): Via[] | undefined {
    return signalOf(this.#opts.via);
  }

  // Everything that can refuse the offer before a byte moves; idempotent.
  async #check(): Promise<FileJob[]> {
    if (this.#jobs) return this.#jobs;
    if (this.#paths.options.via.length === 0) {
      const theirs = peerPaths(this.#opts.peerVia)!.join(', ');
      throw new TransferError('unreachable', `the sender uses only ${theirs} and this side only ${this.#opts.via.join(', ')}: no path in common`, { hint: 'paths' });
    }
    let jobs: FileJob[];
    try {
      jobs = this.#plan();
    } catch (err) {
      throw new TransferError('permission_denied', `refusing the offer: ${(err as Error).message}`, { cause: err });
    }
    await makeDirInside(this.#opts.dir, this.#opts.dir).catch((err: unknown) => {
      const e = toTransferError(err);
      throw new TransferError(e.code, `cannot save into ${this.#opts.dir}: ${e.message}`, { cause: err });
    });
    this.#jobs = jobs;
    return jobs;
  }

  /** The path of the first connection (§T8). */
  get path(): Via | undefined {
    return this.#paths.path;
  }

  /** Receives every file; resolves when all are verified, rejects with the first TransferError. */
  async start(): Promise<TransferResult> {
    if (this.#started) throw new Error('start() may be called once');
    this.#started = true;
    const startedAt = performance.now();
    this.#patientUntil = startedAt + this.#opts.patienceMs;
    if (this.#opts.signal?.aborted) this.abort();
    let files: FileResult[] = [];
    try {
      const jobs = await this.#check().catch((err: unknown) => this.#refuse(toTransferError(err)));
      files = await this.#runAll(jobs);
    } catch (err) {
      this.#fail(toTransferError(err));
    } finally {
      // Whatever happened, nothing stays open: a listener left behind kept the process alive.
      // Our last `verified` (or `error`) is flushed before we return (§T4).
      await this.#closeAll(this.#fatal);
      this.#paths.close();
    }
    if (this.#fatal) throw this.#fatal;
    if (this.#failures.length > 0) throw filesFailed(this.#failures, this.#opts.files.map((f) => f.path), files.length);
    return { files, bytes: this.#bytes, elapsedMs: performance.now() - startedAt, path: this.#paths.path };
  }

  /**
   * A refusal after the accept (the offer cannot be saved here): the sender is waiting for us, so
   * we connect once, say why (`error` without `file`, §T7) and close. Never resolves.
   */
  async #refuse(err: TransferError): Promise<never> {
    const slot = this.#slots[0]!;
    await this.#paths.connect(this.#abort.signal).then(
      ({ wire }) => void (slot.channel = new Channel(wire, this.#channelHooks())),
      () => {}, // unreachable: the sender's own timeout ends it
    );
    throw this.#fail(err);
  }

  /** Stops everything; the sender is told, `.part` files stay for a later resume. */
  abort(): void {
    this.#fail(new TransferError('aborted', 'the receiver cancelled the transfer'));
  }

  // Jobs are added only as the queue has room, so a 10,000-file offer costs a few pending tasks
  // at a time rather than 10,000 (all at once took the receiver's heap, and RSS, up by ~30 MB).
  async #runAll(jobs: FileJob[]): Promise<FileResult[]> {
    const concurrency = this.#slots.length * Math.max(1, this.#opts.pipeline);
    const queue = new PQueue({ concurrency });
    const files: FileResult[] = [];
    const results: (FileResult | undefined)[] = new Array(jobs.length);
    for (const job of jobs) {
      await queue.onSizeLessThan(concurrency);
      if (this.#fatal) break;
      // The first failure becomes #fatal (#runJob already records it); the rest then fail fast
      // or are never added.
      void queue.add(() => this.#runJob(job)).then(
        (r) => void (results[job.index] = r),
        (err: unknown) => void this.#fail(toTransferError(err)),
      );
    }
    await queue.onIdle();
    for (const r of results) if (r) files.push(r); // the verified ones, in offer order
    return files;
  }

  #plan(): FileJob[] {
    const names = uniquePaths(this.#opts.files.map((f) => sanitizePath(f.path)));
    const target = {
      transferId: this.#opts.transferId, umask: process.umask(), claimed: new Set<string>(), ensureDir: (dir: string) => this.#ensureDir(dir), forceCopy: this.#opts.forceCopy === true,
    };
    return this.#opts.files.map((file, index) => {
      const finalPath = resolveInside(this.#opts.dir, names[index]!);
      return { index, file, finalPath, partPath: `${finalPath}.part`, target };
    });
  }

  #ensureDir(dir: string): Promise<void> {
    let made = this.#dirs.get(dir);
    if (!made) {
      made = makeDirInside(this.#opts.dir, dir);
      made.catch(() => this.#dirs.delete(dir)); // retried by the next file
      this.#dirs.set(dir, made);
    }
    return made;
  }

  // §T7: this file failed (here, or the sender said so); its `.part` stays and the others go on.
  #fileFailed(job: FileJob, err: TransferError): undefined {
    this.#failures.push(err);
    this.emit('fileFailed', { index: job.index, path: job.file.path, error: err });
    return undefined;
  }

  async #runJob(job: FileJob): Promise<FileResult | undefined> {
    for (let failures = 0; ; ) {
      this.#throwIfFailed();
      const sink = new FileSink(job);
      try {
        const received = await this.#fetch(sink);
        const elapsedMs = performance.now() - (job.startedAt ?? 0);
        const result = { index: job.index, path: job.file.path, size: job.file.size, resumedFrom: job.resumedFrom ?? 0, elapsedMs, ...received };
        this.emit('file', result);
        return result;
      } catch (err) {
        const e = toTransferError(err);
        if (isFileFailure(e) && e.file === job.index && !this.#fatal) return this.#fileFailed(job, e);
        const progressed = sink.writtenBytes > sink.initialBytes;
        failures = progressed ? 1 : failures + 1;
        if (e.code !== 'peer_gone' || failures > this.#opts.retries || this.#fatal) throw this.#fail(e);
        // A dropped (or tampered-with: §T9) connection: the file resumes on a new one.
        this.emit('retry', { attempt: failures, delayMs: 0, reason: e.message });
      }
    }
  }

  // Connect first, then touch the disk: a refused or unreachable sender leaves no `.part` behind.
  async #fetch(sink: FileSink): Promise<{ savedAs: string; sha256: string }> {
    const slot = await this.#pickSlot(sink.job.file.size);
    try {
      const channel = await this.#channelOf(slot);
      const get = await sink.prepare().catch((err: unknown) => {
        const e = toTransferError(err);
        if (isFileFailure(e)) channel.reportFileFailure(e, false); // never asked for: nothing to drain
        throw e;
      });
      sink.job.startedAt ??= performance.now();
      return await channel.fetch(sink, get);
    } finally {
      slot.load--;
    }
  }

  // The first connection decides the path; only direct connections are opened in parallel
  // (a reverse or relayed one is made by the sender or the server, one at a time). Small files
  // all share the first: more of them then go in each bundle (§T9.1), which costs less CPU per
  // file than spreading them (10,000 files of 10 KiB: receiver 30 -> 23 CPU-s per GiB).
  // The chosen slot's load counts this file at once, so files started together spread out.
  async #pickSlot(size: number): Promise<Slot> {
    const first = this.#slots[0]!;
    if (!this.#paths.path) await this.#channelOf(first);
    const slot = this.#paths.path !== 'direct' || size <= SMALL_FILE_BYTES ? first : this.#slots.reduce((a, b) => (b.load < a.load ? b : a));
    slot.load++;
    return slot;
  }

  #channelOf(slot: Slot): Promise<Channel> {
    if (slot.channel && !slot.channel.closed) return Promise.resolve(slot.channel);
    slot.connecting ??= this.#connect().then(
      (channel) => {
        slot.channel = channel;
        slot.connecting = undefined;
        return channel;
      },
      (err: unknown) => {
        slot.connecting = undefined;
        throw err;
      },
    );
    return slot.connecting;
  }

  async #connect(): Promise<Channel> {
    for (let attempt = 0; ; attempt++) {
      this.#throwIfFailed();
      try {
        const { wire, path } = await this.#paths.connect(this.#abort.signal);
        this.#everConnected = true;
        this.emit('connected', { remote: path === 'relay' ? 'the relay' : wire.remote, path, version: wire.version });
        return new Channel(wire, this.#channelHooks());
      } catch (err) {
        const e = toTransferError(err);
        const retriable = e.code === 'unreachable' || e.code === 'timeout' || e.code === 'peer_gone';
        const patient = !this.#everConnected && performance.now() < this.#patientUntil;
        if (!retriable || (attempt >= this.#opts.retries && !patient) || this.#fatal) throw this.#fail(this.#lost(e, retriable));
        const delayMs = Math.min(this.#opts.retryDelayMs * 2 ** attempt, this.#opts.maxRetryDelayMs);
        this.emit('retry', { attempt: attempt + 1, delayMs, reason: e.message });
        await sleep(delayMs, undefined, { signal: this.#abort.signal }).catch(() => {});
      }
    }
  }

  // A sender we reached once and then lost for good is `peer_gone`, not `unreachable`.
  #lost(err: TransferError, retriable: boolean): TransferError {
    if (!retriable || !this.#everConnected || err.code === 'peer_gone') return err;
    return new TransferError('peer_gone', `lost the connection to the sender and could not reconnect (${err.message})`, { cause: err });
  }

  #dialOptions(): DialOptions {
    const { connectTimeoutMs, handshakeTimeoutMs } = this.#opts;
    return { connectTimeoutMs, handshakeTimeoutMs, signal: this.#abort.signal };
  }

  #channelHooks(): ConstructorParameters<typeof Channel>[1] {
    return {
      bucket: this.#bucket,
      ackBytes: this.#opts.ackBytes,
      ackIntervalMs: this.#opts.ackIntervalMs,
      onWritten: (index, bytes) => this.emit('progress', this.#progress.update(index, bytes)),
      onBytes: (n) => (this.#bytes += n),
      onProvingPrefix: (index, bytes) => this.emit('proving', { index, path: this.#opts.files[index]!.path, bytes }),
      onPeerError: (err) => this.#fail(err),
    };
  }

  #throwIfFailed(): void {
    if (this.#fatal) throw this.#fatal;
  }

  // First fatal error wins: remember it, stop connecting, tell the sender, fail in-flight files.
  #fail(err: TransferError): TransferError {
    if (this.#fatal) return this.#fatal;
    this.#fatal = err;
    this.#abort.abort();
    void this.#closeAll(err);
    return err;
  }

  #closeAll(err: TransferError | undefined): Promise<unknown> {
    const closing = this.#slots.map((slot) => slot.channel?.close(err));
    if (err) this.#paths.close();
    return Promise.all(closing);
  }
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
