// chat serve: the relay server with embedded SQLite storage.
import type { Argv } from 'yargs';
import { LocalBus } from '../../bus/local.js';
import { createServer } from '../../server/server.js';
import { SqliteStore } from '../../store/sqlite.js';
import { CliError, type CliContext } from '../context.js';
import { clock } from '../output.js';
import { parseRate } from '../units.js';

export interface ServeOptions {
  host: string;
  port: number;
  data: string;
  quiet: boolean;
  verbose: boolean;
  relay: boolean;
  relayMax: number;
  relayRate: number;
}

export const serveCommand = (ctx: CliContext) => ({
  command: 'serve',
  describe: 'run the relay server',
  builder: (y: Argv) =>
    y
      .option('host', { type: 'string', default: '0.0.0.0', describe: 'address to listen on' })
      .option('port', { type: 'number', default: 7070, describe: 'TCP port (0 picks a free one)' })
      .option('data', { type: 'string', default: './chat-data', describe: 'data directory (SQLite database)' })
      .option('quiet', { type: 'boolean', default: false, describe: 'log errors only' })
      .option('relay', { type: 'string', choices: ['on', 'off'], default: 'on', describe: 'relay transfers between peers that cannot connect directly' })
      .option('relay-max', { type: 'number', default: 16, describe: 'relayed transfers at once' })
      .option('relay-rate', { type: 'string', default: '0', describe: 'bytes/s per relayed transfer and direction, e.g. 10M (0: unlimited)' }),
  handler: (argv: Record<string, unknown>) =>
    runServe(
      {
        host: argv.host as string,
        port: argv.port as number,
        data: argv.data as string,
        quiet: argv.quiet as boolean,
        verbose: argv.verbose as boolean,
        relay: argv.relay !== 'off',
        relayMax: argv.relayMax as number,
        relayRate: parseRate(String(argv.relayRate), '--relay-rate'),
      },
      ctx,
    ),
});

export async function runServe(opts: ServeOptions, ctx: CliContext): Promise<void> {
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new CliError(`bad --port ${opts.port}`, 2);
  if (!Number.isInteger(opts.relayMax) || opts.relayMax < 0) throw new CliError(`bad --relay-max ${opts.relayMax}`, 2);
  let store: SqliteStore;
  try {
    store = new SqliteStore(opts.data);
  } catch (err) {
    throw new CliError(`cannot open data directory ${opts.data}: ${(err as Error).message}`);
  }
  const log = opts.quiet ? undefined : (line: string) => ctx.err(`${clock(Date.now())} ${line}`);
  const server = createServer({
    store, bus: new LocalBus(), log, verbose: opts.verbose, relay: opts.relay, relayMax: opts.relayMax, relayRate: opts.relayRate,
  });
  let address;
  try {
    address = await server.listen(opts.port, opts.host);
  } catch (err) {
    await store.close();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new CliError(`port ${opts.port} on ${opts.host} is already in use`);
    throw new CliError(`cannot listen on ${opts.host}:${opts.port}: ${(err as Error).message}`);
  }
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  ctx.out(`chat server listening on ${host}:${address.port} (data: ${opts.data})`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      if (!opts.quiet) ctx.err(`${clock(Date.now())} ${signal}: shutting down`);
      void server.close().then(() => store.close()).then(resolve);
    };
    const onInt = (): void => stop('SIGINT');
    const onTerm = (): void => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
  ctx.out('chat server stopped');
}
