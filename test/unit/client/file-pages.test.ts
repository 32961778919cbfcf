import { describe, expect, it } from 'vitest';
import { filePages } from '../../../src/client/client.js';

const file = (path: string) => ({ path, size: 1, mime: 'text/plain', mode: 0o644, mtimeMs: 0 });

describe('offer file-list pages', () => {
  it('holds at most 1000 files per page', () => {
    const files = Array.from({ length: 2500 }, (_, i) => file(`f${i}`));
    expect(filePages(files).map((p) => p.length)).toEqual([1000, 1000, 500]);
    expect(filePages([])).toEqual([[]]);
  });

  it('keeps each page small when paths are long, and never drops a file', () => {
    const files = Array.from({ length: 100 }, (_, i) => file(`${'d/'.repeat(1000)}${i}`));
    const pages = filePages(files);
    expect(pages.length).toBeGreaterThan(1);
    for (const page of pages) expect(Buffer.byteLength(JSON.stringify(page))).toBeLessThan(200_000);
    expect(pages.flat().map((f) => f.path)).toEqual(files.map((f) => f.path));
  });

  it('sends only the protocol fields of each file', () => {
    const local = { ...file('a'), source: '/home/alice/a' };
    expect(filePages([local])[0]![0]).toEqual(file('a'));
  });
});
