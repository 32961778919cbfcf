// Device identity keys and what they sign (protocol.md §T10): a long-term Ed25519 key per
// device signs each transfer's ephemeral X25519 key and what it binds, so a server that swaps
// keys is caught by the peer's pin. Ed25519 keys are kept as their 32-byte seed; a later X25519
// key for messages can be derived from the same seed (HKDF, label "chat-identity x25519").
import { createHash, createPrivateKey, createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto';

export interface Identity {
  /** Raw 32-byte Ed25519 public key, base64url. */
  publicKey: string;
  privateKey: KeyObject;
  /** The 32-byte seed, base64url: what the device keeps (0600). */
  seed: string;
}

/** PKCS#8 DER of an Ed25519 private key, up to its 32-byte seed (RFC 8410). */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** A fresh identity (from random bytes, not generateKeyPair: see keys.ts newKeyPair). */
export function newIdentity(): Identity {
  return identityOf(randomBytes(32).toString('base64url'));
}

/** The identity whose seed is `seed` (32 bytes, base64url). */
export function identityOf(seed: string): Identity {
  const bytes = Buffer.from(seed, 'base64url');
  if (bytes.length !== 32) throw new Error('an identity seed is 32 bytes');
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, bytes]), format: 'der', type: 'pkcs8' });
  return { publicKey: createPublicKey(privateKey).export({ format: 'jwk' }).x!, privateKey, seed };
}

/** Ed25519 signature of `message`, base64url. */
export function signWith(identity: Identity, message: Buffer): string {
  return sign(null, message, identity.privateKey).toString('base64url');
}

/** Whether `sig` is `key`'s Ed25519 signature of `message`; a malformed key or signature is false. */
export function signatureValid(key: string, message: Buffer, sig: string): boolean {
  try {
    if (Buffer.from(key, 'base64url').length !== 32) return false;
    const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: key }, format: 'jwk' });
    return verify(null, message, publicKey, Buffer.from(sig, 'base64url'));
  } catch {
    return false;
  }
}

/** The fields of a file that a signature covers (§T10.2). */
export interface SignedFile {
  path: string;
  size: number;
  mode: number;
}

/** SHA-256 of the file list, in offer order: per file len16(path) ‖ u64(size) ‖ u32(mode). */
export function filesDigest(files: readonly SignedFile[]): Buffer {
  const hash = createHash('sha256');
  for (const f of files) {
    const size = Buffer.alloc(12);
    size.writeBigUInt64BE(BigInt(f.size), 0);
    size.writeUInt32BE(f.mode >>> 0, 8);
    hash.update(field(Buffer.from(f.path, 'utf8'))).update(size);
  }
  return hash.digest();
}

/** What an offer's signature binds (§T10.2). */
export interface OfferBinding {
  transferId: string;
  from: string;
  to: string;
  /** The sender's ephemeral X25519 key, base64url. */
  senderKey: string;
  files: Buffer;
  verify: boolean;
}

/** What an accept's signature binds: the offer's binding and the receiver's side (§T10.2). */
export interface AcceptBinding extends OfferBinding {
  senderIdentity: string;
  receiverKey: string;
}

/** The exact bytes the sender signs. */
export function offerSigned(b: OfferBinding): Buffer {
  return Buffer.concat([
    Buffer.from('chat-transfer-v5 offer\0', 'utf8'),
    ...[b.transferId, b.from, b.to].map((s) => field(Buffer.from(s, 'utf8'))),
    field(Buffer.from(b.senderKey, 'base64url')),
    b.files,
    Buffer.from([b.verify ? 1 : 0]),
  ]);
}

/** The exact bytes the receiver signs. */
export function acceptSigned(b: AcceptBinding): Buffer {
  return Buffer.concat([
    Buffer.from('chat-transfer-v5 accept\0', 'utf8'),
    ...[b.transferId, b.from, b.to].map((s) => field(Buffer.from(s, 'utf8'))),
    field(Buffer.from(b.senderKey, 'base64url')),
    field(Buffer.from(b.senderIdentity, 'base64url')),
    field(Buffer.from(b.receiverKey, 'base64url')),
    b.files,
    Buffer.from([b.verify ? 1 : 0]),
  ]);
}

/** A 2-byte big-endian length, then the bytes. */
function field(bytes: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

/** The keys one transfer's short code covers (§T10.4). */
export interface TransferCodeInput {
  transferId: string;
  senderIdentity: string;
  receiverIdentity: string;
  senderKey: string;
  receiverKey: string;
}

/** The per-transfer code: 9 digits from SHA-256 over both identities and both ephemeral keys. */
export function transferCode(i: TransferCodeInput): string {
  const digest = createHash('sha256')
    .update('chat-verify-v5\0')
    .update(field(Buffer.from(i.transferId, 'utf8')))
    .update(Buffer.from(i.senderIdentity, 'base64url'))
    .update(Buffer.from(i.receiverIdentity, 'base64url'))
    .update(Buffer.from(i.senderKey, 'base64url'))
    .update(Buffer.from(i.receiverKey, 'base64url'))
    .digest();
  const digits = String(digest.readUIntBE(0, 6) % 1_000_000_000).padStart(9, '0');
  return `${digits.slice(0, 3)} ${digits.slice(3, 6)} ${digits.slice(6)}`;
}

/** Iterations of SHA-512 per side, as Signal's NumericFingerprintGenerator. */
const SAFETY_ITERATIONS = 5200;
const SAFETY_VERSION = Buffer.from([0, 0]);

/**
 * The safety number of two (user, identity key) pairs: 12 groups of 5 digits, the same on both
 * sides (the two halves are sorted). Each half: H = SHA-512(version ‖ key ‖ user), then 5200
 * times H = SHA-512(H ‖ key); its first 30 bytes, 5 at a time, each as a number mod 100000.
 */
export function safetyNumber(a: { user: string; key: string }, b: { user: string; key: string }): string {
  const halves = [half(a), half(b)].sort();
  return (halves[0]! + halves[1]!).match(/\d{5}/g)!.join(' ');
}

function half(p: { user: string; key: string }): string {
  const key = Buffer.from(p.key, 'base64url');
  let hash = createHash('sha512').update(SAFETY_VERSION).update(key).update(Buffer.from(p.user, 'utf8')).digest();
  for (let i = 0; i < SAFETY_ITERATIONS; i++) hash = createHash('sha512').update(hash).update(key).digest();
  let out = '';
  for (let i = 0; i < 30; i += 5) out += String(hash.readUIntBE(i, 5) % 100_000).padStart(5, '0');
  return out;
}

/** A short display of a key: its first 8 bytes in hex groups, "4F2A 91C0 …". */
export function keyLabel(key: string): string {
  const hex = Buffer.from(key, 'base64url').subarray(0, 8).toString('hex').toUpperCase();
  return `${hex.match(/.{4}/g)!.join(' ')}…`;
}
