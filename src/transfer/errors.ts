// The one catalog of transfer error codes; docs/protocol.md §T7 lists exactly these.

/** Stable codes carried by TransferError and by `error` control frames. */
export const TRANSFER_ERROR_CODES = [
  'bad_token',
  'checksum_mismatch',
  'disk_full',
  'permission_denied',
  'source_changed',
  'peer_gone',
  'unreachable',
  'not_found',
  'aborted',
  'timeout',
  'protocol',
  'tampered',
  'io_error',
] as const;

/** One of TRANSFER_ERROR_CODES. */
export type TransferErrorCode = (typeof TRANSFER_ERROR_CODES)[number];

/** Options for TransferError. */
export interface TransferErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
  /** True when the peer reported this error over the wire. */
  fromPeer?: boolean;
  /** Index of the file concerned, if any. */
  file?: number;
  /** What the user can do about it, for a front end to word (e.g. `paths`: allow other paths). */
  hint?: string;
}

/** Every failure of the transfer engine: a stable `code` and a one-line message. */
export class TransferError extends Error {
  readonly code: TransferErrorCode;
  readonly fromPeer: boolean;
  readonly file: number | undefined;
  readonly hint: string | undefined;

  constructor(code: TransferErrorCode, message: string, options: TransferErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TransferError';
    this.code = code;
    this.fromPeer = options.fromPeer ?? false;
    this.file = options.file;
    this.hint = options.hint;
  }
}

/** Codes that, naming a file, fail only that file: the transfer goes on with the others (§T7). */
export const FILE_ERROR_CODES: readonly TransferErrorCode[] = ['checksum_mismatch', 'disk_full', 'permission_denied', 'source_changed', 'not_found', 'io_error'];

/** True if `err` fails only the file it names (§T7), not the connection or the transfer. */
export function isFileFailure(err: TransferError): boolean {
  return err.file !== undefined && FILE_ERROR_CODES.includes(err.code);
}

/**
 * The outcome of a transfer in which some files failed (§T7): one failure is itself; several are
 * summed up in one line that names the first few, with the first one's code.
 */
export function filesFailed(failures: readonly TransferError[], paths: readonly string[], total: number): TransferError {
  if (failures.length === 1) return failures[0]!;
  const first = failures[0]!;
  const named = failures.slice(0, 3).map((f) => `${paths[f.file!] ?? `file ${f.file}`}: ${f.message}`).join('; ');
  const more = failures.length > 3 ? `; and ${failures.length - 3} more` : '';
  return new TransferError(first.code, `${failures.length} of ${total} files failed (${named}${more}); the others arrived`, { cause: first, fromPeer: first.fromPeer });
}

/** True if `code` is one of ours (used when decoding an error frame). */
export function isTransferErrorCode(code: unknown): code is TransferErrorCode {
  return typeof code === 'string' && (TRANSFER_ERROR_CODES as readonly string[]).includes(code);
}

/** Maps a filesystem error to a TransferError with a one-line message naming `path`. */
export function fsError(err: unknown, path: string, file?: number): TransferError {
  if (err instanceof TransferError) {
    // A file's own failure (e.g. its directory is a symlink) names it, so it fails only that file (§T7).
    if (err.file !== undefined || file === undefined || !FILE_ERROR_CODES.includes(err.code)) return err;
    return new TransferError(err.code, err.message, { cause: err.cause, fromPeer: err.fromPeer, file });
  }
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const opts = { cause: err, file };
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new TransferError('disk_full', `disk full while writing ${path}`, opts);
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new TransferError('permission_denied', `permission denied: ${path}`, opts);
    case 'ENOENT':
      return new TransferError('not_found', `no such file: ${path}`, opts);
    default:
      return new TransferError('io_error', `${path}: ${(err as Error)?.message ?? String(err)}`, opts);
  }
}

/** Wraps anything thrown into a TransferError (unknown errors become `io_error`). */
export function toTransferError(err: unknown): TransferError {
  if (err instanceof TransferError) return err;
  return new TransferError('io_error', (err as Error)?.message ?? String(err), { cause: err });
}
