// One authenticated connection on the sender: serves pipelined `get`s in order, relays acks,
// verifications and errors to the Sender.
import { TransferError } from './errors.js';
import type { ControlMessage, GetMessage } from './messages.js';
import { READ_AHEAD, sendFile, type Served } from './send-file.js';
import { SlotPool } from './slot-pool.js';
import type { TokenBucket } from './token-bucket.js';
import type { Wire } from './wire.js';
import type PQueue from 'p-queue';
import type { LocalFile } from './offer.js';

/** What a connection needs from its Sender. */
export interface SenderHooks {
  files: readonly LocalFile[];
  chunkSize: number;
  drainTimeoutMs: number;
  bucket: TokenBucket | undefined;
  /** Bounds how many files stream at once across the Sender's connections. */
  streams: PQueue;
  onServing(index: number, offset: number): void;
  onServed(index: number, served: Served): void;
  onBytes(n: number): void;
  onAck(index: number, bytes: number): void;
  onVerified(index: number, sha256: string): void;
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

  constructor(wire: Wire, hooks: SenderHooks) {
    this.wire = wire;
    this.#hooks = hooks;
    this.#pool = new SlotPool(hooks.chunkSize, READ_AHEAD + 3); // read ahead, one being hashed, two in the socket
    wire.handlers = {
      control: (msg) => this.#onControl(msg),
      data: () => this.#protocolError('receiver sent DATA'),
      close: () => hooks.onClose(this),
    };
  }

  #onControl(msg: ControlMessage): void {
    const files = this.#hooks.files;
    if ('file' in msg && msg.file !== undefined && msg.file >= files.length) {
      return this.#protocolError(`file index ${msg.file} is not in the offer`);
    }
    switch (msg.type) {
      case 'get':
        this.#queue.push(msg);
        if (!this.#serving) void this.#serveAll();
        return;
      case 'ack':
        return this.#hooks.onAck(msg.file, Math.min(msg.bytes, files[msg.file]!.size));
      case 'verified':
        return this.#hooks.onVerified(msg.file, msg.sha256);
      case 'error':
        return this.#hooks.onFatal(new TransferError(msg.code, msg.message, { fromPeer: true, file: msg.file }));
      default:
        return this.#protocolError(`unexpected ${msg.type} message`);
    }
  }

  async #serveAll(): Promise<void> {
    this.#serving = true;
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
        this.#hooks.onFatal(e);
        break;
      }
    }
    this.#serving = false;
  }

  #protocolError(message: string): void {
    this.#hooks.onFatal(new TransferError('protocol', message));
  }
}
