// chat block <user>, chat unblock <user>, chat blocked (protocol.md §4.7): the server drops a
// blocked user's direct messages, offers, group invitations and friend requests to you, without
// telling them.
import { printable, printableJson } from '../../protocol/printable.js';
import { stamp } from '../output.js';
import type { GlobalArgs } from '../command.js';
import { sessionLeaf } from '../session-leaf.js';
import { COMMAND_LIST } from './list.js';
import type { Argv } from 'yargs';

const userArg = (y: Argv<GlobalArgs>) => y.positional('user', { type: 'string', demandOption: true });

export const blockCommand = sessionLeaf({
  ...COMMAND_LIST.block,
  builder: userArg,
  options: (argv) => ({ user: argv.user }),
  work: async (c, o, x) => {
    const r = await c.block(o.user);
    if (o.json) return x.out(printableJson(r));
    x.out(r.added ? `blocked ${printable(r.user)}: what they send you is dropped, and they are not told (chat unblock ${printable(r.user)} to undo)`
      : `${printable(r.user)} was already blocked`);
  },
});

export const unblockCommand = sessionLeaf({
  ...COMMAND_LIST.unblock,
  builder: userArg,
  options: (argv) => ({ user: argv.user }),
  work: async (c, o, x) => {
    const r = await c.unblock(o.user);
    x.out(o.json ? printableJson(r) : `unblocked ${printable(r.user)}`);
  },
});

export const blockedCommand = sessionLeaf({
  ...COMMAND_LIST.blocked,
  builder: (y) => y,
  options: () => ({}),
  work: async (c, o, x) => {
    const users = await c.blocked();
    if (o.json) return x.out(printableJson({ users }));
    if (users.length === 0) x.err('you block nobody');
    for (const b of users) x.out(`${printable(b.user)}  since ${stamp(b.at)}`);
  },
});
