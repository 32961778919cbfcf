import { describe, expect, it } from 'vitest';
import { DirectFrameReader, SLACK_BYTES } from '../../../src/transfer/direct-reader.js';

function frame(payload: Buffer): Buffer {
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(payload.length);
  return Buffer.concat([prefix, payload]);
}

/** Feeds `stream` the way the socket does: into target(), at most `maxRead` bytes per read. */
function feed(reader: DirectFrameReader, stream: Buffer, maxRead: number, onFrame: (p: Buffer, release: () => void) => void): void {
  let at = 0;
  while (at < stream.length) {
    const target = reader.target();
    expect(target.length).toBeGreaterThan(0);
    const n = stream.copy(target, 0, at, Math.min(stream.length, at + Math.min(maxRead, target.length)));
    at += n;
    reader.read(n, onFrame);
  }
}

describe('DirectFrameReader', () => {
  it('parses two frames coalesced in one read', () => {
    const out: string[] = [];
    feed(new DirectFrameReader(16), Buffer.from('00000002abcd00000001ef', 'hex'), 1 << 20, (p, release) => {
      out.push(p.toString('hex'));
      release();
    });
    expect(out).toEqual(['abcd', 'ef']);
  });

  it('parses frames delivered one byte at a time', () => {
    const out: string[] = [];
    feed(new DirectFrameReader(16), Buffer.from('00000003010203' + '00000001ff', 'hex'), 1, (p) => out.push(p.toString('hex')));
    expect(out).toEqual(['010203', 'ff']);
  });

  it('reads a large frame in place and reuses its buffer once released', () => {
    const reader = new DirectFrameReader(300_000);
    const a = Buffer.alloc(200_000, 0x61);
    const b = Buffer.alloc(150_000, 0x62);
    const stream = Buffer.concat([frame(a), frame(b), frame(a), frame(Buffer.from('tail'))]);
    const seen: Buffer[] = [];
    feed(reader, stream, 100_000, (p, release) => {
      seen.push(Buffer.from(p));
      if (p.length > 100) {
        expect(p.byteOffset).toBe(4); // the payload sits where the socket read it: no copy
        release();
        release(); // idempotent
      }
    });
    expect(seen.map((p) => p.length)).toEqual([200_000, 150_000, 200_000, 4]);
    expect(seen[0]!.equals(a) && seen[1]!.equals(b) && seen[2]!.equals(a)).toBe(true);
    expect(seen[3]!.toString()).toBe('tail');
  });

  it('never asks for more than the rest of the frame plus the slack', () => {
    const reader = new DirectFrameReader(1 << 20);
    const head = frame(Buffer.alloc(500_000, 1)).subarray(0, 4);
    head.copy(reader.target());
    reader.read(4, () => {});
    expect(reader.target().length).toBe(500_000 + SLACK_BYTES);
  });

  it('keeps a large payload valid until released, even as later frames arrive', () => {
    const reader = new DirectFrameReader(200_000);
    const held: Array<{ p: Buffer; copy: Buffer }> = [];
    const stream = Buffer.concat([1, 2, 3, 4].map((v) => frame(Buffer.alloc(120_000, v))));
    feed(reader, stream, 1 << 20, (p) => held.push({ p, copy: Buffer.from(p) }));
    for (const { p, copy } of held) expect(p.equals(copy)).toBe(true);
  });

  it('throws on a length above the limit as soon as the length is in', () => {
    const reader = new DirectFrameReader(16);
    Buffer.from('00000011', 'hex').copy(reader.target());
    expect(() => reader.read(4, () => {})).toThrow(/exceeds the limit of 16/);
    expect(() => reader.read(0, () => {})).toThrow(/already failed/);
  });

  it('throws on an empty frame', () => {
    const reader = new DirectFrameReader(16);
    Buffer.from('00000000', 'hex').copy(reader.target());
    expect(() => reader.read(4, () => {})).toThrow(/empty frame/);
  });

  it('accepts larger frames once the limit is raised', () => {
    const reader = new DirectFrameReader(70_000);
    reader.maxFrameBytes = 300_000;
    const big = Buffer.alloc(250_000, 7);
    const out: number[] = [];
    feed(reader, frame(big), 65_536, (p) => out.push(p.length));
    expect(out).toEqual([250_000]);
  });
});
