// Secrets off the command line: argv is visible to every user of the host (`ps`, /proc/PID/cmdline;
// croc's CVE-2023-43621), the environment and files are not. An invite code or a store/bus URL
// with a password comes from `--X-file PATH`, `--X -` (stdin) or an environment variable; on argv
// it still works, with a one-line warning.
import { openSync, closeSync, readSync, fstatSync } from 'node:fs';
import { CliError, type CliContext } from './context.js';

const MAX_SECRET_BYTES = 64 * 1024;

/** A secret option: `--flag VALUE`, `--flag -` (stdin), `--flag-file PATH`, or `env`. */
export interface SecretSpec {
  flag: string;
  env: string;
  /** True if `value` on argv gives a secret away (any invite code; a URL with a password). */
  exposes(value: string): boolean;
}

/** A URL that carries a password: user:PASSWORD@host, or ?password=. */
export function urlHasPassword(url: string): boolean {
  return /\/\/[^/@]*:[^@/]*@/.test(url) || /[?&]password=/i.test(url);
}

export const INVITE_SECRET: SecretSpec = { flag: 'invite', env: 'CHAT_INVITE', exposes: () => true };
export const STORE_SECRET: SecretSpec = { flag: 'store', env: 'CHAT_STORE', exposes: urlHasPassword };
export const BUS_SECRET: SecretSpec = { flag: 'bus', env: 'CHAT_BUS', exposes: urlHasPassword };

/** The help text's note on where the secret may come from. */
export function secretHelp(spec: SecretSpec): string {
  return `"-" reads it from stdin; or --${spec.flag}-file PATH, or env ${spec.env} (safer than the command line, which others can see)`;
}

/** Reads the secrets of one command; stdin serves at most one of them. */
export class SecretReader {
  readonly #ctx: CliContext;
  #stdinTakenBy: string | undefined;

  constructor(ctx: CliContext) {
    this.#ctx = ctx;
  }

  /** The flag that read stdin, if any. */
  get stdinTakenBy(): string | undefined {
    return this.#stdinTakenBy;
  }

  /** The value of `spec` from argv, its file, stdin or the environment; undefined if none. */
  async read(argv: Record<string, unknown>, spec: SecretSpec): Promise<string | undefined> {
    const literal = argv[spec.flag] as string | undefined;
    const file = argv[`${spec.flag}-file`] as string | undefined;
    if (literal !== undefined && file !== undefined) throw new CliError(`--${spec.flag} and --${spec.flag}-file exclude each other`, 2);
    if (file !== undefined) return nonEmpty(readSecretFile(file, `--${spec.flag}-file`), `--${spec.flag}-file ${file}`);
    if (literal === '-') return nonEmpty(await this.#readStdin(`--${spec.flag} -`), `stdin (--${spec.flag} -)`);
    if (literal) {
      if (spec.exposes(literal)) {
        this.#ctx.err(`chat: warning: --${spec.flag} on the command line can be seen by other users of this host; use env ${spec.env}, --${spec.flag}-file PATH or --${spec.flag} - (stdin)`);
      }
      return literal;
    }
    return this.#ctx.env[spec.env] || undefined;
  }

  async #readStdin(what: string): Promise<string> {
    if (this.#stdinTakenBy) throw new CliError(`${this.#stdinTakenBy} and ${what} both read stdin: give one of them another way`, 2);
    this.#stdinTakenBy = what;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of this.#ctx.stdin) {
      size += (chunk as Buffer).length;
      if (size > MAX_SECRET_BYTES) throw new CliError(`${what}: stdin is longer than ${MAX_SECRET_BYTES} bytes`, 2);
      chunks.push(chunk as Buffer);
    }
    return trimLine(Buffer.concat(chunks).toString('utf8'));
  }
}

function readSecretFile(file: string, flag: string): string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new CliError(`cannot read ${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 2);
  }
  try {
    if (!fstatSync(fd).isFile()) throw new CliError(`${flag} ${file} is not a regular file`, 2);
    const buf = Buffer.alloc(MAX_SECRET_BYTES + 1);
    const n = readSync(fd, buf, 0, buf.length, 0);
    if (n > MAX_SECRET_BYTES) throw new CliError(`${flag} ${file} is longer than ${MAX_SECRET_BYTES} bytes`, 2);
    return trimLine(buf.subarray(0, n).toString('utf8'));
  } finally {
    closeSync(fd);
  }
}

// A file or a pipe usually ends with a newline that is no part of the secret.
function trimLine(text: string): string {
  return text.replace(/[\r\n]+$/, '');
}

function nonEmpty(value: string, where: string): string {
  if (value === '') throw new CliError(`${where} is empty`, 2);
  return value;
}
