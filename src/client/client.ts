// ChatClient: the library the CLI is built on. One TCP connection, requests matched to replies
// by id, server pushes surfaced as typed events.
import { hostPort } from '../protocol/address.js';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { FrameDecoder, encodeJsonFrame } from '../protocol/frame.js';
import type {
  BlockedUser,
  SignedIdentity,
  Candidate,
  ChatMessage, FriendInfo, GroupInfo, GroupMember, OfferFileInfo, OfferInfo, Request, ServerFrame,
  SessionEntry, ServerEventMap,
} from '../protocol/messages.js';
import { isErrorCode } from '../protocol/errors.js';
import { isServerEvent } from '../protocol/messages.js';
import { PROTOCOL_VERSION } from '../protocol/version.js';
import { dialServer, type ClientTlsOptions } from './dial.js';
import { ClientError } from './errors.js';

export interface ChatClientOptions {
  host: string;
  port: number;
  /** Give up connecting (and on each request) after this long. @default 10000 */
  timeoutMs?: number;
  /** Client software name sent in hello. @default 'chat-client' */
  client?: string;
  /** Largest frame accepted from the server. @default 16 MiB */
  maxFrameBytes?: number;
  /** TLS settings (protocol.md §1.1); `false` for plaintext, which the server must allow. @default {} (CA-verified TLS) */
  tls?: false | ClientTlsOptions;
}

/** The server's events (protocol.md §4, declared once in src/protocol/messages.ts) and the client's own `close`. */
export interface ChatClientEvents extends ServerEventMap {
  /** The connection ended; `error` says why when it was not our own close(). */
  close: [ClientError | undefined];
}

export interface HelloResult {
  version: number;
  server: string;
  /** This client's address as the server sees it. */
  address: string;
  limits: { maxFrameBytes: number; maxMessageBytes: number };
}

type Pending = { resolve: (value: unknown) => void; reject: (err: Error) => void; timer: NodeJS.Timeout };
type Params<T extends Request['type']> = Omit<Extract<Request, { type: T }>, 'id' | 'type'>;

/** Acknowledgements wait this long to be sent as one (each costs the server a few store queries). */
const ACK_DELAY_MS = 250;

export class ChatClient extends EventEmitter<ChatClientEvents> {
  readonly server: string;
  hello!: HelloResult;
  user: string | null = null;
  readonly #socket: Socket;
  readonly #timeoutMs: number;
  readonly #decoder: FrameDecoder;
  #nextId = 1;
  #pending = new Map<number, Pending>();
  #closing = false;
  #ackUpTo = 0;
  #ackTimer: NodeJS.Timeout | null = null;
  #failure: ClientError | undefined;

  private constructor(socket: Socket, options: ChatClientOptions) {
    super();
    this.server = hostPort(options.host, options.port);
    this.#socket = socket;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#decoder = new FrameDecoder({ maxFrameBytes: options.maxFrameBytes ?? 16 * 1024 * 1024 });
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.#onData(chunk));
    // Reported through 'close', with the reason.
    socket.on('error', (err: NodeJS.ErrnoException) => void (this.#failure ??= new ClientError('closed', `connection to ${this.server} failed (${err.code ?? err.message})`)));
    socket.on('close', () => this.#onClose());
  }

  /** Connects and completes the version handshake. Rejects with ClientError('unreachable') if no server answers. */
  static async connect(options: ChatClientOptions): Promise<ChatClient> {
    // dialServer rejects with ClientError('unreachable') or ('untrusted').
    const socket = await dialServer(options);
    const client = new ChatClient(socket, options);
    try {
      client.hello = await client.request('hello', { version: PROTOCOL_VERSION, client: options.client ?? 'chat-client' });
    } catch (err) {
      // Nobody gets this client: its socket must not stay open (it would keep the process alive).
      client.#closing = true;
      socket.destroy();
      if (options.tls === false && err instanceof ClientError && err.code === 'closed') {
        throw new ClientError('closed', `${client.server} closed the connection at hello`, 'tls_server');
      }
      throw err;
    }
    return client;
  }

  /** Sends one request; resolves with its result or rejects with ClientError carrying the wire code. */
  request<T = unknown, K extends Request['type'] = Request['type']>(type: K, params: Params<K>): Promise<T> {
    if (this.#closing || this.#socket.destroyed) return Promise.reject(new ClientError('closed', 'connection is closed'));
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new ClientError('timeout', `server did not answer ${type} within ${this.#timeoutMs} ms`));
      }, this.#timeoutMs);
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.#socket.write(encodeJsonFrame({ id, type, ...params }));
    });
  }

