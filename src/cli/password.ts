// Where a password comes from: --password-stdin, then CHAT_PASSWORD, then a hidden prompt on a TTY.
import { PASSWORD_MAX, PASSWORD_MIN } from '../protocol/names.js';
import type { CliContext } from './context.js';
import { CliError } from './context.js';

export interface PasswordOptions {
  passwordStdin: boolean;
  /** Ask twice on a TTY (registration). */
  confirm?: boolean;
}

/** Reads all of stdin (bounded) and strips one trailing newline. */
export async function readStdin(ctx: CliContext, what = 'password'): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.stdin) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) throw new CliError(`${what} on stdin is too long (64 KiB at most)`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Prompts without echo; Ctrl-C aborts. */
export function promptHidden(ctx: CliContext, question: string): Promise<string> {
  const { stdin, stderr } = ctx;
  return new Promise((resolve, reject) => {
    let value = '';
    stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    const onData = (data: Buffer): void => {
      for (const ch of data.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return finish(() => resolve(value));
        if (ch === '\u0003') return finish(() => reject(new CliError('cancelled', 130)));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (ch >= ' ') value += ch;
      }
    };
    const finish = (then: () => void): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      stderr.write('\n');
      then();
    };
    stdin.on('data', onData);
  });
}

/** The server's rule for a new password, checked here first: before the second prompt and before connecting. */
export function checkNewPassword(password: string): void {
  if (password.length < PASSWORD_MIN || password.length > PASSWORD_MAX) {
    throw new CliError(`password must be ${PASSWORD_MIN}-${PASSWORD_MAX} characters`, 2);
  }
}

export async function readPassword(ctx: CliContext, options: PasswordOptions): Promise<string> {
  const fresh = options.confirm === true; // a new password (registration)
  const checked = (password: string): string => {
    if (fresh) checkNewPassword(password);
    return password;
  };
  if (options.passwordStdin) return checked(await readStdin(ctx));
  if (ctx.env.CHAT_PASSWORD) return checked(ctx.env.CHAT_PASSWORD);
  if (!ctx.stdin.isTTY) throw new CliError('no password: use --password-stdin or set CHAT_PASSWORD', 2);
  const password = checked(await promptHidden(ctx, fresh ? `Password (${PASSWORD_MIN}+ characters): ` : 'Password: '));
  if (fresh && (await promptHidden(ctx, 'Again: ')) !== password) throw new CliError('passwords do not match');
  return password;
}
