// Groups (protocol.md §4.6): like IRC channels. Members get messages live and, when offline, on
// their next subscribe; private groups admit only invited users; the owner kicks and deletes.
import { ProtocolError } from '../../protocol/errors.js';
import type { GroupAction, GroupInfo, GroupMember, Request } from '../../protocol/messages.js';
import { NAME_RULE, normalizeGroup } from '../../protocol/names.js';
import type { GroupRow } from '../../store/store.js';
import type { ReadyConnection } from '../connection.js';
import type { ServerContext } from '../context.js';
import { existingGroup, existingUser, requireMember } from './lookups.js';

type Req<T extends Request['type']> = Extract<Request, { type: T }>;

function requireOwner(group: GroupRow, user: string, what: string): void {
  if (group.owner !== user) throw new ProtocolError('forbidden', `only the owner of #${group.name} (${group.owner}) can ${what}`);
}

/** Tells the group's members (and `extra` users, e.g. someone who just left) what happened. */
async function announce(ctx: ServerContext, group: string, action: GroupAction, user: string, by: string, extra: string[] = [], members?: string[]) {
  const users = members ?? (await ctx.store.members(group)).map((m) => m.user);
  const data = { group, action, user, by, at: ctx.now() };
  await ctx.deliver([...users, ...extra], { type: 'event', event: 'group', data });
  ctx.log(`group #${group}: ${user} ${action}${by !== user ? ` by ${by}` : ''}`);
}

/** maxGroupsPerUser and maxGroupMembers (protocol.md §7) before `user` joins or creates `group`. */
async function checkGroupLimits(ctx: ServerContext, user: string, group?: string): Promise<void> {
  const { maxGroupsPerUser, maxGroupMembers } = ctx.limits;
  const mine = (await ctx.store.listGroups(user)).filter((g) => g.member).length;
  if (mine >= maxGroupsPerUser) throw new ProtocolError('limit_reached', `you are in ${mine} groups, the most this server allows: leave one first`);
  if (group && (await ctx.store.members(group)).length >= maxGroupMembers) {
    throw new ProtocolError('limit_reached', `#${group} has ${maxGroupMembers} members, the most this server allows`);
  }
}

export async function handleGroupCreate(ctx: ServerContext, conn: ReadyConnection, req: Req<'group_create'>) {
  const name = normalizeGroup(req.group);
  if (!name) throw new ProtocolError('invalid_name', `invalid group name "${req.group.slice(0, 40)}": use ${NAME_RULE}`);
  await checkGroupLimits(ctx, conn.user);
  const group = await ctx.store.createGroup(name, conn.user, req.private ?? false, ctx.now());
  if (!group) throw new ProtocolError('name_taken', `the group #${name} already exists`);
  await announce(ctx, name, 'created', conn.user, conn.user, [], [conn.user]);
  return { group: name, private: group.private };
}

export async function handleGroupJoin(ctx: ServerContext, conn: ReadyConnection, req: Req<'group_join'>) {
  const group = await existingGroup(ctx, req.group);
  const me = conn.user;
  if (group.private && !(await ctx.store.isMember(group.name, me)) && !(await ctx.store.hasInvite(group.name, me))) {
    throw new ProtocolError('forbidden', `#${group.name} is private: a member must invite you`);
  }
  if (!(await ctx.store.isMember(group.name, me))) await checkGroupLimits(ctx, me, group.name);
  if (await ctx.store.addMember(group.name, me, ctx.now())) await announce(ctx, group.name, 'joined', me, me);
  return { group: group.name };
}

export async function handleGroupLeave(ctx: ServerContext, conn: ReadyConnection, req: Req<'group_leave'>) {
  const group = await existingGroup(ctx, req.group);
  const me = conn.user;
  if (group.owner === me) throw new ProtocolError('forbidden', `you own #${group.name}: delete it instead of leaving`);
  if (!(await ctx.store.removeMember(group.name, me))) throw new ProtocolError('not_member', `you are not a member of #${group.name}`);
  await announce(ctx, group.name, 'left', me, me, [me]);
  return { group: group.name };
}

export async function handleGroupMembers(ctx: ServerContext, conn: ReadyConnection, req: Req<'group_members'>) {
  const group = await existingGroup(ctx, req.group);
  if (group.private) await requireMember(ctx, group, conn.user);
  const members: GroupMember[] = (await ctx.store.members(group.name)).map((m) => ({ ...m, online: ctx.presence.isOnline(m.user) }));
  return { group: group.name, members };
}

export async function handleGroupList(ctx: ServerContext, conn: ReadyConnection) {
  const groups: GroupInfo[] = (await ctx.store.listGroups(conn.user)).map((g) => ({
    name: g.name, private: g.private, owner: g.owner, members: g.members, member: g.member,
  }));
  // Invitations not taken up yet, private groups included: the invitee learns what it may join.
  for (const invite of await ctx.store.pendingInvites(conn.user)) {
    const listed = groups.find((g) => g.name === invite.group);
    if (listed) listed.invitedBy = invite.by;
    else {
      const group = await ctx.store.getGroup(invite.group);
      if (!group) continue;
      const members = (await ctx.store.members(group.name)).length;
      groups.push({ name: group.name, private: group.private, owner: group.owner, members, member: false, invitedBy: invite.by });
    }
  }
  return { groups };
}


export async function handleGroupInvite(ctx: ServerContext, conn: ReadyConnection, req: Req<'group_invite'>) {
  const group = await existingGroup(ctx, req.group);
  await requireMember(ctx, group, conn.user);
  const user = await existingUser(ctx, req.user);
  if (await ctx.store.isMember(group.name, user)) throw new ProtocolError('bad_request', `${user} is already a member of #${group.name}`);
  // protocol.md §4.7: the invitee blocks the inviter: the same reply, and nothing happens.
  if (await ctx.blocks.has(user, conn.user)) return { group: group.name, user };
  await ctx.store.addInvite(group.name, user, conn.user, ctx.now());
  await announce(ctx, group.name, 'invited', user, conn.user, [user]);
  return { group: group.name, user };
}

export async function handleGroupKick(ctx: ServerContext, conn: ReadyConnection, req: Req<'group_kick'>) {
  const group = await existingGroup(ctx, req.group);
  requireOwner(group, conn.user, 'kick members');
  const user = await existingUser(ctx, req.user);
  if (user === group.owner) throw new ProtocolError('forbidden', 'the owner cannot be kicked');
  if (!(await ctx.store.removeMember(group.name, user))) throw new ProtocolError('not_member', `${user} is not a member of #${group.name}`);
  await announce(ctx, group.name, 'kicked', user, conn.user, [user]);
  return { group: group.name, user };
}

export async function handleGroupDelete(ctx: ServerContext, conn: ReadyConnection, req: Req<'group_delete'>) {
  const group = await existingGroup(ctx, req.group);
  requireOwner(group, conn.user, 'delete it');
  const members = (await ctx.store.members(group.name)).map((m) => m.user);
  await ctx.store.deleteGroup(group.name);
  await announce(ctx, group.name, 'deleted', conn.user, conn.user, [], members);
  return { group: group.name };
}
