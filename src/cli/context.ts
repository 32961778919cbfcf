// What a command may touch: its streams, environment and global options. Tests run the built
// CLI as a child process, so this stays a plain object over process.*.

export interface GlobalOptions {
  /** host:port of the relay server. */
  server: string;
  /** Where sessions are kept. */
  home: string;
  verbose: boolean;
  /** Plaintext to the server (it must run with --insecure too). */
  insecure: boolean;
  /** JSON output: one object per line on stdout, errors included (README "JSON output"). */
  json?: boolean;
  /** Prints a notice on stderr (set by main for every command). */
  notice?: (line: string) => void;
  /**
   * Asks a yes/no question on the terminal (default no); set by main only when stdin is a
   * terminal and the command may prompt (not the interactive client, which owns the terminal).
   */
  ask?: (question: string) => Promise<boolean>;
}

export interface CliContext {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  stdin: NodeJS.ReadStream;
  env: NodeJS.ProcessEnv;
  /** True when stdout is a terminal: bars, prompts and colors only then. */
  isTTY: boolean;
  out(line: string): void;
  err(line: string): void;
}

/** The context over the real process. */
export function processContext(): CliContext {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    isTTY: Boolean(process.stdout.isTTY),
    out: (line) => void process.stdout.write(`${line}\n`),
    err: (line) => void process.stderr.write(`${line}\n`),
  };
}

/**
 * An error meant for the user: printed as one line by main, with this exit code. Its `code` is
 * what --json prints: `usage` (exit 2: bad arguments), `cancelled` (130) or `failed`, unless given.
 */
export class CliError extends Error {
  readonly exitCode: number;
  readonly code: string;

  constructor(message: string, exitCode = 1, code?: string) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
    this.code = code ?? (exitCode === 2 ? 'usage' : exitCode === 130 ? 'cancelled' : 'failed');
  }
}
