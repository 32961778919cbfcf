import type { ErrorCode } from '../protocol/errors.js';

/** Codes a client sees: the server's wire codes plus the client's own. */
export type ClientErrorCode = ErrorCode | 'unreachable' | 'untrusted' | 'closed' | 'timeout' | 'protocol';

/** A failed request or connection, with a stable code and a one-line message. */
export class ClientError extends Error {
  readonly code: ClientErrorCode;
  /** What the user can do about it, for a front end to word (`plaintext_server`, `tls_server`). */
  readonly hint: string | undefined;

  constructor(code: ClientErrorCode, message: string, hint?: string) {
    super(message);
    this.name = 'ClientError';
    this.code = code;
    this.hint = hint;
  }
}

/** Why a transfer session ended without its files. */
export type TransferSessionCode =
  /** The peer could not be authenticated (or is unencrypted and that was not allowed). */
  | 'refused'
  /** The other user said no, or did not answer in time. */
  | 'rejected'
  | 'expired'
  /** The offer ended otherwise (withdrawn, accepted on another device). */
  | 'closed'
  /** The server connection dropped while the offer waited for its answer. */
  | 'lost'
  /** Accepted, but the receiver never reached us. */
  | 'unreachable'
  /** Cancelled on this side. */
  | 'cancelled';

/** A transfer session's end other than a TransferError from the stream itself. */
export class TransferSessionError extends Error {
  readonly code: TransferSessionCode;
  /** What the user can do about it, for a front end to word. */
  readonly hint: string | undefined;

  constructor(code: TransferSessionCode, message: string, hint?: string) {
    super(message);
    this.name = 'TransferSessionError';
    this.code = code;
    this.hint = hint;
  }
}
