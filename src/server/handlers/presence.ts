// who, and subscribe: start listening, then receive the backlog this device has not acknowledged.
import type { ServerEvent } from '../../protocol/messages.js';
import type { Connection } from '../connection.js';
import type { ServerContext } from '../context.js';

/** Messages per backlog page read from the store. */
const BACKLOG_PAGE = 500;

export async function handleWho(ctx: ServerContext) {
  return { users: ctx.presence.online() };
}

export async function handleSubscribe(ctx: ServerContext, conn: Connection) {
  if (conn.subscribed) return { backlog: 0 };
  conn.subscribed = true;
  conn.syncQueue = [];
  // Messages may reach this connection out of id order (another node, a refill): track what it
  // was sent (handleAck). One path, whatever the store and bus.
  conn.delivered = new Map();
  if (ctx.registry.listen(conn)) {
    await ctx.announce({ kind: 'presence', node: ctx.node, user: conn.user!, online: true, at: ctx.now() });
  }
  const { count, lastId } = await sendBacklog(ctx, conn);
  const offered = sendOpenOffers(ctx, conn);
  // Someone invited while offline learns of it now (and on every connect until it joins).
  for (const event of await pendingInviteEvents(ctx, conn.user!)) conn.send(event);
  // Out of id order, a live message below the backlog's last id may not have been in it:
  // there `send` drops exactly what was already sent (conn.delivered), so no id filter.
  flushQueue(conn, conn.delivered ? 0 : lastId, offered);
  return { backlog: count };
}

// Pages through everything after the session's cursor, waiting for the socket to drain between pages.
async function sendBacklog(ctx: ServerContext, conn: Connection): Promise<{ count: number; lastId: number }> {
  let cursor = (await ctx.store.getSession(conn.sessionId))?.cursor ?? 0;
  let count = 0;
  for (;;) {
    const page = await ctx.store.pendingMessages(conn.user!, cursor, conn.sessionId, BACKLOG_PAGE);
    for (const message of page) {
      conn.send({ type: 'event', event: 'message', data: message });
      // Well below maxBufferedBytes: a reading client must never look like a stalled one.
      if (conn.buffered > ctx.limits.maxBufferedBytes / 4) await conn.drained();
      if (conn.state === 'closed') return { count, lastId: cursor };
    }
    count += page.length;
    if (page.length > 0) cursor = page[page.length - 1]!.id;
    if (page.length < BACKLOG_PAGE || conn.state === 'closed') return { count, lastId: cursor };
    await conn.drained();
  }
}

/** The group events of invitations not taken up yet, as they were sent live. */
async function pendingInviteEvents(ctx: ServerContext, user: string): Promise<ServerEvent[]> {
  return (await ctx.store.pendingInvites(user)).map((i) => ({
    type: 'event', event: 'group', data: { group: i.group, action: 'invited', user, by: i.by, at: i.at },
  }));
}

function sendOpenOffers(ctx: ServerContext, conn: Connection): Set<string> {
  const sent = new Set<string>();
  for (const offer of ctx.offers.openFor(conn.user!)) {
    conn.send({ type: 'event', event: 'offer', data: offer.info });
    sent.add(offer.info.id);
  }
  return sent;
}

/** Live events that arrived during the backlog (or a refill), minus what the backlog already carried. */
export function flushQueue(conn: Connection, lastId: number, offered: ReadonlySet<string>): void {
  const queued: ServerEvent[] = conn.syncQueue ?? [];
  conn.syncQueue = null;
  conn.backlogUpTo = lastId;
  for (const event of queued) {
    if (event.event === 'message' && event.data.id <= lastId) continue;
    if (event.event === 'offer' && offered.has(event.data.id)) continue;
    conn.send(event);
  }
}
