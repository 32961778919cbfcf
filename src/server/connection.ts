// One Connection per client socket, a transport: decode frames, run requests in order (pipelining
// consecutive sends), write replies and events with a bound on what may queue up for a client
// that does not read, ping an idle client. What a subscribed device is sent, and in what order,
// is its Mailbox's (delivery/mailbox.ts), never the connection's.
import type { Socket } from 'node:net';
import { ProtocolError } from '../protocol/errors.js';
import { encodeEvent } from '../protocol/encode-event.js';
import { FrameDecoder, encodeJsonFrame } from '../protocol/frame.js';
import { parseRequest, requestIdOf, type Request, type ServerFrame } from '../protocol/messages.js';
import type { ServerLimits } from './options.js';

export type ConnectionState = 'hello' | 'login' | 'ready' | 'closed';

export interface ConnectionHooks {
  /** Runs one request; resolves with the reply's result or throws (ProtocolError for wire errors). */
  handle(conn: Connection, request: Request): Promise<unknown>;
  /**
   * Whether the store commits messages in the order they are handed to it (SQLite's one writer):
   * then a logged-in connection's consecutive `send`s are pipelined (see #drainRequests).
   */
  pipelineSends: boolean;
  closed(conn: Connection): void;
  log(line: string): void;
}

let nextId = 1;

/** How a request ended: its reply's result, or what it threw. */
type Outcome = { result: unknown; err?: undefined } | { err: unknown; result?: undefined };

/** A pipelined send, with its outcome once known. */
interface Slot {
  request: Request;
  outcome?: Outcome;
}

/** A connection past login (protocol.md §3.2): what the handlers of logged-in requests get. */
export interface ReadyConnection extends Connection {
  readonly state: 'ready';
  readonly user: string;
}

export class Connection {
  readonly id: string;
  readonly remote: string;
  #state: ConnectionState = 'hello';
  #user: string | null = null;
  #sessionId = 0;

  readonly #socket: Socket;
  readonly #limits: ServerLimits;
  readonly #hooks: ConnectionHooks;
  readonly #decoder: FrameDecoder;
  #pending: Request[] = [];
  #running = false;
  /** Pipelined sends not answered yet, in request order, each with its outcome once known. */
  #inPipeline: Slot[] = [];
  /** A request waiting for the pipeline to empty. */
  #whenPipelineEmpty: (() => void) | null = null;
  /** Resolves when the last pipelined send has reached the store, or failed before it (sendTurn). */
  #storeTurn: Promise<void> = Promise.resolve();
  /** Sends that took a turn and have not reached the store yet. */
  #beforeStore = 0;
  #timer: NodeJS.Timeout | null;
  #endAfterReply = false;
  #corked = false;
  /** Idle check (§3.4): when we last read from the client, and whether a ping is unanswered. */
  #idleTimer: NodeJS.Timeout | null = null;
  #lastRead = Date.now();
  #pinged = false;
  /** close() was called: nothing more is read or written, the socket is ending. */
  #closing = false;

