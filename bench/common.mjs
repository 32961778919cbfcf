// What the bench scripts share: a plain text table, where the figures come from (machine, commit),
// the next free name for a raw result file in bench/results/, and fresh filesystems to write to.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

/**
 * Mounts a fresh ext4 (a 512 MiB image in /dev/shm on a loop device) on the existing directory
 * `dir`; root only. Returns what unmountExt4 needs; throws naming the command that failed.
 */
export function mountFreshExt4(dir, tag) {
  const image = path.join('/dev/shm', `chat-bench-${process.pid}-${tag}.img`);
  writeFileSync(image, '');
  const sh = (cmd, args) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr.trim()}`);
  };
  try {
    sh('truncate', ['-s', '512M', image]);
    sh('mkfs.ext4', ['-q', '-F', '-N', '65536', image]);
    sh('mount', ['-o', 'loop', image, dir]);
  } catch (err) {
    rmSync(image, { force: true });
    throw err;
  }
  return { dir, image };
}

/** Unmounts what mountFreshExt4 mounted (lazily if still busy: freed when its last user goes) and deletes the image. */
export function unmountExt4({ dir, image }) {
  if (spawnSync('umount', [dir]).status !== 0) spawnSync('umount', ['-l', dir]);
  rmSync(image, { force: true });
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
