// The storage seam: the server sees only this interface. SQLite is the embedded default;
// PostgreSQL (src/store/postgres.ts) passes the same contract suite (test/contract/).
import type { BlockedUser, ChatMessage } from '../protocol/messages.js';

export interface UserRow {
  id: number;
  name: string;
  salt: Buffer;
  hash: Buffer;
  createdAt: number;
}

export interface SessionRow {
  id: number;
  userId: number;
  user: string;
  /** Highest message id this device has acknowledged. */
  cursor: number;
  /** When the session was last used (created, resumed, or kept by a live connection), ms. */
  lastSeenAt: number;
  /** The Ed25519 identity key its device registered (base64url), '' if none. */
  identityKey: string;
}

/** What the client says about a new session's device, and where it logged in from. */
export interface NewSessionInfo {
  /** The device's name, already sanitized and bounded (the server's job). */
  device?: string;
  address?: string;
}

/** A device's published identity key (protocol.md §4.1 device_keys). */
export interface DeviceKey {
  session: number;
  /** The device name given at login (may be empty). */
  device: string;
  /** Ed25519 public key, 32 bytes base64url. */
  key: string;
}

/** A session as its owner lists it (`chat sessions`). */
export interface SessionInfo {
  id: number;
  device: string;
  createdAt: number;
  lastSeenAt: number;
  /** The address of its latest login or resume. */
  address: string;
}

/** An account's state: disabled accounts can't log in; deleted ones are gone but keep their name. */
export type UserState = 'active' | 'disabled' | 'deleted';

/** Why sessions were revoked (the text their connections are closed with depends on it). */
export type RevocationReason = 'revoked' | 'password' | 'disabled' | 'deleted' | 'reset';

/**
 * A row of the revocation log: some of `user`'s sessions were deleted at `at`. Server nodes poll
 * the log (revocationsSince) and close the connections of `user` whose session is gone, so a
 * revocation made by another node or by `chat admin` in another process takes effect at once.
 */
export interface Revocation {
  id: number;
  user: string;
  reason: RevocationReason;
  at: number;
}

export interface NewMessage {
  from: string;
  to: string;
  text: string;
  at: number;
  /** The session that sent it; it is not delivered back to that session. */
  fromSession: number;
}

/** Where a stored message stands in its conversation: what a node needs to deliver it in order. */
export interface MessageOrder {
  /** The conversation: the two user names sorted and joined by a space, or '#' + group name. */
  conversation: string;
  /** The id of the conversation's previous message (0: it is the first). */
  prev: number;
}

/** A message as addMessage stored it, with its place in its conversation. */
export interface StoredMessage {
  message: ChatMessage;
  order: MessageOrder;
}

export interface HistoryQuery {
  a: string;
  b: string;
  limit: number;
  /** Only messages with a smaller id. */
  before?: number;
}

export interface GroupRow {
  name: string;
  owner: string;
  private: boolean;
  createdAt: number;
}

export interface GroupListRow extends GroupRow {
  members: number;
  member: boolean;
}

export interface MemberRow {
  user: string;
  role: 'owner' | 'member';
}

export interface FriendRow {
  user: string;
  state: 'friend' | 'incoming' | 'outgoing';
  note: string;
}

