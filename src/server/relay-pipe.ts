// One relayed pair (protocol.md §4.8): two sockets piped together with backpressure, a rate per
// direction, a byte budget checked on every chunk, and an idle timeout, so a pair never lives on
// without moving bytes.
import type { Socket } from 'node:net';
import { TokenBucket } from '../common/token-bucket.js';
import { takeReads, type OnChunk } from './pooled-reads.js';

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
  // Each side's reads go to the other, through the sockets takeReads gives (the ones to use from here on).
  let toB: OnChunk = () => {};
  let toA: OnChunk = () => {};
  const ra = takeReads(a, (chunk, written) => toB(chunk, written));
  const rb = takeReads(b, (chunk, written) => toA(chunk, written));
  const [sa, sb] = [ra.socket, rb.socket];
  let done = false;
  let last = Date.now();
  let idle: NodeJS.Timeout | undefined;
  const end = (why: PipeEnd): void => {
    if (done) return;
    done = true;
    clearTimeout(idle);
    sa.destroy();
    sb.destroy();
    o.ended(why);
  };
  const moved = (n: number): boolean => {
    last = Date.now();
    if (o.moved(n)) return true;
    end('budget');
    return false;
  };
  for (const s of [sa, sb]) {
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
  toB = pump(sa, sb, [aRest, ...ra.buffered], o.rate, moved);
  toA = pump(sb, sa, [bRest, ...rb.buffered], o.rate, moved);
  if (sa.destroyed || sb.destroyed) end('closed'); // one left before the pipe was laid
  return () => end('closed');
}

/**
 * Copies from → to with backpressure and an optional rate (bytes/s), `first` before anything read;
 * returns what takes each read of `from`, and resumes it. Stops when `moved` says so.
 */
function pump(from: Socket, to: Socket, first: Buffer[], rate: number, moved: (n: number) => boolean): OnChunk {
  const bucket = rate > 0 ? new TokenBucket(rate, rate, Date.now) : undefined; // a second's worth of burst
  let holds = 0; // reading waits for a drain and/or the rate
  const hold = (): void => void (holds++ === 0 && from.pause());
  const release = (): void => void (--holds === 0 && from.resume());
  const send: OnChunk = (chunk, written) => {
    if (to.write(chunk, written)) return;
    hold();
    to.once('drain', release);
  };
  // Over the rate, a chunk waits before it is sent, not after: sent at once, a 256 KiB read would
  // leave a second's worth (at a 256 KiB/s rate) ahead of the rate. Reading waits with it.
  const write: OnChunk = (chunk, written) => {
    if (!moved(chunk.length)) return written();
    const wait = bucket?.take(chunk.length) ?? 0;
    if (wait <= 0) return send(chunk, written);
    hold();
    setTimeout(() => {
      send(chunk, written);
      release();
    }, Math.ceil(wait)).unref();
  };
  for (const chunk of first) if (chunk.length > 0) write(chunk, () => {});
  from.on('end', () => to.end());
  if (holds === 0) from.resume();
  return write;
}
