// Mutual proof of the one-time token without revealing it (protocol.md §T2).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { MAX_CHUNK_BYTES, DATA_HEADER_BYTES } from './chunk.js';
import { TransferError } from './errors.js';
import { TRANSFER_PROTOCOL_VERSION, type ControlMessage } from './messages.js';
import { Wire } from './wire.js';
import type { Candidate } from './offer.js';

/** HMAC label for the receiver's proof. */
export const RECEIVER_LABEL = 'chat-transfer-v1 receiver';
/** HMAC label for the sender's proof. */
export const SENDER_LABEL = 'chat-transfer-v1 sender';
/** Nonce length in bytes. */
export const NONCE_BYTES = 32;

/** The shared secret of one transfer. */
export interface TransferSecret {
  transferId: string;
  token: string;
}

/** HMAC-SHA256(token, label ‖ transferId ‖ nonce) as lowercase hex. */
export function proof(secret: TransferSecret, label: string, nonceHex: string): string {
  const mac = createHmac('sha256', Buffer.from(secret.token, 'utf8'));
  mac.update(Buffer.from(label, 'utf8'));
  mac.update(Buffer.from(secret.transferId, 'utf8'));
  mac.update(Buffer.from(nonceHex, 'hex'));
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

/** Why a sender refused a connection. */
export type RefusalReason = 'bad_token' | 'timeout' | 'protocol' | 'version' | 'closed';

/** A refused handshake on the sender side. */
export class Refusal extends Error {
  constructor(readonly reason: RefusalReason, message: string) {
    super(message);
  }
}

/** Sender side: hello → auth → welcome. Rejects with a Refusal (the wire is then destroyed). */
export function acceptHandshake(wire: Wire, secret: TransferSecret, timeoutMs: number): Promise<void> {
  const nonce = newNonce();
  return new Promise<void>((resolve, reject) => {
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
        if (msg.v !== TRANSFER_PROTOCOL_VERSION) {
          return refuse('version', `unsupported version ${msg.v}`, versionError(msg.v));
        }
        if (!proofMatches(proof(secret, RECEIVER_LABEL, nonce), msg.proof)) {
          return refuse('bad_token', 'wrong token proof', { type: 'error', code: 'bad_token', message: 'wrong token' });
        }
        clearTimeout(timer);
        wire.handlers = { control() {}, data() {}, close() {} };
        wire.sendControl({ type: 'welcome', v: TRANSFER_PROTOCOL_VERSION, proof: proof(secret, SENDER_LABEL, msg.nonce) });
        resolve();
      },
      data: () => refuse('protocol', 'DATA before the handshake'),
      close: (err) => refuse(err?.code === 'protocol' ? 'protocol' : 'closed', err?.message ?? 'closed during the handshake'),
    };
    wire.sendControl({ type: 'hello', v: TRANSFER_PROTOCOL_VERSION, nonce });
  });
}

/** Options for dialing one candidate. */
export interface DialOptions {
  connectTimeoutMs: number;
  handshakeTimeoutMs: number;
  signal?: AbortSignal;
}

/** Receiver side: connect, answer hello with auth, verify welcome. Resolves an authenticated Wire. */
export function dial(candidate: Candidate, secret: TransferSecret, opts: DialOptions): Promise<Wire> {
  return new Promise<Wire>((resolve, reject) => {
    const wire = Wire.connect({ host: candidate.host, port: candidate.port });
    const socket = wire.socket;
    const where = `${candidate.host}:${candidate.port}`;
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
    let timer = setTimeout(() => fail(unreachable(where, 'timed out')), opts.connectTimeoutMs);
    opts.signal?.addEventListener('abort', onAbort);
    socket.once('connect', () => {
      clearTimeout(timer);
      timer = setTimeout(() => fail(new TransferError('timeout', `no handshake from ${where}`)), opts.handshakeTimeoutMs);
    });
    const myNonce = newNonce();
    wire.handlers = {
      control(msg) {
        if (msg.type === 'error') return fail(new TransferError(msg.code, `sender refused us: ${msg.message}`, { fromPeer: true }));
        if (msg.type === 'hello') {
          // protocol §2.3: hello.v is the sender's highest version; we pick the highest we share.
          if (msg.v < 1) return fail(new TransferError('protocol', `sender speaks version ${msg.v}`));
          const v = Math.min(msg.v, TRANSFER_PROTOCOL_VERSION);
          wire.sendControl({ type: 'auth', v, nonce: myNonce, proof: proof(secret, RECEIVER_LABEL, msg.nonce) });
          return;
        }
        if (msg.type !== 'welcome' || msg.v !== TRANSFER_PROTOCOL_VERSION || !proofMatches(proof(secret, SENDER_LABEL, myNonce), msg.proof)) {
          return fail(new TransferError('protocol', `${where} did not prove the token`));
        }
        settled = true;
        cleanup();
        wire.handlers = { control() {}, data() {}, close() {} };
        wire.acceptDataFrames(DATA_HEADER_BYTES + MAX_CHUNK_BYTES);
        resolve(wire);
      },
      data: () => fail(new TransferError('protocol', `${where} sent DATA before the handshake`)),
      close: (err) => fail(err && err.code !== 'peer_gone' ? err : unreachable(where, causeText(err))),
    };
  });
}

function causeText(err: TransferError | undefined): string {
  const cause = err?.cause;
  return cause instanceof Error ? cause.message : 'connection closed';
}

function unreachable(where: string, why: string): TransferError {
  return new TransferError('unreachable', `cannot reach the sender at ${where} (${why})`);
}

function versionError(v: number): ControlMessage {
  return { type: 'error', code: 'protocol', message: `unsupported protocol version ${v}` };
}
