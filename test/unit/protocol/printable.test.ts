// The one sanitizer for terminals and logs (docs/security.md, "What reaches your terminal").
import { describe, expect, it } from 'vitest';
import { CONTINUATION, INVISIBLE, printable, printableJson, printableText } from '../../../src/protocol/printable.js';

/** Every character printable() must never let through raw. */
const UNSAFE_RE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

describe('printable', () => {
  it.each([
    ['plain text', 'hello, world', 'hello, world'],
    ['non-ASCII letters and emoji', 'Grüße 😀 日本', 'Grüße 😀 日本'],
    ['a zero-width joiner inside an emoji', '👩\u200d💻', '👩\u200d💻'],
    ['ESC of a clear-screen sequence', '\x1b[2J\x1b[H transfer complete', '\\x1b[2J\\x1b[H transfer complete'],
    ['CR (overwrites the line)', 'ok\rforged', 'ok\\rforged'],
    ['LF (a new line)', 'a\nb', 'a\\nb'],
    ['CRLF', 'a\r\nb', 'a\\r\\nb'],
    ['TAB', 'a\tb', 'a\\tb'],
    ['BS', 'abc\b\b\bxyz', 'abc\\x08\\x08\\x08xyz'],
    ['NUL and BEL', '\0\x07', '\\x00\\x07'],
    ['DEL', 'a\x7f', 'a\\x7f'],
    ['C1 CSI', '\x9b2J', '\\x9b2J'],
    ['C1 NEL (U+0085)', 'a\u0085b', 'a\\x85b'],
    ['RLO (U+202E)', 'evil\u202etxt.exe', 'evil\\u202etxt.exe'],
    ['LRE, RLE, PDF, LRO', '\u202a\u202b\u202c\u202d', '\\u202a\\u202b\\u202c\\u202d'],
    ['isolates U+2066–U+2069', '\u2066\u2067\u2068\u2069', '\\u2066\\u2067\\u2068\\u2069'],
    ['LRM, RLM, ALM', '\u200e\u200f\u061c', '\\u200e\\u200f\\u061c'],
    ['line and paragraph separators', 'a\u2028b\u2029c', 'a\\u2028b\\u2029c'],
    ['a backslash (left alone)', 'C:\\x1b', 'C:\\x1b'],
  ])('%s', (_what, input, output) => {
    expect(printable(input)).toBe(output);
  });

  it('lets no unsafe character through, for every code point up to U+FFFF', () => {
    const wrong: string[] = [];
    for (let code = 0; code <= 0xffff; code++) {
      const c = String.fromCharCode(code);
      const out = printable(`a${c}b`);
      if (UNSAFE_RE.test(out) || (!UNSAFE_RE.test(c) && out !== `a${c}b`)) wrong.push(`U+${code.toString(16)}`);
    }
    expect(wrong).toEqual([]);
  });

  it('changes nothing the second time', () => {
    const once = printable('\x1b[31m\u202e\nx\\y');
    expect(printable(once)).toBe(once);
  });
});

describe('printableText', () => {
  it.each([
    ['one line', 'hi there', 'hi there'],
    ['a TAB stays', 'a\tb', 'a\tb'],
    ['LF: continuation indented', 'one\ntwo', `one\n${CONTINUATION}two`],
    ['CRLF counts as one newline', 'one\r\ntwo', `one\n${CONTINUATION}two`],
    ['a lone CR is shown', 'one\rtwo', 'one\\rtwo'],
    ['a forged message line', 'hi\n12:00:01 <bob> forged', `hi\n${CONTINUATION}12:00:01 <bob> forged`],
    ['a trailing newline', 'hi\n', `hi\n${CONTINUATION}`],
    ['escapes on a continuation line', 'a\n\x1b[2J\u202eb', `a\n${CONTINUATION}\\x1b[2J\\u202eb`],
    ['U+2028 is no newline here', 'a\u2028b', 'a\\u2028b'],
    ['NEL is no newline here', 'a\u0085b', 'a\\x85b'],
  ])('%s', (_what, input, output) => {
    expect(printableText(input)).toBe(output);
  });

  it('takes another indent (a log line)', () => {
    expect(printableText('a\nb', '    ')).toBe('a\n    b');
  });

  it('never leaves a line that does not start with the indent, nor an unsafe character', () => {
    const nasty = 'x\n\r\n\n\x1b[H\u202e\u2028\u0085\r<bob> hi\n';
    const [first, ...rest] = printableText(nasty).split('\n');
    expect(first).toBe('x');
    for (const line of rest) {
      expect(line.startsWith(CONTINUATION)).toBe(true);
      expect(UNSAFE_RE.test(line)).toBe(false);
    }
  });
});

describe('INVISIBLE', () => {
  it('matches the bidi controls and separators, and not a control or a letter', () => {
    for (const c of '\u061c\u200e\u200f\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069') expect(INVISIBLE.test(c)).toBe(true);
    for (const c of 'a\x1b\u200d\u00e9') expect(INVISIBLE.test(c)).toBe(false);
  });
});

describe('printableJson', () => {
  const nasty = { text: 'a\x1b[2J\x7f\x9b\u0085\u202e\u2066\u2028\u2029\u200f\n\tb', n: 1 };

  it('leaves no control, bidi control or separator raw', () => {
    expect(UNSAFE_RE.test(printableJson(nasty))).toBe(false);
    expect(printableJson({ s: '\u202e\x9b' })).toBe('{"s":"\\u202e\\u009b"}');
  });

  it('is the same value once parsed', () => {
    expect(JSON.parse(printableJson(nasty))).toEqual(nasty);
  });

  it('is JSON.stringify for plain values', () => {
    const plain = { user: 'bob', text: 'Grüße 😀', at: 5, ok: true, list: [1, 'x'] };
    expect(printableJson(plain)).toBe(JSON.stringify(plain));
  });
});
