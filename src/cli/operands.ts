// Words that are operands, not options: everything after `--` (POSIX), and words that cannot be
// an option ("-5 degrees", "- item"). yargs would read them as flags ("chat send bob -5" failed
// with "Not enough non-option arguments"), so they are marked before parsing and unmarked after.

/** Prefixed to an operand so that yargs does not take it for an option. */
const MARK = '\u0000';

/** A leading `-` that no option starts with: a digit, whitespace, or whitespace later in the word. */
function cannotBeOption(word: string): boolean {
  return /^-(\d|\s)/.test(word) || (word.startsWith('-') && /\s/.test(word));
}

/** argv with its operands marked and the first `--` dropped. */
export function markOperands(argv: string[]): string[] {
  const end = argv.indexOf('--');
  const head = end < 0 ? argv : argv.slice(0, end);
  const tail = end < 0 ? [] : argv.slice(end + 1);
  return [...head.map((w) => (cannotBeOption(w) ? MARK + w : w)), ...tail.map((w) => MARK + w)];
}

/** A parsed value with the marks taken off again. */
export function unmark<T>(value: T): T {
  if (typeof value === 'string') return (value.startsWith(MARK) ? value.slice(MARK.length) : value) as T;
  if (Array.isArray(value)) return value.map(unmark) as T;
  return value;
}

/** Takes the marks off every parsed argument (a yargs middleware). */
export function unmarkAll(argv: Record<string, unknown>): void {
  for (const key of Object.keys(argv)) argv[key] = unmark(argv[key]);
}
