// The server's TLS certificate: the operator's (--tls-cert/--tls-key), or a self-signed one made on
// first start and kept in the data directory, so its fingerprint (what clients pin) never changes.
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../common/atomic-write.js';
import { hostname } from 'node:os';
import path from 'node:path';

export interface ServerCertificate {
  cert: string;
  key: string;
  /** SHA-256 of the DER certificate, "AB:CD:..." (what clients compare). */
  fingerprint: string;
  /** True when this start made it. */
  created: boolean;
}

export const CERT_FILE = 'server.crt';
export const KEY_FILE = 'server.key';

/** Reads a PEM certificate and key; throws a one-line Error when either is unusable. */
export function loadCertificate(certFile: string, keyFile: string): ServerCertificate {
  const cert = readPem(certFile, 'certificate');
  const key = readPem(keyFile, 'key');
  return { cert, key, fingerprint: fingerprintOf(cert, certFile), created: false };
}

/** The certificate kept in `dir`, made (self-signed, EC P-256, 10 years) when there is none. */
export async function selfSignedCertificate(dir: string): Promise<ServerCertificate> {
  const certFile = path.join(dir, CERT_FILE);
  const keyFile = path.join(dir, KEY_FILE);
  if (existsSync(certFile) && existsSync(keyFile)) return loadCertificate(certFile, keyFile);
  const { generate } = await import('selfsigned'); // only on the first start
  const name = hostname() || 'chat-server';
  const now = new Date();
  const pems = await generate([{ name: 'commonName', value: name }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: now,
    notAfterDate: new Date(now.getTime() + 10 * 365 * 24 * 3600 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'subjectAltName', altNames: [{ type: 2, value: name }, { type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' }] },
    ],
  });
  mkdirSync(dir, { recursive: true });
  // The key first, then the certificate: a crash in between leaves no certificate, so the next start makes both again.
  writeFileAtomic(keyFile, pems.private, 0o600);
  writeFileAtomic(certFile, pems.cert, 0o600); // public, but the data directory stays private throughout
  return { cert: pems.cert, key: pems.private, fingerprint: fingerprintOf(pems.cert, certFile), created: true };
}

function readPem(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the TLS ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function fingerprintOf(pem: string, file: string): string {
  try {
    return new X509Certificate(pem).fingerprint256;
  } catch {
    throw new Error(`${file} is not a PEM certificate`);
  }
}
