// The one gate every request passes: hello first, then register/login/auth, then the rest.
import { ProtocolError } from '../../protocol/errors.js';
import type { Request } from '../../protocol/messages.js';
import type { Connection, ReadyConnection } from '../connection.js';
import type { ServerContext } from '../context.js';
import { handleAuth, handleDeviceKeys, handleLogin, handleLogout, handleRegister, handleWhoami } from './accounts.js';
import { handleHello } from './hello.js';
import { handleAck, handleHistory, handleSend } from './messages.js';
import { handleAccept, handleOffer, handleOfferFiles, handleOfferList, handleOffers, handleReject, handleWithdraw } from './offers.js';
import { handleSubscribe, handleWho } from './presence.js';
import { handlePunch } from './punch.js';
import { handleRelay } from './relay.js';
import { handleChangePassword, handleRevokeSession, handleSessions } from './sessions.js';
import { handleBlock, handleBlocked, handleUnblock } from './blocks.js';
import { handleFriendAccept, handleFriendAdd, handleFriendDecline, handleFriendList, handleFriendNote, handleFriendRemove, handleUsersSearch } from './friends.js';
import {
  handleGroupCreate, handleGroupDelete, handleGroupInvite, handleGroupJoin, handleGroupKick, handleGroupLeave, handleGroupList, handleGroupMembers,
} from './groups.js';

const LOGIN_TYPES = new Set(['register', 'login', 'auth']);

/** Runs one request for `conn`; resolves with the reply's result. */
export async function handle(ctx: ServerContext, conn: Connection, req: Request): Promise<unknown> {
  if (ctx.shuttingDown) throw new ProtocolError('shutting_down', 'server is shutting down');
  // protocol.md §3.1: nothing before hello, and hello only once.
  if (conn.state === 'hello' && req.type === 'relay') return handleRelay(ctx, conn, req);
  if (conn.state === 'hello' && req.type === 'punch') return handlePunch(ctx, conn, req);
  if (conn.state === 'hello' && req.type !== 'hello') {
    throw new ProtocolError('bad_request', 'the first request must be hello (or relay, or punch)', { fatal: true });
  }
  if (conn.state !== 'hello' && req.type === 'hello') throw new ProtocolError('bad_request', 'hello was already sent');
  if (req.type === 'relay' || req.type === 'punch') throw new ProtocolError('bad_request', `${req.type} must be the first request of a connection`);
  // protocol.md §3.2: only register, login and auth before a login.
  if (conn.state === 'login' && req.type !== 'hello' && !LOGIN_TYPES.has(req.type)) {
    throw new ProtocolError('unauthorized', 'log in first');
  }
  if (conn.state === 'ready' && LOGIN_TYPES.has(req.type)) throw new ProtocolError('bad_request', 'already logged in');
  switch (req.type) {
    case 'hello': return handleHello(ctx, conn, req);
    case 'register': return handleRegister(ctx, conn, req);
    case 'login': return handleLogin(ctx, conn, req);
    case 'auth': return handleAuth(ctx, conn, req);
  }
  if (!conn.isReady()) throw new ProtocolError('unauthorized', 'log in first'); // (checked above; narrows conn)
  return handleReady(ctx, conn, req);
}

/** The requests of a logged-in connection: their handlers get `conn.user` as a string. */
async function handleReady(ctx: ServerContext, conn: ReadyConnection, req: Exclude<Request, { type: 'hello' | 'register' | 'login' | 'auth' | 'relay' | 'punch' }>): Promise<unknown> {
  switch (req.type) {
    case 'logout': return handleLogout(ctx, conn);
    case 'whoami': return handleWhoami(conn);
    case 'sessions': return handleSessions(ctx, conn);
    case 'device_keys': return handleDeviceKeys(ctx, req);
    case 'revoke_session': return handleRevokeSession(ctx, conn, req);
    case 'change_password': return handleChangePassword(ctx, conn, req);
    case 'ping': return {};
    case 'who': return handleWho(ctx);
    case 'subscribe': return handleSubscribe(ctx, conn);
    case 'send': return handleSend(ctx, conn, req);
    case 'history': return handleHistory(ctx, conn, req);
    case 'ack': return handleAck(ctx, conn, req);
    case 'offer': return handleOffer(ctx, conn, req);
    case 'offer_files': return handleOfferFiles(ctx, conn, req);
    case 'offer_list': return handleOfferList(ctx, conn, req);
    case 'offers': return handleOffers(ctx, conn);
    case 'accept': return handleAccept(ctx, conn, req);
    case 'reject': return handleReject(ctx, conn, req);
    case 'withdraw': return handleWithdraw(ctx, conn, req);
    case 'group_create': return handleGroupCreate(ctx, conn, req);
    case 'group_join': return handleGroupJoin(ctx, conn, req);
    case 'group_leave': return handleGroupLeave(ctx, conn, req);
    case 'group_members': return handleGroupMembers(ctx, conn, req);
    case 'group_list': return handleGroupList(ctx, conn);
    case 'group_invite': return handleGroupInvite(ctx, conn, req);
    case 'group_kick': return handleGroupKick(ctx, conn, req);
    case 'group_delete': return handleGroupDelete(ctx, conn, req);
    case 'friend_add': return handleFriendAdd(ctx, conn, req);
    case 'friend_accept': return handleFriendAccept(ctx, conn, req);
    case 'friend_decline': return handleFriendDecline(ctx, conn, req);
    case 'friend_remove': return handleFriendRemove(ctx, conn, req);
    case 'friend_note': return handleFriendNote(ctx, conn, req);
    case 'friend_list': return handleFriendList(ctx, conn);
    case 'block': return handleBlock(ctx, conn, req);
    case 'unblock': return handleUnblock(ctx, conn, req);
    case 'blocked': return handleBlocked(ctx, conn);
    case 'users_search': return handleUsersSearch(ctx, req);
    default: {
      const unreachable: never = req;
      throw new ProtocolError('unknown_type', `unknown request type: ${(unreachable as Request).type}`);
    }
  }
}
