// The receiving side: races every candidate, then fetches the offered files through a bounded
// queue over a few authenticated connections, reconnecting and resuming when one drops.
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import PQueue from 'p-queue';
import { Channel } from './channel.js';
import { MAX_CHUNK_BYTES } from './chunk.js';
import { TransferError, toTransferError } from './errors.js';
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
import { ALL_PATHS, ProgressTracker, type FileResult, type ReceiverEvents, type TransferResult, type Via } from './types.js';

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
} satisfies Required<Omit<ReceiverOptions, 'transferId' | 'token' | 'candidates' | 'files' | 'dir' | 'signal' | 'keys' | 'relay' | 'listen' | 'maxVersion'>>;

type Optional = 'signal' | 'keys' | 'relay' | 'listen' | 'maxVersion';
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
      via: this.#opts.via,
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

  /** Opens the reverse-connection listener; resolves the candidates for the accept (§T8). */
  prepare(): Promise<Candidate[]> {
    return this.#paths.listen();
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
      files = await this.#runAll(this.#plan());
    } catch (err) {
      this.#fail(toTransferError(err)); // e.g. a name that cannot be placed: the sender is told
    } finally {
      // Whatever happened, nothing stays open: a listener left behind kept the process alive.
      this.#closeAll(this.#fatal);
      this.#paths.close();
    }
    if (this.#fatal) throw this.#fatal;
    return { files, bytes: this.#bytes, elapsedMs: performance.now() - startedAt, path: this.#paths.path };
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
    const files: FileResult[] = new Array(jobs.length);
    for (const job of jobs) {
      await queue.onSizeLessThan(concurrency);
      if (this.#fatal) break;
      // The first failure becomes #fatal (#runJob already records it); the rest then fail fast
      // or are never added.
      void queue.add(() => this.#runJob(job)).then(
        (r) => void (files[job.index] = r),
        (err: unknown) => void this.#fail(toTransferError(err)),
      );
    }
    await queue.onIdle();
    return files;
  }

  #plan(): FileJob[] {
    const names = uniquePaths(this.#opts.files.map((f) => sanitizePath(f.path)));
    const target = { transferId: this.#opts.transferId, umask: process.umask(), claimed: new Set<string>(), ensureDir: (dir: string) => this.#ensureDir(dir) };
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

  async #runJob(job: FileJob): Promise<FileResult> {
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
      const get = await sink.prepare();
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
    this.#closeAll(err);
    return err;
  }

  #closeAll(err: TransferError | undefined): void {
    for (const slot of this.#slots) slot.channel?.close(err);
    if (err) this.#paths.close();
  }
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
