// send, history, ack.
import { ProtocolError } from '../../protocol/errors.js';
import type { ChatMessage, Request } from '../../protocol/messages.js';
import { isGroupAddress } from '../../protocol/names.js';
import type { ReadyConnection } from '../connection.js';
import type { ServerContext } from '../context.js';
import { existingGroup, existingUser, requireMember } from './lookups.js';

type Req<T extends Request['type']> = Extract<Request, { type: T }>;

export async function handleSend(ctx: ServerContext, conn: ReadyConnection, req: Req<'send'>) {
  // Pipelined sends (Connection.#drainRequests) reach the store in request order.
  const turn = conn.sendTurn();
  let admitted: Admitted;
  try {
    admitted = await admitSend(ctx, conn, req, turn.ready);
  } finally {
    turn.reached(); // handed to the store, or failed before it: the next send may go
  }
  return receipt(await admitted.stored);
}

/** The store's promise of a message, wrapped so that an async function does not wait for it. */
type Admitted = { stored: Promise<ChatMessage> };

/** Checks a send and hands it to the store (after `ready`). */
async function admitSend(ctx: ServerContext, conn: ReadyConnection, req: Req<'send'>, ready: Promise<void> | null): Promise<Admitted> {
  const bytes = Buffer.byteLength(req.text, 'utf8');
  if (req.text.trim() === '') throw new ProtocolError('bad_request', 'message is empty');
  // A lone surrogate can't be stored as UTF-8: history would differ from what was delivered.
  if (/\p{Surrogate}/u.test(req.text)) throw new ProtocolError('bad_request', 'message text is not well-formed Unicode (lone surrogate)');
  if (bytes > ctx.limits.maxMessageBytes) {
    throw new ProtocolError('too_large', `message is ${bytes} bytes; the limit is ${ctx.limits.maxMessageBytes}`);
  }
  // Per user, over all its connections (docs/security.md "Messages").
  ctx.sendLimits.takeMessage(conn.user, bytes, ctx.now());
  if (isGroupAddress(req.to)) return sendToGroup(ctx, conn, req.to, req.text, ready);
  const to = await existingUser(ctx, req.to);
  // protocol.md §4.7: to a user who blocks the sender, nothing is stored or delivered, and the
  // reply says nothing of it (id 0: no stored message has it; no `delivered` follows).
  if (await ctx.blocks.has(to, conn.user)) return { stored: Promise.resolve({ id: 0, from: conn.user, to, text: req.text, at: ctx.now() }) };
  await ctx.sendLimits.takeDirect(conn.user, to, bytes, ctx.now());
  if (ready) await ready;
  // Published once stored, with the message's place in its conversation: every node passes each
  // conversation's messages on in id order (sequencer.ts). The reply waits for the publish.
  const stored = ctx.store.addMessage({ from: conn.user, to, text: req.text, at: ctx.now(), fromSession: conn.sessionId })
    .then(async ({ message, order }) => {
      await ctx.deliver([to, conn.user], { type: 'event', event: 'message', data: message }, conn, order);
      return message;
    });
  return { stored };
}

/** The reply to `send`: the stored message without its text (the sender has it; §4.3). */
function receipt({ text: _text, ...rest }: ChatMessage): Omit<ChatMessage, 'text'> {
  return rest;
}

async function sendToGroup(ctx: ServerContext, conn: ReadyConnection, to: string, text: string, ready: Promise<void> | null): Promise<Admitted> {
  const group = await existingGroup(ctx, to);
  await requireMember(ctx, group, conn.user);
  if (ready) await ready;
  const stored = ctx.store.addMessage({ from: conn.user, to: `#${group.name}`, text, at: ctx.now(), fromSession: conn.sessionId })
    .then(async ({ message, order }) => {
      try {
        const members = (await ctx.store.members(group.name)).map((m) => m.user);
        await ctx.deliver(members, { type: 'event', event: 'message', data: message }, conn, order);
      } catch (err) {
        // Stored: a failure to publish does not undo it (its members get it from their backlog).
        ctx.log(`cannot deliver message ${message.id} to #${group.name}: ${(err as Error).message}`);
      }
      return message;
    });
  return { stored };
}

export async function handleHistory(ctx: ServerContext, conn: ReadyConnection, req: Req<'history'>) {
  const limit = Math.min(Math.max(req.limit ?? 50, 1), ctx.limits.maxHistoryLimit);
  let messages;
  if (isGroupAddress(req.with)) {
    const group = await existingGroup(ctx, req.with);
    if (group.private) await requireMember(ctx, group, conn.user);
    messages = await ctx.store.groupHistory(group.name, limit + 1, req.before);
  } else {
    const other = await existingUser(ctx, req.with);
    messages = await ctx.store.history({ a: conn.user, b: other, limit: limit + 1, before: req.before });
  }
  const more = messages.length > limit;
  return { messages: more ? messages.slice(1) : messages, more };
}

/** Most `delivered` receipts sent for one ack (older ones are implied). */
const MAX_RECEIPTS = 200;

export async function handleAck(ctx: ServerContext, conn: ReadyConnection, req: Req<'ack'>) {
  const before = (await ctx.store.getSession(conn.sessionId))?.cursor ?? 0;
  // A subscribed connection's ack is gap-free (delivery/mailbox.ts, rule 4).
  const mailbox = ctx.router.mailboxOf(conn.id);
  const upTo = mailbox ? await mailbox.gapFreeAck(before, req.upTo) : req.upTo;
  await ctx.store.ackMessages(conn.sessionId, upTo);
  if (upTo <= before) return {};
  ctx.sendLimits.acked(conn.user);
  // Receipts: tell each sender that their direct message reached one of this user's devices.
  const at = ctx.now();
  for (const m of await ctx.store.directMessagesTo(conn.user, before, upTo, MAX_RECEIPTS)) {
    await ctx.deliver([m.from], { type: 'event', event: 'delivered', data: { id: m.id, to: m.to, at } });
  }
  return {};
}
