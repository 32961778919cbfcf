// Blocking (protocol.md §4.7): a user's list of users whose direct messages, offers, group
// invitations and friend requests the server drops without telling them.
import { ProtocolError } from '../../protocol/errors.js';
import type { BlockedUser, Request } from '../../protocol/messages.js';
import { MAX_BLOCKS } from '../blocks.js';
import type { ReadyConnection } from '../connection.js';
import type { ServerContext } from '../context.js';
import { existingUser } from './lookups.js';

type Req<T extends Request['type']> = Extract<Request, { type: T }>;

export async function handleBlock(ctx: ServerContext, conn: ReadyConnection, req: Req<'block'>) {
  const other = await existingUser(ctx, req.user);
  if (other === conn.user) throw new ProtocolError('bad_request', 'that is you');
  const list = await ctx.store.blocks(conn.user);
  if (list.length >= MAX_BLOCKS && !list.some((b) => b.user === other)) {
    throw new ProtocolError('limit_reached', `you block ${MAX_BLOCKS} users already; unblock some first`);
  }
  const added = await ctx.store.block(conn.user, other, ctx.now());
  ctx.blocks.changed(conn.user);
  return { user: other, added };
}

export async function handleUnblock(ctx: ServerContext, conn: ReadyConnection, req: Req<'unblock'>) {
  const other = await existingUser(ctx, req.user);
  if (!(await ctx.store.unblock(conn.user, other))) throw new ProtocolError('bad_request', `you do not block ${other}`);
  ctx.blocks.changed(conn.user);
  return { user: other };
}

export async function handleBlocked(ctx: ServerContext, conn: ReadyConnection): Promise<{ users: BlockedUser[] }> {
  return { users: await ctx.store.blocks(conn.user) };
}
