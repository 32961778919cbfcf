// Mutual proof of the one-time token without revealing it (protocol.md §T2).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { MAX_CHUNK_BYTES, DATA_HEADER_BYTES } from './chunk.js';
import { TransferError } from './errors.js';
import { TRANSFER_PROTOCOL_VERSION, type ControlMessage } from './messages.js';
import { Wire } from './wire.js';
import { connectionKeys, sharedSecret, type KeyPair } from './keys.js';
import type { Candidate } from './offer.js';

/** HMAC labels of the proofs, by protocol version (§T2.2). */
const LABELS = {
  1: { receiver: 'chat-transfer-v1 receiver', sender: 'chat-transfer-v1 sender' },
  3: { receiver: 'chat-transfer-v3 receiver', sender: 'chat-transfer-v3 sender' },
  4: { receiver: 'chat-transfer-v4 receiver', sender: 'chat-transfer-v4 sender' },
  5: { receiver: 'chat-transfer-v5 receiver', sender: 'chat-transfer-v5 sender' },
} as const;
type Version = keyof typeof LABELS;
/** Nonce length in bytes. */
export const NONCE_BYTES = 32;

/** End-to-end keys (§T9): our pair, and the other side's public key when known. */
export interface PeerKeys {
  own: KeyPair;
  /** Required on the receiver (from the offer); on the sender, the accept's key once known. */
  peer?: string;
}

/** The shared secret of one transfer; with `keys`, an encrypted version (3 or 4) is required. */
export interface TransferSecret {
  transferId: string;
  token: string;
  keys?: PeerKeys;
  /** Highest encrypted version to speak (3 or 4, §T2.3); for compatibility tests. @default 4 */
  maxVersion?: 3 | 4 | 5;
}

/** HMAC-SHA256(token, label ‖ transferId ‖ nonce [‖ public key]) as lowercase hex. */
export function proof(secret: TransferSecret, label: string, nonceHex: string, key?: string): string {
  const mac = createHmac('sha256', Buffer.from(secret.token, 'utf8'));
  mac.update(Buffer.from(label, 'utf8'));
  mac.update(Buffer.from(secret.transferId, 'utf8'));
  mac.update(Buffer.from(nonceHex, 'hex'));
  if (key !== undefined) mac.update(Buffer.from(key, 'base64url'));
  return mac.digest('hex');
}

/** Constant-time comparison of two hex proofs. */
export function proofMatches(expectedHex: string, actualHex: string): boolean {
  const a = Buffer.from(expectedHex, 'hex');
  const b = Buffer.from(actualHex, 'hex');
  return a.length === b.length && a.length > 0 && timingSafeEqual(a, b);
}

function newNonce(): string {
  return randomBytes(NONCE_BYTES).toString('hex');
}

/** The oldest encrypted version: a peer with keys speaks nothing older (no downgrade to plaintext, §T2.3). */
export const SEALED_VERSION = 3;
/** The highest version this side offers or accepts. */
const versionOf = (secret: TransferSecret): Version => (secret.keys ? (secret.maxVersion ?? (TRANSFER_PROTOCOL_VERSION as Version)) : 1);
/** Whether a sender whose highest version is `ours` speaks `theirs`. */
const speaks = (ours: Version, theirs: number): theirs is Version => (ours === 1 ? theirs === 1 : theirs >= SEALED_VERSION && theirs <= ours);

/** Why a sender refused a connection. */
export type RefusalReason = 'bad_token' | 'timeout' | 'protocol' | 'version' | 'closed';

/** A refused handshake on the sender side. */
export class Refusal extends Error {
  constructor(readonly reason: RefusalReason, message: string) {
    super(message);
  }
}

/**
 * Sender side: hello → auth → welcome, whichever side opened the TCP connection (direct,
 * reverse or relayed). Resolves with the receiver's public key (v3); rejects with a Refusal.
 */
