// docs/protocol.md §7 and docs/security.md are the operator's list of limits: every limit of the
// server must be in §7, and every `chat serve` flag for one in security.md, with its default.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LIMIT_FLAGS } from '../../../src/cli/commands/serve.js';
import { DEFAULT_LIMITS } from '../../../src/server/options.js';

const protocol = readFileSync(new URL('../../../docs/protocol.md', import.meta.url), 'utf8');
const limitsSection = protocol.slice(protocol.indexOf('## 7. Limits'), protocol.indexOf('# Part II'));
const security = readFileSync(new URL('../../../docs/security.md', import.meta.url), 'utf8');

describe('the documented limits', () => {
  it('protocol.md §7 names every server limit', () => {
    const missing = Object.keys(DEFAULT_LIMITS).filter((key) => !limitsSection.includes(`\`${key}\``));
    expect(missing).toEqual([]);
  });

  it('security.md names every chat serve limit flag', () => {
    const missing = LIMIT_FLAGS.map((f) => `--${f.flag}`).filter((flag) => !security.includes(`\`${flag}\``) && !security.includes(`${flag} `));
    expect(missing).toEqual([]);
  });
});
