// One subcommand (chat group …, chat friend …, chat users …) run over a logged-in connection.
import type { Argv } from 'yargs';
import type { ChatClient } from '../client/client.js';
import { connectSession } from './connect.js';
import type { CliContext, GlobalOptions } from './context.js';

export type Argvs = Record<string, unknown>;
export type Run = (client: ChatClient, argv: Argvs, ctx: CliContext) => Promise<void>;

export function sessionSubcommand(ctx: CliContext, command: string, describe: string, run: Run, builder?: (y: Argv) => Argv) {
  return {
    command,
    describe,
    builder: (y: Argv) => {
      const withJson = y.option('json', { type: 'boolean', default: false, describe: 'JSON output' });
      return builder ? builder(withJson) : withJson;
    },
    handler: async (argv: Argvs) => {
      const client = await connectSession(argv as unknown as GlobalOptions);
      try {
        await run(client, argv, ctx);
      } finally {
        await client.close();
      }
    },
  };
}
