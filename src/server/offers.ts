// Offers waiting for an answer. The server only brokers them: it keeps the sender's candidates,
// token and file list until the receiver accepts or rejects, the sender withdraws, or it expires.
// An offer belongs to the node its sender is connected to; other nodes of a cluster keep a
// replica (sender null) so their users can list, accept and reject it (bus.ts offer_*).
import { randomBytes } from 'node:crypto';
import { getHeapStatistics } from 'node:v8';
import { ProtocolError } from '../protocol/errors.js';
import type { OfferFileInfo, OfferInfo } from '../protocol/messages.js';
import type { Connection } from './connection.js';
import type { ServerLimits } from './options.js';
import { mib } from './units.js';

/** What a file entry costs in memory beyond its strings' bytes (object, numbers, array slot). */
const ENTRY_OVERHEAD = 128;

/** The memory a file list entry is counted as (docs/security.md "Offers"). */
export function entryBytes(f: OfferFileInfo): number {
  return Buffer.byteLength(f.path) + Buffer.byteLength(f.mime) + ENTRY_OVERHEAD;
}

export interface Offer {
  info: OfferInfo;
  files: OfferFileInfo[];
  /** True once the whole file list has arrived; only then does the receiver see it. */
  open: boolean;
  /** The sender's connection on this node; null for a replica of another node's offer. */
  sender: Connection | null;
  /** The node that owns it (where the sender is connected). */
  node: string;
  timer: NodeJS.Timeout | null;
  /** Until the file list is complete: the deadline for it. */
  listTimer: NodeJS.Timeout | null;
  /** What its file list is counted as (entryBytes). */
  bytes: number;
  /**
   * Its recipient blocks its sender (protocol.md §4.7): it lives for the sender as any other
   * (and expires), but is never shown, sent or published to anyone else.
   */
  hidden?: boolean;
}

// Short ids people can type: 8 characters of a-z and 2-9 minus look-alikes.
const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
function shortId(): string {
  return [...randomBytes(8)].map((b) => ALPHABET[b % ALPHABET.length]).join('');
}

/** Offers grouped by a key (a user, a transfer id), each group in insertion order. */
class Index {
  #groups = new Map<string, Set<Offer>>();

  add(key: string, offer: Offer): void {
    const group = this.#groups.get(key);
    if (group) group.add(offer);
    else this.#groups.set(key, new Set([offer]));
  }

  delete(key: string, offer: Offer): void {
    const group = this.#groups.get(key);
    if (group?.delete(offer) && group.size === 0) this.#groups.delete(key);
  }

  get(key: string): ReadonlySet<Offer> {
    return this.#groups.get(key) ?? EMPTY;
  }

}

const EMPTY: ReadonlySet<Offer> = new Set();

export class OfferBook {
  #byId = new Map<string, Offer>();
  // Looked up on every offer, subscribe and connection close: no scan of all offers (a busy
  // node holds many).
  readonly #bySender = new Index();
  readonly #byRecipient = new Index();
  readonly #byTransfer = new Index();
  #bytesByUser = new Map<string, number>();
  #bytes = 0;
  readonly #limits: ServerLimits;
  /** The ceiling for all file lists: the configured one, at most a quarter of the heap limit. */
  readonly #maxTotal: number;

  constructor(limits: ServerLimits) {
    this.#limits = limits;
    this.#maxTotal = Math.min(limits.maxOfferBytesTotal, Math.floor(getHeapStatistics().heap_size_limit / 4));
  }

