// Relay tickets (protocol.md §4.8): what an accepted offer leaves behind so its two peers may use
// the relay and the punch rendezvous. A ticket is bound to its transfer id and the offer's two
// users, so nobody else can take that id over; it lives relayTicketMs after its last use, and the
// table is bounded per user and in total.
import { ProtocolError } from '../protocol/errors.js';

export interface Ticket {
  readonly transfer: string;
  token: string;
  /** The offer's sender: relay limits count against this user. */
  readonly from: string;
  readonly to: string;
  expiresAt: number;
  /** Pairs the relay made with it so far. */
  pairings: number;
  /** Its pairs open now. */
  active: number;
}

export interface TicketLimits {
  /** How long a ticket lives after its accept and after each use, in ms. */
  ttlMs: number;
  /** Tickets on this node at once. */
  maxTickets: number;
  /** Tickets of one sender at once; a new one drops that sender's oldest. */
  perUser: number;
}

/** The error for a transfer id that belongs to another pair of users. */
export function transferTaken(): ProtocolError {
  return new ProtocolError('forbidden', 'this transfer id is already used by another transfer; offer it again with a new id');
}

export class TicketBook {
  readonly #limits: TicketLimits;
  // Ordered by expiresAt: every change of it re-inserts (they all are now + ttlMs), so the
  // expired ones are always at the front and pruning never scans live tickets.
  readonly #byTransfer = new Map<string, Ticket>();
  // Each sender's transfer ids, oldest first.
  readonly #byUser = new Map<string, Set<string>>();

  constructor(limits: TicketLimits) {
    this.#limits = limits;
  }

  get size(): number {
    return this.#byTransfer.size;
  }

  /** The live ticket of `transfer`, if any. */
  get(transfer: string, now: number): Ticket | undefined {
    const t = this.#byTransfer.get(transfer);
    return t && (t.expiresAt > now || t.active > 0) ? t : undefined;
  }

  /** False if a live ticket binds `transfer` to a pair other than from → to. */
  mayUse(transfer: string, from: string, to: string, now: number): boolean {
    const t = this.get(transfer, now);
    return !t || (t.from === from && t.to === to);
  }

  /**
   * Issues (or, for the same pair, refreshes) the ticket of an accepted offer; throws `forbidden`
   * if the id is another pair's, `overloaded` if the table is full.
   */
  allow(transfer: string, token: string, from: string, to: string, now: number): Ticket {
    this.prune(now);
    const old = this.get(transfer, now);
    if (old && (old.from !== from || old.to !== to)) throw transferTaken();
    if (old) {
      old.token = token;
      old.pairings = 0;
      this.touch(old, now);
      return old;
    }
    this.#drop(transfer); // an expired one
    const own = this.#byUser.get(from);
    if (own && own.size >= this.#limits.perUser) this.#dropOldestIdle(own);
    if (this.#byTransfer.size >= this.#limits.maxTickets) {
      throw new ProtocolError('overloaded', `the relay holds ${this.#limits.maxTickets} transfers already; try again later`);
    }
    const ticket: Ticket = { transfer, token, from, to, expiresAt: this.#expiry(now), pairings: 0, active: 0 };
    this.#byTransfer.set(transfer, ticket);
    if (own) own.add(transfer);
    else this.#byUser.set(from, new Set([transfer]));
    return ticket;
  }

  /** Restarts `ticket`'s lifetime (a use: a pairing, a pair closing, a punch). */
  touch(ticket: Ticket, now: number): void {
    if (this.#byTransfer.get(ticket.transfer) !== ticket) return; // replaced or dropped meanwhile
    ticket.expiresAt = this.#expiry(now);
    this.#byTransfer.delete(ticket.transfer);
    this.#byTransfer.set(ticket.transfer, ticket);
  }

  /** Forgets expired tickets (those with an open pair are kept alive instead). */
  prune(now: number): void {
    for (const t of this.#byTransfer.values()) {
      if (t.expiresAt > now) return;
      if (t.active > 0) this.touch(t, now);
      else this.#drop(t.transfer);
    }
  }

  // Always later than now, so prune() stops at a ticket it just kept alive.
  #expiry(now: number): number {
    return now + Math.max(1, this.#limits.ttlMs);
  }

  clear(): void {
    this.#byTransfer.clear();
    this.#byUser.clear();
  }

  // A sender at its cap loses its oldest ticket that has no open pair (its transfer is over or never came).
  #dropOldestIdle(own: Set<string>): void {
    for (const id of own) {
      if ((this.#byTransfer.get(id)?.active ?? 0) > 0) continue;
      this.#drop(id);
      return;
    }
  }

  #drop(transfer: string): void {
    const t = this.#byTransfer.get(transfer);
    if (!t) return;
    this.#byTransfer.delete(transfer);
    const own = this.#byUser.get(t.from);
    own?.delete(transfer);
    if (own?.size === 0) this.#byUser.delete(t.from);
  }
}
