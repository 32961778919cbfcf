// docs/protocol.md is the contract for other clients: it must name every error code and request type we have.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../../src/protocol/errors.js';
import { REQUEST_TYPES } from '../../../src/protocol/messages.js';
import { PROTOCOL_VERSION } from '../../../src/protocol/version.js';
import { TRANSFER_PROTOCOL_VERSION } from '../../../src/transfer/messages.js';
import { decodeBundle } from '../../../src/transfer/bundle.js';

const doc = readFileSync(new URL('../../../docs/protocol.md', import.meta.url), 'utf8');
const relay = doc.slice(0, doc.indexOf('# Part II'));

describe('docs/protocol.md', () => {
  it('lists exactly the relay error codes in §6', () => {
    const section = relay.slice(relay.indexOf('## 6.'), relay.indexOf('## 7.'));
    const documented = [...section.matchAll(/^\| `([a-z_]+)`/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual([...ERROR_CODES].sort());
  });

  it('documents every request type', () => {
    for (const type of REQUEST_TYPES) expect(relay).toMatch(new RegExp(`\\| \`${type}\` \\|`));
  });

  it('states the current protocol version', () => {
    expect(doc).toContain(`Protocol version **${PROTOCOL_VERSION}**`);
    expect(doc).toContain(`\`v\` is the protocol version, currently **${TRANSFER_PROTOCOL_VERSION}**`);
  });

  it('gives a worked BUNDLE example (§T9.1) that decodes to what it says', () => {
    const section = doc.slice(doc.indexOf('### T9.1'));
    const hex = /```\n(04\n[\s\S]*?)```/.exec(section)![1]!.replace(/\s+/g, '');
    const entries = decodeBundle(Buffer.from(hex, 'hex')).map((e) => [e[0], JSON.parse(e.subarray(1).toString())]);
    expect(entries).toEqual([[1, { type: 'get', file: 0, offset: 0 }], [1, { type: 'get', file: 1, offset: 0 }]]);
    expect(section).toContain(`\`${(hex.length / 2 + 16).toString(16).padStart(8, '0')}\` ‖ ciphertext ‖ tag`);
  });
});
