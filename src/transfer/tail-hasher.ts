// Whole-file SHA-256 while streaming, even when the stream starts in the middle of the file
// (resume): bytes before the live position are read back from disk until the hasher catches up,
// then live buffers are hashed directly (protocol.md §T5).
import { createHash, type Hash } from 'node:crypto';

/** Reads up to buf.length bytes at `position` into `buf`; resolves the count read. */
export type ReadAt = (buf: Buffer, position: number) => Promise<number>;

const CATCH_UP_BYTES = 1 << 20;

/** SHA-256 of a file whose bytes arrive as in-order pushes, optionally after an on-disk prefix. */
export class TailHasher {
  #hash: Hash = createHash('sha256');
  #read: ReadAt;
  #hashed = 0;
  #pushed: number;
  #written: number;
  #running: Promise<void> | undefined;
  #error: unknown;
  #buffer: Buffer | undefined;
  #mark: number;
  #markDigest: string | undefined;

  /**
   * `prefix` bytes are already on disk (readable through `read`) and are hashed from there. With
   * `mark` > 0, the SHA-256 of bytes [0, mark) is also kept (markDigest), from the same pass.
   */
  constructor(read: ReadAt, prefix = 0, mark = 0) {
    this.#read = read;
    this.#mark = mark;
    this.#pushed = prefix;
    this.#written = prefix;
    this.#kick();
  }

  /** Offers the next in-order bytes; hashed at once when caught up, otherwise read back later. */
  push(position: number, data: Buffer): void {
    if (position !== this.#pushed) throw new RangeError(`push at ${position}, expected ${this.#pushed}`);
    if (this.#running === undefined && this.#hashed === position) this.#update(data);
    this.#pushed += data.length;
  }

  /** Bytes [0, upTo) are now readable through `read`. */
  written(upTo: number): void {
    if (upTo > this.#written) this.#written = Math.min(upTo, this.#pushed);
    this.#kick();
  }

  /** Hex digest once everything pushed has been hashed; call after the last `written()`. */
  async digest(): Promise<string> {
    for (;;) {
      if (this.#running) await this.#running;
      if (this.#error !== undefined) throw this.#error;
      if (this.#hashed === this.#pushed) return this.#hash.digest('hex');
      if (this.#written <= this.#hashed) throw new Error('digest() before all pushed bytes were written');
      this.#kick();
    }
  }

  /** SHA-256 (hex) of bytes [0, mark), once they were hashed; undefined before or without a mark. */
  get markDigest(): string | undefined {
    return this.#markDigest;
  }

  #update(data: Buffer): void {
    const toMark = this.#mark - this.#hashed;
    if (toMark > 0 && toMark <= data.length) {
      this.#hash.update(data.subarray(0, toMark));
      this.#markDigest = this.#hash.copy().digest('hex');
      this.#hash.update(data.subarray(toMark));
    } else this.#hash.update(data);
    this.#hashed += data.length;
  }

  #kick(): void {
    if (this.#running !== undefined || this.#hashed >= this.#written || this.#error !== undefined) return;
    this.#running = this.#catchUp().then(
      () => {
        this.#running = undefined;
        this.#kick(); // writes may have advanced while the last read was in flight
      },
      (err: unknown) => {
        this.#error = err;
        this.#running = undefined;
      },
    );
  }

  async #catchUp(): Promise<void> {
    this.#buffer ??= Buffer.allocUnsafe(CATCH_UP_BYTES);
    while (this.#hashed < this.#written) {
      const want = Math.min(this.#buffer.length, this.#written - this.#hashed);
      const n = await this.#read(this.#buffer.subarray(0, want), this.#hashed);
      if (n <= 0) throw new Error(`file ended at ${this.#hashed} while hashing`);
      this.#update(this.#buffer.subarray(0, n));
    }
    if (this.#hashed === this.#pushed) this.#buffer = undefined;
  }
}
