// Payload kinds and the DATA chunk header (protocol.md §T3). Pure: no I/O.
import { crc32 } from 'node:zlib';
import { TransferError } from './errors.js';

/** Payload kind byte: a UTF-8 JSON control message follows. */
export const KIND_CONTROL = 0x01;
/** Payload kind byte: a DATA chunk header and file bytes follow. */
export const KIND_DATA = 0x02;
/** Bytes of a DATA payload before the file bytes: kind u8, file u32, offset u64, crc32 u32. */
export const DATA_HEADER_BYTES = 17;
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
  /** CRC-32 (zlib/IEEE) of the chunk's file bytes. */
  crc: number;
}

/** CRC-32 of a chunk's file bytes, as carried in its header. */
export function chunkCrc(data: Uint8Array): number {
  return crc32(data);
}

/** Writes kind + header (17 bytes) into `target` at `at`; returns `target`. */
export function writeDataHeader(header: DataHeader, target: Buffer = Buffer.allocUnsafe(DATA_HEADER_BYTES), at = 0): Buffer {
  if (!Number.isSafeInteger(header.offset) || header.offset < 0) throw new RangeError(`bad offset ${header.offset}`);
  target.writeUInt8(KIND_DATA, at);
  target.writeUInt32BE(header.file, at + 1);
  target.writeUInt32BE(Math.floor(header.offset / TWO_32), at + 5);
  target.writeUInt32BE(header.offset % TWO_32, at + 9);
  target.writeUInt32BE(header.crc >>> 0, at + 13);
  return target;
}

/** Writes the frame prefix + DATA header (21 bytes) in front of `dataLength` file bytes at `target[0..]`. */
export function writeDataFrameHeader(header: DataHeader, dataLength: number, target: Buffer): Buffer {
  target.writeUInt32BE(DATA_HEADER_BYTES + dataLength, 0);
  return writeDataHeader(header, target, FRAME_PREFIX_BYTES);
}

/** Reads the header of a DATA payload (kind byte included); throws TransferError('protocol') if malformed. */
export function readDataHeader(payload: Buffer): DataHeader {
  if (payload.length < DATA_HEADER_BYTES) {
    throw new TransferError('protocol', `DATA payload of ${payload.length} bytes is shorter than its header`);
  }
  if (payload[0] !== KIND_DATA) throw new TransferError('protocol', `payload kind 0x${payload[0]!.toString(16)} is not DATA`);
  const hi = payload.readUInt32BE(5);
  if (hi > MAX_HI) throw new TransferError('protocol', 'DATA offset exceeds 2^53 - 1');
  return {
    file: payload.readUInt32BE(1),
    offset: hi * TWO_32 + payload.readUInt32BE(9),
    crc: payload.readUInt32BE(13),
  };
}

/** The file bytes of a DATA payload (zero-copy view). */
export function dataBody(payload: Buffer): Buffer {
  return payload.subarray(DATA_HEADER_BYTES);
}
