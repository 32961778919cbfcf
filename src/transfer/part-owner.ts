// Which `.part` files are ours (protocol.md §T5): a `.part` this program made has a sidecar
// `NAME.part.chat` (mode 0600) naming the transfer, the offered size and the `.part`'s device and
// inode. A `.part` is resumed only when its sidecar is ours and names that very file; anything
// else named `NAME.part` (a user's file, another program's download, a symlink) is never opened,
// and the download takes the next name, `NAME (1)`, as safe-path.ts numbers duplicates.
// A large file's sidecar is written with its `.part` (a crash must not cost the resume); a small
// file's only when its `.part` is left behind by a failure: one more file created and removed
// per file would cost ~70 % more than writing a 10 KiB file (docs/benchmarks.md, "Small files").
// Sidecars are a few dozen bytes: read and written with direct syscalls (see part-file.ts).
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { writeFileAtomic } from '../common/atomic-write.js';
import path from 'node:path';
import { fsError } from './errors.js';
import { O_NOFOLLOW, openPart, type PartFile } from './part-file.js';
import { numberedName } from './safe-path.js';

export const SIDECAR_SUFFIX = '.chat';
const MAGIC = 'chat part v1';
const MAX_SIDECAR_BYTES = 4096;
const MAX_NUMBER = 10_000;

/** What a sidecar records besides the `.part`'s identity. */
export interface PartOwner {
  transferId: string;
  /** The offered size of the file. */
  size: number;
}

interface Sidecar extends PartOwner {
  magic: typeof MAGIC;
  /** "dev:ino" of the `.part`. */
  id: string;
}

/** A claimed `.part`: its path, the ` (n)` of its name, the open file, and whether its sidecar is written. */
export interface ClaimedPart {
  partPath: string;
  number: number;
  part: PartFile;
  marked: boolean;
}

export function sidecarOf(partPath: string): string {
  return partPath + SIDECAR_SUFFIX;
}

/**
 * The `.part` for `finalPath`: `NAME.part` if free (created; with its sidecar when `mark`) or ours
 * (reopened), else `NAME (1).part`, …. `claimed` holds the `.part` paths of this receiver's files.
 */
export async function claimPart(finalPath: string, owner: PartOwner, small: boolean, mark: boolean, claimed: Set<string>): Promise<ClaimedPart> {
  const dir = path.dirname(finalPath);
  const base = path.basename(finalPath);
  for (let n = 0; n < MAX_NUMBER; n++) {
    const partPath = path.join(dir, `${numberedName(base, n)}.part`);
    const key = claimKey(partPath);
    if (claimed.has(key)) continue;
    claimed.add(key);
    const created = await createPart(partPath, owner, small, mark);
    if (created) return { partPath, number: n, part: created, marked: mark };
    const kept = await reopenPart(partPath, small);
    if (kept) return { partPath, number: n, part: kept, marked: true };
  }
  throw fsError(Object.assign(new Error('too many files with this name'), { code: 'EEXIST' }), finalPath);
}

/** Gives back the name of a `.part` that is gone (its file placed), so `claimed` stays small. */
export function releasePart(claimed: Set<string>, partPath: string): void {
  claimed.delete(claimKey(partPath));
}

function claimKey(partPath: string): string {
  return partPath.toLowerCase(); // one name on a case-insensitive disk
}

/** Opens a `.part` this program made: the file `id` names, else the one its sidecar names; null if not ours. */
export async function reopenPart(partPath: string, small: boolean, id = readSidecar(partPath)?.id): Promise<PartFile | null> {
  if (!id) return null;
  const st = lstatSync(partPath, { bigint: true, throwIfNoEntry: false });
  if (!st?.isFile() || `${st.dev}:${st.ino}` !== id) return null; // checked before opening: no FIFO or device is ever opened
  const part = await openPart(partPath, small, false);
  if ((await part.identity()) === id) return part;
  await part.close(); // replaced in between
  return null;
}

/** Writes the sidecar of our `.part` (left behind by a failure); false if that name holds someone else's file. */
export function markPart(partPath: string, owner: PartOwner, id: string): boolean {
  return writeSidecar(partPath, { magic: MAGIC, ...owner, id });
}

/** Records an existing `.part` as ours, so a later receiver resumes it (tests; a tool moving a download). */
export function adoptPart(partPath: string, owner: PartOwner): void {
  const st = lstatSync(partPath, { bigint: true });
  if (!st.isFile()) throw Object.assign(new Error(`${partPath} is not a regular file`), { code: 'EINVAL' });
  rmSync(sidecarOf(partPath), { force: true });
  if (!markPart(partPath, owner, `${st.dev}:${st.ino}`)) throw new Error(`cannot write ${sidecarOf(partPath)}`);
}

/** Removes the sidecar of a `.part` that was placed under its final name. */
export function removeSidecar(partPath: string): void {
  try {
    unlinkSync(sidecarOf(partPath));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

// Creates the `.part` (and, if `mark`, its sidecar); null if the name is taken (nothing is touched).
async function createPart(partPath: string, owner: PartOwner, small: boolean, mark: boolean): Promise<PartFile | null> {
  let part: PartFile;
  try {
    part = await openPart(partPath, small, true);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return null;
    throw err;
  }
  try {
    if (!mark || markPart(partPath, owner, await part.identity())) return part;
    await discard(part, partPath); // the sidecar's name is someone else's: try the next name
    return null;
  } catch (err) {
    await discard(part, partPath).catch(() => {});
    throw err;
  }
}

async function discard(part: PartFile, partPath: string): Promise<void> {
  await part.close();
  unlinkSync(partPath);
}

// A sidecar already there is replaced only if it is ours (left by a `.part` that is gone).
function writeSidecar(partPath: string, sidecar: Sidecar): boolean {
  const file = sidecarOf(partPath);
  const text = `${JSON.stringify(sidecar)}\n`;
  try {
    const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_NOFOLLOW, 0o600);
    try {
      writeFileSync(fd, text);
    } finally {
      closeSync(fd);
    }
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  if (!readSidecar(partPath)) return false;
  writeFileAtomic(file, text, 0o600); // replaces the name, never writes through it
  return true;
}

// The sidecar of `partPath` if it is a regular file (not followed if a symlink) in our format.
function readSidecar(partPath: string): Sidecar | null {
  let fd: number;
  try {
    fd = openSync(sidecarOf(partPath), constants.O_RDONLY | O_NOFOLLOW | (constants.O_NONBLOCK ?? 0));
  } catch {
    return null;
  }
  try {
    if (!fstatSync(fd).isFile()) return null;
    const buf = Buffer.alloc(MAX_SIDECAR_BYTES);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const value = JSON.parse(buf.subarray(0, n).toString('utf8')) as Partial<Sidecar>;
    return value.magic === MAGIC && typeof value.id === 'string' ? (value as Sidecar) : null;
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}
