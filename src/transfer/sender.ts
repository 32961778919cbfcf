// The sending side: listens on an ephemeral port, admits only peers that prove the token,
// serves their requests and resolves `done` once the receiver verified every file.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import PQueue from 'p-queue';
import { setTimeout as sleep } from 'node:timers/promises';
import { MAX_CHUNK_BYTES } from './chunk.js';
import { TransferError, filesFailed, toTransferError } from './errors.js';
import { acceptHandshake, Refusal } from './handshake.js';
import { withObserved, type Candidate, type LocalFile } from './offer.js';
import type { KeyPair } from './keys.js';
import { punch } from './punch.js';
import { relayAt, relayConnect, type RelayEndpoint } from './relay-dial.js';
import type { Via } from './types.js';
import { SenderConnection } from './sender-connection.js';
import type { Served } from './send-file.js';
import { rateBucket, type TokenBucket } from './token-bucket.js';
import { ALL_PATHS, ProgressTracker, peerPaths, sharedPaths, signalOf, type FileResult, type SenderEvents, type TransferResult } from './types.js';
import { Wire, formatRemote } from './wire.js';

/** Options of a Sender. */
export interface SenderOptions {
  transferId: string;
  token: string;
  files: LocalFile[];
  /** Address to listen on; falls back to 0.0.0.0 when '::' is unavailable. @default '::' */
  host?: string;
  /** @default 0 (ephemeral) */
  port?: number;
  /** File bytes per DATA frame (≤ 1 MiB). @default 524288 */
  chunkSize?: number;
  /** Bandwidth cap in bytes/s; 0 = unlimited. @default 0 */
  limitRate?: number;
  /** Files streamed at once, over all connections; more wait their turn. @default 4 */
  parallel?: number;
  /** A queue shared with other Senders (e.g. one per group member) instead of `parallel`. */
  queue?: PQueue;
  /** Our X25519 key pair: the transfer is then end-to-end encrypted (protocol v3 or v4, §T9). */
  keys?: KeyPair;
  /** Highest encrypted protocol version offered (§T2.3); 3 only to test compatibility. @default 4 */
  maxVersion?: 3 | 4 | 5;
  /** Paths we may use (§T8). @default all four */
  via?: Via[];
  /** The server's relay address (its chat address); no relay without it. */
  relay?: RelayEndpoint;
  /** Time after the accept before we also try the relay. @default 2000 */
  relayDelayMs?: number;
  /** Time a peer has to complete the handshake. @default 10000 */
  handshakeTimeoutMs?: number;
  /** Time a peer may stop reading before its connection is dropped. @default 30000 */
  drainTimeoutMs?: number;
  /** Time without any connection, once one existed, before failing with peer_gone; 0 = forever. @default 60000 */
  peerTimeoutMs?: number;
  /** Time after the accept for the receiver's first connection before failing with peer_gone; 0 = forever. @default 600000 */
  firstPeerTimeoutMs?: number;
  /** Silence from a receiver we wait on before its connection is dropped (§T4); 0 = never. @default 60000 */
  idleTimeoutMs?: number;
}

/** How long the receiver's direct attempt runs before we also connect back to it (§T8). */
const REVERSE_HEAD_START_MS = 250;

/** Defaults of the optional SenderOptions. */
export const SENDER_DEFAULTS = {
  host: '::',
  port: 0,
  chunkSize: 512 * 1024,
  limitRate: 0,
  parallel: 4,
  handshakeTimeoutMs: 10_000,
  drainTimeoutMs: 30_000,
  peerTimeoutMs: 60_000,
  firstPeerTimeoutMs: 600_000,
  idleTimeoutMs: 60_000,
  via: ALL_PATHS,
  relayDelayMs: 2000,
} satisfies Required<Omit<SenderOptions, 'transferId' | 'token' | 'files' | 'queue' | 'keys' | 'relay' | 'maxVersion'>>;

interface FileState {
  verified: boolean;
  failed?: TransferError;
  sha256?: string;
  resumedFrom?: number;
  startedAt?: number;
}

