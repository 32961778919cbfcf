// chat accept [ID]: accept an offer and fetch its files straight from the sender
// (protocol.md §4.4, Part II). The server is only needed until the offer is accepted.
import path from 'node:path';
import type { Argv } from 'yargs';
import type { ChatClient } from '../../client/client.js';
import type { OfferInfo } from '../../protocol/messages.js';
import { Receiver, newKeyPair, withObserved, type Via } from '../../transfer/index.js';
import { VIA_OPTION, parseVia } from '../via.js';
import { connectSession, relayOf } from '../connect.js';
import { CliError, type CliContext, type GlobalOptions } from '../context.js';
import { interrupted, type Interrupt } from '../interrupt.js';
import { formatBytes } from '../output.js';
import { manyFilesHeap } from '../heap.js';
import { TransferView, viewMode } from '../transfer-view.js';
import { parseRate } from '../units.js';
import { formatOffer, fullOffer, type FullOffer } from './offers.js';
import { INSECURE_PEER_OPTION, VERIFY_CODE_OPTION, VERIFY_OPTION, asCliError, verifyOptions } from './send-file.js';
import { deviceIdentity } from '../identity-file.js';
import { checkOffer } from '../transfer-auth.js';
import { confirmCode, yesOnTty } from '../confirm-code.js';

export interface AcceptOptions extends GlobalOptions {
  id?: string;
  dir: string;
  all: boolean;
  wait: boolean;
  parallel: number;
  limitRate: number;
  json: boolean;
  via: Via[];
  verify: boolean;
  verifyCode?: string;
  insecurePeer: boolean;
  bind?: string;
  advertise: string[];
  advertiseOnly: boolean;
}

type Argvs = Record<string, unknown>;

export const acceptCommand = (ctx: CliContext) => ({
  command: 'accept [id]',
  describe: 'accept a file offer and receive the files',
  builder: (y: Argv) =>
    y
      .positional('id', { type: 'string', describe: 'offer id (optional when only one is waiting)' })
      .option('dir', { type: 'string', default: '.', describe: 'where to save the files' })
      .option('all', { type: 'boolean', default: false, describe: 'accept every waiting offer, one after another' })
      .option('wait', { type: 'boolean', default: false, describe: 'wait for an offer to arrive' })
      .option('parallel', { type: 'number', default: 4, describe: 'connections to the sender (files at once)' })
      .option('limit-rate', { type: 'string', default: '0', describe: 'bandwidth cap in bytes/s, e.g. 500K or 10M (0: none)' })
      .option('json', { type: 'boolean', default: false, describe: 'one JSON object per line' })
      .option('via', VIA_OPTION)
      .option('verify', VERIFY_OPTION)
      .option('verify-code', VERIFY_CODE_OPTION)
      .option('insecure-peer', INSECURE_PEER_OPTION)
      .option('bind', { type: 'string', describe: 'local address for reverse connections (default: all interfaces)' })
      .option('advertise', { type: 'string', array: true, nargs: 1, default: [], describe: 'another host/IP the sender may reach us at (repeatable)' })
      .option('advertise-only', { type: 'boolean', default: false, describe: "offer only the --advertise hosts, not this machine's addresses" }),
  handler: (argv: Argvs) => runAccept(acceptOptions(argv), ctx),
});

function acceptOptions(argv: Argvs): AcceptOptions {
  const parallel = argv.parallel as number;
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 64) throw new CliError('--parallel must be 1-64', 2);
  return {
    ...(argv as unknown as GlobalOptions),
    id: argv.id === undefined ? undefined : String(argv.id),
    dir: path.resolve(String(argv.dir)),
    all: Boolean(argv.all),
    wait: Boolean(argv.wait),
    parallel,
    limitRate: parseRate(String(argv.limitRate), '--limit-rate'),
    json: Boolean(argv.json),
    via: parseVia(argv.via),
    ...verifyOptions(argv),
    bind: argv.bind === undefined ? undefined : String(argv.bind),
    advertise: (argv.advertise as unknown[]).map(String),
    advertiseOnly: Boolean(argv.advertiseOnly),
  };
}

export async function runAccept(opts: AcceptOptions, ctx: CliContext): Promise<void> {
  const client = await connectSession(opts);
  const interrupt = interrupted();
  try {
    const chosen = await chooseOffers(client, opts, ctx, interrupt);
    for (const offer of chosen) await receive(client, offer, opts, ctx, interrupt);
  } finally {
    interrupt.dispose();
    await client.close();
  }
}

/** The offers to accept: the one named, the only one, all (--all), or the next to arrive (--wait). */
async function chooseOffers(client: ChatClient, opts: AcceptOptions, ctx: CliContext, interrupt: Interrupt): Promise<FullOffer[]> {
  if (opts.id) {
    const info = (await client.offers()).find((o) => o.id === opts.id);
    if (!info) throw new CliError(`no such offer: ${opts.id} (see chat offers)`);
    return [await fullOffer(client, info)];
  }
  let waiting = opts.wait ? await waitForOffers(client, ctx, interrupt) : await client.offers();
  if (waiting.length === 0) throw new CliError('no offers are waiting for you (chat accept --wait waits for one)');
  if (waiting.length > 1 && !opts.all) {
    for (const info of waiting) for (const line of formatOffer(await fullOffer(client, info))) ctx.err(line);
    throw new CliError(`${waiting.length} offers are waiting: pick one with chat accept ID, or use --all`);
  }
  waiting = opts.all ? waiting : waiting.slice(0, 1);
  return Promise.all(waiting.map((info) => fullOffer(client, info)));
}

