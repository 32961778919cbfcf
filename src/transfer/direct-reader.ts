// Frame reader that owns the socket's read buffers (net.Socket `onread` with a buffer function):
// the kernel copies a DATA frame straight into the buffer its payload is handed out in, so a
// large frame is never copied in user space, and no buffer is allocated per read. Only the few
// bytes a read takes past the end of a frame (at most SLACK) move to the next buffer.
//
// Same framing and limits as src/protocol/frame.ts: a u32 length, then the payload; the length
// is checked as soon as its 4 bytes are in, and a read never asks for more than the current
// frame plus SLACK bytes, so an over-long frame costs at most that much memory.
import { badFrameLength } from '../protocol/frame.js';
import { TransferError } from './errors.js';
import type { FrameHandler } from './frame-reader.js';

const PREFIX_BYTES = 4;
/** Bytes a read may take beyond the end of the frame in progress (the next frame's start). */
export const SLACK_BYTES = 64 * 1024;
/** Payloads up to this size are copied out (control messages, small chunks); the buffer stays. */
const SMALL_PAYLOAD = 64 * 1024;
/** Released large buffers kept for reuse. */
const MAX_FREE = 8;

const NOOP = (): void => {};

/**
 * Incremental, bounded frame reader fed by the socket's reads into buffers it hands out.
 * Usage (see Wire.connect): `net.connect({ ..., onread: { buffer: () => reader.target(), callback: (n) => reader.read(n, onFrame) } })`.
 */
export class DirectFrameReader {
  #max: number;
  /** Bytes [0, #fill) of #buf are the unprocessed start of the next frame(s). */
  #buf: Buffer;
  #fill = 0;
  #free: Buffer[] = [];
  #large = 0;
  #failed = false;

  /** Frames above `maxFrameBytes` (or empty ones) are a fatal protocol error. */
  constructor(maxFrameBytes: number) {
    this.#max = maxFrameBytes;
    this.#buf = Buffer.allocUnsafe(PREFIX_BYTES + SMALL_PAYLOAD + SLACK_BYTES);
  }

  /** The largest frame accepted; may be raised between frames (after the handshake). */
  get maxFrameBytes(): number {
    return this.#max;
  }

  set maxFrameBytes(n: number) {
    this.#max = n;
  }

  /** Bytes of an unfinished frame held. */
  get bufferedBytes(): number {
    return this.#fill;
  }

  /** Where the next read should put its bytes. */
  target(): Buffer {
    const limit = this.#fill < PREFIX_BYTES ? PREFIX_BYTES + SLACK_BYTES : PREFIX_BYTES + this.#buf.readUInt32BE(0) + SLACK_BYTES;
    return this.#buf.subarray(this.#fill, Math.min(limit, this.#buf.length));
  }

  /** `n` bytes were read into the last target(); calls `onFrame` for each completed frame. */
  read(n: number, onFrame: FrameHandler): void {
    if (this.#failed) throw new TransferError('protocol', 'frame reader already failed');
    this.#fill += n;
    while (this.#fill >= PREFIX_BYTES) {
      const length = this.#buf.readUInt32BE(0);
      this.#check(length);
      const end = PREFIX_BYTES + length;
      if (this.#fill < end) {
        if (this.#buf.length < end + SLACK_BYTES) this.#moveTo(this.#acquire(), this.#fill); // grows for a large frame
        return;
      }
      if (length <= SMALL_PAYLOAD) {
        const payload = Buffer.from(this.#buf.subarray(PREFIX_BYTES, end));
        this.#buf.copyWithin(0, end, this.#fill);
        this.#fill -= end;
        onFrame(payload, NOOP);
      } else {
        const full = this.#buf;
        const rest = this.#fill - end;
        this.#buf = this.#acquire();
        full.copy(this.#buf, 0, end, end + rest);
        this.#fill = rest;
        onFrame(full.subarray(PREFIX_BYTES, end), this.#releaser(full));
      }
    }
  }

  // protocol.md §2: the declared length is checked before the body is buffered.
  #check(length: number): void {
    const problem = badFrameLength(length, this.#max);
    if (!problem) return;
    this.#failed = true;
    this.#fill = 0;
    throw new TransferError('protocol', problem);
  }

  // Large buffers fit the largest frame plus the slack; smaller ones are dropped when it grows.
  #acquire(): Buffer {
    const size = PREFIX_BYTES + this.#max + SLACK_BYTES;
    if (size !== this.#large) {
      this.#large = size;
      this.#free = [];
    }
    return this.#free.pop() ?? Buffer.allocUnsafe(size);
  }

  #moveTo(next: Buffer, bytes: number): void {
    this.#buf.copy(next, 0, 0, bytes);
    this.#buf = next;
  }

  #releaser(buf: Buffer): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (buf.length === this.#large && this.#free.length < MAX_FREE) this.#free.push(buf);
    };
  }
}