  /**
   * Registers an offer under a fresh id; `expire` runs if nothing ends it first: when its file
   * list is not complete within offerListTimeoutMs ('list'), or at its own expiry ('offer').
   */
  add(info: Omit<OfferInfo, 'id'>, sender: Connection, node: string, expire: (offer: Offer, what: 'list' | 'offer') => void): Offer {
    let id = shortId();
    while (this.#byId.has(id)) id = shortId();
    const timeoutMs = info.expiresAt - info.at;
    const offer: Offer = {
      info: { id, ...info }, files: [], open: false, sender, node, bytes: 0,
      timer: setTimeout(() => expire(offer, 'offer'), timeoutMs),
      listTimer: setTimeout(() => expire(offer, 'list'), this.#limits.offerListTimeoutMs),
    };
    offer.timer!.unref();
    offer.listTimer!.unref();
    this.#index(offer);
    return offer;
  }

  /**
   * Adds a page of files to an offer being listed; throws, adding nothing, when its bytes would
   * pass the offer's, its sender's or the server's ceiling.
   */
  addFiles(offer: Offer, files: OfferFileInfo[]): void {
    const bytes = files.reduce((sum, f) => sum + entryBytes(f), 0);
    const { maxOfferBytes, maxOfferBytesPerUser } = this.#limits;
    const from = offer.info.from;
    if (offer.bytes + bytes > maxOfferBytes) {
      throw new ProtocolError('too_large', `this offer's file list is over ${mib(maxOfferBytes)} (paths and types); send fewer files per offer`);
    }
    if ((this.#bytesByUser.get(from) ?? 0) + bytes > maxOfferBytesPerUser) {
      throw new ProtocolError('limit_reached', `your waiting offers' file lists are over ${mib(maxOfferBytesPerUser)}; wait for them to be answered`);
    }
    if (this.#bytes + bytes > this.#maxTotal) {
      throw new ProtocolError('overloaded', 'the server holds too many file lists right now; try again later');
    }
    this.#count(from, bytes);
    offer.bytes += bytes;
    for (const f of files) offer.files.push(f);
  }

  /** The offer's file list is complete: its list deadline stops. */
  opened(offer: Offer): void {
    offer.open = true;
    if (offer.listTimer) clearTimeout(offer.listTimer);
    offer.listTimer = null;
  }

  /** Keeps a replica of another node's open offer (its owner expires and ends it). */
  replicate(info: OfferInfo, files: OfferFileInfo[], node: string): void {
    if (this.#byId.has(info.id)) return;
    // Already checked by its owner; counted here so that this node's ceiling sees it.
    const bytes = files.reduce((sum, f) => sum + entryBytes(f), 0);
    this.#count(info.from, bytes);
    this.#index({ info, files, open: true, sender: null, node, timer: null, listTimer: null, bytes });
  }

  #index(offer: Offer): void {
    this.#byId.set(offer.info.id, offer);
    this.#bySender.add(offer.info.from, offer);
    this.#byRecipient.add(offer.info.to, offer);
    this.#byTransfer.add(offer.info.transfer, offer);
  }

  /** What all file lists held here are counted as. */
  get bytes(): number {
    return this.#bytes;
  }

  #count(user: string, bytes: number): void {
    const held = (this.#bytesByUser.get(user) ?? 0) + bytes;
    if (held > 0) this.#bytesByUser.set(user, held);
    else this.#bytesByUser.delete(user);
    this.#bytes += bytes;
  }

  /** Offers owned by `node` (replicas, when it is another node). */
  ownedBy(node: string): Offer[] {
    return [...this.#byId.values()].filter((o) => o.node === node);
  }

  get(id: string): Offer | undefined {
    return this.#byId.get(id);
  }

  /** Forgets an offer, stops its timers and releases its file list; false if it was already gone. */
  remove(offer: Offer): boolean {
    if (offer.timer) clearTimeout(offer.timer);
    if (offer.listTimer) clearTimeout(offer.listTimer);
    if (!this.#byId.delete(offer.info.id)) return false;
    this.#bySender.delete(offer.info.from, offer);
    this.#byRecipient.delete(offer.info.to, offer);
    this.#byTransfer.delete(offer.info.transfer, offer);
    this.#count(offer.info.from, -offer.bytes);
    offer.files = []; // a reference kept elsewhere (a pending reply) must not keep the list alive
    return true;
  }

  /** Open offers addressed to `user`, oldest first. */
  openFor(user: string): Offer[] {
    return [...this.#byRecipient.get(user)].filter((o) => o.open && !o.hidden);
  }

  /** Offers made over `conn` (withdrawn when it closes). */
  sentOver(conn: Connection): Offer[] {
    return conn.user ? [...this.#bySender.get(conn.user)].filter((o) => o.sender === conn) : [];
  }

  /** Offers made by `user` still pending. */
  countFrom(user: string): number {
    return this.#bySender.get(user).size;
  }

  /** True if an offer (or replica) of `transfer` is between users other than from → to. */
  transferTakenBy(transfer: string, from: string, to: string): boolean {
    for (const o of this.#byTransfer.get(transfer)) if (o.info.from !== from || o.info.to !== to) return true;
    return false;
  }

  clear(): void {
    for (const offer of [...this.#byId.values()]) this.remove(offer);
  }
}
