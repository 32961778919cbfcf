// Authenticating both ends of a transfer by their device identities (protocol.md §T10), before
// any file byte: the sender signs its offer and checks the accept; the receiver checks the offer
// and signs its accept; both apply the pins and, with --verify, confirm the per-transfer code.
import type { OfferAccepted, OfferInfo, SignedIdentity } from '../protocol/messages.js';
import { normalizeName } from '../protocol/names.js';
import { printable } from '../protocol/printable.js';
import {
  acceptSigned, filesDigest, offerSigned, signWith, transferCode, type SignedFile,
} from '../transfer/index.js';
import { CliError } from './context.js';
import type { DeviceIdentity } from './identity-file.js';
import { checkPeer } from './peer-trust.js';

/** The policy options of send-file and accept. */
export interface TransferAuthOptions {
  home: string;
  server: string;
  verify: boolean;
  /** Resolves when the user confirmed the code both sides show; throws to abort. */
  confirm(code: string): Promise<void>;
  /** On a terminal: asks a yes/no question (a new device of a verified contact); none elsewhere. */
  ask?: (question: string) => Promise<boolean>;
  /** Accept a peer without signatures or encryption (an older chat). */
  insecurePeer: boolean;
}

/** Where notices go (the transfer view). */
export interface Notices {
  info(line: string, json: { event: string } & Record<string, unknown>): void;
}

/** The offer's half of a transfer, as both sides compute it. */
export interface OfferSide {
  transferId: string;
  from: string;
  to: string;
  senderKey: string;
  files: readonly SignedFile[];
  verify: boolean;
}

const bindingOf = (o: OfferSide) => ({ ...o, files: filesDigest(o.files) });

/** The sender's signed identity for its offer. */
export function signOffer(identity: DeviceIdentity, offer: OfferSide): SignedIdentity {
  const to = normalizeName(offer.to) ?? offer.to;
  return { key: identity.publicKey, device: identity.device, sig: signWith(identity, offerSigned({ ...bindingOf(offer), to })) };
}

/** Sender: checks the accept before the Sender learns its key; throws a CliError to refuse. */
export async function checkAccept(
  view: Notices, opts: TransferAuthOptions, identity: DeviceIdentity, offer: OfferSide, accepted: OfferAccepted,
): Promise<void> {
  if (!unauthenticatedOk(view, opts, accepted.by, accepted.key, accepted.identity)) return;
  const to = normalizeName(offer.to) ?? offer.to;
  const signed = acceptSigned({ ...bindingOf(offer), to, verify: accepted.verify === true, senderIdentity: identity.publicKey, receiverKey: accepted.key! });
  const trust = await checkPeer(opts.home, opts.server, accepted.by, accepted.identity, signed, opts.ask);
  if (trust.notice) view.info(trust.notice, { event: 'pinned', user: accepted.by, device: accepted.identity!.device });
  if (!(opts.verify || accepted.verify) || trust.verified) return;
  const code = transferCode({
    transferId: offer.transferId, senderIdentity: identity.publicKey, receiverIdentity: accepted.identity!.key, senderKey: offer.senderKey, receiverKey: accepted.key!,
  });
  view.info(`verification code: ${code} (the receiver must see the same; no data flows until you confirm)`, { event: 'verify', code });
  await opts.confirm(code);
}

/**
 * Receiver: checks the offer; returns the signed identity for the accept and, when a code must be
 * compared (--verify on either side, contact not verified), the code: the caller confirms it after
 * the accept and before connecting (the sender admits nobody until it confirmed too). Throws to refuse.
 */
export async function checkOffer(
  view: Notices, opts: TransferAuthOptions, identity: DeviceIdentity, info: OfferInfo, files: readonly SignedFile[], receiverKey: string,
): Promise<{ identity?: SignedIdentity; code?: string }> {
  if (!unauthenticatedOk(view, opts, info.from, info.key, info.identity)) return {};
  const offer = { transferId: info.transfer, from: info.from, to: info.to, senderKey: info.key!, files, verify: info.verify === true };
  const trust = await checkPeer(opts.home, opts.server, info.from, info.identity, offerSigned(bindingOf(offer)), opts.ask);
  if (trust.notice) view.info(trust.notice, { event: 'pinned', user: info.from, device: info.identity!.device });
  const sig = signWith(identity, acceptSigned({ ...bindingOf(offer), verify: opts.verify, senderIdentity: info.identity!.key, receiverKey }));
  const signedIdentity = { key: identity.publicKey, device: identity.device, sig };
  if (!(opts.verify || offer.verify) || trust.verified) return { identity: signedIdentity };
  const code = transferCode({ transferId: info.transfer, senderIdentity: info.identity!.key, receiverIdentity: identity.publicKey, senderKey: info.key!, receiverKey });
  return { identity: signedIdentity, code };
}

// A peer without a key or signature: refused unless --insecure-peer (never with --verify).
function unauthenticatedOk(view: Notices, opts: TransferAuthOptions, user: string, key: string | undefined, identity: SignedIdentity | undefined): boolean {
  if (key && identity) return true;
  const what = key ? 'does not sign its transfers' : 'does not encrypt';
  user = printable(user);
  if (opts.verify || !opts.insecurePeer) {
    throw new CliError(`${user}'s chat ${what} (an older version): refused${opts.verify ? ' (--verify needs an encrypting, signing peer)' : '; --insecure-peer accepts it anyway'}`);
  }
  view.info(`warning: ${user}'s chat ${what}; the transfer is not authenticated${key ? '' : ' nor end-to-end encrypted'}`, { event: 'warning', message: key ? 'unsigned' : 'unencrypted' });
  return false;
}
