// Length-prefixed frames: a 4-byte unsigned big-endian length, then that many bytes of payload.
// The decoder is incremental and bounded: the declared length is checked against maxFrameBytes
// before a single byte of the body is buffered (protocol.md §2).
import { ProtocolError } from './errors.js';

/** Bytes in the length prefix. */
export const HEADER_BYTES = 4;

const READ_HEADER = 0;
const READ_BODY = 1;
const FAILED = 2;

export interface FrameDecoderOptions {
  /** Largest payload accepted, in bytes. @default 262144 */
  maxFrameBytes?: number;
}

/** Incremental frame decoder: push() bytes as they arrive, get whole payloads back. */
export class FrameDecoder {
  readonly maxFrameBytes: number;
  #buffers: Buffer[] = [];
  #buffered = 0;
  #state = READ_HEADER;
  #bodyLength = 0;

  constructor(options: FrameDecoderOptions = {}) {
    this.maxFrameBytes = options.maxFrameBytes ?? 262_144;
  }

  /** Bytes held but not yet returned as a frame. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /**
   * Feed bytes; returns the payloads completed by them (possibly none). Throws a fatal
   * ProtocolError on an empty or oversized frame; after that the decoder refuses more input.
   */
  push(chunk: Buffer): Buffer[] {
    if (this.#state === FAILED) throw new ProtocolError('bad_frame', 'decoder already failed', { fatal: true });
    if (chunk.length > 0) {
      this.#buffers.push(chunk);
      this.#buffered += chunk.length;
    }
    const frames: Buffer[] = [];
    for (;;) {
      if (this.#state === READ_HEADER) {
        if (this.#buffered < HEADER_BYTES) break;
        this.#readHeader();
      } else {
        if (this.#buffered < this.#bodyLength) break;
        frames.push(this.#consume(this.#bodyLength));
        this.#state = READ_HEADER;
      }
    }
    return frames;
  }

  /** Hands over every byte not yet returned as a frame (when the connection stops framing). */
  takeRest(): Buffer {
    // Mid-frame, the header was consumed already: hand it over too, or the next reader loses it.
    const header = this.#state === READ_BODY ? [encodeHeader(this.#bodyLength)] : [];
    const rest = Buffer.concat([...header, ...this.#buffers]);
    this.#buffers = [];
    this.#buffered = 0;
    this.#state = FAILED;
    return rest;
  }

  #readHeader(): void {
    const length = this.#consume(HEADER_BYTES).readUInt32BE(0);
    const problem = badFrameLength(length, this.maxFrameBytes);
    if (problem) {
      this.#state = FAILED;
      this.#buffers = [];
      this.#buffered = 0;
      throw new ProtocolError(length === 0 ? 'bad_frame' : 'too_large', problem, { fatal: true });
    }
    this.#bodyLength = length;
    this.#state = READ_BODY;
  }

  // Takes exactly n buffered bytes; zero-copy when the first buffer holds them all.
  #consume(n: number): Buffer {
    this.#buffered -= n;
    const first = this.#buffers[0]!;
    if (n === first.length) return this.#buffers.shift()!;
    if (n < first.length) {
      this.#buffers[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let offset = 0;
    while (offset < n) {
      const buf = this.#buffers[0]!;
      const take = Math.min(buf.length, n - offset);
      buf.copy(out, offset, 0, take);
      offset += take;
      if (take === buf.length) this.#buffers.shift();
      else this.#buffers[0] = buf.subarray(take);
    }
    return out;
  }
}

/** The 4-byte length prefix for a payload of `length` bytes. */
export function encodeHeader(length: number): Buffer {
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header.writeUInt32BE(length, 0);
  return header;
}

/** One frame (prefix + payload) as a single buffer. */
export function encodeFrame(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  out.writeUInt32BE(payload.length, 0);
  payload.copy(out, HEADER_BYTES);
  return out;
}

/** A JSON value as one frame. */
export function encodeJsonFrame(value: unknown): Buffer {
  return encodeJsonTextFrame(JSON.stringify(value));
}

/** JSON text (already serialized) as one frame. */
export function encodeJsonTextFrame(json: string): Buffer {
  const length = Buffer.byteLength(json, 'utf8');
  const out = Buffer.allocUnsafe(HEADER_BYTES + length);
  out.writeUInt32BE(length, 0);
  out.write(json, HEADER_BYTES, 'utf8');
  return out;
}

/**
 * protocol.md §2 (and Part II §T2): why a frame's declared length is refused, checked before a
 * single body byte is buffered; undefined if it is fine. Every frame reader asks this one.
 */
export function badFrameLength(length: number, maxFrameBytes: number): string | undefined {
  if (length === 0) return 'empty frame';
  if (length > maxFrameBytes) return `frame of ${length} bytes exceeds the limit of ${maxFrameBytes}`;
  return undefined;
}
