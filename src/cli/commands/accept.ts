// chat accept [ID]: accept an offer and fetch its files straight from the sender
// (protocol.md §4.4, Part II). The server is only needed until the offer is accepted. The
// choreography and its checks are the transfer session's (src/client/transfer-session.ts).
import path from 'node:path';
import type { Argv } from 'yargs';
import { globalsOf, leaf, type ArgsOf, type GlobalArgs } from '../command.js';
import { COMMAND_LIST } from './list.js';
import type { ChatClient } from '../../client/client.js';
import { IncomingTransfer } from '../../client/transfer-session.js';
import type { OfferInfo } from '../../protocol/messages.js';
import { connectSession, relayOf } from '../connect.js';
import { CliError, type CliContext, type GlobalOptions } from '../context.js';
import { interrupted, type Interrupt } from '../interrupt.js';
import { manyFilesHeap } from '../heap.js';
import { TransferView, viewMode } from '../transfer-view.js';
import { TRANSFER_OPTIONS, transferSettings, type CliTransferSettings } from '../transfer-options.js';
import { asCliError, cliTrust, resumeNote, showSession } from '../transfer-run.js';
import { formatOffer, fullOffer, type FullOffer } from './offers.js';

export interface AcceptOptions extends GlobalOptions, CliTransferSettings {
  id?: string;
  dir: string;
  all: boolean;
  wait: boolean;
  json: boolean;
}

const builder = (y: Argv<GlobalArgs>) =>
  y
    .positional('id', { type: 'string', describe: 'offer id (optional when only one is waiting)' })
    .option('dir', { type: 'string', default: '.', describe: 'where to save the files' })
    .option('all', { type: 'boolean', default: false, describe: 'accept every waiting offer, one after another' })
    .option('wait', { type: 'boolean', default: false, describe: 'wait for an offer to arrive' })
    .options(TRANSFER_OPTIONS)
    .option('force-copy', { type: 'boolean', default: false, describe: 'save a file as "name (1)" even when the same file is already there (default: keep that one)' })
    .option('bind', { type: 'string', describe: 'local address for reverse connections (default: all interfaces)' })
    .option('advertise', { type: 'string', array: true, nargs: 1, default: [], describe: 'another host/IP the sender may reach us at (repeatable)' })
    .option('advertise-only', { type: 'boolean', default: false, describe: "offer only the --advertise hosts, not this machine's addresses" });

export function acceptOptions(argv: ArgsOf<typeof builder>): AcceptOptions {
  const network = { bind: argv.bind, advertise: argv.advertise.map(String), advertiseOnly: argv.advertiseOnly };
  return {
    ...globalsOf(argv),
    ...transferSettings(argv, network),
    id: argv.id,
    dir: path.resolve(argv.dir),
    all: argv.all,
    wait: argv.wait,
    json: argv.json,
    forceCopy: argv.forceCopy,
  };
}

export const acceptCommand = leaf({ ...COMMAND_LIST.accept, builder, options: acceptOptions, run: runAccept });

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

async function receive(client: ChatClient, offer: FullOffer, opts: AcceptOptions, ctx: CliContext, interrupt: Interrupt): Promise<void> {
  const { info, files } = offer;
  manyFilesHeap(files.length);
  const view = new TransferView(ctx, viewMode(ctx, opts.json), files);
  const session = new IncomingTransfer({ client, relay: relayOf(client, opts), trust: cliTrust(opts, ctx) }, offer, opts.dir, opts);
  showSession(session, view);
  void interrupt.promise.then(() => session.cancel());
  try {
    await session.accept();
    const result = await session.finish();
    view.done(result, `received from ${info.from} via ${result.path ?? 'direct'}`);
  } catch (err) {
    view.stop();
    asCliError(err, resumeNote(err));
  }
}
