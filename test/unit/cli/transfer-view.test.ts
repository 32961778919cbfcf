// TransferView on a terminal (bars): every file's summary line reaches the terminal, also the
// last one, which finishes right before the bars stop (issue 27, item 1). The "terminal" is a
// stream that says it is a TTY and keeps what is written.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { CliContext } from '../../../src/cli/context.js';
import { formatEta, TransferView } from '../../../src/cli/transfer-view.js';
import type { FileResult } from '../../../src/transfer/types.js';

function terminal(): { ctx: CliContext; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = Object.assign(new PassThrough(), { isTTY: true, columns: 100, rows: 40 }) as unknown as NodeJS.WriteStream;
  (stream as unknown as PassThrough).on('data', (c: Buffer) => chunks.push(c));
  const write = (line: string) => void stream.write(`${line}\n`);
  const ctx = { stdout: stream, stderr: stream, stdin: process.stdin, env: {}, isTTY: true, out: write, err: write } as CliContext;
  return { ctx, text: () => Buffer.concat(chunks).toString('utf8') };
}

const result = (index: number, path: string): FileResult =>
  ({ index, path, savedAs: '', size: 1000, sha256: String(index).repeat(64), resumedFrom: 0, elapsedMs: 5 }) as FileResult;

describe('TransferView with bars', () => {
  it.each([1, 5])('prints the summary line of each of %i files, the last one too', async (n) => {
    const { ctx, text } = terminal();
    const files = Array.from({ length: n }, (_, i) => ({ path: `file-${i}.bin` }));
    const view = new TransferView(ctx, 'bars', files);
    const results: FileResult[] = [];
    for (let i = 0; i < n; i++) {
      view.progress({ index: i, bytes: 500, size: 1000, totalBytes: i * 1000 + 500, totalSize: n * 1000 });
      results.push(result(i, files[i]!.path));
      view.file(results[i]!);
    }
    view.done({ files: results, bytes: n * 1000, elapsedMs: 10 }, 'received');
    await new Promise((resolve) => setImmediate(resolve));
    const out = text();
    for (let i = 0; i < n; i++) expect(out).toContain(`sha256 ${String(i).repeat(64)}`);
    expect(out).toContain(`received: ${n} file(s)`);
    expect(out).not.toMatch(/NULL|LLs/);
  });
});

describe('formatEta', () => {
  it.each([
    [0, 1000, 0, '--'],
    [0, 1000, 5000, '--'],
    [500, 1000, 1000, '1s'],
    [100, 1000, 1000, '9s'],
    [1, 1000, 1000, '16m39s'],
    [1, 100_000, 1000, '27h46m'],
  ])('%i of %i bytes after %i ms: %s', (bytes, size, elapsed, expected) => {
    expect(formatEta(bytes, size, elapsed)).toBe(expected);
  });
});
