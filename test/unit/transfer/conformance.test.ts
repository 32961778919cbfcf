// The conformance vectors of protocol.md §T11 (fixtures/conformance/transfer-v5.json), checked
// twice: recomputed from the document's formulas with node:crypto alone (what a third party
// would write), and run through the implementation (src/transfer).
import { createCipheriv, createHmac, createPrivateKey, createPublicKey, diffieHellman, hkdfSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { proof } from '../../../src/transfer/handshake.js';
import { connectionKeys, keyPairOf, sharedSecret } from '../../../src/transfer/keys.js';
import { parseControl } from '../../../src/transfer/messages.js';
import { sanitizePath, uniquePaths } from '../../../src/transfer/safe-path.js';
import { Opener, Sealer } from '../../../src/transfer/seal.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const doc = readFileSync(path.join(here, '../../../docs/protocol.md'), 'utf8');
const vectors = JSON.parse(readFileSync(path.join(here, '../../../fixtures/conformance/transfer-v5.json'), 'utf8')) as {
  handshake: {
    input: Record<'transferId' | 'token' | 'senderPrivate' | 'receiverPrivate' | 'senderNonce' | 'receiverNonce' | 'senderPublic' | 'receiverPublic', string>;
    versions: Record<string, { hello: Record<string, unknown>; auth: { proof: string; key: string } & Record<string, unknown>; welcome: { proof: string } & Record<string, unknown> }>;
    shared: string;
    hkdf: { salt: string; info: string; okm: string };
    keys: { s2r: string; r2s: string };
    frames: { direction: string; counter: number; plaintext: string; sealed: string }[];
  };
  names: { offer: string[]; saved: string[] }[];
};
const hs = vectors.handshake;
const input = hs.input;
const hex = (b: Buffer | Uint8Array): string => Buffer.from(b).toString('hex');
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');

describe('conformance vectors (protocol.md §T11), from the document alone', () => {
  const priv = (h: string) => createPrivateKey({ key: Buffer.concat([PKCS8_X25519, Buffer.from(h, 'hex')]), format: 'der', type: 'pkcs8' });
  const pubOf = (x: string) => createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' });
  const mac = (label: string, nonce: string, key: string): string =>
    createHmac('sha256', Buffer.from(input.token, 'utf8')).update(label).update(input.transferId).update(Buffer.from(nonce, 'hex')).update(Buffer.from(key, 'base64url')).digest('hex');

  it('the public keys are X25519 of the private ones', () => {
    expect(createPublicKey(priv(input.senderPrivate)).export({ format: 'jwk' }).x).toBe(input.senderPublic);
    expect(createPublicKey(priv(input.receiverPrivate)).export({ format: 'jwk' }).x).toBe(input.receiverPublic);
  });

  it.each(['3', '4', '5'])('version %s: the proofs are HMAC-SHA256(token, "chat-transfer-v%s receiver|sender" ‖ transferId ‖ nonce ‖ key)', (v) => {
    const { auth, welcome } = hs.versions[v]!;
    expect(auth.proof).toBe(mac(`chat-transfer-v${v} receiver`, input.senderNonce, input.receiverPublic));
    expect(welcome.proof).toBe(mac(`chat-transfer-v${v} sender`, input.receiverNonce, input.senderPublic));
  });

  it('the keys come from HKDF-SHA256 with the label "chat-transfer-v3 keys" (in every version)', () => {
    const z = diffieHellman({ privateKey: priv(input.senderPrivate), publicKey: pubOf(input.receiverPublic) });
    expect(hex(z)).toBe(hs.shared);
    expect(hex(diffieHellman({ privateKey: priv(input.receiverPrivate), publicKey: pubOf(input.senderPublic) }))).toBe(hs.shared);
    const info = Buffer.concat([Buffer.from('chat-transfer-v3 keys'), Buffer.from(input.transferId), Buffer.from(input.senderPublic, 'base64url'), Buffer.from(input.receiverPublic, 'base64url')]);
    expect(hex(info)).toBe(hs.hkdf.info);
    const okm = Buffer.from(hkdfSync('sha256', z, Buffer.from(hs.hkdf.salt, 'hex'), info, 64));
    expect(hex(okm)).toBe(hs.hkdf.okm);
    expect([hex(okm.subarray(0, 32)), hex(okm.subarray(32))]).toEqual([hs.keys.s2r, hs.keys.r2s]);
  });

  it.each(hs.frames.map((f) => [f.direction, f.counter, f] as const))('%s frame %d is AES-256-GCM with the counter nonce and aad = its 4-byte length prefix', (_d, _c, frame) => {
    const key = Buffer.from(frame.direction.startsWith('sender') ? hs.keys.s2r : hs.keys.r2s, 'hex');
    const p = Buffer.from(frame.plaintext, 'hex');
    const header = Buffer.alloc(4);
    header.writeUInt32BE(p.length + 16);
    const nonce = Buffer.alloc(12);
    nonce.writeBigUInt64BE(BigInt(frame.counter), 4);
    const cipher = createCipheriv('aes-256-gcm', key, nonce).setAAD(header);
    const sealed = Buffer.concat([header, cipher.update(p), cipher.final(), cipher.getAuthTag()]);
    expect(hex(sealed)).toBe(frame.sealed);
  });
});

describe('conformance vectors (protocol.md §T11), through the implementation', () => {
  const sender = keyPairOf(Buffer.from(input.senderPrivate, 'hex'));
  const receiver = keyPairOf(Buffer.from(input.receiverPrivate, 'hex'));
  const secret = { transferId: input.transferId, token: input.token };

  it('derives the same public keys, proofs and connection keys', () => {
    expect([sender.publicKey, receiver.publicKey]).toEqual([input.senderPublic, input.receiverPublic]);
    for (const v of ['3', '4', '5']) {
      const { hello, auth, welcome } = hs.versions[v]!;
      expect(proof(secret, `chat-transfer-v${v} receiver`, input.senderNonce, input.receiverPublic)).toBe(auth.proof);
      expect(proof(secret, `chat-transfer-v${v} sender`, input.receiverNonce, input.senderPublic)).toBe(welcome.proof);
      for (const msg of [hello, auth, welcome]) expect(parseControl(Buffer.from(JSON.stringify(msg)))).toEqual(msg);
    }
    const keys = connectionKeys(sharedSecret(sender, receiver.publicKey), {
      transferId: input.transferId, senderKey: sender.publicKey, receiverKey: receiver.publicKey, senderNonce: input.senderNonce, receiverNonce: input.receiverNonce,
    });
    expect([hex(keys.s2r), hex(keys.r2s)]).toEqual([hs.keys.s2r, hs.keys.r2s]);
  });

  it('seals and opens the frames byte for byte, in counter order', () => {
    for (const direction of ['receiver→sender', 'sender→receiver']) {
      const key = Buffer.from(direction.startsWith('sender') ? hs.keys.s2r : hs.keys.r2s, 'hex');
      const [sealer, opener] = [new Sealer(key), new Opener(key)];
      for (const frame of hs.frames.filter((f) => f.direction === direction)) {
        const bytes = Buffer.from(frame.sealed, 'hex');
        const header = bytes.subarray(0, 4);
        expect(hex(Buffer.concat([header, ...sealer.seal([Buffer.from(frame.plaintext, 'hex')], header)]))).toBe(frame.sealed);
        expect(hex(opener.open(bytes.subarray(4), header))).toBe(frame.plaintext);
      }
    }
  });

  it.each(vectors.names.map((n, i) => [i, n] as const))('names, offer %d: saves each offered path under the name the vector says', (_i, { offer, saved }) => {
    expect(uniquePaths(offer.map(sanitizePath))).toEqual(saved);
  });

  it('ignores unknown fields in control messages (§T1), and the document says so', () => {
    expect(parseControl(Buffer.from('{"type":"get","file":0,"offset":0,"later":{"x":1}}'))).toMatchObject({ type: 'get', file: 0, offset: 0 });
    expect(doc).toMatch(/ignores\s+fields it does not know/);
  });

  it('the document quotes the vectors file and the §T6 table agrees with the vectors', () => {
    expect(doc).toContain('fixtures/conformance/transfer-v5.json');
    const table = doc.slice(doc.indexOf('## T6.'), doc.indexOf('## T7.'));
    for (const [offered, savedAs] of [['../../etc/passwd', 'etc/passwd'], ['..hidden', '..hidden'], ['evil\\u202etxt.exe', 'evil_txt.exe'], ['x.tar.gz`, `x.tar.gz', 'x.tar.gz`, `x.tar (1).gz']]) {
      expect(table).toContain(`| \`${offered}\` | \`${savedAs}\` |`);
    }
  });
});
