// Reaching the peer through the server's relay (protocol.md §4.8): connect, send the pairing
// request, and once the server answers ok the socket is a raw pipe to the peer.
import net, { type Socket } from 'node:net';
import { FrameDecoder, encodeJsonFrame } from '../protocol/frame.js';
import { relayRequest, type RelayRole } from '../protocol/relay.js';
import { TransferError } from './errors.js';
import type { Candidate } from './offer.js';

export interface RelayDialOptions {
  transferId: string;
  token: string;
  role: RelayRole;
  /** Covers the server's wait for the other side (30 s) plus a margin. @default 35000 */
  timeoutMs?: number;
  signal?: AbortSignal;
}

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
  const socket = await openServer(relay, 'the relay', undefined, opts.signal);
  const request = relayRequest(opts.token, opts.role, opts.transferId);
  const { rest } = await firstReply(socket, `the relay at ${where(relay)}`, request, opts);
  socket.pause();
  if (rest.length > 0) socket.unshift(rest);
  return socket;
}

/** A connected socket to the relay server (TLS when it has `open`), optionally from a bound local port. */
export async function openServer(relay: RelayEndpoint, what: string, local?: LocalBinding, signal?: AbortSignal): Promise<Socket> {
  const target = { host: relay.host, port: relay.port };
  const unreachable = (err: Error): TransferError => new TransferError('unreachable', `cannot reach ${what} at ${where(relay)} (${err.message})`);
  if (relay.open) return relay.open(target, local).catch((err: Error) => Promise.reject(unreachable(err)));
  return new Promise((resolve, reject) => {
    const socket = net.connect({ ...target, ...local });
    const done = (err?: Error): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('error', done);
      if (!err) return resolve(socket);
      socket.destroy();
      reject(err instanceof TransferError ? err : unreachable(err));
    };
    const onAbort = (): void => done(new TransferError('aborted', 'transfer aborted'));
    const timer = setTimeout(() => done(new Error('timed out')), CONNECT_TIMEOUT_MS);
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => done());
    socket.once('error', done);
  });
}

function where(c: Candidate): string {
  return c.host.includes(':') ? `[${c.host}]:${c.port}` : `${c.host}:${c.port}`;
}

/**
 * Sends `request` (the only one of a relay or punch connection) and resolves its ok reply's result
 * and any bytes read past it; rejects, destroying the socket, on an error reply or timeout.
 */
export function firstReply(
  socket: Socket,
  what: string,
  request: object,
  opts: { timeoutMs?: number; signal?: AbortSignal },
): Promise<{ result: unknown; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const decoder = new FrameDecoder({ maxFrameBytes: 64 * 1024 });
    const finish = (err?: TransferError, value?: { result: unknown; rest: Buffer }): void => {
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
      let frames: Buffer[];
      try {
        frames = decoder.push(chunk);
      } catch {
        return finish(new TransferError('protocol', `${what} sent a malformed frame`));
      }
      if (frames.length === 0) return;
      const rest = Buffer.concat([...frames.slice(1).map(reframe), decoder.takeRest()]);
      let reply: { type?: string; code?: string; message?: string; result?: unknown };
      try {
        reply = JSON.parse(frames[0]!.toString('utf8')) as typeof reply;
      } catch {
        return finish(new TransferError('protocol', `${what} sent a malformed reply`));
      }
      if (reply.type !== 'ok') {
        return finish(new TransferError('unreachable', `${what} refused: ${reply.message ?? reply.code ?? 'no reason given'}`));
      }
      finish(undefined, { result: reply.result, rest });
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

// Bytes after the reply belong to the peer; put a whole frame we already split back together.
function reframe(payload: Buffer): Buffer {
  const header = Buffer.allocUnsafe(4);
  header.writeUInt32BE(payload.length, 0);
  return Buffer.concat([header, payload]);
}
