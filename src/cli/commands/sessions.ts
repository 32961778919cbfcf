// chat sessions [list], chat sessions revoke <id> | --all-others (protocol.md §4.1).
import type { SessionEntry } from '../../protocol/messages.js';
import { CliError } from '../context.js';
import { printable, printableJson } from '../../protocol/printable.js';
import { stamp } from '../output.js';
import { parent } from '../command.js';
import { sessionLeaf } from '../session-leaf.js';
import { COMMAND_LIST } from './list.js';

/** One session per line; the device name and address come from the server: printed safely. */
export function formatSession(s: SessionEntry): string {
  const device = s.device ? printable(s.device) : '(unnamed)';
  const from = s.address ? ` from ${printable(s.address)}` : '';
  return `${String(s.id).padStart(6)}  ${device}  last seen ${stamp(s.lastSeenAt)}${from}  since ${stamp(s.createdAt)}${s.current ? '  (this device)' : ''}`;
}

const list = sessionLeaf({
  command: ['list', '$0'],
  describe: "list your account's sessions (devices), most recently used first",
  builder: (y) => y,
  options: () => ({}),
  work: async (c, o, x) => {
    const sessions = await c.sessions();
    if (o.json) return x.out(printableJson({ sessions }));
    for (const s of sessions) x.out(formatSession(s));
  },
});

const revoke = sessionLeaf({
  command: 'revoke [id]',
  describe: 'log a session out everywhere: its token stops working and its connections close',
  builder: (y) =>
    y
      .positional('id', { type: 'string', describe: 'the session id (chat sessions lists them)' })
      .option('all-others', { type: 'boolean', default: false, describe: 'revoke every session but this one' }),
  options: (a) => {
    if (a.allOthers === (a.id !== undefined)) throw new CliError('give a session id (see chat sessions) or --all-others', 2);
    if (a.allOthers) return { allOthers: true as const };
    const id = Number(a.id);
    if (!Number.isSafeInteger(id) || id < 1) throw new CliError(`bad session id "${String(a.id).slice(0, 40)}": use an id from chat sessions`, 2);
    return { allOthers: false as const, id };
  },
  work: async (c, o, x) => {
    if (o.allOthers) {
      const revoked = await c.revokeOtherSessions();
      return x.out(o.json ? JSON.stringify({ revoked }) : `revoked ${revoked} other session${revoked === 1 ? '' : 's'}; this device stays logged in`);
    }
    await c.revokeSession(o.id);
    x.out(o.json ? JSON.stringify({ revoked: 1 }) : `revoked session ${o.id}`);
  },
});

export const sessionsCommand = parent({ ...COMMAND_LIST.sessions, subcommands: [list, revoke], fallback: 'list' });