/** Offers files to one receiver over direct TCP. */
export class Sender extends EventEmitter<SenderEvents> {
  /** Resolves when every file is verified by the receiver; rejects with a TransferError. */
  readonly done: Promise<TransferResult>;
  #opts: Required<Omit<SenderOptions, 'queue' | 'keys' | 'relay' | 'maxVersion'>> & Pick<SenderOptions, 'keys' | 'relay' | 'maxVersion'>;
  /** The receiver's public key from the accept, once known. */
  #peerKey: string | undefined;
  #accepted = false;
  #path: Via | undefined;
  #dialer = new AbortController();
  #server: net.Server | undefined;
  #conns = new Set<SenderConnection>();
  #handshaking = new Set<Wire>();
  /** Connections that arrived before the accept: no hello until we know the accepted key (§T10.5). */
  #held = new Map<net.Socket, { path: Via; timer: NodeJS.Timeout }>();
  #states: FileState[];
  #progress: ProgressTracker;
  #bucket: TokenBucket | undefined;
  #streams: PQueue;
  #bytes = 0;
  #verified = 0;
  #failures: TransferError[] = [];
  /** Reset when the first receiver connects, so waiting for an answer does not count. */
  #startedAt = performance.now();
  #everAdmitted = false;
  #finished = false;
  #peerTimer: NodeJS.Timeout | undefined;
  #resolve!: (r: TransferResult) => void;
  #reject!: (e: TransferError) => void;

