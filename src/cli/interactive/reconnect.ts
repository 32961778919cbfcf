// The interactive client's server connection, kept alive: when it drops, reconnect with a bounded
// exponential backoff, resume the saved session and subscribe again (the server then replays
// what this device missed; the caller de-duplicates by message id).
import { EventEmitter } from 'node:events';
import type { ChatClient } from '../../client/client.js';
import type { ServerEventMap } from '../../protocol/messages.js';

export const BACKOFF_FIRST_MS = 500;
export const BACKOFF_MAX_MS = 10_000;

/** Wait before reconnection attempt `attempt` (0-based): 0.5 s, 1 s, 2 s, … at most 10 s. */
export function backoffDelay(attempt: number): number {
  return Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** Math.min(attempt, 30));
}

/** Server events passed on from whichever client is current. */
const FORWARDED = ['message', 'presence', 'offer', 'offer_closed', 'offer_accepted', 'group', 'friend', 'delivered'] as const;

/** The forwarded server events (their types are the protocol's) and the link's own. */
export interface LinkEvents extends Pick<ServerEventMap, (typeof FORWARDED)[number]> {
  /** subscribe is about to be sent: messages until 'subscribed' are the replayed backlog. */
  subscribing: [];
  subscribed: [{ backlog: number; reconnected: boolean }];
  /** The connection dropped; reconnection attempts follow. */
  lost: [];
  /** Reconnecting cannot work (e.g. the session was revoked); the link gives up. */
  failed: [Error];
}

export interface LinkOptions {
  /** Opens a connection and logs in (with the saved session). */
  connect: () => Promise<ChatClient>;
  /** Errors that make retrying pointless. */
  fatal: (err: unknown) => boolean;
  /** Errors of a first connection worth waiting out (the server is down or restarting). */
  transient?: (err: unknown) => boolean;
  /** Backoff schedule. @default backoffDelay */
  delay?: (attempt: number) => number;
}

export class Link extends EventEmitter<LinkEvents> {
  readonly #opts: LinkOptions;
  #client: ChatClient | null = null;
  #closed = false;
  #reconnecting = false;
  #wake: (() => void) | null = null;

  constructor(opts: LinkOptions) {
    super();
    this.#opts = opts;
  }

  /** The connected client, or null while reconnecting. */
  get client(): ChatClient | null {
    return this.#client;
  }

  /**
   * First connection. With `waiting`, a transient failure (the server is down or restarting) is
   * said once and retried with the backoff until it connects or close() is called; any other
   * error goes to the caller.
   */
  async open(waiting?: (err: Error) => void): Promise<ChatClient> {
    for (let attempt = 0; ; attempt++) {
      let client: ChatClient | undefined;
      try {
        client = await this.#opts.connect();
        await this.#attach(client, false);
        return client;
      } catch (err) {
        if (client && client === this.#client) this.#client = null;
        await client?.close().catch(() => {});
        if (!waiting || this.#closed || this.#opts.fatal(err) || !this.#opts.transient?.(err)) throw err;
        if (attempt === 0) waiting(err as Error);
        await this.#sleep((this.#opts.delay ?? backoffDelay)(attempt));
        if (this.#closed) throw err;
      }
    }
  }

  /** Stops reconnecting and closes the connection (flushing acknowledgements). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#wake?.();
    const client = this.#client;
    this.#client = null;
    await client?.close();
  }

  async #attach(client: ChatClient, reconnected: boolean): Promise<void> {
    for (const event of FORWARDED) {
      // ChatClient emits every server event by name; the newer ones may not be in its types yet.
      (client as unknown as EventEmitter).on(event, (data: unknown) => (this.emit as (e: string, d: unknown) => boolean)(event, data));
    }
    this.#client = client;
    this.emit('subscribing');
    const { backlog } = await client.subscribe();
    // Registered after subscribe: a close during it is reported by subscribe's rejection.
    client.once('close', () => this.#onClose(client));
    this.emit('subscribed', { backlog, reconnected });
  }

  #onClose(client: ChatClient): void {
    if (this.#closed || client !== this.#client) return;
    this.#client = null;
    this.emit('lost');
    void this.#reconnect();
  }

  async #reconnect(): Promise<void> {
    if (this.#reconnecting) return;
    this.#reconnecting = true;
    try {
      for (let attempt = 0; !this.#closed; attempt++) {
        await this.#sleep((this.#opts.delay ?? backoffDelay)(attempt));
        if (this.#closed) return;
        if (await this.#tryOnce()) return;
      }
    } finally {
      this.#reconnecting = false;
    }
  }

  /** One attempt: true when connected (or when retrying is pointless). */
  async #tryOnce(): Promise<boolean> {
    let client: ChatClient | undefined;
    try {
      client = await this.#opts.connect();
      if (this.#closed) {
        await client.close();
        return true;
      }
      await this.#attach(client, true);
      return true;
    } catch (err) {
      if (client && client === this.#client) this.#client = null;
      await client?.close().catch(() => {});
      if (!this.#opts.fatal(err)) return false;
      this.#closed = true;
      this.emit('failed', err as Error);
      return true;
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }
}
