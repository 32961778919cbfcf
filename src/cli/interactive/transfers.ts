// File transfers started from the interactive client: /send and /accept run the same transfer
// session as chat send-file and chat accept (src/client/transfer-session.ts: signatures, pins,
// --verify, plaintext refusal, --via, --limit-rate, --parallel). They run in the background while
// the user keeps chatting; their progress feeds one status line, questions are answered with
// /confirm or /deny, and each prints one line when it starts and one when it ends.
import type { ChatClient } from '../../client/client.js';
import { TransferSessionError } from '../../client/errors.js';
import { OfferAnswers } from '../../client/offer-answers.js';
import type { TransferTrust } from '../../client/transfer-auth.js';
import { IncomingTransfer, OutgoingTransfer, type SessionNotice } from '../../client/transfer-session.js';
import type { OfferFileInfo, OfferInfo } from '../../protocol/messages.js';
import { TransferError, collectOffer, type RelayEndpoint, type TransferResult } from '../../transfer/index.js';
import { compareCode } from '../confirm-code.js';
import { messageWithHint } from '../hints.js';
import { RESUME_LATER, resumeNote } from '../transfer-run.js';
import { CliError } from '../context.js';
import { formatBytes } from '../output.js';
import { pinnedTrust } from '../peer-trust.js';
import { noticeLine } from '../transfer-notices.js';
import type { CliTransferSettings } from '../transfer-options.js';
import { formatRate, skippedLine } from '../transfer-view.js';
import { formatDuration } from '../units.js';
import { Questions } from './questions.js';
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
/** Up to this many received files get a line each (name, size, SHA-256). */
const MAX_FILE_LINES = 5;

interface Running extends TransferStatus {
  cancel(): void;
  finished: Promise<void>;
}

export class Transfers {
  readonly #deps: TransferDeps;
  readonly #answers: OfferAnswers;
  readonly questions: Questions;
  #running = new Map<string, Running>();

