// register, login, auth (resume a saved session), logout, whoami.
import { ProtocolError } from '../../protocol/errors.js';
import type { Request } from '../../protocol/messages.js';
import { NAME_RULE, PASSWORD_MAX, PASSWORD_MIN, normalizeName } from '../../protocol/names.js';
import { hashPassword, hashToken, verifyPassword } from '../auth.js';
import type { UserRow } from '../../store/store.js';
import type { Connection, ReadyConnection } from '../connection.js';
import type { ServerContext } from '../context.js';
import { openSession, resumeSession } from './sessions.js';
import { checkIdentityKey } from '../identity.js';
import { existingUser } from './lookups.js';

type Req<T extends Request['type']> = Extract<Request, { type: T }>;

function checkName(raw: string): string {
  const name = normalizeName(raw);
  if (!name) throw new ProtocolError('invalid_name', `invalid user name "${raw.slice(0, 40)}": use ${NAME_RULE}`);
  return name;
}

function checkPassword(password: string): void {
  if (password.length < PASSWORD_MIN || password.length > PASSWORD_MAX) {
    throw new ProtocolError('invalid_password', `password must be ${PASSWORD_MIN}-${PASSWORD_MAX} characters`);
  }
}

export async function handleRegister(ctx: ServerContext, conn: Connection, req: Req<'register'>) {
  const name = checkName(req.user);
  if (req.identity !== undefined) checkIdentityKey(req.identity);
  checkPassword(req.password);
  const mode = ctx.limits.registration;
  if (mode === 'closed') throw new ProtocolError('registration_closed', 'registration is closed on this server: ask its operator for an account');
  if (mode === 'invite' && !req.invite) {
    throw new ProtocolError('registration_closed', 'this server registers by invitation only: ask its operator for an invite code');
  }
  // Counted on arrival, and a taken name is answered before any hashing (docs/security.md).
  ctx.accounts.beginRegister(conn.remoteAddress, ctx.now());
  if (await ctx.store.getUser(name)) throw new ProtocolError('name_taken', `the name ${name} is taken`);
  const { salt, hash } = await ctx.accounts.hash(conn.remoteAddress, () => hashPassword(req.password));
  const user = mode === 'invite'
    ? await ctx.store.createUserWithCode(name, salt, hash, ctx.now(), hashToken(req.invite!))
    : ((await ctx.store.createUser(name, salt, hash, ctx.now())) ?? 'name_taken');
  if (user === 'invalid_code') throw new ProtocolError('invalid_invite', 'this invite code is unknown, used up or expired');
  if (user === 'name_taken') throw new ProtocolError('name_taken', `the name ${name} is taken`);
  ctx.log(`conn ${conn.id} registered ${name}`);
  ctx.accounts.trust(name, conn.remoteAddress, ctx.now());
  return openSession(ctx, conn, user.id, name, req.device, req.identity);
}

export async function handleLogin(ctx: ServerContext, conn: Connection, req: Req<'login'>) {
  const name = normalizeName(req.user);
  // Counted before the hash: guesses in flight count too, so a parallel burst is not all evaluated.
  if (req.identity !== undefined) checkIdentityKey(req.identity);
  const attempt = ctx.accounts.beginLogin(name ?? '?', conn.remoteAddress, ctx.now());
  let user: UserRow | null;
  let ok: boolean;
  try {
    user = name ? await ctx.store.getUser(name) : null;
    // An owner on a network it has used goes before a flood of registrations and guesses.
    ok = await ctx.accounts.hash(conn.remoteAddress, () => verifyPassword(req.password, user ?? null), attempt.trusted);
  } catch (err) {
    attempt.release();
    throw err;
  }
  if (!ok || !user) {
    ctx.log(`conn ${conn.id} failed login as ${String(name ?? req.user).slice(0, 40)}`);
    // A growing delay before the answer; past the limits the next attempts wait (beginLogin).
    const delay = attempt.fail(ctx.now());
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay).unref());
    throw new ProtocolError('bad_credentials', 'wrong user name or password');
  }
  attempt.succeed(ctx.now());
  return openSession(ctx, conn, user.id, user.name, req.device, req.identity);
}

export async function handleAuth(ctx: ServerContext, conn: Connection, req: Req<'auth'>) {
  if (req.identity !== undefined) checkIdentityKey(req.identity);
  const resumed = await resumeSession(ctx, conn, req.token, req.identity);
  ctx.accounts.trust(resumed.user, conn.remoteAddress, ctx.now());
  return resumed;
}

export async function handleLogout(ctx: ServerContext, conn: ReadyConnection) {
  await ctx.store.deleteSession(conn.sessionId);
  // Other connections still using the revoked token (this node) end too.
  for (const other of ctx.registry.all) {
    if (other !== conn && other.user === conn.user && other.sessionId === conn.sessionId) {
      other.fail(new ProtocolError('unauthorized', 'this session was logged out'));
    }
  }
  ctx.log(`conn ${conn.id} ${conn.user} logged out (session ${conn.sessionId} revoked)`);
  conn.endAfterReply();
  return {};
}

/** Most device keys device_keys returns. */
const DEVICE_KEYS_LISTED = 100;

/** device_keys: the identity keys a user's devices registered (§4.1); the peers pin them, not the server. */
export async function handleDeviceKeys(ctx: ServerContext, req: Req<'device_keys'>) {
  const name = await existingUser(ctx, req.user);
  const user = (await ctx.store.getUser(name))!;
  const keys = await ctx.store.deviceKeys(user.id, DEVICE_KEYS_LISTED);
  return { user: name, keys: keys.map(({ device, key }) => ({ device, key })) };
}

export async function handleWhoami(conn: ReadyConnection) {
  return { user: conn.user };
}
