// The one sanitizer for text from a peer or the server before a terminal or a log sees it
// (docs/security.md, "What reaches your terminal"). Pure: no I/O.
//
// Neutralized characters are shown, not dropped: C0 and C1 controls as `\x1b` (`\n`, `\r`, `\t`
// for the common three), bidi controls and invisible separators as `\u202e`. Backslashes are
// left alone, so printable() twice changes nothing.

/**
 * Bidi controls (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069) and the invisible line
 * and paragraph separators U+2028, U+2029: text that reorders or breaks a line without showing.
 */
export const INVISIBLE = /[\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

// C0 controls, DEL and C1 controls (U+0085 NEL among them), then INVISIBLE.
const UNSAFE = new RegExp(`[\\u0000-\\u001f\\u007f-\\u009f${INVISIBLE.source.slice(1, -1)}]`, 'g');
// The same without TAB, which a message may keep (it moves the cursor right, never back).
const UNSAFE_IN_TEXT = new RegExp(`[\\u0000-\\u0008\\u000a-\\u001f\\u007f-\\u009f${INVISIBLE.source.slice(1, -1)}]`, 'g');

/** What a message's continuation lines start with: no real line starts like this. */
export const CONTINUATION = '  | ';

const SHORT: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function shown(c: string): string {
  const code = c.charCodeAt(0);
  return SHORT[c] ?? (code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`);
}

/**
 * One line, for names, MIME types, file names, ids, error and reason texts: every control,
 * bidi control and separator (newlines too) is shown as an escape. Takes anything (a field from
 * a peer may not be the string its type says).
 */
export function printable(text: unknown): string {
  return String(text).replace(UNSAFE, shown);
}

/**
 * A message's text, which may have several lines: each newline (LF or CRLF) starts a new line
 * that begins with `indent`, so no line of it can pass for a new message or log line; every
 * other control is shown as in printable() (a TAB stays).
 */
export function printableText(text: unknown, indent = CONTINUATION): string {
  return String(text)
    .split(/\r?\n/)
    .map((line) => line.replace(UNSAFE_IN_TEXT, shown))
    .join(`\n${indent}`);
}

// What JSON.stringify leaves raw inside strings: DEL, C1 controls and INVISIBLE.
const RAW_IN_JSON = new RegExp(`[\\u007f-\\u009f${INVISIBLE.source.slice(1, -1)}]`, 'g');

/**
 * JSON for a terminal (--json output): JSON.stringify escapes the C0 controls; this escapes DEL,
 * the C1 controls and INVISIBLE as `\u009b` too: the same value once parsed.
 */
export function printableJson(value: unknown): string {
  return JSON.stringify(value).replace(RAW_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
