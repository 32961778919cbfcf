// One relayed pair (protocol.md §4.8): two sockets piped together with backpressure, a rate per
// direction, a byte budget checked on every chunk, and an idle timeout, so a pair never lives on
// without moving bytes.
import type { Socket } from 'node:net';
import { detachBuffer } from '../common/detach.js';
import { TokenBucket } from '../common/token-bucket.js';

export type PipeEnd = 'closed' | 'idle' | 'budget';

export interface PipeOptions {
  /** Bytes per second in each direction; 0 = unlimited. */
  rate: number;
  /** Closes the pair after this long without a byte in either direction, in ms; 0 = never. */
  idleMs: number;
  /** Counts a chunk before it is forwarded; false ends the pair (a byte budget is used up). */
  moved(n: number): boolean;
  /** Runs once, when the pair ended, with why. */
  ended(why: PipeEnd): void;
}

/** Pipes a ↔ b (with what each sent past its request); returns a function that ends the pair. */
export function pipe(a: Socket, aRest: Buffer, b: Socket, bRest: Buffer, o: PipeOptions): () => void {
  let done = false;
  let last = Date.now();
  let idle: NodeJS.Timeout | undefined;
  const end = (why: PipeEnd): void => {
    if (done) return;
    done = true;
    clearTimeout(idle);
    a.destroy();
    b.destroy();
    o.ended(why);
  };
  const moved = (n: number): boolean => {
    last = Date.now();
    if (o.moved(n)) return true;
    end('budget');
    return false;
  };
  for (const s of [a, b]) {
    s.on('close', () => end('closed'));
    s.on('error', () => {});
  }
  if (o.idleMs > 0) {
    const check = (): void => {
      const quiet = Date.now() - last;
      if (quiet >= o.idleMs) return end('idle');
      idle = setTimeout(check, o.idleMs - quiet).unref();
    };
    idle = setTimeout(check, o.idleMs).unref();
  }
  pump(a, b, aRest, o.rate, moved);
  pump(b, a, bRest, o.rate, moved);
  if (a.destroyed || b.destroyed) end('closed'); // one left before the pipe was laid
  return () => end('closed');
}

// Every read of a relayed socket is a fresh ArrayBuffer (~64 KiB). V8 frees those only when it
// collects their wrappers, and it answers each ~64 MB of such external memory with a full
// mark-compact of the whole server heap: measured with perf, that was a third of the server's CPU
// per relayed GiB (docs/benchmarks.md, "The relay's cost"). So each chunk is detached once
// written (src/common/detach.ts). (Below the allocator's mmap threshold, so the memory is reused
// without page faults.)
const MIN_DETACH_BYTES = 4096;

/** Copies from → to with backpressure and an optional rate (bytes/s); stops when `moved` says so. */
function pump(from: Socket, to: Socket, first: Buffer, rate: number, moved: (n: number) => boolean): void {
  const bucket = rate > 0 ? new TokenBucket(rate, rate, Date.now) : undefined; // a second's worth of burst
  let holds = 0; // reading waits for a drain and/or the rate
  const hold = (): void => void (holds++ === 0 && from.pause());
  const release = (): void => void (--holds === 0 && from.resume());
  const write = (chunk: Buffer): void => {
    if (!moved(chunk.length)) return;
    if (!to.write(chunk, () => detachBuffer(chunk, MIN_DETACH_BYTES))) {
      hold();
      to.once('drain', release);
    }
    const wait = bucket?.take(chunk.length) ?? 0;
    if (wait > 0) {
      hold();
      setTimeout(release, Math.ceil(wait)).unref();
    }
  };
  if (first.length > 0) write(first);
  from.on('data', write);
  from.on('end', () => to.end());
  if (holds === 0) from.resume();
}
