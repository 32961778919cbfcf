// The one catalog of wire error codes. docs/protocol.md §6 lists exactly these (a unit test checks).

export const ERROR_CODES = [
  'bad_frame',
  'bad_json',
  'bad_request',
  'unknown_type',
  'unsupported_version',
  'too_large',
  'unauthorized',
  'invalid_name',
  'invalid_password',
  'name_taken',
  'registration_closed',
  'invalid_invite',
  'bad_credentials',
  'account_disabled',
  'no_such_user',
  'no_such_offer',
  'no_such_session',
  'no_such_group',
  'not_member',
  'forbidden',
  'offer_closed',
  'shutting_down',
  'overloaded',
  'rate_limited',
  'limit_reached',
  'internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ProtocolErrorOptions {
  /** Close the connection after replying. */
  fatal?: boolean;
}

/** An error with a stable wire code; `fatal` ones close only the connection that caused them. */
export class ProtocolError extends Error {
  readonly code: ErrorCode;
  readonly fatal: boolean;

  constructor(code: ErrorCode, message: string, options: ProtocolErrorOptions = {}) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
    this.fatal = options.fatal ?? false;
  }
}

/** True if `code` is one of ours (used when decoding an error reply from the wire). */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && (ERROR_CODES as readonly string[]).includes(code);
}
