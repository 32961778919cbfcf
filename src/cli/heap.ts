// How a CLI process sizes V8's heap. A CLI transfer is many short-lived objects beside large
// external buffers; left to its defaults V8 grows the young generation to 2 × 16 MB and lets
// promoted garbage pile up in the old one, which took a 10,000-file transfer to 117 MB (sender)
// and 128 MB (receiver) of RSS. Measured in docs/benchmarks.md ("Memory with 10,000 files").
// Flags set at run time apply from then on; a flag this V8 lacks is ignored.
import { setFlagsFromString } from 'node:v8';

/** Transfers of at least this many files favour memory over speed (see manyFilesHeap). */
export const MANY_FILES = 1000;

/**
 * For every command but `serve` (a server keeps V8's defaults, sized for throughput): the young
 * generation keeps its first size (1 MB semi-spaces) instead of doubling up to 16 MB. Neutral in
 * CPU for a 1 GiB transfer, whose large buffers live outside the V8 heap.
 */
export function cliHeap(command: string | undefined): void {
  if (command !== 'serve') setFlagsFromString('--semi-space-growth-factor=1');
}

/**
 * A transfer of many files: V8 also collects the old generation sooner and grows it less
 * (receiver 99–121 → 76–78 MB for 10,000 files). It costs ~0.1 CPU-s per GiB on a single large
 * file, so only from MANY_FILES on.
 */
export function manyFilesHeap(fileCount: number): void {
  if (fileCount >= MANY_FILES) setFlagsFromString('--optimize-for-size');
}
