// chat send-file <user> <path...>: listen on a port, offer the files through the relay, and
// stream them straight to the receiver once they accept (protocol.md §4.4 and Part II). The
// choreography and its checks are the transfer session's (src/client/transfer-session.ts).
import type { OfferSettings } from '../../client/transfer-session.js';
import { collectOffer } from '../../transfer/index.js';
import { connectSession } from '../connect.js';
import { CliError, type CliContext, type GlobalOptions } from '../context.js';
import { interrupted } from '../interrupt.js';
import { manyFilesHeap } from '../heap.js';
import { TransferView, viewMode } from '../transfer-view.js';
import { TRANSFER_OPTIONS, transferSettings, type CliTransferSettings } from '../transfer-options.js';
import { asCliError, cliAnswers, sendTo } from '../transfer-run.js';
import { runSendToGroup } from './send-file-group.js';
import { formatDuration, parseDuration } from '../units.js';
import { globalsOf, leaf, type ArgsOf, type GlobalArgs } from '../command.js';
import { COMMAND_LIST } from './list.js';
import type { Argv } from 'yargs';

export interface SendFileOptions extends GlobalOptions, CliTransferSettings, OfferSettings {
  to: string;
  paths: string[];
  json: boolean;
  /** Also send symbolic links whose target lies outside the named directory. */
  followSymlinks: boolean;
  /** To a group: offer to offline members too (each offer waits until they connect). */
  waitAll: boolean;
}

const builder = (y: Argv<GlobalArgs>) =>
  y
    .positional('user', { type: 'string', demandOption: true })
    .positional('paths', { type: 'string', array: true, demandOption: true })
    .option('port', { type: 'number', default: 0, describe: 'port to listen on for the receiver (0: any free port)' })
    .option('bind', { type: 'string', describe: 'local address to listen on (default: all interfaces)' })
    .option('advertise', { type: 'string', array: true, nargs: 1, default: [], describe: 'another host/IP the receiver may reach you at (repeatable)' })
    .option('advertise-only', { type: 'boolean', default: false, describe: 'offer only the --advertise hosts, not this machine\'s addresses' })
    .option('timeout', { type: 'string', default: '10m', describe: 'withdraw the offer if nobody accepts within this time' })
    .options(TRANSFER_OPTIONS)
    .option('follow-symlinks', { type: 'boolean', default: false, describe: 'also send what symbolic links in a directory point to outside it' })
    .option('wait-all', { type: 'boolean', default: false, describe: 'to a #group: offer to offline members too, and wait until they connect (up to --timeout)' });

export function sendFileOptions(argv: ArgsOf<typeof builder>): SendFileOptions {
  const port = argv.port;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError('--port must be 0-65535', 2);
  const advertise = argv.advertise.map(String);
  if (argv.advertiseOnly && advertise.length === 0) throw new CliError('--advertise-only needs at least one --advertise HOST', 2);
  const timeoutMs = parseDuration(argv.timeout, '--timeout');
  return {
    ...globalsOf(argv),
    ...transferSettings(argv, { bind: argv.bind, advertise, advertiseOnly: argv.advertiseOnly }),
    to: argv.user,
    paths: argv.paths.map(String),
    port,
    timeoutMs,
    timeoutText: formatDuration(timeoutMs),
    json: argv.json,
    followSymlinks: argv.followSymlinks,
    waitAll: argv.waitAll,
  };
}

export const sendFileCommand = leaf({ ...COMMAND_LIST['send-file'], builder, options: sendFileOptions, run: runSendFile });

export async function runSendFile(opts: SendFileOptions, ctx: CliContext): Promise<void> {
  const { files, skipped } = await collectOffer(opts.paths, { followSymlinks: opts.followSymlinks }).catch(asCliError);
  const view = new TransferView(ctx, viewMode(ctx, opts.json), files);
  view.skipped(skipped);
  if (files.length === 0) throw new CliError(`nothing to send: ${skipped.length > 0 ? 'no file left once the symbolic links were skipped' : 'the directories are empty'}`);
  manyFilesHeap(files.length);
  if (opts.to.startsWith('#')) return runSendToGroup(opts, files, ctx);
  if (opts.waitAll) throw new CliError('--wait-all is for a #group: an offer to one user always waits for them', 2);
  const client = await connectSession(opts);
  const interrupt = interrupted();
  try {
    await sendTo(client, cliAnswers(client), { opts, to: opts.to, files, view, interrupt, ctx }).catch(asCliError);
  } finally {
    interrupt.dispose();
    await client.close();
  }
}