/** Subscribes; resolves with the offers open now or, if none, the next one to arrive. */
async function waitForOffers(client: ChatClient, ctx: CliContext, interrupt: Interrupt): Promise<OfferInfo[]> {
  const seen: OfferInfo[] = [];
  let wake: (() => void) | undefined;
  client.on('offer', (info) => {
    seen.push(info);
    wake?.();
  });
  client.on('offer_closed', (e) => {
    const i = seen.findIndex((o) => o.id === e.offer);
    if (i >= 0) seen.splice(i, 1);
  });
  await client.subscribe(); // open offers arrive before this reply
  if (seen.length > 0) return seen;
  ctx.err('waiting for an offer (Ctrl-C to stop)');
  await new Promise<void>((resolve, reject) => {
    wake = resolve;
    client.on('close', (err) => reject(new CliError(`lost the server connection${err ? `: ${err.message}` : ''}`)));
    void interrupt.promise.then(() => reject(new CliError('cancelled', 130)));
  });
  return seen.slice(0, 1);
}

/** §T10.4: the code is shown and confirmed before the Receiver connects (a "no" aborts: no byte moved). */
async function confirmBeforeData(view: TransferView, code: string, confirm: () => Promise<void>, receiver: Receiver): Promise<void> {
  view.info(`verification code: ${code} (the sender must see the same; nothing is received until you confirm)`, { event: 'verify', code });
  await confirm().catch((err: unknown) => {
    receiver.abort();
    throw err;
  });
}

async function receive(client: ChatClient, offer: FullOffer, opts: AcceptOptions, ctx: CliContext, interrupt: Interrupt): Promise<void> {
  const { info, files } = offer;
  manyFilesHeap(files.length);
  const view = new TransferView(ctx, viewMode(ctx, opts.json), files);
  const keys = newKeyPair();
  // §T10: the offer's signature and the pins are checked, and --verify's code confirmed, before the accept.
  const { identity, code } = await checkOffer(view, { ...opts, confirm: (code) => confirmCode(ctx, code, opts.verifyCode), ask: (q) => yesOnTty(ctx, q) }, deviceIdentity(opts.home, opts.server), info, files, keys.publicKey).catch(async (err: unknown) => {
    await client.request('reject', { offer: info.id, reason: 'refused: the transfer could not be authenticated' }).catch(() => {});
    throw err;
  });
  const receiver = new Receiver({
    transferId: info.transfer, token: info.token, candidates: withObserved(info.candidates, info.observed),
    files, dir: opts.dir, parallel: opts.parallel, limitRate: opts.limitRate,
    keys: info.key ? { own: keys, peer: info.key } : undefined,
    via: opts.via, relay: relayOf(client, opts),
    listen: { host: opts.bind, advertise: opts.advertise, advertiseOnly: opts.advertiseOnly },
  });
  const candidates = await receiver.prepare().catch((err: Error) => {
    throw new CliError(`cannot listen for a reverse connection: ${err.message}`);
  });
  const { relay } = await client.accept(info.id, { key: keys.publicKey, candidates, identity, verify: opts.verify }).catch((err: unknown) => {
    receiver.abort(); // closes the reverse listener
    throw err;
  });
  receiver.useRelay(relay);
  if (code) await confirmBeforeData(view, code, () => confirmCode(ctx, code, opts.verifyCode), receiver);
  view.info(`receiving ${info.fileCount} file(s), ${formatBytes(info.totalBytes)} from ${info.from} into ${opts.dir}`, {
    event: 'accepted', offer: info.id, from: info.from, files: info.fileCount, totalBytes: info.totalBytes, dir: opts.dir,
  });
  let connected = false;
  receiver.on('connected', ({ remote, path }) => {
    if (!connected) view.info(`connected to ${info.from} (${path}, ${remote})`, { event: 'connected', remote, path });
    connected = true;
  });
  receiver.on('retry', (r) => view.info(`connection lost (${r.reason}); retrying (attempt ${r.attempt})`, { event: 'retry', ...r }));
  receiver.on('progress', (ev) => view.progress(ev));
  receiver.on('proving', (p) => view.info(`${p.path}: re-checking the ${formatBytes(p.bytes)} kept from an earlier transfer (in the background)`, { event: 'proving', ...p }));
  receiver.on('file', (r) => view.file(r));
  void interrupt.promise.then(() => receiver.abort());
  try {
    const result = await receiver.start();
    view.done(result, `received from ${info.from} via ${result.path ?? 'direct'}`);
  } catch (err) {
    view.stop();
    if (interrupt.fired) throw new CliError('cancelled; partial files stay as .part and resume next time', 130);
    asCliError(err);
  }
}
