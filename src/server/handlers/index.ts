// The one gate every request passes: hello first, then register/login/auth, then the rest.
import { ProtocolError } from '../../protocol/errors.js';
import type { Request } from '../../protocol/messages.js';
import type { Connection } from '../connection.js';
import type { ServerContext } from '../server.js';
import { handleAuth, handleLogin, handleLogout, handleRegister, handleWhoami } from './accounts.js';
import { handleHello } from './hello.js';
import { handleAck, handleHistory, handleSend } from './messages.js';
import { handleAccept, handleOffer, handleOfferFiles, handleOfferList, handleOffers, handleReject, handleWithdraw } from './offers.js';
import { handleSubscribe, handleWho } from './presence.js';

const LOGIN_TYPES = new Set(['register', 'login', 'auth']);

/** Runs one request for `conn`; resolves with the reply's result. */
export async function handle(ctx: ServerContext, conn: Connection, req: Request): Promise<unknown> {
  if (ctx.shuttingDown) throw new ProtocolError('shutting_down', 'server is shutting down');
  // protocol.md §3.1: nothing before hello, and hello only once.
  if (conn.state === 'hello' && req.type !== 'hello') {
    throw new ProtocolError('bad_request', 'the first request must be hello', { fatal: true });
  }
  if (conn.state !== 'hello' && req.type === 'hello') throw new ProtocolError('bad_request', 'hello was already sent');
  // protocol.md §3.2: only register, login and auth before a login.
  if (conn.state === 'login' && req.type !== 'hello' && !LOGIN_TYPES.has(req.type)) {
    throw new ProtocolError('unauthorized', 'log in first');
  }
  if (conn.state === 'ready' && LOGIN_TYPES.has(req.type)) throw new ProtocolError('bad_request', 'already logged in');
  switch (req.type) {
    case 'hello': return handleHello(ctx, conn, req);
    case 'register': return handleRegister(ctx, conn, req);
    case 'login': return handleLogin(ctx, conn, req);
    case 'auth': return handleAuth(ctx, conn, req);
    case 'logout': return handleLogout(ctx, conn);
    case 'whoami': return handleWhoami(conn);
    case 'who': return handleWho(ctx);
    case 'subscribe': return handleSubscribe(ctx, conn);
    case 'send': return handleSend(ctx, conn, req);
    case 'history': return handleHistory(ctx, conn, req);
    case 'ack': return handleAck(ctx, conn, req);
    case 'offer': return handleOffer(ctx, conn, req);
    case 'offer_files': return handleOfferFiles(ctx, conn, req);
    case 'offer_list': return handleOfferList(ctx, conn, req);
    case 'offers': return handleOffers(ctx, conn);
    case 'accept': return handleAccept(ctx, conn, req);
    case 'reject': return handleReject(ctx, conn, req);
    case 'withdraw': return handleWithdraw(ctx, conn, req);
    default: {
      const unreachable: never = req;
      throw new ProtocolError('unknown_type', `unknown request type: ${(unreachable as Request).type}`);
    }
  }
}
