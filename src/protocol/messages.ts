// Message shapes on the control channel (protocol.md §3–§4) and the one parser for requests.
import { ProtocolError, type ErrorCode } from './errors.js';

/** One stored direct message, as the server reports it. */
export interface ChatMessage {
  id: number;
  from: string;
  /** A user name, or `#name` for a group message. */
  to: string;
  text: string;
  /** Milliseconds since the epoch, server clock. */
  at: number;
}

export interface Candidate {
  host: string;
  port: number;
}

/** One file of an offer, as the receiver sees it. */
export interface OfferFileInfo {
  path: string;
  size: number;
  mime: string;
  mode: number;
  mtimeMs: number;
}

/** An offer as delivered to its receiver (the file list is fetched in pages). */
export interface OfferInfo {
  id: string;
  /** The sender's transfer id, bound into the peer handshake. */
  transfer: string;
  from: string;
  to: string;
  token: string;
  candidates: Candidate[];
  /** The sender address the server saw on the sender's own connection. */
  observed: string;
  fileCount: number;
  totalBytes: number;
  at: number;
  expiresAt: number;
  /** The sender's X25519 public key (base64url), for end-to-end encryption (§T9). */
  key?: string;
  /** The sender's signed identity (§T10): absent from chats older than transfer protocol 5. */
  identity?: SignedIdentity;
  /** The sender asks both sides to compare a code before any data (§T10.4). */
  verify?: boolean;
  /** The only paths the sender uses (`--via`, Part II §T8); absent = all. Unknown names are ignored. */
  via?: string[];
}

/** A device identity and its signature over an offer or an accept (protocol.md §T10). */
export interface SignedIdentity {
  /** The device's Ed25519 public key, 32 bytes base64url. */
  key: string;
  /** The device's name, as it says (at most 64 characters). */
  device: string;
  /** Ed25519 signature of the bytes §T10.2 lists, 64 bytes base64url. */
  sig: string;
}

/** What the sender learns when its offer is accepted (protocol.md §4.4). */
export interface OfferAccepted {
  offer: string;
  by: string;
  /** The receiver's address as the server saw it. */
  observed: string;
  /** The receiver's X25519 public key (base64url), for end-to-end encryption (§T9). */
  key?: string;
  /** Where the receiver listens for a reverse connection (§T8). */
  candidates?: Candidate[];
  /** The receiver's signed identity (§T10). */
  identity?: SignedIdentity;
  /** The receiver asks both sides to compare a code before any data (§T10.4). */
  verify?: boolean;
  /** The relay to use for this transfer (a cluster node's own address, §4.8); the server's when absent. */
  relay?: Candidate;
  /** The only paths the receiver uses (`--via`, Part II §T8); absent = all. */
  via?: string[];
}

/** The reply to `punch` (protocol.md §4.9): where the server saw each peer's punch port. */
export interface PunchMeeting {
  /** This connection's own address and port as the server saw them (its NAT mapping). */
  observed: Candidate;
  /** The other peer's, seen the same way: connect to it now. */
  peer: Candidate;
}

/** Why an offer stopped waiting (protocol.md §4.4). */
export type OfferCloseReason = 'accepted' | 'rejected' | 'withdrawn' | 'expired' | 'sender_gone';

/** A group as listed to a user (protocol.md §4.6). */
export interface GroupInfo {
  name: string;
  private: boolean;
  owner: string;
  members: number;
  /** True if the caller is a member. */
  member: boolean;
  /** Who invited the caller, while it has not joined (it may join even if the group is private). */
  invitedBy?: string;
}

export interface GroupMember {
  user: string;
  role: 'owner' | 'member';
  online: boolean;
}

export type GroupAction = 'created' | 'joined' | 'left' | 'kicked' | 'invited' | 'deleted';
export interface GroupEvent {
  group: string;
  action: GroupAction;
  user: string;
  by: string;
  at: number;
}

/** A contact as the caller sees it (protocol.md §4.7). */
export interface FriendInfo {
  user: string;
  /** friend: both agreed; outgoing: the caller asked; incoming: they asked the caller. */
  state: 'friend' | 'incoming' | 'outgoing';
  note: string;
  online: boolean;
}

/** A user the caller blocks (protocol.md §4.7), and since when. */
export interface BlockedUser {
  user: string;
  at: number;
}

export type FriendAction = 'requested' | 'accepted' | 'declined' | 'removed';
export interface FriendEvent {
  user: string;
  action: FriendAction;
  at: number;
}

/** One of the caller's sessions (devices), as `sessions` lists them (protocol.md §4.1). */
export interface SessionEntry {
  id: number;
  /** The name the device gave at login (sanitized by the server; may be empty). */
  device: string;
  createdAt: number;
  lastSeenAt: number;
  /** The address of its latest login or resume. */
  address: string;
  /** True for the session of the connection asking. */
  current: boolean;
}

type Base<T extends string> = { id: number; type: T };

