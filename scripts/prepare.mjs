#!/usr/bin/env node
// npm runs this on `npm install` in a clone, on `npm install -g .` and before `npm pack`: it
// compiles src/ to dist/ with the dev dependency TypeScript. A tarball from `npm pack` ships
// dist/ and never runs it. Without TypeScript (a fresh clone installed with `npm install -g .`
// before `npm install`) it says what to do instead of "tsc: not found".
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  console.error('chat: building needs the dev dependencies: run "npm install" in the clone first, then "npm install -g ."');
  process.exit(1);
}
const { status } = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { stdio: 'inherit' });
process.exit(status ?? 1);
