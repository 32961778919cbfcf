// Raw relay connections for tests (protocol.md §4.8): offers made and accepted over real clients,
// relay requests over real sockets, and bounded waits for their bytes and their close.
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { ChatClient } from '../../src/client/client.js';
import { FrameDecoder, encodeJsonFrame } from '../../src/protocol/frame.js';
import { rawConnect, type ServerTarget } from './server.js';

export interface Transfer {
  offer: string;
  transfer: string;
  token: string;
}

/** A one-file offer from `from` to `to` (a fresh transfer id and token unless given), its file list done. */
export async function offer(from: ChatClient, to: string, transfer = randomBytes(12).toString('base64url')): Promise<Transfer> {
  const token = randomBytes(24).toString('base64url');
  const { offer: id } = await from.request<{ offer: string }>('offer', {
    to, transfer, token, candidates: [{ host: '127.0.0.1', port: 9 }], fileCount: 1, totalBytes: 1, timeoutMs: 60_000,
  });
  await from.request('offer_files', { offer: id, files: [{ path: 'x', size: 1, mime: 'text/plain', mode: 0o644, mtimeMs: 0 }], done: true });
  return { offer: id, transfer, token };
}

/** A raw relay (or punch) connection: sends `request`, resolves with its first reply frame. */
export function relayConn(target: ServerTarget, request: Record<string, unknown>, sockets: Socket[], ms = 5000): Promise<{ socket: Socket; reply: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const socket = rawConnect(target);
    sockets.push(socket);
    const decoder = new FrameDecoder({ maxFrameBytes: 1 << 20 });
    const timer = setTimeout(() => reject(new Error('no relay reply in time')), ms);
    const onData = (chunk: Buffer): void => {
      const [frame] = decoder.push(chunk);
      if (!frame) return;
      clearTimeout(timer);
      socket.off('data', onData);
      const rest = decoder.takeRest();
      if (rest.length > 0) socket.unshift(rest);
      resolve({ socket, reply: JSON.parse(frame.toString('utf8')) as Record<string, unknown> });
    };
    socket.on('data', onData);
    socket.on('error', reject);
    socket.on('connect', () => socket.write(encodeJsonFrame(request)));
  });
}

/** Resolves once `socket` closed; rejects (naming `what`) if it is still open after `ms`. */
export function closedWithin(socket: Socket, ms: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.destroyed) return resolve();
    const timer = setTimeout(() => reject(new Error(`${what} still open after ${ms} ms`)), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Everything `socket` receives until it closes (bounded by `ms`). */
export async function drain(socket: Socket, ms: number, what: string): Promise<number> {
  let got = 0;
  socket.on('data', (chunk: Buffer) => (got += chunk.length));
  await closedWithin(socket, ms, what);
  return got;
}

/** Reads exactly `n` bytes from `socket`, within `ms`. */
export function readBytes(socket: Socket, n: number, ms = 20_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    const timer = setTimeout(() => reject(new Error(`only ${got} of ${n} bytes arrived`)), ms);
    const onData = (chunk: Buffer): void => {
      parts.push(chunk);
      got += chunk.length;
      if (got < n) return;
      clearTimeout(timer);
      socket.off('data', onData);
      resolve(Buffer.concat(parts));
    };
    socket.on('data', onData);
  });
}
