// chat trust [server]: pin the certificate a server presents now, e.g. after its operator replaced
// it (the CLI then refuses the old pin with a message pointing here).
import { dialServer, sameFingerprint, type ServerCertificate } from '../../client/dial.js';
import { parseServer, serverKey, serverList } from '../connect.js';
import { CliError, type CliContext, type GlobalOptions } from '../context.js';
import { pinServer } from '../known-servers.js';
import { connectSession } from '../connect.js';
import { peerPins, pinPeer } from '../known-peers.js';
import { printable, printableJson } from '../../protocol/printable.js';
import { keyLabel } from '../../transfer/index.js';
import { globalsOf, leaf } from '../command.js';
import { COMMAND_LIST } from './list.js';

export interface TrustOptions extends GlobalOptions {
  target?: string;
  fingerprint?: string;
  /** With a user as target: pin this device's current identity key (issue 26). */
  device?: string;
}

export const trustCommand = leaf({
  ...COMMAND_LIST.trust,
  builder: (y) =>
    y
      .positional('target', { type: 'string', describe: 'host:port (default: --server)' })
      .option('fingerprint', { type: 'string', describe: 'refuse unless the certificate has this SHA-256 fingerprint' })
      .option('device', { type: 'string', describe: "with a user as target: pin that device's current identity key (after it changed)" }),
  options: (argv): TrustOptions => ({ ...globalsOf(argv), target: argv.target, fingerprint: argv.fingerprint, device: argv.device }),
  run: runTrust,
});

export async function runTrust(opts: TrustOptions, ctx: CliContext): Promise<void> {
  if (opts.device !== undefined) return trustDevice(opts, ctx);
  if (opts.insecure) throw new CliError('--insecure: there is no certificate to trust', 2);
  for (const server of serverList(opts.target ?? opts.server)) await trustOne(server, opts, ctx);
}

async function trustOne(server: string, opts: TrustOptions, ctx: CliContext): Promise<void> {
  const key = serverKey(server);
  let presented: ServerCertificate | undefined;
  const socket = await dialServer({ ...parseServer(server), tls: { verify: (cert) => void (presented = cert) } });
  socket.destroy();
  if (!presented) {
    ctx.out(opts.json ? JSON.stringify({ server: key, ca: true }) : `${key}: its certificate is signed by a trusted CA; nothing to pin`);
    return;
  }
  if (opts.fingerprint !== undefined && !sameFingerprint(opts.fingerprint, presented.fingerprint)) {
    throw new CliError(`${key} presents SHA-256 ${presented.fingerprint}, not the expected ${opts.fingerprint}: not trusted`);
  }
  const old = pinServer(opts.home, key, presented.fingerprint);
  const replaced = old && !sameFingerprint(old, presented.fingerprint) ? ` (replaces ${old})` : '';
  ctx.out(opts.json ? JSON.stringify({ server: key, fingerprint: presented.fingerprint, replaced: replaced ? old : undefined })
    : `${key}: trusting certificate SHA-256 ${presented.fingerprint}${replaced}`);
}

// chat trust USER --device NAME: pins the key the server publishes now for that device, unverified
// (a deliberate choice after a refusal; chat verify compares it out of band instead).
async function trustDevice(opts: TrustOptions, ctx: CliContext): Promise<void> {
  if (!opts.target) throw new CliError('chat trust --device needs a user: chat trust USER --device NAME', 2);
  const client = await connectSession(opts);
  try {
    const { user, keys } = await client.deviceKeys(opts.target);
    const found = keys.find((k) => k.device === opts.device);
    if (!found) throw new CliError(`${printable(user)} has no device "${printable(opts.device)}"`);
    const old = peerPins(opts.home, opts.server, user).find((p) => p.device === found.device);
    pinPeer(opts.home, { server: opts.server, user, device: found.device, key: found.key, verified: false });
    const replaced = old && old.key !== found.key ? ` (replaces ${keyLabel(old.key)})` : '';
    ctx.out(opts.json ? printableJson({ user, device: found.device, key: found.key, verified: false })
      : `${printable(user)} device "${printable(found.device)}": trusting key ${keyLabel(found.key)}${replaced}; not verified: chat verify ${printable(user)} compares it`);
  } finally {
    await client.close();
  }
}
