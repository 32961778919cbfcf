// One authenticated connection on the sender: serves pipelined `get`s in order, relays acks,
// verifications and errors to the Sender.
import { TransferError, isFileFailure } from './errors.js';
import type { ControlMessage, GetMessage } from './messages.js';
import { READ_AHEAD, sendFile, type Served } from './send-file.js';
import { SlotPool } from './slot-pool.js';
import type { TokenBucket } from './token-bucket.js';
import type { Wire } from './wire.js';
import type PQueue from 'p-queue';
import type { LocalFile } from './offer.js';

/** `get`s a connection may have waiting to be served (the reference receiver keeps at most 64). */
export const MAX_QUEUED_GETS = 1024;

/** What a connection needs from its Sender. */
export interface SenderHooks {
  files: readonly LocalFile[];
  chunkSize: number;
  drainTimeoutMs: number;
  /** Silence from the receiver, while we wait on it, before the connection is dropped (§T4). */
  idleTimeoutMs: number;
  bucket: TokenBucket | undefined;
  /** Bounds how many files stream at once across the Sender's connections. */
  streams: PQueue;
  onServing(index: number, offset: number): void;
  onServed(index: number, served: Served): void;
  onBytes(n: number): void;
  onAck(index: number, bytes: number): void;
  onVerified(index: number, sha256: string): void;
  /** One file failed (ours, or the peer's `error` naming it); the transfer goes on (§T7). */
  onFileFailed(index: number, err: TransferError): void;
  /** A fatal error: ours (tell the peer) or the peer's. */
  onFatal(err: TransferError): void;
  onClose(conn: SenderConnection): void;
}

/** Serves one authenticated receiver connection. */
export class SenderConnection {
  readonly wire: Wire;
  #hooks: SenderHooks;
  #queue: GetMessage[] = [];
  #serving = false;
  #pool: SlotPool;
  #idle: NodeJS.Timeout | undefined;

  constructor(wire: Wire, hooks: SenderHooks) {
    this.wire = wire;
    this.#hooks = hooks;
    this.#pool = new SlotPool(hooks.chunkSize, READ_AHEAD + 3); // read ahead, one being hashed, two in the socket
    wire.handlers = {
      control: (msg) => this.#onControl(msg),
      data: () => this.#protocolError('receiver sent DATA'),
      close: () => {
        clearTimeout(this.#idle);
        hooks.onClose(this);
      },
    };
    this.#waitForReceiver();
  }

  /**
   * §T4: while we have nothing to send (no `get` being served), the receiver must say something
   * within idleTimeoutMs (a `get`, an `ack`, a `verified`; a receiver that is still finishing
   * sends an `ack` at least every 15 s). A connection that went silent, as one whose peer
   * vanished without a FIN does, is dropped: then the receiver reconnects, or peerTimeoutMs ends it.
   */
  #waitForReceiver(): void {
    clearTimeout(this.#idle);
    if (this.#serving || this.wire.closed || this.#hooks.idleTimeoutMs <= 0) return;
    const ms = this.#hooks.idleTimeoutMs;
    this.#idle = setTimeout(() => this.wire.destroy(new TransferError('peer_gone', `the receiver said nothing for ${ms} ms`)), ms);
    this.#idle.unref();
  }

  #onControl(msg: ControlMessage): void {
    this.#waitForReceiver();
    const files = this.#hooks.files;
    if ('file' in msg && msg.file !== undefined && msg.file >= files.length) {
      return this.#protocolError(`file index ${msg.file} is not in the offer`);
    }
    switch (msg.type) {
      case 'get':
        // A receiver must not grow our memory without bound (protocol.md §T4).
        if (this.#queue.length >= MAX_QUEUED_GETS) return this.#protocolError(`more than ${MAX_QUEUED_GETS} get requests waiting on one connection`);
        this.#queue.push(msg);
        if (!this.#serving) void this.#serveAll();
        return;
      case 'ack':
        return this.#hooks.onAck(msg.file, Math.min(msg.bytes, files[msg.file]!.size));
      case 'verified':
        return this.#hooks.onVerified(msg.file, msg.sha256);
      case 'error': {
        const err = new TransferError(msg.code, msg.message, { fromPeer: true, file: msg.file });
        return isFileFailure(err) ? this.#hooks.onFileFailed(err.file!, err) : this.#hooks.onFatal(err);
      }
      default:
        return this.#protocolError(`unexpected ${msg.type} message`);
    }
  }

  async #serveAll(): Promise<void> {
    this.#serving = true;
    clearTimeout(this.#idle);
    for (let req = this.#queue.shift(); req && !this.wire.closed; req = this.#queue.shift()) {
      try {
        const get = req;
        await this.#hooks.streams.add(() => {
          // Queued while the peer left or the Sender finished: nothing to send.
          if (this.wire.closed) throw new TransferError('peer_gone', 'the receiver went away');
          this.#hooks.onServing(get.file, get.offset);
          return sendFile(get.file, this.#hooks.files[get.file]!, get, {
            wire: this.wire,
            pool: this.#pool,
            drainTimeoutMs: this.#hooks.drainTimeoutMs,
            bucket: this.#hooks.bucket,
            onBytes: (n) => this.#hooks.onBytes(n),
            onServed: (served) => this.#hooks.onServed(get.file, served),
          });
        });
      } catch (err) {
        const e = err as TransferError;
        if (e.code === 'peer_gone' || (e.code === 'timeout' && this.wire.closed)) break; // the receiver reconnects
        if (!isFileFailure(e)) {
          this.#hooks.onFatal(e);
          break;
        }
        // §T7: this file failed (gone, changed, unreadable); the receiver is told and the others go on.
        this.wire.sendControl({ type: 'error', code: e.code, message: e.message, file: e.file });
        this.#hooks.onFileFailed(e.file!, e);
      }
    }
    this.#serving = false;
    this.#waitForReceiver();
  }

  #protocolError(message: string): void {
    this.#hooks.onFatal(new TransferError('protocol', message));
  }
}
