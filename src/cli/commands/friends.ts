// chat friend add|accept|decline|remove|note|list, and chat users search (protocol.md §4.7).
import type { Argv } from 'yargs';
import { verifiedUsers } from '../known-peers.js';
import type { FriendInfo } from '../../protocol/messages.js';
import { printable, printableJson } from '../../protocol/printable.js';
import { parent, type GlobalArgs } from '../command.js';
import { sessionLeaf } from '../session-leaf.js';
import { COMMAND_LIST } from './list.js';

const userArg = (y: Argv<GlobalArgs>) => y.positional('user', { type: 'string', demandOption: true });

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

const add = sessionLeaf({
  command: 'add <user>',
  describe: 'ask a user to be your friend',
  builder: userArg,
  options: (a) => ({ user: a.user }),
  work: async (c, o, x) => {
    const r = await c.friendAdd(o.user);
    x.out(o.json ? printableJson(r) : r.state === 'friend' ? `you and ${printable(r.user)} are friends` : `friend request sent to ${printable(r.user)}`);
  },
});

const accept = sessionLeaf({
  command: 'accept <user>',
  describe: 'accept a friend request',
  builder: userArg,
  options: (a) => ({ user: a.user }),
  work: async (c, o, x) => {
    await c.friendAccept(o.user);
    x.out(o.json ? printableJson({ user: o.user, state: 'friend' }) : `you and ${printable(o.user)} are friends`);
  },
});

const decline = sessionLeaf({
  command: 'decline <user>',
  describe: 'decline a friend request',
  builder: userArg,
  options: (a) => ({ user: a.user }),
  work: async (c, o, x) => {
    await c.friendDecline(o.user);
    x.out(o.json ? printableJson({ user: o.user }) : `declined ${printable(o.user)}'s request`);
  },
});

const remove = sessionLeaf({
  command: 'remove <user>',
  describe: 'remove a friend (or cancel a request)',
  builder: userArg,
  options: (a) => ({ user: a.user }),
  work: async (c, o, x) => {
    await c.friendRemove(o.user);
    x.out(o.json ? printableJson({ user: o.user }) : `removed ${printable(o.user)}`);
  },
});

const note = sessionLeaf({
  command: 'note <user> <text..>',
  describe: 'set your private note on a friend',
  builder: (y) => userArg(y).positional('text', { type: 'string', array: true, demandOption: true }),
  options: (a) => ({ user: a.user, note: a.text.map(String).join(' ') }),
  work: async (c, o, x) => {
    await c.friendNote(o.user, o.note);
    x.out(o.json ? printableJson({ user: o.user, note: o.note }) : `noted`);
  },
});

const list = sessionLeaf({
  command: 'list',
  describe: 'your friends with online status and notes, then requests',
  builder: (y) => y,
  options: () => ({}),
  work: async (c, o, x) => {
    const verified = verifiedUsers(o.home, o.server);
    const friends = (await c.friendList()).map((f) => ({ ...f, verified: verified.has(f.user) }));
    if (o.json) return x.out(printableJson({ friends }));
    if (friends.length === 0) x.err('no friends yet: chat friend add <user>');
    for (const f of friends) x.out(`${formatFriend(f)}${f.verified ? '  verified' : ''}`);
  },
});

export const friendCommand = parent({ ...COMMAND_LIST.friend, subcommands: [add, accept, decline, remove, note, list] });

const search = sessionLeaf({
  command: 'search <prefix>',
  describe: 'registered users whose name starts with prefix',
  builder: (y) => y.positional('prefix', { type: 'string', demandOption: true }),
  options: (a) => ({ prefix: a.prefix }),
  work: async (c, o, x) => {
    const users = await c.searchUsers(o.prefix);
    if (o.json) return x.out(printableJson({ users }));
    if (users.length === 0) x.err(`no user name starts with "${printable(o.prefix)}"`);
    for (const u of users) x.out(printable(u));
  },
});

export const usersCommand = parent({ ...COMMAND_LIST.users, subcommands: [search] });
