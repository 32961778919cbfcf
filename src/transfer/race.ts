// Dial every candidate at once; the first completed handshake wins, the rest are closed.
import { TransferError, type TransferErrorCode } from './errors.js';
import { dial, type DialOptions, type TransferSecret } from './handshake.js';
import type { Candidate } from './offer.js';
import type { Wire } from './wire.js';

// Which failure best explains "no candidate worked", most telling first.
const ERROR_RANK: TransferErrorCode[] = ['aborted', 'bad_token', 'protocol', 'timeout', 'unreachable'];

/**
 * Runs `attempts` under one abort signal (linked to `outer`): the first to succeed wins and the
 * others are aborted, a late success is discarded; if all fail, rejects with the most telling error.
 */
export function firstOf<T>(
  start: (signal: AbortSignal) => Promise<T>[],
  discard: (late: T) => void,
  outer?: AbortSignal,
): Promise<T> {
  const local = new AbortController();
  const onOuterAbort = (): void => local.abort();
  outer?.addEventListener('abort', onOuterAbort, { once: true });
  if (outer?.aborted) local.abort();
  const attempts = start(local.signal);
  return new Promise<T>((resolve, reject) => {
    let won = false;
    const errors: TransferError[] = [];
    for (const attempt of attempts) {
      attempt.then(
        (value) => {
          if (won) return discard(value);
          won = true;
          outer?.removeEventListener('abort', onOuterAbort);
          local.abort(); // the losers stop
          resolve(value);
        },
        (err: TransferError) => {
          errors.push(err);
          if (won || errors.length < attempts.length) return;
          outer?.removeEventListener('abort', onOuterAbort);
          reject(bestError(errors));
        },
      );
    }
  });
}

/** Resolves the first authenticated Wire among `candidates`; rejects with the most telling failure. */
export function raceCandidates(candidates: Candidate[], secret: TransferSecret, opts: DialOptions): Promise<Wire> {
  if (candidates.length === 0) return Promise.reject(new TransferError('unreachable', 'the offer lists no sender address'));
  return firstOf(
    (signal) => candidates.map((candidate) => dial(candidate, secret, { ...opts, signal })),
    (late) => late.destroy(),
    opts.signal,
  );
}

export function bestError(errors: TransferError[]): TransferError {
  for (const code of ERROR_RANK) {
    const same = errors.filter((e) => e.code === code);
    if (same.length === 0) continue;
    if (code !== 'unreachable' || same.length === 1) return same[0]!;
    return new TransferError('unreachable', `cannot reach the sender at any of ${same.length} addresses (${same[0]!.message})`);
  }
  return errors[0]!;
}
