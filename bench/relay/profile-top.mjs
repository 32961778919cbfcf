#!/usr/bin/env node
// Summarises a V8 .cpuprofile (from `node --cpu-prof`, e.g. `bench/relay.mjs --profile DIR`):
// self time per function as "file:line function  %", and inclusive time for the functions of
// one path prefix (default dist/), so the server's own costs show next to the native ones.
// --from/--to keep only the samples in a window of CLOCK_MONOTONIC µs: the `monotonicUs` the
// bench's JSON records for each step and for the login phase.
//
//   node bench/relay/profile-top.mjs PROFILE [--top 25] [--prefix dist/] [--from US --to US]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' }, prefix: { type: 'string', default: 'dist/' }, from: { type: 'string' }, to: { type: 'string' } } });
if (positionals.length !== 1) {
  console.error('usage: profile-top.mjs PROFILE [--top N] [--prefix PATH]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(positionals[0], 'utf8'));
const top = Number(values.top);

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

/** "file:line function" with the path shortened after the prefix (or node_modules/). */
function label(frame) {
  const url = frame.url || '';
  const cut = Math.max(url.lastIndexOf(values.prefix), url.lastIndexOf('node_modules/'));
  const file = cut >= 0 ? url.slice(cut) : url.replace(/^.*\//, '') || '(native)';
  return `${file}:${frame.lineNumber + 1} ${frame.functionName || '(anonymous)'}`;
}

// Samples per node: self time. Inclusive time: every distinct label on the sample's stack.
const selfCount = new Map();
const inclusive = new Map();
const from = values.from ? Number(values.from) : -Infinity;
const to = values.to ? Number(values.to) : Infinity;
const samples = [];
let at = profile.startTime;
profile.samples.forEach((id, i) => {
  at += profile.timeDeltas[i];
  if (at >= from && at <= to) samples.push(id);
});
for (const id of samples) {
  const node = byId.get(id);
  selfCount.set(label(node.callFrame), (selfCount.get(label(node.callFrame)) ?? 0) + 1);
  const seen = new Set();
  for (let at = id; at !== undefined; at = parent.get(at)) {
    const l = label(byId.get(at).callFrame);
    if (!seen.has(l)) {
      seen.add(l);
      inclusive.set(l, (inclusive.get(l) ?? 0) + 1);
    }
  }
}
const total = samples.length;
const pct = (n) => `${((n / total) * 100).toFixed(1).padStart(5)}%`;
const idle = [...selfCount].filter(([l]) => l.endsWith('(idle)')).reduce((a, [, n]) => a + n, 0);

const span = (Math.min(to, profile.endTime) - Math.max(from, profile.startTime)) / 1e6;
console.log(`${total} samples, ${span.toFixed(1)} s; idle ${pct(idle)}`);
console.log('\nself time:');
for (const [l, n] of [...selfCount].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(n)}  ${l}`);
console.log(`\ninclusive time, ${values.prefix} only:`);
for (const [l, n] of [...inclusive].filter(([l]) => l.startsWith(values.prefix)).sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(n)}  ${l}`);
