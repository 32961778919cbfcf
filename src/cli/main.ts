// The CLI entry: yargs parses argv into a command's options; only here do errors become
// one line on stderr and an exit code (a stack trace only with --verbose).
import yargs from 'yargs';
import { ClientError } from '../client/errors.js';
import { loginCommand, logoutCommand, registerCommand, whoamiCommand } from './commands/accounts.js';
import { acceptCommand } from './commands/accept.js';
import { adminCommand } from './commands/admin.js';
import { friendCommand, usersCommand } from './commands/friends.js';
import { groupCommand } from './commands/groups.js';
import { interactiveCommand } from './commands/interactive.js';
import { historyCommand, listenCommand, sendCommand, whoCommand } from './commands/messages.js';
import { offersCommand, rejectCommand } from './commands/offers.js';
import { sendFileCommand } from './commands/send-file.js';
import { serveCommand } from './commands/serve.js';
import { trustCommand } from './commands/trust.js';
import { CliError, processContext, type CliContext } from './context.js';
import { defaultHome } from './sessions.js';

export async function main(argv: string[], ctx: CliContext = processContext()): Promise<void> {
  const verbose = argv.includes('--verbose') || argv.includes('-v');
  try {
    await buildParser(argv, ctx).parseAsync();
  } catch (err) {
    process.exitCode = reportError(err, ctx, verbose);
  }
}

function buildParser(argv: string[], ctx: CliContext) {
  const commands = [
    serveCommand, registerCommand, loginCommand, logoutCommand, whoamiCommand, whoCommand, sendCommand,
    listenCommand, historyCommand, sendFileCommand, offersCommand, acceptCommand, rejectCommand, groupCommand, friendCommand, usersCommand,
    trustCommand, adminCommand, interactiveCommand,
  ];
  let parser = yargs(argv)
    .scriptName('chat')
    .usage('$0 [command]: self-hosted chat with direct file transfer')
    .option('server', {
      type: 'string',
      default: ctx.env.CHAT_SERVER || '127.0.0.1:7070',
      describe: 'relay server host:port (env CHAT_SERVER)',
      global: true,
    })
    .option('home', { type: 'string', default: defaultHome(ctx.env), describe: 'where sessions are kept (env CHAT_HOME)', global: true })
    .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'more detail, stack traces', global: true })
    .option('insecure', {
      type: 'boolean',
      default: ['1', 'true', 'yes'].includes(ctx.env.CHAT_INSECURE ?? ''),
      describe: 'plaintext, no TLS: only with a server that runs --insecure too (env CHAT_INSECURE=1)',
      global: true,
    })
    .middleware((argv) => {
      argv.notice = (line: string) => ctx.err(`chat: ${line}`);
    })
    .strict()
    .help()
    .version('0.1.0')
    .wrap(Math.min(100, ctx.stdout.columns || 80))
    .fail((msg, err) => {
      throw err ?? new CliError(`${msg} (see chat --help)`, 2);
    });
  for (const make of commands) parser = parser.command(make(ctx) as never);
  return parser;
}

/** Prints one line for `err` and returns the exit code. */
export function reportError(err: unknown, ctx: CliContext, verbose: boolean): number {
  if (err instanceof CliError) {
    ctx.err(`chat: ${err.message}`);
    return err.exitCode;
  }
  if (err instanceof ClientError) {
    ctx.err(`chat: ${err.message}`);
    if (verbose) ctx.err(`(code ${err.code})`);
    return 1;
  }
  const e = err as NodeJS.ErrnoException;
  ctx.err(`chat: ${e?.message ?? String(err)}`);
  if (verbose && e?.stack) ctx.err(e.stack);
  return 1;
}
