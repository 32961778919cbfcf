// Opening a client connection for a command: parse --server, connect, resume the saved session.
import { ChatClient } from '../client/client.js';
import { ClientError } from '../client/errors.js';
import { CliError, type GlobalOptions } from './context.js';
import { loadSession } from './sessions.js';

export const CLIENT_NAME = 'chat-cli/0.1.0';

/** "host:port", "[::1]:port" or "host" (port 7070). */
export function parseServer(server: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(server) ?? /^([^:]+)(?::(\d+))?$/.exec(server);
  const port = m?.[2] === undefined ? 7070 : Number(m[2]);
  if (!m || !m[1] || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new CliError(`bad --server "${server}": use host:port`, 2);
  }
  return { host: m[1], port };
}

/** A connected client that has not logged in. */
export function connectClient(g: GlobalOptions): Promise<ChatClient> {
  return ChatClient.connect({ ...parseServer(g.server), client: CLIENT_NAME });
}

/** A connected client logged in with the session saved for this server. */
export async function connectSession(g: GlobalOptions): Promise<ChatClient> {
  const saved = loadSession(g.home, g.server);
  if (!saved) throw new CliError(`not logged in to ${g.server}: run "chat login <user>" (or "chat register <user>") first`);
  const client = await connectClient(g);
  try {
    await client.auth(saved.token);
  } catch (err) {
    await client.close();
    if (err instanceof ClientError && err.code === 'unauthorized') {
      throw new CliError(`your session on ${g.server} has expired or was revoked: run "chat login ${saved.user}"`);
    }
    throw err;
  }
  return client;
}
