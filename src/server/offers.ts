// Offers waiting for an answer. The server only brokers them: it keeps the sender's candidates,
// token and file list until the receiver accepts or rejects, the sender withdraws, or it expires.
// An offer belongs to the node its sender is connected to; other nodes of a cluster keep a
// replica (sender null) so their users can list, accept and reject it (bus.ts offer_*).
import { randomBytes } from 'node:crypto';
import type { OfferFileInfo, OfferInfo } from '../protocol/messages.js';
import type { Connection } from './connection.js';

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
}

// Short ids people can type: 8 characters of a-z and 2-9 minus look-alikes.
const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
function shortId(): string {
  return [...randomBytes(8)].map((b) => ALPHABET[b % ALPHABET.length]).join('');
}

export class OfferBook {
  #byId = new Map<string, Offer>();

  /** Registers an offer under a fresh id; `expire` runs if nothing ends it first. */
  add(info: Omit<OfferInfo, 'id'>, sender: Connection, node: string, expire: (offer: Offer) => void): Offer {
    let id = shortId();
    while (this.#byId.has(id)) id = shortId();
    const timeoutMs = info.expiresAt - info.at;
    const offer: Offer = { info: { id, ...info }, files: [], open: false, sender, node, timer: setTimeout(() => expire(offer), timeoutMs) };
    offer.timer!.unref();
    this.#byId.set(id, offer);
    return offer;
  }

  /** Keeps a replica of another node's open offer (its owner expires and ends it). */
  replicate(info: OfferInfo, files: OfferFileInfo[], node: string): void {
    if (!this.#byId.has(info.id)) this.#byId.set(info.id, { info, files, open: true, sender: null, node, timer: null });
  }

  /** Offers owned by `node` (replicas, when it is another node). */
  ownedBy(node: string): Offer[] {
    return [...this.#byId.values()].filter((o) => o.node === node);
  }

  get(id: string): Offer | undefined {
    return this.#byId.get(id);
  }

  /** Forgets an offer and stops its timer; false if it was already gone. */
  remove(offer: Offer): boolean {
    if (offer.timer) clearTimeout(offer.timer);
    return this.#byId.delete(offer.info.id);
  }

  /** Open offers addressed to `user`, oldest first. */
  openFor(user: string): Offer[] {
    return [...this.#byId.values()].filter((o) => o.open && o.info.to === user);
  }

  /** Offers made over `conn` (withdrawn when it closes). */
  sentOver(conn: Connection): Offer[] {
    return [...this.#byId.values()].filter((o) => o.sender === conn);
  }

  /** Offers made by `user` still pending. */
  countFrom(user: string): number {
    let n = 0;
    for (const o of this.#byId.values()) if (o.info.from === user) n++;
    return n;
  }

  clear(): void {
    for (const offer of this.#byId.values()) if (offer.timer) clearTimeout(offer.timer);
    this.#byId.clear();
  }
}
