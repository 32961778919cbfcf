// Record protection (protocol.md §T9): after the handshake every frame payload is sealed with
// AES-256-GCM under the direction's key. The nonce is a per-direction counter, so a modified,
// replayed, reordered or dropped frame fails authentication.
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { TransferError } from './errors.js';

export const TAG_BYTES = 16;

function nonce(counter: bigint): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64BE(counter, 4);
  return n;
}

/** Seals outgoing payloads of one direction of one connection. */
export class Sealer {
  #key: Buffer;
  #counter = 0n;

  constructor(key: Buffer) {
    this.#key = key;
  }

  /** The sealed payload (ciphertext ‖ tag) for `parts`; `header` is the frame's length prefix (AAD). */
  seal(parts: Buffer[], header: Buffer): Buffer[] {
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce(this.#counter++));
    cipher.setAAD(header);
    const out = parts.map((p) => cipher.update(p));
    cipher.final();
    out.push(cipher.getAuthTag());
    return out;
  }
}

/** Opens incoming payloads of one direction of one connection. */
export class Opener {
  #key: Buffer;
  #counter = 0n;

  constructor(key: Buffer) {
    this.#key = key;
  }

  /** The plaintext of a sealed payload; TransferError('tampered') if it fails authentication. */
  open(sealed: Buffer, header: Buffer): Buffer {
    if (sealed.length < TAG_BYTES + 1) throw new TransferError('tampered', 'a sealed frame is too short');
    const decipher = createDecipheriv('aes-256-gcm', this.#key, nonce(this.#counter++));
    decipher.setAAD(header);
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    const plain = decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES));
    try {
      decipher.final();
    } catch {
      throw new TransferError('tampered', 'a frame failed authentication: the data was modified, replayed or reordered in transit');
    }
    return plain;
  }
}
