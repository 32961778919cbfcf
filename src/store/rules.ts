// The rules both stores apply the same way, in one place: how a conversation is keyed and how a
// friend request or acceptance moves the two rows of a pair (each store does the I/O in one
// transaction; the contract suite runs both).
import type { FriendRow } from './store.js';

/** The key of a two-person conversation, the same whichever way round. */
export const pairKey = (a: string, b: string): string => (a < b ? `${a} ${b}` : `${b} ${a}`);

/** The conversation key of a message: the pair, or `#name` for a group. */
export const conversationOf = (from: string, to: string): string => (to.startsWith('#') ? to : pairKey(from, to));

type FriendState = FriendRow['state'];

/** What a friend request writes: the requester's row and the other's; null when nothing changes. */
export interface FriendMove {
  /** What requestFriend resolves with. */
  result: 'outgoing' | 'friend';
  mine: FriendState;
  theirs: FriendState;
}

/**
 * A request from a user whose row for the other is `state`: a new request is `outgoing` for them
 * and `incoming` for the other; a request back to someone who asked first makes both friends;
 * asking again (or a friend) changes nothing.
 */
export function friendRequest(state: FriendState | undefined): FriendMove | null {
  if (state === 'friend' || state === 'outgoing') return null;
  return state === 'incoming' ? { result: 'friend', mine: 'friend', theirs: 'friend' } : { result: 'outgoing', mine: 'outgoing', theirs: 'incoming' };
}

/** Only a request made to this user can be accepted; both rows become `friend`. */
export const canAcceptFriend = (state: FriendState | undefined): boolean => state === 'incoming';
