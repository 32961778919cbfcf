// who, and subscribe: start listening, then receive the backlog this device has not acknowledged.
import type { ServerEvent } from '../../protocol/messages.js';
import type { ReadyConnection } from '../connection.js';
import type { ServerContext } from '../context.js';
import type { Mailbox } from '../delivery/mailbox.js';

export async function handleWho(ctx: ServerContext) {
  return { users: ctx.presence.online() };
}

/** Opens the connection's Mailbox and replays its backlog; live events wait for it (delivery/mailbox.ts). */
export async function handleSubscribe(ctx: ServerContext, conn: ReadyConnection) {
  const opened = ctx.router.subscribe(conn);
  if (!opened) return { backlog: 0 };
  const { mailbox, first } = opened;
  if (first) await ctx.announce({ kind: 'presence', node: ctx.node, user: conn.user, online: true, at: ctx.now() });
  const count = await mailbox.replayBacklog();
  const offered = replayOpenOffers(ctx, conn, mailbox);
  // Someone invited while offline learns of it now (and on every connect until it joins).
  for (const event of await pendingInviteEvents(ctx, conn.user)) mailbox.replayEvent(event);
  mailbox.finishReplay(offered);
  return { backlog: count };
}

/** The group events of invitations not taken up yet, as they were sent live. */
async function pendingInviteEvents(ctx: ServerContext, user: string): Promise<ServerEvent[]> {
  return (await ctx.store.pendingInvites(user)).map((i) => ({
    type: 'event', event: 'group', data: { group: i.group, action: 'invited', user, by: i.by, at: i.at },
  }));
}

function replayOpenOffers(ctx: ServerContext, conn: ReadyConnection, mailbox: Mailbox): Set<string> {
  const sent = new Set<string>();
  for (const offer of ctx.offers.openFor(conn.user)) {
    mailbox.replayEvent({ type: 'event', event: 'offer', data: offer.info });
    sent.add(offer.info.id);
  }
  return sent;
}
