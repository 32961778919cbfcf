import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { collectFiles, localCandidates, newTransferSecret } from '../../../src/transfer/offer.js';

const dirs: string[] = [];
afterEach(async () => Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true }))));

describe('newTransferSecret', () => {
  it('returns distinct URL-safe id and token', () => {
    const a = newTransferSecret();
    const b = newTransferSecret();
    expect(a.transferId).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(a.token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(a.token).not.toBe(b.token);
  });
});

describe('localCandidates', () => {
  it('puts advertised hosts first, all with the given port', () => {
    const list = localCandidates(4000, ['relay.example', '203.0.113.7']);
    expect(list.slice(0, 2)).toEqual([
      { host: 'relay.example', port: 4000 },
      { host: '203.0.113.7', port: 4000 },
    ]);
    expect(list.every((c) => c.port === 4000)).toBe(true);
  });

  it('lists only the advertised hosts in replace mode', () => {
    expect(localCandidates(1, ['a', 'a', 'b'], true)).toEqual([
      { host: 'a', port: 1 },
      { host: 'b', port: 1 },
    ]);
  });

  it('never lists link-local IPv6 addresses', () => {
    expect(localCandidates(1).some((c) => c.host.toLowerCase().startsWith('fe80'))).toBe(false);
  });
});

describe('collectFiles', () => {
  it('walks directories in name order with /-separated relative paths and describes each file', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'offer-'));
    dirs.push(root);
    await mkdir(path.join(root, 'album', 'sub'), { recursive: true });
    await writeFile(path.join(root, 'album', 'b.png'), 'png');
    await writeFile(path.join(root, 'album', 'sub', 'a.unknownext'), 'x');
    await symlink(path.join(root, 'album'), path.join(root, 'album', 'loop'));
    const files = await collectFiles([path.join(root, 'album')]);
    expect(files.map((f) => [f.path, f.mime, f.size])).toEqual([
      ['album/b.png', 'image/png', 3],
      ['album/sub/a.unknownext', 'application/octet-stream', 1],
    ]);
    expect(files[0]!.source).toBe(path.join(root, 'album', 'b.png'));
    expect(files[0]!.mode).toBeLessThanOrEqual(0o777);
  });

  it('lists every file of a directory larger than one stat batch, in name order', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'offer-'));
    dirs.push(root);
    const names = Array.from({ length: 150 }, (_, i) => `f${String(i).padStart(3, '0')}.txt`);
    await mkdir(path.join(root, 'big', 'sub'), { recursive: true });
    await Promise.all(names.map((n, i) => writeFile(path.join(root, 'big', n), 'x'.repeat(i))));
    await writeFile(path.join(root, 'big', 'sub', 'last.txt'), 'y');
    const files = await collectFiles([path.join(root, 'big')]);
    expect(files.map((f) => f.path)).toEqual([...names.map((n) => `big/${n}`), 'big/sub/last.txt']);
    expect(files.map((f) => f.size).slice(0, 150)).toEqual(names.map((_, i) => i));
  });

  it('fails with not_found for a missing path', async () => {
    await expect(collectFiles(['/definitely/not/here.txt'])).rejects.toMatchObject({
      code: 'not_found',
      message: 'no such file: /definitely/not/here.txt',
    });
  });
});
