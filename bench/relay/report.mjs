// The human table of the relay bench: for each client count, one row per figure with ours,
// each IRC anchor's from the same run (ngircd, InspIRCd), and ours/anchor. Reads the same objects that go into the JSON.
// With --nodes, a second table: one node against the cluster sizes (clusterTable).
import { ratio } from './stats.mjs';

const stepName = (s) => (s.targetPerSecond === null ? 'max rate' : `${s.targetPerSecond}/s`);

/** [label, ours, ...anchors, ...ours/anchor] rows for one client count. */
function rowsFor(ours, anchors) {
  const rows = [
    ['login/s (chat: hello+auth+subscribe; IRC: NICK+USER)', (r) => r?.login?.perSecond],
    ['password login/s (scrypt, sample)', (r) => r?.passwordLogin?.perSecond],
    ['login phase s (all clients logged in)', (r) => r?.loginCpu?.seconds],
    ['login phase: server CPU %', (r) => r?.loginCpu?.serverCpuPercent],
    ['presence events during login (chat)', (r) => r?.presence?.presence],
    ['idle: server RSS MB, all connected', (r) => r?.idle?.serverRssMb],
    ['idle: connections ended', (r) => r?.idle?.ended],
  ];
  const steps = (ours ?? anchors.find(Boolean)).steps;
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
    const theirs = anchors.map((r) => pick(r) ?? null);
    return [label, a, ...theirs, ...theirs.map((b) => ratio(a, b))];
  });
}

const cell = (v) => (v === null || v === undefined ? '-' : typeof v === 'number' ? String(Math.round(v * 100) / 100) : String(v));

/** The anchors a bench may run, in column order: the IRC servers, and with --floor the Node floor. */
const ALL_ANCHORS = ['ngircd', 'inspircd', 'floorMemory', 'floorSqlite'];

/** The table as text lines. `byClients` is [{ clients, ours, ngircd, inspircd, floorMemory?, floorSqlite? }]. */
export function table(byClients) {
  const lines = [];
  const ANCHORS = ALL_ANCHORS.filter((name) => byClients.some((entry) => entry[name]));
  for (const entry of byClients) {
    lines.push('', `clients = ${entry.clients}`);
    const rows = rowsFor(entry.ours, ANCHORS.map((name) => entry[name] ?? null));
    const w = Math.max(...rows.map((r) => r[0].length));
    const heads = ['ours', ...ANCHORS, ...ANCHORS.map((name) => `ours/${name}`)];
    lines.push(`${'figure'.padEnd(w)}  ${heads.map((h) => h.padStart(13)).join('  ')}`);
    for (const [label, ...values] of rows) {
      if (values.slice(0, 1 + ANCHORS.length).every((v) => v === null)) continue;
      lines.push(`${label.padEnd(w)}  ${values.map((v) => cell(v).padStart(13)).join('  ')}`);
    }
  }
  return lines;
}

/** "a / b / c" of the nodes' values (a cluster), or null for a single server. */
const perNode = (list) => (list ? list.map((v) => cell(v)).join(' / ') : null);

/** [label, pick(run)] rows of the cluster table; a pick may give a string (per-node lists: no ratio). */
function clusterRows(steps) {
  const rows = [
    ['login/s (hello+auth+subscribe)', (r) => r?.login?.perSecond],
    ['login phase s (all clients logged in)', (r) => r?.loginCpu?.seconds],
    ['login phase: server CPU % (all nodes)', (r) => r?.loginCpu?.serverCpuPercent],
    ['presence events during login', (r) => r?.presence?.presence],
    ['idle: server RSS MB (all nodes)', (r) => r?.idle?.serverRssMb],
    ['idle: server RSS MB per node', (r) => perNode(r?.idle?.nodes?.map((n) => n.rssMb))],
    ['password login/s (scrypt, sample)', (r) => r?.passwordLogin?.perSecond],
  ];
  steps.forEach((step, i) => {
    const s = (r) => r?.steps?.[i];
    const name = stepName(step);
    rows.push(
      [`${name}: offered/s`, (r) => s(r)?.offeredPerSecond],
      [`${name}: delivered/s`, (r) => s(r)?.deliveredPerSecond],
      [`${name}: lost (final)`, (r) => s(r)?.lost],
      [`${name}: rejected`, (r) => (s(r) ? Object.values(s(r).rejected).reduce((a, b) => a + b, 0) : null)],
      [`${name}: out of order / duplicates`, (r) => (s(r) ? `${s(r).outOfOrder} / ${s(r).duplicates}` : null)],
      [`${name}: latency p50 ms`, (r) => s(r)?.latencyMs.p50],
      [`${name}: latency p99 ms`, (r) => s(r)?.latencyMs.p99],
      [`${name}: latency max ms`, (r) => s(r)?.latencyMs.max],
      [`${name}: server CPU % (all nodes)`, (r) => s(r)?.serverCpuPercent],
      [`${name}: server CPU % per node`, (r) => perNode(s(r)?.nodes?.map((n) => n.cpuPercent))],
      [`${name}: server RSS MB (all nodes, max)`, (r) => s(r)?.serverRssMb],
      [`${name}: server RSS MB per node (max)`, (r) => perNode(s(r)?.nodes?.map((n) => n.rssMb))],
      [`${name}: PostgreSQL backends CPU %`, (r) => s(r)?.postgresCpuPercent],
      [`${name}: Redis CPU %`, (r) => s(r)?.redisCpuPercent],
      [`${name}: generator CPU %`, (r) => s(r)?.generatorCpuPercent],
      [`${name}: machine busy % (200 = 2 cores)`, (r) => s(r)?.machineBusyPercent],
      [`${name}: CPU % outside these (kernel, others)`, (r) => s(r)?.otherCpuPercent],
    );
  });
  return rows;
}

/**
 * The cluster table as text lines: for each client count with cluster runs, the single node
 * (SQLite, in-process bus), each cluster size, and each cluster size / single node.
 * `byClients` is [{ clients, ours, cluster: [run with .nodes = N] }].
 */
export function clusterTable(byClients) {
  const lines = [];
  for (const { clients, ours, cluster } of byClients) {
    if (!cluster?.length) continue;
    const runs = [ours, ...cluster];
    const heads = ['single', ...cluster.map((c) => `cluster ${c.nodes}`), ...cluster.map((c) => `c${c.nodes} / single`)];
    lines.push('', `clients = ${clients}: single = one node (SQLite, in-process bus); cluster N = N nodes sharing PostgreSQL + Redis, clients round-robin over them`);
    const rows = clusterRows(ours.steps).map(([label, pick]) => {
      const values = runs.map((r) => pick(r) ?? null);
      const ratios = cluster.map((_, i) => (typeof values[i + 1] === 'number' && typeof values[0] === 'number' ? ratio(values[i + 1], values[0]) : null));
      return [label, [...values, ...ratios]];
    });
    const w = Math.max(...rows.map((r) => r[0].length));
    const widths = heads.map((h, j) => Math.max(h.length, ...rows.map((r) => cell(r[1][j]).length)));
    lines.push(`${'figure'.padEnd(w)}  ${heads.map((h, j) => h.padStart(widths[j])).join('  ')}`);
    for (const [label, cells] of rows) {
      if (cells.slice(0, runs.length).every((v) => v === null)) continue;
      lines.push(`${label.padEnd(w)}  ${cells.map((v, j) => cell(v).padStart(widths[j])).join('  ')}`);
    }
  }
  return lines;
}
