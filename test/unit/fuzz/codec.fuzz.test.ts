// Fuzzing the codecs every byte from the network goes through first: the frame decoder and the
// request parser of the relay protocol (src/protocol), and the control-message parser and frame
// readers of the transfer protocol. Whatever arrives, they must throw only their own error type
// (ProtocolError / TransferError), never hang, and never hold more than the frame limit.
// Seeded: a failure prints FUZZ_SEED=n to replay it; FUZZ_RUNS=n runs more cases.
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, ProtocolError } from '../../../src/protocol/errors.js';
import { FrameDecoder } from '../../../src/protocol/frame.js';
import { REQUEST_TYPES, parseRequest } from '../../../src/protocol/messages.js';
import { readDataHeader } from '../../../src/transfer/chunk.js';
import { DirectFrameReader } from '../../../src/transfer/direct-reader.js';
import { TransferError } from '../../../src/transfer/errors.js';
import { PooledFrameReader } from '../../../src/transfer/frame-reader.js';
import { parseControl } from '../../../src/transfer/messages.js';
import {
  Raw, badFrame, deepJson, frame, fuzzRuns, fuzzTimeout, jsonText, nastyValue, requestPayload, splitRandomly, transferPayload, withSeed,
  type FrameDefect, type Rng,
} from '../../helpers/fuzz.js';

/** Longest a single case may take before we call it a hang (generous: CI machines are slow). */
const CASE_BUDGET_MS = 2000;
/** Error messages go back to the peer: they must stay one short line whatever the input. */
const MAX_MESSAGE = 300;

const LIMITS = [8, 64, 1024, 262_144];
const DEFECTS: FrameDefect[] = ['zero', 'oversized', 'truncated', 'header-only', 'partial-header'];

/** A byte stream: well-formed frames, with now and then noise or a framing defect. */
function stream(rng: Rng, limit: number): Buffer {
  const parts: Buffer[] = [];
  for (let n = rng.range(0, 12); n > 0; n--) {
    const r = rng.float();
    if (r < 0.7) parts.push(frame(rng.bytes(rng.range(1, Math.min(limit, rng.chance(0.9) ? 300 : limit)))));
    else if (r < 0.85) parts.push(rng.bytes(rng.size(50)));
    else parts.push(badFrame(rng, rng.pick(DEFECTS), limit));
  }
  if (rng.chance(0.1)) parts.push(frame(Buffer.alloc(limit, 0x61))); // exactly the limit
  return Buffer.concat(parts);
}

