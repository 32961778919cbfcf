// punch (protocol.md §4.9): the first and only request of a hole-punch rendezvous connection.
import { ProtocolError } from '../../protocol/errors.js';
import type { PunchMeeting, Request } from '../../protocol/messages.js';
import { punchProof } from '../../protocol/relay.js';
import type { Connection } from '../connection.js';
import type { ServerContext } from '../context.js';

export async function handlePunch(ctx: ServerContext, conn: Connection, req: Extract<Request, { type: 'punch' }>): Promise<PunchMeeting> {
  if (req.version !== 1) {
    throw new ProtocolError('unsupported_version', `this server punches with version 1, not ${req.version}`, { fatal: true });
  }
  // The ticket of the accepted offer, as for the relay; --relay off does not stop punching (no bytes pass here).
  const role = ctx.relay.checkTicket(req.transfer, req.role, req.proof, punchProof, ctx.now());
  conn.clearHandshakeTimer();
  let meeting: PunchMeeting | undefined;
  await ctx.punch.join(req.transfer, role, {
    get closed() {
      return conn.state === 'closed';
    },
    endpoint: { host: conn.remoteAddress, port: conn.remotePort },
    answer: (m) => (meeting = m),
  });
  conn.endAfterReply();
  return meeting!;
}
