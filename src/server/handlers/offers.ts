// File offers (protocol.md §4.4): the server brokers them and never sees file data.
import { ProtocolError } from '../../protocol/errors.js';
import type { OfferAction } from '../../bus/bus.js';
import type { Candidate, OfferCloseReason, OfferFileInfo, Request } from '../../protocol/messages.js';
import type { ReadyConnection } from '../connection.js';
import type { Offer } from '../offers.js';
import { transferTaken } from '../relay-tickets.js';
import type { ServerContext } from '../context.js';
import { existingUser } from './lookups.js';
import { checkSignedIdentity } from '../identity.js';
import { duration } from '../units.js';

type Req<T extends Request['type']> = Extract<Request, { type: T }>;

const MAX_CANDIDATES = 16;
const MAX_FILES_PAGE = 1000;
const MIN_TIMEOUT_MS = 1000;

function bad(message: string): ProtocolError {
  return new ProtocolError('bad_request', message);
}

function checkCandidates(list: unknown[]): Candidate[] {
  if (list.length > MAX_CANDIDATES) throw bad(`at most ${MAX_CANDIDATES} candidates`);
  return list.map((c) => {
    const { host, port } = (c ?? {}) as Record<string, unknown>;
    if (typeof host !== 'string' || host.length === 0 || host.length > 255) throw bad('candidate host must be a string');
    if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535) throw bad('candidate port must be 1-65535');
    return { host, port: port as number };
  });
}

function checkFile(f: unknown): OfferFileInfo {
  const { path, size, mime, mode, mtimeMs } = (f ?? {}) as Record<string, unknown>;
  const ok =
    typeof path === 'string' && path.length > 0 && path.length <= 4096 &&
    Number.isSafeInteger(size) && (size as number) >= 0 &&
    typeof mime === 'string' && mime.length <= 255 &&
    Number.isSafeInteger(mode) && typeof mtimeMs === 'number' && Number.isFinite(mtimeMs);
  if (!ok) throw bad('each file needs path, size, mime, mode and mtimeMs');
  return { path: path as string, size: size as number, mime: mime as string, mode: mode as number, mtimeMs: mtimeMs as number };
}

/** Ends an offer this node owns and tells whoever still cares (other nodes drop their replica). */
export function closeOffer(ctx: ServerContext, offer: Offer, reason: OfferCloseReason, by: string, message?: string): void {
  if (!ctx.offers.remove(offer)) return;
  const event = { type: 'event', event: 'offer_closed', data: { offer: offer.info.id, reason, by, message } } as const;
  if (reason !== 'withdrawn' && reason !== 'sender_gone') {
    if (offer.sender) ctx.router.pushTo(offer.sender, event);
  }
  if (offer.open && !offer.hidden) {
    void ctx.deliver([offer.info.to], event);
    void ctx.announce({ kind: 'offer_end', node: ctx.node, offer: offer.info.id });
  }
  ctx.log(`offer ${offer.info.id} ${offer.info.from} -> ${offer.info.to} ${reason}`);
}

/** The owner node applies an answer given on another node (bus offer_action). */
export function applyOfferAction(ctx: ServerContext, id: string, act: OfferAction): void {
  const offer = ctx.offers.get(id);
  if (!offer || !offer.sender) return; // already ended, or not ours
  if (act.action === 'reject') return closeOffer(ctx, offer, 'rejected', act.by, act.reason);
  const { action: _a, ...accepted } = act;
  acceptOffer(ctx, offer, accepted);
}

/** Tells the sender, ends the offer everywhere (the receiver's other devices stop showing it). */
function acceptOffer(ctx: ServerContext, offer: Offer, accepted: Omit<Extract<OfferAction, { action: 'accept' }>, 'action'>): void {
  const { connection, ...data } = accepted;
  ctx.router.pushTo(offer.sender!, { type: 'event', event: 'offer_accepted', data: { offer: offer.info.id, ...data } });
  ctx.offers.remove(offer);
  void ctx.announce({ kind: 'offer_end', node: ctx.node, offer: offer.info.id });
  const closed = { type: 'event', event: 'offer_closed', data: { offer: offer.info.id, reason: 'accepted', by: accepted.by } } as const;
  void ctx.announce({ kind: 'deliver', users: [offer.info.to], event: closed, exceptConnection: connection });
  ctx.log(`offer ${offer.info.id} accepted by ${accepted.by}`);
}

