// Returns a large Buffer's memory at once instead of when the garbage collector gets to it.
//
// node:crypto allocates a fresh buffer for every cipher.update() (each sealed or opened chunk,
// protocol.md §T9). V8 frees those only when it collects their wrappers, and it lets roughly
// 64 MB of such external memory pile up before it does: with 1 GiB flowing through a connection
// that kept peak RSS well above 100 MB and, as new memory, cost page faults. Transferring the
// ArrayBuffer to a closed MessagePort detaches it (structured-clone transfer, as in the HTML
// spec) and the undeliverable message is dropped, so its backing store is freed right away.
//
// Only for buffers that own their whole ArrayBuffer (never a pooled Buffer.allocUnsafe slice),
// and only once nothing, including a pending socket or file write, refers to the bytes: a freed
// buffer reads as empty from then on.
import { MessageChannel } from 'node:worker_threads';

/** Smaller buffers are left to the garbage collector (and may share a pool). */
const MIN_FREE_BYTES = 64 * 1024;

let sink: MessageChannel['port1'] | undefined;

function closedPort(): MessageChannel['port1'] {
  if (!sink) {
    const channel = new MessageChannel();
    channel.port2.close();
    channel.port1.unref();
    sink = channel.port1;
  }
  return sink;
}

/** True if `buf` owns its whole ArrayBuffer and is large enough to be worth freeing early. */
export function canFree(buf: Buffer): boolean {
  const ab = buf.buffer;
  return buf.length >= MIN_FREE_BYTES && buf.byteOffset === 0 && buf.byteLength === ab.byteLength && ab instanceof ArrayBuffer;
}

/** Frees `buf`'s memory now if it owns it (see canFree); it reads as empty afterwards. */
export function freeBuffer(buf: Buffer): void {
  if (!canFree(buf)) return;
  const ab = buf.buffer as ArrayBuffer; // canFree: not a SharedArrayBuffer
  closedPort().postMessage(ab, [ab]);
}
