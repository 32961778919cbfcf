// chat block <user>, chat unblock <user>, chat blocked (protocol.md §4.7): the server drops a
// blocked user's direct messages, offers, group invitations and friend requests to you, without
// telling them.
import type { CliContext } from '../context.js';
import { printable, printableJson } from '../../protocol/printable.js';
import { stamp } from '../output.js';
import { sessionSubcommand } from '../subcommand.js';

export const blockCommand = (ctx: CliContext) =>
  sessionSubcommand(ctx, 'block <user>', "drop a user's messages, offers, invitations and friend requests to you (they are not told)", async (c, a, x) => {
    const r = await c.block(String(a.user));
    if (a.json) return x.out(printableJson(r));
    x.out(r.added ? `blocked ${printable(r.user)}: what they send you is dropped, and they are not told (chat unblock ${printable(r.user)} to undo)`
      : `${printable(r.user)} was already blocked`);
  });

export const unblockCommand = (ctx: CliContext) =>
  sessionSubcommand(ctx, 'unblock <user>', 'stop blocking a user (what they sent meanwhile stays dropped)', async (c, a, x) => {
    const r = await c.unblock(String(a.user));
    x.out(a.json ? printableJson(r) : `unblocked ${printable(r.user)}`);
  });

export const blockedCommand = (ctx: CliContext) =>
  sessionSubcommand(ctx, 'blocked', 'the users you block', async (c, a, x) => {
    const users = await c.blocked();
    if (a.json) return x.out(printableJson({ users }));
    if (users.length === 0) x.err('you block nobody');
    for (const b of users) x.out(`${printable(b.user)}  since ${stamp(b.at)}`);
  });
