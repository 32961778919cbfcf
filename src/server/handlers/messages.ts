// send, history, ack.
import { ProtocolError } from '../../protocol/errors.js';
import type { Request } from '../../protocol/messages.js';
import { normalizeName } from '../../protocol/names.js';
import type { Connection } from '../connection.js';
import type { ServerContext } from '../server.js';

type Req<T extends Request['type']> = Extract<Request, { type: T }>;

/** The canonical name of an existing user, or no_such_user. */
export async function existingUser(ctx: ServerContext, raw: string): Promise<string> {
  const name = normalizeName(raw);
  const user = name ? await ctx.store.getUser(name) : null;
  if (!user) throw new ProtocolError('no_such_user', `no such user: ${raw.slice(0, 64)}`);
  return user.name;
}

export async function handleSend(ctx: ServerContext, conn: Connection, req: Req<'send'>) {
  const bytes = Buffer.byteLength(req.text, 'utf8');
  if (bytes === 0) throw new ProtocolError('bad_request', 'message is empty');
  if (bytes > ctx.limits.maxMessageBytes) {
    throw new ProtocolError('too_large', `message is ${bytes} bytes; the limit is ${ctx.limits.maxMessageBytes}`);
  }
  const to = await existingUser(ctx, req.to);
  const message = await ctx.store.addMessage({ from: conn.user!, to, text: req.text, at: ctx.now(), fromSession: conn.sessionId });
  await ctx.deliver([to, conn.user!], { type: 'event', event: 'message', data: message }, conn);
  return message;
}

export async function handleHistory(ctx: ServerContext, conn: Connection, req: Req<'history'>) {
  const other = await existingUser(ctx, req.with);
  const limit = Math.min(Math.max(req.limit ?? 50, 1), ctx.limits.maxHistoryLimit);
  const messages = await ctx.store.history({ a: conn.user!, b: other, limit: limit + 1, before: req.before });
  const more = messages.length > limit;
  return { messages: more ? messages.slice(1) : messages, more };
}

export async function handleAck(ctx: ServerContext, conn: Connection, req: Req<'ack'>) {
  await ctx.store.ackMessages(conn.sessionId, req.upTo);
  return {};
}
