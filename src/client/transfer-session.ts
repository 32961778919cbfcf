// One transfer session for every front end (issue 26, point 8): the offer → accept → transfer
// choreography of protocol.md §4.4 and Part II, with the policies around it (signatures and
// pins, the per-transfer code, refusing plaintext) in one place. `chat send-file`, `chat accept`
// and the interactive client all run these two classes; they differ only in how they show the
// notices and ask the user.
import { EventEmitter } from 'node:events';
import type PQueue from 'p-queue';
import type { OfferFileInfo, OfferInfo } from '../protocol/messages.js';
import { printable } from '../protocol/printable.js';
import {
  Receiver, Sender, TransferError, localCandidates, newKeyPair, newTransferSecret, withObserved,
  type Candidate, type FileResult, type LocalFile, type ProgressEvent, type RelayEndpoint, type TransferResult, type Via,
} from '../transfer/index.js';
import type { ChatClient } from './client.js';
import { TransferSessionError } from './errors.js';
import type { OfferAnswers } from './offer-answers.js';
import { checkAccept, checkOffer, signOffer, type AuthNotice, type AuthSettings, type OfferSide, type TransferTrust } from './transfer-auth.js';

/** How one transfer may move its bytes, on either side. */
export interface TransferSettings extends AuthSettings {
  /** Paths allowed (§T8). */
  via: Via[];
  /** Files streamed at once. */
  parallel: number;
  /** Bytes per second; 0: no cap. */
  limitRate: number;
  /** Local address to listen on (the sender's port, the receiver's reverse listener). */
  bind?: string;
  /** Other hosts the peer may reach us at; with advertiseOnly, only those. */
  advertise: string[];
  advertiseOnly: boolean;
  /** Receiving: save a file again (as `name (1)`) even when the same bytes are already at its name. */
  forceCopy?: boolean;
}

export interface OfferSettings extends TransferSettings {
  /** Port to listen on; 0: any free one. */
  port: number;
  /** How long the offer waits for an answer. */
  timeoutMs: number;
  /** The same, for people ("10m"): it names the wait in the expiry error. */
  timeoutText: string;
}

/** Everything a session needs from its front end. */
export interface SessionDeps {
  client: ChatClient;
  /** The server's relay (its chat address and TLS). */
  relay: RelayEndpoint;
  trust: TransferTrust;
  /** A Sender or Receiver queue shared with other sessions (a group send). */
  queue?: PQueue;
}

/** What a session tells its front end, in order; `event` doubles as the --json event name. */
export type SessionNotice =
  | AuthNotice
  | { event: 'offer'; offer: string; to: string; files: number; totalBytes: number; port: number; candidates: Candidate[] }
  | { event: 'waiting'; offer: string; to: string; online: boolean; timeoutMs: number }
  /** `via`: the only paths the receiver said it uses (absent: all). */
  | { event: 'accepted'; offer: string; by: string; via?: string[] }
  | { event: 'connecting'; offer: string; via: Via[] }
  | { event: 'receiving'; offer: string; from: string; files: number; totalBytes: number; dir: string }
  | { event: 'connected'; peer: string; remote: string; path: Via }
  | { event: 'refused'; remote: string; reason: string }
  | { event: 'retry'; attempt: number; delayMs: number; reason: string }
  | { event: 'proving'; index: number; path: string; bytes: number }
  /** One file failed (Part II §T7); the others go on, and the session fails at the end. */
  | { event: 'file_failed'; index: number; path: string; code: string; message: string };

export interface SessionEvents {
  notice: [SessionNotice];
  progress: [ProgressEvent];
  file: [FileResult];
}

/** Once accepted, how long the receiver has to reach the sender before it gives up. */
export const CONNECT_WAIT_MS = 60_000;
/** With a code to compare, how long a receiver that confirmed waits for the sender to confirm. */
export const VERIFY_PATIENCE_MS = 10 * 60_000;

/** The sending side: listen, offer, wait for the answer, check it, stream. */
export class OutgoingTransfer extends EventEmitter<SessionEvents> {
  readonly #deps: SessionDeps;
  readonly #settings: OfferSettings;
  readonly #files: LocalFile[];
  readonly #to: string;
  readonly #cancel = new AbortController();
  #sender: Sender | undefined;
  #side: OfferSide | undefined;
  /** The Sender admits connections (accepted and authenticated): no offer left to withdraw. */
  #admitted = false;
  #cancelling: Promise<void> | undefined;
  /** Set once the offer exists. */
  offerId = '';
  online = false;

  constructor(deps: SessionDeps, to: string, files: LocalFile[], settings: OfferSettings) {
    super();
    this.#deps = deps;
    this.#to = to;
    this.#files = files;
    this.#settings = settings;
  }

