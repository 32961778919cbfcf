// One bench client of the chat relay (docs/protocol.md Part I): 4-byte big-endian length-prefixed
// JSON frames. Written for a load generator holding 10,000 of these in one process: replies to
// `send` and `presence` events are recognised by their first bytes without JSON.parse, and a
// message event's text is sliced out of the frame (the bench's texts are plain ASCII).
import net from 'node:net';

const OK = Buffer.from('{"type":"ok"');
const ERROR = Buffer.from('{"type":"error"');
const PRESENCE = Buffer.from('{"type":"event","event":"presence"');
const MESSAGE = Buffer.from('{"type":"event","event":"message"');
const TEXT_KEY = '"text":"';

/** A JSON value as one length-prefixed frame (docs/protocol.md §2). */
export function frame(value) {
  const body = Buffer.from(JSON.stringify(value));
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}

const startsWith = (buf, prefix) => buf.length >= prefix.length && buf.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;

/** Opens a TCP connection; resolves once connected. */
export function dial({ host, port, localAddress }) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, localAddress });
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/**
 * A chat client speaking protocol `version` (the server's PROTOCOL_VERSION). `sink` gets:
 * delivered(index, text), acked(index), rejected(index, code), presence(), pinged(),
 * closed(index, reason).
 * It answers the server's idle `ping` event with a `ping` request (protocol §3.4).
 */
export class ChatConn {
  #socket;
  #sink;
  #nextId = 1;
  /** Requests whose replies someone awaits (login phase), by id. */
  #pending = new Map();
  #buf = Buffer.alloc(0);
  #closing = false;

  constructor(socket, index, sink, version) {
    this.index = index;
    this.version = version;
    this.#socket = socket;
    this.#sink = sink;
    socket.on('data', (chunk) => this.#onData(chunk));
    socket.on('error', () => {});
    socket.on('close', () => this.#onClose());
  }

  static async open(index, target, sink) {
    return new ChatConn(await dial(target), index, sink, target.version);
  }

  /** hello, auth and (when `subscribe`) subscribe, pipelined; resolves when all succeeded. */
  async login(token, subscribe) {
    const replies = [this.#request({ type: 'hello', version: this.version, client: 'bench' }), this.#request({ type: 'auth', token })];
    if (subscribe) replies.push(this.#request({ type: 'subscribe' }));
    await Promise.all(replies);
  }

  /** hello, then login with a password (scrypt on the server). */
  async passwordLogin(user, password) {
    await Promise.all([this.#request({ type: 'hello', version: this.version, client: 'bench' }), this.#request({ type: 'login', user, password })]);
  }

  /** Fire and forget: the reply is counted by the sink (acked / rejected). */
  send(to, text) {
    this.#socket.write(frame({ id: this.#nextId++, type: 'send', to, text }));
  }

  close() {
    this.#closing = true;
    this.#socket.destroy();
  }

  #request(body) {
    const id = this.#nextId++;
    this.#socket.write(frame({ id, ...body }));
    return new Promise((resolve, reject) => this.#pending.set(id, { resolve, reject, type: body.type }));
  }

  #onData(chunk) {
    const buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    let at = 0;
    while (buf.length - at >= 4) {
      const length = buf.readUInt32BE(at);
      if (buf.length - at - 4 < length) break;
      this.#onFrame(buf.subarray(at + 4, at + 4 + length));
      at += 4 + length;
    }
    this.#buf = at === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(at));
  }

  #onFrame(payload) {
    if (startsWith(payload, PRESENCE)) return this.#sink.presence();
    if (startsWith(payload, MESSAGE)) return this.#onMessage(payload);
    if (this.#pending.size === 0 && startsWith(payload, OK)) return this.#sink.acked(this.index);
    const value = JSON.parse(payload.toString('utf8'));
    if (value.type === 'ok' || value.type === 'error') return this.#onReply(value);
    if (value.type !== 'event') return;
    if (value.event === 'ping') {
      this.#sink.pinged();
      this.#request({ type: 'ping' }).catch(() => {});
    }
    else if (value.event === 'shutdown') this.#sink.closed(this.index, 'server shutdown');
  }

  #onMessage(payload) {
    const s = payload.toString('latin1');
    const start = s.indexOf(TEXT_KEY);
    const end = start < 0 ? -1 : s.indexOf('"', start + TEXT_KEY.length);
    const text = end < 0 ? JSON.parse(s).data.text : s.slice(start + TEXT_KEY.length, end);
    this.#sink.delivered(this.index, text);
  }

  #onReply(value) {
    const waiter = this.#pending.get(value.id);
    if (waiter) {
      this.#pending.delete(value.id);
      if (value.type === 'ok') waiter.resolve(value.result);
      else waiter.reject(new Error(`${waiter.type}: ${value.code}: ${value.message}`));
      return;
    }
    if (value.type === 'ok') this.#sink.acked(this.index);
    else this.#sink.rejected(this.index, value.code);
  }

  #onClose() {
    for (const waiter of this.#pending.values()) waiter.reject(new Error(`${waiter.type}: connection closed`));
    this.#pending.clear();
    if (!this.#closing) this.#sink.closed(this.index, 'connection closed');
  }
}
