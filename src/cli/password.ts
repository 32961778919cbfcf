// Where a password comes from: --password-stdin, then CHAT_PASSWORD, then a hidden prompt on a TTY.
import type { CliContext } from './context.js';
import { CliError } from './context.js';

export interface PasswordOptions {
  passwordStdin: boolean;
  /** Ask twice on a TTY (registration). */
  confirm?: boolean;
}

/** Reads all of stdin (bounded) and strips one trailing newline. */
export async function readStdin(ctx: CliContext): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.stdin) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) throw new CliError('password on stdin is too long');
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

export async function readPassword(ctx: CliContext, options: PasswordOptions): Promise<string> {
  if (options.passwordStdin) return readStdin(ctx);
  if (ctx.env.CHAT_PASSWORD) return ctx.env.CHAT_PASSWORD;
  if (!ctx.stdin.isTTY) throw new CliError('no password: use --password-stdin or set CHAT_PASSWORD', 2);
  const password = await promptHidden(ctx, 'Password: ');
  if (options.confirm && (await promptHidden(ctx, 'Again: ')) !== password) throw new CliError('passwords do not match');
  return password;
}
