// The `.part` file a receiver writes (protocol.md §T5–T6), through one of two sets of calls: the
// libuv thread pool for large files, or direct syscalls for small ones, where a pool round trip
// per call costs more than the call itself (measured, docs/benchmarks.md: 10,000 files of 10 KiB
// spent most of their time in open/fstat/close hops). A small file's calls each touch at most
// SMALL_FILE_BYTES, so the event loop is never held for long.
import { closeSync, constants, fchmodSync, fstatSync, ftruncateSync, futimesSync, openSync, readSync, writev, writevSync, type BigIntStats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/** Files up to this size are read and written with synchronous calls (on both sides). */
export const SMALL_FILE_BYTES = 256 * 1024;

export interface PartFile {
  /** True if this open created the file (so it is empty). */
  readonly created: boolean;
  /** "dev:ino" of the file (what its sidecar names, part-owner.ts); asked of the open file once. */
  identity(): Promise<string>;
  size(): Promise<number>;
  /** Reads up to buf.length bytes at `position`; resolves the count. */
  read(buf: Buffer, position: number): Promise<number>;
  /** Writes all of `buffers` at `position`. */
  write(buffers: Buffer[], position: number): Promise<void>;
  truncate(length: number): Promise<void>;
  /** Applies the offered mode and mtime, then closes. */
  finish(mode: number, mtimeMs: number): Promise<void>;
  close(): Promise<void>;
}

const { O_RDWR, O_CREAT, O_EXCL } = constants;
/** Never through a symlink at the last component (0 where the platform has no such flag). */
export const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;

/**
 * Opens `path` read-write without following a symlink: `create` makes it (mode 0600) and fails
 * with EEXIST if anything is there; otherwise it must exist and be a regular file.
 */
export async function openPart(path: string, small: boolean, create: boolean): Promise<PartFile> {
  const flags = create ? O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW : O_RDWR | O_NOFOLLOW;
  return small ? openSyncPart(path, flags, create) : openPooledPart(path, flags, create);
}

// An existing file must be a regular one (O_EXCL already ensures it for a new one).
function checkRegular(st: BigIntStats, path: string): string {
  if (!st.isFile()) throw Object.assign(new Error(`${path} is not a regular file`), { code: 'EEXIST' });
  return `${st.dev}:${st.ino}`;
}

function openSyncPart(path: string, flags: number, created: boolean): PartFile {
  const fd = openSync(path, flags, 0o600);
  let id: string | undefined;
  try {
    if (!created) id = checkRegular(fstatSync(fd, { bigint: true }), path);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  let open = true;
  return {
    created,
    identity: async () => {
      if (id === undefined && !open) throw new Error(`${path} is closed`); // its fd number may name another file by now
      return (id ??= checkRegular(fstatSync(fd, { bigint: true }), path));
    },
    size: async () => fstatSync(fd).size,
    read: async (buf, position) => readSync(fd, buf, 0, buf.length, position),
    write: async (buffers, position) => {
      for (let rest = buffers, at = position; rest.length > 0; ) {
        const n = writevSync(fd, rest, at);
        at += n;
        rest = skipBytes(rest, n);
      }
    },
    truncate: async (length) => ftruncateSync(fd, length),
    finish: async (mode, mtimeMs) => {
      fchmodSync(fd, mode);
      futimesSync(fd, new Date(), new Date(mtimeMs));
      open = false;
      closeSync(fd);
    },
    close: async () => {
      if (open) closeSync(fd);
      open = false;
    },
  };
}

async function openPooledPart(path: string, flags: number, created: boolean): Promise<PartFile> {
  const fh: FileHandle = await open(path, flags, 0o600);
  let id: string | undefined;
  try {
    if (!created) id = checkRegular(await fh.stat({ bigint: true }), path);
  } catch (err) {
    await fh.close();
    throw err;
  }
  return {
    created,
    identity: async () => (id ??= checkRegular(await fh.stat({ bigint: true }), path)),
    size: async () => (await fh.stat()).size,
    read: async (buf, position) => (await fh.read(buf, 0, buf.length, position)).bytesRead,
    write: (buffers, position) => writeAll(fh.fd, buffers, position),
    truncate: (length) => fh.truncate(length),
    finish: async (mode, mtimeMs) => {
      await fh.chmod(mode);
      await fh.utimes(new Date(), new Date(mtimeMs));
      await fh.close();
    },
    close: () => fh.close(),
  };
}

// fs.writev on the raw fd: FileHandle.write is several times slower for large buffers on Node 20.
async function writeAll(fd: number, buffers: Buffer[], at: number): Promise<void> {
  let rest = buffers;
  let position = at;
  while (rest.length > 0) {
    const n = await new Promise<number>((resolve, reject) => {
      writev(fd, rest, position, (err, written) => (err ? reject(err) : resolve(written)));
    });
    position += n;
    rest = skipBytes(rest, n);
  }
}

// The buffers left after the first n bytes (a short writev is rare but legal).
function skipBytes(buffers: Buffer[], n: number): Buffer[] {
  const out: Buffer[] = [];
  for (const b of buffers) {
    if (n >= b.length) n -= b.length;
    else {
      out.push(n > 0 ? b.subarray(n) : b);
      n = 0;
    }
  }
  return out;
}
