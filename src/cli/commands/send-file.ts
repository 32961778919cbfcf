// chat send-file <user> <path...>: listen on a port, offer the files through the relay, and
// stream them straight to the receiver once they accept (protocol.md §4.4 and Part II).
import type PQueue from 'p-queue';
import type { Argv } from 'yargs';
import type { ChatClient } from '../../client/client.js';
import { ClientError } from '../../client/errors.js';
import type { OfferAccepted, OfferCloseReason, SignedIdentity } from '../../protocol/messages.js';
import { printable } from '../../protocol/printable.js';
import { deviceIdentity } from '../identity-file.js';
import { checkAccept, signOffer } from '../transfer-auth.js';
import { confirmCode, yesOnTty } from '../confirm-code.js';
import {
  Sender, TransferError, collectOffer, localCandidates, newKeyPair, newTransferSecret, type LocalFile, type TransferResult, type Via,
} from '../../transfer/index.js';
import { VIA_OPTION, parseVia } from '../via.js';
import { connectSession, relayOf } from '../connect.js';
import { CliError, type CliContext, type GlobalOptions } from '../context.js';
import { interrupted, type Interrupt } from '../interrupt.js';
import { formatBytes } from '../output.js';
import { manyFilesHeap } from '../heap.js';
import { TransferView, viewMode } from '../transfer-view.js';
import { runSendToGroup } from './send-file-group.js';
import { formatDuration, parseDuration, parseRate } from '../units.js';

export interface SendFileOptions extends GlobalOptions {
  to: string;
  paths: string[];
  port: number;
  bind?: string;
  advertise: string[];
  advertiseOnly: boolean;
  timeoutMs: number;
  parallel: number;
  limitRate: number;
  json: boolean;
  via: Via[];
  verify: boolean;
  /** The code the receiver shows, for scripts (--verify-code). */
  verifyCode?: string;
  /** Accept a receiver that does not sign or encrypt (--insecure-peer). */
  insecurePeer: boolean;
  /** Also send symbolic links whose target lies outside the named directory. */
  followSymlinks: boolean;
}

type Argvs = Record<string, unknown>;

/** Once accepted, how long the receiver has to reach our port before we give up. */
const CONNECT_WAIT_MS = 60_000;

export const sendFileCommand = (ctx: CliContext) => ({
  command: 'send-file <user> <paths..>',
  describe: 'offer files or directories to a user and send them directly',
  builder: (y: Argv) =>
    y
      .positional('user', { type: 'string' })
      .positional('paths', { type: 'string', array: true })
      .option('port', { type: 'number', default: 0, describe: 'port to listen on for the receiver (0: any free port)' })
      .option('bind', { type: 'string', describe: 'local address to listen on (default: all interfaces)' })
      .option('advertise', { type: 'string', array: true, nargs: 1, default: [], describe: 'another host/IP the receiver may reach you at (repeatable)' })
      .option('advertise-only', { type: 'boolean', default: false, describe: 'offer only the --advertise hosts, not this machine\'s addresses' })
      .option('timeout', { type: 'string', default: '10m', describe: 'withdraw the offer if nobody accepts within this time' })
      .option('parallel', { type: 'number', default: 4, describe: 'files streamed at once' })
      .option('limit-rate', { type: 'string', default: '0', describe: 'bandwidth cap in bytes/s, e.g. 500K or 10M (0: none)' })
      .option('json', { type: 'boolean', default: false, describe: 'one JSON object per line' })
      .option('via', VIA_OPTION)
      .option('verify', VERIFY_OPTION)
      .option('verify-code', VERIFY_CODE_OPTION)
      .option('insecure-peer', INSECURE_PEER_OPTION)
      .option('follow-symlinks', { type: 'boolean', default: false, describe: 'also send what symbolic links in a directory point to outside it' }),
  handler: (argv: Argvs) => runSendFile(sendFileOptions(argv), ctx),
});

function sendFileOptions(argv: Argvs): SendFileOptions {
  const port = argv.port as number;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError('--port must be 0-65535', 2);
  const parallel = argv.parallel as number;
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 64) throw new CliError('--parallel must be 1-64', 2);
  const advertise = (argv.advertise as unknown[]).map(String);
  if (argv.advertiseOnly && advertise.length === 0) throw new CliError('--advertise-only needs at least one --advertise HOST', 2);
  return {
    ...(argv as unknown as GlobalOptions),
    to: String(argv.user),
    paths: (argv.paths as unknown[]).map(String),
    port,
    bind: argv.bind === undefined ? undefined : String(argv.bind),
    advertise,
    advertiseOnly: Boolean(argv.advertiseOnly),
    timeoutMs: parseDuration(String(argv.timeout), '--timeout'),
    parallel,
    limitRate: parseRate(String(argv.limitRate), '--limit-rate'),
    json: Boolean(argv.json),
    via: parseVia(argv.via),
    ...verifyOptions(argv),
    followSymlinks: Boolean(argv.followSymlinks),
  };
}

