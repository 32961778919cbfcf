import type { ErrorCode } from '../protocol/errors.js';

/** Codes a client sees: the server's wire codes plus the client's own. */
export type ClientErrorCode = ErrorCode | 'unreachable' | 'untrusted' | 'closed' | 'timeout' | 'protocol';

/** A failed request or connection, with a stable code and a one-line message. */
export class ClientError extends Error {
  readonly code: ClientErrorCode;

  constructor(code: ClientErrorCode, message: string) {
    super(message);
    this.name = 'ClientError';
    this.code = code;
  }
}
