// chat admin …: operator commands run on the server host, straight on its data directory
// (whoever can read the database is the admin; no account has special rights on the wire).
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { printable, printableJson } from '../../protocol/printable.js';
import { hashToken } from '../../server/auth.js';
import { DB_FILE, SqliteStore } from '../../store/sqlite.js';
import { openBus } from '../backends.js';
import { adminUserCommand } from './admin-user.js';
import { CliError, type CliContext } from '../context.js';
import { BUS_SECRET, SecretReader, secretHelp } from '../secrets.js';
import { formatDuration, parseDuration } from '../units.js';
import { leaf, parent } from '../command.js';
import { COMMAND_LIST } from './list.js';

export interface InviteOptions {
  data: string;
  json?: boolean;
  uses: number;
  expiresMs: number;
}

const invite = leaf({
  command: 'invite',
  describe: 'make an invite code for a server run with --registration invite',
  builder: (b) =>
    b
      .option('data', { type: 'string', default: './chat-data', describe: "the server's data directory" })
      .option('uses', { type: 'number', default: 1, describe: 'registrations the code allows' })
      .option('expires', { type: 'string', default: '7d', describe: 'how long the code is good, e.g. 12h or 7d' }),
  options: (argv): InviteOptions => {
    if (!Number.isInteger(argv.uses) || argv.uses < 1) throw new CliError(`bad --uses ${argv.uses}: use a whole number ≥ 1`, 2);
    return { data: argv.data, uses: argv.uses, expiresMs: parseDays(argv.expires), json: argv.json };
  },
  run: runInvite,
});

const nodes = leaf({
  command: 'nodes',
  describe: "list a cluster's live nodes and their connections",
  builder: (b) =>
    b
      .option('bus', { type: 'string', nargs: 1, describe: `the redis://… the nodes share; ${secretHelp(BUS_SECRET)}` })
      .option('bus-file', { type: 'string', describe: 'read the --bus URL from this file' }),
  options: async (argv, ctx): Promise<NodesOptions> => ({ bus: await new SecretReader(ctx).read(argv, BUS_SECRET), json: argv.json }),
  run: runNodes,
});

export const adminCommand = parent({ ...COMMAND_LIST.admin, subcommands: [invite, nodes, adminUserCommand] });

/** "7d" or any duration parseDuration knows. */
function parseDays(text: string): number {
  const days = /^(\d+)d$/.exec(text.trim());
  return days ? Number(days[1]) * 24 * 3_600_000 : parseDuration(text, '--expires');
}

export async function runInvite(opts: InviteOptions, ctx: CliContext): Promise<void> {
  // A mistyped --data must not quietly make a new, empty database.
  if (!existsSync(path.join(opts.data, DB_FILE))) throw new CliError(`no chat database in ${opts.data}: give the server's --data`);
  let store: SqliteStore;
  try {
    store = new SqliteStore(opts.data);
  } catch (err) {
    throw new CliError(`cannot open the server's data directory ${opts.data}: ${(err as Error).message}`);
  }
  const code = inviteCode();
  const now = Date.now();
  try {
    await store.addRegistrationCode(hashToken(code), opts.uses, now + opts.expiresMs, now);
  } finally {
    await store.close();
  }
  if (opts.json) return ctx.out(JSON.stringify({ code, uses: opts.uses, expiresAt: now + opts.expiresMs }));
  ctx.out(code);
  ctx.err(`chat: invite code for ${opts.uses === 1 ? 'one registration' : `${opts.uses} registrations`}, good for ${formatDuration(opts.expiresMs)}: CHAT_INVITE=${code} chat register <name>`);
}

/**
 * 20 base64url characters (~119 random bits) that never start with '-': after `--invite` such a
 * code was read as options (yargs: "Unknown arguments"; one code in 64, CI hit it).
 */
export function inviteCode(): string {
  const code = randomBytes(15).toString('base64url');
  return code.startsWith('-') ? `_${code.slice(1)}` : code;
}

export interface NodesOptions {
  /** The redis://… URL (from --bus, --bus-file, stdin or CHAT_BUS). */
  bus?: string;
  json: boolean;
}

export async function runNodes(opts: NodesOptions, ctx: CliContext): Promise<void> {
  if (!opts.bus) throw new CliError('no cluster bus: give --bus redis://… (or CHAT_BUS); a single server has one node', 2);
  const bus = await openBus(opts.bus, () => {});
  try {
    const nodes = await bus.nodes();
    if (opts.json) return ctx.out(printableJson({ nodes }));
    if (nodes.length === 0) ctx.out('no live nodes');
    for (const n of nodes) {
      ctx.out(`${printable(n.node)}  ${Number(n.connections)} connection${n.connections === 1 ? '' : 's'}  up ${formatDuration(Math.max(0, n.seenAt - n.startedAt))}  seen ${formatDuration(Math.max(0, Date.now() - n.seenAt))} ago`);
    }
  } finally {
    await bus.close();
  }
}