  /**
   * `invite`: a code from the server's operator, when it registers by invitation only.
   * `device`: this device's name, shown in the account's session list.
   */
  async register(user: string, password: string, invite?: string, device?: string, identity?: string): Promise<{ user: string; token: string }> {
    const params = { user, password, ...(invite === undefined ? {} : { invite }), ...(device === undefined ? {} : { device }), ...(identity ? { identity } : {}) };
    return this.#loggedIn(await this.request<{ user: string; token: string }>('register', params));
  }

  /** `device`: this device's name, shown in the account's session list; `identity`: its Ed25519 key (§4.1). */
  async login(user: string, password: string, device?: string, identity?: string): Promise<{ user: string; token: string }> {
    const params = { user, password, ...(device === undefined ? {} : { device }), ...(identity ? { identity } : {}) };
    return this.#loggedIn(await this.request<{ user: string; token: string }>('login', params));
  }

  /** Resumes a saved session; `identity` (re)registers this device's Ed25519 key (§4.1). */
  async auth(token: string, identity?: string): Promise<{ user: string }> {
    return this.#loggedIn(await this.request<{ user: string }>('auth', identity ? { token, identity } : { token }));
  }

  /** The identity keys a user's devices registered, as the server says (§4.1): pin, never trust. */
  async deviceKeys(user: string): Promise<{ user: string; keys: { device: string; key: string }[] }> {
    return this.request('device_keys', { user });
  }

