// The CLI entry: yargs parses argv into a command's options; only here do errors become
// one line on stderr and an exit code (a stack trace only with --verbose).
import { messageWithHint } from './hints.js';
import { SOFTWARE_VERSION } from '../protocol/version.js';
import { createRequire } from 'node:module';
import type { Argv, CommandModule } from 'yargs';
import { runLeaf, toYargs, type Command, type Dispatch, type GlobalArgs } from './command.js';
import { COMMAND_LIST, type CommandEntry, type CommandName } from './commands/list.js';
import { ClientError } from '../client/errors.js';
import { printable, printableJson, printableText } from '../protocol/printable.js';
import { CliError, processContext, type CliContext } from './context.js';
import { markOperands, unmarkAll } from './operands.js';
import { defaultHome } from './sessions.js';

export { cliHeap } from './heap.js';

export async function main(argv: string[], ctx: CliContext = processContext()): Promise<void> {
  const options = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
  const verbose = options.includes('--verbose') || options.includes('-v');
  const json = options.includes('--json');
  try {
    await (await buildParser(markOperands(argv), ctx)).parseAsync();
  } catch (err) {
    process.exitCode = reportError(err, ctx, verbose, json);
  }
}

// yargs' CommonJS bundle loads in about half the time of its ES modules: `chat --help` and
// `chat send` start in well under 150 ms (docs/benchmarks.md).
const yargs = createRequire(import.meta.url)('yargs') as (args: string[]) => Argv;

/**
 * Every command's module, loaded only when that command runs (with what it needs: TLS, SQLite,
 * transfers, bars), so a command starts fast; `chat --help` lists them from commands/list.ts.
 */
const LOADERS: Record<CommandName, () => Promise<Command>> = {
  serve: async () => (await import('./commands/serve.js')).serveCommand,
  register: async () => (await import('./commands/accounts.js')).registerCommand,
  login: async () => (await import('./commands/accounts.js')).loginCommand,
  logout: async () => (await import('./commands/accounts.js')).logoutCommand,
  sessions: async () => (await import('./commands/sessions.js')).sessionsCommand,
  passwd: async () => (await import('./commands/passwd.js')).passwdCommand,
  whoami: async () => (await import('./commands/accounts.js')).whoamiCommand,
  who: async () => (await import('./commands/messages.js')).whoCommand,
  send: async () => (await import('./commands/messages.js')).sendCommand,
  listen: async () => (await import('./commands/messages.js')).listenCommand,
  history: async () => (await import('./commands/messages.js')).historyCommand,
  'send-file': async () => (await import('./commands/send-file.js')).sendFileCommand,
  offers: async () => (await import('./commands/offers.js')).offersCommand,
  accept: async () => (await import('./commands/accept.js')).acceptCommand,
  reject: async () => (await import('./commands/offers.js')).rejectCommand,
  group: async () => (await import('./commands/groups.js')).groupCommand,
  friend: async () => (await import('./commands/friends.js')).friendCommand,
  block: async () => (await import('./commands/block.js')).blockCommand,
  unblock: async () => (await import('./commands/block.js')).unblockCommand,
  blocked: async () => (await import('./commands/block.js')).blockedCommand,
  users: async () => (await import('./commands/friends.js')).usersCommand,
  verify: async () => (await import('./commands/verify.js')).verifyCommand,
  trust: async () => (await import('./commands/trust.js')).trustCommand,
  admin: async () => (await import('./commands/admin.js')).adminCommand,
  $0: async () => (await import('./commands/interactive.js')).interactiveCommand,
};

/** The command names, in `chat --help` order. */
const NAMES = Object.keys(COMMAND_LIST) as CommandName[];

/** Global options that take a value (their value is not the command name). */
const VALUE_OPTIONS = new Set(['--server', '--home']);

/**
 * The entry argv runs: its first word that names a command (skipping option values), or the
 * interactive client ($0), whose own options (--advertise HOST) take values too.
 */
export function commandOf(argv: string[]): CommandName {
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') break;
    if (VALUE_OPTIONS.has(word)) i++;
    else if (!word.startsWith('-') && isCommandName(word)) return word;
  }
  return '$0';
}

function isCommandName(word: string): word is Exclude<CommandName, '$0'> {
  return word !== '$0' && Object.hasOwn(COMMAND_LIST, word);
}

