import { chmod, mkdir, readFile, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalFile } from '../../../src/transfer/offer.js';
import { collectFiles, runPair, sha256File, scratchDirs, startPair, writeRandomFile } from '../../helpers/transfer-files.js';

const scratch = scratchDirs();
const dir = scratch.dir;
afterEach(() => scratch.removeAll());

describe('transfer: basic', () => {
  it('sends one file and both sides report the same SHA-256', async () => {
    const [src, dst] = [await dir(), await dir()];
    const file = await writeRandomFile(src, 'report.pdf', 300_000);
    const files = await collectFiles([file]);
    expect(files[0]).toMatchObject({ path: 'report.pdf', size: 300_000, mime: 'application/pdf' });
    const { received, sent } = await runPair(await startPair(files, dst));
    const sha = await sha256File(file);
    expect(received.files[0]).toMatchObject({ savedAs: path.join(dst, 'report.pdf'), sha256: sha, resumedFrom: 0 });
    expect(sent.files[0]!.sha256).toBe(sha);
    expect(received.bytes).toBe(300_000);
    expect(await sha256File(path.join(dst, 'report.pdf'))).toBe(sha);
  });

  it('sends several files and a directory with relative paths', async () => {
    const [src, dst] = [await dir(), await dir()];
    await mkdir(path.join(src, 'photos', '2024'), { recursive: true });
    await writeRandomFile(src, 'photos/a.jpg', 1000, 1);
    await writeRandomFile(src, 'photos/2024/b.jpg', 70_000, 2);
    const single = await writeRandomFile(src, 'notes.txt', 10, 3);
    const files = await collectFiles([single, path.join(src, 'photos')]);
    expect(files.map((f) => f.path)).toEqual(['notes.txt', 'photos/2024/b.jpg', 'photos/a.jpg']);
    await runPair(await startPair(files, dst, {}, { parallel: 2 }));
    for (const rel of ['notes.txt', 'photos/2024/b.jpg', 'photos/a.jpg']) {
      expect(await sha256File(path.join(dst, rel))).toBe(await sha256File(path.join(src, rel)));
    }
  });

  it('spreads large files over parallel connections and keeps small ones on the first', async () => {
    const [src, dst] = [await dir(), await dir()];
    const sources = [await writeRandomFile(src, 'big1.bin', 2_000_000, 1), await writeRandomFile(src, 'big2.bin', 2_000_000, 2)];
    for (let i = 0; i < 20; i++) sources.push(await writeRandomFile(src, `small${i}.bin`, 1000, i + 3));
    const files = await collectFiles(sources);
    const pair = await startPair(files, dst, {}, { parallel: 4 });
    let connections = 0;
    pair.sender.on('connected', () => connections++);
    const { received } = await runPair(pair);
    expect(received.files).toHaveLength(22);
    expect(connections).toBe(2); // one per large file; the small ones ride on the first
  });

  it('sends an empty file', async () => {
    const [src, dst] = [await dir(), await dir()];
    await writeFile(path.join(src, 'empty.txt'), '');
    const { received } = await runPair(await startPair(await collectFiles([path.join(src, 'empty.txt')]), dst));
    expect(received.files[0]!.sha256).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect((await stat(path.join(dst, 'empty.txt'))).size).toBe(0);
  });

  it('sends a 64 MiB file intact, emitting progress on both sides', async () => {
    const [src, dst] = [await dir(), await dir()];
    const file = await writeRandomFile(src, 'big.bin', 64 * 1024 * 1024, 7);
    const pair = await startPair(await collectFiles([file]), dst);
    let senderSeen = 0;
    let receiverSeen = 0;
    pair.sender.on('progress', (p) => (senderSeen = p.totalBytes));
    pair.receiver.on('progress', (p) => (receiverSeen = p.totalBytes));
    const { received } = await runPair(pair);
    expect(received.files[0]!.sha256).toBe(await sha256File(file));
    expect(receiverSeen).toBe(64 * 1024 * 1024);
    expect(senderSeen).toBe(64 * 1024 * 1024);
  });

  it('keeps the modification time and the mode', async () => {
    const [src, dst] = [await dir(), await dir()];
    const file = await writeRandomFile(src, 'run.sh', 5000);
    await chmod(file, 0o750);
    await utimes(file, new Date('2020-01-02T03:04:05Z'), new Date('2021-06-07T08:09:10.500Z'));
    const { received } = await runPair(await startPair(await collectFiles([file]), dst));
    const st = await stat(received.files[0]!.savedAs);
    expect(st.mode & 0o777).toBe(0o750);
    expect(Math.round(st.mtimeMs)).toBe(Date.parse('2021-06-07T08:09:10.500Z'));
  });

  it('never overwrites an existing file: the new one becomes "a (1).txt"', async () => {
    const [src, dst] = [await dir(), await dir()];
    const file = path.join(src, 'a.txt');
    await writeFile(file, 'new content');
    await writeFile(path.join(dst, 'a.txt'), 'old content');
    const { received } = await runPair(await startPair(await collectFiles([file]), dst));
    expect(received.files[0]!.savedAs).toBe(path.join(dst, 'a (1).txt'));
    expect(await readFile(path.join(dst, 'a.txt'), 'utf8')).toBe('old content');
    expect(await readFile(path.join(dst, 'a (1).txt'), 'utf8')).toBe('new content');
    expect((await readdir(dst)).sort()).toEqual(['a (1).txt', 'a.txt']);
  });

  it('lands hostile names inside the target dir', async () => {
    const [src, parent] = [await dir(), await dir()];
    const dst = path.join(parent, 'inbox');
    const source = await writeRandomFile(src, 'x', 100);
    const [base] = await collectFiles([source]);
    const hostile = ['../../etc/x', '/etc/passwd', 'a\u0001b\nc.txt', '..\\..\\win.ini', 'CON', '..'];
    const files: LocalFile[] = hostile.map((p) => ({ ...base!, path: p }));
    const { received } = await runPair(await startPair(files, dst));
    for (const r of received.files) expect(r.savedAs.startsWith(dst + path.sep)).toBe(true);
    expect(received.files.map((r) => path.relative(dst, r.savedAs))).toEqual([
      path.join('etc', 'x'),
      path.join('etc', 'passwd'),
      'abc.txt',
      'win.ini',
      '_CON',
      'file',
    ]);
    expect(await readdir(parent)).toEqual(['inbox']);
  });
});
