// A plain TCP connection to the relay whose reads land in a DirectFrameReader from its first
// byte: the relay's replies are read as frames through it, and the Wire made afterwards keeps the
// same reader, so DATA that comes through the relay is read as on a direct connection, with no
// buffer allocated and copied per read (docs/benchmarks.md, "both relays on a quiet machine").
import type { Socket } from 'node:net';
import { hostPort } from '../protocol/address.js';
import { encodeJsonFrame } from '../protocol/frame.js';
import { MAX_CONTROL_BYTES } from './chunk.js';
import { DirectFrameReader } from './direct-reader.js';
import { TransferError } from './errors.js';
import { reach } from './tcp-connect.js';
import { Wire } from './wire.js';

export class DirectLeg {
  readonly socket: Socket;
  readonly #reader: DirectFrameReader;
  readonly #route: (to: (n: number) => void) => void;
  /** Frames read and not yet taken by ask(). */
  #frames: Buffer[] = [];
  #failure: TransferError | undefined;
  #wake: (() => void) | undefined;
  readonly #onClose = (): void => this.#fail(new TransferError('unreachable', 'the relay closed the connection'));
  readonly #onError = (err: Error): void => this.#fail(new TransferError('unreachable', `the relay connection failed (${err.message})`));

  private constructor(socket: Socket, reader: DirectFrameReader, route: (to: (n: number) => void) => void) {
    this.socket = socket;
    this.#reader = reader;
    this.#route = route;
    route((n) => this.#read(n));
    socket.setNoDelay(true);
    socket.on('close', this.#onClose);
    socket.on('error', this.#onError);
  }

  /** Connects to `target`; rejects with `unreachable` (or `aborted`) when it cannot. */
  static async open(target: { host: string; port: number }, timeoutMs: number, signal?: AbortSignal): Promise<DirectLeg> {
    const reader = new DirectFrameReader(MAX_CONTROL_BYTES);
    let onRead = (_n: number): void => {};
    const onread = { buffer: () => reader.target(), callback: (n: number) => (onRead(n), true) };
    const socket = await reach({ ...target, onread }, `the relay at ${hostPort(target.host, target.port)}`, timeoutMs, signal);
    return new DirectLeg(socket, reader, (to) => (onRead = to));
  }

  /** Sends `request` and resolves the next frame, a JSON object; rejects (and destroys) otherwise. */
  async ask(request: object, what: string, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<Record<string, unknown>> {
    this.socket.write(encodeJsonFrame(request));
    const timer = setTimeout(() => this.#fail(new TransferError('timeout', `${what} answered nothing in time`)), opts.timeoutMs);
    const onAbort = (): void => this.#fail(new TransferError('aborted', 'transfer aborted'));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.signal?.aborted) onAbort();
    try {
      while (this.#frames.length === 0 && !this.#failure) await new Promise<void>((resolve) => (this.#wake = resolve));
      if (this.#frames.length === 0) throw this.#failure!;
      return parseReply(this.#frames.shift()!, what);
    } catch (err) {
      this.socket.destroy();
      throw err;
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * The Wire over this connection, reading through the same reader. Frames already read past the
   * relay's last reply (the sender's `hello` can come in the same read as `ok`) go to it first.
   */
  wire(): Wire {
    this.socket.off('close', this.#onClose);
    this.socket.off('error', this.#onError);
    if (this.#failure) {
      this.socket.destroy();
      throw this.#failure;
    }
    return Wire.adopt(this.socket, this.#reader, this.#route, this.#frames.splice(0));
  }

  #read(n: number): void {
    try {
      this.#reader.read(n, (payload, release) => {
        this.#frames.push(Buffer.from(payload));
        release();
      });
    } catch (err) {
      this.#fail(err instanceof TransferError ? err : new TransferError('protocol', (err as Error).message));
    }
    this.#wake?.();
  }

  #fail(err: TransferError): void {
    this.#failure ??= err;
    this.#wake?.();
  }
}

function parseReply(frame: Buffer, what: string): Record<string, unknown> {
  let reply: unknown;
  try {
    reply = JSON.parse(frame.toString('utf8'));
  } catch {
    throw new TransferError('protocol', `${what} sent a malformed reply`);
  }
  if (!reply || typeof reply !== 'object' || Array.isArray(reply)) throw new TransferError('protocol', `${what} sent a malformed reply`);
  return reply as Record<string, unknown>;
}
