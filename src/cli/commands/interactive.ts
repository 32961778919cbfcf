// chat (no command): the interactive client. The pieces live in ../interactive/: state (unread,
// marks), commands (slash commands), completer (Tab), render (lines, colors), screen (readline),
// reconnect (the kept-alive connection), transfers (/send, /accept) and session (the wiring).
import { CliError } from '../context.js';
import { runInteractive } from '../interactive/session.js';
import { globalsOf, leaf } from '../command.js';
import { COMMAND_LIST } from './list.js';

export const interactiveCommand = leaf({
  ...COMMAND_LIST.$0,
  builder: (y) =>
    y
      .option('bind', { type: 'string', describe: '/send: local address to listen on for receivers (default: all interfaces)' })
      .option('advertise', { type: 'string', array: true, nargs: 1, default: [], describe: '/send: another host/IP receivers may reach you at (repeatable)' })
      .option('advertise-only', { type: 'boolean', default: false, describe: '/send: offer only the --advertise hosts' })
      .hide('json'),
  options: (argv) => {
    if (argv.json) throw new CliError('the interactive chat has no --json output: use chat listen --json to read messages as JSON', 2);
    const advertise = argv.advertise.map(String);
    if (argv.advertiseOnly && advertise.length === 0) throw new CliError('--advertise-only needs at least one --advertise HOST', 2);
    return { ...globalsOf(argv), network: { bind: argv.bind, advertise, advertiseOnly: argv.advertiseOnly } };
  },
  run: runInteractive,
});
