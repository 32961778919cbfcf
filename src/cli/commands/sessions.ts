// chat sessions [list], chat sessions revoke <id> | --all-others (protocol.md §4.1).
import type { Argv } from 'yargs';
import type { SessionEntry } from '../../protocol/messages.js';
import { CliError, type CliContext } from '../context.js';
import { printable, printableJson } from '../../protocol/printable.js';
import { stamp } from '../output.js';
import { sessionSubcommand as sub } from '../subcommand.js';

/** One session per line; the device name and address come from the server: printed safely. */
export function formatSession(s: SessionEntry): string {
  const device = s.device ? printable(s.device) : '(unnamed)';
  const from = s.address ? ` from ${printable(s.address)}` : '';
  return `${String(s.id).padStart(6)}  ${device}  last seen ${stamp(s.lastSeenAt)}${from}  since ${stamp(s.createdAt)}${s.current ? '  (this device)' : ''}`;
}

const SUBCOMMANDS = (ctx: CliContext) => [
  sub(ctx, ['list', '$0'] as unknown as string, "list your account's sessions (devices), most recently used first", async (c, a, x) => {
    const sessions = await c.sessions();
    if (a.json) return x.out(printableJson({ sessions }));
    for (const s of sessions) x.out(formatSession(s));
  }),
  sub(ctx, 'revoke [id]', 'log a session out everywhere: its token stops working and its connections close', async (c, a, x) => {
    const allOthers = Boolean(a.allOthers);
    if (allOthers === (a.id !== undefined)) throw new CliError('give a session id (see chat sessions) or --all-others', 2);
    if (allOthers) {
      const revoked = await c.revokeOtherSessions();
      return x.out(a.json ? JSON.stringify({ revoked }) : `revoked ${revoked} other session${revoked === 1 ? '' : 's'}; this device stays logged in`);
    }
    const id = Number(a.id);
    if (!Number.isSafeInteger(id) || id < 1) throw new CliError(`bad session id "${String(a.id).slice(0, 40)}": use an id from chat sessions`, 2);
    await c.revokeSession(id);
    x.out(a.json ? JSON.stringify({ revoked: 1 }) : `revoked session ${id}`);
  }, (y) =>
    y
      .positional('id', { type: 'string', describe: 'the session id (chat sessions lists them)' })
      .option('all-others', { type: 'boolean', default: false, describe: 'revoke every session but this one' })),
];

export const sessionsCommand = (ctx: CliContext) => ({
  command: 'sessions [command]',
  describe: 'your sessions (devices): list, revoke <id>, revoke --all-others',
  builder: (y: Argv) => {
    for (const s of SUBCOMMANDS(ctx)) y = y.command(s as never);
    return y;
  },
  handler: () => {},
});
