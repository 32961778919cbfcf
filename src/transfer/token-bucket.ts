// The bucket for `limitRate` (bytes/s): the common TokenBucket, with a burst fit for chunks.
import { TokenBucket } from '../common/token-bucket.js';

export { TokenBucket, type Clock } from '../common/token-bucket.js';

/** A bucket for `limitRate` (undefined when unlimited); the burst is one chunk or 1/10 s of traffic. */
export function rateBucket(limitRate: number | undefined, chunkBytes: number): TokenBucket | undefined {
  if (!limitRate || limitRate <= 0) return undefined;
  return new TokenBucket(limitRate, Math.max(chunkBytes, limitRate / 10));
}
