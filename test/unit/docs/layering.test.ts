// The folder layering of docs/architecture.md, read from the sources with the TypeScript
// compiler's own import scanner: each folder imports only the folders its row allows, and no
// module imports itself back through others (no cycles).
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../../../src');

/** Folder → the folders it may import (its own always). */
const ALLOWED: Record<string, string[]> = {
  common: [],
  protocol: ['common'],
  store: ['common', 'protocol'],
  bus: ['common', 'protocol'],
  server: ['common', 'protocol', 'store', 'bus'],
  transfer: ['common', 'protocol'],
  client: ['common', 'protocol', 'transfer'],
  cli: ['common', 'protocol', 'store', 'bus', 'server', 'transfer', 'client'],
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sources(full);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [full] : [];
  });
}

/** Each source file's relative imports, resolved to source files (type-only ones included). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources(SRC)) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = importedFiles
      .map((i) => i.fileName)
      .filter((name) => name.startsWith('.'))
      .map((name) => path.resolve(path.dirname(file), name).replace(/\.js$/, '.ts'));
    graph.set(file, targets);
  }
  return graph;
}

const folderOf = (file: string): string => path.relative(SRC, file).split(path.sep)[0]!;
const rel = (file: string): string => path.relative(SRC, file);

/** One cycle through `graph` as a list of files, or none (depth-first search, colours). */
function cycles(graph: Map<string, string[]>): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (!graph.has(next)) continue;
      if (state.get(next) === 'open') found.push([...stack.slice(stack.indexOf(next)), next].map(rel));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return found;
}

describe('layering (docs/architecture.md)', () => {
  const graph = importGraph();

  it('reads every source folder and every import of it', () => {
    expect(new Set([...graph.keys()].map(folderOf))).toEqual(new Set([...Object.keys(ALLOWED), 'index.ts']));
    expect([...graph.values()].flat().length).toBeGreaterThan(100);
  });

  it('each folder imports only what its row allows', () => {
    const wrong: string[] = [];
    for (const [file, targets] of graph) {
      const from = folderOf(file);
      const allowed = ALLOWED[from];
      if (!allowed) continue; // src/index.ts: the package's public face
      for (const target of targets) {
        const to = folderOf(target);
        if (to !== from && !allowed.includes(to)) wrong.push(`${rel(file)} → ${rel(target)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('no module imports itself back through others', () => {
    expect(cycles(graph)).toEqual([]);
  });
});
