// Which `.part` files are ours (protocol.md §T5): a `.part` this program creates gets a sidecar
// `NAME.part.chat` (mode 0600) naming the transfer, the offered size and the `.part`'s device and
// inode. A `.part` is resumed only when its sidecar is ours and names that very file; anything
// else named `NAME.part` (a user's file, another program's download, a symlink) is never opened,
// and the download takes the next name, `NAME (1)`, as safe-path.ts numbers duplicates.
// Sidecars are a few dozen bytes: read and written with direct syscalls (see part-file.ts).
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
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

/** A claimed `.part`: its path, the ` (n)` of its name, and the open file. */
export interface ClaimedPart {
  partPath: string;
  number: number;
  part: PartFile;
}

export function sidecarOf(partPath: string): string {
  return partPath + SIDECAR_SUFFIX;
}

/**
 * The `.part` for `finalPath`: `NAME.part` if free (created with its sidecar) or ours (reopened),
 * else `NAME (1).part`, …. `claimed` holds the `.part` paths other files of this receiver use.
 */
export async function claimPart(finalPath: string, owner: PartOwner, small: boolean, claimed: Set<string>): Promise<ClaimedPart> {
  const dir = path.dirname(finalPath);
  const base = path.basename(finalPath);
  for (let n = 0; n < MAX_NUMBER; n++) {
    const partPath = path.join(dir, `${numberedName(base, n)}.part`);
    const key = partPath.toLowerCase(); // one name on a case-insensitive disk
    if (claimed.has(key)) continue;
    claimed.add(key);
    const part = (await createPart(partPath, owner, small)) ?? (await reopenPart(partPath, small));
    if (part) return { partPath, number: n, part };
  }
  throw fsError(Object.assign(new Error('too many files with this name'), { code: 'EEXIST' }), finalPath);
}

/** Opens a `.part` this program made (its sidecar names it); null if it is not ours. */
export async function reopenPart(partPath: string, small: boolean): Promise<PartFile | null> {
  const sidecar = readSidecar(partPath);
  if (!sidecar) return null;
  const st = lstatSync(partPath, { bigint: true, throwIfNoEntry: false });
  if (!st?.isFile() || `${st.dev}:${st.ino}` !== sidecar.id) return null; // checked before opening: no FIFO or device is ever opened
  const part = await openPart(partPath, small, false);
  if (part.id === sidecar.id) return part;
  await part.close(); // replaced in between
  return null;
}

/** Records an existing `.part` as ours, so a later receiver resumes it (tests; a tool moving a download). */
export function adoptPart(partPath: string, owner: PartOwner): void {
  const st = lstatSync(partPath, { bigint: true });
  if (!st.isFile()) throw Object.assign(new Error(`${partPath} is not a regular file`), { code: 'EINVAL' });
  rmSync(sidecarOf(partPath), { force: true });
  if (!writeSidecar(partPath, { magic: MAGIC, ...owner, id: `${st.dev}:${st.ino}` })) throw new Error(`cannot write ${sidecarOf(partPath)}`);
}

/** Removes the sidecar of a `.part` that was placed under its final name. */
export function removeSidecar(partPath: string): void {
  rmSync(sidecarOf(partPath), { force: true });
}

// Creates the `.part` and its sidecar; null if the name is taken (then nothing is touched).
async function createPart(partPath: string, owner: PartOwner, small: boolean): Promise<PartFile | null> {
  let part: PartFile;
  try {
    part = await openPart(partPath, small, true);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return null;
    throw err;
  }
  try {
    if (writeSidecar(partPath, { magic: MAGIC, ...owner, id: part.id })) return part;
    await discard(part, partPath);
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

// A sidecar already there is replaced only if it is ours (left by a `.part` that is gone); false
// if it is someone else's file.
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
  const tmp = `${file}.${process.pid}.tmp`;
  rmSync(tmp, { force: true });
  writeFileSync(tmp, text, { mode: 0o600, flag: 'wx' });
  renameSync(tmp, file); // replaces the name, never writes through it
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
