// How the relay reads a relayed socket. A socket net accepted reads into a fresh 64 KiB
// ArrayBuffer per read; only a socket made with `onread` reads into the caller's buffers, of the
// caller's size. So for a relayed pair the accepted socket's handle moves to such a socket, which
// reads up to 256 KiB at a time into a few reused buffers: a quarter of the reads and none of the
// allocations. Measured alone, a relayed GiB cost 1.23 CPU-s with 'data' events and 0.61 this
// way (magic-wormhole's transit relay: 1.09; docs/benchmarks.md, "The relay's cost").
// Moving a handle uses net's `_handle`, which is not documented; where it is not what this
// expects (a TLS socket, another runtime), the socket is read with 'data' events as before.
import { Socket, type OnReadOpts, type SocketConstructorOpts } from 'node:net';
import { TLSSocket } from 'node:tls';
import { detachBuffer } from '../common/detach.js';

/** One read; `written` is called once nothing refers to its bytes any more (its write completed). */
export type OnChunk = (chunk: Buffer, written: () => void) => void;

export interface Reads {
  /** The socket to pause, resume, write to, end and destroy from now on. */
  socket: Socket;
  /** What the old socket had read but not handed out yet: goes first. */
  buffered: Buffer[];
}

const MIN_BUFFER = 64 * 1024;
/** Reads of 256 KiB had most of the gain of 1 MiB ones (docs/benchmarks.md) at a quarter of the memory. */
export const MAX_BUFFER = 256 * 1024;
/** Chunks smaller than this are pooled slices of other memory, not worth detaching. */
const MIN_DETACH_BYTES = 4096;

/**
 * Hands every read of `socket` to `onChunk`, in order, from the next read on (the caller resumes
 * it). Destroying the returned socket or the old one destroys both.
 */
export function takeReads(socket: Socket, onChunk: OnChunk): Reads {
  return pooled(socket, onChunk) ?? eventReads(socket, onChunk);
}

// The fallback: a fresh buffer per read, freed once written (src/common/detach.ts says why).
function eventReads(socket: Socket, onChunk: OnChunk): Reads {
  socket.on('data', (chunk: Buffer) => onChunk(chunk, () => detachBuffer(chunk, MIN_DETACH_BYTES)));
  return { socket, buffered: [] };
}

interface Handle {
  useUserBuffer?: unknown;
}

function pooled(old: Socket, onChunk: OnChunk): Reads | undefined {
  const holder = old as unknown as { _handle?: Handle | null };
  const handle = holder._handle;
  if (old instanceof TLSSocket || !handle || typeof handle.useUserBuffer !== 'function' || old.destroyed) return undefined;
  // A write still queued on the old socket (the relay's `ok`, corked by a chat connection) goes now;
  // one still in flight would complete on a socket without its handle: then keep 'data' events.
  while (old.writableCorked > 0) old.uncork();
  if (old.writableLength > 0) return undefined;
  old.pause();
  const buffered: Buffer[] = [];
  for (let chunk = old.read() as Buffer | null; chunk !== null; chunk = old.read() as Buffer | null) buffered.push(chunk);
  void old.remoteAddress; // cached by net, for whoever logs it after the handle moved
  const buffers = new ReadBuffers();
  const options: SocketConstructorOpts & { handle: Handle; pauseOnCreate: boolean; onread: OnReadOpts } = {
    handle,
    allowHalfOpen: old.allowHalfOpen,
    pauseOnCreate: true, // the caller resumes once it is ready
    onread: {
      buffer: () => buffers.next(),
      callback: (n: number, buf: Uint8Array) => {
        const b = buf as Buffer;
        buffers.filled(b, n);
        onChunk(b.subarray(0, n), () => buffers.give(b));
        return true; // false would stop reading; pause() is how the pump does that
      },
    },
  };
  const socket = new Socket(options);
  holder._handle = null; // the old socket no longer reads or closes the handle
  old.once('close', () => socket.destroy());
  socket.once('close', () => old.destroy());
  return { socket, buffered };
}

/** Read buffers of one socket: 64 KiB, doubled after a full read up to MAX_BUFFER, reused once written. */
class ReadBuffers {
  #size = MIN_BUFFER;
  #free: Buffer[] = [];

  next(): Buffer {
    // allocUnsafe is fine: only the bytes a read wrote are ever handed out.
    return this.#free.pop() ?? Buffer.allocUnsafeSlow(this.#size);
  }

  filled(buf: Buffer, n: number): void {
    if (n < buf.length || this.#size >= MAX_BUFFER) return;
    this.#size = Math.min(this.#size * 2, MAX_BUFFER);
    this.#free = [];
  }

  // Two spare buffers are enough: a read waits for the write before it when that write is slow.
  give(buf: Buffer): void {
    if (buf.length === this.#size && this.#free.length < 2) this.#free.push(buf);
  }
}
