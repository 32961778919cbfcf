// One relayed pair (protocol.md §4.8): two sockets piped together with backpressure, a rate per
// direction, a byte budget checked on every chunk, and an idle timeout, so a pair never lives on
// without moving bytes.
import type { Socket } from 'node:net';
import { MessageChannel } from 'node:worker_threads';

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
// per relayed GiB (docs/benchmarks.md, "The relay's cost"). Transferring a written chunk's
// ArrayBuffer to a closed MessagePort detaches it and frees its memory at once, so it never adds
// up. (Below the allocator's mmap threshold, so the memory is reused without page faults.)
let sink: MessageChannel['port1'] | undefined;

/** Frees `chunk`'s memory now if it owns its whole ArrayBuffer (a socket read does); it reads as empty afterwards. */
function freeChunk(chunk: Buffer): void {
  const ab = chunk.buffer;
  if (chunk.byteOffset !== 0 || chunk.byteLength !== ab.byteLength || !(ab instanceof ArrayBuffer) || ab.byteLength < 4096) return;
  if (!sink) {
    const channel = new MessageChannel();
    channel.port2.close();
    channel.port1.unref();
    sink = channel.port1;
  }
  sink.postMessage(ab, [ab]);
}

/** Copies from → to with backpressure and an optional rate (bytes/s); stops when `moved` says so. */
function pump(from: Socket, to: Socket, first: Buffer, rate: number, moved: (n: number) => boolean): void {
  let allowance = rate;
  let since = Date.now();
  let holds = 0; // reading waits for a drain and/or the rate
  const hold = (): void => void (holds++ === 0 && from.pause());
  const release = (): void => void (--holds === 0 && from.resume());
  const write = (chunk: Buffer): void => {
    if (!moved(chunk.length)) return;
    if (!to.write(chunk, () => freeChunk(chunk))) {
      hold();
      to.once('drain', release);
    }
    if (rate <= 0) return;
    const now = Date.now();
    allowance = Math.min(rate, allowance + ((now - since) * rate) / 1000) - chunk.length;
    since = now;
    if (allowance < 0) {
      hold();
      setTimeout(release, Math.ceil((-allowance * 1000) / rate)).unref();
    }
  };
  if (first.length > 0) write(first);
  from.on('data', write);
  from.on('end', () => to.end());
  if (holds === 0) from.resume();
}
