// The rules both stores share (src/store/rules.ts); the contract suites check them through each store.
import { describe, expect, it } from 'vitest';
import { canAcceptFriend, conversationOf, friendRequest, pairKey } from '../../../src/store/rules.js';

describe('store rules', () => {
  it('keys a conversation the same whichever way round, and a group by its #name', () => {
    expect(pairKey('bob', 'alice')).toBe('alice bob');
    expect(pairKey('alice', 'bob')).toBe('alice bob');
    expect(conversationOf('bob', 'alice')).toBe('alice bob');
    expect(conversationOf('bob', '#ops')).toBe('#ops');
  });

  it.each([
    [undefined, { result: 'outgoing', mine: 'outgoing', theirs: 'incoming' }],
    ['incoming', { result: 'friend', mine: 'friend', theirs: 'friend' }],
    ['outgoing', null],
    ['friend', null],
  ] as const)('a friend request from state %s', (state, move) => {
    expect(friendRequest(state)).toEqual(move);
  });

  it('accepts only a request made to this user', () => {
    expect([undefined, 'incoming', 'outgoing', 'friend'].map((s) => canAcceptFriend(s as never))).toEqual([false, true, false, false]);
  });
});