  constructor(deps: TransferDeps) {
    this.#deps = deps;
    this.questions = new Questions((text) => deps.say(text));
    this.#answers = new OfferAnswers(deps.link);
    // The server forgets the offers of a connection that dropped.
    deps.link.on('lost', () => this.#answers.lost());
    deps.link.on('subscribed', () => this.#answers.reconnected());
  }

  statuses(): TransferStatus[] {
    return [...this.#running.values()].map(({ cancel: _c, finished: _f, ...status }) => status);
  }

  get count(): number {
    return this.#running.size;
  }

  /** Offers `paths` to `to`; resolves once the offer is made (the transfer goes on in the background). */
  async send(client: ChatClient, to: string, paths: string[], settings: CliTransferSettings & { followSymlinks: boolean }): Promise<void> {
    const { files, skipped } = await collectOffer(paths, settings).catch(transferMessage);
    for (const s of skipped) this.#deps.say(skippedLine(s));
    if (files.length === 0) throw new CliError(`nothing to send: ${skipped.length > 0 ? 'no file left once the symbolic links were skipped' : 'the directories are empty'}`);
    let id = '';
    const session = new OutgoingTransfer({ client, relay: this.#deps.relay(), trust: this.#trust(() => id, settings) }, to, files, {
      ...settings, port: 0, timeoutMs: OFFER_TIMEOUT_MS, timeoutText: formatDuration(OFFER_TIMEOUT_MS),
    });
    await session.offer();
    id = session.offerId;
    const total = files.reduce((sum, f) => sum + f.size, 0);
    const waiting = session.online ? `waiting for ${to} to accept` : `${to} is offline: the offer waits ${formatDuration(OFFER_TIMEOUT_MS)}`;
    this.#deps.say(`offered ${plural(files.length, 'file')}, ${formatBytes(total)} to ${to} (offer ${id}); ${waiting}`);
    const also = skipped.length > 0 ? `; skipped ${plural(skipped.length, 'symbolic link')}: ${skipped.map((s) => s.path).join(', ')}` : '';
    const status: TransferStatus = { id, direction: 'send', peer: to, phase: 'waiting', bytes: 0, total, startedAt: Date.now() };
    this.#track(status, session, async () => this.#done(await session.finish(this.#answers), `sent to ${to}`, also), () => void session.cancel());
  }

  /** Accepts offer `info` into `dir`; the checks, the accept and the files run in the background. */
  accept(client: ChatClient, info: OfferInfo, files: OfferFileInfo[], dir: string, settings: CliTransferSettings): void {
    const session = new IncomingTransfer({ client, relay: this.#deps.relay(), trust: this.#trust(() => info.id, settings) }, { info, files }, dir, settings);
    // The SHA-256 is the receiver's own, of the bytes it saved (protocol.md §T4); a few files get a line each.
    if (info.fileCount <= MAX_FILE_LINES) {
      session.on('file', (r) => this.#deps.say(`${r.path}: ${formatBytes(r.size)}, sha256 ${r.sha256}${r.identical ? ' (already there, identical: kept)' : ''}`));
    }
    const status: TransferStatus = { id: info.id, direction: 'receive', peer: info.from, phase: 'connecting', bytes: 0, total: info.totalBytes, startedAt: Date.now() };
    this.#track(status, session, async () => {
      await session.accept();
      this.#done(await session.finish(), `received from ${info.from} into ${dir}`);
    }, () => session.cancel());
  }

  /** The pins of this CHAT_HOME; the code compared and new devices allowed by /confirm (or --verify-code). */
  #trust(id: () => string, settings: CliTransferSettings): TransferTrust {
    const questions = this.questions;
    return pinnedTrust(this.#deps.home, this.#deps.server, {
      confirm: async (code) => {
        if (settings.verifyCode !== undefined) return compareCode(code, settings.verifyCode);
        if (!(await questions.ask(id(), `offer ${id()}: does the other side show ${code}?`))) throw new CliError('the codes were not confirmed: aborted, no data sent');
      },
      ask: (question) => questions.ask(id(), question.replace(/\s*\[y\/N\]\s*$/, '').replace(/\?$/, '')),
    });
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

  #track(status: TransferStatus, session: OutgoingTransfer | IncomingTransfer, run: () => Promise<void>, cancel: () => void): void {
    const running = status as Running;
    running.cancel = () => {
      this.questions.withdraw(status.id);
      cancel();
    };
    this.#running.set(status.id, running);
    session.on('notice', (n) => this.#notice(running, n));
    session.on('progress', (ev) => {
      running.bytes = ev.totalBytes;
      this.#deps.changed();
    });
    this.#deps.changed();
    const what = `transfer ${status.id} ${status.direction === 'send' ? 'to' : 'from'} ${status.peer}`;
    running.finished = run()
      .catch((err: unknown) => this.#deps.say(isCancel(err) ? `${what} cancelled${status.direction === 'receive' ? RESUME_LATER : ''}` : `${what} failed: ${messageOf(err, status.direction)}`))
      .finally(() => {
        this.questions.withdraw(status.id);
        this.#running.delete(status.id);
        this.#deps.changed();
      });
  }

  /** A session notice: the phase for the status line, and the lines worth a line here. */
  #notice(status: Running, n: SessionNotice): void {
    const say = (text: string): void => this.#deps.say(text);
    switch (n.event) {
      case 'accepted':
        return say(`${n.by} accepted offer ${status.id}; sending`);
      case 'receiving':
        return say(`receiving ${plural(n.files, 'file')}, ${formatBytes(n.totalBytes)} from ${n.from} into ${n.dir} (offer ${n.offer})`);
      case 'verify':
        this.#phase(status, 'confirming');
        return say(`offer ${status.id}: verification code ${n.code} (${n.side === 'sender' ? 'the receiver' : 'the sender'} must see the same; no data flows until you confirm)`);
      case 'connecting':
        return this.#phase(status, 'connecting');
      case 'connected':
        if (status.phase !== 'moving') status.startedAt = Date.now();
        return this.#phase(status, 'moving');
      case 'offer':
      case 'waiting':
        return; // said once the offer is made
      default:
        return say(noticeLine(n));
    }
  }

  #phase(status: Running, phase: TransferStatus['phase']): void {
    status.phase = phase;
    this.#deps.changed();
  }

  #done(result: TransferResult, what: string, also = ''): void {
    const size = result.files.reduce((sum, f) => sum + f.size, 0);
    const seconds = (result.elapsedMs / 1000).toFixed(1);
    const rate = formatRate(result.bytes, result.elapsedMs);
    this.#deps.say(`${what}: ${plural(result.files.length, 'file')}, ${formatBytes(size)} verified in ${seconds}s (${rate}, via ${result.path ?? 'direct'})${also}`);
  }
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function isCancel(err: unknown): boolean {
  return (err instanceof TransferSessionError && err.code === 'cancelled') || (err instanceof TransferError && err.code === 'aborted' && !err.fromPeer);
}

function messageOf(err: unknown, direction: 'send' | 'receive'): string {
  const resume = direction === 'receive' ? resumeNote(err) : '';
  if (err instanceof TransferError && err.fromPeer) return `the other side reports: ${messageWithHint(err)}${resume}`;
  return `${messageWithHint(err)}${resume}`;
}

function transferMessage(err: unknown): never {
  throw new CliError(messageOf(err, 'send'));
}