  /** Listens and makes the offer; resolves once the server has it (the answer comes in finish). */
  async offer(): Promise<void> {
    const { client, trust, queue, relay } = this.#deps;
    const s = this.#settings;
    const { transferId, token } = newTransferSecret();
    const keys = newKeyPair();
    this.#side = { transferId, from: client.user!, to: this.#to, senderKey: keys.publicKey, files: this.#files, verify: s.verify };
    const sender = new Sender({
      transferId, token, files: this.#files, host: s.bind, port: s.port, limitRate: s.limitRate, parallel: s.parallel, queue, keys, via: s.via, relay,
    });
    this.#sender = sender;
    this.#forward(sender, this.#to);
    try {
      const port = await sender.listen().catch((err: Error) => {
        throw new TransferSessionError('unreachable', `cannot listen on port ${s.port}: ${err.message}`);
      });
      const candidates = port > 0 ? localCandidates(port, s.advertise, s.advertiseOnly, s.bind) : [];
      const secret = {
        transfer: transferId, token, candidates, timeoutMs: s.timeoutMs, key: keys.publicKey, identity: signOffer(trust.identity, this.#side), verify: s.verify, via: sender.signalVia,
      };
      const created = await client.offer(this.#to, secret, this.#files);
      this.offerId = created.offer;
      this.online = created.online;
      if (this.#cancel.signal.aborted) throw await this.#cancelled(); // cancelled while it was being made
      const totalBytes = this.#files.reduce((sum, f) => sum + f.size, 0);
      this.#notice({ event: 'offer', offer: created.offer, to: this.#to, files: this.#files.length, totalBytes, port, candidates });
      this.#notice({ event: 'waiting', offer: created.offer, to: this.#to, online: created.online, timeoutMs: s.timeoutMs });
    } catch (err) {
      sender.close();
      throw err;
    }
  }

  /**
   * Waits for the answer, authenticates it (§T10: before the Sender admits anyone), and streams;
   * resolves when every file is verified by the receiver.
   */
  async finish(answers: OfferAnswers): Promise<TransferResult> {
    const sender = this.#sender!;
    try {
      const accepted = await answers.wait(this.offerId, this.#to, this.#settings.timeoutText, this.#cancel.signal);
      this.#notice({ event: 'accepted', offer: this.offerId, by: accepted.by, ...(accepted.via && { via: accepted.via }) });
      const { code, pin } = await checkAccept((n) => this.#notice(n), this.#settings, this.#deps.trust, this.#side!, accepted);
      if (code) await this.#confirm(code, 'sender');
      pin?.(); // authenticated: a first-seen device is remembered only now
      sender.accepted(accepted);
      this.#notice({ event: 'connecting', offer: this.offerId, via: this.#settings.via });
      return await this.#stream(sender, accepted.by);
    } catch (err) {
      sender.close();
      throw this.#cancel.signal.aborted ? await this.#cancelled() : err;
    }
  }

  /** Withdraws the offer if it still waits (so nobody accepts it after) and stops the transfer. */
  cancel(): Promise<void> {
    this.#cancelling ??= this.#withdraw();
    return this.#cancelling;
  }

  async #withdraw(): Promise<void> {
    const waiting = !this.#admitted;
    this.#cancel.abort(new TransferSessionError('cancelled', waiting ? 'cancelled: the offer was withdrawn' : 'cancelled'));
    if (waiting && this.offerId) await this.#deps.client.request('withdraw', { offer: this.offerId, reason: 'cancelled by the sender' }).catch(() => {});
    this.#sender?.close();
  }

  /** The error a cancelled session ends with, once its offer is withdrawn. */
  async #cancelled(): Promise<TransferSessionError> {
    await this.cancel();
    return this.#cancel.signal.reason as TransferSessionError;
  }

  async #confirm(code: string, side: 'sender'): Promise<void> {
    this.#notice({ event: 'verify', code, side });
    await Promise.race([this.#deps.trust.confirm(code), aborted(this.#cancel.signal)]);
  }

  async #stream(sender: Sender, receiver: string): Promise<TransferResult> {
    let connected = false;
    const timer = setTimeout(() => sender.close(), CONNECT_WAIT_MS);
    sender.once('connected', () => {
      connected = true;
      clearTimeout(timer);
    });
    this.#admitted = true;
    try {
      return await sender.done;
    } catch (err) {
      if (!connected && !this.#cancel.signal.aborted && err instanceof TransferError && err.code === 'aborted') {
        throw new TransferSessionError('unreachable', `${printable(receiver)} could not connect within ${CONNECT_WAIT_MS / 1000}s`, 'reachable');
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  #forward(sender: Sender, peer: string): void {
    let connected = false;
    sender.on('connected', ({ remote, path }) => {
      if (!connected) this.#notice({ event: 'connected', peer, remote, path });
      connected = true;
    });
    sender.on('refused', ({ remote, reason }) => this.#notice({ event: 'refused', remote, reason }));
    sender.on('progress', (ev) => this.emit('progress', ev));
    sender.on('file', (r) => this.emit('file', r));
    // With one file, the session's own error says it all.
    if (this.#files.length > 1) sender.on('fileFailed', (f) => this.#notice(fileFailed(f)));
  }

  #notice(n: SessionNotice): void {
    this.emit('notice', n);
  }
}

/** The receiving side: check the offer, accept it, confirm a code if one is needed, fetch. */
export class IncomingTransfer extends EventEmitter<SessionEvents> {
  readonly #deps: SessionDeps;
  readonly #settings: TransferSettings;
  readonly #info: OfferInfo;
  readonly #files: OfferFileInfo[];
  readonly #dir: string;
  #receiver: Receiver | undefined;
  #auth: { code?: string; pin?: () => void } = {};
  #cancelled = false;

  constructor(deps: SessionDeps, offer: { info: OfferInfo; files: OfferFileInfo[] }, dir: string, settings: TransferSettings) {
    super();
    this.#deps = deps;
    this.#info = offer.info;
    this.#files = offer.files;
    this.#dir = dir;
    this.#settings = settings;
  }

  get cancelled(): boolean {
    return this.#cancelled;
  }

  /**
   * Authenticates the offer (§T10; a refusal rejects it at the server, so the sender is told),
   * then accepts it. No file byte moves before finish().
   */
  async accept(): Promise<void> {
    const { client, trust, relay } = this.#deps;
    const info = this.#info;
    const s = this.#settings;
    const keys = newKeyPair();
    const { identity, ...auth } = await checkOffer((n) => this.#notice(n), s, trust, info, this.#files, keys.publicKey).catch(async (err: unknown) => {
      await client.request('reject', { offer: info.id, reason: 'refused: the transfer could not be authenticated' }).catch(() => {});
      throw err;
    });
    this.#auth = auth;
    if (this.#cancelled) throw new TransferSessionError('cancelled', 'cancelled: the offer was not accepted');
    const receiver = new Receiver({
      transferId: info.transfer, token: info.token, candidates: withObserved(info.candidates, info.observed),
      files: this.#files, dir: this.#dir, parallel: s.parallel, limitRate: s.limitRate,
      keys: info.key ? { own: keys, peer: info.key } : undefined, via: s.via, peerVia: info.via, relay,
      listen: { host: s.bind, advertise: s.advertise, advertiseOnly: s.advertiseOnly },
      // The sender may confirm the code long after we did: wait for it rather than give up.
      patienceMs: auth.code ? VERIFY_PATIENCE_MS : 0,
      forceCopy: s.forceCopy,
    });
    this.#receiver = receiver;
    // prepare() also refuses an offer this side cannot take (names, the directory, no common
    // path): the offer is rejected at once, so the sender is told instead of waiting it out.
    const candidates = await receiver.prepare().catch(async (err: Error) => {
      await client.request('reject', { offer: info.id, reason: printable(err.message).slice(0, 500) }).catch(() => {});
      throw err instanceof TransferError ? err : new TransferSessionError('unreachable', `cannot listen for a reverse connection: ${err.message}`);
    });
    const accepted = await client.accept(info.id, { key: keys.publicKey, candidates, identity, verify: s.verify, via: receiver.signalVia }).catch((err: unknown) => {
      receiver.abort(); // closes the reverse listener
      throw err;
    });
    receiver.useRelay(accepted.relay);
  }

  /** Confirms the code (§T10.4: a "no" aborts before any byte) and receives every file. */
  async finish(): Promise<TransferResult> {
    const receiver = this.#receiver!;
    const info = this.#info;
    try {
      const { code, pin } = this.#auth;
      if (code) {
        this.#notice({ event: 'verify', code, side: 'receiver' });
        await this.#deps.trust.confirm(code);
      }
      if (this.#cancelled) throw new TransferSessionError('cancelled', 'cancelled; partial files stay as .part and resume next time');
      pin?.(); // authenticated: a first-seen device is remembered only now
      this.#notice({ event: 'receiving', offer: info.id, from: info.from, files: info.fileCount, totalBytes: info.totalBytes, dir: this.#dir });
      this.#forward(receiver);
      return await receiver.start();
    } catch (err) {
      receiver.abort();
      throw this.#cancelled ? new TransferSessionError('cancelled', 'cancelled; partial files stay as .part and resume next time') : err;
    }
  }

  cancel(): void {
    this.#cancelled = true;
    this.#receiver?.abort();
  }

  #forward(receiver: Receiver): void {
    let connected = false;
    receiver.on('connected', ({ remote, path }) => {
      if (!connected) this.#notice({ event: 'connected', peer: this.#info.from, remote, path });
      connected = true;
    });
    receiver.on('retry', (r) => this.#notice({ event: 'retry', ...r }));
    receiver.on('proving', (p) => this.#notice({ event: 'proving', ...p }));
    receiver.on('progress', (ev) => this.emit('progress', ev));
    receiver.on('file', (r) => this.emit('file', r));
    if (this.#files.length > 1) receiver.on('fileFailed', (f) => this.#notice(fileFailed(f)));
  }

  #notice(n: SessionNotice): void {
    this.emit('notice', n);
  }
}

function fileFailed(f: { index: number; path: string; error: TransferError }): SessionNotice {
  return { event: 'file_failed', index: f.index, path: f.path, code: f.error.code, message: f.error.message };
}

function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}
