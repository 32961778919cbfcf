// Returns the memory of large Buffers that are garbage soon, instead of when V8 gets to them.
//
// discard() is what the transfer code calls. Preferred: a young-generation collection
// (scavenge) after every 8 MiB discarded. Measured (docs/benchmarks.md, "Transfer"): freeing
// each 512 KiB buffer on its own costs a MessagePort message and, as glibc hands the memory back
// and takes it again, page faults on every reuse, ~3× the CPU of the whole transfer on this VM;
// a scavenge per 8 MiB frees the same buffers in batches (their wrappers die young) for ~1 ms,
// with peak RSS as low as freeing one by one (per 16 MiB: 7–15 MB more RSS per side, for no
// less CPU). The scavenge needs V8's gc(): a library must not set process-wide V8 flags, so the
// program that owns the process hands it over with useCollector() (the CLI does, src/cli/heap.ts);
// without it, freeBuffer() below is the way.
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
import { detachBuffer, ownsArrayBuffer } from '../common/detach.js';

/** Smaller buffers are left to the garbage collector (and may share a pool). */
const MIN_FREE_BYTES = 64 * 1024;

/** True if `buf` owns its whole ArrayBuffer and is large enough to be worth freeing early. */
export function canFree(buf: Buffer): boolean {
  return ownsArrayBuffer(buf, MIN_FREE_BYTES);
}

/** Frees `buf`'s memory now if it owns it (see canFree); it reads as empty afterwards. */
export function freeBuffer(buf: Buffer): void {
  detachBuffer(buf, MIN_FREE_BYTES);
}

/** Bytes discarded between two scavenges. */
const SCAVENGE_EVERY_BYTES = 8 * 1024 * 1024;

/** V8's gc(), as `--expose-gc` exposes it. */
export type Gc = (options?: { type: 'minor' | 'major' }) => void;
let gc: Gc | null = null;
let discarded = 0;
let scavenges = 0;

/** Lets discard() batch its work into young-generation collections with `collect`; null: one buffer at a time. */
export function useCollector(collect: Gc | null): void {
  gc = collect;
}

function collector(): Gc | null {
  return gc;
}

/** How discard() returns memory here: batched scavenges, or one buffer at a time. */
export function reclaimMode(): 'scavenge' | 'free' {
  return collector() ? 'scavenge' : 'free';
}

/** Scavenges run by discard() so far (for tests). */
export function scavengeCount(): number {
  return scavenges;
}

/** `buf` is garbage (nothing, no pending write either, refers to it any more): get its memory back soon. */
export function discard(buf: Buffer): void {
  const collect = collector();
  if (!collect) return freeBuffer(buf);
  discarded += buf.length;
  if (discarded < SCAVENGE_EVERY_BYTES) return;
  discarded = 0;
  scavenges++;
  collect({ type: 'minor' });
}
