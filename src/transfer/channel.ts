// One authenticated connection on the receiver: pipelines `get`s and routes the sender's
// start/DATA/end/error frames to the file sink they belong to.
import { TransferError, isFileFailure } from './errors.js';
import type { ControlMessage } from './messages.js';
import type { FileSink, Received, SinkHooks } from './receive-file.js';
import type { DataHeader } from './chunk.js';
import { peerGone, type Wire } from './wire.js';

/** What a channel needs from its Receiver. */
export type ChannelHooks = Omit<SinkHooks, 'wire'> & {
  /** An error about the whole transfer (not one file), reported by the sender. */
  onPeerError(err: TransferError): void;
};

/** How often a channel with files in progress says something, so a sender waiting on us does not take us for gone (§T4). */
export const KEEPALIVE_MS = 15_000;

/** A receiver-side connection carrying any number of pipelined file requests. */
export class Channel {
  readonly wire: Wire;
  #hooks: ChannelHooks;
  #sinks = new Map<number, FileSink>();
  /** Files we failed while the sender was still streaming them: their DATA is dropped until their `end` or `error`. */
  #draining = new Set<number>();
  #closeError: TransferError | undefined;
  #keepalive: NodeJS.Timeout;
  #closing: Promise<void> | undefined;

  constructor(wire: Wire, hooks: ChannelHooks) {
    this.wire = wire;
    this.#hooks = hooks;
    wire.handlers = {
      control: (msg) => this.#guard(msg.type === 'error' ? undefined : fileOf(msg), () => this.#onControl(msg)),
      data: (header, data, release) => this.#guard(header.file, () => this.#onData(header, data, release), release),
      close: (err) => this.#onClose(err),
    };
    this.#keepalive = setInterval(() => this.#sayAlive(), KEEPALIVE_MS);
    this.#keepalive.unref();
  }

  // An ack of what one file in progress has on disk: true, harmless, and proof of life.
  #sayAlive(): void {
    for (const sink of this.#sinks.values()) {
      if (!sink.streaming && sink.writtenBytes === 0) continue;
      this.wire.sendControl({ type: 'ack', file: sink.job.index, bytes: sink.writtenBytes });
      return;
    }
  }

  /**
   * §T7: tells the sender that file `err.file` failed here (unless it told us); the transfer goes
   * on. If the sender may still be streaming it, its frames are dropped until its `end`.
   */
  reportFileFailure(err: TransferError, streaming: boolean): void {
    if (err.fromPeer || this.closed) return;
    this.wire.sendControl({ type: 'error', code: err.code, message: err.message, file: err.file });
    if (streaming) this.#draining.add(err.file!);
  }

  /** True once the connection is gone. */
  get closed(): boolean {
    return this.wire.closed;
  }

  /** Sends the prepared sink's request and waits for it to be verified (or to fail). */
  async fetch(sink: FileSink, get: Parameters<Wire['sendControl']>[0]): Promise<Received> {
    if (this.closed) {
      sink.fail(this.#closeError ?? peerGone());
      return sink.done;
    }
    this.#sinks.set(sink.job.index, sink);
    sink.attach({ ...this.#hooks, wire: this.wire });
    this.wire.sendControl(get);
    try {
      return await sink.done;
    } catch (err) {
      const e = err as TransferError;
      if (isFileFailure(e)) this.reportFileFailure(e, sink.streaming);
      throw err;
    } finally {
      this.#sinks.delete(sink.job.index);
    }
  }

  /** Tells the sender about a fatal error of ours (optional), then closes; resolves once our last frames were flushed. */
  close(err?: TransferError): Promise<void> {
    if (this.#closing) return this.#closing;
    clearInterval(this.#keepalive);
    const tell = err && !err.fromPeer ? ({ type: 'error', code: err.code, message: err.message, file: err.file } as const) : undefined;
    if (err) for (const sink of this.#sinks.values()) sink.fail(err);
    this.#closing = this.wire.end(tell);
    return this.#closing;
  }

  #onControl(msg: ControlMessage): void {
    if ('file' in msg && msg.file !== undefined && this.#draining.has(msg.file) && !this.#sinks.has(msg.file)) {
      if (msg.type === 'end' || msg.type === 'error') this.#draining.delete(msg.file);
      if (msg.type === 'start' || msg.type === 'end' || msg.type === 'error') return;
    }
    switch (msg.type) {
      case 'start':
        return this.#sink(msg.file).onStart(msg);
      case 'end':
        return this.#sink(msg.file).onEnd(msg);
      case 'error':
        return this.#onError(new TransferError(msg.code, msg.message, { fromPeer: true, file: msg.file }));
      default:
        throw new TransferError('protocol', `unexpected ${msg.type} message from the sender`);
    }
  }

  #onData(header: DataHeader, data: Buffer, release: () => void): void {
    if (this.#draining.has(header.file) && !this.#sinks.has(header.file)) return release();
    this.#sink(header.file).onData(header, data, release);
  }

  #onError(err: TransferError): void {
    const sink = err.file === undefined ? undefined : this.#sinks.get(err.file);
    if (sink) sink.fail(err);
    else this.#hooks.onPeerError(err);
  }

  #sink(file: number): FileSink {
    const sink = this.#sinks.get(file);
    if (!sink) throw new TransferError('protocol', `sender sent frames for file ${file}, which was not requested here`);
    return sink;
  }

  // A handler error fails that file (or, if no file is known, the whole connection).
  #guard(file: number | undefined, fn: () => void, release?: () => void): void {
    try {
      fn();
    } catch (err) {
      release?.();
      const e = err instanceof TransferError ? err : new TransferError('protocol', (err as Error).message);
      const sink = file === undefined ? undefined : this.#sinks.get(file);
      if (sink) sink.fail(e);
      else this.#hooks.onPeerError(e);
    }
  }

  #onClose(err: TransferError | undefined): void {
    clearInterval(this.#keepalive);
    this.#closeError = err && err.code !== 'protocol' ? peerGone(err) : (err ?? peerGone());
    for (const sink of this.#sinks.values()) sink.fail(this.#closeError);
  }
}

function fileOf(msg: ControlMessage): number | undefined {
  return 'file' in msg ? msg.file : undefined;
}
