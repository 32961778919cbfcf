// chat group create|join|leave|members|list|invites|invite|kick|delete (protocol.md §4.6).
import type { Argv } from 'yargs';
import { printable, printableJson } from '../../protocol/printable.js';
import { parent, type GlobalArgs } from '../command.js';
import { sessionLeaf } from '../session-leaf.js';
import { COMMAND_LIST } from './list.js';

const bare = (name: string): string => name.replace(/^#/, '');
/** A group or user name for the terminal (names from the server pass the sanitizer too). */
const shown = (name: unknown): string => printable(String(name));

const nameArg = (y: Argv<GlobalArgs>) => y.positional('name', { type: 'string', demandOption: true, describe: 'the group (with or without #)' });
const nameUserArgs = (y: Argv<GlobalArgs>) => nameArg(y).positional('user', { type: 'string', demandOption: true });
const none = (y: Argv<GlobalArgs>) => y;

const create = sessionLeaf({
  command: 'create <name>',
  describe: 'create a group (you own it)',
  builder: (y) => nameArg(y).option('private', { type: 'boolean', default: false, describe: 'only invited users may join' }),
  options: (a) => ({ group: bare(a.name), private: a.private }),
  work: async (c, o, x) => {
    const r = await c.groupCreate(o.group, { private: o.private });
    x.out(o.json ? printableJson(r) : `created ${r.private ? 'private ' : ''}group #${shown(r.group)}`);
  },
});

const join = sessionLeaf({
  command: 'join <name>',
  describe: 'join a group (a private one needs an invitation)',
  builder: nameArg,
  options: (a) => ({ group: bare(a.name) }),
  work: async (c, o, x) => {
    const r = await c.groupJoin(o.group);
    x.out(o.json ? printableJson(r) : `joined #${shown(r.group)}`);
  },
});

const leave = sessionLeaf({
  command: 'leave <name>',
  describe: 'leave a group',
  builder: nameArg,
  options: (a) => ({ group: bare(a.name) }),
  work: async (c, o, x) => {
    const r = await c.groupLeave(o.group);
    x.out(o.json ? printableJson(r) : `left #${shown(r.group)}`);
  },
});

const members = sessionLeaf({
  command: 'members <name>',
  describe: 'list the members of a group, with who is online',
  builder: nameArg,
  options: (a) => ({ group: bare(a.name) }),
  work: async (c, o, x) => {
    const members = await c.groupMembers(o.group);
    if (o.json) return x.out(printableJson({ members }));
    for (const m of members) x.out(`${shown(m.user)}${m.role === 'owner' ? ' (owner)' : ''}${m.online ? '  online' : ''}`);
  },
});

const list = sessionLeaf({
  command: 'list',
  describe: 'list public groups and yours',
  builder: none,
  options: () => ({}),
  work: async (c, o, x) => {
    const groups = await c.groupList();
    // One name per concept (README "JSON output"): a group's name is `group`, as in every other group command.
    if (o.json) return x.out(printableJson({ groups: groups.map(({ name, ...rest }) => ({ group: name, ...rest })) }));
    if (groups.length === 0) x.err('no groups yet: chat group create <name>');
    for (const g of groups) {
      const invited = g.invitedBy ? `  invited by ${shown(g.invitedBy)}: chat group join ${shown(g.name)}` : '';
      x.out(`#${shown(g.name)}  ${Number(g.members)} member(s)  owner ${shown(g.owner)}${g.private ? '  private' : ''}${g.member ? '  (joined)' : ''}${invited}`);
    }
  },
});

const invites = sessionLeaf({
  command: 'invites',
  describe: 'invitations to groups you have not joined yet',
  builder: none,
  options: () => ({}),
  work: async (c, o, x) => {
    const invites = (await c.groupList()).filter((g) => g.invitedBy);
    if (o.json) return x.out(printableJson({ invites: invites.map((g) => ({ group: g.name, by: g.invitedBy, private: g.private })) }));
    if (invites.length === 0) x.err('no invitations');
    for (const g of invites) x.out(`#${shown(g.name)}  invited by ${shown(g.invitedBy)}${g.private ? '  private' : ''}  (chat group join ${shown(g.name)})`);
  },
});

const invite = sessionLeaf({
  command: 'invite <name> <user>',
  describe: 'invite a user (needed to join a private group)',
  builder: nameUserArgs,
  options: (a) => ({ group: bare(a.name), user: a.user }),
  work: async (c, o, x) => {
    await c.groupInvite(o.group, o.user);
    x.out(o.json ? printableJson({ group: o.group, user: o.user }) : `invited ${shown(o.user)} to #${shown(o.group)}`);
  },
});

const kick = sessionLeaf({
  command: 'kick <name> <user>',
  describe: 'remove a member (owner only)',
  builder: nameUserArgs,
  options: (a) => ({ group: bare(a.name), user: a.user }),
  work: async (c, o, x) => {
    await c.groupKick(o.group, o.user);
    x.out(o.json ? printableJson({ group: o.group, user: o.user }) : `removed ${shown(o.user)} from #${shown(o.group)}`);
  },
});

const remove = sessionLeaf({
  command: 'delete <name>',
  describe: 'delete a group and its history (owner only)',
  builder: nameArg,
  options: (a) => ({ group: bare(a.name) }),
  work: async (c, o, x) => {
    await c.groupDelete(o.group);
    x.out(o.json ? printableJson({ group: o.group }) : `deleted #${shown(o.group)}`);
  },
});

export const groupCommand = parent({ ...COMMAND_LIST.group, subcommands: [create, join, leave, members, list, invites, invite, kick, remove] });
