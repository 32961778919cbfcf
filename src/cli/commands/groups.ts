// chat group create|join|leave|members|list|invite|kick|delete (protocol.md §4.6).
import type { Argv } from 'yargs';
import { printable, printableJson } from '../../protocol/printable.js';
import type { CliContext } from '../context.js';
import { sessionSubcommand as sub } from '../subcommand.js';

const bare = (name: unknown): string => String(name).replace(/^#/, '');
/** A group or user name for the terminal (names from the server pass the sanitizer too). */
const shown = (name: unknown): string => printable(String(name));

const SUBCOMMANDS = (ctx: CliContext) => [
  sub(ctx, 'create <name>', 'create a group (you own it)', async (c, a, x) => {
    const r = await c.groupCreate(bare(a.name), { private: Boolean(a.private) });
    x.out(a.json ? printableJson(r) : `created ${r.private ? 'private ' : ''}group #${shown(r.group)}`);
  }, (y) => y.option('private', { type: 'boolean', default: false, describe: 'only invited users may join' })),
  sub(ctx, 'join <name>', 'join a group (a private one needs an invitation)', async (c, a, x) => {
    const r = await c.groupJoin(bare(a.name));
    x.out(a.json ? printableJson(r) : `joined #${shown(r.group)}`);
  }),
  sub(ctx, 'leave <name>', 'leave a group', async (c, a, x) => {
    const r = await c.groupLeave(bare(a.name));
    x.out(a.json ? printableJson(r) : `left #${shown(r.group)}`);
  }),
  sub(ctx, 'members <name>', 'list the members of a group, with who is online', async (c, a, x) => {
    const members = await c.groupMembers(bare(a.name));
    if (a.json) return x.out(printableJson({ members }));
    for (const m of members) x.out(`${shown(m.user)}${m.role === 'owner' ? ' (owner)' : ''}${m.online ? '  online' : ''}`);
  }),
  sub(ctx, 'list', 'list public groups and yours', async (c, a, x) => {
    const groups = await c.groupList();
    // One name per concept (README "JSON output"): a group's name is `group`, as in every other group command.
    if (a.json) return x.out(printableJson({ groups: groups.map(({ name, ...rest }) => ({ group: name, ...rest })) }));
    if (groups.length === 0) x.err('no groups yet: chat group create <name>');
    for (const g of groups) {
      const invited = g.invitedBy ? `  invited by ${shown(g.invitedBy)}: chat group join ${shown(g.name)}` : '';
      x.out(`#${shown(g.name)}  ${Number(g.members)} member(s)  owner ${shown(g.owner)}${g.private ? '  private' : ''}${g.member ? '  (joined)' : ''}${invited}`);
    }
  }),
  sub(ctx, 'invites', 'invitations to groups you have not joined yet', async (c, a, x) => {
    const invites = (await c.groupList()).filter((g) => g.invitedBy);
    if (a.json) return x.out(printableJson({ invites: invites.map((g) => ({ group: g.name, by: g.invitedBy, private: g.private })) }));
    if (invites.length === 0) x.err('no invitations');
    for (const g of invites) x.out(`#${shown(g.name)}  invited by ${shown(g.invitedBy)}${g.private ? '  private' : ''}  (chat group join ${shown(g.name)})`);
  }),
  sub(ctx, 'invite <name> <user>', 'invite a user (needed to join a private group)', async (c, a, x) => {
    await c.groupInvite(bare(a.name), String(a.user));
    x.out(a.json ? printableJson({ group: bare(a.name), user: a.user }) : `invited ${shown(a.user)} to #${shown(bare(a.name))}`);
  }),
  sub(ctx, 'kick <name> <user>', 'remove a member (owner only)', async (c, a, x) => {
    await c.groupKick(bare(a.name), String(a.user));
    x.out(a.json ? printableJson({ group: bare(a.name), user: a.user }) : `removed ${shown(a.user)} from #${shown(bare(a.name))}`);
  }),
  sub(ctx, 'delete <name>', 'delete a group and its history (owner only)', async (c, a, x) => {
    await c.groupDelete(bare(a.name));
    x.out(a.json ? printableJson({ group: bare(a.name) }) : `deleted #${shown(bare(a.name))}`);
  }),
];

export const groupCommand = (ctx: CliContext) => ({
  command: 'group <command>',
  describe: 'groups: create, join, leave, members, list, invite, kick, delete',
  builder: (y: Argv) => {
    for (const s of SUBCOMMANDS(ctx)) y = y.command(s as never);
    return y.demandCommand(1);
  },
  handler: () => {},
});
