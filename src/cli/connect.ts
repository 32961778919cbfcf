// Opening a client connection for a command: parse --server, connect (TLS, pinned certificate),
// resume the saved session.
import { hostPort, parseHostPort } from '../protocol/address.js';
import { SOFTWARE_VERSION } from '../protocol/version.js';
import { ChatClient } from '../client/client.js';
import { dialServer, sameFingerprint, type ClientTlsOptions, type ServerCertificate } from '../client/dial.js';
import { ClientError } from '../client/errors.js';
import type { RelayEndpoint } from '../transfer/relay-dial.js';
import { CliError, type GlobalOptions } from './context.js';
import { KNOWN_SERVERS_FILE, pinServer, pinnedFingerprint } from './known-servers.js';
import { loadSession } from './sessions.js';
import { deviceIdentity } from './identity-file.js';

export const CLIENT_NAME = `chat-cli/${SOFTWARE_VERSION}`;

/** "host:port", "[::1]:port" or "host" (port 7070). */
export function parseServer(server: string): { host: string; port: number } {
  const parsed = parseHostPort(server, 7070);
  if (!parsed) throw new CliError(`bad --server "${server}": use host:port`, 2);
  return parsed;
}

/** "host:port" as pinned in known_servers. */
export function serverKey(server: string): string {
  const { host, port } = parseServer(server);
  return hostPort(host.includes(':') ? host : host.toLowerCase(), port);
}

/**
 * TLS settings for `g.server`: a certificate a CA vouches for passes; otherwise the one pinned in
 * known_servers must match, and with no pin yet the certificate is pinned (trust on first use).
 */
export function tlsFor(g: GlobalOptions): false | ClientTlsOptions {
  if (g.insecure) return false;
  const key = serverKey(g.server);
  return {
    verify: (cert) => {
      const pinned = pinnedFingerprint(g.home, key);
      if (pinned !== undefined && sameFingerprint(pinned, cert.fingerprint)) return;
      if (pinned !== undefined) {
        throw new ClientError('untrusted',
          `the certificate of ${key} has CHANGED (pinned ${pinned}, now ${cert.fingerprint}): someone may be intercepting the connection; ` +
          `if the server's operator replaced it, compare with the fingerprint "chat serve" prints and run "chat trust ${key}"`);
      }
      pinServer(g.home, key, cert.fingerprint);
      g.notice?.(
        `first connection to ${key}: trusting its certificate, SHA-256 ${cert.fingerprint} (pinned in ${g.home}/${KNOWN_SERVERS_FILE}); ` +
        `to check it, compare it with the fingerprint "chat serve" printed, or run "chat trust ${key} --fingerprint THAT" (it refuses if they differ)`);
    },
  };
}

/**
 * On a terminal, the first connection to a server shows the certificate's fingerprint and asks
 * before pinning it (SSH's "Are you sure you want to continue connecting?"); without a terminal
 * tlsFor trusts it on first use and says how to check it later. A CA-signed certificate needs no pin.
 */
export async function confirmFirstTrust(g: GlobalOptions, server: string): Promise<void> {
  const key = serverKey(server);
  if (g.insecure || !g.ask || pinnedFingerprint(g.home, key) !== undefined) return;
  let presented: ServerCertificate | undefined;
  const socket = await dialServer({ ...parseServer(server), tls: { verify: (cert) => void (presented = cert) } });
  socket.destroy();
  if (!presented) return;
  const question =
    `chat: first connection to ${key}. Its certificate's SHA-256 fingerprint is\n  ${presented.fingerprint}\n` +
    `Compare it with the one "chat serve" printed (ask the server's operator). Trust this server? [y/N] `;
  if (!(await g.ask(question))) {
    throw new CliError(`did not trust ${key}: nothing was pinned (when you have checked the fingerprint: chat trust ${key} --fingerprint FP)`, 1, 'untrusted');
  }
  pinServer(g.home, key, presented.fingerprint);
  g.notice?.(`pinned the certificate of ${key} in ${g.home}/${KNOWN_SERVERS_FILE}`);
}

/** Opens raw connections (TLS unless --insecure, verified and pinned like the chat one) to a relay. */
export function serverDialer(g: GlobalOptions): NonNullable<RelayEndpoint['open']> {
  return ({ host, port }, local) => {
    const server = hostPort(host, port);
    return dialServer({ host, port, tls: tlsFor({ ...g, server }), local });
  };
}

/** "a:7070,b:7070" → its addresses (a cluster's nodes, tried in order). */
export function serverList(server: string): string[] {
  const list = server.split(',').map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) throw new CliError(`bad --server "${server}": use host:port`, 2);
  return list;
}

/** A connected client that has not logged in: the first server of --server that answers. */
export async function connectClient(g: GlobalOptions): Promise<ChatClient> {
  const servers = serverList(g.server);
  for (const [i, server] of servers.entries()) {
    try {
      await confirmFirstTrust(g, server);
      return await ChatClient.connect({ ...parseServer(server), client: CLIENT_NAME, tls: tlsFor({ ...g, server }) });
    } catch (err) {
      // An unreachable node: try the next one. A refused certificate is an answer, not an outage.
      const last = i === servers.length - 1;
      if (last || !(err instanceof ClientError) || err.code !== 'unreachable') throw err;
      g.notice?.(`${server} is unreachable; trying ${servers[i + 1]}`);
    }
  }
  throw new CliError('no server to connect to');
}

/** The relay of the server `client` is connected to (a cluster node's own, if its accept says so). */
export function relayOf(client: ChatClient, g: GlobalOptions): RelayEndpoint {
  return { ...parseServer(client.server), open: serverDialer(g) };
}

/** A connected client logged in with the session saved for this server. */
export async function connectSession(g: GlobalOptions): Promise<ChatClient> {
  const saved = loadSession(g.home, g.server);
  if (!saved) throw new CliError(`not logged in to ${g.server}: run "chat login <user>" (or "chat register <user>") first`, 1, 'not_logged_in');
  const client = await connectClient(g);
  try {
    await client.auth(saved.token, deviceIdentity(g.home, g.server).publicKey);
  } catch (err) {
    await client.close();
    if (err instanceof ClientError && err.code === 'unauthorized') {
      throw new CliError(`your session on ${g.server} has expired or was revoked: run "chat login ${saved.user}"`, 1, 'unauthorized');
    }
    throw err;
  }
  return client;
}
