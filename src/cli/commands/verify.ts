// chat verify <user>: the safety number of this device and each of the user's devices (protocol.md
// §T10.6), to compare out of band (in person, on a call); once confirmed, the device is marked
// verified in known_peers and its transfers need no per-transfer code.
import type { ChatClient } from '../../client/client.js';
import { printable, printableJson } from '../../protocol/printable.js';
import { keyLabel, safetyNumber } from '../../transfer/index.js';
import { connectSession } from '../connect.js';
import { CliError, type CliContext, type GlobalOptions } from '../context.js';
import { deviceIdentity } from '../identity-file.js';
import { peerPins, pinPeer } from '../known-peers.js';
import { yesOnTty } from '../confirm-code.js';
import { globalsOf, leaf } from '../command.js';
import { COMMAND_LIST } from './list.js';

export interface VerifyOptions extends GlobalOptions {
  user: string;
  device?: string;
  yes: boolean;
  code?: string;
}

export const verifyCommand = leaf({
  ...COMMAND_LIST.verify,
  builder: (y) =>
    y
      .positional('user', { type: 'string', demandOption: true })
      .option('device', { type: 'string', describe: 'only this device of the user' })
      .option('yes', { type: 'boolean', default: false, describe: 'mark verified without asking (you compared the numbers)' })
      .option('code', { type: 'string', describe: 'mark verified the device whose safety number is this (for scripts)' }),
  options: (argv): VerifyOptions => ({ ...globalsOf(argv), user: argv.user, device: argv.device, yes: argv.yes, code: argv.code }),
  run: runVerify,
});

export interface DeviceNumber {
  device: string;
  key: string;
  number: string;
}

/** The safety numbers of this device with each published device of `user` (optionally one). */
export async function safetyNumbers(client: ChatClient, g: GlobalOptions, user: string, device?: string): Promise<DeviceNumber[]> {
  const mine = deviceIdentity(g.home, g.server);
  const { user: name, keys } = await client.deviceKeys(user);
  const chosen = keys.filter((k) => device === undefined || k.device === device);
  if (chosen.length === 0) throw new CliError(device === undefined ? `${printable(name)} has no device with an identity key yet` : `${printable(name)} has no device "${printable(device)}"`);
  return chosen.map((k) => ({ device: k.device, key: k.key, number: safetyNumber({ user: client.user!, key: mine.publicKey }, { user: name, key: k.key }) }));
}

export async function runVerify(opts: VerifyOptions, ctx: CliContext): Promise<void> {
  const client = await connectSession(opts);
  try {
    const user = (await client.deviceKeys(opts.user)).user;
    const numbers = await safetyNumbers(client, opts, user, opts.device);
    if (!opts.json) for (const n of numbers) showNumber(ctx, opts, user, n);
    const chosen = await choose(ctx, opts, numbers);
    for (const n of chosen) {
      pinPeer(opts.home, { server: opts.server, user, device: n.device, key: n.key, verified: true });
      if (!opts.json) ctx.out(`${printable(user)} (device "${printable(n.device)}") is now verified`);
    }
    // --json: one object per device, shown or verified.
    if (opts.json) for (const n of numbers) ctx.out(printableJson({ user, device: n.device, key: n.key, number: n.number, verified: chosen.includes(n) }));
  } finally {
    await client.close();
  }
}

function showNumber(ctx: CliContext, opts: VerifyOptions, user: string, n: DeviceNumber): void {
  const pinned = peerPins(opts.home, opts.server, user).find((p) => p.device === n.device);
  const note = pinned && pinned.key !== n.key ? ` (the key pinned from earlier transfers was ${keyLabel(pinned.key)}: it CHANGED)` : pinned?.verified ? ' (verified)' : '';
  ctx.out(`${printable(user)} device "${printable(n.device)}", key ${keyLabel(n.key)}${note}`);
  ctx.out(`  safety number: ${n.number}`);
}

// --code picks the device whose number matches; --yes takes all shown; a terminal asks; else none.
async function choose(ctx: CliContext, opts: VerifyOptions, numbers: DeviceNumber[]): Promise<DeviceNumber[]> {
  if (opts.code !== undefined) {
    const digits = opts.code.replace(/\D/g, '');
    const match = numbers.filter((n) => n.number.replace(/\D/g, '') === digits);
    if (match.length === 0) throw new CliError('that safety number matches none of these devices: not verified (someone may be intercepting)');
    return match;
  }
  if (opts.yes) return numbers;
  if (await yesOnTty(ctx, 'Do the numbers match what the other side sees? [y/N] ')) return numbers;
  ctx.err('not marked verified: compare the numbers, then run again and answer y (or pass --yes / --code)');
  return [];
}