export interface Store {
  /**
   * True when messages commit in the order addMessage was called (one writer, one queue): a
   * connection may then hand the store its next message before the previous one resolved.
   */
  readonly commitsInCallOrder: boolean;
  /** Creates a user; returns null if the name is taken (names are compared ignoring case). */
  createUser(name: string, salt: Buffer, hash: Buffer, at: number): Promise<UserRow | null>;
  /**
   * Creates a user with a registration code (invite-only servers), using up one of the code's uses
   * in the same transaction: 'invalid_code' if it is unknown, used up or expired at `at`.
   */
  createUserWithCode(name: string, salt: Buffer, hash: Buffer, at: number, codeHash: Buffer): Promise<UserRow | 'name_taken' | 'invalid_code'>;
  /** Stores a registration code (its SHA-256) good for `uses` registrations until `expiresAt`. */
  addRegistrationCode(codeHash: Buffer, uses: number, expiresAt: number, at: number): Promise<void>;
  /** The user whose name equals `name` ignoring case, or null (also for a deleted user). */
  getUser(name: string): Promise<UserRow | null>;
  /**
   * New session for a device; its cursor starts at the user's most advanced session's cursor.
   * Session ids are never reused, not even those of deleted sessions. Null if the user is
   * disabled or deleted (checked in the same statement, so a login racing `disable` can't win).
   * Throws for an unknown user id.
   */
  createSession(userId: number, tokenHash: Buffer, at: number, info?: NewSessionInfo): Promise<SessionRow | null>;
  getSessionByTokenHash(tokenHash: Buffer): Promise<SessionRow | null>;
  getSession(sessionId: number): Promise<SessionRow | null>;
  deleteSession(sessionId: number): Promise<void>;
  /** Records that a session was used at `at` from `address` (kept cheap by the caller: rarely). */
  touchSession(sessionId: number, at: number, address?: string): Promise<void>;
  /** Marks these sessions (of live connections) as used at `at`; ids that are gone are skipped. */
  touchSessions(sessionIds: number[], at: number): Promise<void>;
  /** Deletes sessions last used before `before` (idle-expired); returns how many. */
  deleteIdleSessions(before: number): Promise<number>;
  /** Records the Ed25519 identity key (base64url) a session's device registered (issue 26). */
  setSessionIdentity(sessionId: number, key: string): Promise<void>;
  /** The registered identity keys of a user's sessions, oldest session first, at most `limit`. */
  deviceKeys(userId: number, limit: number): Promise<DeviceKey[]>;
  /** The user's sessions, most recently used first, at most `limit`. */
  listSessions(userId: number, limit: number): Promise<SessionInfo[]>;
  /**
   * Revokes sessions of a user and logs it (a Revocation), in one transaction: `which` is one
   * session id (false if it is not this user's), or `{ except }` for all but that one. Returns
   * how many were deleted.
   */
  revokeSessions(userId: number, which: number | { except: number }, reason: RevocationReason, at: number): Promise<number>;
  /** Sets a new password hash and revokes every session of the user but `keepSession` (0: all). */
  setPassword(userId: number, salt: Buffer, hash: Buffer, keepSession: number, reason: RevocationReason, at: number): Promise<number>;
  /**
   * Disables, enables or deletes an account (`chat admin user`), by name ignoring case. Disabling
   * and deleting revoke every session (logged); deleting also wipes the password hash, contacts,
   * group memberships and invitations, and keeps the name so that no one can register it and
   * inherit what refers to it (history, groups). A deleted account can't be enabled again.
   * Returns the previous state, or null if there is no such user.
   */
  setUserState(name: string, state: UserState, at: number): Promise<UserState | null>;
  /** The newest revocation id (0: none), where a starting node begins reading the log. */
  latestRevocation(): Promise<number>;
  /** Revocations with id > `after`, oldest first, at most `limit`. Old rows are pruned after a day. */
  revocationsSince(after: number, limit: number): Promise<Revocation[]>;
  /**
   * Stores a message; one transaction. Resolves once it is committed (and durable), with its id
   * and its place in its conversation (`order.prev`: the id of the conversation's previous
   * message, read in the same transaction). Within a conversation ids increase in commit order,
   * and the messages of one conversation resolve in id order. The caller publishes it (the
   * server's Router, src/server/delivery/router.ts); the store calls nobody back.
   */
  addMessage(message: NewMessage): Promise<StoredMessage>;
  /**
   * Messages to or from `user` after `cursor`, oldest first, not sent by `exceptSession` (even to
   * itself), including messages of groups `user` belongs to posted after they joined.
   */
  pendingMessages(user: string, cursor: number, exceptSession: number, limit: number): Promise<ChatMessage[]>;
  /**
   * Moves a session's cursor forward: never back, and never past an id that may still commit
   * (one writer: the newest message; PostgreSQL: the settled ids, waiting briefly for them).
   */
  ackMessages(sessionId: number, upTo: number): Promise<void>;
  /** The conversation between a and b, oldest first, the newest `limit` before `before`. */
  history(query: HistoryQuery): Promise<ChatMessage[]>;
  /** Messages to group `group` ("#" + name in `to`), oldest first, the newest `limit` before `before`. */
  groupHistory(group: string, limit: number, before?: number): Promise<ChatMessage[]>;
  /**
   * Direct messages to `user` from others that none of its devices has acknowledged yet (after
   * the user's furthest ack): how many and their text bytes, counting at most `limit` messages.
   */
  backlog(user: string, limit: number): Promise<{ count: number; bytes: number }>;
  /** Direct messages to `user` with after < id ≤ upTo not sent by `user` (newest `limit`): what an ack confirms. */
  directMessagesTo(user: string, after: number, upTo: number, limit: number): Promise<ChatMessage[]>;
  /** Creates a group owned by `owner` (its first member); null if the name is taken (ignoring case). */
  createGroup(name: string, owner: string, isPrivate: boolean, at: number): Promise<GroupRow | null>;
  getGroup(name: string): Promise<GroupRow | null>;
  /** Deletes a group, its members, invitations and messages; one transaction. */
  deleteGroup(name: string): Promise<void>;
  /** Public groups and the groups `user` belongs to, by name. */
  listGroups(user: string): Promise<GroupListRow[]>;
  /** Adds a member (consuming an invitation); false if already one. They see messages from now on. */
  addMember(group: string, user: string, at: number): Promise<boolean>;
  /** false if `user` was not a member. */
  removeMember(group: string, user: string): Promise<boolean>;
  members(group: string): Promise<MemberRow[]>;
  isMember(group: string, user: string): Promise<boolean>;
  addInvite(group: string, user: string, by: string, at: number): Promise<void>;
  hasInvite(group: string, user: string): Promise<boolean>;
  /** Invitations of `user` to groups it has not joined, oldest first (at most 200). */
  pendingInvites(user: string): Promise<{ group: string; by: string; at: number }[]>;

  /**
   * `user` asks `other` to be friends. Returns the new state from `user`'s side: 'outgoing', or
   * 'friend' when `other` had already asked; 'unchanged' if they are friends or already asked.
   */
  requestFriend(user: string, other: string, at: number): Promise<'outgoing' | 'friend' | 'unchanged'>;
  /** `user` accepts `other`'s request; false if there was none. */
  acceptFriend(user: string, other: string, at: number): Promise<boolean>;
  /** Removes the relation (request either way, or friendship) on both sides; false if none. */
  removeFriend(user: string, other: string): Promise<boolean>;
  /** `user`'s private note on `other`; false if they have no relation. */
  setFriendNote(user: string, other: string, note: string): Promise<boolean>;
  friends(user: string): Promise<FriendRow[]>;
  /** `user` blocks `other` (protocol.md §4.7); false if it already did (the first `at` stays). */
  block(user: string, other: string, at: number): Promise<boolean>;
  /** `user` stops blocking `other`; false if it did not. */
  unblock(user: string, other: string): Promise<boolean>;
  /** The users `user` blocks, by name. */
  blocks(user: string): Promise<BlockedUser[]>;
  /** Registered names starting with `prefix` (ignoring case), by name. */
  searchUsers(prefix: string, limit: number): Promise<string[]>;
  close(): Promise<void>;
}