/** --verify, --verify-code and --insecure-peer, as send-file and accept take them. */
export const VERIFY_OPTION = { type: 'boolean', default: false, describe: 'compare a code with the other side before any data flows (not needed with a contact verified by chat verify)' } as const;
export const VERIFY_CODE_OPTION = { type: 'string', describe: 'the code the other side shows (for scripts; implies --verify; a mismatch aborts)' } as const;
export const INSECURE_PEER_OPTION = { type: 'boolean', default: false, describe: 'accept a peer that does not sign or encrypt (an older chat): not authenticated' } as const;

export function verifyOptions(argv: Argvs): { verify: boolean; verifyCode?: string; insecurePeer: boolean } {
  const verifyCode = argv.verifyCode === undefined ? undefined : String(argv.verifyCode);
  return { verify: Boolean(argv.verify) || verifyCode !== undefined, verifyCode, insecurePeer: Boolean(argv.insecurePeer) };
}

export async function runSendFile(opts: SendFileOptions, ctx: CliContext): Promise<void> {
  const { files, skipped } = await collectOffer(opts.paths, { followSymlinks: opts.followSymlinks }).catch(asCliError);
  const view = new TransferView(ctx, viewMode(ctx, opts.json), files);
  view.skipped(skipped);
  if (files.length === 0) throw new CliError(`nothing to send: ${skipped.length > 0 ? 'no file left once the symbolic links were skipped' : 'the directories are empty'}`);
  manyFilesHeap(files.length);
  if (opts.to.startsWith('#')) return runSendToGroup(opts, files, ctx);
  const client = await connectSession(opts);
  const interrupt = interrupted();
  try {
    await sendTo(client, new OfferAnswers(client), opts, files, view, interrupt, ctx);
  } finally {
    interrupt.dispose();
    await client.close();
  }
}

/** One offer to `opts.to` and, once accepted, the direct stream; resolves when all is verified. */
export async function sendTo(
  client: ChatClient,
  answers: OfferAnswers,
  opts: SendFileOptions,
  files: LocalFile[],
  view: TransferView,
  interrupt: Interrupt,
  ctx: CliContext,
  queue?: PQueue,
): Promise<TransferResult> {
  const { transferId, token } = newTransferSecret();
  const keys = newKeyPair();
  const identity = deviceIdentity(opts.home, opts.server);
  const offer = { transferId, from: client.user!, to: opts.to, senderKey: keys.publicKey, files, verify: opts.verify };
  const sender = new Sender({
    transferId, token, files, host: opts.bind, port: opts.port, limitRate: opts.limitRate, parallel: opts.parallel, queue,
    keys, via: opts.via, relay: relayOf(client, opts),
  });
  const connected = showSender(sender, view);
  try {
    const port = await sender.listen().catch((err: Error) => {
      throw new CliError(`cannot listen on port ${opts.port}: ${err.message}`);
    });
    const signed = { key: keys.publicKey, identity: signOffer(identity, offer), verify: opts.verify };
    const offerId = await makeOffer(client, opts, files, { transferId, token, port, ...signed }, view);
    const accepted = await answers.wait(client, offerId, opts, interrupt);
    view.info(`${printable(accepted.by)} accepted`, { event: 'accepted', offer: offerId, by: accepted.by });
    await checkAccept(view, { ...opts, confirm: (code) => confirmCode(ctx, code, opts.verifyCode), ask: (q) => yesOnTty(ctx, q) }, identity, offer, accepted); // §T10: before the Sender admits anyone
    sender.accepted(accepted);
    view.info(`connecting (${opts.via.join(', ')})`, { event: 'connecting', offer: offerId });
    return await stream(sender, interrupt, accepted.by, connected, view);
  } catch (err) {
    sender.close();
    view.stop();
    throw err;
  }
}

async function makeOffer(
  client: ChatClient,
  opts: SendFileOptions,
  files: LocalFile[],
  secret: { transferId: string; token: string; port: number; key: string; identity: SignedIdentity; verify: boolean },
  view: TransferView,
): Promise<string> {
  const totalBytes = files.reduce((sum, f) => sum + f.size, 0);
  const candidates = secret.port > 0 ? localCandidates(secret.port, opts.advertise, opts.advertiseOnly, opts.bind) : [];
  const created = await client.offer(
    opts.to,
    { transfer: secret.transferId, token: secret.token, candidates, timeoutMs: opts.timeoutMs, key: secret.key, identity: secret.identity, verify: secret.verify },
    files,
  );
  const what = `${files.length} file(s), ${formatBytes(totalBytes)}`;
  view.info(`offered ${what} to ${opts.to} (offer ${created.offer}, port ${secret.port})`, {
    event: 'offer', offer: created.offer, to: opts.to, files: files.length, totalBytes, port: secret.port, candidates,
  });
  const waitLine = created.online
    ? `waiting up to ${formatDuration(opts.timeoutMs)} for ${opts.to} to accept (Ctrl-C to cancel)`
    : `${opts.to} is offline: the offer waits up to ${formatDuration(opts.timeoutMs)} until they connect (Ctrl-C to cancel)`;
  view.info(waitLine, { event: 'waiting', offer: created.offer, online: created.online });
  return created.offer;
}

