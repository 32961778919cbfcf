// Opening a connection to a chat server: TLS by default (protocol.md §1.1), plaintext only when
// asked for. A certificate is accepted when a CA vouches for it and the name matches, or when it is
// the one the caller pinned (fingerprint) or approves (verify: trust on first use).
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, type PeerCertificate, type TLSSocket } from 'node:tls';
import { ClientError } from './errors.js';

export interface ServerCertificate {
  /** SHA-256 of the DER certificate, "AB:CD:..." (what `chat serve` prints). */
  fingerprint: string;
  /** Why no CA vouched for it (e.g. "self-signed certificate"). */
  reason: string;
  subject: string;
  validTo: string;
}

export interface ClientTlsOptions {
  /** Extra CA certificates to trust (PEM), on top of the system's. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** The name the certificate must carry. @default host (when host is a name) */
  servername?: string;
  /** Accept exactly this certificate (SHA-256 fingerprint) even if no CA vouches for it. */
  fingerprint?: string;
  /** Decides on a certificate that no CA vouches for: throw a ClientError to refuse. Refused when absent. */
  verify?: (certificate: ServerCertificate) => void;
}

export interface DialOptions {
  host: string;
  port: number;
  /** TLS settings; `false` for plaintext (the server must run with --insecure). @default {} */
  tls?: false | ClientTlsOptions;
  /** @default 10000 */
  timeoutMs?: number;
  /** Bind the local end first (port 0: any free port), in this address family (a punch port, protocol.md §4.9). */
  local?: { localAddress: string; localPort: number; family: 4 | 6 };
}

/** Resolves with a connected socket; for TLS, after the handshake and the certificate check. */
export function dialServer(options: DialOptions): Promise<Socket> {
  const where = `${options.host}:${options.port}`;
  const tls = options.tls ?? {};
  return new Promise((resolve, reject) => {
    const target = { host: options.host, port: options.port, ...options.local };
    const socket = tls === false ? netConnect(target) : openTls(target, tls);
    const onClose = (): void => finish(new ClientError('unreachable', `${where} closed the connection during the TLS handshake`));
    const finish = (err?: ClientError): void => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      socket.off('close', onClose);
      if (!err) return resolve(socket);
      socket.destroy();
      reject(err);
    };
    const timer = setTimeout(() => finish(new ClientError('unreachable', `cannot reach server at ${where} (timed out)`)), options.timeoutMs ?? 10_000);
    let connected = false;
    socket.once('connect', () => {
      connected = true;
      if (tls === false) finish();
    });
    if (tls !== false) socket.once('secureConnect', () => finish(checkCertificate(socket as TLSSocket, options.host, where, tls)));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (connected) {
        finish(new ClientError('unreachable', `TLS handshake with ${where} failed (${err.code ?? err.message})`, 'plaintext_server'));
      } else finish(new ClientError('unreachable', `cannot reach server at ${where}${err.code ? ` (${err.code})` : ''}`));
    });
    socket.once('close', onClose);
  });
}

function openTls(target: { host: string; port: number }, tls: ClientTlsOptions): TLSSocket {
  const servername = tls.servername ?? (isIP(target.host) ? undefined : target.host);
  // We check the certificate ourselves (checkCertificate) so a pinned self-signed one can pass.
  return tlsConnect({ ...target, servername, ca: tls.ca, rejectUnauthorized: false, minVersion: 'TLSv1.2' });
}

/** undefined when the certificate is acceptable, else why not. */
function checkCertificate(socket: TLSSocket, host: string, where: string, tls: ClientTlsOptions): ClientError | undefined {
  const peer = socket.getPeerCertificate();
  if (!peer || !peer.raw) return new ClientError('untrusted', `${where} sent no certificate`);
  const reason = socket.authorized ? identityError(tls.servername ?? host, peer) : String(socket.authorizationError);
  if (!reason) return undefined; // a CA vouches for it and the name matches
  const certificate: ServerCertificate = {
    fingerprint: peer.fingerprint256,
    reason,
    subject: String(peer.subject?.CN ?? ''),
    validTo: peer.valid_to,
  };
  if (tls.fingerprint !== undefined) {
    if (sameFingerprint(tls.fingerprint, certificate.fingerprint)) return undefined;
    return new ClientError('untrusted', `the certificate of ${where} is not the expected one (fingerprint ${certificate.fingerprint})`);
  }
  if (!tls.verify) return new ClientError('untrusted', `the certificate of ${where} is not trusted (${reason}); fingerprint ${certificate.fingerprint}`);
  try {
    tls.verify(certificate);
    return undefined;
  } catch (err) {
    return err instanceof ClientError ? err : new ClientError('untrusted', (err as Error).message);
  }
}

function identityError(name: string, peer: PeerCertificate): string | undefined {
  return checkServerIdentity(name, peer)?.message;
}

/** Fingerprints compare without regard to case or colons. */
export function sameFingerprint(a: string, b: string): boolean {
  const norm = (s: string): string => s.replace(/[^0-9a-f]/gi, '').toUpperCase();
  return norm(a) === norm(b) && norm(a).length === 64;
}
