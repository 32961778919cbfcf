// One TCP connect with a time limit and an abort signal, for every dial the transfer makes
// outside a race (relay legs, punch attempts).
import net, { type Socket, type TcpNetConnectOpts } from 'node:net';
import { TransferError } from './errors.js';

/** Resolves the connected socket; rejects with Error('timed out' | 'aborted' | the socket's error), the socket destroyed. */
export function connectWithin(options: TcpNetConnectOpts, timeoutMs: number, signal?: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(options);
    const done = (err?: Error): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('error', done);
      if (!err) return resolve(socket);
      socket.destroy();
      reject(err);
    };
    const onAbort = (): void => done(new Error('aborted'));
    const timer = setTimeout(() => done(new Error('timed out')), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => done());
    socket.once('error', done);
  });
}

/** connectWithin, failing as a transfer does: `aborted`, or `unreachable` naming `what` ("the relay at host:port"). */
export function reach(options: TcpNetConnectOpts, what: string, timeoutMs: number, signal?: AbortSignal): Promise<Socket> {
  return connectWithin(options, timeoutMs, signal).catch((err: Error) => {
    throw signal?.aborted ? new TransferError('aborted', 'transfer aborted') : new TransferError('unreachable', `cannot reach ${what} (${err.message})`);
  });
}
