// chat register, login, logout, whoami.
import { hostname } from 'node:os';
import type { Argv } from 'yargs';
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

function loginOptions(argv: Record<string, unknown>): LoginOptions {
  return {
    ...(argv as unknown as GlobalOptions),
    user: String(argv.user),
    passwordStdin: Boolean(argv['password-stdin']),
    device: argv.device as string | undefined,
  };
}

// The invite code from --invite, --invite-file, --invite - or CHAT_INVITE (secrets.ts).
async function registerOptions(argv: Record<string, unknown>, ctx: CliContext): Promise<LoginOptions> {
  const secrets = new SecretReader(ctx);
  if (argv.invite === '-' && argv['password-stdin']) {
    throw new CliError('--password-stdin and --invite - both read stdin: give the invite code by --invite-file PATH or CHAT_INVITE', 2);
  }
  return { ...loginOptions(argv), invite: await secrets.read(argv, INVITE_SECRET) };
}

const userBuilder = (y: Argv) =>
  y
    .positional('user', { type: 'string', demandOption: true, describe: 'user name' })
    .option('password-stdin', { type: 'boolean', default: false, describe: 'read the password from stdin' })
    .option('device', { type: 'string', describe: 'name of this device in "chat sessions" (default: the host name)' });

async function withClient<T>(client: ChatClient, work: (c: ChatClient) => Promise<T>): Promise<T> {
  try {
    return await work(client);
  } finally {
    await client.close();
  }
}

export const registerCommand = (ctx: CliContext) => ({
  command: 'register <user>',
  describe: 'create an account (and log in)',
  builder: (y: Argv) =>
    userBuilder(y)
      .option('invite', { type: 'string', nargs: 1, describe: `invite code (servers that register by invitation); ${secretHelp(INVITE_SECRET)}` })
      .option('invite-file', { type: 'string', describe: 'read the invite code from this file' }),
  handler: async (argv: Record<string, unknown>) => runRegister(await registerOptions(argv, ctx), ctx),
});

export async function runRegister(opts: LoginOptions, ctx: CliContext): Promise<void> {
  const password = await readPassword(ctx, { passwordStdin: opts.passwordStdin, confirm: true });
  const result = await withClient(await connectClient(opts), (c) => c.register(opts.user, password, opts.invite, opts.device ?? hostname(), deviceIdentity(opts.home, opts.server, opts.device ?? hostname()).publicKey));
  saveSession(opts.home, opts.server, result);
  ctx.out(opts.json ? printableJson({ user: result.user, server: opts.server }) : `registered ${printable(result.user)} on ${opts.server} and logged in`);
}

export const loginCommand = (ctx: CliContext) => ({
  command: 'login <user>',
  describe: 'log in and save the session',
  builder: userBuilder,
  handler: (argv: Record<string, unknown>) => runLogin(loginOptions(argv), ctx),
});

export async function runLogin(opts: LoginOptions, ctx: CliContext): Promise<void> {
  const password = await readPassword(ctx, { passwordStdin: opts.passwordStdin });
  const result = await withClient(await connectClient(opts), (c) => c.login(opts.user, password, opts.device ?? hostname(), deviceIdentity(opts.home, opts.server, opts.device ?? hostname()).publicKey));
  saveSession(opts.home, opts.server, result);
  ctx.out(opts.json ? printableJson({ user: result.user, server: opts.server }) : `logged in as ${printable(result.user)} on ${opts.server}`);
}

export const logoutCommand = (ctx: CliContext) => ({
  command: 'logout',
  describe: 'revoke this session on the server and forget it here',
  handler: (argv: Record<string, unknown>) => runLogout(argv as unknown as GlobalOptions, ctx),
});

export async function runLogout(opts: GlobalOptions, ctx: CliContext): Promise<void> {
  const client = await connectSession(opts);
  const user = client.user;
  await withClient(client, (c) => c.logout());
  forgetSession(opts.home, opts.server);
  ctx.out(opts.json ? printableJson({ user, server: opts.server }) : `logged out ${printable(user)} from ${opts.server}`);
}

export const whoamiCommand = (ctx: CliContext) => ({
  command: 'whoami',
  describe: 'show who you are logged in as',
  handler: (argv: Record<string, unknown>) => runWhoami(argv as unknown as GlobalOptions, ctx),
});

export async function runWhoami(opts: GlobalOptions, ctx: CliContext): Promise<void> {
  const client = await connectSession(opts);
  ctx.out(opts.json ? printableJson({ user: client.user, server: opts.server }) : `${printable(client.user)} on ${opts.server}`);
  await client.close();
}
