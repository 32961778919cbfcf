import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { collectFiles, removeDirs, runPair, startPair, tmpDir } from '../../helpers/transfer-files.js';

const COUNT = 10_000;
const dirs: string[] = [];
afterAll(async () => removeDirs(dirs));

async function makeTree(root: string): Promise<void> {
  const tree = path.join(root, 'tree');
  for (let d = 0; d < 100; d++) await mkdir(path.join(tree, `d${d}`), { recursive: true });
  const names = Array.from({ length: COUNT }, (_, i) => path.join(tree, `d${i % 100}`, `f${i}.txt`));
  for (let i = 0; i < COUNT; i += 500) {
    await Promise.all(names.slice(i, i + 500).map((n, j) => writeFile(n, `file ${i + j}\n`.repeat((i + j) % 7))));
  }
}

describe('transfer: many files', () => {
  it(`moves a directory of ${COUNT} small files over one connection`, async () => {
    const [src, dst] = [await tmpDir(), await tmpDir()];
    dirs.push(src, dst);
    await makeTree(src);
    const files = await collectFiles([path.join(src, 'tree')]);
    expect(files).toHaveLength(COUNT);
    const pair = await startPair(files, dst);
    let connections = 0;
    pair.sender.on('connected', () => connections++);
    const started = performance.now();
    const { received, sent } = await runPair(pair);
    const elapsed = performance.now() - started;
    expect(received.files).toHaveLength(COUNT);
    expect(sent.files).toHaveLength(COUNT);
    expect(connections).toBe(1); // small files share the first connection, many per bundle
    expect((await readdir(path.join(dst, 'tree'))).length).toBe(100);
    for (const i of [0, 1, 4321, COUNT - 1]) {
      const rel = path.join('tree', `d${i % 100}`, `f${i}.txt`);
      expect(await readFile(path.join(dst, rel), 'utf8')).toBe(await readFile(path.join(src, rel), 'utf8'));
    }
    console.log(`${COUNT} files in ${Math.round(elapsed)} ms`);
  }, 30_000);
});
