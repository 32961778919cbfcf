// A hostile transfer sender built from the protocol's own pieces (src/transfer): it speaks the
// real handshake and seals every frame, but streams the bytes it is told to and claims whatever
// SHA-256 it is told to in `end` (protocol.md §T4). Used to check that a receiver trusts only the
// hash of the bytes it wrote.
import { createHash } from 'node:crypto';
import net from 'node:net';
import { SEALED_DATA_HEADER_BYTES, FRAME_PREFIX_BYTES, MAX_CHUNK_BYTES, writeDataFrame } from '../../src/transfer/chunk.js';
import { acceptHandshake } from '../../src/transfer/handshake.js';
import type { KeyPair } from '../../src/transfer/keys.js';
import type { ControlMessage, GetMessage } from '../../src/transfer/messages.js';
import { Wire } from '../../src/transfer/wire.js';
import type { ChatClient } from '../../src/client/client.js';
import type { OfferFileInfo } from '../../src/protocol/messages.js';
import { signOffer } from '../../src/client/transfer-auth.js';
import { newIdentity, type Identity } from '../../src/transfer/identity.js';

/** What the lying sender serves for file `index`. */
export interface LyingFile {
  /** The bytes it holds and streams (from whatever offset the receiver asks for). */
  content: Buffer;
  /** The whole-file SHA-256 it claims in `end` (hex). */
  claimedSha256: string;
}

/** A running lying sender. */
export interface LyingSender {
  port: number;
  /** Control messages the receiver sent after the handshake (verified, error, ack, get). */
  readonly heard: ControlMessage[];
  /** The receiver key it admits (§T10.5: the accepted one; a sender admits nobody before it). */
  receiverKey?: string;
  /** The device identity its offers are signed with (made by the first offerFromLiar). */
  identity?: Identity & { device: string };
  close(): Promise<void>;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Listens on 127.0.0.1 for receivers of `transferId`/`token`, sealed with `keys` (v3/v4). */
export async function startLyingSender(secret: { transferId: string; token: string; keys: KeyPair }, files: LyingFile[]): Promise<LyingSender> {
  const heard: ControlMessage[] = [];
  const sockets = new Set<net.Socket>();
  const liar: { receiverKey?: string } = {};
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const wire = new Wire(socket);
    acceptHandshake(wire, { transferId: secret.transferId, token: secret.token, keys: { own: secret.keys, peer: liar.receiverKey } }, 10_000).then(
      () => {
        wire.handlers = {
          control: (msg) => {
            heard.push(msg);
            if (msg.type === 'get') serve(wire, msg, files[msg.file]!);
            if (msg.type === 'verified' || msg.type === 'error') wire.end(); // one file per connection here
          },
          data() {},
          close() {},
        };
      },
      () => socket.destroy(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(liar, {
    port: (server.address() as net.AddressInfo).port,
    heard,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}

/**
 * The liar as a signed-in user offers its files (signed by an identity of its own, device
 * "liar", as a current chat must, protocol.md §T10) and admits the key of whoever accepts.
 */
export async function offerFromLiar(
  client: ChatClient, to: string, liar: LyingSender, secret: { transferId: string; token: string; keys: KeyPair },
  candidates: { host: string; port: number }[], files: OfferFileInfo[],
): Promise<{ offer: string }> {
  client.on('offer_accepted', (a) => void (liar.receiverKey = a.key));
  const identity = (liar.identity ??= { ...newIdentity(), device: 'liar' }); // one device: a second offer is no new key
  const signed = signOffer(identity, { transferId: secret.transferId, from: client.user!, to, senderKey: secret.keys.publicKey, files, verify: false });
  return client.offer(to, { transfer: secret.transferId, token: secret.token, candidates, timeoutMs: 60_000, key: secret.keys.publicKey, identity: signed }, files);
}

// start → DATA from the asked offset (no resume check: it agrees to anything) → a lying end.
function serve(wire: Wire, get: GetMessage, file: LyingFile): void {
  const { content } = file;
  wire.sendControl({ type: 'start', file: get.file, offset: get.offset, size: content.length });
  for (let at = get.offset; at < content.length; at += MAX_CHUNK_BYTES) {
    const n = Math.min(MAX_CHUNK_BYTES, content.length - at);
    const dataAt = FRAME_PREFIX_BYTES + SEALED_DATA_HEADER_BYTES;
    const frame = Buffer.allocUnsafe(dataAt + n);
    content.copy(frame, dataAt, at, at + n);
    wire.write(writeDataFrame({ file: get.file, offset: at }, frame, dataAt, n));
  }
  const prefix = get.prefix ?? 0;
  // The hash of the kept prefix it knows (it sent those bytes itself): that check passes.
  const prefixSha256 = prefix > 0 ? sha256(content.subarray(0, prefix)) : undefined;
  wire.sendControl({ type: 'end', file: get.file, sha256: file.claimedSha256, size: content.length, ...(prefixSha256 && { prefixSha256 }) });
}
