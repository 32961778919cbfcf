// A few reusable chunk buffers (frame prefix + DATA header + data) per connection: bounds the
// sender's memory and lets it read straight into the buffer it will write (no copies).
import { DATA_HEADER_BYTES, FRAME_PREFIX_BYTES } from './chunk.js';

/** Bytes in front of the file data in a slot: length prefix + DATA header. */
export const SLOT_HEADER_BYTES = FRAME_PREFIX_BYTES + DATA_HEADER_BYTES;

/** A fixed number of chunk buffers, handed out and returned. */
export class SlotPool {
  #free: Buffer[] = [];
  #allocated = 0;
  #waiters: Array<(buf: Buffer) => void> = [];
  readonly slotBytes: number;
  readonly size: number;

  /** `size` buffers able to carry `chunkBytes` of file data each (allocated lazily). */
  constructor(chunkBytes: number, size = 4) {
    this.slotBytes = SLOT_HEADER_BYTES + chunkBytes;
    this.size = size;
  }

  /** A free buffer; waits while all are in flight. */
  acquire(): Promise<Buffer> {
    const buf = this.#free.pop();
    if (buf) return Promise.resolve(buf);
    if (this.#allocated < this.size) {
      this.#allocated++;
      return Promise.resolve(Buffer.allocUnsafe(this.slotBytes));
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Returns a buffer once nothing refers to it any more. */
  release(buf: Buffer): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(buf);
    else this.#free.push(buf);
  }
}
