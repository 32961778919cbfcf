// The directories a receiver writes into (protocol.md §T6): each component below the target
// directory is made or checked one at a time, and one that is a symbolic link (to anywhere) or
// not a directory is refused, so a link planted in --dir never carries a file out of it. The
// target directory itself may be a link: that is the user's own choice.
import { lstat, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { TransferError, fsError } from './errors.js';

/** Creates `dir` (inside `root`) and its parents below `root`; rejects if any of them is a symlink. */
export async function makeDirInside(root: string, dir: string): Promise<void> {
  const top = path.resolve(root);
  await mkdir(top, { recursive: true }).catch((err: unknown) => {
    throw fsError(err, top);
  });
  const rel = path.relative(top, path.resolve(dir));
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw new TransferError('permission_denied', `${dir} is outside ${top}`);
  let at = top;
  for (const part of rel.split(path.sep).filter(Boolean)) {
    at = path.join(at, part);
    await mkdir(at).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw fsError(err, at);
    });
    const st = await lstat(at);
    if (st.isSymbolicLink()) throw new TransferError('permission_denied', `refusing to write through ${at}: it is a symbolic link (files go only into real directories inside ${top})`);
    if (!st.isDirectory()) throw new TransferError('io_error', `cannot make directory ${at}: a file of that name is in the way`);
  }
}
