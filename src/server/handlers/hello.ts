import { ProtocolError } from '../../protocol/errors.js';
import type { Request } from '../../protocol/messages.js';
import { PROTOCOL_VERSION, SOFTWARE_VERSION } from '../../protocol/version.js';
import type { Connection } from '../connection.js';
import type { ServerContext } from '../context.js';

export const SERVER_SOFTWARE = `chat/${SOFTWARE_VERSION}`;

/** protocol.md §3.1: version handshake. */
export async function handleHello(ctx: ServerContext, conn: Connection, req: Extract<Request, { type: 'hello' }>) {
  if (req.version !== PROTOCOL_VERSION) {
    throw new ProtocolError('unsupported_version', `server speaks protocol ${PROTOCOL_VERSION}, client sent ${req.version}`, {
      fatal: true,
    });
  }
  conn.greeted();
  return {
    version: PROTOCOL_VERSION,
    server: SERVER_SOFTWARE,
    address: conn.remoteAddress,
    limits: { maxFrameBytes: ctx.limits.maxFrameBytes, maxMessageBytes: ctx.limits.maxMessageBytes },
  };
}
