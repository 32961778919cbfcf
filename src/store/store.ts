// The storage seam: the server sees only this interface. SQLite is the embedded default;
// a PostgreSQL implementation later must pass the same contract suite (test/contract/).
import type { ChatMessage } from '../protocol/messages.js';

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
}

export interface NewMessage {
  from: string;
  to: string;
  text: string;
  at: number;
  /** The session that sent it; it is not delivered back to that session. */
  fromSession: number;
}

export interface HistoryQuery {
  a: string;
  b: string;
  limit: number;
  /** Only messages with a smaller id. */
  before?: number;
}

export interface Store {
  /** Creates a user; returns null if the name is taken (names are compared ignoring case). */
  createUser(name: string, salt: Buffer, hash: Buffer, at: number): Promise<UserRow | null>;
  /** The user whose name equals `name` ignoring case, or null. */
  getUser(name: string): Promise<UserRow | null>;
  /**
   * New session for a device; its cursor starts at the user's most advanced session's cursor.
   * Session ids are never reused, not even those of deleted sessions.
   */
  createSession(userId: number, tokenHash: Buffer, at: number): Promise<SessionRow>;
  getSessionByTokenHash(tokenHash: Buffer): Promise<SessionRow | null>;
  getSession(sessionId: number): Promise<SessionRow | null>;
  deleteSession(sessionId: number): Promise<void>;
  /** Stores a message and returns it with its id; one transaction. */
  addMessage(message: NewMessage): Promise<ChatMessage>;
  /** Messages to or from `user` after `cursor`, oldest first, not sent by `exceptSession` (even to itself). */
  pendingMessages(user: string, cursor: number, exceptSession: number, limit: number): Promise<ChatMessage[]>;
  /** Moves a session's cursor forward (never back). */
  ackMessages(sessionId: number, upTo: number): Promise<void>;
  /** The conversation between a and b, oldest first, the newest `limit` before `before`. */
  history(query: HistoryQuery): Promise<ChatMessage[]>;
  close(): Promise<void>;
}
