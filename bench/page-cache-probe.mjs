#!/usr/bin/env node
// Probe: CPU cost of writing 1 GiB into the page cache back-to-back versus paced (as a receiver
// that is limited by the network or by hashing writes). On some VMs, memory that was freed a
// moment ago is handed back to the host, and the next write into it faults it in again, so a
// slow writer pays several times more CPU per byte than a fast one. See docs/benchmarks.md.
//
//   node bench/page-cache-probe.mjs [DIR]     (DIR defaults to the OS temp dir)
import { closeSync, openSync, unlinkSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const dir = process.argv[2] ?? os.tmpdir();
const file = path.join(dir, `page-cache-probe-${process.pid}`);
const buf = Buffer.alloc(512 * 1024, 0x5a);
const COUNT = 2048; // 1 GiB

const spin = (ms) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

/** Writes 1 GiB; with `paced`, spins 10 ms after every 4 MiB (~300 MB/s). Returns ms spent inside write(). */
function write(paced) {
  const fd = openSync(file, 'w');
  let busy = 0;
  try {
    for (let i = 0; i < COUNT; i++) {
      const t = performance.now();
      writeSync(fd, buf);
      busy += performance.now() - t;
      if (paced && i % 8 === 7) spin(10);
    }
  } finally {
    closeSync(fd);
    unlinkSync(file);
  }
  return busy;
}

write(false); // warm-up: the first touch of never-used guest memory is slow everywhere
for (let round = 1; round <= 2; round++) {
  const fast = write(false);
  const paced = write(true);
  console.log(`round ${round}: 1 GiB into the page cache: back-to-back ${fast.toFixed(0)} ms in write(), paced ~300 MB/s ${paced.toFixed(0)} ms in write()`);
}
