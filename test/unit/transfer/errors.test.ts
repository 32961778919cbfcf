import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TRANSFER_ERROR_CODES, TransferError, fsError } from '../../../src/transfer/errors.js';

const doc = readFileSync(new URL('../../../docs/protocol.md', import.meta.url), 'utf8');

describe('transfer error catalog', () => {
  it('documents every code in docs/protocol.md', () => {
    for (const code of TRANSFER_ERROR_CODES) expect(doc).toContain(`\`${code}\``);
  });

  it('documents no code we do not have', () => {
    const section = doc.slice(doc.indexOf('## T7.'));
    const documented = [...section.matchAll(/^\| `([a-z_]+)`/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual([...TRANSFER_ERROR_CODES].sort());
  });

  it('maps filesystem errors to stable codes', () => {
    const err = (code: string): Error => Object.assign(new Error(code), { code });
    expect(fsError(err('ENOSPC'), 'a.bin')).toMatchObject({ code: 'disk_full', message: 'disk full while writing a.bin' });
    expect(fsError(err('EACCES'), 'a.bin')).toMatchObject({ code: 'permission_denied', message: 'permission denied: a.bin' });
    expect(fsError(err('ENOENT'), 'a.bin')).toMatchObject({ code: 'not_found' });
    expect(fsError(err('EIO'), 'a.bin')).toMatchObject({ code: 'io_error' });
    const original = new TransferError('aborted', 'x');
    expect(fsError(original, 'a')).toBe(original);
  });
});
