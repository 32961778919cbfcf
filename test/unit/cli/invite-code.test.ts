import { describe, expect, it } from 'vitest';
import { inviteCode } from '../../../src/cli/commands/admin.js';

describe('inviteCode', () => {
  it('is 20 base64url characters and never starts with "-" (it follows --invite on a command line)', () => {
    // 4000 codes: with one in 64 starting with '-' before, the old generator fails this for sure.
    const codes = Array.from({ length: 4000 }, () => inviteCode());
    for (const code of codes) {
      expect(code).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{19}$/);
    }
    expect(new Set(codes).size).toBe(codes.length);
  });
});
