// The receiver's side of reaching the sender (protocol.md §T8): direct dials to the sender's
// candidates, reverse connections the sender opens to our listener, a hole punched through both
// NATs, and the server's relay after a short delay — raced, first authenticated connection wins.
// Later connections use the winner's path.
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { TransferError } from './errors.js';
import { authenticate, type DialOptions, type TransferSecret } from './handshake.js';
import { localCandidates, type Candidate } from './offer.js';
import { firstOf, raceCandidates } from './race.js';
import { punch } from './punch.js';
import { relayConnectWire, type RelayEndpoint } from './relay-dial.js';
import type { Via } from './types.js';
import { Wire, formatRemote } from './wire.js';

export interface ListenOptions {
  /** Local address for reverse connections. @default '::' (all) */
  host?: string;
  port?: number;
  /** Hosts offered besides (or, with advertiseOnly, instead of) our interface addresses. */
  advertise?: string[];
  advertiseOnly?: boolean;
}

export interface PathOptions {
  secret: TransferSecret;
  candidates: Candidate[];
  via: Via[];
  /** Settable until the connections start (the accept reply may name a node's own relay). */
  relay?: RelayEndpoint;
  relayDelayMs: number;
  listen?: ListenOptions;
  dialOptions(): DialOptions;
}

/** Authenticated reverse connections waiting to be used. */
class Incoming {
  #ready: Wire[] = [];
  #waiters: ((wire: Wire) => void)[] = [];

  push(wire: Wire): void {
    const waiter = this.#waiters.shift();
    if (waiter) return waiter(wire);
    this.#ready.push(wire);
    // Nobody asked for it (another path won): drop it after a while.
    setTimeout(() => {
      const i = this.#ready.indexOf(wire);
      if (i >= 0) this.#ready.splice(i, 1)[0]!.destroy();
    }, 10_000).unref();
  }

  next(signal: AbortSignal, timeoutMs: number): Promise<Wire> {
    const ready = this.#ready.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const take = (wire: Wire): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', stop);
        if (signal.aborted) return this.push(wire);
        resolve(wire);
      };
      const stop = (): void => {
        clearTimeout(timer);
        this.#waiters = this.#waiters.filter((w) => w !== take);
        reject(new TransferError('aborted', 'no longer waiting for a reverse connection'));
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== take);
        signal.removeEventListener('abort', stop);
        reject(new TransferError('unreachable', 'the sender did not connect back to us'));
      }, timeoutMs);
      signal.addEventListener('abort', stop, { once: true });
      this.#waiters.push(take);
    });
  }

  close(): void {
    for (const wire of this.#ready.splice(0)) wire.destroy();
  }
}

export class ReceiverPaths {
  /** The path of the first connection; later ones follow it. */
  path: Via | undefined;
  readonly #o: PathOptions;
  readonly #incoming = new Incoming();

  /** The options, for the few that may change before the first connection (relay). */
  get options(): PathOptions {
    return this.#o;
  }
  #server: net.Server | undefined;

  constructor(options: PathOptions) {
    this.#o = options;
  }

  /** Opens the reverse listener (if allowed); resolves the candidates to put in the accept. */
  async listen(): Promise<Candidate[]> {
    const l = this.#o.listen;
    if (!this.#o.via.includes('reverse') || !l) return [];
    const server = net.createServer((socket) => this.#onSocket(socket));
    this.#server = server;
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(l.port ?? 0, l.host ?? '::', () => resolve((server.address() as net.AddressInfo).port));
    }).catch(async (err: NodeJS.ErrnoException) => {
      if (l.host !== undefined || err.code !== 'EAFNOSUPPORT') throw err;
      return new Promise<number>((resolve) => server.listen(l.port ?? 0, '0.0.0.0', () => resolve((server.address() as net.AddressInfo).port)));
    });
    server.on('error', () => {});
    return localCandidates(port, l.advertise ?? [], l.advertiseOnly ?? false, l.host);
  }

  #onSocket(socket: net.Socket): void {
    if (this.path && this.path !== 'reverse') return void socket.destroy(); // another path won
    const wire = new Wire(socket);
    const opts = this.#o.dialOptions();
    authenticate(wire, this.#o.secret, formatRemote(socket), opts, true).then(
      (w) => this.#incoming.push(w),
      () => {}, // a stranger, or a late loser: already closed
    );
  }

  /** The next authenticated connection over the allowed paths; the first one wins, the rest close. */
  connect(signal: AbortSignal): Promise<{ wire: Wire; path: Via }> {
    const allowed = this.path ? [this.path] : this.#o.via;
    if (!allowed.some((via) => this.#available(via))) {
      return Promise.reject(new TransferError('unreachable', 'no way to reach the sender', { hint: 'paths' }));
    }
    return firstOf(
      (local) => {
        const opts = { ...this.#o.dialOptions(), signal: local };
        const tries: Promise<{ wire: Wire; path: Via }>[] = [];
        if (allowed.includes('direct') && this.#available('direct')) {
          tries.push(raceCandidates(this.#o.candidates, this.#o.secret, opts).then((wire) => ({ wire, path: 'direct' as const })));
        }
        if (allowed.includes('reverse') && this.#available('reverse')) {
          const wait = opts.connectTimeoutMs + opts.handshakeTimeoutMs;
          tries.push(this.#incoming.next(local, wait).then((wire) => ({ wire, path: 'reverse' as const })));
        }
        if (allowed.includes('punch') && this.#available('punch')) {
          tries.push(this.#viaPunch(opts).then((wire) => ({ wire, path: 'punch' as const })));
        }
        if (allowed.includes('relay') && this.#available('relay')) {
          const delay = allowed.length === 1 ? 0 : this.#o.relayDelayMs;
          tries.push(this.#viaRelay(delay, opts).then((wire) => ({ wire, path: 'relay' as const })));
        }
        return tries;
      },
      (late) => late.wire.destroy(),
      signal,
    ).then((r) => {
      this.path ??= r.path;
      return r;
    });
  }

  #available(via: Via): boolean {
    if (via === 'direct') return this.#o.candidates.length > 0;
    if (via === 'reverse') return this.#server !== undefined;
    return this.#o.relay !== undefined; // the relay server is also where peers meet to punch
  }

  async #viaPunch(opts: DialOptions): Promise<Wire> {
    const { transferId, token } = this.#o.secret;
    const socket = await punch(this.#o.relay!, { transferId, token, role: 'receiver', signal: opts.signal });
    return authenticate(new Wire(socket), this.#o.secret, formatRemote(socket), opts, true);
  }

  async #viaRelay(delayMs: number, opts: DialOptions): Promise<Wire> {
    await sleep(delayMs, undefined, { signal: opts.signal }).catch(() => {
      throw new TransferError('aborted', 'transfer aborted');
    });
    const { transferId, token } = this.#o.secret;
    const wire = await relayConnectWire(this.#o.relay!, { transferId, token, role: 'receiver', signal: opts.signal });
    return authenticate(wire, this.#o.secret, 'the relay', opts, true);
  }

  close(): void {
    this.#server?.close();
    this.#incoming.close();
  }
}
