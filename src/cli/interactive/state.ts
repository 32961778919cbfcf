// What the interactive client knows, without any I/O: the current conversation, unread messages
// per conversation, message ids already seen, delivery marks of own messages and known names.
import type { ChatMessage } from '../../protocol/messages.js';

/** ✓ once the server stored an own message, ✓✓ once it reached a recipient's device. */
export type Mark = 'stored' | 'delivered';

/** What to do with an incoming message. */
export type Arrival =
  | { kind: 'duplicate' }
  /** It belongs to the current conversation: show it now. */
  | { kind: 'show'; conversation: string }
  /** Kept for later; `count` is that conversation's unread count now. */
  | { kind: 'unread'; conversation: string; count: number }
  /** An own message (another device) for another conversation: kept quietly, never unread. */
  | { kind: 'quiet'; conversation: string };

export interface UnreadCount {
  conversation: string;
  count: number;
}

// Bounds so a long session does not grow without limit; ids only ever increase, so the
// oldest are the ones that can no longer be replayed.
const MAX_SEEN = 10_000;
const MAX_MARKED = 1_000;

export const isGroup = (name: string): boolean => name.startsWith('#');

/** "Bob" → "bob", "#Ops" → "#ops"; names are case-insensitive on the server. */
export function normalizeTarget(name: string): string {
  return name.trim().toLowerCase();
}

/** The conversation a message belongs to, from `me`'s side: '#group' or the other user. */
export function conversationOf(m: ChatMessage, me: string): string {
  if (isGroup(m.to)) return m.to;
  return m.from === me ? m.to : m.from;
}

interface Conversation {
  unread: ChatMessage[];
  /** Id of the newest message, for ordering. */
  lastId: number;
}

export class ChatState {
  readonly me: string;
  #current: string | null = null;
  #conversations = new Map<string, Conversation>();
  #seen = new Set<number>();
  #marks = new Map<number, { to: string; mark: Mark }>();
  /**
   * Per recipient, the highest id a receipt named. A receipt means the recipient's cursor passed
   * that id, so every earlier message to them arrived too; it can also overtake the send reply.
   */
  #deliveredUpTo = new Map<string, number>();

  constructor(me: string) {
    this.me = me;
  }

  get current(): string | null {
    return this.#current;
  }

  /** Classifies an incoming message and records it (unread unless it is for the current conversation). */
  receive(m: ChatMessage): Arrival {
    if (!this.#remember(m.id)) return { kind: 'duplicate' };
    const conversation = conversationOf(m, this.me);
    const conv = this.#conversation(conversation);
    conv.lastId = Math.max(conv.lastId, m.id);
    if (conversation === this.#current) return { kind: 'show', conversation };
    if (m.from === this.me) return { kind: 'quiet', conversation };
    conv.unread.push(m);
    return { kind: 'unread', conversation, count: conv.unread.length };
  }

  /** Records an own message the server confirmed; returns its mark. */
  sent(m: ChatMessage): Mark {
    this.#remember(m.id);
    const conv = this.#conversation(conversationOf(m, this.me));
    conv.lastId = Math.max(conv.lastId, m.id);
    const mark: Mark = (this.#deliveredUpTo.get(m.to) ?? 0) >= m.id ? 'delivered' : 'stored';
    this.#marks.set(m.id, { to: m.to, mark });
    if (this.#marks.size > MAX_MARKED) this.#marks.delete(first(this.#marks.keys())!);
    return mark;
  }

  /** A receipt for message `id` to `to`: the ids of own messages that just got ✓✓. */
  delivered(id: number, to: string): number[] {
    this.#deliveredUpTo.set(to, Math.max(id, this.#deliveredUpTo.get(to) ?? 0));
    const changed: number[] = [];
    for (const [mid, entry] of this.#marks) {
      if (entry.to === to && mid <= id && entry.mark === 'stored') {
        entry.mark = 'delivered';
        changed.push(mid);
      }
    }
    return changed;
  }

  markOf(id: number): Mark | undefined {
    return this.#marks.get(id)?.mark;
  }

  /** Makes `name` current; returns its unread messages (oldest first), now read. */
  switchTo(name: string | null): ChatMessage[] {
    this.#current = name === null ? null : normalizeTarget(name);
    if (this.#current === null) return [];
    const conv = this.#conversation(this.#current);
    const unread = conv.unread;
    conv.unread = [];
    return unread;
  }

  /** Forgets the current conversation if it is `name` (e.g. a group just left). */
  leave(name: string): void {
    if (this.#current === normalizeTarget(name)) this.#current = null;
  }

  unreadIn(name: string): number {
    return this.#conversations.get(normalizeTarget(name))?.unread.length ?? 0;
  }

  /** Conversations with unread messages, the most recently active first. */
  unread(): UnreadCount[] {
    return [...this.#conversations.entries()]
      .filter(([, c]) => c.unread.length > 0)
      .sort(([, a], [, b]) => b.lastId - a.lastId)
      .map(([conversation, c]) => ({ conversation, count: c.unread.length }));
  }

  totalUnread(): number {
    return this.unread().reduce((sum, u) => sum + u.count, 0);
  }

  /** Every conversation seen this session, the most recently active first. */
  conversations(): string[] {
    return [...this.#conversations.entries()].sort(([, a], [, b]) => b.lastId - a.lastId).map(([name]) => name);
  }

  /** Remembers a conversation (e.g. after /to) so it is offered for completion. */
  touch(name: string): void {
    this.#conversation(normalizeTarget(name));
  }

  #conversation(name: string): Conversation {
    let conv = this.#conversations.get(name);
    if (!conv) {
      conv = { unread: [], lastId: 0 };
      this.#conversations.set(name, conv);
    }
    return conv;
  }

  /** False if `id` was seen before. */
  #remember(id: number): boolean {
    if (this.#seen.has(id)) return false;
    this.#seen.add(id);
    if (this.#seen.size > MAX_SEEN) this.#seen.delete(first(this.#seen)!);
    return true;
  }
}

function first<T>(items: Iterable<T>): T | undefined {
  for (const item of items) return item;
  return undefined;
}

/** Names known from different sources, for completion and for deciding which presence to show. */
export class Directory {
  online = new Set<string>();
  friends = new Map<string, 'friend' | 'incoming' | 'outgoing'>();
  /** Group names with '#'; `true` when this user is a member. */
  groups = new Map<string, boolean>();

  setOnline(users: string[]): void {
    this.online = new Set(users);
  }

  presence(user: string, online: boolean): void {
    if (online) this.online.add(user);
    else this.online.delete(user);
  }

  isFriend(user: string): boolean {
    return this.friends.get(user) === 'friend';
  }

  memberOf(): string[] {
    return [...this.groups.entries()].filter(([, member]) => member).map(([name]) => name);
  }

  /** Every known user and group name (groups with '#'), plus `extra`, sorted, without `me`. */
  names(me: string, extra: Iterable<string> = []): string[] {
    const all = new Set([...this.online, ...this.friends.keys(), ...this.groups.keys(), ...extra]);
    all.delete(me);
    return [...all].sort();
  }
}
