// Dial every candidate at once; the first completed handshake wins, the rest are closed.
import { TransferError, type TransferErrorCode } from './errors.js';
import { dial, type DialOptions, type TransferSecret } from './handshake.js';
import type { Candidate } from './offer.js';
import type { Wire } from './wire.js';

// Which failure best explains "no candidate worked", most telling first.
const ERROR_RANK: TransferErrorCode[] = ['aborted', 'bad_token', 'protocol', 'timeout', 'unreachable'];

/** Resolves the first authenticated Wire among `candidates`; rejects with the most telling failure. */
export function raceCandidates(candidates: Candidate[], secret: TransferSecret, opts: DialOptions): Promise<Wire> {
  if (candidates.length === 0) return Promise.reject(new TransferError('unreachable', 'the offer lists no sender address'));
  const local = new AbortController();
  const onOuterAbort = (): void => local.abort();
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  if (opts.signal?.aborted) local.abort();
  return new Promise<Wire>((resolve, reject) => {
    let winner: Wire | undefined;
    const errors: TransferError[] = [];
    for (const candidate of candidates) {
      dial(candidate, secret, { ...opts, signal: local.signal }).then(
        (wire) => {
          if (winner) return void wire.destroy();
          winner = wire;
          opts.signal?.removeEventListener('abort', onOuterAbort);
          local.abort(); // the losers stop dialing
          resolve(wire);
        },
        (err: TransferError) => {
          errors.push(err);
          if (winner || errors.length < candidates.length) return;
          opts.signal?.removeEventListener('abort', onOuterAbort);
          reject(bestError(errors));
        },
      );
    }
  });
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