// A stub ran: argv named no command we know (yargs' --help and --version never get here).
function unknown(word: string): never {
  throw new CliError(`unknown command "${word.slice(0, 40)}" (see chat --help)`, 2);
}

/** Options of the interactive client ($0) that take a value. */
const INTERACTIVE_VALUE_OPTIONS = new Set(['--bind', '--advertise']);

/** The first word that is neither an option nor an option's value: what the user meant as a command. */
function firstWord(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (VALUE_OPTIONS.has(word) || INTERACTIVE_VALUE_OPTIONS.has(word)) i++;
    else if (!word.startsWith('-')) return word;
  }
  return undefined;
}

/** "unknown command" with the closest command (at most 2 edits away), as git does. */
function unknownCommand(word: string): CliError {
  const close = closest(word, NAMES.filter((name) => name !== '$0'));
  const hint = close ? `; did you mean "${close}"?` : '';
  return new CliError(`unknown command "${word.slice(0, 40)}"${hint} (see chat --help)`, 2);
}

/** Levenshtein distance (short words only). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length]!;
}

/** The subcommands of each command that has them; test/integration/cli-subcommands.test.ts checks them against --help. */
export const SUBCOMMANDS: Partial<Record<CommandName, { names: readonly string[]; optional?: boolean }>> = Object.fromEntries(
  Object.entries(COMMAND_LIST as Record<string, CommandEntry>)
    .filter(([, entry]) => entry.subcommands)
    .map(([name, entry]) => [name, { names: entry.subcommands!, optional: entry.optionalSubcommand }]),
);

/** Options before a subcommand that take a value. */
const SUBCOMMAND_VALUE_OPTIONS = new Set([...VALUE_OPTIONS, '--data', '--bus', '--bus-file']);

/** The word after command `name` in argv (its subcommand), skipping options; undefined if none. */
function subcommandWord(argv: string[], name: string): string | undefined {
  let seen = false;
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--' || word.startsWith('\u0000')) return undefined;
    if (SUBCOMMAND_VALUE_OPTIONS.has(word)) i++;
    else if (word.startsWith('-')) continue;
    else if (seen) return word;
    else if (word === name) seen = true;
  }
  return undefined;
}

/** A missing or mistyped subcommand, in one line with the closest name (as git says for `git stash pup`). */
function checkSubcommand(argv: string[], name: CommandName): void {
  const sub = SUBCOMMANDS[name];
  if (!sub || argv.some((a) => a === '--help' || a === '-h' || a === '--version')) return;
  const word = subcommandWord(argv, name);
  if (word === undefined) {
    if (sub.optional) return;
    throw new CliError(`which ${name} command? ${sub.names.join(', ')} (see chat ${name} --help)`, 2);
  }
  if (sub.names.includes(word)) return;
  const close = closest(word, sub.names);
  const hint = close ? `; did you mean "${close}"?` : '';
  throw new CliError(`unknown ${name} command "${word.slice(0, 40)}"${hint} (see chat ${name} --help)`, 2);
}

/** yargs' "Unknown argument: jsn" gets "; did you mean --json?" when an option of the command is close. */
function optionHint(msg: string | null, y: Argv): string {
  const unknown = /^Unknown arguments?: ([^,\s]+)/.exec(msg ?? '')?.[1];
  if (!unknown || unknown.length < 2) return '';
  const options = (y as unknown as { getOptions(): { key: Record<string, unknown> } }).getOptions();
  const keys = Object.keys(options.key).filter((k) => k.length > 1 && k !== '$0');
  const close = closest(unknown, keys);
  return close ? `; did you mean --${close}?` : '';
}

/** The name closest to `word`, at most 2 edits away (ties: the first listed). */
function closest(word: string, names: readonly string[]): string | undefined {
  return names.map((name) => ({ name, d: editDistance(word, name) })).filter((c) => c.d <= 2).sort((a, b) => a.d - b.d)[0]?.name;
}

/**
 * What argv means without running it: the command it names (its words, `group create`) and the
 * options that command would run with; what test/unit/cli/argv.test.ts checks, for every command.
 */
