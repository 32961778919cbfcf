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

/** The server's relay: its chat address, and how to open a connection to it (TLS, verified). */
export interface RelayEndpoint extends Candidate {
  /** Resolves a connected socket to a server at `target` (this endpoint's host and port); plain TCP when absent. */
  open?: (target: Candidate) => Promise<Socket>;
}

/** `relay` moved to `at` (a cluster node's own relay, protocol.md §4.8), keeping how to open it. */
export function relayAt(relay: RelayEndpoint | undefined, at: Candidate | undefined): RelayEndpoint | undefined {
  return relay && at ? { ...relay, host: at.host, port: at.port } : relay;
}

/** Resolves a socket piped to the peer (nothing read past the server's reply is lost). */
export async function relayConnect(relay: RelayEndpoint, opts: RelayDialOptions): Promise<Socket> {
  const where = `${relay.host}:${relay.port}`;
  if (!relay.open) return pair(net.connect({ host: relay.host, port: relay.port }), where, opts, false);
  let socket: Socket;
  try {
    socket = await relay.open({ host: relay.host, port: relay.port });
  } catch (err) {
    throw new TransferError('unreachable', `cannot reach the relay at ${where} (${(err as Error).message})`);
  }
  return pair(socket, where, opts, true);
}

/** Sends the pairing request once `socket` is connected; resolves when the server said ok. */
function pair(socket: Socket, where: string, opts: RelayDialOptions, connected: boolean): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const decoder = new FrameDecoder({ maxFrameBytes: 64 * 1024 });
    const finish = (err?: TransferError): void => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      if (!err) return resolve(socket);
      socket.destroy();
      reject(err);
    };
    const onAbort = (): void => finish(new TransferError('aborted', 'transfer aborted'));
    const onError = (err: Error): void => finish(new TransferError('unreachable', `cannot reach the relay at ${where} (${err.message})`));
    const onClose = (): void => finish(new TransferError('unreachable', `the relay at ${where} closed the connection`));
    const onData = (chunk: Buffer): void => {
      let frames: Buffer[];
      try {
        frames = decoder.push(chunk);
      } catch {
        return finish(new TransferError('protocol', `the relay at ${where} sent a malformed frame`));
      }
      if (frames.length === 0) return;
      const rest = Buffer.concat([...frames.slice(1).map(reframe), decoder.takeRest()]);
      let reply: { type?: string; code?: string; message?: string };
      try {
        reply = JSON.parse(frames[0]!.toString('utf8')) as typeof reply;
      } catch {
        return finish(new TransferError('protocol', `the relay at ${where} sent a malformed reply`));
      }
      if (reply.type !== 'ok') {
        return finish(new TransferError('unreachable', `the relay refused: ${reply.message ?? reply.code ?? 'no reason given'}`));
      }
      socket.pause();
      if (rest.length > 0) socket.unshift(rest);
      finish();
    };
    const timer = setTimeout(() => finish(new TransferError('timeout', `the relay at ${where} paired nobody in time`)), opts.timeoutMs ?? 35_000);
    opts.signal?.addEventListener('abort', onAbort);
    if (opts.signal?.aborted) return onAbort();
    socket.setNoDelay(true);
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    const request = (): void => void socket.write(encodeJsonFrame(relayRequest(opts.token, opts.role, opts.transferId)));
    if (connected) request();
    else socket.on('connect', request);
  });
}

// Bytes after the reply belong to the peer; put a whole frame we already split back together.
function reframe(payload: Buffer): Buffer {
  const header = Buffer.allocUnsafe(4);
  header.writeUInt32BE(payload.length, 0);
  return Buffer.concat([header, payload]);
}
