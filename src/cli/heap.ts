// How a `chat` process sizes V8's heap. Left to its defaults V8 trades memory for GC time in
// ways that cost us RSS: a 10,000-file transfer took 117 MB (sender) and 128 MB (receiver), a
// server with 10,000 busy clients 353–367 MB (docs/benchmarks.md: "Memory with 10,000 files",
// "Relay load"). These V8 flags are read as the heap grows, so setting them at run time, before
// the heap is large, is enough (bin/chat; a transfer once it knows its file count). Measured on
// Node 20 (V8 11.3); newer V8s that raise the growth factor to at least 2 by an implication do so
// silently (embedders run without --abort-on-contradictory-flags), so there it is a no-op.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { useCollector, type Gc } from '../transfer/free-buffer.js';

/** Transfers of at least this many files favour memory over speed (see manyFilesHeap). */
export const MANY_FILES = 1000;

/**
 * `serve`: after each full collection V8 lets the old generation grow to up to 4 × what
 * survived it, and under load most of what gets promoted is garbage (messages in flight for
 * hundreds of ms); 1.3 × collects it sooner. bench:relay, 10,000 busy clients: RSS 353–367 →
 * 215–229 MB; no measurable throughput change at 1000 or 10,000 clients.
 * Every other command: the young generation keeps its first size (1 MB semi-spaces) instead of
 * doubling up to 16 MB. Neutral in CPU for a 1 GiB transfer, whose large buffers live outside
 * the V8 heap.
 */
export function cliHeap(command: string | undefined): void {
  setFlagsFromString(command === 'serve' ? '--heap-growing-percent=30' : '--semi-space-growth-factor=1');
  if (command !== 'serve') exposeScavenge();
}

/**
 * The transfer code returns the memory of the buffers it is done with by a young-generation
 * collection per 8 MiB (src/transfer/free-buffer.ts); V8's gc() for it is exposed here, by the
 * program, since the flag is process-wide. Where that is refused, the library frees buffers one
 * by one instead.
 */
export function exposeScavenge(): void {
  try {
    setFlagsFromString('--expose-gc');
    const fn = runInNewContext('gc') as unknown;
    useCollector(typeof fn === 'function' ? (fn as Gc) : null);
  } catch {
    useCollector(null);
  }
}

/**
 * A transfer of many files: V8 grows the old generation by 30 % of what survived a full
 * collection instead of up to 4 × (receiver 120–129 → 80–89 MB for 10,000 files). A single large
 * file's buffers live outside the V8 heap, so only from MANY_FILES on. `--optimize-for-size`,
 * used before, kept RSS as low but made every full collection a compacting one and each scavenge
 * ~2.4× as slow: 10,000 files took 1.10× as long (docs/benchmarks.md, 2026-12-06 19:50 UTC).
 */
export function manyFilesHeap(fileCount: number): void {
  if (fileCount >= MANY_FILES) setFlagsFromString('--heap-growing-percent=30');
}
