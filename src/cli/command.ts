// A command module: its yargs definition (whose argument types yargs infers), a pure argv →
// options step (what test/unit/cli/argv.test.ts checks for every command), and the run. Its
// name and description come from commands/list.ts, the one place `chat --help` reads them from.
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import type { CliContext, GlobalOptions } from './context.js';

/** The global options main.ts declares, as every builder receives them. */
export interface GlobalArgs {
  server: string;
  home: string;
  verbose: boolean;
  insecure: boolean;
  json: boolean;
  /** Set by main's middleware (context.ts says what they do). */
  notice?: (line: string) => void;
  ask?: (question: string) => Promise<boolean>;
}

/** The parsed argv a command's `options` receives. */
export type Parsed<A> = ArgumentsCamelCase<A>;

/** The parsed argv of a builder (for an options function shared by two commands). */
export type ArgsOf<B> = B extends (y: never) => Argv<infer A> ? Parsed<A> : never;

/** A command that runs: usage, builder, argv → options, run. */
export interface Leaf<A extends GlobalArgs, O> {
  command: string | readonly string[];
  describe: string;
  /** `ctx` for defaults from the environment. */
  builder: (y: Argv<GlobalArgs>, ctx: CliContext) => Argv<A>;
  /** Pure: checks and converts argv (a CliError with exit 2 for a bad value). May read stdin or files for secrets. */
  options: (argv: Parsed<A>, ctx: CliContext) => O | Promise<O>;
  run: (opts: O, ctx: CliContext) => Promise<void>;
}

/** A command whose words are subcommands (`chat group create …`). */
export interface Parent {
  command: string;
  describe: string;
  subcommands: readonly Command[];
  /**
   * The subcommand that runs when none is named (`chat sessions` lists): that leaf has `$0`
   * among its command names; here it only means no subcommand is required.
   */
  fallback?: string;
}

// The variance of a leaf's types does not matter once it is built: only toYargs calls into it.
export type AnyLeaf = Leaf<any, any>;
export type Command = AnyLeaf | Parent;

/** Types a leaf: A from its builder, O from its options. */
export function leaf<A extends GlobalArgs, O>(spec: Leaf<A, O>): Leaf<A, O> {
  return spec;
}

export function parent(spec: Parent): Parent {
  return spec;
}

/** The global options out of a parsed argv. */
export function globalsOf(argv: GlobalArgs): GlobalOptions {
  return { server: argv.server, home: argv.home, verbose: argv.verbose, insecure: argv.insecure, json: argv.json, notice: argv.notice, ask: argv.ask };
}

/** What happens once a leaf's options are made: main runs it; the argv tests keep them. */
export type Dispatch = (command: AnyLeaf, opts: unknown, ctx: CliContext) => Promise<void>;

export const runLeaf: Dispatch = (command, opts, ctx) => command.run(opts, ctx);

/** The yargs command module of a command (and of its subcommands). */
export function toYargs(command: Command, ctx: CliContext, dispatch: Dispatch = runLeaf): CommandModule<GlobalArgs, GlobalArgs> {
  if ('subcommands' in command) {
    return {
      command: command.command,
      describe: command.describe,
      builder: (y) => {
        for (const sub of command.subcommands) y = y.command(toYargs(sub, ctx, dispatch));
        return command.fallback ? y : y.demandCommand(1);
      },
      handler: () => {},
    };
  }
  return {
    command: command.command,
    describe: command.describe,
    builder: (y) => command.builder(y, ctx),
    handler: async (argv) => dispatch(command, await command.options(argv, ctx), ctx),
  };
}
