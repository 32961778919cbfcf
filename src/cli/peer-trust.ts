// The pinning rules of protocol.md §T10.3, applied to a peer's signed identity before any byte:
// first sight pins (and says so once), a changed key refuses, a new device of a verified contact
// refuses (fail closed), and the signature must hold for the pinned key.
import type { SignedIdentity } from '../protocol/messages.js';
import { printable } from '../protocol/printable.js';
import { keyLabel, signatureValid } from '../transfer/index.js';
import type { PeerTrust, TransferTrust } from '../client/transfer-auth.js';
import { CliError } from './context.js';
import { deviceIdentity } from './identity-file.js';
import { pinPeer, peerPins } from './known-peers.js';

/**
 * Checks `identity` (from an offer or accept of `user`) signs `signed`, then applies the pins of
 * `home` for `server`. Throws a CliError (the transfer is refused) on any mismatch.
 */
export async function checkPeer(
  home: string, server: string, user: string, identity: SignedIdentity | undefined, signed: Buffer, ask?: (question: string) => Promise<boolean>,
): Promise<PeerTrust> {
  const who = printable(user);
  if (!identity) {
    throw new CliError(`${who}'s chat does not sign its transfers (an older version): refused; upgrade it, or use --insecure-peer to accept an unauthenticated peer`);
  }
  const device = printable(identity.device);
  if (!signatureValid(identity.key, signed, identity.sig)) {
    throw new CliError(`the signature of ${who}'s device "${device}" does not match this transfer: someone (the server?) changed its keys; refused`);
  }
  const pins = peerPins(home, server, user);
  const pinned = pins.find((p) => p.device === identity.device);
  if (pinned && pinned.key === identity.key) return { verified: pinned.verified };
  const shown = `device "${device}", key ${keyLabel(identity.key)}`;
  const deliberately = `if ${who} really changed it, compare safety numbers (chat verify ${who}) or accept it: chat trust ${who} --device ${JSON.stringify(device)}`;
  if (pinned) {
    throw new CliError(`the identity key of ${who}'s device "${device}" has CHANGED (pinned ${keyLabel(pinned.key)}, now ${keyLabel(identity.key)}): someone may be intercepting; refused; ${deliberately}`);
  }
  // A first or new device is pinned only once the transfer is authenticated (pin(): after a
  // --verify code was confirmed), so a key the codes caught is never remembered.
  const pin = (): void => pinPeer(home, { server, user, device: identity.device, key: identity.key, verified: false });
  if (pins.some((p) => p.verified)) {
    // Asked only on a terminal (rule 3): a yes pins the device, unverified.
    if (ask && (await ask(`${who} is a verified contact, but this is a new device (${shown}); send to / receive from it? [y/N] `))) {
      return { verified: false, pin, notice: `pinned a new device of ${who} (${shown}); compare safety numbers with: chat verify ${who}` };
    }
    throw new CliError(`${who} is a verified contact, but this is a new device (${shown}): refused; ${deliberately}`);
  }
  const first = pins.length === 0 ? `first transfer with ${who}` : `a new device of ${who}`;
  return { verified: false, pin, notice: `${first} (${shown}); compare safety numbers with: chat verify ${who}` };
}

/** The CLI's TransferTrust: this device's identity and pins in `home`, and the front end's prompts. */
export function pinnedTrust(
  home: string, server: string, prompts: { confirm(code: string): Promise<void>; ask?: (question: string) => Promise<boolean> },
): TransferTrust {
  return {
    identity: deviceIdentity(home, server),
    checkPeer: (user, identity, signed) => checkPeer(home, server, user, identity, signed, prompts.ask),
    confirm: (code) => prompts.confirm(code),
  };
}
