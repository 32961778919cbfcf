// encodeEvent must give exactly the bytes of encodeJsonFrame for every event it builds by hand.
import { describe, expect, it } from 'vitest';
import { encodeEvent } from '../../../src/protocol/encode-event.js';
import { encodeJsonFrame } from '../../../src/protocol/frame.js';
import type { ChatMessage, ServerEvent } from '../../../src/protocol/messages.js';

const texts = ['hi', '', 'quote " backslash \\ slash / newline \n tab \t nul \u0000 del \u007f', 'é 日本 😀', 'lone \ud800 surrogate', 'x'.repeat(16384)];

describe('encodeEvent', () => {
  it('a message event: the same bytes as encodeJsonFrame, for texts that need escaping and non-ASCII', () => {
    for (const text of texts) {
      for (const to of ['bob', '#team']) {
        const data: ChatMessage = { id: 9007199254740991, from: 'alice', to, text, at: 1763900000000 };
        const event: ServerEvent = { type: 'event', event: 'message', data };
        expect(encodeEvent(event).equals(encodeJsonFrame(event)), JSON.stringify(text.slice(0, 40))).toBe(true);
      }
    }
  });

  it('other events go through JSON.stringify unchanged', () => {
    const event: ServerEvent = { type: 'event', event: 'presence', data: { user: 'bob', online: true, at: 1 } };
    expect(encodeEvent(event).equals(encodeJsonFrame(event))).toBe(true);
  });
});
