// The one way state files are written (certificates, CHAT_HOME files, .part sidecars): to a
// fresh temporary file beside the target, flushed to disk, then renamed over it, and the rename
// flushed too. A crash leaves the old file or the new one, never half of either; a leftover
// temporary file (or a symlink planted in its place) is replaced, never written through.
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export function writeFileAtomic(file: string, data: string | Buffer, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  rmSync(tmp, { force: true });
  writeFileSync(tmp, data, { mode, flag: 'wx', flush: true });
  renameSync(tmp, file);
  syncDir(path.dirname(file));
}

// The rename is durable once the directory is; where a directory cannot be opened for that, the
// data itself still is.
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // not supported here (e.g. some network file systems)
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
