// chat register, login, logout, whoami.
import { hostname } from 'node:os';
import type { Argv } from 'yargs';
import { globalsOf, leaf, type ArgsOf, type GlobalArgs } from '../command.js';
import { COMMAND_LIST } from './list.js';
import type { ChatClient } from '../../client/client.js';
import { printable, printableJson } from '../../protocol/printable.js';
import { connectClient, connectSession } from '../connect.js';
import { CliError, type CliContext, type GlobalOptions } from '../context.js';
import { readPassword } from '../password.js';
import { INVITE_SECRET, SecretReader, secretHelp } from '../secrets.js';
import { forgetSession, saveSession } from '../sessions.js';
import { deviceIdentity } from '../identity-file.js';

export interface LoginOptions extends GlobalOptions {
  user: string;
  passwordStdin: boolean;
  /** Invite code, for a server that registers by invitation (register only). */
  invite?: string;
  /** This device's name in the account's session list (chat sessions). */
  device?: string;
}

const userBuilder = (y: Argv<GlobalArgs>) =>
  y
    .positional('user', { type: 'string', demandOption: true, describe: 'user name' })
    .option('password-stdin', { type: 'boolean', default: false, describe: 'read the password from stdin' })
    .option('device', { type: 'string', describe: 'name of this device in "chat sessions" (default: the host name)' });

function loginOptions(argv: ArgsOf<typeof userBuilder>): LoginOptions {
  return { ...globalsOf(argv), user: argv.user, passwordStdin: argv.passwordStdin, device: argv.device };
}

async function withClient<T>(client: ChatClient, work: (c: ChatClient) => Promise<T>): Promise<T> {
  try {
    return await work(client);
  } finally {
    await client.close();
  }
}

export const registerCommand = leaf({
  ...COMMAND_LIST.register,
  builder: (y) =>
    userBuilder(y)
      .option('invite', { type: 'string', nargs: 1, describe: `invite code (servers that register by invitation); ${secretHelp(INVITE_SECRET)}` })
      .option('invite-file', { type: 'string', describe: 'read the invite code from this file' }),
  // The invite code from --invite, --invite-file, --invite - or CHAT_INVITE (secrets.ts).
  options: async (argv, ctx): Promise<LoginOptions> => {
    if (argv.invite === '-' && argv.passwordStdin) {
      throw new CliError('--password-stdin and --invite - both read stdin: give the invite code by --invite-file PATH or CHAT_INVITE', 2);
    }
    return { ...loginOptions(argv), invite: await new SecretReader(ctx).read(argv, INVITE_SECRET) };
  },
  run: runRegister,
});

export async function runRegister(opts: LoginOptions, ctx: CliContext): Promise<void> {
  const password = await readPassword(ctx, { passwordStdin: opts.passwordStdin, confirm: true });
  const result = await withClient(await connectClient(opts), (c) => c.register(opts.user, password, opts.invite, opts.device ?? hostname(), deviceIdentity(opts.home, opts.server, opts.device ?? hostname()).publicKey));
  saveSession(opts.home, opts.server, result);
  ctx.out(opts.json ? printableJson({ user: result.user, server: opts.server }) : `registered ${printable(result.user)} on ${opts.server} and logged in`);
}

export const loginCommand = leaf({ ...COMMAND_LIST.login, builder: userBuilder, options: loginOptions, run: runLogin });

export async function runLogin(opts: LoginOptions, ctx: CliContext): Promise<void> {
  const password = await readPassword(ctx, { passwordStdin: opts.passwordStdin });
  const result = await withClient(await connectClient(opts), (c) => c.login(opts.user, password, opts.device ?? hostname(), deviceIdentity(opts.home, opts.server, opts.device ?? hostname()).publicKey));
  saveSession(opts.home, opts.server, result);
  ctx.out(opts.json ? printableJson({ user: result.user, server: opts.server }) : `logged in as ${printable(result.user)} on ${opts.server}`);
}

export const logoutCommand = leaf({ ...COMMAND_LIST.logout, builder: (y) => y, options: globalsOf, run: runLogout });

export async function runLogout(opts: GlobalOptions, ctx: CliContext): Promise<void> {
  const client = await connectSession(opts);
  const user = client.user;
  await withClient(client, (c) => c.logout());
  forgetSession(opts.home, opts.server);
  ctx.out(opts.json ? printableJson({ user, server: opts.server }) : `logged out ${printable(user)} from ${opts.server}`);
}

export const whoamiCommand = leaf({ ...COMMAND_LIST.whoami, builder: (y) => y, options: globalsOf, run: runWhoami });

export async function runWhoami(opts: GlobalOptions, ctx: CliContext): Promise<void> {
  const client = await connectSession(opts);
  ctx.out(opts.json ? printableJson({ user: client.user, server: opts.server }) : `${printable(client.user)} on ${opts.server}`);
  await client.close();
}