const CLOSED_BECAUSE: Record<OfferCloseReason, string> = {
  accepted: 'accepted elsewhere',
  rejected: 'rejected the offer',
  withdrawn: 'the offer was withdrawn',
  expired: 'nobody accepted in time; the offer was withdrawn',
  sender_gone: 'the offer was withdrawn',
};

type Answer = (OfferAccepted & { accepted: true }) | { offer: string; accepted: false; reason: OfferCloseReason; by: string; message?: string };

/**
 * Records answers to offers from the moment it is created: an accept can arrive in the same
 * TCP read as the reply that created the offer, before anyone waits for it.
 */
export class OfferAnswers {
  #answers: Answer[] = [];
  #lost: string | null = null;
  #waiters = new Set<() => void>();

  constructor(client: ChatClient) {
    client.on('offer_accepted', (e) => this.#add({ ...e, accepted: true }));
    client.on('offer_closed', (e) => this.#add({ ...e, accepted: false }));
    client.on('close', (err) => {
      this.#lost = err ? `: ${err.message}` : '';
      this.#wake();
    });
  }

  #add(answer: Answer): void {
    this.#answers.push(answer);
    this.#wake();
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** Resolves when `offerId` is accepted; rejects on reject, expiry, Ctrl-C or a lost server. */
  wait(client: ChatClient, offerId: string, opts: Pick<SendFileOptions, 'to' | 'timeoutMs'>, interrupt: Interrupt): Promise<OfferAccepted> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const a = this.#answers.find((x) => x.offer === offerId);
        if (a?.accepted) resolve(a);
        else if (a) reject(closedError(a, opts));
        else if (this.#lost !== null) reject(new CliError(`lost the server connection before ${opts.to} answered${this.#lost}`));
        else return;
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
      void interrupt.promise.then(async () => {
        await client.request('withdraw', { offer: offerId, reason: 'cancelled by the sender' }).catch(() => {});
        reject(new CliError('cancelled: the offer was withdrawn', 130));
      });
    });
  }
}

function closedError(a: Extract<Answer, { accepted: false }>, opts: Pick<SendFileOptions, 'to' | 'timeoutMs'>): CliError {
  if (a.reason === 'rejected') return new CliError(`${a.by} rejected the offer${a.message ? `: ${a.message}` : ''}`);
  if (a.reason === 'expired') return new CliError(`${opts.to} did not accept within ${formatDuration(opts.timeoutMs)}; the offer was withdrawn`);
  return new CliError(CLOSED_BECAUSE[a.reason]);
}

/** Shows the Sender's events from the start (a fast receiver may finish before the accept event is read). */
function showSender(sender: Sender, view: TransferView): { readonly yes: boolean; first: Promise<void> } {
  let yes = false;
  let reached!: () => void;
  const first = new Promise<void>((resolve) => (reached = resolve));
  sender.on('connected', ({ remote, path }) => {
    if (!yes) view.info(`connected to the receiver (${path}, ${remote})`, { event: 'connected', remote, path });
    yes = true;
    reached();
  });
  sender.on('refused', ({ remote, reason }) => view.info(`refused a connection from ${remote}: ${reason}`, { event: 'refused', remote, reason }));
  sender.on('progress', (ev) => view.progress(ev));
  sender.on('file', (r) => view.file(r));
  return {
    get yes() {
      return yes;
    },
    first,
  };
}

async function stream(
  sender: Sender,
  interrupt: Interrupt,
  receiver: string,
  connected: { readonly yes: boolean; first: Promise<void> },
  view: TransferView,
): Promise<TransferResult> {
  const connectTimer = setTimeout(() => sender.close(), CONNECT_WAIT_MS);
  void connected.first.then(() => clearTimeout(connectTimer));
  void interrupt.promise.then(() => sender.close());
  try {
    const result = await sender.done;
    view.done(result, `sent to ${receiver} via ${result.path ?? 'direct'}`);
    return result;
  } catch (err) {
    if (!connected.yes && err instanceof TransferError && err.code === 'aborted' && !interrupt.fired) {
      throw new CliError(`${receiver} could not connect within ${CONNECT_WAIT_MS / 1000}s; are you reachable? (see --port and --advertise)`);
    }
    throw asCliError(err);
  } finally {
    clearTimeout(connectTimer);
  }
}

/** Transfer errors become one line, with Ctrl-C's exit code for a cancel. */
export function asCliError(err: unknown): never {
  if (err instanceof TransferError) {
    const who = err.fromPeer ? 'the other side reports: ' : '';
    throw new CliError(`${who}${err.message}`, err.code === 'aborted' && !err.fromPeer ? 130 : 1);
  }
  if (err instanceof ClientError || err instanceof CliError) throw err;
  throw err;
}