export type Request =
  | (Base<'hello'> & { version: number; client?: string })
  | (Base<'register'> & { user: string; password: string; invite?: string; device?: string; identity?: string })
  | (Base<'login'> & { user: string; password: string; device?: string; identity?: string })
  | (Base<'auth'> & { token: string; identity?: string })
  | Base<'logout'>
  | Base<'whoami'>
  | Base<'sessions'>
  | (Base<'device_keys'> & { user: string })
  | (Base<'revoke_session'> & { session?: number; others?: boolean })
  | (Base<'change_password'> & { password: string; newPassword: string })
  | Base<'ping'>
  | Base<'who'>
  | Base<'subscribe'>
  | (Base<'send'> & { to: string; text: string })
  | (Base<'history'> & { with: string; limit?: number; before?: number })
  | (Base<'ack'> & { upTo: number })
  | (Base<'offer'> & {
      to: string;
      transfer: string;
      token: string;
      candidates: Candidate[];
      fileCount: number;
      totalBytes: number;
      timeoutMs: number;
      key?: string;
      identity?: SignedIdentity;
      verify?: boolean;
      /** Part II §T8: the only paths the sender uses; absent = all. */
      via?: string[];
    })
  | (Base<'offer_files'> & { offer: string; files: OfferFileInfo[]; done: boolean })
  | (Base<'offer_list'> & { offer: string; start?: number; limit?: number })
  | Base<'offers'>
  | (Base<'accept'> & { offer: string; key?: string; candidates?: Candidate[]; identity?: SignedIdentity; verify?: boolean; via?: string[] })
  | (Base<'reject'> & { offer: string; reason?: string })
  | (Base<'withdraw'> & { offer: string; reason?: string })
  | (Base<'group_create'> & { group: string; private?: boolean })
  | (Base<'group_join'> & { group: string })
  | (Base<'group_leave'> & { group: string })
  | (Base<'group_members'> & { group: string })
  | Base<'group_list'>
  | (Base<'group_invite'> & { group: string; user: string })
  | (Base<'group_kick'> & { group: string; user: string })
  | (Base<'group_delete'> & { group: string })
  | (Base<'friend_add'> & { user: string })
  | (Base<'friend_accept'> & { user: string })
  | (Base<'friend_decline'> & { user: string })
  | (Base<'friend_remove'> & { user: string })
  | (Base<'friend_note'> & { user: string; note: string })
  | Base<'friend_list'>
  | (Base<'block'> & { user: string })
  | (Base<'unblock'> & { user: string })
  | Base<'blocked'>
  | (Base<'users_search'> & { prefix: string; limit?: number })
  | (Base<'relay'> & { version: number; transfer: string; role: string; proof: string })
  | (Base<'punch'> & { version: number; transfer: string; role: string; proof: string });

export type RequestType = Request['type'];

/** Server → client frames. */
export type OkReply = { type: 'ok'; id: number; result: unknown };
export type ErrorReply = { type: 'error'; id: number | null; code: ErrorCode; message: string };

export type ServerEvent =
  | { type: 'event'; event: 'message'; data: ChatMessage }
  | { type: 'event'; event: 'presence'; data: { user: string; online: boolean; at: number } }
  | { type: 'event'; event: 'offer'; data: OfferInfo }
  | { type: 'event'; event: 'offer_closed'; data: { offer: string; reason: OfferCloseReason; by: string; message?: string } }
  | { type: 'event'; event: 'offer_accepted'; data: OfferAccepted }
  | { type: 'event'; event: 'shutdown'; data: { reason: string } }
  /** The server heard nothing for a while: answer with a `ping` request (§3.4). */
  | { type: 'event'; event: 'ping'; data: { at: number } }
  | { type: 'event'; event: 'group'; data: GroupEvent }
  | { type: 'event'; event: 'friend'; data: FriendEvent }
  | { type: 'event'; event: 'delivered'; data: { id: number; to: string; at: number } };

export type ServerFrame = OkReply | ErrorReply | ServerEvent;

/** The data of server event `E`. */
export type EventData<E extends ServerEvent['event']> = Extract<ServerEvent, { event: E }>['data'];

/** Server events as EventEmitter argument lists: `{ message: [ChatMessage], … }`. */
export type ServerEventMap = { [E in ServerEvent['event']]: [EventData<E>] };

/** Every event name of §4 a server may send; a client ignores any other. */
export const SERVER_EVENTS = ['message', 'presence', 'offer', 'offer_closed', 'offer_accepted', 'shutdown', 'ping', 'group', 'friend', 'delivered'] as const satisfies readonly ServerEvent['event'][];

// Fails to compile if an event is added to ServerEvent without its name above.
type MissingEvent = Exclude<ServerEvent['event'], (typeof SERVER_EVENTS)[number]>;
const everyEventNamed: MissingEvent extends never ? true : false = true;
void everyEventNamed;

/** True for an event name the protocol defines. */
export function isServerEvent(name: unknown): name is ServerEvent['event'] {
  return typeof name === 'string' && (SERVER_EVENTS as readonly string[]).includes(name);
}

