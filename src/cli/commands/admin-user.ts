// chat admin user disable|enable|delete|reset-password <name>: on the server host, straight on its
// store (SQLite in --data, or the cluster's PostgreSQL from CHAT_STORE). Running servers notice
// within about a second (revocationPollMs): every change that ends sessions is written to the
// store's revocation log, which every node polls (src/server/session-watch.ts).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { PASSWORD_MAX, PASSWORD_MIN, normalizeName } from '../../protocol/names.js';
import { hashPassword } from '../../server/auth.js';
import type { Store, UserState } from '../../store/store.js';
import { openStore } from '../backends.js';
import { CliError, type CliContext } from '../context.js';
import { readPassword } from '../password.js';
import { leaf } from '../command.js';

export const USER_ACTIONS = ['disable', 'enable', 'delete', 'reset-password'] as const;
export type UserAction = (typeof USER_ACTIONS)[number];

export interface AdminUserOptions {
  action: UserAction;
  name: string;
  data: string;
  /** postgres://… (a cluster's store); SQLite in `data` when absent. */
  store?: string;
  passwordStdin: boolean;
  json?: boolean;
}

export const adminUserCommand = leaf({
  command: 'user <action> <name>',
  describe: 'disable, enable, delete an account or reset its password; running servers close its connections within a second',
  builder: (b) =>
    b
      .positional('action', { choices: USER_ACTIONS, demandOption: true, describe: 'what to do' })
      .positional('name', { type: 'string', demandOption: true, describe: 'the user name' })
      .option('data', { type: 'string', default: './chat-data', describe: "the server's data directory (SQLite)" })
      .option('password-stdin', { type: 'boolean', default: false, describe: 'reset-password: read the new password from stdin' }),
  options: (argv, ctx): AdminUserOptions => ({
    action: argv.action,
    name: argv.name,
    data: argv.data,
    store: ctx.env.CHAT_STORE || undefined,
    passwordStdin: argv.passwordStdin,
    json: argv.json,
  }),
  run: runAdminUser,
});

async function openServerStore(opts: AdminUserOptions): Promise<Store> {
  // A mistyped --data must not quietly make a new, empty database.
  if (!opts.store && !existsSync(path.join(opts.data, 'chat.db'))) throw new CliError(`no chat database in ${opts.data}: give the server's --data`);
  return openStore(opts.store, opts.data);
}

export async function runAdminUser(opts: AdminUserOptions, ctx: CliContext): Promise<void> {
  const name = normalizeName(opts.name);
  if (!name) throw new CliError(`no such user name "${opts.name.slice(0, 40)}"`, 2);
  // The new password is read before the store opens: a prompt must not hold the database.
  const password = opts.action === 'reset-password' ? await newPassword(ctx, opts.passwordStdin) : undefined;
  const store = await openServerStore(opts);
  try {
    const action = opts.action;
    const message = action === 'reset-password' ? await resetPassword(store, name, password!) : await setState(store, name, action);
    ctx.out(opts.json ? JSON.stringify({ user: name, action, message }) : message);
  } finally {
    await store.close();
  }
}

async function newPassword(ctx: CliContext, passwordStdin: boolean): Promise<string> {
  const password = await readPassword(ctx, { passwordStdin, confirm: true });
  if (password.length < PASSWORD_MIN || password.length > PASSWORD_MAX) {
    throw new CliError(`the password must be ${PASSWORD_MIN}-${PASSWORD_MAX} characters`, 2);
  }
  return password;
}

const STATE_OF: Record<Exclude<UserAction, 'reset-password'>, UserState> = { disable: 'disabled', enable: 'active', delete: 'deleted' };

async function setState(store: Store, name: string, action: Exclude<UserAction, 'reset-password'>): Promise<string> {
  const before = await store.setUserState(name, STATE_OF[action], Date.now());
  if (before === null) throw new CliError(`no user ${name}`);
  if (before === 'deleted') throw new CliError(`${name} was deleted; a deleted account stays deleted (its name stays taken)`);
  const after = STATE_OF[action];
  if (before === after) return `${name} is already ${after === 'active' ? 'enabled' : after}`;
  if (after === 'active') return `enabled ${name}: they can log in again`;
  return `${after} ${name}: every session revoked; running servers close its connections within a second`;
}

async function resetPassword(store: Store, name: string, password: string): Promise<string> {
  const user = await store.getUser(name);
  if (!user) throw new CliError(`no user ${name}`);
  const { salt, hash } = await hashPassword(password);
  const revoked = await store.setPassword(user.id, salt, hash, 0, 'reset', Date.now());
  return `new password set for ${name}; ${revoked} session${revoked === 1 ? '' : 's'} revoked`;
}
