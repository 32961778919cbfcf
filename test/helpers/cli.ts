// The built CLI (`node bin/chat ...`) as a child process: runCli for a command that ends,
// spawnCli for one that keeps running (listen, interactive). No TTY anywhere. Build first.
import { spawn, type ChildProcess } from 'node:child_process';
import { LineBuffer } from './lines.js';
import { CHAT_BIN, REPO_ROOT, exitOf, tempDir } from './server.js';

export interface CliOptions {
  /** CHAT_HOME: where the CLI keeps sessions. */
  home: string;
  /** CHAT_SERVER: host:port of the relay. */
  server?: string;
  env?: Record<string, string>;
  /** Plaintext (CHAT_INSECURE=1), for a server started with tls: false. */
  insecure?: boolean;
  /** Written to stdin, which is then closed (stdin is closed at once when absent). */
  input?: string;
  /** Kill the process (SIGKILL) after this long. @default 15000 */
  timeoutMs?: number;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function childEnv(opts: CliOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CHAT_HOME: opts.home, NO_COLOR: '1', ...opts.env };
  // A password or server from the outer environment must not leak into a test.
  if (!opts.env?.CHAT_PASSWORD) delete env.CHAT_PASSWORD;
  if (opts.insecure) env.CHAT_INSECURE = '1';
  else if (!opts.env?.CHAT_INSECURE) delete env.CHAT_INSECURE;
  if (opts.server !== undefined) env.CHAT_SERVER = opts.server;
  else if (!opts.env?.CHAT_SERVER) delete env.CHAT_SERVER;
  return env;
}

function start(args: string[], opts: CliOptions): ChildProcess {
  return spawn(process.execPath, [CHAT_BIN, ...args], {
    cwd: REPO_ROOT,
    env: childEnv(opts),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Runs `chat ...args` to completion; rejects only if it has to be killed after timeoutMs. */
export function runCli(args: string[], opts: CliOptions): Promise<CliResult> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const child = start(args, opts);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  child.stdin!.on('error', () => {}); // the command may exit before reading its input
  child.stdin!.end(opts.input ?? '');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`chat ${args.join(' ') || '(interactive)'} did not exit within ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    // 'close', not 'exit': all output has been read by then.
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface SpawnedCli {
  child: ChildProcess;
  stdout: LineBuffer;
  stderr: LineBuffer;
  /** Writes `line` and a newline to stdin. */
  write(line: string): void;
  /** Closes stdin (EOF). */
  end(): void;
  /** Resolves with the exit code (null if killed by a signal). */
  exited: Promise<number | null>;
  /** Sends `signal` (SIGTERM by default); does not wait. */
  kill(signal?: NodeJS.Signals): void;
}

/** Starts `chat ...args` and leaves it running; the test must end or kill it. */
export function spawnCli(args: string[], opts: CliOptions): SpawnedCli {
  const child = start(args, opts);
  const stdout = new LineBuffer(child.stdout);
  const stderr = new LineBuffer(child.stderr);
  child.stdin!.on('error', () => {});
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  const exited = exitOf(child);
  if (opts.timeoutMs !== undefined) {
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    timer.unref();
    void exited.then(() => clearTimeout(timer));
  }
  return {
    child,
    stdout,
    stderr,
    write: (line) => void child.stdin!.write(`${line}\n`),
    end: () => void child.stdin!.end(),
    exited,
    kill: (signal = 'SIGTERM') => void child.kill(signal),
  };
}

/** A fresh CHAT_HOME. */
export function tempHome(): Promise<string> {
  return tempDir('chat-home-');
}
