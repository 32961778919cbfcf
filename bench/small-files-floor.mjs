#!/usr/bin/env node
// What writing 10,000 small files costs on this machine, with nothing else: `tar x` from an
// archive in memory, a bare Node loop doing tar's syscalls, and a bare Node loop doing the
// receiver's (a `.part` with mode 0600, then mode and mtime, then link to the final name and
// unlink: never a half-written or clobbered file under a final name, protocol.md §T6). Each
// variant writes into a fresh ext4 (loop device on /dev/shm, as bench:transfer does), three
// rounds alternating. Root only. Not part of the suite: docs/benchmarks.md, "Small files".
//
//   node bench/small-files-floor.mjs [--files 10000] [--bytes 10240] [--rounds 3]
import { spawnSync } from 'node:child_process';
import { closeSync, constants, fchmodSync, futimesSync, linkSync, mkdirSync, mkdtempSync, openSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { mountFreshExt4, unmountExt4 } from './common.mjs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { files: { type: 'string', default: '10000' }, bytes: { type: 'string', default: '10240' }, rounds: { type: 'string', default: '3' } } });
const FILES = Number(values.files);
const BYTES = Number(values.bytes);
const ROUNDS = Number(values.rounds);
if (process.getuid?.() !== 0) {
  console.error('small-files-floor: needs root (it mounts a fresh ext4 per run)');
  process.exit(2);
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'chat-floor-'));
const mounts = [];
const sh = (cmd, args) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr.trim()}`);
  return r;
};

function freshFs(name) {
  const dir = path.join(tmp, name);
  mkdirSync(dir);
  mounts.push(mountFreshExt4(dir, `floor-${name}`));
  return dir;
}

function unmountAll() {
  for (const mount of mounts.splice(0)) unmountExt4(mount);
}

const data = Buffer.alloc(BYTES, 0x61);
const names = Array.from({ length: FILES }, (_, i) => `f${i}.txt`);
const mtime = new Date(1_700_000_000_000);

/** Runs `fn` in this process; wall and CPU seconds. */
function timed(fn) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  fn();
  const cpu = process.cpuUsage(cpu0);
  return { wall: (performance.now() - t0) / 1000, cpu: (cpu.user + cpu.system) / 1e6 };
}

const variants = {
  'tar x (from an archive on tmpfs)': (dir) => {
    const r = sh('/usr/bin/time', ['-f', '%e %U %S', 'tar', 'x', '-f', archive, '-C', dir]);
    const [wall, user, sys] = r.stderr.trim().split(/\s+/).slice(-3).map(Number);
    return { wall, cpu: user + sys };
  },
  "node, tar's syscalls (open O_EXCL, write, futimes, close)": (dir) =>
    timed(() => {
      for (const name of names) {
        const fd = openSync(path.join(dir, name), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
        writeSync(fd, data);
        futimesSync(fd, mtime, mtime);
        closeSync(fd);
      }
    }),
  "node, the receiver's syscalls (.part, write, fchmod, futimes, close, link, unlink)": (dir) =>
    timed(() => {
      for (const name of names) {
        const final = path.join(dir, name);
        const part = `${final}.part`;
        const fd = openSync(part, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600);
        writeSync(fd, data);
        fchmodSync(fd, 0o644);
        futimesSync(fd, mtime, mtime);
        closeSync(fd);
        linkSync(part, final);
        unlinkSync(part);
      }
    }),
};

// The archive tar reads: the same files, made once.
const srcDir = path.join(tmp, 'src');
mkdirSync(srcDir);
for (const name of names) writeFileSync(path.join(srcDir, name), data);
const archive = path.join('/dev/shm', `chat-floor-${process.pid}.tar`);
sh('tar', ['c', '-f', archive, '-C', srcDir, '.']);

process.on('exit', () => rmSync(archive, { force: true }));
try {
  const results = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [label, run] of Object.entries(variants)) {
      const dir = freshFs(`r${round}-${Object.keys(variants).indexOf(label)}`);
      spawnSync('sync');
      results[label].push(run(dir));
    }
    unmountAll();
  }
  console.log(`${FILES} files of ${BYTES} bytes, fresh ext4 per run, ${ROUNDS} rounds (wall s / CPU s):`);
  for (const [label, runs] of Object.entries(results)) {
    console.log(`  ${label}: ${runs.map((r) => `${r.wall.toFixed(2)} / ${r.cpu.toFixed(2)}`).join(', ')}`);
  }
} finally {
  unmountAll();
  rmSync(tmp, { recursive: true, force: true });
}
