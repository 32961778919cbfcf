// chat offers, chat reject: what is waiting for you, and saying no.
import type { Argv } from 'yargs';
import type { ChatClient } from '../../client/client.js';
import type { OfferFileInfo, OfferInfo } from '../../protocol/messages.js';
import { connectSession } from '../connect.js';
import type { CliContext, GlobalOptions } from '../context.js';
import { printable, printableJson } from '../../protocol/printable.js';
import { formatBytes } from '../output.js';
import { formatDuration } from '../units.js';

type Argvs = Record<string, unknown>;

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

export const offersCommand = (ctx: CliContext) => ({
  command: 'offers',
  describe: 'list file offers waiting for you, with every file',
  builder: (y: Argv) => y.option('json', { type: 'boolean', default: false, describe: 'one JSON object per offer and line' }),
  handler: (argv: Argvs) => runOffers({ ...(argv as unknown as GlobalOptions), json: Boolean(argv.json) }, ctx),
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

export const rejectCommand = (ctx: CliContext) => ({
  command: 'reject <id>',
  describe: 'decline a file offer (the sender is told)',
  builder: (y: Argv) =>
    y.positional('id', { type: 'string', describe: 'offer id from chat offers' }).option('reason', { type: 'string', describe: 'told to the sender' }),
  handler: (argv: Argvs) =>
    runReject({ ...(argv as unknown as GlobalOptions), id: String(argv.id), reason: argv.reason as string | undefined }, ctx),
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