/** One-shot reference decoding of a whole stream: its frames, then the first framing error if any. */
function reference(bytes: Buffer, limit: number): { frames: Buffer[]; error?: string; rest: number } {
  const frames: Buffer[] = [];
  let at = 0;
  while (at + 4 <= bytes.length) {
    const length = bytes.readUInt32BE(at);
    if (length === 0) return { frames, error: 'bad_frame', rest: 0 };
    if (length > limit) return { frames, error: 'too_large', rest: 0 };
    if (at + 4 + length > bytes.length) break;
    frames.push(bytes.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  return { frames, rest: bytes.length - at };
}

/** Frame lists equal byte for byte (Buffer.equals: deep equality on large buffers is slow). */
function expectFrames(got: Buffer[], want: Buffer[], what: string): void {
  expect(got.length, `${what}: count`).toBe(want.length);
  const first = got.findIndex((g, k) => !g.equals(want[k]!));
  expect(first, `${what}: first differing frame`).toBe(-1);
}

function timed<T>(what: string, fn: () => T): T {
  const started = performance.now();
  const out = fn();
  const ms = performance.now() - started;
  if (ms > CASE_BUDGET_MS) throw new Error(`${what} took ${Math.round(ms)} ms (a hang?)`);
  return out;
}

describe('fuzz: FrameDecoder (src/protocol/frame.ts)', () => {
  it('decodes any stream split anywhere like a one-shot reference, throws only fatal ProtocolErrors, buffers at most the limit', async () => {
    await withSeed('FrameDecoder', (base) => {
      const runs = fuzzRuns(400);
      for (let i = 0; i < runs; i++) {
        const rng = base.fork(i);
        const limit = rng.pick(LIMITS);
        const bytes = stream(rng, limit);
        const want = reference(bytes, limit);
        const decoder = new FrameDecoder({ maxFrameBytes: limit });
        const got: Buffer[] = [];
        let error: ProtocolError | undefined;
        timed(`case ${i}`, () => {
          for (const piece of splitRandomly(rng, bytes, 12)) {
            try {
              got.push(...decoder.push(piece));
            } catch (err) {
              expect(err, `case ${i}`).toBeInstanceOf(ProtocolError);
              error = err as ProtocolError;
              break;
            }
            // Between pushes: less than one header, or the start of one body within the limit.
            expect(decoder.bufferedBytes, `case ${i}`).toBeLessThanOrEqual(Math.max(limit, 3));
          }
        });
        if (want.error) {
          expect(error?.code, `case ${i}: error`).toBe(want.error);
          expect(error?.fatal, `case ${i}`).toBe(true);
          // Frames completed by the push that hit the error are dropped with the connection.
          expectFrames(got, want.frames.slice(0, got.length), `case ${i}: frames before the error`);
          // A failed decoder stays failed, with a ProtocolError.
          expect(() => decoder.push(Buffer.from([0, 0, 0, 1, 0x7b])), `case ${i}`).toThrow(ProtocolError);
          expect(decoder.bufferedBytes, `case ${i}`).toBe(0);
        } else {
          expect(error, `case ${i}: unexpected ${error?.message}`).toBeUndefined();
          expectFrames(got, want.frames, `case ${i}: frames`);
          // The decoder has consumed the header of a frame whose body is still incomplete.
          expect(decoder.bufferedBytes, `case ${i}: held back`).toBe(want.rest >= 4 ? want.rest - 4 : want.rest);
        }
      }
    });
  }, fuzzTimeout(10_000));

  it('never buffers a body it was not promised: a huge header costs nothing, a body byte at a time stays under the limit', () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 1000 });
    expect(() => decoder.push(Buffer.from([0xff, 0xff, 0xff, 0xff]))).toThrow(expect.objectContaining({ code: 'too_large', fatal: true }));
    expect(decoder.bufferedBytes).toBe(0);
    const slow = new FrameDecoder({ maxFrameBytes: 1000 });
    slow.push(Buffer.from([0, 0, 0x03, 0xe8]));
    for (let i = 0; i < 999; i++) expect(slow.push(Buffer.from([0x61]))).toEqual([]);
    expect(slow.bufferedBytes).toBe(999);
    expect(slow.push(Buffer.from([0x61]))).toHaveLength(1);
    expect(slow.bufferedBytes).toBe(0);
  });
});

