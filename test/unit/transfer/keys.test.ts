import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { connectionKeys, keyPairOf, newKeyPair, sharedSecret, verifyCode } from '../../../src/transfer/keys.js';
import { Opener, Sealer, TAG_BYTES } from '../../../src/transfer/seal.js';

const header = (n: number) => {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(n);
  return h;
};

describe('transfer keys', () => {
  it('both sides derive the same per-direction keys; fresh nonces give fresh keys', () => {
    const s = newKeyPair();
    const r = newKeyPair();
    expect(Buffer.from(s.publicKey, 'base64url')).toHaveLength(32);
    const input = { transferId: 't1', senderKey: s.publicKey, receiverKey: r.publicKey, senderNonce: 'aa'.repeat(32), receiverNonce: 'bb'.repeat(32) };
    const atSender = connectionKeys(sharedSecret(s, r.publicKey), input);
    const atReceiver = connectionKeys(sharedSecret(r, s.publicKey), input);
    expect(atSender.s2r.equals(atReceiver.s2r)).toBe(true);
    expect(atSender.r2s.equals(atReceiver.r2s)).toBe(true);
    expect(atSender.s2r.equals(atSender.r2s)).toBe(false);
    const other = connectionKeys(sharedSecret(s, r.publicKey), { ...input, receiverNonce: 'cc'.repeat(32) });
    expect(other.s2r.equals(atSender.s2r)).toBe(false);
  });

  it('makes key pairs that match RFC 7748 §6.1 (public keys and shared secret)', () => {
    const alice = keyPairOf(Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex'));
    const bob = keyPairOf(Buffer.from('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb', 'hex'));
    expect(Buffer.from(alice.publicKey, 'base64url').toString('hex')).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    expect(Buffer.from(bob.publicKey, 'base64url').toString('hex')).toBe('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
    expect(sharedSecret(alice, bob.publicKey).toString('hex')).toBe('4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742');
    expect(newKeyPair().publicKey).not.toBe(newKeyPair().publicKey);
  });

  it('rejects malformed and low-order public keys', () => {
    const s = newKeyPair();
    expect(() => sharedSecret(s, 'short')).toThrow('malformed public key');
    expect(() => sharedSecret(s, Buffer.alloc(32).toString('base64url'))).toThrow('low-order');
  });

  it('shows the same 9-digit verification code on both sides, different for another key', () => {
    const [a, b, c] = [newKeyPair(), newKeyPair(), newKeyPair()];
    expect(verifyCode(a.publicKey, b.publicKey)).toMatch(/^\d{3} \d{3} \d{3}$/);
    expect(verifyCode(a.publicKey, b.publicKey)).toBe(verifyCode(a.publicKey, b.publicKey));
    expect(verifyCode(a.publicKey, c.publicKey)).not.toBe(verifyCode(a.publicKey, b.publicKey));
  });
});

describe('sealed frames', () => {
  const key = randomBytes(32);
  const seal = (sealer: Sealer, text: string) => Buffer.concat(sealer.seal([Buffer.from(text)], header(text.length + TAG_BYTES)));

  it('round-trips in order, and the ciphertext does not contain the plaintext', () => {
    const sealer = new Sealer(key);
    const opener = new Opener(key);
    const marker = 'MARKER-1234567890';
    const a = seal(sealer, marker);
    const b = seal(sealer, marker);
    expect(a.includes(Buffer.from(marker))).toBe(false);
    expect(a.equals(b)).toBe(false); // a new nonce per frame
    expect(opener.open(a, header(a.length)).toString()).toBe(marker);
    expect(opener.open(b, header(b.length)).toString()).toBe(marker);
  });

  it('detects a flipped bit, a replay, a reorder and a changed length header', () => {
    const flipped = seal(new Sealer(key), 'hello world');
    flipped[3]! ^= 1;
    expect(() => new Opener(key).open(flipped, header(flipped.length))).toThrow(expect.objectContaining({ code: 'tampered' }));

    const sealer = new Sealer(key);
    const first = seal(sealer, 'one');
    const second = seal(sealer, 'two');
    const replay = new Opener(key);
    replay.open(first, header(first.length));
    expect(() => replay.open(first, header(first.length))).toThrow(expect.objectContaining({ code: 'tampered' }));
    expect(() => new Opener(key).open(second, header(second.length))).toThrow(expect.objectContaining({ code: 'tampered' }));
    expect(() => new Opener(key).open(first, header(first.length + 1))).toThrow(expect.objectContaining({ code: 'tampered' }));
  });
});
