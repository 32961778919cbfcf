// Freeing a Buffer's memory now instead of when V8 collects its wrapper: transferring its
// ArrayBuffer to a closed MessagePort detaches it (structured-clone transfer, as in the HTML
// spec) and the undeliverable message is dropped, so the backing store is freed at once. Used for
// the large buffers the transfer engine seals and opens (src/transfer/free-buffer.ts) and the
// chunks the relay pipes where it cannot read into buffers of its own (src/server/pooled-reads.ts):
// left to the GC they pile up as external memory and V8 answers with full collections
// (docs/benchmarks.md).
import { MessageChannel } from 'node:worker_threads';

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

/** True if `buf` owns its whole ArrayBuffer of at least `minBytes` (never a pooled slice). */
export function ownsArrayBuffer(buf: Buffer, minBytes: number): boolean {
  const ab = buf.buffer;
  return buf.length >= minBytes && buf.byteOffset === 0 && buf.byteLength === ab.byteLength && ab instanceof ArrayBuffer;
}

/**
 * Frees `buf`'s memory now if it owns its ArrayBuffer (of at least `minBytes`); it reads as empty
 * afterwards. Only once nothing, a pending write included, refers to the bytes.
 */
export function detachBuffer(buf: Buffer, minBytes: number): void {
  if (!ownsArrayBuffer(buf, minBytes)) return;
  const ab = buf.buffer as ArrayBuffer;
  closedPort().postMessage(ab, [ab]);
}
