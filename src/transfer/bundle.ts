// BUNDLE payloads (protocol.md §T9.1, v4): several small payloads sealed as one frame, so a batch
// of control messages and small files costs one AES-GCM seal and one socket write. Pure: no I/O.
import { KIND_BUNDLE, KIND_CONTROL, KIND_SEALED_DATA, MAX_CONTROL_BYTES } from './chunk.js';
import { TransferError } from './errors.js';

/** Bytes a bundle adds per entry (its u32 length). */
export const BUNDLE_ENTRY_PREFIX_BYTES = 4;
/** Largest bundle payload, kind byte included: the smaller direction's frame limit (§T2.1), so it fits both. */
export const MAX_BUNDLE_BYTES = MAX_CONTROL_BYTES;

/** Largest payload that may join a bundle; larger ones (big DATA chunks) are sealed on their own. */
export const MAX_BUNDLED_PAYLOAD = MAX_BUNDLE_BYTES - 1 - BUNDLE_ENTRY_PREFIX_BYTES;

/**
 * Collects payloads into one reused buffer (each is copied in, so the caller may reuse its own at
 * once) and hands out what to seal: a BUNDLE (kind 0x04, then `u32 length ‖ payload` per entry),
 * or a lone payload as it is.
 */
export class BundleBuilder {
  #buf: Buffer | undefined;
  #bytes = 1;
  #count = 0;

  /** True if `payload` fits in what is left of this bundle (take() first otherwise). */
  fits(payload: Buffer): boolean {
    return this.#bytes + BUNDLE_ENTRY_PREFIX_BYTES + payload.length <= MAX_BUNDLE_BYTES;
  }

  add(payload: Buffer): void {
    if (!this.fits(payload)) throw new RangeError(`a payload of ${payload.length} bytes does not fit in the bundle`);
    const buf = (this.#buf ??= Buffer.allocUnsafe(MAX_BUNDLE_BYTES));
    buf[0] = KIND_BUNDLE;
    buf.writeUInt32BE(payload.length, this.#bytes);
    payload.copy(buf, this.#bytes + BUNDLE_ENTRY_PREFIX_BYTES);
    this.#bytes += BUNDLE_ENTRY_PREFIX_BYTES + payload.length;
    this.#count++;
  }

  /** The payload to seal (a view, valid until the next add()) and an empty builder; undefined if empty. */
  take(): Buffer | undefined {
    if (this.#count === 0) return undefined;
    const whole = this.#buf!.subarray(0, this.#bytes);
    this.#bytes = 1;
    const lone = this.#count === 1;
    this.#count = 0;
    return lone ? whole.subarray(1 + BUNDLE_ENTRY_PREFIX_BYTES) : whole;
  }
}

/**
 * The entries of a bundle payload as views of it, checked before any is handed out: each is a
 * non-empty CONTROL or v3 DATA payload, and together they fill the bundle exactly.
 */
export function decodeBundle(bundle: Buffer): Buffer[] {
  if (bundle[0] !== KIND_BUNDLE) throw new TransferError('protocol', 'not a bundle');
  const entries: Buffer[] = [];
  for (let at = 1; at < bundle.length; ) {
    if (at + BUNDLE_ENTRY_PREFIX_BYTES > bundle.length) throw new TransferError('protocol', 'a bundle entry is cut short');
    const n = bundle.readUInt32BE(at);
    const start = at + BUNDLE_ENTRY_PREFIX_BYTES;
    if (n === 0 || start + n > bundle.length) throw new TransferError('protocol', `a bundle entry of ${n} bytes does not fit its bundle`);
    const kind = bundle[start];
    if (kind !== KIND_CONTROL && kind !== KIND_SEALED_DATA) {
      throw new TransferError('protocol', `payload kind 0x${(kind ?? 0).toString(16)} inside a bundle`);
    }
    entries.push(bundle.subarray(start, start + n));
    at = start + n;
  }
  if (entries.length === 0) throw new TransferError('protocol', 'an empty bundle');
  return entries;
}