function findOffer(ctx: ServerContext, id: string): Offer {
  const offer = ctx.offers.get(id);
  if (!offer) throw new ProtocolError('no_such_offer', `no such offer: ${id.slice(0, 64)}`);
  return offer;
}

const PATHS = new Set(['direct', 'reverse', 'punch', 'relay']);

/** `via` (Part II §T8): up to four distinct path names, passed on as they are; absent stays absent. */
function checkVia(via: unknown): string[] | undefined {
  if (via === undefined) return undefined;
  if (!Array.isArray(via) || via.length > PATHS.size || !via.every((p) => typeof p === 'string' && PATHS.has(p))) {
    throw bad('via lists paths: direct, reverse, punch, relay');
  }
  return [...new Set(via as string[])];
}

/** An open offer addressed to this connection's user. */
function offerFor(ctx: ServerContext, conn: ReadyConnection, id: string): Offer {
  const offer = findOffer(ctx, id);
  if (offer.info.to !== conn.user || !offer.open || offer.hidden) throw new ProtocolError('no_such_offer', `no such offer: ${id.slice(0, 64)}`);
  return offer;
}

export async function handleOffer(ctx: ServerContext, conn: ReadyConnection, req: Req<'offer'>) {
  const to = await existingUser(ctx, req.to);
  const candidates = checkCandidates(req.candidates);
  if (req.fileCount < 1 || req.fileCount > ctx.limits.maxOfferFiles) throw bad(`an offer holds 1-${ctx.limits.maxOfferFiles} files`);
  if (req.transfer.length > 128 || req.token.length > 256) throw bad('transfer id or token too long');
  if (req.key !== undefined && req.key.length > 64) throw bad('key too long');
  claimTransfer(ctx, req.transfer, conn.user, to);
  if (ctx.offers.countFrom(conn.user) >= ctx.limits.maxOffersPerUser) {
    throw new ProtocolError('overloaded', `you already have ${ctx.limits.maxOffersPerUser} offers waiting`);
  }
  const at = ctx.now();
  const timeoutMs = Math.min(Math.max(req.timeoutMs, MIN_TIMEOUT_MS), ctx.limits.maxOfferTimeoutMs);
  const info = {
    transfer: req.transfer, from: conn.user, to, token: req.token, candidates,
    observed: conn.remoteAddress, fileCount: req.fileCount, totalBytes: req.totalBytes, at, expiresAt: at + timeoutMs,
    key: req.key, identity: checkSignedIdentity(req.identity), verify: req.verify, via: checkVia(req.via),
  };
  const offer = ctx.offers.add(info, conn, ctx.node, (o, what) =>
    what === 'list'
      ? closeOffer(ctx, o, 'expired', '', `the file list was not complete within ${duration(ctx.limits.offerListTimeoutMs)}`)
      : closeOffer(ctx, o, 'expired', ''));
  // protocol.md §4.7: an offer to a user who blocks the sender looks the same to the sender, and
  // nobody else ever sees it.
  if (await ctx.blocks.has(to, conn.user)) offer.hidden = true;
  ctx.log(`offer ${offer.info.id} ${conn.user} -> ${to}: ${req.fileCount} files, ${req.totalBytes} bytes${offer.hidden ? ' (blocked)' : ''}`);
  return { offer: offer.info.id, online: ctx.presence.isOnline(to), expiresAt: info.expiresAt };
}

/** Refuses a transfer id another pair of users has (an open offer, or a relay ticket on this node): nobody takes over another's transfer. */
function claimTransfer(ctx: ServerContext, transfer: string, from: string, to: string): void {
  if (ctx.offers.transferTakenBy(transfer, from, to) || !ctx.relay.mayUse(transfer, from, to, ctx.now())) throw transferTaken();
}

