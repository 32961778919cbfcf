import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../src/protocol/errors.js';
import { FrameDecoder, HEADER_BYTES, encodeFrame, encodeHeader, encodeJsonFrame } from '../../../src/protocol/frame.js';
import { parseRequest } from '../../../src/protocol/messages.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../fixtures/frames');

/** A .hex fixture: hex digits, whitespace ignored. */
async function fixture(name: string): Promise<Buffer> {
  const text = await readFile(path.join(FIXTURES, name), 'utf8');
  const hex = text.replace(/\s+/g, '');
  expect(hex).toMatch(/^([0-9a-f]{2})*$/);
  return Buffer.from(hex, 'hex');
}

/** Runs `fn` and returns the ProtocolError it throws (fails if it does not). */
function protocolErrorOf(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    return err as ProtocolError;
  }
  throw new Error('expected a ProtocolError, nothing was thrown');
}

const texts = (frames: Buffer[]) => frames.map((f) => f.toString('utf8'));

describe('encodeFrame / encodeJsonFrame', () => {
  it('prefixes the payload with its 4-byte big-endian length', () => {
    expect(encodeFrame(Buffer.from('hi')).toString('hex')).toBe('000000026869');
    expect(encodeHeader(0x01020304).toString('hex')).toBe('01020304');
    expect(HEADER_BYTES).toBe(4);
  });

  it('encodes a known JSON request to known bytes', () => {
    const frame = encodeJsonFrame({ id: 1, type: 'who' });
    // {"id":1,"type":"who"} is 21 bytes
    expect(frame.toString('hex')).toBe('00000015' + Buffer.from('{"id":1,"type":"who"}').toString('hex'));
  });

  it('counts UTF-8 bytes, not characters, in the length', () => {
    const frame = encodeJsonFrame({ t: 'é🌍' }); // {"t":"é🌍"}: 8 ASCII + 2 + 4 bytes
    expect(frame.readUInt32BE(0)).toBe(14);
    expect(frame.length).toBe(4 + 14);
  });
});

describe('FrameDecoder', () => {
  const payloads = ['a', 'hello world', JSON.stringify({ id: 1, type: 'hello', version: 1 }), 'x'.repeat(1000), 'é🌍'];
  const stream = Buffer.concat(payloads.map((p) => encodeFrame(Buffer.from(p))));

  it('hands over a frame cut after its header with the header (takeRest mid-frame, as the relay does)', () => {
    const d = new FrameDecoder();
    expect(d.push(Buffer.from('000000026869' + '00000005' + '6869', 'hex'))).toEqual([Buffer.from('hi')]);
    expect(d.takeRest().toString('hex')).toBe('00000005' + '6869');
  });

  it('decodes many frames coalesced in one chunk', () => {
    const d = new FrameDecoder();
    expect(texts(d.push(stream))).toEqual(payloads);
    expect(d.bufferedBytes).toBe(0);
  });

  it('decodes the stream fed one byte at a time', () => {
    const d = new FrameDecoder();
    const out: Buffer[] = [];
    for (let i = 0; i < stream.length; i++) {
      const got = d.push(stream.subarray(i, i + 1));
      // A frame completes exactly on its last byte, never earlier.
      expect(got.length).toBeLessThanOrEqual(1);
      out.push(...got);
    }
    expect(texts(out)).toEqual(payloads);
    expect(d.bufferedBytes).toBe(0);
  });

  it('decodes the stream split in two at every byte offset', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const d = new FrameDecoder();
      const out = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
      expect(texts(out), `split at ${cut}`).toEqual(payloads);
    }
  });

  it('decodes a stream split into three at many offsets (header and body both fragmented)', () => {
    for (let a = 0; a < 40; a++) {
      for (let b = a; b < Math.min(stream.length, a + 40); b += 3) {
        const d = new FrameDecoder();
        const out = [...d.push(stream.subarray(0, a)), ...d.push(stream.subarray(a, b)), ...d.push(stream.subarray(b))];
        expect(texts(out)).toEqual(payloads);
      }
    }
  });

  it('holds a partial frame until the rest arrives and counts its bytes', () => {
    const d = new FrameDecoder();
    const frame = encodeFrame(Buffer.from('abcdef'));
    expect(d.push(frame.subarray(0, 7))).toEqual([]);
    expect(d.bufferedBytes).toBe(3); // header consumed, 3 body bytes held
    expect(texts(d.push(frame.subarray(7)))).toEqual(['abcdef']);
    expect(d.bufferedBytes).toBe(0);
  });

  it('returns the payload bytes intact (binary, not only text)', () => {
    const body = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const d = new FrameDecoder();
    const [out] = d.push(encodeFrame(body));
    expect(Buffer.compare(out!, body)).toBe(0);
  });

  it('an empty push returns nothing', () => {
    expect(new FrameDecoder().push(Buffer.alloc(0))).toEqual([]);
  });

  it('rejects an empty frame (length 0) as a fatal bad_frame', () => {
    const err = protocolErrorOf(() => new FrameDecoder().push(encodeHeader(0)));
    expect(err.code).toBe('bad_frame');
    expect(err.fatal).toBe(true);
  });

  it('accepts a frame of exactly maxFrameBytes', () => {
    const d = new FrameDecoder({ maxFrameBytes: 1024 });
    const body = Buffer.alloc(1024, 0x61);
    const [out] = d.push(encodeFrame(body));
    expect(out!.length).toBe(1024);
  });

  it('rejects maxFrameBytes + 1 from the header alone, before any body byte arrives', () => {
    const d = new FrameDecoder({ maxFrameBytes: 1024 });
    const err = protocolErrorOf(() => d.push(encodeHeader(1025)));
    expect(err.code).toBe('too_large');
    expect(err.fatal).toBe(true);
    expect(err.message).toContain('1025');
    expect(d.bufferedBytes).toBe(0);
  });

  it('rejects an oversized header even when it arrives one byte at a time', () => {
    const d = new FrameDecoder({ maxFrameBytes: 1024 });
    const header = encodeHeader(0xffffffff);
    for (let i = 0; i < 3; i++) expect(d.push(header.subarray(i, i + 1))).toEqual([]);
    expect(protocolErrorOf(() => d.push(header.subarray(3))).code).toBe('too_large');
  });

  it('uses 262144 bytes as the default limit', () => {
    const d = new FrameDecoder();
    expect(d.maxFrameBytes).toBe(262_144);
    expect(protocolErrorOf(() => d.push(encodeHeader(262_145))).code).toBe('too_large');
    expect(new FrameDecoder().push(encodeHeader(262_144))).toEqual([]); // accepted, waiting for the body
  });

  it('refuses all input after a failure', () => {
    const d = new FrameDecoder({ maxFrameBytes: 8 });
    protocolErrorOf(() => d.push(encodeHeader(9)));
    const err = protocolErrorOf(() => d.push(encodeFrame(Buffer.from('ok'))));
    expect(err.code).toBe('bad_frame');
    expect(err.fatal).toBe(true);
  });
});

