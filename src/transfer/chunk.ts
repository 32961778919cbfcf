// Payload kinds and the DATA chunk header (protocol.md §T3). Pure: no I/O.
import { crc32 } from 'node:zlib';
import { TransferError } from './errors.js';

/** Payload kind byte: a UTF-8 JSON control message follows. */
export const KIND_CONTROL = 0x01;
/** Payload kind byte of a plaintext (v1) DATA chunk: header with CRC-32, then file bytes. */
export const KIND_DATA = 0x02;
/** Payload kind byte of a DATA chunk inside a sealed frame (v3): header without CRC, then file bytes. */
export const KIND_SEALED_DATA = 0x03;
/** Payload kind byte of a BUNDLE (v4, sealed frames only): several CONTROL or v3 DATA payloads (bundle.ts). */
export const KIND_BUNDLE = 0x04;
/** Bytes of a v1 DATA payload before the file bytes: kind u8, file u32, offset u64, crc32 u32. */
export const DATA_HEADER_BYTES = 17;
/** Bytes of a v3 DATA payload before the file bytes: kind u8, file u32, offset u64 (the AEAD tag checks the bytes). */
export const SEALED_DATA_HEADER_BYTES = 13;
/** Bytes of the frame length prefix. */
export const FRAME_PREFIX_BYTES = 4;
/** Largest chunk of file bytes a peer may send in one DATA frame (1 MiB). */
export const MAX_CHUNK_BYTES = 1 << 20;
/** Largest control message payload (64 KiB). */
export const MAX_CONTROL_BYTES = 1 << 16;

const TWO_32 = 2 ** 32;
const MAX_HI = 0x1fffff; // keeps offsets ≤ 2^53 − 1 (Number.MAX_SAFE_INTEGER)

/** Decoded DATA chunk header. */
export interface DataHeader {
  /** Index of the file in the offer. */
  file: number;
  /** Byte offset of the chunk in the file. */
  offset: number;
  /** CRC-32 (zlib/IEEE) of the chunk's file bytes: v1 (plaintext) chunks only. */
  crc?: number;
}

/** Bytes of the payload header (kind byte included) that `header` is written with. */
export function dataHeaderBytes(header: DataHeader): number {
  return header.crc === undefined ? SEALED_DATA_HEADER_BYTES : DATA_HEADER_BYTES;
}

/** CRC-32 of a chunk's file bytes, as carried in its header. */
export function chunkCrc(data: Uint8Array): number {
  return crc32(data);
}

/** Writes kind + header (17 bytes with a CRC, else 13) into `target` at `at`; returns `target`. */
export function writeDataHeader(header: DataHeader, target: Buffer = Buffer.allocUnsafe(dataHeaderBytes(header)), at = 0): Buffer {
  if (!Number.isSafeInteger(header.offset) || header.offset < 0) throw new RangeError(`bad offset ${header.offset}`);
  target.writeUInt8(header.crc === undefined ? KIND_SEALED_DATA : KIND_DATA, at);
  target.writeUInt32BE(header.file, at + 1);
  target.writeUInt32BE(Math.floor(header.offset / TWO_32), at + 5);
  target.writeUInt32BE(header.offset % TWO_32, at + 9);
  if (header.crc !== undefined) target.writeUInt32BE(header.crc >>> 0, at + 13);
  return target;
}

/**
 * Writes the frame prefix + DATA header right in front of the `length` file bytes that start at
 * `target[dataAt]`; returns the whole frame (a view of `target`).
 */
export function writeDataFrame(header: DataHeader, target: Buffer, dataAt: number, length: number): Buffer {
  const headerBytes = dataHeaderBytes(header);
  const start = dataAt - headerBytes - FRAME_PREFIX_BYTES;
  if (start < 0) throw new RangeError('no room for the DATA header');
  target.writeUInt32BE(headerBytes + length, start);
  writeDataHeader(header, target, start + FRAME_PREFIX_BYTES);
  return target.subarray(start, dataAt + length);
}

/** Reads the header of a DATA payload (kind byte included); throws TransferError('protocol') if malformed. */
export function readDataHeader(payload: Buffer): DataHeader {
  const kind = payload[0];
  if (kind !== KIND_DATA && kind !== KIND_SEALED_DATA) {
    throw new TransferError('protocol', `payload kind 0x${(kind ?? 0).toString(16)} is not DATA`);
  }
  const headerBytes = kind === KIND_DATA ? DATA_HEADER_BYTES : SEALED_DATA_HEADER_BYTES;
  if (payload.length < headerBytes) {
    throw new TransferError('protocol', `DATA payload of ${payload.length} bytes is shorter than its header`);
  }
  const hi = payload.readUInt32BE(5);
  if (hi > MAX_HI) throw new TransferError('protocol', 'DATA offset exceeds 2^53 - 1');
  const header: DataHeader = { file: payload.readUInt32BE(1), offset: hi * TWO_32 + payload.readUInt32BE(9) };
  if (kind === KIND_DATA) header.crc = payload.readUInt32BE(13);
  return header;
}

/** The file bytes of a DATA payload (zero-copy view). */
export function dataBody(payload: Buffer): Buffer {
  return payload.subarray(payload[0] === KIND_DATA ? DATA_HEADER_BYTES : SEALED_DATA_HEADER_BYTES);
}