  #loggedIn<T extends { user: string }>(result: T): T {
    this.user = result.user;
    return result;
  }

  logout(): Promise<unknown> {
    return this.request('logout', {});
  }

  /** This account's sessions (devices), most recently used first. */
  async sessions(): Promise<SessionEntry[]> {
    return (await this.request<{ sessions: SessionEntry[] }>('sessions', {})).sessions;
  }

  /** Revokes one of this account's other sessions: its token stops working, its connections close. */
  async revokeSession(session: number): Promise<number> {
    return (await this.request<{ revoked: number }>('revoke_session', { session })).revoked;
  }

  /** Revokes every session of this account but this one; resolves with how many. */
  async revokeOtherSessions(): Promise<number> {
    return (await this.request<{ revoked: number }>('revoke_session', { others: true })).revoked;
  }

  /** Changes the password (the current one is checked) and revokes every other session; resolves with how many. */
  async changePassword(password: string, newPassword: string): Promise<number> {
    return (await this.request<{ revoked: number }>('change_password', { password, newPassword })).revoked;
  }

  async who(): Promise<string[]> {
    return (await this.request<{ users: string[] }>('who', {})).users;
  }

  /** Starts receiving events; resolves once the backlog this device missed has been delivered. */
  subscribe(): Promise<{ backlog: number }> {
    return this.request('subscribe', {});
  }

  /** Resolves with the stored message (the server's receipt: id and time, plus our text). */
  async send(to: string, text: string): Promise<ChatMessage> {
    const receipt = await this.request<Omit<ChatMessage, 'text'>>('send', { to, text });
    return { ...receipt, text };
  }

  history(withUser: string, options: { limit?: number; before?: number } = {}): Promise<{ messages: ChatMessage[]; more: boolean }> {
    return this.request('history', { with: withUser, ...options });
  }

  /** Marks messages up to `id` as delivered to this device; acknowledgements are coalesced. */
  acknowledge(id: number): void {
    this.#ackUpTo = Math.max(this.#ackUpTo, id);
    this.#ackTimer ??= setTimeout(() => void this.flushAcks(), ACK_DELAY_MS);
  }

  /** Sends the pending acknowledgement now. */
  async flushAcks(): Promise<void> {
    if (this.#ackTimer) clearTimeout(this.#ackTimer);
    this.#ackTimer = null;
    if (this.#ackUpTo === 0) return;
    const upTo = this.#ackUpTo;
    this.#ackUpTo = 0;
    await this.request('ack', { upTo }).catch(() => {});
  }

  // Groups (names without '#'; messages to a group go to `#name`).
  groupCreate(group: string, options: { private?: boolean } = {}): Promise<{ group: string; private: boolean }> {
    return this.request('group_create', { group, private: options.private });
  }

  groupJoin(group: string): Promise<{ group: string }> {
    return this.request('group_join', { group });
  }

  groupLeave(group: string): Promise<{ group: string }> {
    return this.request('group_leave', { group });
  }

  async groupMembers(group: string): Promise<GroupMember[]> {
    return (await this.request<{ members: GroupMember[] }>('group_members', { group })).members;
  }

  async groupList(): Promise<GroupInfo[]> {
    return (await this.request<{ groups: GroupInfo[] }>('group_list', {})).groups;
  }

  groupInvite(group: string, user: string): Promise<unknown> {
    return this.request('group_invite', { group, user });
  }

  groupKick(group: string, user: string): Promise<unknown> {
    return this.request('group_kick', { group, user });
  }

  groupDelete(group: string): Promise<unknown> {
    return this.request('group_delete', { group });
  }

  // Contacts.
  friendAdd(user: string): Promise<{ user: string; state: FriendInfo['state'] }> {
    return this.request('friend_add', { user });
  }

  friendAccept(user: string): Promise<unknown> {
    return this.request('friend_accept', { user });
  }

  friendDecline(user: string): Promise<unknown> {
    return this.request('friend_decline', { user });
  }

  friendRemove(user: string): Promise<unknown> {
    return this.request('friend_remove', { user });
  }

  friendNote(user: string, note: string): Promise<unknown> {
    return this.request('friend_note', { user, note });
  }

  async friendList(): Promise<FriendInfo[]> {
    return (await this.request<{ friends: FriendInfo[] }>('friend_list', {})).friends;
  }

  /**
   * Blocks `user` (protocol.md §4.7): the server drops their direct messages, offers, group
   * invitations and friend requests to us without telling them. `added` is false if already blocked.
   */
  block(user: string): Promise<{ user: string; added: boolean }> {
    return this.request('block', { user });
  }

  /** Stops blocking `user` (error bad_request if we did not). */
  unblock(user: string): Promise<{ user: string }> {
    return this.request('unblock', { user });
  }

  /** The users we block, by name, with when. */
  async blocked(): Promise<BlockedUser[]> {
    return (await this.request<{ users: BlockedUser[] }>('blocked', {})).users;
  }

  async searchUsers(prefix: string, limit?: number): Promise<string[]> {
    return (await this.request<{ users: string[] }>('users_search', { prefix, limit })).users;
  }

  /**
   * Makes an offer (protocol.md §4.4): announces it, then sends the file list in pages that stay
   * well under the frame limit. Resolves once the recipient can see it.
   */
  async offer(
    to: string,
    secret: { transfer: string; token: string; candidates: Candidate[]; timeoutMs: number; key?: string; identity?: SignedIdentity; verify?: boolean; via?: string[] },
    files: OfferFileInfo[],
  ): Promise<{ offer: string; online: boolean; expiresAt: number }> {
    const totalBytes = files.reduce((sum, f) => sum + f.size, 0);
    const created = await this.request<{ offer: string; online: boolean; expiresAt: number }>('offer', {
      to, ...secret, fileCount: files.length, totalBytes,
    });
    const pages = filePages(files);
    for (const [i, page] of pages.entries()) {
      await this.request('offer_files', { offer: created.offer, files: page, done: i === pages.length - 1 });
    }
    return created;
  }

  /** Accepts an offer, with this side's public key and reverse-connection candidates (§T8, §T9). */
  /** Accepts an offer; `relay` names the relay to use when it is not this server's address (a cluster node's). */
  accept(offer: string, extra: { key?: string; candidates?: Candidate[]; identity?: SignedIdentity; verify?: boolean; via?: string[] } = {}): Promise<{ offer: OfferInfo; relay?: Candidate }> {
    return this.request<{ offer: OfferInfo; relay?: Candidate }>('accept', { offer, ...extra });
  }

  offers(): Promise<OfferInfo[]> {
    return this.request<{ offers: OfferInfo[] }>('offers', {}).then((r) => r.offers);
  }

  /** The whole file list of an offer, fetched page by page. */
  async offerFiles(offer: string): Promise<OfferFileInfo[]> {
    const files: OfferFileInfo[] = [];
    for (let guard = 0; guard < 10_000; guard++) {
      const page = await this.request<{ files: OfferFileInfo[]; total: number }>('offer_list', { offer, start: files.length });
      files.push(...page.files);
      if (page.files.length === 0 || files.length >= page.total) break;
    }
    return files;
  }

  /** Ends the connection after flushing acknowledgements; resolves when it is closed. */
  async close(): Promise<void> {
    if (!this.#socket.destroyed && !this.#closing) await this.flushAcks();
    this.#closing = true;
    if (this.#socket.destroyed) return;
    await new Promise<void>((resolve) => {
      this.#socket.once('close', () => resolve());
      this.#socket.end();
      setTimeout(() => this.#socket.destroy(), 1000).unref();
    });
  }

  #onData(chunk: Buffer): void {
    let payloads: Buffer[];
    try {
      payloads = this.#decoder.push(chunk);
    } catch (err) {
      this.#fail(new ClientError('protocol', `bad frame from server: ${(err as Error).message}`));
      return;
    }
    for (const payload of payloads) {
      let frame: ServerFrame;
      try {
        frame = JSON.parse(payload.toString('utf8')) as ServerFrame;
      } catch {
        this.#fail(new ClientError('protocol', 'server sent invalid JSON'));
        return;
      }
      this.#dispatch(frame);
    }
  }

  #dispatch(frame: ServerFrame): void {
    if (frame.type === 'event') {
      // Only the events of §4, with an object for data: a server frame named "close" or
      // "error" must not pose as the client's own events (an "error" with no listener throws).
      if (!isServerEvent(frame.event) || typeof frame.data !== 'object' || frame.data === null) return;
      // The server checks we are alive (protocol.md §3.4): any request answers.
      if (frame.event === 'ping') void this.request('ping', {}).catch(() => {});
      (this.emit as (event: string, data: unknown) => boolean)(frame.event, frame.data);
      return;
    }
    const pending = typeof frame.id === 'number' ? this.#pending.get(frame.id) : undefined;
    if (!pending) {
      if (frame.type === 'error') this.#fail(errorOf(frame));
      return;
    }
    this.#pending.delete(frame.id!);
    clearTimeout(pending.timer);
    if (frame.type === 'ok') pending.resolve(frame.result);
    else if (frame.type === 'error') pending.reject(errorOf(frame));
    else pending.reject(new ClientError('protocol', 'server sent a reply of an unknown type'));
  }

  #fail(err: ClientError): void {
    this.#failure ??= err;
    this.#socket.destroy();
  }

  #onClose(): void {
    if (this.#ackTimer) clearTimeout(this.#ackTimer);
    const reason = this.#closing ? undefined : (this.#failure ?? new ClientError('closed', `connection to ${this.server} closed`));
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(reason ?? new ClientError('closed', 'connection closed'));
    }
    this.#pending.clear();
    this.emit('close', reason);
  }
}

/** A server error reply as a ClientError; a code the protocol does not define reads as `protocol`. */
function errorOf(frame: { code: unknown; message: unknown }): ClientError {
  const message = typeof frame.message === 'string' ? frame.message : 'the server sent an error without a message';
  return isErrorCode(frame.code) ? new ClientError(frame.code, message) : new ClientError('protocol', `${message} (unknown error code)`);
}

const PAGE_FILES = 1000;
const PAGE_BYTES = 128 * 1024;

/** Splits a file list so that each offer_files request stays small. */
export function filePages(files: OfferFileInfo[]): OfferFileInfo[][] {
  const pages: OfferFileInfo[][] = [[]];
  let bytes = 0;
  for (const { path, size, mime, mode, mtimeMs } of files) {
    const file = { path, size, mime, mode, mtimeMs };
    const cost = Buffer.byteLength(path) + 100;
    const page = pages[pages.length - 1]!;
    if (page.length > 0 && (page.length >= PAGE_FILES || bytes + cost > PAGE_BYTES)) {
      pages.push([file]);
      bytes = cost;
    } else {
      page.push(file);
      bytes += cost;
    }
  }
  return pages;
}

