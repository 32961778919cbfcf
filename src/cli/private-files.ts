// Files only their owner may read: the server's data directory (database, WAL, TLS key) and the
// client's CHAT_HOME (sessions, pinned certificates). Directories 0700, files 0600, checked and
// fixed on use, because a directory an operator made beforehand (`mkdir /var/lib/chat`) is 0755.
import { chmodSync, lstatSync, mkdirSync, readFileSync, statSync, type Stats } from 'node:fs';
import { writeFileAtomic } from '../common/atomic-write.js';
import path from 'node:path';
import { CliError } from './context.js';

const DIR_MODE = 0o700;
const FILE_MODE = 0o600;

/** One mode this process changed. */
export interface ModeFix {
  path: string;
  was: number;
  now: number;
}

/**
 * Makes `dir` 0700 and its regular files `names` 0600; returns the changes. A symlink among them
 * is left alone (chmod would follow it); `dir` itself may be one. Throws if a mode cannot be
 * changed (fail closed).
 */
export function makePrivate(dir: string, names: string[]): ModeFix[] {
  const fixes: ModeFix[] = [];
  fix(dir, statSync(dir), fixes);
  fixFiles(dir, names, fixes);
  return fixes;
}

function fixFiles(dir: string, names: string[], fixes: ModeFix[]): void {
  for (const name of names) {
    const file = path.join(dir, name);
    const st = lstatOrNull(file);
    if (st) fix(file, st, fixes);
  }
}

// Only group/other bits (and setuid/setgid/sticky) are taken away: 0400 stays 0400.
function fix(file: string, st: Stats, fixes: ModeFix[]): void {
  if (!st.isDirectory() && !st.isFile()) return;
  const want = st.isDirectory() ? DIR_MODE : FILE_MODE;
  const was = st.mode & 0o7777;
  if ((was & 0o7077) === 0) return;
  chmodSync(file, want);
  fixes.push({ path: file, was, now: want });
}

function lstatOrNull(file: string): Stats | null {
  try {
    return lstatSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** "fixed modes: /var/lib/chat was 0755, now 0700; chat.db was 0644, now 0600" (files by name). */
export function describeFixes(dir: string, fixes: ModeFix[]): string {
  const octal = (m: number): string => `0${m.toString(8).padStart(3, '0')}`;
  const name = (p: string): string => (p === dir ? dir : path.relative(dir, p));
  return `fixed modes: ${fixes.map((f) => `${name(f.path)} was ${octal(f.was)}, now ${octal(f.now)}`).join('; ')}`;
}

/**
 * Creates `dir` (0700) if missing and takes group/other access away from it and from its files
 * `names`. A directory we may not chmod (CHAT_HOME=/tmp) is left as it is: the files stay 0600.
 */
export function ensurePrivateDir(dir: string, names: string[]): void {
  mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  const fixes: ModeFix[] = [];
  try {
    fix(dir, statSync(dir), fixes);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
  }
  fixFiles(dir, names, fixes);
}

/** Writes `name` in the private `dir` atomically, mode 0600 whatever the umask or a stale temp file. */
export function writePrivateFile(dir: string, name: string, text: string): void {
  ensurePrivateDir(dir, [name]);
  writeFileAtomic(path.join(dir, name), text, FILE_MODE);
}

/** Before reading: like ensurePrivateDir, but a missing `dir` or a mode we may not change is left to the next write. */
function keepPrivate(dir: string, names: string[]): void {
  const fixes: ModeFix[] = [];
  for (const step of [() => fixFiles(dir, names, fixes), () => fix(dir, statSync(dir), fixes)]) {
    try {
      step();
    } catch {
      // ENOENT: nothing saved yet; EPERM: not ours to fix here
    }
  }
}

/** The text of the private file `name` in `dir` (its modes kept private first); null if there is none. */
export function readPrivateFile(dir: string, name: string): string | null {
  keepPrivate(dir, [name]);
  const file = path.join(dir, name);
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
}
