// The built CLI under a pseudo-terminal (util-linux `script`), for what chat does only on a
// terminal (questions, prompts). Waits are for text on the screen, bounded; nothing sleeps.
import { spawn, spawnSync } from 'node:child_process';
import { CHAT_BIN, REPO_ROOT, exitOf } from './server.js';

/** True when `script` (util-linux) is installed. */
export const HAS_SCRIPT = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;

/** Terminal output as text: escape sequences and carriage returns removed. */
export function screenText(raw: string): string {
  return raw.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]/g, '').replace(/\r/g, '');
}

export interface PtyCli {
  /** Everything printed so far (stdout and stderr share the terminal), as text. */
  readonly screen: string;
  /** The same, escape sequences included. */
  readonly raw: string;
  /** Where the output is now: a `from` for waitFor that looks only at what comes after. */
  readonly mark: number;
  /** Types `keys` on the terminal. */
  type(keys: string): void;
  /** Resolves (with the new mark) once `text` shows on the screen after offset `from`; rejects after timeoutMs. */
  waitFor(text: string, from?: number, timeoutMs?: number): Promise<number>;
  /** The exit code of chat (script -e passes it on). */
  exited: Promise<number | null>;
  kill(): void;
}

export interface PtyOptions {
  /** A color terminal (TERM=xterm, NO_COLOR unset) instead of a plain one. @default false */
  colors?: boolean;
  /** Terminal width. @default 200 */
  cols?: number;
}

/** Runs `chat ...args` on a pseudo-terminal with `env` (CHAT_HOME, CHAT_SERVER, …) added. */
export function spawnPty(args: string[], env: Record<string, string>, options: PtyOptions = {}): PtyCli {
  const quoted = args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const command = `stty cols ${options.cols ?? 200} rows 40; exec '${process.execPath}' '${CHAT_BIN}' ${quoted}`;
  const terminal = options.colors ? { TERM: 'xterm' } : { TERM: 'dumb', NO_COLOR: '1' };
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...terminal, ...env };
  if (options.colors) delete childEnv.NO_COLOR;
  for (const k of ['CHAT_PASSWORD', 'CHAT_INSECURE']) if (!(k in env)) delete childEnv[k];
  const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: REPO_ROOT, env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = exitOf(child);
  let raw = '';
  const waiters = new Set<() => void>();
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    raw += chunk;
    for (const check of [...waiters]) check();
  });
  child.stdin.on('error', () => {});
  return {
    get screen() {
      return screenText(raw);
    },
    get raw() {
      return raw;
    },
    get mark() {
      return raw.length;
    },
    type: (keys) => void child.stdin.write(keys),
    waitFor(text, from = 0, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (!screenText(raw.slice(from)).includes(text)) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(raw.length);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${JSON.stringify(text)}; screen so far:\n${screenText(raw)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    exited,
    kill: () => void child.kill('SIGKILL'),
  };
}
