// chat passwd: change this account's password; every other session is revoked.
import { PASSWORD_MAX, PASSWORD_MIN } from '../../protocol/names.js';
import { connectSession } from '../connect.js';
import { CliError, type CliContext, type GlobalOptions } from '../context.js';
import { promptHidden, readStdin } from '../password.js';
import { globalsOf, leaf } from '../command.js';
import { COMMAND_LIST } from './list.js';

export interface PasswdOptions extends GlobalOptions {
  passwordStdin: boolean;
}

export const passwdCommand = leaf({
  ...COMMAND_LIST.passwd,
  builder: (y) =>
    y.option('password-stdin', { type: 'boolean', default: false, describe: 'read the current and the new password from stdin, one per line' }),
  options: (argv): PasswdOptions => ({ ...globalsOf(argv), passwordStdin: argv.passwordStdin }),
  run: runPasswd,
});

/** The current and the new password: two lines of stdin, or asked on the terminal (the new one twice). Never argv. */
export async function readPasswordChange(ctx: CliContext, passwordStdin: boolean): Promise<{ password: string; newPassword: string }> {
  if (passwordStdin) {
    const lines = (await readStdin(ctx)).split(/\r?\n/);
    if (lines.length !== 2) throw new CliError('--password-stdin: give the current password and the new one, one per line', 2);
    return { password: lines[0]!, newPassword: lines[1]! };
  }
  if (!ctx.stdin.isTTY) throw new CliError('no terminal to ask for the passwords: use --password-stdin (current and new password, one per line)', 2);
  const password = await promptHidden(ctx, 'Current password: ');
  const newPassword = await promptHidden(ctx, 'New password: ');
  if ((await promptHidden(ctx, 'Again: ')) !== newPassword) throw new CliError('the new passwords do not match');
  return { password, newPassword };
}

export async function runPasswd(opts: PasswdOptions, ctx: CliContext): Promise<void> {
  const client = await connectSession(opts);
  try {
    const { password, newPassword } = await readPasswordChange(ctx, opts.passwordStdin);
    if (newPassword.length < PASSWORD_MIN || newPassword.length > PASSWORD_MAX) {
      throw new CliError(`the new password must be ${PASSWORD_MIN}-${PASSWORD_MAX} characters`, 2);
    }
    const revoked = await client.changePassword(password, newPassword);
    ctx.out(opts.json ? JSON.stringify({ user: client.user, server: opts.server, revoked })
      : `password changed for ${client.user} on ${opts.server}; ${revoked} other session${revoked === 1 ? '' : 's'} logged out`);
  } finally {
    await client.close();
  }
}
