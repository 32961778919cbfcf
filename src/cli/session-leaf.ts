// A command that runs over the saved session (most subcommands): connect, work, close. Apart
// from command.ts so that main.ts, which imports that, does not load the client to list commands.
import type { Argv } from 'yargs';
import type { ChatClient } from '../client/client.js';
import { globalsOf, type GlobalArgs, type Leaf, type Parsed } from './command.js';
import { connectSession } from './connect.js';
import type { CliContext, GlobalOptions } from './context.js';

/** Options of a command that runs over the saved session: the globals plus its own. */
export type SessionOptions<O> = GlobalOptions & O;

/** A leaf that runs `work` over a logged-in connection (most subcommands). */
export function sessionLeaf<A extends GlobalArgs, O>(spec: {
  command: string | readonly string[];
  describe: string;
  builder: (y: Argv<GlobalArgs>) => Argv<A>;
  options: (argv: Parsed<A>) => O;
  work: (client: ChatClient, opts: SessionOptions<O>, ctx: CliContext) => Promise<void>;
}): Leaf<A, SessionOptions<O>> {
  return {
    command: spec.command,
    describe: spec.describe,
    builder: spec.builder,
    options: (argv) => ({ ...globalsOf(argv), ...spec.options(argv) }),
    run: async (opts, ctx) => {
      const client = await connectSession(opts);
      try {
        await spec.work(client, opts, ctx);
      } finally {
        await client.close();
      }
    },
  };
}
