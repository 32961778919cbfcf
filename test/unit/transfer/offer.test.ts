import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { collectFiles, collectOffer, isInside, localCandidates, newTransferSecret } from '../../../src/transfer/offer.js';

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

  it('with --bind to one address lists that address (after the advertised ones), not the other interfaces', () => {
    expect(localCandidates(7, [], false, '127.0.0.1')).toEqual([{ host: '127.0.0.1', port: 7 }]);
    expect(localCandidates(7, ['pub.example'], false, '::1')).toEqual([{ host: 'pub.example', port: 7 }, { host: '::1', port: 7 }]);
    expect(localCandidates(7, ['pub.example'], true, '::1')).toEqual([{ host: 'pub.example', port: 7 }]);
    expect(localCandidates(7, [], false, '0.0.0.0')).toEqual(localCandidates(7));
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

describe('collectOffer: symbolic links under a named directory (issue 26, point 7)', () => {
  /** root/outside.txt, and root/dir with a.txt, sub/b.txt and the links `make` adds. */
  async function tree(make: (dir: string, root: string) => Promise<void>): Promise<{ root: string; dir: string }> {
    const root = await mkdtemp(path.join(os.tmpdir(), 'offer-links-'));
    dirs.push(root);
    const dir = path.join(root, 'dir');
    await mkdir(path.join(dir, 'sub'), { recursive: true });
    await writeFile(path.join(root, 'outside.txt'), 'secret');
    await writeFile(path.join(dir, 'a.txt'), 'aaa');
    await writeFile(path.join(dir, 'sub', 'b.txt'), 'bb');
    await make(dir, root);
    return { root, dir };
  }

  it('skips a link whose target lies outside the directory and lists it; --follow-symlinks sends it', async () => {
    const { root, dir } = await tree(async (d, r) => {
      await symlink(path.join(r, 'outside.txt'), path.join(d, 'out.txt'));
      await symlink('../../outside.txt', path.join(d, 'sub', 'rel-out.txt'));
      await symlink(r, path.join(d, 'up')); // a directory outside (it holds dir itself)
    });
    const { files, skipped } = await collectOffer([dir]);
    expect(files.map((f) => f.path)).toEqual(['dir/a.txt', 'dir/sub/b.txt']);
    expect(skipped).toEqual([
      { path: 'dir/out.txt', target: path.join(root, 'outside.txt'), reason: 'outside' },
      { path: 'dir/sub/rel-out.txt', target: path.join(root, 'outside.txt'), reason: 'outside' },
      { path: 'dir/up', target: root, reason: 'outside' },
    ]);

    const followed = await collectOffer([dir], { followSymlinks: true });
    expect(followed.files.map((f) => [f.path, f.size])).toContainEqual(['dir/out.txt', 6]);
    expect(followed.files.find((f) => f.path === 'dir/out.txt')!.source).toBe(path.join(root, 'outside.txt'));
    expect(followed.files.map((f) => f.path)).toContain('dir/up/outside.txt');
    expect(followed.skipped).toEqual([{ path: 'dir/up/dir', target: dir, reason: 'loop' }]); // up/dir leads back to dir
  });

  it('sends a link to a file or directory inside the directory as what it points to', async () => {
    const { dir } = await tree(async (d) => {
      await symlink('sub/b.txt', path.join(d, 'b-link.txt'));
      await symlink(path.join(d, 'sub'), path.join(d, 'sub-link'));
    });
    const { files, skipped } = await collectOffer([dir]);
    expect(skipped).toEqual([]);
    expect(files.map((f) => [f.path, f.size, f.source])).toEqual([
      ['dir/a.txt', 3, path.join(dir, 'a.txt')],
      ['dir/b-link.txt', 2, path.join(dir, 'sub', 'b.txt')],
      ['dir/sub/b.txt', 2, path.join(dir, 'sub', 'b.txt')],
      ['dir/sub-link/b.txt', 2, path.join(dir, 'sub', 'b.txt')],
    ]);
  });

  it('does not hang on loops: a link to an enclosing directory, a link cycle, a dangling link', async () => {
    const { dir } = await tree(async (d) => {
      await symlink(d, path.join(d, 'sub', 'again'));
      await symlink('y', path.join(d, 'x'));
      await symlink('x', path.join(d, 'y'));
      await symlink('nowhere', path.join(d, 'dangling'));
    });
    for (const followSymlinks of [false, true]) {
      const { files, skipped } = await collectOffer([dir], { followSymlinks });
      expect(files.map((f) => f.path)).toEqual(['dir/a.txt', 'dir/sub/b.txt']);
      expect(skipped).toEqual([
        { path: 'dir/dangling', target: 'nowhere', reason: 'broken' },
        { path: 'dir/sub/again', target: dir, reason: 'loop' },
        { path: 'dir/x', target: 'y', reason: 'loop' },
        { path: 'dir/y', target: 'x', reason: 'loop' },
      ].sort((a, b) => (a.path < b.path ? -1 : 1)));
    }
  });

  it('a named link is followed: naming it is the user\'s choice', async () => {
    const { root, dir } = await tree(async (d, r) => symlink(path.join(r, 'outside.txt'), path.join(d, 'out.txt')));
    const { files, skipped } = await collectOffer([path.join(dir, 'out.txt')]);
    expect(files.map((f) => [f.path, f.source])).toEqual([['out.txt', path.join(root, 'outside.txt')]]);
    expect(skipped).toEqual([]);
  });

  it('isInside compares whole path components', () => {
    expect(isInside('/a/b', '/a/b')).toBe(true);
    expect(isInside('/a/b', '/a/b/c')).toBe(true);
    expect(isInside('/a/b', '/a/bc')).toBe(false);
    expect(isInside('/', '/etc')).toBe(true);
  });
});
