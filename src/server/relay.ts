// The transfer relay (protocol.md §4.8): when peers cannot reach each other, both connect here,
// prove the transfer's token, and the server pipes bytes between them with backpressure. It
// only ever sees ciphertext, never buffers more than a socket's worth, and counts what it moves.
import type { Socket } from 'node:net';
import { ProtocolError } from '../protocol/errors.js';
import { relayProof, type RelayRole } from '../protocol/relay.js';
import { timingSafeEqual } from 'node:crypto';
import type { ServerLimits } from './options.js';
import { Rendezvous } from './rendezvous.js';

/** Connections of one transfer waiting for their other side at once (a receiver may open a few). */
const MAX_WAITING = 16;

/** What an accepted offer leaves behind so its peers may use the relay. */
interface Ticket {
  token: string;
  expiresAt: number;
}

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
}

export class Relay {
  readonly #limits: ServerLimits;
  readonly #log: (line: string) => void;
  #tickets = new Map<string, Ticket>();
  readonly #rendezvous: Rendezvous<RelayPeer>;
  #active = new Set<() => void>();
  #pairs = 0;
  #bytes = 0;

  constructor(limits: ServerLimits, log: (line: string) => void) {
    this.#limits = limits;
    this.#log = log;
    this.#rendezvous = new Rendezvous<RelayPeer>({
      waitMs: limits.relayWaitMs,
      maxWaiting: MAX_WAITING,
      late: () => new ProtocolError('offer_closed', 'the other side did not come to the relay in time', { fatal: true }),
      crowded: () => new ProtocolError('overloaded', 'too many connections are waiting for this transfer', { fatal: true }),
      meet: (transfer, waiting, arriving) => this.#meet(transfer, waiting, arriving),
    });
  }

  get stats(): RelayStats {
    return { active: this.#active.size, pairs: this.#pairs, bytes: this.#bytes };
  }

  /** Allows `transfer` on the relay (called when its offer is accepted). */
  allow(transfer: string, token: string, now: number): void {
    for (const [id, t] of this.#tickets) if (t.expiresAt <= now) this.#tickets.delete(id);
    this.#tickets.set(transfer, { token, expiresAt: now + this.#limits.relayTicketMs });
  }

  /** Checks a relay request; throws the ProtocolError to answer with. */
  check(transfer: string, role: string, proof: string, now: number): RelayRole {
    if (!this.#limits.relay) throw new ProtocolError('forbidden', 'this server does not relay transfers', { fatal: true });
    const checked = this.checkTicket(transfer, role, proof, relayProof, now);
    if (this.#active.size >= this.#limits.relayMax) {
      throw new ProtocolError('overloaded', `the relay is full (${this.#limits.relayMax} transfers); try again later`, { fatal: true });
    }
    return checked;
  }

  /**
   * Checks that `proof` = proofOf(token, role, transfer) for an accepted transfer's ticket (the relay
   * and the punch rendezvous, protocol.md §4.8–4.9); throws the ProtocolError to answer with.
   */
  checkTicket(transfer: string, role: string, proof: string, proofOf: typeof relayProof, now: number): RelayRole {
    if (role !== 'sender' && role !== 'receiver') throw new ProtocolError('bad_request', 'role must be sender or receiver', { fatal: true });
    const ticket = this.#tickets.get(transfer);
    const expected = ticket && ticket.expiresAt > now ? Buffer.from(proofOf(ticket.token, role, transfer)) : null;
    const given = Buffer.from(proof);
    if (!expected || expected.length !== given.length || !timingSafeEqual(expected, given)) {
      throw new ProtocolError('unauthorized', 'unknown transfer or wrong proof', { fatal: true });
    }
    return role;
  }

  /**
   * Pairs `peer` with the other side of `transfer`: resolves once both are piped together,
   * rejects if nobody comes within relayWaitMs.
   */
  join(transfer: string, role: RelayRole, peer: RelayPeer): Promise<void> {
    return this.#rendezvous.join(transfer, role, peer);
  }

  // The second peer to arrive: answer both, then both sockets become one pipe.
  #meet(transfer: string, waiting: RelayPeer, arriving: RelayPeer): void {
    waiting.paired();
    arriving.paired();
    const a = waiting.detach();
    const b = arriving.detach();
    this.#pipe(transfer, a.socket, a.rest, b.socket, b.rest);
  }

  #pipe(transfer: string, a: Socket, aRest: Buffer, b: Socket, bRest: Buffer): void {
    this.#pairs++;
    let moved = 0;
    const stop = (): void => {
      if (!this.#active.delete(stop)) return;
      a.destroy();
      b.destroy();
      this.#log(`relay ${transfer.slice(0, 8)}: closed after ${moved} bytes`);
    };
    this.#active.add(stop);
    const count = (n: number): void => {
      moved += n;
      this.#bytes += n;
    };
    pump(a, b, aRest, this.#limits.relayRate, count);
    pump(b, a, bRest, this.#limits.relayRate, count);
    for (const s of [a, b]) {
      s.on('close', stop);
      s.on('error', () => {});
    }
    this.#log(`relay ${transfer.slice(0, 8)}: paired`);
  }

  close(): void {
    for (const stop of [...this.#active]) stop();
    this.#rendezvous.close();
  }
}

/** Copies from → to with backpressure and an optional rate (bytes/s), counting bytes. */
function pump(from: Socket, to: Socket, first: Buffer, rate: number, count: (n: number) => void): void {
  let allowance = rate;
  let since = Date.now();
  const write = (chunk: Buffer): void => {
    count(chunk.length);
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
    if (rate <= 0) return;
    const now = Date.now();
    allowance = Math.min(rate, allowance + ((now - since) * rate) / 1000) - chunk.length;
    since = now;
    if (allowance < 0) {
      from.pause();
      setTimeout(() => from.resume(), Math.ceil((-allowance * 1000) / rate)).unref();
    }
  };
  if (first.length > 0) write(first);
  from.on('data', write);
  from.on('end', () => to.end());
  from.resume();
}
