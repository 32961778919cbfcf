// Operands are not options: words after `--`, and words no option can be ("-5 degrees").
import { describe, expect, it } from 'vitest';
import { markOperands, unmark } from '../../../src/cli/operands.js';

const parsed = (argv: string[]) => markOperands(argv).map((w) => (w === unmark(w) ? w : `<${unmark(w)}>`));

describe('markOperands', () => {
  it.each([
    [['send', 'bob', '-5 degrees'], ['send', 'bob', '<-5 degrees>']],
    [['send', 'bob', '- item'], ['send', 'bob', '<- item>']],
    [['send', 'bob', '-x y'], ['send', 'bob', '<-x y>']],
    [['send', 'bob', '--', '--json', '-x'], ['send', 'bob', '<--json>', '<-x>']],
    [['send-file', 'bob', '--', './-file', '--'], ['send-file', 'bob', '<./-file>', '<-->']],
    [['send', '--json', 'bob', 'hi'], ['send', '--json', 'bob', 'hi']],
    [['register', 'x', '--invite', '-'], ['register', 'x', '--invite', '-']],
    [['send', 'bob', '-v'], ['send', 'bob', '-v']],
  ])('%j → %j', (argv, expected) => {
    expect(parsed(argv)).toEqual(expected);
  });

  it('unmarks strings and arrays, and leaves other values alone', () => {
    const [marked] = markOperands(['--', '-x']);
    expect(unmark([marked, 'y'])).toEqual(['-x', 'y']);
    expect(unmark(5)).toBe(5);
  });
});
