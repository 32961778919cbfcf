// End-to-end keys of a transfer (protocol.md §T9): an X25519 key pair per side, exchanged
// through the offer and the accept; per connection, HKDF turns the shared secret and both
// handshake nonces into one AES-256-GCM key per direction.
import { createHash, createPrivateKey, createPublicKey, diffieHellman, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { TransferError } from './errors.js';

export interface KeyPair {
  /** Raw 32-byte X25519 public key, base64url (what goes in the offer or the accept). */
  publicKey: string;
  privateKey: KeyObject;
}

/** PKCS#8 DER of an X25519 private key, up to its 32 raw bytes (RFC 8410). */
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/**
 * A fresh X25519 key pair: 32 random bytes are a private key (X25519 clamps them itself).
 * Not generateKeyPair(Sync): on Node 20 a GC inside the JWK export of the public key can run
 * the finalizer of the key generation job, which takes the mutex the export already holds,
 * and the process hangs for good (seen in bench:transfer: `chat accept` stuck in a futex
 * before its first byte; a loop of 20,000 generateKeyPairSync + export hangs every time here).
 */
export function newKeyPair(): KeyPair {
  return keyPairOf(randomBytes(32));
}

/** The X25519 key pair whose private key is these 32 bytes. */
export function keyPairOf(privateBytes: Buffer): KeyPair {
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, privateBytes]), format: 'der', type: 'pkcs8' });
  return { publicKey: createPublicKey(privateKey).export({ format: 'jwk' }).x!, privateKey };
}

/** X25519(own, peer); a malformed or low-order peer key is a protocol error. */
export function sharedSecret(own: KeyPair, peerPublic: string): Buffer {
  let peer: KeyObject;
  try {
    if (Buffer.from(peerPublic, 'base64url').length !== 32) throw new Error('length');
    peer = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: peerPublic }, format: 'jwk' });
  } catch {
    throw new TransferError('protocol', 'the peer sent a malformed public key');
  }
  let shared: Buffer | undefined;
  try {
    shared = diffieHellman({ privateKey: own.privateKey, publicKey: peer });
  } catch {
    // OpenSSL refuses an all-zero result itself
  }
  if (!shared || shared.every((b) => b === 0)) throw new TransferError('protocol', 'the peer sent a low-order public key');
  return shared;
}

export interface ConnectionKeyInput {
  transferId: string;
  senderKey: string;
  receiverKey: string;
  /** The handshake nonces (hex), fresh per connection: keys never repeat across connections. */
  senderNonce: string;
  receiverNonce: string;
}

/** Per-connection keys: sender → receiver and receiver → sender. */
export function connectionKeys(shared: Buffer, input: ConnectionKeyInput): { s2r: Buffer; r2s: Buffer } {
  const salt = Buffer.concat([Buffer.from(input.senderNonce, 'hex'), Buffer.from(input.receiverNonce, 'hex')]);
  const info = Buffer.concat([
    Buffer.from('chat-transfer-v3 keys', 'utf8'),
    Buffer.from(input.transferId, 'utf8'),
    Buffer.from(input.senderKey, 'base64url'),
    Buffer.from(input.receiverKey, 'base64url'),
  ]);
  const okm = Buffer.from(hkdfSync('sha256', shared, salt, info, 64));
  return { s2r: okm.subarray(0, 32), r2s: okm.subarray(32, 64) };
}

/** A short code both people can compare to rule out a swapped key: "417 093 225". */
export function verifyCode(senderKey: string, receiverKey: string): string {
  const digest = createHash('sha256')
    .update('chat-verify-v1')
    .update(Buffer.from(senderKey, 'base64url'))
    .update(Buffer.from(receiverKey, 'base64url'))
    .digest();
  const n = digest.readUIntBE(0, 6) % 1_000_000_000;
  const digits = String(n).padStart(9, '0');
  return `${digits.slice(0, 3)} ${digits.slice(3, 6)} ${digits.slice(6)}`;
}