export async function handleOfferFiles(ctx: ServerContext, conn: ReadyConnection, req: Req<'offer_files'>) {
  const offer = findOffer(ctx, req.offer);
  if (offer.sender !== conn || offer.open) throw new ProtocolError('no_such_offer', `no such offer: ${req.offer.slice(0, 64)}`);
  if (req.files.length > MAX_FILES_PAGE) throw bad(`at most ${MAX_FILES_PAGE} files per offer_files request`);
  const files = req.files.map(checkFile);
  if (offer.files.length + files.length > offer.info.fileCount) throw bad('more files than the offer announced');
  ctx.offers.addFiles(offer, files); // bounded in bytes per offer, per sender and in all (docs/security.md)
  if (!req.done) return { received: offer.files.length };
  const total = offer.files.reduce((sum, f) => sum + f.size, 0);
  if (offer.files.length !== offer.info.fileCount || total !== offer.info.totalBytes) {
    closeOffer(ctx, offer, 'withdrawn', conn.user);
    throw bad('file list does not match the announced count and total size');
  }
  ctx.offers.opened(offer);
  if (offer.hidden) return { received: offer.files.length, online: ctx.presence.isOnline(offer.info.to) };
  await ctx.bus.publish({ kind: 'offer_open', node: ctx.node, offer: offer.info, files: offer.files });
  await ctx.deliver([offer.info.to], { type: 'event', event: 'offer', data: offer.info });
  return { received: offer.files.length, online: ctx.presence.isOnline(offer.info.to) };
}

export async function handleOfferList(ctx: ServerContext, conn: ReadyConnection, req: Req<'offer_list'>) {
  const offer = findOffer(ctx, req.offer);
  const sender = offer.info.from === conn.user;
  if (!sender && (offer.info.to !== conn.user || offer.hidden)) throw new ProtocolError('no_such_offer', 'no such offer');
  const start = req.start ?? 0;
  const limit = Math.min(Math.max(req.limit ?? MAX_FILES_PAGE, 1), MAX_FILES_PAGE);
  return { files: offer.files.slice(start, start + limit), total: offer.files.length };
}

export async function handleOffers(ctx: ServerContext, conn: ReadyConnection) {
  return { offers: ctx.offers.openFor(conn.user).map((o) => o.info) };
}

export async function handleAccept(ctx: ServerContext, conn: ReadyConnection, req: Req<'accept'>) {
  const offer = offerFor(ctx, conn, req.offer);
  if (req.key !== undefined && req.key.length > 64) throw bad('key too long');
  const candidates = req.candidates ? checkCandidates(req.candidates) : undefined;
  // Both peers use this node's relay (in a cluster the sender may be connected elsewhere); the
  // ticket is bound to the offer's users (a replica carries them too), or refused if its id is another pair's.
  ctx.relay.allow(offer.info.transfer, offer.info.token, offer.info.from, offer.info.to, ctx.now());
  const relay = ctx.relayAddress;
  const identity = checkSignedIdentity(req.identity);
  const accepted = { by: conn.user, observed: conn.remoteAddress, key: req.key, candidates, relay, connection: conn.id, identity, verify: req.verify, via: checkVia(req.via) };
  if (offer.sender) acceptOffer(ctx, offer, accepted);
  else {
    await ctx.bus.publish({ kind: 'offer_action', node: ctx.node, owner: offer.node, offer: offer.info.id, action: 'accept', ...accepted });
    ctx.offers.remove(offer);
  }
  return relay ? { offer: offer.info, relay } : { offer: offer.info };
}

export async function handleReject(ctx: ServerContext, conn: ReadyConnection, req: Req<'reject'>) {
  const offer = offerFor(ctx, conn, req.offer);
  const reason = req.reason?.slice(0, 500);
  if (offer.sender) closeOffer(ctx, offer, 'rejected', conn.user, reason);
  else {
    await ctx.bus.publish({ kind: 'offer_action', node: ctx.node, owner: offer.node, offer: offer.info.id, action: 'reject', by: conn.user, reason });
    ctx.offers.remove(offer);
  }
  return {};
}

export async function handleWithdraw(ctx: ServerContext, conn: ReadyConnection, req: Req<'withdraw'>) {
  const offer = findOffer(ctx, req.offer);
  if (offer.sender !== conn) throw new ProtocolError('no_such_offer', `no such offer: ${req.offer.slice(0, 64)}`);
  closeOffer(ctx, offer, 'withdrawn', conn.user, req.reason?.slice(0, 500));
  return {};
}
