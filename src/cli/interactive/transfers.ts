// File transfers started from the interactive client: /send runs the Sender flow of
// `chat send-file`, /accept the Receiver flow of `chat accept`. They run in the background while
// the user keeps chatting; their progress feeds one status line, and each prints one line when it
// starts and one when it ends.
import type { ChatClient } from '../../client/client.js';
import type { OfferAccepted, OfferFileInfo, OfferInfo, SignedIdentity } from '../../protocol/messages.js';
import { deviceIdentity, type DeviceIdentity } from '../identity-file.js';
import { checkAccept, checkOffer, signOffer, type Notices, type OfferSide, type TransferAuthOptions } from '../transfer-auth.js';
import {
  Receiver,
  Sender,
  TransferError,
  collectOffer,
  localCandidates,
  newKeyPair,
  newTransferSecret,
  withObserved,
  type LocalFile,
  type RelayEndpoint,
  type TransferResult,
} from '../../transfer/index.js';
import { CliError } from '../context.js';
import { formatBytes } from '../output.js';
import { formatRate, skippedLine } from '../transfer-view.js';
import { formatDuration } from '../units.js';
import type { TransferStatus } from './render.js';
import type { Link } from './reconnect.js';

export interface NetworkOptions {
  /** Local address the sender listens on (default: all interfaces). */
  bind?: string;
  /** Hosts offered to the receiver besides (or, with advertiseOnly, instead of) ours. */
  advertise: string[];
  advertiseOnly: boolean;
}

export interface TransferDeps {
  link: Link;
  network: NetworkOptions;
  /** The relay of the server we are connected to now (its address, TLS as the chat connection). */
  relay(): RelayEndpoint;
  /** CHAT_HOME and the server: this device's identity and its pins (§T10). */
  home: string;
  server: string;
  /** Prints one line (already a notice). */
  say(text: string): void;
  /** A status changed (progress); the caller redraws at its own pace. */
  changed(): void;
}

/** How long an offer made with /send waits for an answer. */
const OFFER_TIMEOUT_MS = 10 * 60_000;
/** Once accepted, how long the receiver has to reach our port. */
const CONNECT_WAIT_MS = 60_000;
/** Offer file-list pages stay well under the server's frame limit (as in chat send-file). */
const RESUME_LATER = '; partial files stay as .part and resume next time';
/** Up to this many received files get a line each (name, size, SHA-256). */
const MAX_FILE_LINES = 5;

interface Running extends TransferStatus {
  cancel(): void;
  cancelled?: boolean;
  finished: Promise<void>;
}

export class Transfers {
  readonly #deps: TransferDeps;
  #running = new Map<string, Running>();

  constructor(deps: TransferDeps) {
    this.#deps = deps;
  }

