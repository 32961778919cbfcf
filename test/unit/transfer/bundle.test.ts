import { describe, expect, it } from 'vitest';
import { BundleBuilder, MAX_BUNDLE_BYTES, MAX_BUNDLED_PAYLOAD, decodeBundle } from '../../../src/transfer/bundle.js';

const control = (json: string): Buffer => Buffer.concat([Buffer.from([0x01]), Buffer.from(json)]);

describe('bundle codec (protocol.md §T9, v4)', () => {
  it('encodes two payloads as the documented bytes and decodes them back', () => {
    const b = new BundleBuilder();
    b.add(control('{"type":"get","file":0,"offset":0}'));
    b.add(Buffer.from('03' + '00000001' + '0000000000000000' + '6869', 'hex'));
    const bundle = b.take()!;
    const first = control('{"type":"get","file":0,"offset":0}');
    expect(bundle.toString('hex')).toBe(
      '04' + first.length.toString(16).padStart(8, '0') + first.toString('hex') + '0000000f' + '03' + '00000001' + '0000000000000000' + '6869',
    );
    expect(decodeBundle(bundle).map((e) => e.toString('hex'))).toEqual([first.toString('hex'), '03000000010000000000000000' + '6869']);
    expect(b.take()).toBeUndefined(); // take() emptied it
  });

  it('hands a lone payload out as it is, not as a bundle', () => {
    const b = new BundleBuilder();
    const only = control('{"type":"verified","file":3,"sha256":"00"}');
    b.add(only);
    expect(b.take()!.equals(only)).toBe(true);
  });

  it('copies payloads in, so the caller may reuse its buffer at once', () => {
    const b = new BundleBuilder();
    const p = control('{"a":1}');
    b.add(p);
    b.add(p);
    p.fill(0);
    expect(decodeBundle(b.take()!).map((e) => e.subarray(1).toString())).toEqual(['{"a":1}', '{"a":1}']);
  });

  it('fills up to the frame limit and no further', () => {
    const b = new BundleBuilder();
    const big = Buffer.alloc(MAX_BUNDLED_PAYLOAD, 0x03);
    expect(b.fits(big)).toBe(true);
    expect(b.fits(Buffer.alloc(MAX_BUNDLED_PAYLOAD + 1))).toBe(false);
    b.add(Buffer.alloc(100, 0x01));
    expect(b.fits(big)).toBe(false);
    expect(() => b.add(big)).toThrow(RangeError);
    let n = 0;
    while (b.fits(control('{}'))) (b.add(control('{}')), n++);
    const bundle = b.take()!;
    expect(bundle.length).toBeLessThanOrEqual(MAX_BUNDLE_BYTES);
    expect(decodeBundle(bundle)).toHaveLength(n + 1);
  });

  it.each([
    ['no entries', '04', /empty bundle/],
    ['a cut length', '04' + '0000', /cut short/],
    ['a zero-length entry', '04' + '00000000', /0 bytes does not fit/],
    ['an entry longer than the bundle', '04' + '00000005' + '017b7d', /5 bytes does not fit/],
    ['a bundle inside a bundle', '04' + '00000006' + '04' + '00000001' + '01', /kind 0x4 inside a bundle/],
    ['a v1 DATA chunk', '04' + '00000001' + '02', /kind 0x2 inside a bundle/],
    ['a frame that is not a bundle', '01' + '7b7d', /not a bundle/],
  ])('refuses %s as a protocol error', (_what, hex, message) => {
    expect(() => decodeBundle(Buffer.from(hex, 'hex'))).toThrow(expect.objectContaining({ code: 'protocol', message: expect.stringMatching(message) }));
  });
});
