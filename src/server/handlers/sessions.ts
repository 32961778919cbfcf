// Sessions (devices) of an account: starting one at login, resuming one with its token (idle
// expiry), listing them, revoking them, changing the password (protocol.md §4.1).
import { ProtocolError } from '../../protocol/errors.js';
import type { Request, SessionEntry } from '../../protocol/messages.js';
import { PASSWORD_MAX, PASSWORD_MIN } from '../../protocol/names.js';
import type { RevocationReason, SessionRow } from '../../store/store.js';
import { hashPassword, hashToken, newToken, verifyPassword } from '../auth.js';
import type { Connection, ReadyConnection } from '../connection.js';
import type { ServerContext } from '../context.js';
import { SESSION_TOUCH_MS } from '../session-watch.js';

type Req<T extends Request['type']> = Extract<Request, { type: T }>;

/** Longest device name kept, in characters (code points). */
export const DEVICE_MAX = 64;

/** Most sessions `sessions` lists (the most recently used). */
export const SESSIONS_LISTED = 200;

// C0 and C1 controls, DEL, bidi and zero-width format characters: none may reach a terminal.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/** A device name as the server keeps it: printable, one line, at most DEVICE_MAX characters. */
export function deviceName(raw: string | undefined): string {
  if (raw === undefined) return '';
  const clean = raw.slice(0, DEVICE_MAX * 4).replace(UNPRINTABLE, ' ').replace(/\s+/g, ' ').trim();
  return [...clean].slice(0, DEVICE_MAX).join('').trim();
}

/** Starts a new session (a device) for a user who proved their password. */
export async function openSession(ctx: ServerContext, conn: Connection, userId: number, name: string, device?: string, identity?: string) {
  const { token, tokenHash } = newToken();
  const seen = ctx.sessions.applied;
  const session = await ctx.store.createSession(userId, tokenHash, ctx.now(), { device: deviceName(device), address: conn.remoteAddress });
  if (!session) throw new ProtocolError('account_disabled', "this account is disabled: ask the server's operator");
  if (identity) await ctx.store.setSessionIdentity(session.id, identity);
  conn.authenticate(name, session.id);
  await ctx.sessions.confirm(conn, seen);
  ctx.log(`conn ${conn.id} logged in as ${name} (session ${session.id})`);
  return { user: name, token };
}

/** Resumes a saved session (`auth`); a session idle past sessionIdleMs is deleted instead. */
export async function resumeSession(ctx: ServerContext, conn: Connection, token: string, identity?: string) {
  const seen = ctx.sessions.applied;
  const session = await ctx.store.getSessionByTokenHash(hashToken(token));
  if (!session) throw new ProtocolError('unauthorized', 'session expired or revoked: log in again');
  const now = ctx.now();
  const idleMs = ctx.limits.sessionIdleMs;
  if (idleMs > 0 && now - session.lastSeenAt > idleMs) {
    await ctx.store.deleteSession(session.id);
    ctx.log(`conn ${conn.id} ${session.user}: session ${session.id} expired (unused for ${Math.round((now - session.lastSeenAt) / 86_400_000)} days)`);
    throw new ProtocolError('unauthorized', 'session expired or revoked: log in again');
  }
  if (identity && identity !== session.identityKey) await ctx.store.setSessionIdentity(session.id, identity);
  conn.authenticate(session.user, session.id);
  await ctx.sessions.confirm(conn, seen);
  // At most once a minute per session: a write per resume would cost every reconnect an fsync.
  if (now - session.lastSeenAt >= SESSION_TOUCH_MS) {
    await ctx.store.touchSession(session.id, now, conn.remoteAddress).catch((err: Error) => ctx.log(`sessions: cannot record a use: ${err.message}`));
  }
  return { user: session.user };
}

/** This connection's session row; unauthorized (closing) if it was revoked meanwhile. */
async function ownSession(ctx: ServerContext, conn: ReadyConnection): Promise<SessionRow> {
  const session = await ctx.store.getSession(conn.sessionId);
  if (!session) throw new ProtocolError('unauthorized', 'session expired or revoked: log in again', { fatal: true });
  return session;
}

/** Tells every node (this one too) to close the user's revoked connections; the store's log backs it up. */
async function announce(ctx: ServerContext, user: string, reason: RevocationReason): Promise<void> {
  try {
    await ctx.bus.publish({ kind: 'sessions_revoked', node: ctx.node, user, reason });
  } catch (err) {
    ctx.log(`bus: cannot announce a revocation (${(err as Error).message}); other nodes read it from the store`);
    await ctx.sessions.apply(user, reason);
  }
}

export async function handleSessions(ctx: ServerContext, conn: ReadyConnection): Promise<{ sessions: SessionEntry[] }> {
  const me = await ownSession(ctx, conn);
  const rows = await ctx.store.listSessions(me.userId, SESSIONS_LISTED);
  return { sessions: rows.map((r) => ({ ...r, current: r.id === conn.sessionId })) };
}

export async function handleRevokeSession(ctx: ServerContext, conn: ReadyConnection, req: Req<'revoke_session'>) {
  const others = req.others === true;
  if (others === (req.session !== undefined)) throw new ProtocolError('bad_request', 'revoke_session: give either session or others: true');
  if (req.session === conn.sessionId) throw new ProtocolError('bad_request', 'that is this session: use logout');
  const me = await ownSession(ctx, conn);
  const revoked = await ctx.store.revokeSessions(me.userId, others ? { except: conn.sessionId } : req.session!, 'revoked', ctx.now());
  if (!others && revoked === 0) throw new ProtocolError('no_such_session', `you have no session ${req.session}`);
  ctx.log(`conn ${conn.id} ${me.user} revoked ${others ? `${revoked} other sessions` : `session ${req.session}`}`);
  if (revoked > 0) await announce(ctx, me.user, 'revoked');
  return { revoked };
}

export async function handleChangePassword(ctx: ServerContext, conn: ReadyConnection, req: Req<'change_password'>) {
  if (req.newPassword.length < PASSWORD_MIN || req.newPassword.length > PASSWORD_MAX) {
    throw new ProtocolError('invalid_password', `password must be ${PASSWORD_MIN}-${PASSWORD_MAX} characters`);
  }
  // Counted before the hash: a stolen token must not buy unlimited guesses at the password.
  ctx.sessions.countPasswordAttempt(conn.sessionId);
  const me = await ownSession(ctx, conn);
  const user = await ctx.store.getUser(me.user);
  if (!(await ctx.accounts.hash(conn.remoteAddress, () => verifyPassword(req.password, user), true)) || !user) {
    ctx.log(`conn ${conn.id} ${me.user}: change_password with a wrong current password`);
    throw new ProtocolError('bad_credentials', 'the current password is wrong');
  }
  ctx.sessions.passwordAccepted(conn.sessionId);
  const { salt, hash } = await ctx.accounts.hash(conn.remoteAddress, () => hashPassword(req.newPassword), true);
  const revoked = await ctx.store.setPassword(user.id, salt, hash, conn.sessionId, 'password', ctx.now());
  ctx.log(`conn ${conn.id} ${me.user} changed the password; ${revoked} other sessions revoked`);
  await announce(ctx, me.user, 'password');
  return { revoked };
}