  constructor(socket: Socket, node: string, limits: ServerLimits, hooks: ConnectionHooks) {
    this.id = `${node}:${nextId++}`;
    this.remote = `${stripMapped(socket.remoteAddress ?? '?')}:${socket.remotePort ?? 0}`;
    this.#socket = socket;
    this.#limits = limits;
    this.#hooks = hooks;
    this.#decoder = new FrameDecoder({ maxFrameBytes: limits.maxFrameBytes });
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.#onData(chunk));
    socket.on('error', (err) => this.#hooks.log(`conn ${this.id} ${this.remote} socket error: ${err.message}`));
    socket.on('close', () => this.#onClose());
    this.#timer = setTimeout(() => this.#onHandshakeTimeout(), limits.handshakeTimeoutMs);
    this.#timer.unref();
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** The logged-in user (null before login). */
  get user(): string | null {
    return this.#user;
  }

  /** The device session of a logged-in connection (0 before login). */
  get sessionId(): number {
    return this.#sessionId;
  }

  /** Logged in: the handlers of logged-in requests may run (handlers/index.ts). */
  isReady(): this is ReadyConnection {
    return this.#state === 'ready';
  }

  /** Nothing more can be written: closed, closing, or the peer is gone. */
  get closed(): boolean {
    return this.#state === 'closed' || this.#closing || !this.#socket.writable;
  }

  /** hello was answered: register, login or auth may follow. */
  greeted(): void {
    if (this.#state === 'hello') this.#state = 'login';
  }

  /** The client's IP address as this server sees it. */
  get remoteAddress(): string {
    return stripMapped(this.#socket.remoteAddress ?? '');
  }

  /** The client's TCP port as this server sees it (after any NAT: its mapping, protocol.md §4.9). */
  get remotePort(): number {
    return this.#socket.remotePort ?? 0;
  }

  /** Marks the connection authenticated as `user` with a device session. */
  authenticate(user: string, sessionId: number): void {
    this.#user = user;
    this.#sessionId = sessionId;
    this.#state = 'ready';
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#armIdle(this.#limits.pingIntervalMs);
  }

  #armIdle(ms: number): void {
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => this.#onIdle(), ms);
    this.#idleTimer.unref();
  }

  /** Pings a client that has been silent for pingIntervalMs; closes it if still silent pingTimeoutMs later. */
  #onIdle(): void {
    if (this.state === 'closed' || this.#closing) return;
    const { pingIntervalMs, pingTimeoutMs } = this.#limits;
    const silent = Date.now() - this.#lastRead;
    if (this.#pinged) {
      this.#hooks.log(`conn ${this.id} ${this.remote} did not answer a ping within ${pingTimeoutMs} ms; closing`);
      this.#socket.destroy();
      return;
    }
    if (silent < pingIntervalMs) return this.#armIdle(pingIntervalMs - silent);
    this.#pinged = true;
    this.send({ type: 'event', event: 'ping', data: { at: Date.now() } });
    this.#armIdle(pingTimeoutMs);
  }

  /**
   * Writes one frame (`encoded`: the same frame already encoded, when it goes to many connections).
   * A client that lets too much pile up is disconnected (its messages stay stored).
   */
  send(frame: ServerFrame, encoded?: Buffer): void {
    // A socket the peer already closed: no write (it would only build an error to throw away).
    if (this.closed) return;
    this.#write(encoded ?? (frame.type === 'event' ? encodeEvent(frame) : encodeJsonFrame(frame)));
  }

  #write(bytes: Buffer): void {
    this.#cork();
    this.#socket.write(bytes);
    if (this.#socket.writableLength > this.#limits.maxBufferedBytes) {
      this.#hooks.log(`conn ${this.id} ${this.remote} not reading: ${this.#socket.writableLength} bytes queued, disconnecting`);
      this.#closing = true; // once: nothing more is written to it
      this.#socket.destroy();
    }
  }

  /** Bytes written to this client that it has not taken yet. */
  get buffered(): number {
    return this.#socket.writableLength;
  }

  // Frames written in one tick leave in one write (one TLS record, one syscall).
  #cork(): void {
    if (this.#corked) return;
    this.#corked = true;
    this.#socket.cork();
    process.nextTick(() => {
      this.#corked = false;
      this.#socket.uncork();
    });
  }

  /** Writes frames already encoded (several at once), with the same bound as send(). */
  sendEncoded(frames: Buffer): void {
    if (this.closed) return;
    this.#write(frames);
  }

  /** Resolves once queued output has drained (or the connection is gone). */
  drained(): Promise<void> {
    // Below the high-water mark (or only corked for this tick) there is nothing to wait for.
    if (!this.#socket.writableNeedDrain || this.state === 'closed') return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.#socket.off('drain', done);
        this.#socket.off('close', done);
        resolve();
      };
      this.#socket.on('drain', done);
      this.#socket.on('close', done);
    });
  }

  /** A relay connection waits for its peer instead of logging in. */
  clearHandshakeTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #clearTimers(): void {
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#timer = this.#idleTimer = null;
  }

