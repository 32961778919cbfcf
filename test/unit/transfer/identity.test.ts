import { describe, expect, it } from 'vitest';
import {
  acceptSigned, filesDigest, identityOf, newIdentity, offerSigned, safetyNumber, signWith, signatureValid, transferCode,
} from '../../../src/transfer/identity.js';
import { newKeyPair } from '../../../src/transfer/keys.js';

const files = [{ path: 'a.txt', size: 5, mode: 0o644 }, { path: 'dir/b.bin', size: 1 << 20, mode: 0o600 }];

describe('safety numbers (protocol.md §T10.6)', () => {
  const alice = { user: 'alice', key: newIdentity().publicKey };
  const bob = { user: 'bob', key: newIdentity().publicKey };

  it('are 12 groups of 5 digits, the same on both sides', () => {
    const code = safetyNumber(alice, bob);
    expect(code).toMatch(/^\d{5}( \d{5}){11}$/);
    expect(safetyNumber(bob, alice)).toBe(code);
  });

  it('change with either key and with either user name', () => {
    const code = safetyNumber(alice, bob);
    expect(safetyNumber({ ...alice, key: newIdentity().publicKey }, bob)).not.toBe(code);
    expect(safetyNumber(alice, { ...bob, key: newIdentity().publicKey })).not.toBe(code);
    expect(safetyNumber(alice, { ...bob, user: 'mallory' })).not.toBe(code);
  });

  it('are a pure function of the keys (a fixed vector stays fixed)', () => {
    const a = identityOf(Buffer.alloc(32, 1).toString('base64url'));
    const b = identityOf(Buffer.alloc(32, 2).toString('base64url'));
    expect(safetyNumber({ user: 'alice', key: a.publicKey }, { user: 'bob', key: b.publicKey })).toBe(
      safetyNumber({ user: 'bob', key: b.publicKey }, { user: 'alice', key: a.publicKey }),
    );
  });
});

describe('signed offers and accepts (§T10.2)', () => {
  const id = newIdentity();
  const offer = { transferId: 't1', from: 'alice', to: 'bob', senderKey: newKeyPair().publicKey, files: filesDigest(files), verify: false };

  it('verify with the signing key and nothing else', () => {
    const sig = signWith(id, offerSigned(offer));
    expect(signatureValid(id.publicKey, offerSigned(offer), sig)).toBe(true);
    expect(signatureValid(newIdentity().publicKey, offerSigned(offer), sig)).toBe(false);
    expect(signatureValid('garbage', offerSigned(offer), sig)).toBe(false);
    expect(signatureValid(id.publicKey, offerSigned(offer), 'AAAA')).toBe(false);
  });

  it('break when the server swaps the ephemeral key, the names, the file list or the verify flag', () => {
    const sig = signWith(id, offerSigned(offer));
    for (const changed of [
      { ...offer, senderKey: newKeyPair().publicKey },
      { ...offer, to: 'mallory' },
      { ...offer, transferId: 't2' },
      { ...offer, files: filesDigest([{ ...files[0]!, size: 6 }, files[1]!]) },
      { ...offer, verify: true },
    ]) expect(signatureValid(id.publicKey, offerSigned(changed), sig)).toBe(false);
  });

  it('an accept binds the receiver key and the sender identity', () => {
    const accept = { ...offer, senderIdentity: id.publicKey, receiverKey: newKeyPair().publicKey };
    const rid = newIdentity();
    const sig = signWith(rid, acceptSigned(accept));
    expect(signatureValid(rid.publicKey, acceptSigned(accept), sig)).toBe(true);
    expect(signatureValid(rid.publicKey, acceptSigned({ ...accept, receiverKey: newKeyPair().publicKey }), sig)).toBe(false);
    expect(signatureValid(rid.publicKey, acceptSigned({ ...accept, senderIdentity: newIdentity().publicKey }), sig)).toBe(false);
  });

  it('the per-transfer code differs when any key differs', () => {
    const input = { transferId: 't1', senderIdentity: id.publicKey, receiverIdentity: newIdentity().publicKey, senderKey: newKeyPair().publicKey, receiverKey: newKeyPair().publicKey };
    const code = transferCode(input);
    expect(code).toMatch(/^\d{3} \d{3} \d{3}$/);
    for (const k of ['senderIdentity', 'receiverIdentity'] as const) expect(transferCode({ ...input, [k]: newIdentity().publicKey })).not.toBe(code);
    for (const k of ['senderKey', 'receiverKey'] as const) expect(transferCode({ ...input, [k]: newKeyPair().publicKey })).not.toBe(code);
  });
});
