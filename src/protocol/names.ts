// User name rules (protocol.md §5): 2–32 characters of a-z 0-9 _ -, starting with a letter or digit.
// Names are case-insensitive: they are folded to lower case before any check or lookup.

// Checked on the raw input, before folding: String#toLowerCase maps some non-ASCII letters to
// ASCII ones (U+212A KELVIN SIGN → "k"), which must not sneak into a name.
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$/;

/** Lower-cases a user name; returns null if it breaks the rules. */
export function normalizeName(raw: unknown): string | null {
  if (typeof raw !== 'string' || !NAME_RE.test(raw)) return null;
  return raw.toLowerCase();
}

/** The rule, worded for error messages. */
export const NAME_RULE = '2-32 characters of a-z, 0-9, _ and -, starting with a letter or digit';

/** Password length bounds in characters. */
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 1024;

/** Group names follow the user name rules; on the command line and in `to` they carry a `#`. */
export const GROUP_PREFIX = '#';

/** "#Ops" or "ops" → "ops"; null if invalid. */
export function normalizeGroup(raw: unknown): string | null {
  if (typeof raw !== 'string') return null;
  return normalizeName(raw.startsWith(GROUP_PREFIX) ? raw.slice(1) : raw);
}

/** True if `to` addresses a group. */
export function isGroupAddress(to: string): boolean {
  return to.startsWith(GROUP_PREFIX);
}
