// chat trust [server]: pin the certificate a server presents now, e.g. after its operator replaced
// it (the CLI then refuses the old pin with a message pointing here).
import type { Argv } from 'yargs';
import { dialServer, sameFingerprint, type ServerCertificate } from '../../client/dial.js';
import { parseServer, serverKey, serverList } from '../connect.js';
import { CliError, type CliContext, type GlobalOptions } from '../context.js';
import { pinServer } from '../known-servers.js';

export interface TrustOptions extends GlobalOptions {
  target?: string;
  fingerprint?: string;
}

export const trustCommand = (ctx: CliContext) => ({
  command: 'trust [target]',
  describe: "pin a server's current TLS certificate (after it changed)",
  builder: (y: Argv) =>
    y
      .positional('target', { type: 'string', describe: 'host:port (default: --server)' })
      .option('fingerprint', { type: 'string', describe: 'refuse unless the certificate has this SHA-256 fingerprint' }),
  handler: (argv: Record<string, unknown>) =>
    runTrust({ ...(argv as unknown as GlobalOptions), target: argv.target as string | undefined, fingerprint: argv.fingerprint as string | undefined }, ctx),
});

export async function runTrust(opts: TrustOptions, ctx: CliContext): Promise<void> {
  if (opts.insecure) throw new CliError('--insecure: there is no certificate to trust', 2);
  for (const server of serverList(opts.target ?? opts.server)) await trustOne(server, opts, ctx);
}

async function trustOne(server: string, opts: TrustOptions, ctx: CliContext): Promise<void> {
  const key = serverKey(server);
  let presented: ServerCertificate | undefined;
  const socket = await dialServer({ ...parseServer(server), tls: { verify: (cert) => void (presented = cert) } });
  socket.destroy();
  if (!presented) {
    ctx.out(`${key}: its certificate is signed by a trusted CA; nothing to pin`);
    return;
  }
  if (opts.fingerprint !== undefined && !sameFingerprint(opts.fingerprint, presented.fingerprint)) {
    throw new CliError(`${key} presents SHA-256 ${presented.fingerprint}, not the expected ${opts.fingerprint}: not trusted`);
  }
  const old = pinServer(opts.home, key, presented.fingerprint);
  const replaced = old && !sameFingerprint(old, presented.fingerprint) ? ` (replaces ${old})` : '';
  ctx.out(`${key}: trusting certificate SHA-256 ${presented.fingerprint}${replaced}`);
}
