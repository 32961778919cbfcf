// chat friend add|accept|decline|remove|note|list, and chat users search (protocol.md §4.7).
import type { Argv } from 'yargs';
import { verifiedUsers } from '../known-peers.js';
import type { FriendInfo } from '../../protocol/messages.js';
import type { CliContext } from '../context.js';
import { printable, printableJson } from '../../protocol/printable.js';
import { sessionSubcommand, type Run } from '../subcommand.js';

const sub = (command: string, describe: string, run: Run, ctx: CliContext) => sessionSubcommand(ctx, command, describe, run);

const STATE_WORDS: Record<FriendInfo['state'], string> = {
  friend: '',
  incoming: '  wants to be your friend: chat friend accept',
  outgoing: '  (request sent)',
};

/** `bob  online  "note"` */
export function formatFriend(f: FriendInfo): string {
  const note = f.note ? `  "${printable(f.note)}"` : '';
  return `${printable(f.user)}${f.state === 'friend' ? (f.online ? '  online' : '  offline') : ''}${STATE_WORDS[f.state] ?? ''}${note}`;
}

const SUBCOMMANDS = (ctx: CliContext) => [
  sub('add <user>', 'ask a user to be your friend', async (c, a, x) => {
    const r = await c.friendAdd(String(a.user));
    x.out(a.json ? printableJson(r) : r.state === 'friend' ? `you and ${printable(r.user)} are friends` : `friend request sent to ${printable(r.user)}`);
  }, ctx),
  sub('accept <user>', 'accept a friend request', async (c, a, x) => {
    await c.friendAccept(String(a.user));
    x.out(a.json ? printableJson({ user: a.user, state: 'friend' }) : `you and ${printable(String(a.user))} are friends`);
  }, ctx),
  sub('decline <user>', 'decline a friend request', async (c, a, x) => {
    await c.friendDecline(String(a.user));
    x.out(a.json ? printableJson({ user: a.user }) : `declined ${printable(String(a.user))}'s request`);
  }, ctx),
  sub('remove <user>', 'remove a friend (or cancel a request)', async (c, a, x) => {
    await c.friendRemove(String(a.user));
    x.out(a.json ? printableJson({ user: a.user }) : `removed ${printable(String(a.user))}`);
  }, ctx),
  sub('note <user> <text..>', 'set your private note on a friend', async (c, a, x) => {
    const note = (a.text as unknown[]).map(String).join(' ');
    await c.friendNote(String(a.user), note);
    x.out(a.json ? printableJson({ user: a.user, note }) : `noted`);
  }, ctx),
  sub('list', 'your friends with online status and notes, then requests', async (c, a, x) => {
    const verified = verifiedUsers(String(a.home), String(a.server));
    const friends = (await c.friendList()).map((f) => ({ ...f, verified: verified.has(f.user) }));
    if (a.json) return x.out(printableJson({ friends }));
    if (friends.length === 0) x.err('no friends yet: chat friend add <user>');
    for (const f of friends) x.out(`${formatFriend(f)}${f.verified ? '  verified' : ''}`);
  }, ctx),
];

export const friendCommand = (ctx: CliContext) => ({
  command: 'friend <command>',
  describe: 'contacts: add, accept, decline, remove, note, list',
  builder: (y: Argv) => {
    for (const s of SUBCOMMANDS(ctx)) y = y.command(s as never);
    return y.demandCommand(1);
  },
  handler: () => {},
});

export const usersCommand = (ctx: CliContext) => ({
  command: 'users <command>',
  describe: 'find registered users: users search <prefix>',
  builder: (y: Argv) =>
    y
      .command(
        sub('search <prefix>', 'registered users whose name starts with prefix', async (c, a, x) => {
          const users = await c.searchUsers(String(a.prefix));
          if (a.json) return x.out(printableJson({ users }));
          if (users.length === 0) x.err(`no user name starts with "${printable(String(a.prefix))}"`);
          for (const u of users) x.out(printable(u));
        }, ctx) as never,
      )
      .demandCommand(1),
  handler: () => {},
});
