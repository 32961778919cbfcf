import { describe, expect, it } from 'vitest';
import { NAME_RULE, PASSWORD_MAX, PASSWORD_MIN, normalizeName } from '../../../src/protocol/names.js';

describe('normalizeName', () => {
  it.each([
    ['alice', 'alice'],
    ['Alice', 'alice'],
    ['BOB', 'bob'],
    ['ab', 'ab'],
    ['a1', 'a1'],
    ['9lives', '9lives'],
    ['x_y-z', 'x_y-z'],
    ['a-', 'a-'],
    ['a'.repeat(32), 'a'.repeat(32)],
    ['Q'.repeat(32), 'q'.repeat(32)],
  ])('accepts %j as %j', (raw, name) => {
    expect(normalizeName(raw)).toBe(name);
  });

  it.each([
    ['', 'empty'],
    ['a', 'one character'],
    ['a'.repeat(33), '33 characters'],
    ['_alice', 'leading underscore'],
    ['-alice', 'leading hyphen'],
    ['al ice', 'space'],
    [' alice', 'leading space'],
    ['alice\n', 'trailing newline'],
    ['al.ice', 'dot'],
    ['al@ice', 'at sign'],
    ['alice/..', 'slash'],
    ['élodie', 'non-ASCII letter'],
    ['аlice', 'Cyrillic a lookalike'],
    ['\u212Aate', 'Kelvin sign, which lower-cases to an ASCII k'],
    ['\u0130stanbul', 'dotted capital I'],
    ['ali\u0000ce', 'NUL'],
  ])('rejects %j (%s)', (raw) => {
    expect(normalizeName(raw)).toBeNull();
  });

  it.each([[undefined], [null], [42], [{}], [['alice']]])('rejects the non-string %j', (raw) => {
    expect(normalizeName(raw)).toBeNull();
  });

  it('folds names that differ only in case to the same name', () => {
    expect(new Set(['alice', 'Alice', 'ALICE', 'aLiCe'].map(normalizeName))).toEqual(new Set(['alice']));
  });

  it('describes the rule and the password bounds', () => {
    expect(NAME_RULE).toContain('2-32');
    expect(PASSWORD_MIN).toBe(8);
    expect(PASSWORD_MAX).toBe(1024);
  });
});
