// User name rules (protocol.md §5): 2–32 characters of a-z 0-9 _ -, starting with a letter or digit.
// Names are case-insensitive: they are folded to lower case before any check or lookup.

const NAME_RE = /^[a-z0-9][a-z0-9_-]{1,31}$/;

/** Lower-cases a user name; returns null if it breaks the rules. */
export function normalizeName(raw: unknown): string | null {
  if (typeof raw !== 'string') return null;
  const name = raw.toLowerCase();
  return NAME_RE.test(name) ? name : null;
}

/** The rule, worded for error messages. */
export const NAME_RULE = '2-32 characters of a-z, 0-9, _ and -, starting with a letter or digit';

/** Password length bounds in characters. */
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 1024;