  statuses(): TransferStatus[] {
    return [...this.#running.values()].map(({ cancel: _c, cancelled: _x, finished: _f, ...status }) => status);
  }

  get count(): number {
    return this.#running.size;
  }

  /** Offers `paths` to `to`; resolves once the offer is made (the transfer goes on in the background). */
  async send(client: ChatClient, to: string, paths: string[], opts: { followSymlinks?: boolean } = {}): Promise<void> {
    const { files, skipped } = await collectOffer(paths, opts).catch(transferMessage);
    for (const s of skipped) this.#deps.say(skippedLine(s));
    if (files.length === 0) throw new CliError(`nothing to send: ${skipped.length > 0 ? 'no file left once the symbolic links were skipped' : 'the directories are empty'}`);
    const { transferId, token } = newTransferSecret();
    const keys = newKeyPair();
    const identity = deviceIdentity(this.#deps.home, this.#deps.server);
    const signed = { transferId, from: client.user!, to, senderKey: keys.publicKey, files, verify: false };
    const sender = new Sender({ transferId, token, files, host: this.#deps.network.bind, port: 0, keys, relay: this.#deps.relay() });
    try {
      const port = await sender.listen();
      const offer = await this.#offer(client, to, files, { transferId, token, port, key: keys.publicKey, identity: signOffer(identity, signed) });
      const total = files.reduce((sum, f) => sum + f.size, 0);
      const what = `${plural(files.length, 'file')}, ${formatBytes(total)}`;
      const waiting = offer.online ? `waiting for ${to} to accept` : `${to} is offline: the offer waits ${formatDuration(OFFER_TIMEOUT_MS)}`;
      this.#deps.say(`offered ${what} to ${to} (offer ${offer.id}); ${waiting}`);
      const also = skipped.length > 0 ? `; skipped ${plural(skipped.length, 'symbolic link')}: ${skipped.map((s) => s.path).join(', ')}` : '';
      this.#track({ id: offer.id, direction: 'send', peer: to, phase: 'waiting', bytes: 0, total, startedAt: Date.now() }, (status) =>
        this.#runSender(sender, offer.id, status, () => ({ identity, offer: signed }), also),
      );
    } catch (err) {
      sender.close();
      throw err;
    }
  }

  /** Accepts offer `info` into `dir`; resolves once accepted (the files arrive in the background). */
  async accept(client: ChatClient, info: OfferInfo, files: OfferFileInfo[], dir: string): Promise<void> {
    const keys = newKeyPair();
    const { identity, code } = await checkOffer(this.#notices(), this.#policy(), deviceIdentity(this.#deps.home, this.#deps.server), info, files, keys.publicKey);
    if (code) await this.#policy().confirm(code);
    const { bind, advertise, advertiseOnly } = this.#deps.network;
    const receiver = new Receiver({
      transferId: info.transfer, token: info.token, candidates: withObserved(info.candidates, info.observed), files, dir,
      keys: info.key ? { own: keys, peer: info.key } : undefined, relay: this.#deps.relay(),
      listen: { host: bind, advertise, advertiseOnly },
    });
    const candidates = await receiver.prepare();
    const { relay } = await client.accept(info.id, { key: keys.publicKey, candidates, identity }).catch((err: unknown) => {
      receiver.abort(); // closes the reverse listener
      throw err;
    });
    receiver.useRelay(relay);
    this.#deps.say(`receiving ${plural(info.fileCount, 'file')}, ${formatBytes(info.totalBytes)} from ${info.from} into ${dir} (offer ${info.id})`);
    const status: TransferStatus = { id: info.id, direction: 'receive', peer: info.from, phase: 'connecting', bytes: 0, total: info.totalBytes, startedAt: Date.now() };
    this.#track(status, (s) => this.#runReceiver(receiver, info, dir, s), (s) => {
      s.cancelled = true;
      receiver.abort();
    });
  }

  #notices(): Notices {
    return { info: (line) => this.#deps.say(line) };
  }

  // The interactive client keeps the default policy: no unauthenticated peer; a code to compare
  // is confirmed with chat send-file/accept --verify, not here (its input line is the chat's).
  #policy(): TransferAuthOptions {
    return {
      home: this.#deps.home, server: this.#deps.server, verify: false, insecurePeer: false,
      confirm: () => Promise.reject(new CliError('the other side asks to compare a verification code: use chat send-file/accept --verify, or verify the contact with /verify')),
    };
  }

  /** Cancels every transfer (withdrawing offers still waiting) and waits for them to end. */
  async cancelAll(): Promise<void> {
    const all = [...this.#running.values()];
    for (const t of all) t.cancel();
    await Promise.all(all.map((t) => t.finished));
  }

  /** Resolves when no transfer is running. */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.all([...this.#running.values()].map((t) => t.finished));
  }

  #track(status: TransferStatus, run: (s: Running) => Promise<void>, cancel?: (s: Running) => void): void {
    const running = status as Running;
    running.cancel = () => cancel?.(running);
    this.#running.set(status.id, running);
    this.#deps.changed();
    const what = `transfer ${status.id} ${status.direction === 'send' ? 'to' : 'from'} ${status.peer}`;
    running.finished = run(running)
      .catch((err: unknown) => this.#deps.say(running.cancelled ? `${what} cancelled${status.direction === 'receive' ? RESUME_LATER : ''}` : `${what} failed: ${messageOf(err)}`))
      .finally(() => {
        this.#running.delete(status.id);
        this.#deps.changed();
      });
  }

  async #runSender(sender: Sender, offerId: string, status: Running, signed: () => { identity: DeviceIdentity; offer: OfferSide }, also = ''): Promise<void> {
    let connected = false;
    let connectTimer: NodeJS.Timeout | undefined;
    try {
      const accepted = await this.#answer(offerId, status, sender);
      const { identity, offer } = signed();
      await checkAccept(this.#notices(), this.#policy(), identity, offer, accepted); // §T10: before any byte
      sender.accepted(accepted);
      const by = accepted.by;
      this.#deps.say(`${by} accepted offer ${offerId}; sending`);
      status.phase = 'connecting';
      this.#deps.changed();
      connectTimer = setTimeout(() => sender.close(), CONNECT_WAIT_MS);
      sender.on('connected', () => {
        connected = true;
        clearTimeout(connectTimer);
        this.#moving(status);
      });
      sender.on('progress', (ev) => this.#progress(status, ev.totalBytes));
      this.#done(await sender.done, `sent to ${status.peer}`, also);
    } catch (err) {
      sender.close();
      if (status.cancelled) throw new CliError('cancelled');
      if (!connected && err instanceof TransferError && err.code === 'aborted' && status.phase === 'connecting') {
        throw new CliError(`${status.peer} could not connect within ${CONNECT_WAIT_MS / 1000}s`);
      }
      throw err;
    } finally {
      clearTimeout(connectTimer);
    }
  }

  /** Waits for the receiver's answer to our offer; the name of who accepted. */
  #answer(offerId: string, status: Running, sender: Sender): Promise<OfferAccepted> {
    const link = this.#deps.link;
    return new Promise<OfferAccepted>((resolve, reject) => {
      const off = (): void => {
        link.off('offer_accepted', onAccepted);
        link.off('offer_closed', onClosed);
        link.off('lost', onLost);
      };
      const onAccepted = (e: OfferAccepted): void => {
        if (e.offer !== offerId) return;
        off();
        resolve(e);
      };
      const onClosed = (e: { offer: string; reason: string; by: string; message?: string }): void => {
        if (e.offer !== offerId) return;
        off();
        reject(new CliError(e.reason === 'rejected' ? `${e.by} rejected it${e.message ? `: ${e.message}` : ''}` : `the offer ended (${e.reason})`));
      };
      // The server forgets the offers of a connection that dropped.
      const onLost = (): void => {
        off();
        reject(new CliError('lost the server connection; the offer was withdrawn'));
      };
      link.on('offer_accepted', onAccepted);
      link.on('offer_closed', onClosed);
      link.on('lost', onLost);
      status.cancel = () => {
        status.cancelled = true;
        off();
        // The transfer ends once the server confirmed the withdrawal (so nobody accepts it after).
        const withdrawn = status.phase === 'waiting' ? link.client?.request('withdraw', { offer: offerId, reason: 'cancelled by the sender' }) : undefined;
        void Promise.resolve(withdrawn)
          .catch(() => {})
          .then(() => {
            sender.close();
            reject(new CliError('cancelled'));
          });
      };
    });
  }

  async #runReceiver(receiver: Receiver, info: OfferInfo, dir: string, status: Running): Promise<void> {
    receiver.on('connected', () => this.#moving(status));
    // The SHA-256 is the receiver's own, of the bytes it saved (protocol.md §T4); a few files get a line each.
    if (info.fileCount <= MAX_FILE_LINES) receiver.on('file', (r) => this.#deps.say(`${r.path}: ${formatBytes(r.size)}, sha256 ${r.sha256}`));
    receiver.on('progress', (ev) => this.#progress(status, ev.totalBytes));
    try {
      this.#done(await receiver.start(), `received from ${info.from} into ${dir}`);
    } catch (err) {
      throw new CliError(`${messageOf(err)}${RESUME_LATER}`);
    }
  }

  #moving(status: Running): void {
    if (status.phase === 'moving') return;
    status.phase = 'moving';
    status.startedAt = Date.now();
    this.#deps.changed();
  }

  #progress(status: Running, bytes: number): void {
    status.bytes = bytes;
    this.#deps.changed();
  }

  #done(result: TransferResult, what: string, also = ''): void {
    const size = result.files.reduce((sum, f) => sum + f.size, 0);
    const seconds = (result.elapsedMs / 1000).toFixed(1);
    this.#deps.say(`${what}: ${plural(result.files.length, 'file')}, ${formatBytes(size)} verified in ${seconds}s (${formatRate(result.bytes, result.elapsedMs)})${also}`);
  }

  /** The two-step offer of protocol.md §4.4, as chat send-file makes it. */
  async #offer(client: ChatClient, to: string, files: LocalFile[], secret: { transferId: string; token: string; port: number; key: string; identity: SignedIdentity }) {
    const { advertise, advertiseOnly, bind } = this.#deps.network;
    const candidates = localCandidates(secret.port, advertise, advertiseOnly, bind);
    const created = await client.offer(
      to,
      { transfer: secret.transferId, token: secret.token, candidates, timeoutMs: OFFER_TIMEOUT_MS, key: secret.key, identity: secret.identity },
      files,
    );
    return { id: created.offer, online: created.online };
  }
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function messageOf(err: unknown): string {
  if (err instanceof TransferError && err.fromPeer) return `the other side reports: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

function transferMessage(err: unknown): never {
  throw new CliError(messageOf(err));
}