  constructor(opts: SenderOptions) {
    super();
    this.#opts = { ...SENDER_DEFAULTS, ...stripUndefined(opts) };
    if (this.#opts.chunkSize < 1 || this.#opts.chunkSize > MAX_CHUNK_BYTES) throw new RangeError('chunkSize must be 1..1048576');
    this.#states = opts.files.map(() => ({ verified: false }));
    this.#progress = new ProgressTracker(opts.files.map((f) => f.size));
    this.#bucket = rateBucket(this.#opts.limitRate, this.#opts.chunkSize);
    this.#streams = opts.queue ?? new PQueue({ concurrency: Math.max(1, this.#opts.parallel) });
    this.done = new Promise<TransferResult>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.done.catch(() => {}); // callers that never await done must not crash the process
  }

  /** Starts listening (for direct connections); resolves the bound port, 0 if direct is off. */
  async listen(): Promise<number> {
    if (this.#opts.files.length === 0) this.#finish();
    if (!this.#opts.via.includes('direct')) return 0;
    const server = net.createServer((socket) => this.#onSocket(socket, 'direct'));
    this.#server = server;
    const port = await listenWithFallback(server, this.#opts.host, this.#opts.port);
    server.on('error', (err) => this.#finish(new TransferError('io_error', `listener failed: ${err.message}`, { cause: err })));
    return port;
  }

  /**
   * What to put in the offer's `via` (§T8): the paths this side uses, when it does not use all
   * of them; undefined (no field) otherwise.
   */
  get signalVia(): Via[] | undefined {
    return signalOf(this.#opts.via);
  }

  /** The path of the first connection that carried data (§T8). */
  get path(): Via | undefined {
    return this.#path;
  }

  /**
   * The receiver accepted: remember its key, and reach it ourselves if it does not reach us —
   * a reverse connection to its candidates at once, a punched hole, the relay after relayDelayMs.
   */
  accepted(info: { key?: string; candidates?: Candidate[]; observed?: string; relay?: Candidate; via?: unknown }): void {
    this.#peerKey = info.key;
    this.#accepted = true;
    this.#waitForFirstPeer();
    for (const [socket, { path, timer }] of this.#held) {
      clearTimeout(timer);
      this.#held.delete(socket);
      this.#onSocket(socket, path);
    }
    this.#opts.relay = relayAt(this.#opts.relay, info.relay);
    // §T8: the receiver said which paths it uses (`via` in the accept): we go only there.
    const via = sharedPaths(this.#opts.via, info.via);
    if (via.length === 0) {
      const theirs = peerPaths(info.via)!.join(', ');
      return this.#finish(new TransferError('unreachable', `the receiver uses only ${theirs} and this side only ${this.#opts.via.join(', ')}: no path in common`, { hint: 'paths' }));
    }
    const signal = this.#dialer.signal;
    if (via.includes('reverse')) {
      const targets = withObserved(info.candidates ?? [], info.observed ?? '');
      // Like Happy Eyeballs: the receiver's direct attempt gets a short head start.
      const headStart = via.includes('direct') ? REVERSE_HEAD_START_MS : 0;
      if (targets.length > 0) void this.#dialLoop(headStart, () => this.#dialReverse(targets, signal), signal);
    }
    if (via.includes('punch') && this.#opts.relay) void this.#dialLoop(0, () => this.#dialPunch(signal), signal);
    if (via.includes('relay') && this.#opts.relay) {
      const delay = via.length === 1 ? 0 : this.#opts.relayDelayMs;
      void this.#dialLoop(delay, () => this.#dialRelay(signal), signal);
    }
  }

  // While nobody is connected, try `attempt` again with backoff (also after a connection drops).
  async #dialLoop(delayMs: number, attempt: () => Promise<void>, signal: AbortSignal): Promise<void> {
    await sleep(delayMs, undefined, { signal }).catch(() => {});
    for (let wait = 500; !signal.aborted; wait = Math.min(wait * 2, 4000)) {
      if (this.#conns.size === 0) await attempt().catch(() => {});
      await sleep(wait, undefined, { signal }).catch(() => {});
    }
  }

  async #dialReverse(targets: Candidate[], signal: AbortSignal): Promise<void> {
    await Promise.allSettled(
      targets.map(
        (t) =>
          new Promise<void>((resolve, reject) => {
            const socket = net.connect({ host: t.host, port: t.port });
            const timer = setTimeout(() => socket.destroy(new Error('timed out')), this.#opts.handshakeTimeoutMs);
            const stop = (): void => void socket.destroy(new Error('aborted'));
            signal.addEventListener('abort', stop, { once: true });
            socket.once('connect', () => {
              clearTimeout(timer);
              signal.removeEventListener('abort', stop);
              this.#onSocket(socket, 'reverse');
              resolve();
            });
            socket.once('error', (err) => {
              clearTimeout(timer);
              signal.removeEventListener('abort', stop);
              reject(err);
            });
          }),
      ),
    );
  }

  async #dialRelay(signal: AbortSignal): Promise<void> {
    const socket = await relayConnect(this.#opts.relay!, { transferId: this.#opts.transferId, token: this.#opts.token, role: 'sender', signal });
    this.#onSocket(socket, 'relay');
  }

  async #dialPunch(signal: AbortSignal): Promise<void> {
    const socket = await punch(this.#opts.relay!, { transferId: this.#opts.transferId, token: this.#opts.token, role: 'sender', signal });
    this.#onSocket(socket, 'punch');
  }

  /** Stops listening and drops every connection; `done` rejects with 'aborted' if unfinished. */
  close(): void {
    this.#finish(new TransferError('aborted', 'the sender cancelled the transfer'));
  }

  #onSocket(socket: net.Socket, path: Via): void {
    if (this.#finished) return void socket.destroy();
    if (!this.#accepted && this.#opts.keys) return this.#hold(socket, path);
    const remote = path === 'relay' ? 'the relay' : formatRemote(socket);
    const wire = new Wire(socket);
    this.#handshaking.add(wire);
    const { transferId, token, keys, maxVersion } = this.#opts;
    const secret = { transferId, token, maxVersion, keys: keys ? { own: keys, peer: this.#peerKey } : undefined };
    acceptHandshake(wire, secret, this.#opts.handshakeTimeoutMs)
      .finally(() => this.#handshaking.delete(wire))
      .then(
        () => this.#admit(wire, path),
        (err: Refusal) => {
          if (!this.#finished) this.emit('refused', { remote, reason: err.reason });
        },
      );
  }

  // §T10.5: before the accept nobody can prove the accepted key, so a connection waits, unanswered.
  #hold(socket: net.Socket, path: Via): void {
    const timer = setTimeout(() => {
      this.#held.delete(socket);
      socket.destroy();
    }, this.#opts.handshakeTimeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      this.#held.delete(socket);
    });
    socket.on('error', () => {});
    this.#held.set(socket, { path, timer });
  }

  #admit(wire: Wire, path: Via): void {
    if (this.#finished) return void wire.destroy();
    this.#path ??= path;
    clearTimeout(this.#peerTimer);
    if (!this.#everAdmitted) this.#startedAt = performance.now();
    this.#everAdmitted = true;
    this.#conns.add(new SenderConnection(wire, this.#hooks()));
    this.emit('connected', { remote: path === 'relay' ? 'the relay' : wire.remote, path, version: wire.version });
  }

  #hooks(): ConstructorParameters<typeof SenderConnection>[1] {
    return {
      files: this.#opts.files,
      chunkSize: this.#opts.chunkSize,
      drainTimeoutMs: this.#opts.drainTimeoutMs,
      idleTimeoutMs: this.#opts.idleTimeoutMs,
      bucket: this.#bucket,
      streams: this.#streams,
      onServing: (i, offset) => this.#onServing(i, offset),
      onServed: (i, served) => this.#onServed(i, served),
      onBytes: (n) => (this.#bytes += n),
      onAck: (i, bytes) => this.emit('progress', this.#progress.update(i, bytes)),
      onVerified: (i, sha) => this.#onVerified(i, sha),
      onFileFailed: (i, err) => this.#onFileFailed(i, err),
      onFatal: (err) => this.#finish(err),
      onClose: (conn) => this.#onClose(conn),
    };
  }

  #onServing(index: number, offset: number): void {
    const state = this.#states[index]!;
    state.startedAt ??= performance.now();
    state.resumedFrom ??= offset;
  }

  #onServed(index: number, served: Served): void {
    const state = this.#states[index]!;
    state.sha256 = served.sha256;
    if (state.resumedFrom === undefined || state.resumedFrom > served.offset) state.resumedFrom = served.offset;
  }

  #onVerified(index: number, sha256: string): void {
    const state = this.#states[index]!;
    if (state.verified || state.failed) return;
    if (state.sha256 !== sha256) {
      return this.#finish(new TransferError('checksum_mismatch', `receiver verified ${this.#opts.files[index]!.path} with a different SHA-256`));
    }
    state.verified = true;
    this.#verified++;
    this.emit('progress', this.#progress.update(index, this.#opts.files[index]!.size)); // v4 sends no last ack
    this.emit('file', this.#result(index));
    this.#maybeDone();
  }

  // §T7: an error naming a file fails that file only; the others go on.
  #onFileFailed(index: number, err: TransferError): void {
    const state = this.#states[index]!;
    if (state.verified || state.failed) return;
    state.failed = err;
    this.#failures.push(err);
    this.emit('fileFailed', { index, path: this.#opts.files[index]!.path, error: err });
    this.#maybeDone();
  }

  // Done once every file is verified or failed; failures make `done` reject (nothing more to tell the peer).
  #maybeDone(): void {
    if (this.#verified + this.#failures.length < this.#states.length) return;
    if (this.#failures.length === 0) return this.#finish();
    this.#finish(filesFailed(this.#failures, this.#opts.files.map((f) => f.path), this.#states.length), false);
  }

  // After the accept the receiver connects (or, refusing, connects to say so); one that never does is gone.
  #waitForFirstPeer(): void {
    const ms = this.#opts.firstPeerTimeoutMs;
    if (ms <= 0 || this.#everAdmitted || this.#finished) return;
    clearTimeout(this.#peerTimer);
    this.#peerTimer = setTimeout(() => {
      if (!this.#everAdmitted) this.#finish(new TransferError('peer_gone', `the receiver accepted but did not connect within ${ms} ms`));
    }, ms);
    this.#peerTimer.unref();
  }

  #result(index: number): FileResult {
    const file = this.#opts.files[index]!;
    const state = this.#states[index]!;
    const elapsedMs = performance.now() - (state.startedAt ?? this.#startedAt);
    return { index, path: file.path, savedAs: '', size: file.size, sha256: state.sha256!, resumedFrom: state.resumedFrom ?? 0, elapsedMs };
  }

  #onClose(conn: SenderConnection): void {
    this.#conns.delete(conn);
    if (this.#finished || this.#conns.size > 0 || this.#opts.peerTimeoutMs <= 0) return;
    clearTimeout(this.#peerTimer);
    this.#peerTimer = setTimeout(() => {
      this.#finish(new TransferError('peer_gone', `the receiver did not come back within ${this.#opts.peerTimeoutMs} ms`));
    }, this.#opts.peerTimeoutMs);
    this.#peerTimer.unref();
  }

  #finish(err?: TransferError, tellPeer = true): void {
    if (this.#finished) return;
    this.#finished = true;
    clearTimeout(this.#peerTimer);
    this.#server?.close();
    this.#dialer.abort();
    const tell = err && tellPeer && !err.fromPeer ? ({ type: 'error', code: err.code, message: err.message, file: err.file } as const) : undefined;
    for (const conn of this.#conns) conn.wire.end(tell);
    for (const wire of this.#handshaking) wire.destroy();
    for (const [socket, { timer }] of this.#held) {
      clearTimeout(timer);
      socket.destroy();
    }
    this.#held.clear();
    this.#conns.clear();
    if (!err) {
      const files = this.#states.map((_, i) => this.#result(i));
      this.#resolve({ files, bytes: this.#bytes, elapsedMs: performance.now() - this.#startedAt, path: this.#path });
      return;
    }
    if (this.listenerCount('error') > 0) this.emit('error', err);
    this.#reject(toTransferError(err));
  }
}

async function listenWithFallback(server: net.Server, host: string, port: number): Promise<number> {
  try {
    return await listenOn(server, host, port);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (host !== '::' || (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL')) throw err;
    return listenOn(server, '0.0.0.0', port);
  }
}

function listenOn(server: net.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
