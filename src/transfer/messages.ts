// Control messages (payload kind 0x01, UTF-8 JSON), protocol.md §T4.
import { TransferError, isTransferErrorCode, type TransferErrorCode } from './errors.js';

/**
 * Highest protocol version: 5 is 4 with identity-signed offers and accepts and a sender that
 * admits only the accepted key, after the accept (§T10); 4 is 3 plus BUNDLE frames (§T9.1); 3 is end-to-end encrypted (§T9),
 * its frames authenticated instead of CRC-checked and hashed on both sides; 1 is plaintext (no
 * keys). 2 (encrypted, with CRC-32 and SHA-256 on both sides) is no longer spoken.
 */
export const TRANSFER_PROTOCOL_VERSION = 5;

/** Sender → receiver, first frame after accept. */
export interface HelloMessage { type: 'hello'; v: number; nonce: string }
/** Receiver → sender: its nonce and proof of the token. */
export interface AuthMessage { type: 'auth'; v: number; nonce: string; proof: string; key?: string }
/** Sender → receiver: proof of the token; the connection is authenticated. */
export interface WelcomeMessage { type: 'welcome'; v: number; proof: string }
/**
 * Receiver → sender: request a file from `offset` (resume when > 0, with the tail proof). v3:
 * `prefix` = bytes of the `.part` kept from before this session, whose SHA-256 `end` must carry.
 */
export interface GetMessage { type: 'get'; file: number; offset: number; tail?: { length: number; sha256: string }; prefix?: number }
/** Sender → receiver: DATA for `file` follows from `offset` (0 if the resume was refused). */
export interface StartMessage { type: 'start'; file: number; offset: number; size: number }
/**
 * Sender → receiver: all DATA sent; whole-file SHA-256. v3: `size` (bytes of the file) and, when
 * the get had a `prefix` that this connection resumed past, `prefixSha256` of bytes [0, prefix).
 */
export interface EndMessage { type: 'end'; file: number; sha256: string; size?: number; prefixSha256?: string }
/** Receiver → sender: bytes of `file` written to disk so far. */
export interface AckMessage { type: 'ack'; file: number; bytes: number }
/** Receiver → sender: `file` is complete and its SHA-256 matched. */
export interface VerifiedMessage { type: 'verified'; file: number; sha256: string }
/** Either way: a fatal error, for one file or (without `file`) for the whole transfer. */
export interface ErrorMessage { type: 'error'; code: TransferErrorCode; message: string; file?: number }

/** Any control message. */
export type ControlMessage =
  | HelloMessage
  | AuthMessage
  | WelcomeMessage
  | GetMessage
  | StartMessage
  | EndMessage
  | AckMessage
  | VerifiedMessage
  | ErrorMessage;

const HEX32 = /^[0-9a-f]{64}$/;
type Fields = Record<string, unknown>;

/** Parses and validates one control payload (without its kind byte). */
export function parseControl(json: Buffer): ControlMessage {
  let value: unknown;
  try {
    value = JSON.parse(json.toString('utf8'));
  } catch {
    throw bad('control message is not valid JSON');
  }
  if (typeof value !== 'object' || value === null) throw bad('control message is not an object');
  return validate(value as Fields);
}

function validate(m: Fields): ControlMessage {
  switch (m.type) {
    case 'hello':
      return check(m, { v: isCount, nonce: isHex32 });
    case 'auth':
      return check(m, { v: isCount, nonce: isHex32, proof: isHex32, key: optional(isString) });
    case 'welcome':
      return check(m, { v: isCount, proof: isHex32 });
    case 'get':
      return check(m, { file: isCount, offset: isCount, tail: optional(isTail), prefix: optional(isCount) });
    case 'start':
      return check(m, { file: isCount, offset: isCount, size: isCount });
    case 'end':
      return check(m, { file: isCount, sha256: isHex32, size: optional(isCount), prefixSha256: optional(isHex32) });
    case 'verified':
      return check(m, { file: isCount, sha256: isHex32 });
    case 'ack':
      return check(m, { file: isCount, bytes: isCount });
    case 'error':
      return check(m, { code: isTransferErrorCode, message: isString, file: optional(isCount) });
    default:
      throw bad(`unknown control message type ${shortly(m.type)}`);
  }
}

// The peer's value, for an error message that goes back to it (≤ 1000 characters, §T4): short, and
// never throws (JSON.stringify of 30k nested arrays overflows the stack).
function shortly(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.slice(0, 40));
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object' && v !== null) return 'an object';
  return String(v);
}

function check<T extends ControlMessage>(m: Fields, fields: Record<string, (v: unknown) => boolean>): T {
  for (const [name, ok] of Object.entries(fields)) {
    if (!ok(m[name])) throw bad(`bad field "${name}" in ${String(m.type)} message`);
  }
  return m as unknown as T;
}

function isCount(v: unknown): boolean {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}
function isHex32(v: unknown): boolean {
  return typeof v === 'string' && HEX32.test(v);
}
function isString(v: unknown): boolean {
  return typeof v === 'string' && v.length <= 1000;
}
function isTail(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const t = v as Fields;
  return isCount(t.length) && isHex32(t.sha256);
}
function optional(ok: (v: unknown) => boolean): (v: unknown) => boolean {
  return (v) => v === undefined || ok(v);
}
function bad(message: string): TransferError {
  return new TransferError('protocol', message);
}