type FieldKind = 'string' | 'int' | 'bool' | 'array' | 'object';
type Schema = Record<string, FieldKind | `${FieldKind}?`>;

// protocol.md §4: every request type and its fields. `?` marks optional fields.
const SCHEMAS: Record<RequestType, Schema> = {
  hello: { version: 'int', client: 'string?' },
  register: { user: 'string', password: 'string', invite: 'string?', device: 'string?', identity: 'string?' },
  login: { user: 'string', password: 'string', device: 'string?', identity: 'string?' },
  auth: { token: 'string', identity: 'string?' },
  logout: {},
  whoami: {},
  sessions: {},
  device_keys: { user: 'string' },
  revoke_session: { session: 'int?', others: 'bool?' },
  change_password: { password: 'string', newPassword: 'string' },
  ping: {},
  who: {},
  subscribe: {},
  send: { to: 'string', text: 'string' },
  history: { with: 'string', limit: 'int?', before: 'int?' },
  ack: { upTo: 'int' },
  offer: {
    to: 'string',
    transfer: 'string',
    token: 'string',
    candidates: 'array',
    fileCount: 'int',
    totalBytes: 'int',
    timeoutMs: 'int',
    key: 'string?',
    identity: 'object?',
    verify: 'bool?',
    via: 'array?',
  },
  offer_files: { offer: 'string', files: 'array', done: 'bool' },
  offer_list: { offer: 'string', start: 'int?', limit: 'int?' },
  offers: {},
  accept: { offer: 'string', key: 'string?', candidates: 'array?', identity: 'object?', verify: 'bool?', via: 'array?' },
  reject: { offer: 'string', reason: 'string?' },
  withdraw: { offer: 'string', reason: 'string?' },
  group_create: { group: 'string', private: 'bool?' },
  group_join: { group: 'string' },
  group_leave: { group: 'string' },
  group_members: { group: 'string' },
  group_list: {},
  group_invite: { group: 'string', user: 'string' },
  group_kick: { group: 'string', user: 'string' },
  group_delete: { group: 'string' },
  friend_add: { user: 'string' },
  friend_accept: { user: 'string' },
  friend_decline: { user: 'string' },
  friend_remove: { user: 'string' },
  friend_note: { user: 'string', note: 'string' },
  friend_list: {},
  block: { user: 'string' },
  unblock: { user: 'string' },
  blocked: {},
  users_search: { prefix: 'string', limit: 'int?' },
  relay: { version: 'int', transfer: 'string', role: 'string', proof: 'string' },
  punch: { version: 'int', transfer: 'string', role: 'string', proof: 'string' },
};

/** Request types, in the order protocol.md lists them. */
export const REQUEST_TYPES = Object.keys(SCHEMAS) as RequestType[];

function hasKind(value: unknown, kind: FieldKind): boolean {
  switch (kind) {
    case 'string':
      return typeof value === 'string';
    case 'int':
      return Number.isSafeInteger(value) && (value as number) >= 0;
    case 'bool':
      return typeof value === 'boolean';
    case 'array':
      return Array.isArray(value);
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
  }
}

/** The id of a decoded frame if it has a valid one, else null (for error replies). */
export function requestIdOf(value: unknown): number | null {
  const id = (value as { id?: unknown } | null)?.id;
  return Number.isSafeInteger(id) && (id as number) > 0 ? (id as number) : null;
}

// A value from the wire, for an error message: short, and never throws. (String() of a parsed
// object can: {"toString":1} has no callable toString, and 100k nested arrays overflow the stack.)
function shortly(value: unknown): string {
  if (typeof value === 'string') return value.slice(0, 40);
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'an object';
  return String(value);
}

/**
 * Parses one frame payload into a Request, checking the type and every field's kind.
 * Throws ProtocolError: bad_json, bad_request, unknown_type.
 */
export function parseRequest(payload: Buffer): Request {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch {
    throw new ProtocolError('bad_json', 'frame is not valid UTF-8 JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ProtocolError('bad_request', 'a request must be a JSON object');
  }
  const record = value as Record<string, unknown>;
  if (requestIdOf(record) === null) throw new ProtocolError('bad_request', 'id must be a positive integer');
  const type = record.type;
  if (typeof type !== 'string' || !Object.hasOwn(SCHEMAS, type)) {
    throw new ProtocolError('unknown_type', `unknown request type: ${shortly(type)}`);
  }
  for (const [field, spec] of Object.entries(SCHEMAS[type as RequestType])) {
    const optional = spec.endsWith('?');
    const kind = (optional ? spec.slice(0, -1) : spec) as FieldKind;
    const present = record[field] !== undefined && record[field] !== null;
    if (!present && optional) {
      // null means absent: handlers test optional fields against undefined (`key?: string`).
      delete record[field];
      continue;
    }
    if (!present || !hasKind(record[field], kind)) {
      throw new ProtocolError('bad_request', `${type}: field "${field}" must be ${optional ? 'an optional ' : 'a '}${kind}`);
    }
  }
  return record as Request;
}
