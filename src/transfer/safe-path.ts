// Incoming file names are hostile (protocol.md §T6): sanitize, stay inside the target dir,
// and never clobber. Pure: no I/O.
import path from 'node:path';
import { INVISIBLE } from '../protocol/printable.js';

// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/g;
// Bidi controls and invisible separators: `evil\u202etxt.exe` must not pass for a .txt.
const INVISIBLE_CHARS = new RegExp(INVISIBLE.source, 'g');
const WINDOWS_FORBIDDEN = /[<>:"|?*]/g;
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)(\..*)?$/i;
const MAX_COMPONENT_BYTES = 200; // leaves room for " (123)" and ".part" under the usual 255
const FALLBACK_NAME = 'file';

/** Sanitizes one path component; returns '' when nothing usable remains. */
export function sanitizeComponent(raw: string): string {
  let name = raw.normalize('NFC').replace(CONTROL_CHARS, '').replace(INVISIBLE_CHARS, '_').replace(WINDOWS_FORBIDDEN, '_');
  name = name.replace(/[. ]+$/, '').trim(); // Windows drops trailing dots and spaces
  if (name === '' || name === '.' || name === '..') return '';
  if (WINDOWS_RESERVED.test(name)) name = `_${name}`;
  return truncateUtf8(name, MAX_COMPONENT_BYTES);
}

/** A relative '/'-separated path made only of safe components ('file' if none survive). */
export function sanitizePath(raw: string): string {
  const parts = raw.split(/[/\\]+/).map(sanitizeComponent).filter((p) => p !== '');
  return parts.length > 0 ? parts.join('/') : FALLBACK_NAME;
}

/** Absolute path of a sanitized relative path inside `dir`; throws if it would escape. */
export function resolveInside(dir: string, safeRelative: string): string {
  const root = path.resolve(dir);
  const full = path.resolve(root, ...safeRelative.split('/'));
  const rel = path.relative(root, full);
  // `..hidden` is a legal name inside; only `..` itself or `../…` leaves.
  if (rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
    throw new RangeError(`path ${JSON.stringify(safeRelative)} escapes ${root}`);
  }
  return full;
}

/** `report.pdf`, 2 → `report (2).pdf`; `.bashrc`, 1 → `.bashrc (1)`; n = 0 returns the name unchanged. */
export function numberedName(fileName: string, n: number): string {
  if (n === 0) return fileName;
  const dot = fileName.lastIndexOf('.');
  if (dot <= 0) return `${fileName} (${n})`;
  return `${fileName.slice(0, dot)} (${n})${fileName.slice(dot)}`;
}

/** Makes sanitized paths of one offer unique (case-insensitively) by numbering later duplicates. */
export function uniquePaths(paths: string[]): string[] {
  const seen = new Set<string>();
  return paths.map((p) => {
    const dir = p.includes('/') ? p.slice(0, p.lastIndexOf('/') + 1) : '';
    const base = p.slice(dir.length);
    for (let n = 0; ; n++) {
      const candidate = dir + numberedName(base, n);
      const key = candidate.toLowerCase();
      if (!seen.has(key) && !seen.has(`${key}.part`)) {
        seen.add(key);
        return candidate;
      }
    }
  });
}

function truncateUtf8(name: string, maxBytes: number): string {
  if (Buffer.byteLength(name) <= maxBytes) return name;
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : '';
  const room = maxBytes - Buffer.byteLength(ext);
  const stem = Buffer.from(name.slice(0, name.length - ext.length)).subarray(0, room).toString('utf8');
  return stem.replace(/\uFFFD+$/, '') + ext; // drop a code point cut in half
}
