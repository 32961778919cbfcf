// Device identity keys as the server takes them (protocol.md §4.1, §T10): it checks only their
// shape; it cannot check a signature's meaning and does not need to (the peers do).
import { ProtocolError } from '../protocol/errors.js';
import type { SignedIdentity } from '../protocol/messages.js';

const KEY_CHARS = 43; // 32 bytes, base64url without padding
const SIG_CHARS = 86; // 64 bytes
const DEVICE_MAX = 64;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** An Ed25519 public key (32 bytes, base64url), or a bad_request. */
export function checkIdentityKey(key: string): string {
  if (key.length !== KEY_CHARS || !BASE64URL.test(key)) throw new ProtocolError('bad_request', 'identity must be a 32-byte Ed25519 key in base64url');
  return key;
}

/** A signed identity in an offer or accept, reduced to its three fields, or a bad_request. */
export function checkSignedIdentity(raw: unknown): SignedIdentity | undefined {
  if (raw === undefined) return undefined;
  const { key, device, sig } = (raw ?? {}) as Record<string, unknown>;
  if (typeof key !== 'string' || typeof device !== 'string' || typeof sig !== 'string') {
    throw new ProtocolError('bad_request', 'identity needs key, device and sig');
  }
  if (sig.length !== SIG_CHARS || !BASE64URL.test(sig)) throw new ProtocolError('bad_request', 'identity.sig must be a 64-byte signature in base64url');
  if ([...device].length > DEVICE_MAX) throw new ProtocolError('bad_request', `identity.device is at most ${DEVICE_MAX} characters`);
  return { key: checkIdentityKey(key), device, sig };
}
