// Lookups several handlers share: an existing user, group, membership. Their own module, so that
// handlers do not import each other.
import { ProtocolError } from '../../protocol/errors.js';
import { normalizeGroup, normalizeName } from '../../protocol/names.js';
import type { GroupRow } from '../../store/store.js';
import type { ServerContext } from '../context.js';

/** The canonical name of an existing user, or no_such_user. */
export async function existingUser(ctx: ServerContext, raw: string): Promise<string> {
  const name = normalizeName(raw);
  const known = name ? ctx.knownUsers.get(name) : undefined;
  if (known) return known;
  const user = name ? await ctx.store.getUser(name) : null;
  if (!user) throw new ProtocolError('no_such_user', `no such user: ${raw.slice(0, 64)}`);
  // Accounts are never deleted, so a name found once stays valid (bounded: cleared when full).
  if (ctx.knownUsers.size >= 100_000) ctx.knownUsers.clear();
  ctx.knownUsers.set(name!, user.name);
  return user.name;
}

/** The group named `raw` ("#ops" or "ops"), or no_such_group. */
export async function existingGroup(ctx: ServerContext, raw: string): Promise<GroupRow> {
  const name = normalizeGroup(raw);
  const group = name ? await ctx.store.getGroup(name) : null;
  if (!group) throw new ProtocolError('no_such_group', `no such group: #${raw.replace(/^#/, '').slice(0, 64)}`);
  return group;
}

/** Throws not_member unless `user` belongs to `group`. */
export async function requireMember(ctx: ServerContext, group: GroupRow, user: string): Promise<void> {
  if (!(await ctx.store.isMember(group.name, user))) {
    throw new ProtocolError('not_member', `you are not a member of #${group.name}`);
  }
}