describe('fuzz: parseRequest (src/protocol/messages.ts)', () => {
  const PARSE_CODES = new Set(['bad_json', 'bad_request', 'unknown_type']);

  function check(payload: Buffer, what: string): void {
    let parsed: ReturnType<typeof parseRequest> | undefined;
    try {
      parsed = timed(what, () => parseRequest(payload));
    } catch (err) {
      expect(err, `${what}: ${(err as Error)?.stack}`).toBeInstanceOf(ProtocolError);
      const e = err as ProtocolError;
      expect(PARSE_CODES.has(e.code), `${what}: code ${e.code}`).toBe(true);
      expect(ERROR_CODES).toContain(e.code);
      expect(e.fatal, what).toBe(false);
      expect(e.message.length, `${what}: message length`).toBeLessThanOrEqual(MAX_MESSAGE);
      return;
    }
    expect(REQUEST_TYPES, what).toContain(parsed.type);
    expect(Number.isSafeInteger(parsed.id) && parsed.id > 0, `${what}: id ${parsed.id}`).toBe(true);
  }

  it('returns a request with a known type and a valid id, or throws a non-fatal ProtocolError with a short message', async () => {
    await withSeed('parseRequest', (base) => {
      const runs = fuzzRuns(1000);
      for (let i = 0; i < runs; i++) {
        const rng = base.fork(i);
        check(requestPayload(rng, rng.range(1, 1000)), `case ${i}`);
      }
    });
  }, fuzzTimeout(10_000));

  it('survives deep nesting (10k+ levels) in every position, lone surrogates and NUL', async () => {
    await withSeed('parseRequest deep', (base) => {
      const runs = fuzzRuns(60, 0.02);
      for (let i = 0; i < runs; i++) {
        const rng = base.fork(i);
        const depth = rng.pick([10_000, 50_000, 100_000]);
        const deep = deepJson(rng, depth);
        const type = rng.pick([...REQUEST_TYPES]);
        const field = rng.pick(['id', 'type', 'to', 'text', 'files', 'candidates', 'version', 'extra']);
        const request: Record<string, unknown> = { id: 1, type, to: 'bob', text: 'hi', [field]: deep };
        check(Buffer.from(jsonText(request), 'utf8'), `case ${i} (${depth} levels in "${field}" of ${type})`);
        check(Buffer.from(jsonText(deep), 'utf8'), `case ${i} (${depth} levels, top level)`);
      }
      for (const type of [new Raw('{"toString":1}'), new Raw('{"valueOf":1,"toString":2}'), new Raw('["\\ud800"]'), '\u0000', '\ud800', 'send\u0000']) {
        check(Buffer.from(jsonText({ id: 1, type }), 'utf8'), `type ${jsonText(type)}`);
      }
    });
  }, fuzzTimeout(10_000));
});

describe('regressions found by this fuzzer', () => {
  it('parseRequest: a "type" whose String() throws is unknown_type, not a TypeError', () => {
    // {"toString":1}: String() finds no callable toString or valueOf and throws a TypeError.
    expect(() => parseRequest(Buffer.from('{"id":1,"type":{"toString":1}}'))).toThrow(
      expect.objectContaining({ name: 'ProtocolError', code: 'unknown_type', message: 'unknown request type: an object' }),
    );
  });

  it('parseRequest: a "type" of 100k nested arrays is unknown_type, not a stack overflow', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    expect(() => parseRequest(Buffer.from(`{"id":1,"type":${deep}}`))).toThrow(
      expect.objectContaining({ name: 'ProtocolError', code: 'unknown_type', message: 'unknown request type: an array' }),
    );
  });

  it('parseRequest: an optional field sent as null is removed (handlers test optional fields against undefined)', () => {
    // {"key":null} in an offer reached `req.key.length` in the handler: an internal error.
    const offer = parseRequest(Buffer.from(JSON.stringify({
      id: 1, type: 'offer', to: 'bob', transfer: 't', token: 'k', candidates: [], fileCount: 1, totalBytes: 1, timeoutMs: 1000, key: null,
    })));
    expect(offer).not.toHaveProperty('key');
    const accept = parseRequest(Buffer.from('{"id":2,"type":"accept","offer":"abc","key":null,"candidates":null}'));
    expect(accept).toEqual({ id: 2, type: 'accept', offer: 'abc' });
  });

  it('parseControl: a deeply nested or very long "type" is a short protocol error', () => {
    const deep = '['.repeat(30_000) + ']'.repeat(30_000);
    expect(() => parseControl(Buffer.from(`{"type":${deep}}`))).toThrow(
      expect.objectContaining({ name: 'TransferError', code: 'protocol', message: 'unknown control message type an array' }),
    );
    // The message goes back to the peer, whose parser takes at most 1000 characters.
    let message = '';
    try {
      parseControl(Buffer.from(JSON.stringify({ type: 'x'.repeat(5000) })));
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe(`unknown control message type "${'x'.repeat(40)}"`);
  });
});

