// The hole-punch rendezvous (protocol.md §4.9): both peers of an accepted transfer connect here
// from the port they will punch from, so we see each one's NAT mapping of that port; once both
// are here, each is told the other's, at the same moment, and they connect to each other.
import { hostPort } from '../protocol/address.js';
import { ProtocolError } from '../protocol/errors.js';
import type { Candidate, PunchMeeting } from '../protocol/messages.js';
import { Rendezvous, type Waiter } from './rendezvous.js';

/** A waiting punch request: where we saw it, and how to give it its answer. */
export interface PunchPeer extends Waiter {
  readonly endpoint: Candidate;
  answer(meeting: PunchMeeting): void;
}

/** Punch requests of one transfer waiting at once. */
const MAX_WAITING = 4;

export function punchRendezvous(waitMs: number, log: (line: string) => void): Rendezvous<PunchPeer> {
  return new Rendezvous<PunchPeer>({
    waitMs,
    maxWaiting: MAX_WAITING,
    late: () => new ProtocolError('offer_closed', 'the other side did not come to punch in time', { fatal: true }),
    crowded: () => new ProtocolError('overloaded', 'too many punch requests are waiting for this transfer', { fatal: true }),
    meet: (transfer, waiting, arriving) => {
      waiting.answer({ observed: waiting.endpoint, peer: arriving.endpoint });
      arriving.answer({ observed: arriving.endpoint, peer: waiting.endpoint });
      log(`punch ${transfer.slice(0, 8)}: ${show(waiting.endpoint)} <-> ${show(arriving.endpoint)}`);
    },
  });
}

function show(c: Candidate): string {
  return hostPort(c.host, c.port);
}
