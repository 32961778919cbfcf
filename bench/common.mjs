// What the bench scripts share: a plain text table, where the figures come from (machine, commit),
// and the next free name for a raw result file in bench/results/.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Rows of cells as aligned columns (the first left-aligned, the rest right-aligned). */
export function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ')).join('\n');
}

/** CPU model, cores, memory, kernel, node: where the figures come from. */
export function machineInfo() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const cpu = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? 'unknown';
  const cores = (cpuinfo.match(/^processor\s*:/gm) ?? []).length || os.cpus().length;
  return {
    cpu,
    cores,
    memoryGB: Math.round(os.totalmem() / 1e8) / 10,
    kernel: os.release(),
    node: process.version,
    loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

/** The commit under test, and whether src/ has uncommitted changes. */
export function gitInfo(root) {
  const rev = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' });
  const status = spawnSync('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src'], { cwd: root, encoding: 'utf8' });
  return { commit: rev.status === 0 ? rev.stdout.trim() : null, srcModified: status.status === 0 ? status.stdout.trim() !== '' : null };
}

/** `dir/<name>-<date>.json`, or `-2`, `-3`… when taken. */
export function resultFile(dir, name, date) {
  mkdirSync(dir, { recursive: true });
  for (let i = 1; ; i++) {
    const file = path.join(dir, `${name}-${date}${i === 1 ? '' : `-${i}`}.json`);
    if (!existsSync(file)) return file;
  }
}

/** Runs `main`, calling `cleanup` however it ends (including SIGINT/SIGTERM); exit code 1 on a throw. */
export async function runMain(main, cleanup) {
  process.on('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  process.on('SIGTERM', () => {
    cleanup();
    process.exit(143);
  });
  try {
    await main();
  } catch (err) {
    process.exitCode = 1;
    console.error(`benchmark failed: ${err?.stack ?? err}`);
  } finally {
    cleanup();
  }
}
