// Password hashing (scrypt, per-user salt, constant-time compare) and session tokens.
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

const KEY_BYTES = 64;
const SALT_BYTES = 16;
const SCRYPT = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

function derive(password: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, KEY_BYTES, SCRYPT, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** A fresh salt and the scrypt hash of `password` under it. */
export async function hashPassword(password: string): Promise<{ salt: Buffer; hash: Buffer }> {
  const salt = randomBytes(SALT_BYTES);
  return { salt, hash: await derive(password, salt) };
}

// Checked against when the user does not exist, so both cases cost the same time.
const DUMMY = { salt: randomBytes(SALT_BYTES), hash: randomBytes(KEY_BYTES) };

/** True if `password` matches; pass null for an unknown user (still spends the same work). */
export async function verifyPassword(password: string, stored: { salt: Buffer; hash: Buffer } | null): Promise<boolean> {
  const { salt, hash } = stored ?? DUMMY;
  const key = await derive(password, salt);
  return timingSafeEqual(key, hash) && stored !== null;
}

/** A new session token (what the client keeps) and its hash (what the server keeps). */
export function newToken(): { token: string; tokenHash: Buffer } {
  const token = randomBytes(32).toString('base64url');
  return { token, tokenHash: hashToken(token) };
}

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
