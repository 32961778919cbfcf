// One peer connection: length-prefixed frames (src/protocol/frame.ts) carrying control or DATA
// payloads, with backpressure helpers (habit 8) and reference-counted read pausing.
import { hostPort } from '../protocol/address.js';
import net, { type Socket } from 'node:net';
import { FrameDecoder } from '../protocol/frame.js';
import { BundleBuilder, MAX_BUNDLED_PAYLOAD, decodeBundle } from './bundle.js';
import { KIND_BUNDLE, KIND_CONTROL, KIND_DATA, KIND_SEALED_DATA, MAX_CONTROL_BYTES, dataBody, readDataHeader, type DataHeader } from './chunk.js';
import { TransferError } from './errors.js';
import { DirectFrameReader } from './direct-reader.js';
import { discard } from './free-buffer.js';
import { PooledFrameReader } from './frame-reader.js';
import { parseControl, type ControlMessage } from './messages.js';
import { Opener, Sealer, TAG_BYTES } from './seal.js';

/** Callbacks a Wire's owner installs. */
export interface WireHandlers {
  control(msg: ControlMessage): void;
  /** `release` must be called once `data` is no longer needed: its memory is then reused or freed, and `data` must not be touched again. */
  data(header: DataHeader, data: Buffer, release: () => void): void;
  close(err: TransferError | undefined): void;
}

/** The first transfer protocol version with BUNDLE frames (protocol.md §T9.1). */
export const BUNDLE_VERSION = 4;

type WriteDone = (err?: Error | null) => void;
const NOOP = (): void => {};
const NOOP_HANDLERS: WireHandlers = { control() {}, data() {}, close() {} };

// After end(): frames are ignored but the owner still learns about the close.
function closeOnly(handlers: WireHandlers): WireHandlers {
  return { ...NOOP_HANDLERS, close: (err) => handlers.close(err) };
}

/** A framed, backpressure-aware peer connection. */
export class Wire {
  readonly socket: Socket;
  #remote: string | undefined;
  handlers: WireHandlers = NOOP_HANDLERS;
  #decoder: FrameDecoder;
  #reader: PooledFrameReader | undefined;
  #direct: DirectFrameReader | undefined;
  #holds = 0;
  #closed = false;
  #ending = false;
  #corked = false;
  #error: TransferError | undefined;
  #sealer: Sealer | undefined;
  #opener: Opener | undefined;
  #version = 1;
  #outbox = new BundleBuilder();
  #flushScheduled = false;
  #roomWaiter: { bytes: number; timer: NodeJS.Timeout; resolve(): void; reject(err: TransferError): void } | undefined;

