import { describe, expect, it } from 'vitest';
import {
  DATA_HEADER_BYTES,
  chunkCrc,
  dataBody,
  readDataHeader,
  writeDataFrame,
  writeDataHeader,
} from '../../../src/transfer/chunk.js';

describe('chunk header codec', () => {
  it('encodes file 3, offset 5 GiB + 16, crc of "hello" as the documented hex', () => {
    const crc = chunkCrc(Buffer.from('hello'));
    expect(crc.toString(16)).toBe('3610a686');
    const header = writeDataHeader({ file: 3, offset: 5 * 2 ** 30 + 16, crc });
    expect(header.toString('hex')).toBe('02' + '00000003' + '0000000140000010' + '3610a686');
  });

  it('writes the frame prefix and header right in front of the data, and returns the frame', () => {
    const target = Buffer.alloc(21 + 5);
    Buffer.from('hello').copy(target, 21);
    const frame = writeDataFrame({ file: 0, offset: 0, crc: 0x3610a686 }, target, 21, 5);
    expect(frame.toString('hex')).toBe('00000016' + '02' + '00000000' + '0000000000000000' + '3610a686' + '68656c6c6f');
  });

  it('encodes a v3 (sealed) chunk without a CRC as kind 0x03 and a 12-byte header, as documented', () => {
    const target = Buffer.alloc(21 + 5);
    Buffer.from('hello').copy(target, 21);
    const frame = writeDataFrame({ file: 3, offset: 5 * 2 ** 30 + 16 }, target, 21, 5);
    expect(frame.toString('hex')).toBe('00000012' + '03' + '00000003' + '0000000140000010' + '68656c6c6f');
    const payload = frame.subarray(4);
    expect(readDataHeader(payload)).toEqual({ file: 3, offset: 5 * 2 ** 30 + 16 });
    expect(dataBody(payload).toString()).toBe('hello');
    expect(() => readDataHeader(payload.subarray(0, 12))).toThrow(/shorter than its header/);
  });

  it('decodes a header fed as hex, including a 64-bit offset above 4 GiB', () => {
    const payload = Buffer.from('02' + '00000007' + '00000001ffffffff' + 'deadbeef' + '68656c6c6f', 'hex');
    expect(readDataHeader(payload)).toEqual({ file: 7, offset: 2 ** 33 - 1, crc: 0xdeadbeef });
    expect(dataBody(payload).toString()).toBe('hello');
  });

  it('round-trips the largest safe offset', () => {
    const h = { file: 0xffffffff, offset: Number.MAX_SAFE_INTEGER, crc: 1 };
    expect(readDataHeader(writeDataHeader(h))).toEqual(h);
  });

  it('returns a zero-copy view of the body', () => {
    const payload = Buffer.from('02000000000000000000000000000000' + '00' + 'abcd', 'hex');
    const body = dataBody(payload);
    body[0] = 0xff;
    expect(payload[DATA_HEADER_BYTES]).toBe(0xff);
  });

  it('rejects a payload shorter than the header', () => {
    expect(() => readDataHeader(Buffer.from('0200000001', 'hex'))).toThrow(/shorter than its header/);
  });

  it('rejects a payload of another kind', () => {
    expect(() => readDataHeader(Buffer.alloc(17, 1))).toThrow(/not DATA/);
  });

  it('rejects an offset beyond 2^53 - 1', () => {
    const payload = Buffer.from('02' + '00000000' + '0020000000000000' + '00000000', 'hex');
    expect(() => readDataHeader(payload)).toThrow(/2\^53/);
  });

  it('refuses to encode a negative or fractional offset', () => {
    expect(() => writeDataHeader({ file: 0, offset: -1, crc: 0 })).toThrow(RangeError);
    expect(() => writeDataHeader({ file: 0, offset: 1.5, crc: 0 })).toThrow(RangeError);
  });
});
