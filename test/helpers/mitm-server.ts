// A malicious server for end-to-end tests (issue 26): a front end that holds the server's own TLS
// certificate and key (so every certificate pin matches), terminates the clients' TLS, forwards
// each frame to the real server and can rewrite what it forwards: the keys in offers and accepts
// and, in a second mode, the identities (re-signed with its own identity key). It records each
// offer's token, candidates and sender key, as a compromised server would.
import net from 'node:net';
import tls from 'node:tls';
import { FrameDecoder, encodeJsonFrame } from '../../src/protocol/frame.js';
import type { OfferAccepted, OfferInfo, SignedIdentity } from '../../src/protocol/messages.js';
import { acceptSigned, filesDigest, newIdentity, offerSigned, signWith } from '../../src/transfer/identity.js';
import { newKeyPair, type KeyPair } from '../../src/transfer/keys.js';
import type { OfferFileInfo } from '../../src/protocol/messages.js';
import { testCertificate, type TestServer } from './server.js';

/** What to rewrite: 'keys' swaps the ephemeral key only; 'identities' also the signed identity. */
export type Rewrite = 'none' | 'keys' | 'identities';

export interface Mitm {
  address: string;
  /** The attacker's ephemeral key pair (put in rewritten offers and accepts). */
  keys: KeyPair;
  /** Rewrites of offers (what the receiver sees) and accepts (what the sender sees); change at will. */
  mode: { offer: Rewrite; accept: Rewrite };
  /** The offers seen, as sent by the real sender (with the real key). */
  readonly offers: OfferInfo[];
  /** The files of the latest offer (from offer_files). */
  readonly files: OfferFileInfo[];
  /** Resolves with the next offer forwarded to a receiver. */
  nextOffer(): Promise<OfferInfo>;
  close(): Promise<void>;
}

/** Starts the front end on 127.0.0.1 port 0, in front of `target` (a TLS test server). */
export async function startMitm(target: TestServer): Promise<Mitm> {
  const cert = await testCertificate();
  const identity = newIdentity();
  const sockets = new Set<net.Socket>();
  const offers: OfferInfo[] = [];
  let files: OfferFileInfo[] = [];
  let waiters: ((o: OfferInfo) => void)[] = [];
  const mitm = {
    keys: newKeyPair(),
    mode: { offer: 'none' as Rewrite, accept: 'none' as Rewrite },
    offers,
    get files() {
      return files;
    },
    nextOffer: () => new Promise<OfferInfo>((resolve) => waiters.push(resolve)),
  };

  const fakeOffer = (info: OfferInfo): OfferInfo => {
    if (!offers.some((o) => o.transfer === info.transfer)) {
      offers.push({ ...info });
      for (const w of waiters) w(info);
      waiters = [];
    }
    if (mitm.mode.offer === 'none' || !info.key) return info;
    const faked = { ...info, key: mitm.keys.publicKey };
    if (mitm.mode.offer === 'identities' && info.identity) faked.identity = resign(info.identity, offerSigned(bindingOf(faked, files)));
    return faked;
  };
  const fakeAccept = (a: OfferAccepted): OfferAccepted => {
    if (mitm.mode.accept === 'none' || !a.key) return a;
    const faked = { ...a, key: mitm.keys.publicKey };
    const offer = offers[offers.length - 1];
    if (mitm.mode.accept === 'identities' && a.identity && offer) {
      const binding = { ...bindingOf(offer, files), verify: a.verify === true, senderIdentity: offer.identity!.key, receiverKey: mitm.keys.publicKey };
      faked.identity = resign(a.identity, acceptSigned(binding));
    }
    return faked;
  };
  const resign = (real: SignedIdentity, signed: Buffer): SignedIdentity => ({ key: identity.publicKey, device: real.device, sig: signWith(identity, signed) });

  const down = (msg: Record<string, unknown>): Record<string, unknown> => {
    if (msg.type === 'event' && msg.event === 'offer') return { ...msg, data: fakeOffer(msg.data as OfferInfo) };
    if (msg.type === 'event' && msg.event === 'offer_accepted') return { ...msg, data: fakeAccept(msg.data as OfferAccepted) };
    const result = msg.result as { offers?: OfferInfo[]; offer?: OfferInfo } | undefined;
    if (msg.type === 'ok' && Array.isArray(result?.offers)) return { ...msg, result: { ...result, offers: result.offers.map(fakeOffer) } };
    return msg;
  };
  const up = (msg: Record<string, unknown>): Record<string, unknown> => {
    if (msg.type === 'offer') files = [];
    if (msg.type === 'offer_files') files = [...files, ...(msg.files as OfferFileInfo[])];
    return msg;
  };

  const server = tls.createServer({ cert: cert.cert, key: cert.key }, (client) => {
    const upstream = tls.connect({ host: target.host, port: target.port, rejectUnauthorized: false });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    relay(client, upstream, up);
    relay(upstream, client, down);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return Object.assign(mitm, {
    address: `127.0.0.1:${port}`,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}

function relay(from: net.Socket, to: net.Socket, rewrite: (m: Record<string, unknown>) => Record<string, unknown>): void {
  const decoder = new FrameDecoder({ maxFrameBytes: 64 << 20 });
  from.on('data', (chunk: Buffer) => {
    for (const payload of decoder.push(chunk)) to.write(encodeJsonFrame(rewrite(JSON.parse(payload.toString('utf8')) as Record<string, unknown>)));
  });
}

function bindingOf(o: OfferInfo, files: OfferFileInfo[]) {
  return { transferId: o.transfer, from: o.from, to: o.to, senderKey: o.key!, files: filesDigest(files), verify: o.verify === true };
}
