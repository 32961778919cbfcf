// chat offers, chat reject: what is waiting for you, and saying no.
import type { ChatClient } from '../../client/client.js';
import type { OfferFileInfo, OfferInfo } from '../../protocol/messages.js';
import { connectSession } from '../connect.js';
import type { CliContext, GlobalOptions } from '../context.js';
import { globalsOf, leaf } from '../command.js';
import { COMMAND_LIST } from './list.js';
import { printable, printableJson } from '../../protocol/printable.js';
import { formatBytes } from '../output.js';
import { formatDuration } from '../units.js';

/** An offer with its whole file list. */
export interface FullOffer {
  info: OfferInfo;
  files: OfferFileInfo[];
}

export async function fullOffer(client: ChatClient, info: OfferInfo): Promise<FullOffer> {
  return { info, files: await client.offerFiles(info.id) };
}

/** The offer's header line, then every file: nothing hides in a big offer (and no field adds a line). */
export function formatOffer({ info, files }: FullOffer, now = Date.now()): string[] {
  const types = [...new Set(files.map((f) => printable(f.mime)))].slice(0, 5).join(', ');
  const expires = formatDuration(Math.max(0, info.expiresAt - now));
  const head = `${printable(info.id)}  from ${printable(info.from)}  ${Number(info.fileCount)} file(s), ${formatBytes(info.totalBytes)}  (${types})  expires in ${expires}`;
  return [head, ...files.map((f) => `    ${printable(f.path)}  ${formatBytes(f.size)}  ${printable(f.mime)}`)];
}

export function offerJson({ info, files }: FullOffer): string {
  const { token: _secret, ...visible } = info;
  return printableJson({ ...visible, files });
}

export const offersCommand = leaf({
  ...COMMAND_LIST.offers,
  builder: (y) => y,
  options: (argv) => ({ ...globalsOf(argv), json: argv.json }),
  run: runOffers,
});

export async function runOffers(opts: GlobalOptions & { json: boolean }, ctx: CliContext): Promise<void> {
  const client = await connectSession(opts);
  try {
    const offers = await client.offers();
    if (offers.length === 0 && !opts.json) ctx.err('no offers are waiting for you');
    for (const info of offers) {
      const offer = await fullOffer(client, info);
      if (opts.json) ctx.out(offerJson(offer));
      else for (const line of formatOffer(offer)) ctx.out(line);
    }
  } finally {
    await client.close();
  }
}

export const rejectCommand = leaf({
  ...COMMAND_LIST.reject,
  builder: (y) =>
    y
      .positional('id', { type: 'string', demandOption: true, describe: 'offer id from chat offers' })
      .option('reason', { type: 'string', describe: 'told to the sender' }),
  options: (argv) => ({ ...globalsOf(argv), id: argv.id, reason: argv.reason }),
  run: runReject,
});

export async function runReject(opts: GlobalOptions & { id: string; reason?: string }, ctx: CliContext): Promise<void> {
  const client = await connectSession(opts);
  try {
    await client.request('reject', { offer: opts.id, reason: opts.reason });
    ctx.out(opts.json ? printableJson({ offer: opts.id }) : `rejected offer ${printable(opts.id)}`);
  } finally {
    await client.close();
  }
}
