// The bench scripts' smoke runs: `node bench/<script> ...` in its own process group, so a timeout
// kills it with everything it started (servers, CLIs, generators). Call killBenches() in afterEach.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './server.js';

export interface BenchExit {
  code: number | null;
  stdout: string;
  stderr: string;
}

const running = new Set<() => void>();

/** Kills whatever a test's bench runs left behind. */
export function killBenches(): void {
  for (const kill of running) kill();
  running.clear();
}

export function runBench(script: string, args: string[], timeoutMs: number): Promise<BenchExit> {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bench', script), ...args], {
    cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
  });
  const killGroup = (): void => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  running.add(killGroup);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      killGroup();
      reject(new Error(`bench/${script} ${args.join(' ')} did not finish within ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      running.delete(killGroup);
      resolve({ code, stdout, stderr });
    });
  });
}
