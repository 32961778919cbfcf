// How chat send-file and chat accept run a transfer session: the trust of this CHAT_HOME with
// y/N and --verify-code, notices shown by a TransferView, and errors turned into one line.
import type PQueue from 'p-queue';
import type { ChatClient } from '../client/client.js';
import { TransferSessionError } from '../client/errors.js';
import { OfferAnswers } from '../client/offer-answers.js';
import type { TransferTrust } from '../client/transfer-auth.js';
import { IncomingTransfer, OutgoingTransfer, type OfferSettings } from '../client/transfer-session.js';
import { TransferError, type LocalFile, type TransferResult } from '../transfer/index.js';
import { confirmCode, yesOnTty } from './confirm-code.js';
import { relayOf } from './connect.js';
import { CliError, type CliContext, type GlobalOptions } from './context.js';
import { messageWithHint } from './hints.js';
import type { Interrupt } from './interrupt.js';
import { pinnedTrust } from './peer-trust.js';
import { noticeJson, noticeLine } from './transfer-notices.js';
import type { TransferView } from './transfer-view.js';

/** What sending needs: the global options, the offer's settings, and --verify-code. */
export type SendOptions = GlobalOptions & OfferSettings & { verifyCode?: string };

/** The trust of send-file and accept: this CHAT_HOME's identity and pins, y/N and --verify-code. */
export function cliTrust(opts: GlobalOptions & { verifyCode?: string }, ctx: CliContext): TransferTrust {
  return pinnedTrust(opts.home, opts.server, { confirm: (code) => confirmCode(ctx, code, opts.verifyCode), ask: (q) => yesOnTty(ctx, q) });
}

/** Answers to this client's offers; a lost server connection ends every wait. */
export function cliAnswers(client: ChatClient): OfferAnswers {
  const answers = new OfferAnswers(client);
  client.on('close', (err) => answers.lost(err ? `: ${err.message}` : ''));
  return answers;
}

/** Shows a session's notices, progress and files in `view`. */
export function showSession(session: OutgoingTransfer | IncomingTransfer, view: TransferView): void {
  session.on('notice', (n) => view.info(noticeLine(n), noticeJson(n)));
  session.on('progress', (ev) => view.progress(ev));
  session.on('file', (r) => view.file(r));
}

/** One offer to `to` and, once accepted, the stream; resolves when the receiver verified all. */
export async function sendTo(
  client: ChatClient,
  answers: OfferAnswers,
  run: { opts: SendOptions; to: string; files: LocalFile[]; view: TransferView; interrupt: Interrupt; ctx: CliContext; queue?: PQueue },
): Promise<TransferResult> {
  const { opts, view } = run;
  const session = new OutgoingTransfer({ client, relay: relayOf(client, opts), trust: cliTrust(opts, run.ctx), queue: run.queue }, run.to, run.files, opts);
  showSession(session, view);
  let by = run.to;
  session.on('notice', (n) => {
    if (n.event === 'accepted') by = n.by;
  });
  void run.interrupt.promise.then(() => session.cancel());
  try {
    await session.offer();
    const result = await session.finish(answers);
    view.done(result, `sent to ${by} via ${result.path ?? 'direct'}`);
    return result;
  } catch (err) {
    view.stop();
    throw err;
  }
}

/** Transfer and session errors become one line, with Ctrl-C's exit code for a cancel. */
export function asCliError(err: unknown, note = ''): never {
  throw cliErrorOf(err, note);
}

/** `note` follows a transfer error's message (e.g. RESUME_LATER). */
export function cliErrorOf(err: unknown, note = ''): unknown {
  if (err instanceof TransferError) {
    const who = err.fromPeer ? 'the other side reports: ' : '';
    const cancelled = err.code === 'aborted' && !err.fromPeer;
    return cancelled ? new CliError(`${who}${err.message}${note}`, 130) : new CliError(`${who}${messageWithHint(err)}${note}`, 1, err.code);
  }
  if (err instanceof TransferSessionError) {
    if (err.code === 'cancelled') return new CliError(err.message, 130);
    return new CliError(messageWithHint(err), 1, err.code);
  }
  return err;
}

/** What a receiver says when its partial files are kept for the next accept. */
export const RESUME_LATER = '; partial files stay as .part and resume next time';

/** Receiver errors after which what arrived is kept as .part: the sender cancelled, vanished or went quiet. */
const RESUMABLE = new Set(['aborted', 'peer_gone', 'timeout', 'unreachable']);

/** RESUME_LATER for a receiver's error that leaves its partial files for the next accept, else ''. */
export function resumeNote(err: unknown): string {
  return err instanceof TransferError && RESUMABLE.has(err.code) ? RESUME_LATER : '';
}

/** A transfer that ended because the other user said no or did not answer: not a failure. */
export function declined(err: unknown): boolean {
  return err instanceof TransferSessionError && (err.code === 'rejected' || err.code === 'expired');
}