describe('golden frames (fixtures/frames/*.hex)', () => {
  it('hello.hex is the hello example of protocol.md §2, and parses as that request', async () => {
    const bytes = await fixture('hello.hex');
    const request = { id: 1, type: 'hello', version: 2 };
    expect(bytes.toString('hex')).toBe('00000023' + '7b226964223a312c2274797065223a2268656c6c6f222c2276657273696f6e223a327d');
    expect(encodeJsonFrame(request).equals(bytes)).toBe(true);
    const frames = new FrameDecoder().push(bytes);
    expect(frames).toHaveLength(1);
    expect(parseRequest(frames[0]!)).toEqual(request);
  });

  it('send-utf8.hex carries multi-byte UTF-8 text', async () => {
    const bytes = await fixture('send-utf8.hex');
    const request = { id: 7, type: 'send', to: 'bob', text: 'héllo → 🌍' };
    expect(bytes.readUInt32BE(0)).toBe(bytes.length - 4);
    expect(encodeJsonFrame(request).equals(bytes)).toBe(true);
    const [frame] = new FrameDecoder().push(bytes);
    expect(parseRequest(frame!)).toEqual(request);
  });

  it('two-frames.hex decodes into two requests, whole or byte by byte', async () => {
    const bytes = await fixture('two-frames.hex');
    const expected = [
      { id: 2, type: 'who' },
      { id: 3, type: 'whoami' },
    ];
    expect(new FrameDecoder().push(bytes).map(parseRequest)).toEqual(expected);
    const d = new FrameDecoder();
    const out: Buffer[] = [];
    for (const byte of bytes) out.push(...d.push(Buffer.from([byte])));
    expect(out.map(parseRequest)).toEqual(expected);
  });

  it('oversized-header.hex is rejected as too_large by the default decoder', async () => {
    const bytes = await fixture('oversized-header.hex');
    expect(bytes.readUInt32BE(0)).toBe(262_145);
    expect(protocolErrorOf(() => new FrameDecoder().push(bytes)).code).toBe('too_large');
  });

  it('empty-frame.hex is rejected as bad_frame', async () => {
    const bytes = await fixture('empty-frame.hex');
    expect(protocolErrorOf(() => new FrameDecoder().push(bytes)).code).toBe('bad_frame');
  });

  it('every fixture is covered by a test above', async () => {
    const names = (await readdir(FIXTURES)).filter((n) => n.endsWith('.hex')).sort();
    expect(names).toEqual(['empty-frame.hex', 'hello.hex', 'oversized-header.hex', 'send-utf8.hex', 'two-frames.hex']);
  });
});
