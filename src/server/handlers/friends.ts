// Contacts (protocol.md §4.7): friend requests, the friend list with online status and notes,
// and finding users by name prefix.
import { ProtocolError } from '../../protocol/errors.js';
import type { FriendAction, FriendInfo, Request } from '../../protocol/messages.js';
import type { ReadyConnection } from '../connection.js';
import type { ServerContext } from '../context.js';
import { existingUser } from './lookups.js';

type Req<T extends Request['type']> = Extract<Request, { type: T }>;

const MAX_NOTE_CHARS = 500;
const SEARCH_LIMIT = 20;
const MAX_SEARCH_LIMIT = 100;

async function otherUser(ctx: ServerContext, conn: ReadyConnection, raw: string): Promise<string> {
  const user = await existingUser(ctx, raw);
  if (user === conn.user) throw new ProtocolError('bad_request', 'that is you');
  return user;
}

function tell(ctx: ServerContext, to: string, from: string, action: FriendAction): Promise<void> {
  return ctx.deliver([to], { type: 'event', event: 'friend', data: { user: from, action, at: ctx.now() } });
}

export async function handleFriendAdd(ctx: ServerContext, conn: ReadyConnection, req: Req<'friend_add'>) {
  const other = await otherUser(ctx, conn, req.user);
  // protocol.md §4.7: a request to a user who blocks the caller is answered as sent, and dropped.
  if (await ctx.blocks.has(other, conn.user)) {
    const state = (await ctx.store.friends(conn.user)).find((f) => f.user === other)?.state;
    return { user: other, state: state ?? 'outgoing' };
  }
  const result = await ctx.store.requestFriend(conn.user, other, ctx.now());
  if (result === 'outgoing') await tell(ctx, other, conn.user, 'requested');
  if (result === 'friend') await tell(ctx, other, conn.user, 'accepted');
  const state = (await ctx.store.friends(conn.user)).find((f) => f.user === other)?.state;
  return { user: other, state };
}

export async function handleFriendAccept(ctx: ServerContext, conn: ReadyConnection, req: Req<'friend_accept'>) {
  const other = await otherUser(ctx, conn, req.user);
  if (!(await ctx.store.acceptFriend(conn.user, other, ctx.now()))) {
    throw new ProtocolError('bad_request', `no friend request from ${other}`);
  }
  await tell(ctx, other, conn.user, 'accepted');
  return { user: other, state: 'friend' };
}

export async function handleFriendDecline(ctx: ServerContext, conn: ReadyConnection, req: Req<'friend_decline'>) {
  const other = await otherUser(ctx, conn, req.user);
  const state = (await ctx.store.friends(conn.user)).find((f) => f.user === other)?.state;
  if (state !== 'incoming') throw new ProtocolError('bad_request', `no friend request from ${other}`);
  await ctx.store.removeFriend(conn.user, other);
  await tell(ctx, other, conn.user, 'declined');
  return { user: other };
}

export async function handleFriendRemove(ctx: ServerContext, conn: ReadyConnection, req: Req<'friend_remove'>) {
  const other = await otherUser(ctx, conn, req.user);
  if (!(await ctx.store.removeFriend(conn.user, other))) throw new ProtocolError('bad_request', `${other} is not on your friend list`);
  await tell(ctx, other, conn.user, 'removed');
  return { user: other };
}

export async function handleFriendNote(ctx: ServerContext, conn: ReadyConnection, req: Req<'friend_note'>) {
  const other = await otherUser(ctx, conn, req.user);
  if (req.note.length > MAX_NOTE_CHARS) throw new ProtocolError('too_large', `a note is at most ${MAX_NOTE_CHARS} characters`);
  if (!(await ctx.store.setFriendNote(conn.user, other, req.note))) {
    throw new ProtocolError('bad_request', `${other} is not on your friend list`);
  }
  return { user: other, note: req.note };
}

export async function handleFriendList(ctx: ServerContext, conn: ReadyConnection) {
  const friends: FriendInfo[] = (await ctx.store.friends(conn.user)).map((f) => ({ ...f, online: ctx.presence.isOnline(f.user) }));
  return { friends };
}

export async function handleUsersSearch(ctx: ServerContext, req: Req<'users_search'>) {
  if (req.prefix.length > 32) throw new ProtocolError('bad_request', 'prefix is at most 32 characters');
  const limit = Math.min(Math.max(req.limit ?? SEARCH_LIMIT, 1), MAX_SEARCH_LIMIT);
  return { users: await ctx.store.searchUsers(req.prefix, limit) };
}
