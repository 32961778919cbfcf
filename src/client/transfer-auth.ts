// Authenticating both ends of a transfer by their device identities (protocol.md §T10), before
// any file byte: the sender signs its offer and checks the accept; the receiver checks the offer
// and signs its accept. The pins (which key a user's device had before) are the front end's
// (a TransferTrust); these functions decide what must be checked and computed, and in what order.
import type { OfferAccepted, OfferInfo, SignedIdentity } from '../protocol/messages.js';
import { normalizeName } from '../protocol/names.js';
import { printable } from '../protocol/printable.js';
import {
  acceptSigned, filesDigest, offerSigned, signWith, transferCode, type Identity, type SignedFile,
} from '../transfer/index.js';
import { TransferSessionError } from './errors.js';

/** This device's identity key and the device name it signs with. */
export interface SigningIdentity extends Identity {
  device: string;
}

/** What the pins decided about a peer's device. */
export interface PeerTrust {
  /** Verified (safety number compared): no per-transfer code needed. */
  verified: boolean;
  /** A line to show once (first sight of this user or device). */
  notice?: string;
  /** Remembers a device seen for the first time: called once the transfer is authenticated. */
  pin?: () => void;
}

/** What the checks decided: the code to confirm (if any), and the pin to keep once it is. */
export interface AuthOutcome {
  code?: string;
  pin?: () => void;
}

/** Who we are and whom we trust: the front end's keys, pins and prompts. */
export interface TransferTrust {
  identity: SigningIdentity;
  /** Checks the peer's signature over `signed` and applies the pins (§T10.3); throws to refuse. */
  checkPeer(user: string, identity: SignedIdentity | undefined, signed: Buffer): Promise<PeerTrust>;
  /** Resolves when the user confirmed the code both sides show; throws to abort. */
  confirm(code: string): Promise<void>;
}

/** The policy switches of one transfer. */
export interface AuthSettings {
  /** Compare a per-transfer code before any byte (unless the contact is verified). */
  verify: boolean;
  /** Accept a peer without signatures or encryption (an older chat). */
  insecurePeer: boolean;
}

/** What the checks tell the user (before any byte). */
export type AuthNotice =
  | { event: 'pinned'; user: string; device: string; notice: string }
  | { event: 'warning'; user: string; message: 'unsigned' | 'unencrypted' }
  | { event: 'verify'; code: string; side: 'sender' | 'receiver' };

/** The offer's half of a transfer, as both sides compute it. */
export interface OfferSide {
  transferId: string;
  from: string;
  to: string;
  senderKey: string;
  files: readonly SignedFile[];
  verify: boolean;
}

const bindingOf = (o: OfferSide) => ({ ...o, to: normalizeName(o.to) ?? o.to, files: filesDigest(o.files) });

/** The sender's signed identity for its offer. */
export function signOffer(identity: SigningIdentity, offer: OfferSide): SignedIdentity {
  return { key: identity.publicKey, device: identity.device, sig: signWith(identity, offerSigned(bindingOf(offer))) };
}

/**
 * Sender: checks the accept before the Sender learns its key, and returns the code to confirm
 * when one must be compared (--verify on either side, contact not verified). Throws to refuse.
 */
export async function checkAccept(
  notify: (n: AuthNotice) => void, settings: AuthSettings, trust: TransferTrust, offer: OfferSide, accepted: OfferAccepted,
): Promise<AuthOutcome> {
  if (!authenticated(notify, settings, accepted.by, accepted.key, accepted.identity)) return {};
  const signed = acceptSigned({ ...bindingOf(offer), verify: accepted.verify === true, senderIdentity: trust.identity.publicKey, receiverKey: accepted.key! });
  const peer = await trust.checkPeer(accepted.by, accepted.identity, signed);
  if (peer.notice) notify({ event: 'pinned', user: accepted.by, device: accepted.identity!.device, notice: peer.notice });
  if (!(settings.verify || accepted.verify) || peer.verified) return { pin: peer.pin };
  const code = transferCode({
    transferId: offer.transferId, senderIdentity: trust.identity.publicKey, receiverIdentity: accepted.identity!.key, senderKey: offer.senderKey, receiverKey: accepted.key!,
  });
  return { code, pin: peer.pin };
}

/**
 * Receiver: checks the offer; returns the signed identity for the accept and, when a code must
 * be compared, the code: it is confirmed after the accept and before connecting (the sender
 * admits nobody until it confirmed too). Throws to refuse.
 */
export async function checkOffer(
  notify: (n: AuthNotice) => void, settings: AuthSettings, trust: TransferTrust, info: OfferInfo, files: readonly SignedFile[], receiverKey: string,
): Promise<AuthOutcome & { identity?: SignedIdentity }> {
  if (!authenticated(notify, settings, info.from, info.key, info.identity)) return {};
  const offer = { transferId: info.transfer, from: info.from, to: info.to, senderKey: info.key!, files, verify: info.verify === true };
  const peer = await trust.checkPeer(info.from, info.identity, offerSigned(bindingOf(offer)));
  if (peer.notice) notify({ event: 'pinned', user: info.from, device: info.identity!.device, notice: peer.notice });
  const own = trust.identity;
  const sig = signWith(own, acceptSigned({ ...bindingOf(offer), verify: settings.verify, senderIdentity: info.identity!.key, receiverKey }));
  const identity = { key: own.publicKey, device: own.device, sig };
  if (!(settings.verify || offer.verify) || peer.verified) return { identity, pin: peer.pin };
  const code = transferCode({ transferId: info.transfer, senderIdentity: info.identity!.key, receiverIdentity: own.publicKey, senderKey: info.key!, receiverKey });
  return { identity, code, pin: peer.pin };
}

// A peer without a key or signature: refused unless --insecure-peer (never with --verify).
function authenticated(notify: (n: AuthNotice) => void, settings: AuthSettings, user: string, key: string | undefined, identity: SignedIdentity | undefined): boolean {
  if (key && identity) return true;
  const what = key ? 'does not sign its transfers' : 'does not encrypt';
  if (settings.verify || !settings.insecurePeer) {
    throw new TransferSessionError('refused', `${printable(user)}'s chat ${what} (an older version): refused`, settings.verify ? 'verify_needs_keys' : 'insecure_peer');
  }
  notify({ event: 'warning', user, message: key ? 'unsigned' : 'unencrypted' });
  return false;
}
