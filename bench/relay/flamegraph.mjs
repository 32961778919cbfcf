#!/usr/bin/env node
// Renders a V8 .cpuprofile (from `node --cpu-prof`, e.g. `bench/relay.mjs --profile DIR`) as a
// flame graph in SVG, with no dependencies: each box is a function on the stack, its width the
// share of samples that had it there, callers below callees. Idle samples are left out (their
// share is in the title). --from/--to keep only the samples in a window of CLOCK_MONOTONIC µs
// (a step's `monotonicUs` in the bench JSON), as in profile-top.mjs.
//
//   node bench/relay/flamegraph.mjs PROFILE OUT.svg [--from US --to US] [--title TEXT] [--min 0.002]
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { from: { type: 'string' }, to: { type: 'string' }, title: { type: 'string', default: '' }, min: { type: 'string', default: '0.002' } },
});
if (positionals.length !== 2) {
  console.error('usage: flamegraph.mjs PROFILE OUT.svg [--from US --to US] [--title TEXT] [--min FRACTION]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(positionals[0], 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

/** "function file:line", the path cut to dist/… or node_modules/…, or the node: module. */
function label(frame) {
  const url = frame.url || '';
  const cut = Math.max(url.lastIndexOf('dist/'), url.lastIndexOf('node_modules/'));
  const file = cut >= 0 ? url.slice(cut) : url.replace(/^.*\//, '');
  return file ? `${frame.functionName || '(anonymous)'} ${file}:${frame.lineNumber + 1}` : frame.functionName || '(native)';
}

// Merge the samples' stacks into a tree of labels (root first), counting samples per node.
const root = { name: 'all', count: 0, children: new Map() };
const from = values.from ? Number(values.from) : -Infinity;
const to = values.to ? Number(values.to) : Infinity;
let at = profile.startTime;
let idle = 0;
let total = 0;
profile.samples.forEach((id, i) => {
  at += profile.timeDeltas[i];
  if (at < from || at > to) return;
  total++;
  const stack = [];
  for (let n = id; n !== undefined; n = parent.get(n)) stack.push(label(byId.get(n).callFrame));
  stack.reverse();
  if (stack.at(-1) === '(idle)') return void idle++;
  let node = root;
  node.count++;
  for (const name of stack.slice(1)) {
    // the profile's own root frame is "(root)"
    let child = node.children.get(name);
    if (!child) node.children.set(name, (child = { name, count: 0, children: new Map() }));
    child.count++;
    node = child;
  }
});

const WIDTH = 1200;
const ROW = 16;
const minCount = Number(values.min) * root.count;
const boxes = [];
let depth = 0;
(function layout(node, x, level) {
  depth = Math.max(depth, level);
  boxes.push({ node, x, level });
  let cx = x;
  for (const child of [...node.children.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    if (child.count >= minCount) layout(child, cx, level + 1);
    cx += child.count;
  }
})(root, 0, 0);

const escape = (s) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
// Ours (dist/) warm, dependencies green, Node's JS blue, native and GC grey.
const colour = (name) => (name.includes(' dist/') ? '#e8a25c' : name.includes('node_modules/') ? '#8fc98f' : /:\d+$/.test(name) ? '#8fb4de' : '#c4c4c4');
const scale = WIDTH / Math.max(1, root.count);
const top = 40;
const height = top + (depth + 1) * ROW + 10;
const pct = (n) => `${((n / Math.max(1, total)) * 100).toFixed(1)} %`;
const rows = boxes.map(({ node, x, level }) => {
  const w = node.count * scale;
  const y = height - 10 - (level + 1) * ROW;
  const chars = Math.floor((w - 4) / 6.5);
  const text = chars >= 3 ? escape(node.name.length > chars ? `${node.name.slice(0, chars - 1)}…` : node.name) : '';
  return `<g><title>${escape(node.name)}: ${node.count} samples, ${pct(node.count)} of all</title><rect x="${(x * scale).toFixed(1)}" y="${y}" width="${Math.max(0.5, w - 0.5).toFixed(1)}" height="${ROW - 1}" fill="${node === root ? '#dddddd' : colour(node.name)}"/>${text ? `<text x="${(x * scale + 2).toFixed(1)}" y="${y + ROW - 4}">${text}</text>` : ''}</g>`;
});
const title = `${values.title ? `${escape(values.title)}: ` : ''}${total} samples, idle ${pct(idle)} (not drawn); boxes under ${(Number(values.min) * 100).toFixed(1)} % left out`;
const svg = `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="monospace" font-size="11">
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="4" y="16" font-size="13">${title}</text>
<text x="4" y="32" fill="#555555">width = share of the server's busy samples; orange: chat (dist/), green: dependencies, blue: Node's JavaScript, grey: native, GC, idle</text>
${rows.join('\n')}
</svg>
`;
writeFileSync(positionals[1], svg);
console.log(`${positionals[1]}: ${boxes.length} boxes, ${total} samples (${pct(idle)} idle)`);
