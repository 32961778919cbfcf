import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { identicalAt } from '../../../src/transfer/finalize.js';

const dirs: string[] = [];
afterEach(async () => Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true }))));

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('identicalAt (the same file already at the final name is kept, issue 27 item 14)', () => {
  // Both ways of asking: direct syscalls (small files) and the thread pool (large ones).
  for (const sync of [true, false]) {
    it(`answers the same with ${sync ? 'direct syscalls' : 'the thread pool'}: only a regular file with the same bytes counts`, async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'finalize-'));
      dirs.push(dir);
      const bytes = Buffer.from('the same ten thousand bytes, more or less');
      const other = Buffer.from(bytes).fill(0x41, 0, 1); // same size, one byte differs
      await writeFile(path.join(dir, 'same.bin'), bytes);
      await writeFile(path.join(dir, 'other.bin'), other);
      await symlink(path.join(dir, 'same.bin'), path.join(dir, 'link.bin'));
      await mkdir(path.join(dir, 'dir.bin'));
      const at = (name: string): Promise<boolean> => identicalAt(path.join(dir, name), bytes.length, sha(bytes), sync);
      expect(await at('same.bin')).toBe(true);
      expect(await at('missing.bin')).toBe(false);
      expect(await at('other.bin')).toBe(false);
      expect(await at('link.bin')).toBe(false); // never through a link
      expect(await at('dir.bin')).toBe(false);
      expect(await identicalAt(path.join(dir, 'same.bin'), bytes.length + 1, sha(bytes), sync)).toBe(false);
      expect(await identicalAt(path.join(dir, 'nodir', 'x.bin'), bytes.length, sha(bytes), sync)).toBe(false);
    });
  }
});
