// Answers to our offers (offer_accepted, offer_closed), recorded from the moment this object
// exists: an accept can arrive in the same TCP read as the reply that created the offer, before
// anyone waits for it.
import type { OfferAccepted, OfferCloseReason } from '../protocol/messages.js';
import { printable } from '../protocol/printable.js';
import { TransferSessionError } from './errors.js';

export interface OfferClosed {
  offer: string;
  reason: OfferCloseReason;
  by: string;
  message?: string;
}

/** Where answers come from: a ChatClient, or a link that outlives reconnections. */
export interface AnswerSource {
  on(event: 'offer_accepted', listener: (e: OfferAccepted) => void): unknown;
  on(event: 'offer_closed', listener: (e: OfferClosed) => void): unknown;
}

type Answer = { accepted: true; info: OfferAccepted } | { accepted: false; info: OfferClosed };

/** Answers nobody waited for are kept up to this many (offers of other sessions, late events). */
const MAX_UNCLAIMED = 1000;

const CLOSED_BECAUSE: Record<OfferCloseReason, string> = {
  accepted: 'accepted elsewhere',
  rejected: 'rejected the offer',
  withdrawn: 'the offer was withdrawn',
  expired: 'nobody accepted in time; the offer was withdrawn',
  sender_gone: 'the offer was withdrawn',
};

export class OfferAnswers {
  #answers = new Map<string, Answer>();
  #lost: string | null = null;
  #waiters = new Set<() => void>();

  constructor(source: AnswerSource) {
    source.on('offer_accepted', (info) => this.#add(info.offer, { accepted: true, info }));
    source.on('offer_closed', (info) => this.#add(info.offer, { accepted: false, info }));
  }

  /** The server connection dropped: the server forgets its offers, so every wait ends. */
  lost(detail = ''): void {
    this.#lost = detail;
    this.#wake();
  }

  /** A new connection: offers made from now on can be answered again. */
  reconnected(): void {
    this.#lost = null;
  }

  #add(offer: string, answer: Answer): void {
    if (this.#answers.size >= MAX_UNCLAIMED) this.#answers.delete(this.#answers.keys().next().value!);
    this.#answers.set(offer, answer);
    this.#wake();
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /**
   * Resolves when `offerId` (made to `to`, waiting `timeoutMs`) is accepted; rejects with a
   * TransferSessionError when it is rejected, expires or ends, or the server connection is lost.
   */
  wait(offerId: string, to: string, timeoutText: string, signal: AbortSignal): Promise<OfferAccepted> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        this.#waiters.delete(check);
        signal.removeEventListener('abort', check);
      };
      const check = (): void => {
        const a = this.#answers.get(offerId);
        if (signal.aborted) reject(signal.reason);
        else if (a?.accepted) resolve(a.info);
        else if (a) reject(closedError(a.info, to, timeoutText));
        else if (this.#lost !== null) reject(new TransferSessionError('lost', `lost the server connection before ${printable(to)} answered${this.#lost}; the offer was withdrawn`));
        else return;
        this.#answers.delete(offerId);
        done();
      };
      this.#waiters.add(check);
      signal.addEventListener('abort', check);
      check();
    });
  }
}

function closedError(a: OfferClosed, to: string, timeoutText: string): TransferSessionError {
  if (a.reason === 'rejected') return new TransferSessionError('rejected', `${printable(a.by)} rejected the offer${a.message ? `: ${printable(a.message)}` : ''}`);
  if (a.reason === 'expired') return new TransferSessionError('expired', `${printable(to)} did not accept within ${timeoutText}; the offer was withdrawn`);
  return new TransferSessionError('closed', CLOSED_BECAUSE[a.reason]);
}