export function acceptHandshake(wire: Wire, secret: TransferSecret, timeoutMs: number): Promise<{ receiverKey?: string }> {
  const nonce = newNonce();
  const highest = versionOf(secret);
  return new Promise((resolve, reject) => {
    const refuse = (reason: RefusalReason, message: string, tell?: ControlMessage): void => {
      clearTimeout(timer);
      if (tell) wire.end(tell, 200);
      else wire.destroy();
      reject(new Refusal(reason, message));
    };
    const timer = setTimeout(() => refuse('timeout', `no handshake within ${timeoutMs} ms`), timeoutMs);
    wire.handlers = {
      control(msg) {
        if (msg.type !== 'auth') return refuse('protocol', `expected auth, got ${msg.type}`);
        if (!speaks(highest, msg.v)) return refuse('version', `unsupported version ${msg.v}`, versionError(msg.v, highest));
        const v = msg.v;
        const sealed = v !== 1;
        if (sealed && !msg.key) return refuse('protocol', 'auth without a public key', { type: 'error', code: 'protocol', message: 'auth needs a key' });
        // §T10.5: only the key of the accept is admitted; before the accept, none is.
        if (sealed && secret.keys!.peer !== msg.key) {
          return refuse('bad_token', 'a key other than the accepted one', { type: 'error', code: 'bad_token', message: 'wrong key' });
        }
        if (!proofMatches(proof(secret, LABELS[v].receiver, nonce, msg.key), msg.proof)) {
          return refuse('bad_token', 'wrong token proof', { type: 'error', code: 'bad_token', message: 'wrong token' });
        }
        clearTimeout(timer);
        wire.handlers = { control() {}, data() {}, close() {} };
        const ownKey = sealed ? secret.keys!.own.publicKey : undefined;
        wire.sendControl({ type: 'welcome', v, proof: proof(secret, LABELS[v].sender, msg.nonce, ownKey) });
        if (sealed) {
          try {
            const keys = connectionKeys(sharedSecret(secret.keys!.own, msg.key!), {
              transferId: secret.transferId, senderKey: ownKey!, receiverKey: msg.key!, senderNonce: nonce, receiverNonce: msg.nonce,
            });
            wire.protect(keys.s2r, keys.r2s, v);
          } catch (err) {
            return refuse('protocol', (err as Error).message);
          }
        }
        resolve({ receiverKey: msg.key });
      },
      data: () => refuse('protocol', 'DATA before the handshake'),
      close: (err) => refuse(err?.code === 'protocol' ? 'protocol' : 'closed', err?.message ?? 'closed during the handshake'),
    };
    wire.sendControl({ type: 'hello', v: highest, nonce });
  });
}

/**
 * Receiver side on a connected wire: answer hello with auth, check welcome, then (v3) seal.
 * `fail` is called at most once with why it did not work; `done` with the authenticated wire.
 */