  /**
   * Wraps a socket; frames above `maxFrameBytes` are a fatal protocol error. With `direct`, the
   * socket was created with `direct`'s `onread` (see Wire.connect) and reads land in its buffers.
   */
  constructor(socket: Socket, maxFrameBytes = MAX_CONTROL_BYTES, direct?: DirectFrameReader) {
    this.socket = socket;
    this.#decoder = new FrameDecoder({ maxFrameBytes });
    this.#direct = direct;
    socket.setNoDelay(true);
    if (!direct) {
      socket.on('data', (chunk: Buffer) => this.#onBytes(chunk));
      socket.resume(); // a socket handed over paused (e.g. by the relay dialer) starts flowing
    }
    socket.on('error', (err) => this.#fail(peerGone(err)));
    socket.on('close', () => this.#onClose());
  }

  /**
   * Connects to `host:port` with the socket reading straight into reusable frame buffers
   * (no allocation or copy per read): the side that receives DATA dials with this.
   */
  static connect(opts: { host: string; port: number }, maxFrameBytes = MAX_CONTROL_BYTES): Wire {
    const reader = new DirectFrameReader(maxFrameBytes);
    let onRead = (_n: number): void => {};
    const socket = net.connect({
      host: opts.host,
      port: opts.port,
      onread: { buffer: () => reader.target(), callback: (n: number) => (onRead(n), true) },
    });
    const wire = new Wire(socket, maxFrameBytes, reader);
    onRead = (n) => wire.#onRead(n);
    return wire;
  }

  /**
   * Wraps a socket whose reads already land in `reader` (a relay leg, see DirectLeg); `route`
   * points those reads at this wire. `early` frames, read before it existed, are dispatched
   * first, once its owner had the turn to install its handlers; reading waits until then.
   */
  static adopt(socket: Socket, reader: DirectFrameReader, route: (onRead: (n: number) => void) => void, early: Buffer[] = []): Wire {
    const wire = new Wire(socket, reader.maxFrameBytes, reader);
    route((n) => wire.#onRead(n));
    if (early.length === 0) return wire;
    socket.pause();
    setImmediate(() => {
      for (const frame of early) wire.#dispatch(frame, NOOP);
      if (!wire.closed) socket.resume();
    });
    return wire;
  }

  /** "host:port" of the peer (known once connected). */
  get remote(): string {
    if (this.#remote === undefined && this.socket.remoteAddress) this.#remote = formatRemote(this.socket);
    return this.#remote ?? '?';
  }

  /** True once the socket closed or was destroyed. */
  get closed(): boolean {
    return this.#closed || this.socket.destroyed;
  }

  /**
   * Raises the frame size limit for a direction that carries DATA; only valid between frames
   * (after the handshake). Large frames are then assembled into reused buffers.
   */
  acceptDataFrames(maxFrameBytes: number): void {
    if (this.#direct) {
      if (this.#direct.bufferedBytes > 0) throw new TransferError('protocol', 'unexpected bytes during the handshake');
      this.#direct.maxFrameBytes = maxFrameBytes;
      return;
    }
    if (this.#decoder.bufferedBytes > 0) throw new TransferError('protocol', 'unexpected bytes during the handshake');
    this.#reader = new PooledFrameReader(maxFrameBytes);
  }

  /**
   * From now on every frame payload is sealed on the way out and opened on the way in (§T9).
   * From `version` 4 on, small payloads written by one event (a read, a timer) and the promise
   * continuations it sets off are sealed together as one BUNDLE frame, and BUNDLE frames are accepted. Called right after the
   * handshake, between frames.
   */
  protect(sendKey: Buffer, receiveKey: Buffer, version: number): void {
    this.#sealer = new Sealer(sendKey);
    this.#opener = new Opener(receiveKey);
    this.#version = version;
    if (this.#direct) this.#direct.maxFrameBytes += TAG_BYTES;
    else if (this.#reader) this.#reader = new PooledFrameReader(this.#reader.maxFrameBytes + TAG_BYTES);
    else this.#decoder = new FrameDecoder({ maxFrameBytes: this.#decoder.maxFrameBytes + TAG_BYTES });
  }

  /** True once frames are sealed. */
  get protected(): boolean {
    return this.#sealer !== undefined;
  }

  /** The transfer protocol version agreed in the handshake (§T2.3); 1 until then. */
  get version(): number {
    return this.#version;
  }

  /** True once small payloads are sealed together (v4). */
  get bundles(): boolean {
    return this.#version >= BUNDLE_VERSION;
  }

  /** Sends one control message; returns socket.write()'s verdict. */
  sendControl(msg: ControlMessage): boolean {
    if (this.closed || this.#ending) return false;
    const json = Buffer.from(JSON.stringify(msg), 'utf8');
    const frame = Buffer.allocUnsafe(5 + json.length);
    frame.writeUInt32BE(1 + json.length, 0);
    frame[4] = KIND_CONTROL;
    json.copy(frame, 5);
    return this.#send(frame);
  }

  /**
   * Writes a ready-made frame; `done` runs once `frame` may be reused: when its bytes left (or
   * failed to leave) the process or, on a sealed connection, as soon as they were sealed or
   * copied into a bundle.
   */
  write(frame: Buffer, done?: WriteDone): boolean {
    if (this.closed || this.#ending) {
      if (done) queueMicrotask(() => done(new Error('connection closed')));
      return false;
    }
    return this.#send(frame, done);
  }

  #send(frame: Buffer, done?: WriteDone): boolean {
    if (!this.#sealer) {
      this.#cork();
      if (!done) return this.socket.write(frame, this.#afterWrite);
      return this.socket.write(frame, (err) => {
        done(err);
        this.#afterWrite();
      });
    }
    const payload = frame.subarray(4);
    if (this.bundles && payload.length <= MAX_BUNDLED_PAYLOAD) return this.#bundle(payload, done);
    this.#flush(); // what was written before goes first
    this.#cork();
    const ok = this.#writeSealed(payload, this.#afterWrite);
    if (done) queueMicrotask(() => done()); // the ciphertext is a copy
    return ok;
  }

  // v4: queued until the current event and its promise continuations are done (a tick queued from
  // a continuation runs once they all have), or until the bundle is full, then sealed as one frame:
  // many files' control messages and small DATA chunks cost one seal and one write. A full bundle
  // leaves at once (not corked until the continuations end), so the peer can start on it while
  // we go on serving.
  #bundle(payload: Buffer, done: WriteDone | undefined): boolean {
    if (!this.#outbox.fits(payload)) this.#flush();
    this.#outbox.add(payload);
    if (done) queueMicrotask(() => done()); // copied into the bundle
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      process.nextTick(this.#flushLater);
    }
    return this.socket.writableLength < this.socket.writableHighWaterMark;
  }

  #flushLater = (): void => {
    this.#flushScheduled = false;
    this.#flush();
  };

  // Seals and writes what the outbox holds (the ciphertext is a copy: the outbox is free again).
  #flush(): void {
    const payload = this.#outbox.take();
    if (!payload || this.closed) return;
    this.socket.cork();
    this.#writeSealed(payload, this.#afterWrite);
    this.socket.uncork();
  }

  // The payload, sealed, under a new length prefix (which is the AAD). The ciphertext buffers
  // are freed as soon as the socket is done with them (see free-buffer.ts).
  #writeSealed(payload: Buffer, done: WriteDone): boolean {
    const header = Buffer.allocUnsafe(4);
    header.writeUInt32BE(payload.length + TAG_BYTES, 0);
    const parts = this.#sealer!.seal([payload], header);
    this.socket.write(header);
    for (let i = 0; i < parts.length - 1; i++) this.socket.write(parts[i]!);
    return this.socket.write(parts[parts.length - 1]!, (err) => {
      for (let i = 0; i < parts.length - 1; i++) discard(parts[i]!);
      done(err);
    });
  }

  /**
   * Resolves once at most `bytes` wait in this process's socket buffer (so the next write never
   * finds the socket idle); rejects when the socket closes, or after `timeoutMs` without room
   * (the peer stopped reading; the connection is then destroyed). One waiter at a time.
   */
  room(bytes: number, timeoutMs: number): Promise<void> {
    if (this.closed) return Promise.reject(this.#error ?? peerGone());
    if (this.socket.writableLength <= bytes) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#roomWaiter = undefined;
        const err = new TransferError('timeout', `peer ${this.remote} stopped reading for ${timeoutMs} ms`);
        reject(err);
        this.destroy(err);
      }, timeoutMs);
      this.#roomWaiter = { bytes, timer, resolve, reject };
    });
  }

  // Write callbacks run after the socket's buffered length dropped: wake a room() waiter.
  #afterWrite = (): void => {
    const waiter = this.#roomWaiter;
    if (!waiter) return;
    if (this.closed) {
      this.#roomWaiter = undefined;
      clearTimeout(waiter.timer);
      waiter.reject(this.#error ?? peerGone());
    } else if (this.socket.writableLength <= waiter.bytes) {
      this.#roomWaiter = undefined;
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
  };

  // Coalesces every write of this tick into one writev (many small control frames per file).
  #cork(): void {
    if (this.#corked) return;
    this.#corked = true;
    this.socket.cork();
    process.nextTick(() => {
      this.#corked = false;
      this.socket.uncork();
    });
  }

  /** Pauses reading until every returned release function has been called. */
  hold(): () => void {
    if (this.#holds++ === 0 && !this.#ending) this.socket.pause();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.#holds === 0 && !this.closed) this.socket.resume();
    };
  }

  /**
   * Sends an optional last control message, then half-closes. Incoming bytes are read and dropped
   * from now on, so closing never resets the connection (which could discard our last message).
   */
  end(last?: ControlMessage, lingerMs = 2000): Promise<void> {
    if (this.closed || this.#ending) return Promise.resolve();
    if (last) this.sendControl(last);
    this.#flush();
    this.#ending = true;
    this.handlers = closeOnly(this.handlers);
    // Resolves once everything written (our last `verified`, an `error`) was handed to the kernel
    // and the FIN queued after it (§T4: a peer flushes before it closes), or the socket closed.
    const flushed = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, lingerMs);
      timer.unref();
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.socket.once('finish', done);
      this.socket.once('close', done);
    });
    this.socket.end();
    this.socket.resume();
    setTimeout(() => this.socket.destroy(), lingerMs).unref();
    return flushed;
  }

  /** Closes at once; `err` is what the owner's close handler will see. */
  destroy(err?: TransferError): void {
    if (err && !this.#error) this.#error = err;
    this.socket.destroy();
  }

  #onBytes(chunk: Buffer): void {
    if (this.#closed || this.#ending) return;
    try {
      if (this.#reader) this.#pushPooled(this.#reader, chunk);
      else for (const payload of this.#decoder.push(chunk)) this.#dispatch(payload, NOOP);
    } catch (err) {
      const e = err instanceof TransferError ? err : new TransferError('protocol', (err as Error).message, { cause: err });
      this.#fail(e);
    }
  }

  // Node allocates a buffer for every socket read (64 KiB); it is freed as soon as no frame
  // handed out still refers to it (see free-buffer.ts), instead of piling up until a GC.
  #pushPooled(reader: PooledFrameReader, chunk: Buffer): void {
    let views = 0;
    let pushed = false;
    try {
      reader.push(chunk, (payload, release) => {
        if (payload.buffer !== chunk.buffer) return this.#dispatch(payload, release);
        views++; // a zero-copy frame inside this read
        let released = false;
        this.#dispatch(payload, () => {
          if (released) return;
          released = true;
          release();
          if (--views === 0 && pushed) discard(chunk);
        });
      });
    } finally {
      pushed = true;
      if (views === 0) discard(chunk);
    }
  }

  // onread callback of a Wire.connect socket: `n` bytes landed in the direct reader's buffer.
  #onRead(n: number): void {
    if (this.#closed || this.#ending) return;
    try {
      this.#direct!.read(n, this.#dispatchBound);
    } catch (err) {
      const e = err instanceof TransferError ? err : new TransferError('protocol', (err as Error).message, { cause: err });
      this.#fail(e);
    }
  }

  #dispatchBound = (payload: Buffer, release: () => void): void => this.#dispatch(payload, release);

  #dispatch(sealed: Buffer, release: () => void): void {
    if (this.closed || this.#ending) return release();
    if (!this.#opener) return this.#dispatchPlain(sealed, release);
    const header = Buffer.allocUnsafe(4);
    header.writeUInt32BE(sealed.length, 0);
    let plain: Buffer;
    try {
      plain = this.#opener.open(sealed, header);
    } finally {
      release(); // the plaintext is a copy
    }
    if (plain[0] === KIND_BUNDLE && this.bundles) return this.#dispatchBundle(plain);
    this.#dispatchPlain(plain, () => discard(plain)); // once its owner is done with it (see free-buffer.ts)
  }

  // Each entry is handed out as if it had come in a frame of its own; the bundle's memory is
  // discarded once every entry was released.
  #dispatchBundle(plain: Buffer): void {
    const entries = decodeBundle(plain);
    let held = entries.length;
    for (const entry of entries) {
      let released = false;
      this.#dispatchPlain(entry, () => {
        if (released) return;
        released = true;
        if (--held === 0) discard(plain);
      });
    }
  }

  #dispatchPlain(payload: Buffer, release: () => void): void {
    if (this.closed || this.#ending) return release();
    const kind = payload[0];
    if (kind === KIND_DATA || kind === KIND_SEALED_DATA) {
      let header: DataHeader;
      try {
        // v1 chunks carry a CRC-32 and travel in plaintext; v3 chunks only inside sealed frames.
        if ((kind === KIND_SEALED_DATA) !== (this.#opener !== undefined)) {
          throw new TransferError('protocol', `DATA kind 0x0${kind} on a ${this.#opener ? 'sealed' : 'plaintext'} connection`);
        }
        header = readDataHeader(payload);
      } catch (err) {
        release();
        throw err;
      }
      return this.handlers.data(header, dataBody(payload), release);
    }
    try {
      if (kind === KIND_CONTROL) this.handlers.control(parseControl(payload.subarray(1)));
      else throw new TransferError('protocol', `unknown payload kind 0x${(kind ?? 0).toString(16)}`);
    } finally {
      release();
    }
  }

  #fail(err: TransferError): void {
    if (!this.#error) this.#error = err;
    this.socket.destroy();
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#afterWrite();
    this.handlers.close(this.#error);
  }
}

/** The canonical 'connection lost' error. */
export function peerGone(cause?: unknown): TransferError {
  const detail = cause instanceof Error ? `: ${cause.message}` : '';
  return new TransferError('peer_gone', `connection to the peer was lost${detail}`, { cause });
}

/** "host:port" or "[v6]:port" of the socket's peer. */
export function formatRemote(socket: Socket): string {
  const raw = socket.remoteAddress ?? '?';
  const host = raw.startsWith('::ffff:') ? raw.slice(7) : raw; // an IPv4 peer on a dual-stack listener
  return hostPort(host, socket.remotePort ?? '?');
}
