import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { numberedName, resolveInside, sanitizePath, uniquePaths } from '../../../src/transfer/safe-path.js';

describe('sanitizePath', () => {
  const table: Array<[string, string]> = [
    ['report.pdf', 'report.pdf'],
    ['photos/2024/a.jpg', 'photos/2024/a.jpg'],
    ['../../etc/x', 'etc/x'],
    ['/etc/passwd', 'etc/passwd'],
    ['..\\..\\windows\\win.ini', 'windows/win.ini'],
    ['C:\\Users\\x.txt', 'C_/Users/x.txt'],
    ['a//b///c', 'a/b/c'],
    ['./a/./b', 'a/b'],
    ['a/../../b', 'a/b'],
    ['bad\u0000name\u0007.txt', 'badname.txt'],
    ['new\nline\r.txt', 'newline.txt'],
    ['\u001b[31mred', '[31mred'],
    ['what?<>|*":.txt', 'what_______.txt'],
    ['CON', '_CON'],
    ['con.txt', '_con.txt'],
    ['dir/LPT1.log', 'dir/_LPT1.log'],
    ['nul', '_nul'],
    ['CONSOLE', 'CONSOLE'],
    ['trailing. . ', 'trailing'],
    [' spaced ', 'spaced'],
    ['', 'file'],
    ['..', 'file'],
    ['/', 'file'],
    ['...', 'file'],
    ['.bashrc', '.bashrc'],
    ['e\u0301t\u00e9.txt', '\u00e9t\u00e9.txt'],
    ['evil\u202etxt.exe', 'evil_txt.exe'],
    ['\u2066a\u2067b\u2068c\u2069.txt', '_a_b_c_.txt'],
    ['\u202a\u202b\u202c\u202d.txt', '____.txt'],
    ['l\u200er\u200fa\u061c.txt', 'l_r_a_.txt'],
    ['line\u2028para\u2029.txt', 'line_para_.txt'],
    ['nel\u0085.txt', 'nel.txt'],
  ];
  it.each(table)('%j → %j', (input, expected) => {
    expect(sanitizePath(input)).toBe(expected);
  });

  it('caps a component at 200 bytes and keeps the extension', () => {
    const out = sanitizePath(`${'é'.repeat(300)}.txt`);
    expect(Buffer.byteLength(out)).toBeLessThanOrEqual(200);
    expect(out.endsWith('é.txt')).toBe(true);
  });
});

describe('resolveInside', () => {
  const dir = path.resolve('/tmp/inbox');
  it.each(['../../etc/x', '/etc/passwd', 'a/../../b', 'CON', ''])('keeps %j inside the dir', (raw) => {
    const full = resolveInside(dir, sanitizePath(raw));
    expect(full.startsWith(dir + path.sep)).toBe(true);
  });

  it('throws for a raw path that would escape', () => {
    expect(() => resolveInside(dir, '../x')).toThrow(/escapes/);
    expect(() => resolveInside(dir, '..')).toThrow(/escapes/);
    expect(() => resolveInside(dir, '')).toThrow(/escapes/);
  });

  it.each(['..hidden', '...x', 'a/..b', '..'.concat('.txt')])('keeps the legal name %j as it is', (name) => {
    expect(resolveInside(dir, name)).toBe(path.join(dir, ...name.split('/')));
  });
});

describe('numberedName', () => {
  it.each([
    ['report.pdf', 1, 'report (1).pdf'],
    ['report.pdf', 12, 'report (12).pdf'],
    ['archive.tar.gz', 1, 'archive.tar (1).gz'],
    ['.bashrc', 1, '.bashrc (1)'],
    ['README', 2, 'README (2)'],
    ['a.txt', 0, 'a.txt'],
  ] as const)('%s #%i → %s', (name, n, expected) => {
    expect(numberedName(name, n)).toBe(expected);
  });
});

describe('uniquePaths', () => {
  it('numbers later duplicates of one offer, case-insensitively', () => {
    expect(uniquePaths(['a.txt', 'b/a.txt', 'A.txt', 'a.txt'])).toEqual(['a.txt', 'b/a.txt', 'A (1).txt', 'a (2).txt']);
  });
});