export function answerHandshake(
  wire: Wire,
  secret: TransferSecret,
  where: string,
  done: (wire: Wire) => void,
  fail: (err: TransferError) => void,
): void {
  const myNonce = newNonce();
  const highest = versionOf(secret);
  const ownKey = highest !== 1 ? secret.keys!.own.publicKey : undefined;
  let want: Version = highest;
  let senderNonce = '';
  wire.handlers = {
    control(msg) {
      if (msg.type === 'error') return fail(new TransferError(msg.code, `sender refused us: ${msg.message}`, { fromPeer: true }));
      if (msg.type === 'hello') {
        // §T2.3: hello.v is the sender's highest version; with keys we insist on 3 or newer (no downgrade).
        const oldest = highest === 1 ? 1 : SEALED_VERSION;
        if (msg.v < oldest) return fail(new TransferError('protocol', `the sender's chat speaks transfer protocol ${msg.v}; this one needs ${oldest}: upgrade the sender's chat`));
        want = Math.min(msg.v, highest) as Version;
        senderNonce = msg.nonce;
        wire.sendControl({ type: 'auth', v: want, nonce: myNonce, proof: proof(secret, LABELS[want].receiver, msg.nonce, ownKey), key: ownKey });
        return;
      }
      const expected = proof(secret, LABELS[want].sender, myNonce, want !== 1 ? secret.keys!.peer : undefined);
      if (msg.type !== 'welcome' || msg.v !== want || !senderNonce || !proofMatches(expected, msg.proof)) {
        return fail(new TransferError('protocol', `${where} did not prove the token`));
      }
      wire.handlers = { control() {}, data() {}, close() {} };
      try {
        wire.acceptDataFrames(DATA_HEADER_BYTES + MAX_CHUNK_BYTES);
        if (want !== 1) {
          const keys = connectionKeys(sharedSecret(secret.keys!.own, secret.keys!.peer!), {
            transferId: secret.transferId, senderKey: secret.keys!.peer!, receiverKey: ownKey!, senderNonce, receiverNonce: myNonce,
          });
          wire.protect(keys.r2s, keys.s2r, want);
        }
      } catch (err) {
        return fail(err instanceof TransferError ? err : new TransferError('protocol', (err as Error).message));
      }
      done(wire);
    },
    data: () => fail(new TransferError('protocol', `${where} sent DATA before the handshake`)),
    close: (err) => fail(err && err.code !== 'peer_gone' ? err : unreachable(where, causeText(err))),
  };
}

/** Options for dialing one candidate. */
export interface DialOptions {
  connectTimeoutMs: number;
  handshakeTimeoutMs: number;
  signal?: AbortSignal;
}

/** Receiver side: connect to one candidate and complete the handshake. Resolves an authenticated Wire. */
export function dial(candidate: Candidate, secret: TransferSecret, opts: DialOptions): Promise<Wire> {
  const where = `${candidate.host}:${candidate.port}`;
  const wire = Wire.connect({ host: candidate.host, port: candidate.port });
  return authenticate(wire, secret, where, opts, false);
}

/**
 * Runs the receiver's handshake on `wire` with the connect (unless `connected`) and handshake
 * timeouts and the abort signal; resolves the authenticated wire or rejects (and destroys it).
 */
export function authenticate(wire: Wire, secret: TransferSecret, where: string, opts: DialOptions, connected: boolean): Promise<Wire> {
  return new Promise<Wire>((resolve, reject) => {
    let settled = false;
    const fail = (err: TransferError): void => {
      if (settled) return;
      settled = true;
      cleanup();
      wire.destroy();
      reject(err);
    };
    const onAbort = (): void => fail(new TransferError('aborted', 'transfer aborted'));
    const cleanup = (): void => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    const startHandshakeTimer = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => fail(new TransferError('timeout', `no handshake from ${where}`)), opts.handshakeTimeoutMs);
    };
    let timer = setTimeout(() => fail(unreachable(where, 'timed out')), opts.connectTimeoutMs);
    opts.signal?.addEventListener('abort', onAbort);
    if (connected) startHandshakeTimer();
    else wire.socket.once('connect', startHandshakeTimer);
    answerHandshake(wire, secret, where, (w) => {
      if (settled) return;
      settled = true;
      cleanup();
      resolve(w);
    }, fail);
  });
}

function causeText(err: TransferError | undefined): string {
  const cause = err?.cause;
  return cause instanceof Error ? cause.message : 'connection closed';
}

function unreachable(where: string, why: string): TransferError {
  return new TransferError('unreachable', `cannot reach the sender at ${where} (${why})`);
}

function versionError(theirs: number, ours: Version): ControlMessage {
  const message =
    ours !== 1 && theirs === 1 ? `this transfer is end-to-end encrypted (protocol ${ours}); the receiver offered plaintext (protocol 1)`
    : ours !== 1 && theirs < SEALED_VERSION ? `the receiver's chat speaks transfer protocol ${theirs}; this sender needs ${SEALED_VERSION}: upgrade the receiver's chat`
    : `unsupported transfer protocol version ${theirs} (this sender speaks ${ours})`;
  return { type: 'error', code: 'protocol', message };
}
