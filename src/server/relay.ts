// The transfer relay (protocol.md §4.8): when peers cannot reach each other, both connect here,
// prove the transfer's token, and the server pipes bytes between them with backpressure. It
// only ever sees ciphertext, never buffers more than a socket's worth, and counts what it moves.
// It carries accepted transfers and nothing else: a ticket is bound to the offer's users and pairs
// a few times; a pair moves at most relayRate, is closed when idle, and counts against the
// sender's pairs and bytes (relay-quota.ts).
import type { Socket } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { ProtocolError } from '../protocol/errors.js';
import { relayProof, type RelayRole } from '../protocol/relay.js';
import type { ServerLimits } from './options.js';
import { Rendezvous } from './rendezvous.js';
import { RelayQuota } from './relay-quota.js';
import { pipe, type PipeEnd } from './relay-pipe.js';
import { TicketBook, type Ticket } from './relay-tickets.js';

/** Connections of one transfer waiting for their other side at once (a receiver may open a few). */
const MAX_WAITING = 16;

/** How often expired tickets and users' spent windows are forgotten, in ms. */
const SWEEP_MS = 60_000;

/** What the relay needs of a waiting connection. */
export interface RelayPeer {
  /** True once its connection closed. */
  readonly closed: boolean;
  /** Sends the ok reply to the relay request. */
  paired(): void;
  /** Stops framing and hands over the raw socket and any bytes read past the request. */
  detach(): { socket: Socket; rest: Buffer };
}

export interface RelayStats {
  active: number;
  pairs: number;
  bytes: number;
  /** Tickets held now. */
  tickets: number;
}

export class Relay {
  readonly #limits: ServerLimits;
  readonly #log: (line: string) => void;
  readonly #tickets: TicketBook;
  readonly #quota: RelayQuota;
  readonly #rendezvous: Rendezvous<RelayPeer>;
  readonly #sweep: NodeJS.Timeout;
  #active = new Set<() => void>();
  #pairs = 0;
  #bytes = 0;

