import { describe, expect, it } from 'vitest';
import { ChatState, Directory, conversationOf, normalizeTarget } from '../../../src/cli/interactive/state.js';
import type { ChatMessage } from '../../../src/protocol/messages.js';

let nextId = 1;
function msg(from: string, to: string, text = 'hi', id = nextId++): ChatMessage {
  return { id, from, to, text, at: 1_763_900_000_000 + id };
}

describe('conversations', () => {
  it('a message belongs to the other user, or to its #group', () => {
    expect(conversationOf(msg('bob', 'alice'), 'alice')).toBe('bob');
    expect(conversationOf(msg('alice', 'bob'), 'alice')).toBe('bob');
    expect(conversationOf(msg('bob', '#ops'), 'alice')).toBe('#ops');
    expect(conversationOf(msg('alice', '#ops'), 'alice')).toBe('#ops');
    expect(normalizeTarget(' #Ops ')).toBe('#ops');
  });

  it('counts unread per conversation, shows the current one, and switching returns and clears its unread', () => {
    const s = new ChatState('alice');
    expect(s.switchTo('Bob')).toEqual([]);
    expect(s.current).toBe('bob');

    expect(s.receive(msg('bob', 'alice'))).toEqual({ kind: 'show', conversation: 'bob' });
    const c1 = msg('carol', 'alice', 'one');
    expect(s.receive(c1)).toEqual({ kind: 'unread', conversation: 'carol', count: 1 });
    expect(s.receive(msg('dave', '#ops'))).toEqual({ kind: 'unread', conversation: '#ops', count: 1 });
    const c2 = msg('carol', 'alice', 'two');
    expect(s.receive(c2)).toEqual({ kind: 'unread', conversation: 'carol', count: 2 });

    // The most recently active first.
    expect(s.unread()).toEqual([
      { conversation: 'carol', count: 2 },
      { conversation: '#ops', count: 1 },
    ]);
    expect(s.totalUnread()).toBe(3);
    expect(s.unreadIn('CAROL')).toBe(2);

    expect(s.switchTo('carol')).toEqual([c1, c2]);
    expect(s.unreadIn('carol')).toBe(0);
    expect(s.unread()).toEqual([{ conversation: '#ops', count: 1 }]);
    expect(s.switchTo('carol')).toEqual([]);
    expect(s.conversations()).toEqual(['carol', '#ops', 'bob']);
  });

  it('own messages from another device never count as unread', () => {
    const s = new ChatState('alice');
    s.switchTo('bob');
    expect(s.receive(msg('alice', 'carol'))).toEqual({ kind: 'quiet', conversation: 'carol' });
    expect(s.receive(msg('alice', 'bob'))).toEqual({ kind: 'show', conversation: 'bob' });
    expect(s.totalUnread()).toBe(0);
  });

  it('drops a message seen before (a replay after reconnecting), including own sent ones', () => {
    const s = new ChatState('alice');
    const m = msg('bob', 'alice');
    expect(s.receive(m).kind).toBe('unread');
    expect(s.receive({ ...m })).toEqual({ kind: 'duplicate' });
    expect(s.unreadIn('bob')).toBe(1);
    const own = msg('alice', 'bob');
    s.sent(own);
    expect(s.receive(own)).toEqual({ kind: 'duplicate' });
  });

  it('with no current conversation everything is unread; leave() forgets the current group', () => {
    const s = new ChatState('alice');
    expect(s.receive(msg('bob', 'alice')).kind).toBe('unread');
    s.switchTo('#ops');
    s.leave('#OPS');
    expect(s.current).toBeNull();
    s.switchTo('bob');
    s.leave('#ops');
    expect(s.current).toBe('bob');
  });
});

describe('delivery marks', () => {
  it('✓ when stored; a receipt gives ✓✓ to that message and every earlier one to the same user', () => {
    const s = new ChatState('alice');
    const a = msg('alice', 'bob');
    const b = msg('alice', 'bob');
    const c = msg('alice', 'carol');
    const d = msg('alice', 'bob');
    for (const m of [a, b, c, d]) expect(s.sent(m)).toBe('stored');
    expect(s.delivered(b.id, 'bob')).toEqual([a.id, b.id]);
    expect(s.markOf(a.id)).toBe('delivered');
    expect(s.markOf(c.id)).toBe('stored');
    expect(s.markOf(d.id)).toBe('stored');
    // Another device of bob acknowledging again changes nothing.
    expect(s.delivered(b.id, 'bob')).toEqual([]);
    expect(s.delivered(99_999, 'nobody')).toEqual([]);
  });

  it('a receipt that overtakes the send reply still counts', () => {
    const s = new ChatState('alice');
    const m = msg('alice', 'bob');
    expect(s.delivered(m.id, 'bob')).toEqual([]);
    expect(s.sent(m)).toBe('delivered');
  });

  it('group messages stay ✓ (groups get no receipts)', () => {
    const s = new ChatState('alice');
    expect(s.sent(msg('alice', '#ops'))).toBe('stored');
  });
});

describe('directory', () => {
  it('merges online users, friends, groups and conversations, without me', () => {
    const d = new Directory();
    d.setOnline(['alice', 'bob']);
    d.friends.set('carol', 'friend');
    d.friends.set('dave', 'incoming');
    d.groups.set('#ops', true);
    d.groups.set('#lobby', false);
    d.presence('erin', true);
    d.presence('bob', false);
    expect(d.names('alice', ['frank', 'carol'])).toEqual(['#lobby', '#ops', 'carol', 'dave', 'erin', 'frank']);
    expect(d.memberOf()).toEqual(['#ops']);
    expect(d.isFriend('carol')).toBe(true);
    expect(d.isFriend('dave')).toBe(false);
  });
});