export async function optionsOf(argv: string[], ctx: CliContext = processContext()): Promise<{ command: string; options: unknown }> {
  let got: { command: string; options: unknown } | undefined;
  const keep: Dispatch = async (command, options) => void (got = { command: [command.command].flat()[0]!.split(' ')[0]!, options });
  await (await buildParser(markOperands(argv), ctx, keep)).parseAsync();
  if (!got) throw new Error(`no command ran for ${JSON.stringify(argv)}`);
  return got;
}

async function buildParser(argv: string[], ctx: CliContext, dispatch: Dispatch = runLeaf) {
  const wanted = commandOf(argv);
  const word = wanted === '$0' ? firstWord(argv) : undefined;
  // The interactive client takes no words: a word there is a mistyped command.
  if (word !== undefined && !word.startsWith('\u0000')) throw unknownCommand(word);
  checkSubcommand(argv, wanted);
  const helpOnly = wanted === '$0' && (argv.includes('--help') || argv.includes('-h') || argv.includes('--version'));
  const commands: CommandModule<GlobalArgs, GlobalArgs>[] = [];
  for (const name of NAMES) {
    if (name === wanted && !helpOnly) commands.push(toYargs(await LOADERS[name](), ctx, dispatch));
    else commands.push({ command: COMMAND_LIST[name].command, describe: COMMAND_LIST[name].describe, handler: () => unknown(wanted) });
  }
  const parser = yargs(argv)
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
    .option('json', {
      type: 'boolean',
      default: false,
      describe: 'JSON output, one object per line on stdout; an error too: {"event":"error","code","message"}',
      global: true,
    })
    .middleware((argv) => unmarkAll(argv), true)
    .middleware((argv) => {
      argv.notice = (line: string) => ctx.err(`chat: ${printable(line)}`);
      // A question on the terminal (first-time certificate trust); the interactive client owns the terminal itself.
      if (ctx.stdin.isTTY && wanted !== '$0') {
        argv.ask = async (question: string) => (await import('./confirm-code.js')).yesOnTty(ctx, question);
      }
    })
    .strict()
    .help()
    .version(SOFTWARE_VERSION)
    .wrap(Math.min(100, ctx.stdout.columns || 80))
    .fail((msg, err) => {
      throw err ?? new CliError(`${msg}${optionHint(msg, parser)} (see chat --help)`, 2);
    });
  for (const command of commands) parser.command(command);
  return parser;
}

/**
 * Prints one line for `err` and returns the exit code. The message passes the sanitizer: it may
 * carry a server's error text, a peer's reject reason or transfer error.
 */
export function reportError(err: unknown, ctx: CliContext, verbose: boolean, json = false): number {
  if (json) return reportJsonError(err, ctx, verbose);
  if (err instanceof CliError) {
    ctx.err(`chat: ${printable(err.message)}`);
    return err.exitCode;
  }
  if (err instanceof ClientError) {
    ctx.err(`chat: ${printable(messageWithHint(err))}`);
    if (verbose) ctx.err(`(code ${printable(err.code)})`);
    return 1;
  }
  const e = err as NodeJS.ErrnoException;
  ctx.err(`chat: ${printable(messageWithHint(err))}`);
  if (verbose && e?.stack) ctx.err(printableText(e.stack, '    '));
  return 1;
}

/**
 * With --json: the error as one object on stdout, `{"event":"error","code","message"}`, with the
 * exit code it has without --json. `code` is the server's, client's or transfer's error code
 * (no_such_user, unreachable, untrusted, hash_mismatch, …), a system one (ENOENT, …), or the CLI's:
 * usage, not_logged_in, unauthorized, cancelled, failed; internal for a bug.
 */
function reportJsonError(err: unknown, ctx: CliContext, verbose: boolean): number {
  const e = err as NodeJS.ErrnoException;
  // A transfer's TransferError and a system error (ENOENT, …) carry a code of their own.
  const own = typeof e?.code === 'string' && e.code !== '' ? e.code : 'internal';
  const [code, exitCode] = err instanceof CliError ? [err.code, err.exitCode] : [own, 1];
  ctx.out(printableJson({ event: 'error', code, message: messageWithHint(err) }));
  if (verbose && !(err instanceof CliError) && !(err instanceof ClientError) && e?.stack) ctx.err(printableText(e.stack, '    '));
  return exitCode;
}
