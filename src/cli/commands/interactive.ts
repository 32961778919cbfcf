// chat (no command): the interactive client. The pieces live in ../interactive/: state (unread,
// marks), commands (slash commands), completer (Tab), render (lines, colors), screen (readline),
// reconnect (the kept-alive connection), transfers (/send, /accept) and session (the wiring).
import type { Argv } from 'yargs';
import { CliError, type CliContext, type GlobalOptions } from '../context.js';
import { runInteractive } from '../interactive/session.js';

type Argvs = Record<string, unknown>;

export const interactiveCommand = (ctx: CliContext) => ({
  command: '$0',
  describe: 'interactive chat (/help inside for commands)',
  builder: (y: Argv) =>
    y
      .option('bind', { type: 'string', describe: '/send: local address to listen on for receivers (default: all interfaces)' })
      .option('advertise', { type: 'string', array: true, nargs: 1, default: [], describe: '/send: another host/IP receivers may reach you at (repeatable)' })
      .option('advertise-only', { type: 'boolean', default: false, describe: '/send: offer only the --advertise hosts' })
      .hide('json'),
  handler: (argv: Argvs) => {
    if (argv.json) throw new CliError('the interactive chat has no --json output: use chat listen --json to read messages as JSON', 2);
    const advertise = (argv.advertise as unknown[]).map(String);
    if (argv.advertiseOnly && advertise.length === 0) throw new CliError('--advertise-only needs at least one --advertise HOST', 2);
    const network = { bind: argv.bind === undefined ? undefined : String(argv.bind), advertise, advertiseOnly: Boolean(argv.advertiseOnly) };
    return runInteractive({ ...(argv as unknown as GlobalOptions), network }, ctx);
  },
});
