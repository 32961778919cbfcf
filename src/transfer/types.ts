// Results and events shared by Sender and Receiver.
import type { TransferError } from './errors.js';

/** Outcome of one verified file. */
export interface FileResult {
  /** Index of the file in the offer. */
  index: number;
  /** Path as offered. */
  path: string;
  /** Absolute path written on the receiver ('' on the sender). */
  savedAs: string;
  /** Receiver: the same bytes were already at savedAs, which was kept (nothing written). */
  identical?: true;
  /** Size in bytes. */
  size: number;
  /** Whole-file SHA-256, lowercase hex. */
  sha256: string;
  /** Bytes already present from an earlier, broken transfer (0 if none). */
  resumedFrom: number;
  /** Time from the first request of the file to its verification. */
  elapsedMs: number;
}

/** How the peers reached each other (§T8). */
export type Via = 'direct' | 'reverse' | 'punch' | 'relay';

/** Every path, in the order they are raced (§T8). */
export const ALL_PATHS: Via[] = ['direct', 'reverse', 'punch', 'relay'];

/** The paths the peer said it uses (`via` in its offer or accept, §T8), if it said so validly. */
export function peerPaths(via: unknown): Via[] | undefined {
  if (!Array.isArray(via) || via.length === 0) return undefined;
  const known = via.filter((v): v is Via => (ALL_PATHS as unknown[]).includes(v));
  return known.length > 0 ? known : undefined;
}

/** Our paths that the peer also uses (all of ours when it did not say). */
export function sharedPaths(ours: Via[], theirs: unknown): Via[] {
  const peer = peerPaths(theirs);
  return peer ? ours.filter((v) => peer.includes(v)) : ours;
}

/** `via` to signal (§T8): our paths unless they are all of them. */
export function signalOf(via: Via[]): Via[] | undefined {
  return ALL_PATHS.every((v) => via.includes(v)) ? undefined : [...via];
}

/** Outcome of a whole transfer. */
export interface TransferResult {
  files: FileResult[];
  /** The path of the first connection (undefined if nothing needed to move). */
  path?: Via;
  /** File bytes actually moved on the wire by this side in this session. */
  bytes: number;
  elapsedMs: number;
}

/** Progress of one file and of the whole transfer (receiver-confirmed on the sender). */
export interface ProgressEvent {
  index: number;
  bytes: number;
  size: number;
  totalBytes: number;
  totalSize: number;
}

/** Events of a Sender. */
export interface SenderEvents {
  connected: [{ remote: string; path: Via; version: number }];
  refused: [{ remote: string; reason: string }];
  progress: [ProgressEvent];
  file: [FileResult];
  /** One file failed (§T7): the transfer goes on with the others, and `done` rejects at the end. */
  fileFailed: [{ index: number; path: string; error: TransferError }];
  error: [TransferError];
}

/** Events of a Receiver. */
export interface ReceiverEvents {
  connected: [{ remote: string; path: Via; version: number }];
  progress: [ProgressEvent];
  file: [FileResult];
  retry: [{ attempt: number; delayMs: number; reason: string }];
  /** One file failed (§T7): its `.part` stays, the others go on, and start() rejects at the end. */
  fileFailed: [{ index: number; path: string; error: TransferError }];
  /** The `bytes` of file `index` kept from an earlier session are being re-hashed (while the rest streams in) to prove them. */
  proving: [{ index: number; path: string; bytes: number }];
}

/** Per-file byte counters summed into ProgressEvents. */
export class ProgressTracker {
  #bytes: number[];
  #sizes: number[];
  #total = 0;
  readonly totalSize: number;

  constructor(sizes: number[]) {
    this.#sizes = sizes;
    this.#bytes = sizes.map(() => 0);
    this.totalSize = sizes.reduce((a, b) => a + b, 0);
  }

  /** Records that `bytes` of file `index` are done; returns the event to emit. */
  update(index: number, bytes: number): ProgressEvent {
    this.#total += bytes - this.#bytes[index]!;
    this.#bytes[index] = bytes;
    return { index, bytes, size: this.#sizes[index]!, totalBytes: this.#total, totalSize: this.totalSize };
  }
}
