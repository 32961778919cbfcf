import { describe, expect, it } from 'vitest';
import { PooledFrameReader } from '../../../src/transfer/frame-reader.js';

function collect(reader: PooledFrameReader, chunks: Buffer[]): string[] {
  const out: string[] = [];
  for (const c of chunks) reader.push(c, (payload, release) => {
    out.push(payload.toString('hex'));
    release();
  });
  return out;
}

describe('PooledFrameReader', () => {
  it('parses two frames coalesced in one write', () => {
    const bytes = Buffer.from('00000002' + 'abcd' + '00000001' + 'ef', 'hex');
    expect(collect(new PooledFrameReader(16), [bytes])).toEqual(['abcd', 'ef']);
  });

  it('parses a frame delivered one byte at a time', () => {
    const bytes = Buffer.from('00000003' + '010203', 'hex');
    const chunks = [...bytes].map((b) => Buffer.from([b]));
    expect(collect(new PooledFrameReader(16), chunks)).toEqual(['010203']);
  });

  it('parses a large frame spanning several writes into a reused buffer', () => {
    const reader = new PooledFrameReader(200_000);
    const body = Buffer.alloc(100_000, 0x5a);
    const frame = Buffer.concat([Buffer.from('000186a0', 'hex'), body]);
    const seen: Buffer[] = [];
    const push = (): void => {
      for (let at = 0; at < frame.length; at += 65_536) {
        reader.push(frame.subarray(at, at + 65_536), (p, release) => {
          expect(p.equals(body)).toBe(true);
          seen.push(p);
          release();
        });
      }
    };
    push();
    push();
    expect(seen[0]!.buffer).toBe(seen[1]!.buffer); // released buffer was reused
  });

  it('hands out a zero-copy view when the whole frame is in one read', () => {
    const bytes = Buffer.from('00000002' + 'abcd', 'hex');
    new PooledFrameReader(16).push(bytes, (p) => expect(p.buffer).toBe(bytes.buffer));
  });

  it('throws on a length above the limit before reading the body', () => {
    const reader = new PooledFrameReader(16);
    expect(() => reader.push(Buffer.from('00000011', 'hex'), () => {})).toThrow(/exceeds the limit of 16/);
    expect(() => reader.push(Buffer.from('00', 'hex'), () => {})).toThrow(/already failed/);
  });

  it('throws on an empty frame', () => {
    expect(() => new PooledFrameReader(16).push(Buffer.from('00000000', 'hex'), () => {})).toThrow(/empty frame/);
  });
});
