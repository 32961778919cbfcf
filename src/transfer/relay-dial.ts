// Reaching the peer through the server's relay (protocol.md §4.8): connect, send the pairing
// request, and once the server answers ok the socket is a raw pipe to the peer. To a TLS server
// the relay connection is plain TCP (relay version 2: the bytes are sealed end to end already, and
// TLS around them cost the server most of its relay CPU), its proof bound to a nonce of the
// server's; a server that does not speak it gets version 1 inside TLS, as before.
import { hostPort } from '../protocol/address.js';
import type { Socket } from 'node:net';
import { HEADER_BYTES, encodeJsonFrame } from '../protocol/frame.js';
import { relayPlainProofRequest, relayPlainRequest, relayRequest, type RelayRole } from '../protocol/relay.js';
import { TransferError } from './errors.js';
import type { Candidate } from './offer.js';
import { DirectLeg } from './direct-leg.js';
import { Wire } from './wire.js';
import { reach } from './tcp-connect.js';

export interface RelayDialOptions {
  transferId: string;
  token: string;
  role: RelayRole;
  /** Covers the server's wait for the other side (30 s) plus a margin. @default 35000 */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** The largest reply frame of a relay or punch server. */
const MAX_REPLY_BYTES = 64 * 1024;

/** How long a plain TCP connect to the relay server may take (TLS dials have their own). */
const CONNECT_TIMEOUT_MS = 10_000;

/** Where to bind the local end of a connection (the punch port, protocol.md §4.9). */
export interface LocalBinding {
  localAddress: string;
  /** 0: any free port (bound explicitly, so it can be bound again for the punch). */
  localPort: number;
  family: 4 | 6;
}

/** The server's relay: its chat address, and how to open a connection to it (TLS, verified). */
export interface RelayEndpoint extends Candidate {
  /** Resolves a connected socket to a server at `target` (this endpoint's host and port); plain TCP when absent. */
  open?: (target: Candidate, local?: LocalBinding) => Promise<Socket>;
}

/** `relay` moved to `at` (a cluster node's own relay, protocol.md §4.8), keeping how to open it. */
export function relayAt(relay: RelayEndpoint | undefined, at: Candidate | undefined): RelayEndpoint | undefined {
  return relay && at ? { ...relay, host: at.host, port: at.port } : relay;
}

/** Resolves a socket piped to the peer (nothing read past the server's reply is lost). */
export async function relayConnect(relay: RelayEndpoint, opts: RelayDialOptions): Promise<Socket> {
  if (relay.open) {
    const plain = await relayConnectPlain(relay, opts);
    if (plain) return plain;
  }
  return relayConnectV1(relay, opts);
}

/**
 * The receiver's relay leg as a Wire. To a TLS server (relay version 2, plain TCP) the socket
 * reads into the Wire's own frame buffers from its first byte (DirectLeg), as a direct connection
 * does; otherwise a Wire over relayConnect's socket.
 */
export async function relayConnectWire(relay: RelayEndpoint, opts: RelayDialOptions): Promise<Wire> {
  if (relay.open) {
    const leg = await relayPlainLeg(relay, opts);
    if (leg) return leg.wire();
  }
  return new Wire(await relayConnectV1(relay, opts));
}

async function relayConnectV1(relay: RelayEndpoint, opts: RelayDialOptions): Promise<Socket> {
  const socket = await openServer(relay, 'the relay', undefined, opts.signal);
  const request = relayRequest(opts.token, opts.role, opts.transferId);
  const { rest } = await firstReply(socket, `the relay at ${where(relay)}`, request, opts);
  socket.pause();
  if (rest.length > 0) socket.unshift(rest);
  return socket;
}

/** A 64-hex-digit nonce, as relay version 2's challenge carries. */
const NONCE = /^[0-9a-f]{64}$/;

/**
 * Relay version 2 (protocol.md §4.8): plain TCP to the TLS server's port, request, challenge,
 * proof over the server's nonce, ok. Resolves undefined when the server does not speak it (it
 * closed, or answered something that is not a challenge): the caller falls back to version 1.
 */
async function relayConnectPlain(relay: RelayEndpoint, opts: RelayDialOptions): Promise<Socket | undefined> {
  const what = `the relay at ${where(relay)}`;
  const socket = await openServer({ host: relay.host, port: relay.port }, 'the relay', undefined, opts.signal);
  let challenge: { reply: Record<string, unknown>; rest: Buffer };
  try {
    challenge = await exchange(socket, what, relayPlainRequest(opts.role, opts.transferId), { timeoutMs: CONNECT_TIMEOUT_MS, signal: opts.signal });
  } catch (err) {
    if (err instanceof TransferError && err.code === 'aborted') throw err;
    return undefined; // a server before version 2 drops a connection that does not open with TLS
  }
  if (challenge.rest.length > 0) {
    socket.destroy();
    return undefined;
  }
  const nonce = nonceOf(challenge.reply, what, socket);
  if (!nonce) return undefined;
  const { rest } = await firstReply(socket, what, relayPlainProofRequest(opts.token, opts.role, opts.transferId, nonce), opts);
  socket.pause();
  if (rest.length > 0) socket.unshift(rest);
  return socket;
}

/** relayConnectPlain over a DirectLeg (the receiver's leg, read into frame buffers). */
async function relayPlainLeg(relay: RelayEndpoint, opts: RelayDialOptions): Promise<DirectLeg | undefined> {
  const what = `the relay at ${where(relay)}`;
  const leg = await DirectLeg.open({ host: relay.host, port: relay.port }, CONNECT_TIMEOUT_MS, opts.signal);
  let reply: Record<string, unknown>;
  try {
    reply = await leg.ask(relayPlainRequest(opts.role, opts.transferId), what, { timeoutMs: CONNECT_TIMEOUT_MS, signal: opts.signal });
  } catch (err) {
    if (err instanceof TransferError && err.code === 'aborted') throw err;
    return undefined; // a server before version 2 drops a connection that does not open with TLS
  }
  const nonce = nonceOf(reply, what, leg.socket);
  if (!nonce) return undefined;
  const ok = await leg.ask(relayPlainProofRequest(opts.token, opts.role, opts.transferId, nonce), what, { timeoutMs: opts.timeoutMs ?? 35_000, signal: opts.signal });
  if (ok.type !== 'ok') {
    leg.socket.destroy();
    throw new TransferError('unreachable', `${what} refused: ${String(ok.message ?? ok.code ?? 'no reason given')}`);
  }
  return leg;
}

/**
 * The nonce of a version 2 challenge. Otherwise the socket is destroyed and: undefined when the
 * server does not speak version 2 (the caller falls back to version 1); any other error is the answer.
 */
function nonceOf(reply: Record<string, unknown>, what: string, socket: Socket): string | undefined {
  if (reply.type === 'challenge' && typeof reply.nonce === 'string' && NONCE.test(reply.nonce)) return reply.nonce;
  socket.destroy();
  if (reply.type === 'error' && reply.code !== 'unsupported_version' && reply.code !== 'bad_request') {
    throw new TransferError('unreachable', `${what} refused: ${String(reply.message ?? reply.code)}`);
  }
  return undefined;
}

/** A connected socket to the relay server (TLS when it has `open`), optionally from a bound local port. */
export async function openServer(relay: RelayEndpoint, what: string, local?: LocalBinding, signal?: AbortSignal): Promise<Socket> {
  const target = { host: relay.host, port: relay.port };
  if (relay.open) {
    return relay.open(target, local).catch((err: Error) => Promise.reject(new TransferError('unreachable', `cannot reach ${what} at ${where(relay)} (${err.message})`)));
  }
  return reach({ ...target, ...local }, `${what} at ${where(relay)}`, CONNECT_TIMEOUT_MS, signal);
}

function where(c: Candidate): string {
  return hostPort(c.host, c.port);
}

/**
 * Sends `request` (the only one of a relay or punch connection) and resolves its ok reply's result
 * and any bytes read past it; rejects, destroying the socket, on an error reply or timeout.
 */
export async function firstReply(
  socket: Socket,
  what: string,
  request: object,
  opts: { timeoutMs?: number; signal?: AbortSignal },
): Promise<{ result: unknown; rest: Buffer }> {
  const { reply, rest } = await exchange(socket, what, request, opts);
  if (reply.type !== 'ok') {
    socket.destroy();
    throw new TransferError('unreachable', `${what} refused: ${String(reply.message ?? reply.code ?? 'no reason given')}`);
  }
  return { result: reply.result, rest };
}

/**
 * Sends `request` and resolves the first reply (any JSON object) and the bytes read past it;
 * rejects, destroying the socket, if the connection fails, closes, times out or sends garbage.
 */
function exchange(
  socket: Socket,
  what: string,
  request: object,
  opts: { timeoutMs?: number; signal?: AbortSignal },
): Promise<{ reply: Record<string, unknown>; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    // Only the reply is a frame: what follows it is the peer's raw bytes, never parsed here.
    let pending: Buffer = Buffer.alloc(0);
    const finish = (err?: TransferError, value?: { reply: Record<string, unknown>; rest: Buffer }): void => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      if (!err) return resolve(value!);
      socket.destroy();
      reject(err);
    };
    const onAbort = (): void => finish(new TransferError('aborted', 'transfer aborted'));
    const onError = (err: Error): void => finish(new TransferError('unreachable', `cannot reach ${what} (${err.message})`));
    const onClose = (): void => finish(new TransferError('unreachable', `${what} closed the connection`));
    const onData = (chunk: Buffer): void => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      if (pending.length < HEADER_BYTES) return;
      const length = pending.readUInt32BE(0);
      if (length === 0 || length > MAX_REPLY_BYTES) return finish(new TransferError('protocol', `${what} sent a malformed frame`));
      if (pending.length < HEADER_BYTES + length) return;
      const frame = pending.subarray(HEADER_BYTES, HEADER_BYTES + length);
      const rest = pending.subarray(HEADER_BYTES + length);
      let reply: unknown;
      try {
        reply = JSON.parse(frame.toString('utf8'));
      } catch {
        return finish(new TransferError('protocol', `${what} sent a malformed reply`));
      }
      if (!reply || typeof reply !== 'object' || Array.isArray(reply)) return finish(new TransferError('protocol', `${what} sent a malformed reply`));
      finish(undefined, { reply: reply as Record<string, unknown>, rest });
    };
    const timer = setTimeout(() => finish(new TransferError('timeout', `${what} answered nothing in time`)), opts.timeoutMs ?? 35_000);
    opts.signal?.addEventListener('abort', onAbort);
    if (opts.signal?.aborted) return onAbort();
    socket.setNoDelay(true);
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.write(encodeJsonFrame(request));
  });
}