  constructor(limits: ServerLimits, log: (line: string) => void) {
    this.#limits = limits;
    this.#log = log;
    this.#tickets = new TicketBook({ ttlMs: limits.relayTicketMs, maxTickets: limits.relayMaxTickets, perUser: limits.relayTicketsPerUser });
    this.#quota = new RelayQuota({ pairsPerUser: limits.relayPairsPerUser, bytesPerUser: limits.relayBytesPerUser, windowMs: limits.relayBytesWindowMs });
    this.#rendezvous = new Rendezvous<RelayPeer>({
      waitMs: limits.relayWaitMs,
      maxWaiting: MAX_WAITING,
      late: () => new ProtocolError('offer_closed', 'the other side did not come to the relay in time', { fatal: true }),
      crowded: () => new ProtocolError('overloaded', 'too many connections are waiting for this transfer', { fatal: true }),
      meet: (transfer, waiting, arriving) => this.#meet(transfer, waiting, arriving),
    });
    this.#sweep = setInterval(() => {
      const now = Date.now();
      this.#tickets.prune(now);
      this.#quota.prune(now);
    }, SWEEP_MS).unref();
  }

  get stats(): RelayStats {
    return { active: this.#active.size, pairs: this.#pairs, bytes: this.#bytes, tickets: this.#tickets.size };
  }

  /**
   * Lets the peers of an accepted offer (from → to) use the relay and the punch rendezvous for
   * `transfer`; throws `forbidden` if that id is another pair's, `overloaded` if too many are.
   */
  allow(transfer: string, token: string, from: string, to: string, now: number): void {
    this.#tickets.allow(transfer, token, from, to, now);
  }

  /** False if `transfer` is bound to a pair other than from → to (an offer may not take it over). */
  mayUse(transfer: string, from: string, to: string, now: number): boolean {
    return this.#tickets.mayUse(transfer, from, to, now);
  }

  /**
   * Checks a relay request (`proofOf`: version 1's proof, or version 2's over the server's nonce);
   * throws the ProtocolError to answer with.
   */
  check(transfer: string, role: string, proof: string, now: number, proofOf: typeof relayProof = relayProof): RelayRole {
    if (!this.#limits.relay) throw new ProtocolError('forbidden', 'this server does not relay transfers', { fatal: true });
    const ticket = this.#ticket(transfer, role, proof, proofOf, now);
    this.#mayPair(ticket, now);
    return role as RelayRole;
  }

  /**
   * Checks that `proof` = proofOf(token, role, transfer) for an accepted transfer's ticket (the relay
   * and the punch rendezvous, protocol.md §4.8–4.9); throws the ProtocolError to answer with.
   */
  checkTicket(transfer: string, role: string, proof: string, proofOf: typeof relayProof, now: number): RelayRole {
    this.#tickets.touch(this.#ticket(transfer, role, proof, proofOf, now), now);
    return role as RelayRole;
  }

  #ticket(transfer: string, role: string, proof: string, proofOf: typeof relayProof, now: number): Ticket {
    if (role !== 'sender' && role !== 'receiver') throw new ProtocolError('bad_request', 'role must be sender or receiver', { fatal: true });
    const ticket = this.#tickets.get(transfer, now);
    const expected = ticket ? Buffer.from(proofOf(ticket.token, role, transfer)) : null;
    const given = Buffer.from(proof);
    if (!ticket || !expected || expected.length !== given.length || !timingSafeEqual(expected, given)) {
      throw new ProtocolError('unauthorized', 'unknown transfer or wrong proof', { fatal: true });
    }
    return ticket;
  }

  // Throws the error for a pair of `ticket` that may not be made now.
  #mayPair(ticket: Ticket, now: number): void {
    const { relayMax, relayPairingsPerTicket } = this.#limits;
    if (this.#active.size >= relayMax) {
      throw new ProtocolError('overloaded', `the relay is full (${relayMax} transfers); try again later`, { fatal: true });
    }
    if (ticket.pairings >= relayPairingsPerTicket) {
      throw new ProtocolError('limit_reached', `this transfer was relayed ${relayPairingsPerTicket} times already; offer it again`, { fatal: true });
    }
    this.#quota.check(ticket.from, now);
  }

  /**
   * Pairs `peer` with the other side of `transfer`: resolves once both are piped together,
   * rejects if nobody comes within relayWaitMs or a limit was reached meanwhile.
   */
  join(transfer: string, role: RelayRole, peer: RelayPeer): Promise<void> {
    return this.#rendezvous.join(transfer, role, peer);
  }

  // The second peer to arrive: check again (others paired meanwhile), answer both, then both
  // sockets become one pipe. Throwing refuses both.
  #meet(transfer: string, waiting: RelayPeer, arriving: RelayPeer): void {
    const now = Date.now();
    const ticket = this.#tickets.get(transfer, now);
    if (!ticket) throw new ProtocolError('unauthorized', 'unknown transfer or wrong proof', { fatal: true });
    this.#mayPair(ticket, now);
    waiting.paired();
    arriving.paired();
    const a = waiting.detach();
    const b = arriving.detach();
    this.#pipe(ticket, a.socket, a.rest, b.socket, b.rest, now);
  }

  #pipe(ticket: Ticket, a: Socket, aRest: Buffer, b: Socket, bRest: Buffer, now: number): void {
    const name = `relay ${ticket.transfer.slice(0, 8)}`;
    const user = ticket.from;
    this.#pairs++;
    ticket.pairings++;
    ticket.active++;
    this.#quota.open(user, now);
    this.#tickets.touch(ticket, now);
    this.#log(`${name}: paired (${ticket.pairings} of ${this.#limits.relayPairingsPerTicket})`);
    let moved = 0;
    let end = (): void => {};
    const stop = (): void => end();
    this.#active.add(stop);
    end = pipe(a, aRest, b, bRest, {
      rate: this.#limits.relayRate,
      idleMs: this.#limits.relayIdleMs,
      moved: (n) => {
        moved += n;
        this.#bytes += n;
        return this.#quota.spend(user, n, Date.now());
      },
      ended: (why) => {
        const at = Date.now();
        this.#active.delete(stop);
        ticket.active--;
        this.#quota.close(user, at);
        this.#tickets.touch(ticket, at); // a resume may come within relayTicketMs
        this.#log(`${name}: closed after ${moved} bytes${ending(why, this.#limits.relayIdleMs)}`);
      },
    });
  }

  close(): void {
    clearInterval(this.#sweep);
    for (const stop of [...this.#active]) stop();
    this.#rendezvous.close();
    this.#tickets.clear();
  }
}

function ending(why: PipeEnd, idleMs: number): string {
  if (why === 'idle') return ` (idle for ${idleMs} ms)`;
  return why === 'budget' ? " (the sender's relay byte budget is used up)" : '';
}