describe('fuzz: transfer codecs (src/transfer)', () => {
  it('parseControl and readDataHeader throw only TransferError(protocol) with a short message', async () => {
    await withSeed('parseControl', (base) => {
      const runs = fuzzRuns(600);
      for (let i = 0; i < runs; i++) {
        const rng = base.fork(i);
        const payload = rng.chance(0.05)
          ? Buffer.concat([Buffer.from([0x01]), Buffer.from(jsonText({ type: deepJson(rng, rng.pick([10_000, 30_000])), v: 2 }))])
          : transferPayload(rng);
        const what = `case ${i}`;
        try {
          timed(what, () => (payload[0] === 0x02 ? readDataHeader(payload) : parseControl(payload.subarray(1))));
        } catch (err) {
          expect(err, `${what}: ${(err as Error)?.stack}`).toBeInstanceOf(TransferError);
          expect((err as TransferError).code, what).toBe('protocol');
          expect((err as Error).message.length, `${what}: message length`).toBeLessThanOrEqual(MAX_MESSAGE);
        }
      }
    });
  }, fuzzTimeout(10_000));

  it('PooledFrameReader and DirectFrameReader: same frames as the reference, only TransferError, bounded', async () => {
    await withSeed('transfer frame readers', (base) => {
      const runs = fuzzRuns(300);
      for (let i = 0; i < runs; i++) {
        const rng = base.fork(i);
        const limit = rng.pick([1024, 70_000, 200_000]);
        const bytes = stream(rng, limit);
        const want = reference(bytes, limit);
        for (const kind of ['pooled', 'direct'] as const) {
          const got: Buffer[] = [];
          let error: unknown;
          const onFrame = (payload: Buffer, release: () => void): void => {
            got.push(Buffer.from(payload));
            release();
          };
          const pooled = new PooledFrameReader(limit);
          const direct = new DirectFrameReader(limit);
          timed(`case ${i} ${kind}`, () => {
            for (const piece of splitRandomly(rng, bytes, 12)) {
              try {
                if (kind === 'pooled') pooled.push(piece, onFrame);
                else feedDirect(direct, piece, onFrame);
              } catch (err) {
                error = err;
                break;
              }
              const held = kind === 'pooled' ? pooled.bufferedBytes : direct.bufferedBytes;
              expect(held, `case ${i} ${kind}: held`).toBeLessThanOrEqual(limit + 4 + 64 * 1024);
            }
          });
          if (want.error) {
            expect(error, `case ${i} ${kind}`).toBeInstanceOf(TransferError);
            expect((error as TransferError).code).toBe('protocol');
            expectFrames(got, want.frames.slice(0, got.length), `case ${i} ${kind}: frames before the error`);
          } else {
            expect(error, `case ${i} ${kind}: ${(error as Error)?.message}`).toBeUndefined();
            expectFrames(got, want.frames, `case ${i} ${kind}: frames`);
          }
        }
      }
    });
  }, fuzzTimeout(10_000));
});

/** Feeds `piece` the way a socket with `onread` would: into the reader's own target buffers. */
function feedDirect(reader: DirectFrameReader, piece: Buffer, onFrame: (payload: Buffer, release: () => void) => void): void {
  let at = 0;
  while (at < piece.length) {
    const target = reader.target();
    const n = Math.min(target.length, piece.length - at);
    if (n === 0) throw new Error('DirectFrameReader offered an empty read buffer');
    piece.copy(target, 0, at, at + n);
    at += n;
    reader.read(n, onFrame);
  }
}

// nastyValue is exercised through requestPayload; keep a direct smoke check so its shape stays JSON.
it('fuzz helpers produce JSON the parser accepts', async () => {
  await withSeed('helpers', (rng) => {
    for (let i = 0; i < 50; i++) expect(() => JSON.parse(jsonText(nastyValue(rng)))).not.toThrow();
  });
});
