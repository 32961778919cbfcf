// The CLI entry: yargs parses argv into a command's options; only here do errors become
// one line on stderr and an exit code (a stack trace only with --verbose).
import { messageWithHint } from './hints.js';
import { SOFTWARE_VERSION } from '../protocol/version.js';
import { createRequire } from 'node:module';
import type { Argv } from 'yargs';
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

type Factory = (ctx: CliContext) => object;
type Loader = () => Promise<Factory>;

/**
 * Every command, with what `chat --help` shows; its module (and what it needs: TLS, SQLite,
 * transfers, bars) loads only when that command runs, so a command starts fast.
 */
const COMMANDS: { name: string; usage: string; describe: string; load: Loader }[] = [
  { name: 'serve', usage: 'serve', describe: 'run the relay server', load: async () => (await import('./commands/serve.js')).serveCommand },
  { name: 'register', usage: 'register <user>', describe: 'create an account (and log in)', load: async () => (await import('./commands/accounts.js')).registerCommand },
  { name: 'login', usage: 'login <user>', describe: 'log in and save the session', load: async () => (await import('./commands/accounts.js')).loginCommand },
  { name: 'logout', usage: 'logout', describe: 'revoke this session on the server and forget it here', load: async () => (await import('./commands/accounts.js')).logoutCommand },
  { name: 'sessions', usage: 'sessions [command]', describe: 'your sessions (devices): list, revoke <id>, revoke --all-others', load: async () => (await import('./commands/sessions.js')).sessionsCommand },
  { name: 'passwd', usage: 'passwd', describe: 'change your password (every other session is logged out)', load: async () => (await import('./commands/passwd.js')).passwdCommand },
  { name: 'whoami', usage: 'whoami', describe: 'show who you are logged in as', load: async () => (await import('./commands/accounts.js')).whoamiCommand },
  { name: 'who', usage: 'who', describe: 'list online users', load: async () => (await import('./commands/messages.js')).whoCommand },
  { name: 'send', usage: 'send <user> <text..>', describe: 'send a direct message, or to a group with #name', load: async () => (await import('./commands/messages.js')).sendCommand },
  { name: 'listen', usage: 'listen', describe: 'print messages and presence as they arrive, until Ctrl-C', load: async () => (await import('./commands/messages.js')).listenCommand },
  { name: 'history', usage: 'history <user>', describe: 'show your conversation with a user, oldest first', load: async () => (await import('./commands/messages.js')).historyCommand },
  { name: 'send-file', usage: 'send-file <user> <paths..>', describe: 'offer files or directories to a user and send them directly', load: async () => (await import('./commands/send-file.js')).sendFileCommand },
  { name: 'offers', usage: 'offers', describe: 'list file offers waiting for you, with every file', load: async () => (await import('./commands/offers.js')).offersCommand },
  { name: 'accept', usage: 'accept [id]', describe: 'accept a file offer and receive the files', load: async () => (await import('./commands/accept.js')).acceptCommand },
  { name: 'reject', usage: 'reject <id>', describe: 'decline a file offer (the sender is told)', load: async () => (await import('./commands/offers.js')).rejectCommand },
  { name: 'group', usage: 'group <command>', describe: 'groups: create, join, leave, members, list, invite, kick, delete', load: async () => (await import('./commands/groups.js')).groupCommand },
  { name: 'friend', usage: 'friend <command>', describe: 'contacts: add, accept, decline, remove, note, list', load: async () => (await import('./commands/friends.js')).friendCommand },
  { name: 'block', usage: 'block <user>', describe: "drop a user's messages, offers and invitations to you (they are not told)", load: async () => (await import('./commands/block.js')).blockCommand },
  { name: 'unblock', usage: 'unblock <user>', describe: 'stop blocking a user', load: async () => (await import('./commands/block.js')).unblockCommand },
  { name: 'blocked', usage: 'blocked', describe: 'list the users you block', load: async () => (await import('./commands/block.js')).blockedCommand },
  { name: 'users', usage: 'users <command>', describe: 'find registered users: users search <prefix>', load: async () => (await import('./commands/friends.js')).usersCommand },
  { name: 'verify', usage: 'verify <user>', describe: "compare safety numbers with a user's devices and mark them verified", load: async () => (await import('./commands/verify.js')).verifyCommand },
  { name: 'trust', usage: 'trust [target]', describe: "pin a server's current TLS certificate (after it changed)", load: async () => (await import('./commands/trust.js')).trustCommand },
  { name: 'admin', usage: 'admin <command>', describe: 'operator commands, on the server host (invite, nodes, user)', load: async () => (await import('./commands/admin.js')).adminCommand },
  { name: '$0', usage: '$0', describe: 'interactive chat (/help inside for commands)', load: async () => (await import('./commands/interactive.js')).interactiveCommand },
];

/** Global options that take a value (their value is not the command name). */
const VALUE_OPTIONS = new Set(['--server', '--home']);

/**
 * The entry argv runs: its first word that names a command (skipping option values), or the
 * interactive client ($0), whose own options (--advertise HOST) take values too.
 */
export function commandOf(argv: string[]): string {
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') break;
    if (VALUE_OPTIONS.has(word)) i++;
    else if (!word.startsWith('-') && COMMANDS.some((c) => c.name === word)) return word;
  }
  return '$0';
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
  const close = closest(word, COMMANDS.filter((c) => c.name !== '$0').map((c) => c.name));
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

/**
 * The subcommands of each command that has them (what `chat group --help` lists), for "did you
 * mean" before yargs' own wording; test/unit/cli/subcommands.test.ts checks them against --help.
 * `sessions` alone runs `sessions list`.
 */
export const SUBCOMMANDS: Record<string, { names: string[]; optional?: boolean }> = {
  group: { names: ['create', 'join', 'leave', 'members', 'list', 'invites', 'invite', 'kick', 'delete'] },
  friend: { names: ['add', 'accept', 'decline', 'remove', 'note', 'list'] },
  users: { names: ['search'] },
  sessions: { names: ['list', 'revoke'], optional: true },
  admin: { names: ['invite', 'nodes', 'user'] },
};

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
function checkSubcommand(argv: string[], name: string): void {
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
function closest(word: string, names: string[]): string | undefined {
  return names.map((name) => ({ name, d: editDistance(word, name) })).filter((c) => c.d <= 2).sort((a, b) => a.d - b.d)[0]?.name;
}

async function buildParser(argv: string[], ctx: CliContext) {
  const wanted = commandOf(argv);
  const word = wanted === '$0' ? firstWord(argv) : undefined;
  // The interactive client takes no words: a word there is a mistyped command.
  if (word !== undefined && !word.startsWith('\u0000')) throw unknownCommand(word);
  checkSubcommand(argv, wanted);
  const helpOnly = wanted === '$0' && (argv.includes('--help') || argv.includes('-h') || argv.includes('--version'));
  const commands: object[] = [];
  for (const entry of COMMANDS) {
    if (entry.name === wanted && !helpOnly) commands.push((await entry.load())(ctx));
    else commands.push({ command: entry.usage, describe: entry.describe, handler: () => unknown(wanted) });
  }
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
  for (const command of commands) parser = parser.command(command as never);
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
