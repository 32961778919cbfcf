// Public API of the peer-to-peer transfer engine.
export { collectFiles, collectOffer, localCandidates, newTransferSecret, withObserved, type Candidate, type CollectedFiles, type LocalFile, type OfferFile, type SkippedLink } from './offer.js';
export { Sender, SENDER_DEFAULTS, type SenderOptions } from './sender.js';
export { Receiver, RECEIVER_DEFAULTS, type ReceiverOptions } from './receiver.js';
export { TransferError, TRANSFER_ERROR_CODES, isTransferErrorCode, type TransferErrorCode } from './errors.js';
export { TRANSFER_PROTOCOL_VERSION } from './messages.js';
export type { FileResult, TransferResult, ProgressEvent, SenderEvents, ReceiverEvents } from './types.js';
export { newKeyPair, verifyCode, type KeyPair } from './keys.js';
export type { Via } from './types.js';
export { ALL_PATHS } from './types.js';
export { punch, type PunchOptions } from './punch.js';
export type { ListenOptions } from './paths.js';
export { relayAt, type RelayEndpoint } from './relay-dial.js';
export { newIdentity, identityOf, signWith, signatureValid, filesDigest, offerSigned, acceptSigned, transferCode, safetyNumber, keyLabel, type Identity, type SignedFile } from './identity.js';
