// relay (protocol.md §4.8): the first and only request of a relay connection.
import { ProtocolError } from '../../protocol/errors.js';
import type { Request } from '../../protocol/messages.js';
import type { Connection } from '../connection.js';
import type { ServerContext } from '../context.js';

export async function handleRelay(ctx: ServerContext, conn: Connection, req: Extract<Request, { type: 'relay' }>) {
  if (req.version !== 1) {
    throw new ProtocolError('unsupported_version', `this relay speaks version 1, not ${req.version}`, { fatal: true });
  }
  const role = ctx.relay.check(req.transfer, req.role, req.proof, ctx.now());
  conn.clearHandshakeTimer();
  ctx.log(`conn ${conn.id} relay ${req.transfer.slice(0, 8)} as ${role}: waiting for the other side`);
  await ctx.relay.join(req.transfer, role, {
    get closed() {
      return conn.state === 'closed';
    },
    paired: () => conn.send({ type: 'ok', id: req.id, result: { paired: true } }),
    detach: () => conn.detach(),
  });
  return { paired: true }; // already sent by paired(); the connection no longer frames replies
}