  /**
   * Stops being a chat connection: no more frames, replies or events; the raw socket and any
   * bytes read past the last frame go to the caller (the relay).
   */
  detach(): { socket: Socket; rest: Buffer } {
    const rest = this.#decoder.takeRest();
    this.#socket.removeAllListeners('data');
    this.#socket.removeAllListeners('close');
    this.#socket.pause();
    this.#onClose();
    return { socket: this.#socket, rest };
  }

  /** Closes the connection once the current request's reply is written. */
  endAfterReply(): void {
    this.#endAfterReply = true;
  }

  /** Sends an error and closes this connection only. */
  fail(err: ProtocolError, id: number | null = null): void {
    this.send({ type: 'error', id, code: err.code, message: err.message });
    this.close();
  }

  /** Ends the connection after flushing what was written. */
  close(): void {
    if (this.state === 'closed' || this.#closing) return;
    this.#closing = true;
    this.#pending = [];
    this.#clearTimers();
    this.#socket.end();
    this.#socket.resume(); // keep reading (and dropping) so the peer's end is seen
    // A peer that never reads must not keep the socket open forever.
    setTimeout(() => this.#socket.destroy(), 2000).unref();
  }

  #onData(chunk: Buffer): void {
    // After a fatal error (or logout, or shutdown) the rest of what the peer sends is dropped
    // unread: no second error, no write after end.
    if (this.#closing) return;
    this.#lastRead = Date.now();
    if (this.#pinged) {
      this.#pinged = false;
      this.#armIdle(this.#limits.pingIntervalMs);
    }
    let payloads: Buffer[];
    try {
      payloads = this.#decoder.push(chunk);
    } catch (err) {
      this.#hooks.log(`conn ${this.id} ${this.remote} ${(err as Error).message}; closing`);
      this.fail(err as ProtocolError);
      return;
    }
    for (const payload of payloads) this.#accept(payload);
    if (this.#pending.length + this.#inPipeline.length >= this.#limits.maxPendingRequests) this.#socket.pause();
  }

  #accept(payload: Buffer): void {
    if (this.#closing) return;
    let request: Request;
    try {
      request = parseRequest(payload);
    } catch (err) {
      const id = safeId(payload);
      this.send({ type: 'error', id, code: (err as ProtocolError).code, message: (err as Error).message });
      return;
    }
    this.#pending.push(request);
    if (!this.#running) void this.#drainRequests();
  }

  /**
   * Requests run in order, each after the one before it has been answered, except consecutive
   * `send`s of a logged-in connection when the store commits in call order: each starts while
   * the ones before it are still being stored, reaches the store after them (sendTurn), and is
   * answered after them. So they share a commit, and their replies a write, instead of one
   * commit and fsync per message per connection; any other request waits for them all.
   */
  async #drainRequests(): Promise<void> {
    this.#running = true;
    while (this.#pending.length > 0 && this.state !== 'closed' && !this.#closing) {
      const request = this.#pending.shift()!;
      if (request.type === 'send' && this.state === 'ready' && this.#hooks.pipelineSends) this.#pipeline(request);
      else {
        if (this.#inPipeline.length > 0) {
          await new Promise<void>((resolve) => (this.#whenPipelineEmpty = resolve));
          if ((this.state as ConnectionState) === 'closed' || this.#closing) break; // gone while its sends were stored
        }
        await this.#run(request);
      }
      this.#maybeResume();
    }
    this.#running = false;
  }

  #pipeline(request: Request): void {
    const slot: Slot = { request };
    this.#inPipeline.push(slot);
    this.#hooks.handle(this, request).then(
      (result) => this.#settle(slot, { result }),
      (err: unknown) => this.#settle(slot, { err }),
    );
  }

  /** Answers the pipelined sends at the head whose outcome is known. */
  #settle(slot: Slot, outcome: Outcome): void {
    slot.outcome = outcome;
    const queue = this.#inPipeline;
    let answered = 0;
    while (answered < queue.length && queue[answered]!.outcome) {
      const { request, outcome: o } = queue[answered++]!;
      this.#reply(request, o!);
    }
    if (answered === 0) return;
    queue.splice(0, answered);
    if (queue.length === 0 && this.#whenPipelineEmpty) {
      this.#whenPipelineEmpty();
      this.#whenPipelineEmpty = null;
    }
    this.#maybeResume();
  }

  /**
   * For a pipelined send: `ready` resolves once every earlier send of this connection has
   * reached the store (or failed); null when none is still on its way. Call `reached` once,
   * right after handing the message to the store (or on failure).
   */
  sendTurn(): { ready: Promise<void> | null; reached: () => void } {
    const ready = this.#beforeStore > 0 ? this.#storeTurn : null;
    this.#beforeStore++;
    let resolveMine!: () => void;
    const mine = new Promise<void>((resolve) => (resolveMine = resolve));
    // Also after the earlier ones: a send that fails before the store does not let a later one pass them.
    this.#storeTurn = ready ? ready.then(() => mine) : mine;
    const reached = (): void => {
      this.#beforeStore--;
      resolveMine();
    };
    return { ready, reached };
  }

  #maybeResume(): void {
    if (this.#pending.length + this.#inPipeline.length < this.#limits.maxPendingRequests / 2) this.#socket.resume();
  }

  async #run(request: Request): Promise<void> {
    try {
      this.#reply(request, { result: await this.#hooks.handle(this, request) });
    } catch (err) {
      this.#reply(request, { err });
    }
  }

  #reply(request: Request, outcome: Outcome): void {
    const { err } = outcome;
    if (!('err' in outcome)) {
      this.send({ type: 'ok', id: request.id, result: outcome.result ?? {} });
      if (this.#endAfterReply) this.close();
      return;
    }
    if (err instanceof ProtocolError) {
      if (err.fatal) this.fail(err, request.id);
      else this.send({ type: 'error', id: request.id, code: err.code, message: err.message });
      return;
    }
    this.#hooks.log(`conn ${this.id} ${request.type} failed: ${(err as Error).stack ?? err}`);
    this.send({ type: 'error', id: request.id, code: 'internal', message: 'internal server error' });
  }

  #onHandshakeTimeout(): void {
    this.#hooks.log(`conn ${this.id} ${this.remote} did not log in within ${this.#limits.handshakeTimeoutMs} ms; closing`);
    this.fail(new ProtocolError('unauthorized', 'login timed out', { fatal: true }));
  }

  #onClose(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#clearTimers();
    this.#pending = [];
    this.#hooks.closed(this);
  }
}

function stripMapped(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

// The id of a request we could not parse, if it can be read at all.
function safeId(payload: Buffer): number | null {
  try {
    return requestIdOf(JSON.parse(payload.toString('utf8')));
  } catch {
    return null;
  }
}
