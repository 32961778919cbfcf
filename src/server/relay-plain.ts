// Relay version 2 (protocol.md §4.8): a relay connection in plain TCP on the TLS server's port.
// The relayed bytes are sealed end to end by the peers (Part II §T9), so TLS around them only cost
// the server an AES-GCM pass in and one out (docs/benchmarks.md, "The relay's cost"). Without TLS
// the pairing proof must not be replayable: the server sends a fresh nonce and the proof binds it.
//
//   peer → {"id":1,"type":"relay","version":2,"transfer":T,"role":R}
//   server → {"id":1,"type":"challenge","nonce":N}                          (32 random bytes, hex)
//   peer → {"id":2,"type":"proof","proof":HMAC-SHA256(token, "chat-relay-v2 R T N")}
//   server → {"id":2,"type":"ok","result":{"paired":true}}   once the other side came; then raw bytes
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { HEADER_BYTES, encodeJsonFrame } from '../protocol/frame.js';
import { ProtocolError } from '../protocol/errors.js';
import { RELAY_PLAIN_VERSION, relayPlainProof, type RelayRole } from '../protocol/relay.js';
import type { Relay } from './relay.js';

/** The two request frames are small; anything bigger is not a relay request. */
const MAX_FRAME_BYTES = 1024;
/** Bytes a waiting peer may send before it was paired (a well-behaved one sends none). */
const MAX_EARLY_BYTES = 64 * 1024;
/** How long a refused connection may linger before it is cut off, in ms. */
const LINGER_MS = 2000;

export interface PlainRelayHooks {
  /** The request and proof were read: the server's handshake deadline no longer applies. */
  handshakeDone(): void;
  log(line: string): void;
  now(): number;
}

type State = 'request' | 'proof' | 'waiting' | 'done';

/** Serves one plain relay connection (its first byte already told it is not TLS). */
export function servePlainRelay(relay: Relay, socket: Socket, hooks: PlainRelayHooks): void {
  const nonce = randomBytes(32).toString('hex');
  let state: State = 'request';
  // Read through a call: TypeScript would narrow `state` across calls that change it.
  const waiting = (): boolean => state === 'waiting';
  let transfer = '';
  let role: RelayRole = 'sender';
  let early: Buffer[] = [];
  let earlyBytes = 0;

  const fail = (err: unknown, id: number | null): void => {
    if (state === 'done') return;
    state = 'done';
    const e = err instanceof ProtocolError ? err : new ProtocolError('bad_request', 'malformed relay request', { fatal: true });
    socket.off('data', onData);
    socket.end(encodeJsonFrame({ type: 'error', id, code: e.code, message: e.message }));
    socket.resume(); // read (and drop) until the peer closes
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  };

  const drop = (): void => {
    state = 'done';
    socket.off('data', onData);
    socket.destroy();
  };

  const onFrame = (frame: Buffer): void => {
    const msg = parse(frame);
    if (state === 'request') {
      // Anything else (a chat client without TLS) is closed unanswered, as a TLS-only server did:
      // the client then tells its user to drop --insecure.
      if (msg.type !== 'relay') return void drop();
      if (msg.version !== RELAY_PLAIN_VERSION) {
        throw new ProtocolError('unsupported_version', `on a plain connection this relay speaks version ${RELAY_PLAIN_VERSION}, not ${String(msg.version)}`, { fatal: true });
      }
      if (typeof msg.transfer !== 'string' || msg.transfer.length === 0 || msg.transfer.length > 128) throw new ProtocolError('bad_request', 'transfer must be a string of 1 to 128 characters', { fatal: true });
      if (msg.role !== 'sender' && msg.role !== 'receiver') throw new ProtocolError('bad_request', 'role must be sender or receiver', { fatal: true });
      transfer = msg.transfer;
      role = msg.role;
      state = 'proof';
      socket.write(encodeJsonFrame({ id: 1, type: 'challenge', nonce }));
      return;
    }
    if (state !== 'proof') return;
    if (msg.type !== 'proof' || typeof msg.proof !== 'string') throw new ProtocolError('bad_request', 'expected the proof', { fatal: true });
    relay.check(transfer, role, msg.proof, hooks.now(), (token, r, t) => relayPlainProof(token, r, t, nonce));
    state = 'waiting';
  };

  // After a valid proof: what else arrived goes to the other side, in order, then the pair is made.
  const join = (): void => {
    hooks.handshakeDone();
    hooks.log(`relay ${transfer.slice(0, 8)} as ${role} (plain): waiting for the other side`);
    relay.join(transfer, role, peer).catch((err: unknown) => fail(err, 2));
  };

  const keep = (chunk: Buffer): void => {
    earlyBytes += chunk.length;
    if (earlyBytes > MAX_EARLY_BYTES) return fail(new ProtocolError('bad_request', 'data before the pair was made', { fatal: true }), 2);
    early.push(chunk);
  };

  // The request and the proof are read frame by frame, by hand: whatever follows the proof is
  // the peer's raw bytes (a frame decoder would parse them, and refuse a sealed frame's length).
  let pending: Buffer = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    if (state === 'waiting') return keep(chunk);
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    try {
      while ((state === 'request' || state === 'proof') && pending.length >= HEADER_BYTES) {
        const length = pending.readUInt32BE(0);
        // protocol.md §2: the length is checked before the body is waited for.
        if (length === 0 || length > MAX_FRAME_BYTES) throw new ProtocolError('bad_frame', `a relay request frame of ${length} bytes`, { fatal: true });
        if (pending.length < HEADER_BYTES + length) break;
        const frame = pending.subarray(HEADER_BYTES, HEADER_BYTES + length);
        pending = pending.subarray(HEADER_BYTES + length);
        onFrame(frame);
      }
    } catch (err) {
      // Not even a frame as the first thing (an HTTP request, a stray TLS-less client): no answer.
      if (state === 'request' && err instanceof ProtocolError && err.code === 'bad_frame') return drop();
      return fail(err, state === 'request' ? 1 : 2);
    }
    if (!waiting()) return;
    const rest = pending;
    pending = Buffer.alloc(0);
    if (rest.length > 0) keep(rest);
    if (waiting()) join();
  };

  const peer = {
    get closed(): boolean {
      return socket.destroyed || state === 'done';
    },
    paired: (): void => void socket.write(encodeJsonFrame({ id: 2, type: 'ok', result: { paired: true } })),
    detach: (): { socket: Socket; rest: Buffer } => {
      state = 'done';
      socket.off('data', onData);
      socket.pause();
      const rest = Buffer.concat(early);
      early = [];
      return { socket, rest };
    },
  };

  socket.on('data', onData);
  socket.on('error', () => {});
  socket.resume();
}

function parse(frame: Buffer): Record<string, unknown> {
  try {
    const msg: unknown = JSON.parse(frame.toString('utf8'));
    if (msg && typeof msg === 'object' && !Array.isArray(msg)) return msg as Record<string, unknown>;
  } catch {
    // below
  }
  return {};
}
