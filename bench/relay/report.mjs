// The human table of the relay bench: for each client count, one row per figure with ours,
// ngircd's from the same run, and ours/ngircd. Reads the same objects that go into the JSON.
import { ratio } from './stats.mjs';

const stepName = (s) => (s.targetPerSecond === null ? 'max rate' : `${s.targetPerSecond}/s`);

/** [label, pick(run) → number|null, unit note] rows for one client count. */
function rowsFor(ours, theirs) {
  const rows = [
    ['login/s (chat: hello+auth+subscribe; IRC: NICK+USER)', (r) => r?.login?.perSecond],
    ['password login/s (scrypt, sample)', (r) => r?.passwordLogin?.perSecond],
    ['login phase s (all clients logged in)', (r) => r?.loginCpu?.seconds],
    ['login phase: server CPU %', (r) => r?.loginCpu?.serverCpuPercent],
    ['presence events during login (chat)', (r) => r?.presence?.presence],
    ['idle: server RSS MB, all connected', (r) => r?.idle?.serverRssMb],
    ['idle: connections ended', (r) => r?.idle?.ended],
  ];
  const steps = (ours ?? theirs).steps;
  steps.forEach((_, i) => {
    const s = (r) => r?.steps?.[i];
    const name = stepName(steps[i]);
    rows.push(
      [`${name}: offered/s`, (r) => s(r)?.offeredPerSecond],
      [`${name}: delivered/s`, (r) => s(r)?.deliveredPerSecond],
      [`${name}: lost (final)`, (r) => s(r)?.lost],
      [`${name}: rejected`, (r) => (s(r) ? Object.values(s(r).rejected).reduce((a, b) => a + b, 0) : null)],
      [`${name}: latency p50 ms`, (r) => s(r)?.latencyMs.p50],
      [`${name}: latency p99 ms`, (r) => s(r)?.latencyMs.p99],
      [`${name}: latency max ms`, (r) => s(r)?.latencyMs.max],
      [`${name}: server CPU %`, (r) => s(r)?.serverCpuPercent],
      [`${name}: server RSS MB (max)`, (r) => s(r)?.serverRssMb],
      [`${name}: generator CPU %`, (r) => s(r)?.generatorCpuPercent],
    );
  });
  return rows.map(([label, pick]) => {
    const a = pick(ours) ?? null;
    const b = pick(theirs) ?? null;
    return [label, a, b, ratio(a, b)];
  });
}

const cell = (v) => (v === null || v === undefined ? '-' : typeof v === 'number' ? String(Math.round(v * 100) / 100) : String(v));

/** The table as text lines. `byClients` is [{ clients, ours, ngircd }]. */
export function table(byClients) {
  const lines = [];
  for (const { clients, ours, ngircd } of byClients) {
    lines.push('', `clients = ${clients}`);
    const rows = rowsFor(ours, ngircd);
    const w = Math.max(...rows.map((r) => r[0].length));
    lines.push(`${'figure'.padEnd(w)}  ${'ours'.padStart(10)}  ${'ngircd'.padStart(10)}  ${'ours/ngircd'.padStart(11)}`);
    for (const [label, a, b, r] of rows) {
      if (a === null && b === null) continue;
      lines.push(`${label.padEnd(w)}  ${cell(a).padStart(10)}  ${cell(b).padStart(10)}  ${cell(r).padStart(11)}`);
    }
  }
  return lines;
}
