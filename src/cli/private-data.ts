// chat serve's data directory holds every message, password hash and the TLS key: it is made
// 0700 and its files 0600 on each start (an operator's `mkdir /var/lib/chat` is 0755, and a
// database copied in may be 0644), and files made later are private through the umask.
import { existsSync } from 'node:fs';
import { CERT_FILE, KEY_FILE } from '../server/certificate.js';
import { CliError, type CliContext } from './context.js';
import { describeFixes, makePrivate } from './private-files.js';

const DB_FILE = 'chat.db'; // store/sqlite.ts (not imported here: it loads the SQLite driver)
/** What chat serve keeps in --data; other files there (an operator's own) are left alone. */
export const DATA_FILES = [DB_FILE, `${DB_FILE}-wal`, `${DB_FILE}-shm`, `${DB_FILE}-journal`, KEY_FILE, CERT_FILE];

/** Sets the umask to 077 and fixes the modes of `dir` (if it exists), saying so on stderr. */
export function privateDataDir(dir: string, ctx: CliContext): void {
  process.umask(0o077); // SQLite's -wal/-shm, the certificate, anything made later: 0600
  if (!existsSync(dir)) return; // made 0700 by whoever creates it
  try {
    const fixes = makePrivate(dir, DATA_FILES);
    if (fixes.length > 0) ctx.err(`chat: ${describeFixes(dir, fixes)}`);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new CliError(`cannot make the data directory ${dir} private (0700, files 0600): ${e.code ?? e.message}${e.path ? ` on ${e.path}` : ''}`);
  }
}
