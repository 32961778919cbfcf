// One bench client of an IRC server (RFC 2812 lines, CR LF): the same interface as ChatConn so
// the load generator drives ngircd exactly as it drives the chat relay. Registration is
// NICK/USER (ready at the end of the MOTD: 376, or 422 without one); optionally OPER and
// MODE +F (ngircd's "relaxed flood protection", settable only by IRC operators). A message is
// `PRIVMSG nick :text`; the receiver parses PRIVMSG lines. IRC has no per-message reply (the
// generator counts every PRIVMSG written as accepted unless an error numeric comes back).
import { dial } from './chat-proto.mjs';

/** The numerics that end registration: end of MOTD, or no MOTD. */
const READY = new Set(['376', '422']);

export class IrcConn {
  #socket;
  #sink;
  #partial = '';
  #waiters = [];
  /** close() was called, or the sink was already told that this connection ended. */
  #done = false;

  constructor(socket, index, nick, sink) {
    this.index = index;
    this.nick = nick;
    this.#socket = socket;
    this.#sink = sink;
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => this.#onData(chunk));
    socket.on('error', () => {});
    socket.on('close', () => this.#onClose());
  }

  static async open(index, target, sink, nick) {
    return new IrcConn(await dial(target), index, nick, sink);
  }

  /** NICK + USER; resolves at the end of the welcome burst. */
  async login() {
    const ready = this.#waitFor((cmd) => READY.has(cmd), 'registration');
    this.#socket.write(`NICK ${this.nick}\r\nUSER ${this.nick} 0 * :bench\r\n`);
    await ready;
  }

  /** OPER then MODE +F, to lift ngircd's per-client command throttling. */
  async relaxFlood(name, password) {
    const oper = this.#waitFor((cmd) => cmd === '381', 'OPER');
    this.#socket.write(`OPER ${name} ${password}\r\n`);
    await oper;
    const mode = this.#waitFor((cmd, line) => cmd === 'MODE' && line.includes('+F'), 'MODE +F');
    this.#socket.write(`MODE ${this.nick} +F\r\n`);
    await mode;
  }

  send(toNick, text) {
    this.#socket.write(`PRIVMSG ${toNick} :${text}\r\n`);
  }

  close() {
    this.#done = true;
    this.#socket.destroy();
  }

  // Resolves when a line matches; rejects on an error numeric (4xx/5xx) or ERROR while waiting.
  #waitFor(match, what) {
    return new Promise((resolve, reject) => this.#waiters.push({ match, resolve, reject, what }));
  }

  #onData(chunk) {
    const data = this.#partial + chunk;
    let start = 0;
    for (let nl = data.indexOf('\n'); nl >= 0; nl = data.indexOf('\n', start)) {
      const end = nl > start && data.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      this.#onLine(data.slice(start, end));
      start = nl + 1;
    }
    this.#partial = data.slice(start);
  }

  #onLine(line) {
    if (line.startsWith('PING ')) {
      this.#socket.write(`PONG ${line.slice(5)}\r\n`);
      return;
    }
    const privmsg = line.indexOf(' PRIVMSG ');
    if (line.charCodeAt(0) === 58 && privmsg > 0) {
      const text = line.indexOf(' :', privmsg + 9);
      if (text > 0) return this.#sink.delivered(this.index, line.slice(text + 2));
    }
    const [prefix, cmd] = line.split(' ', 2);
    const command = line.startsWith(':') ? cmd : prefix;
    if (command === 'ERROR') return this.#fail(line);
    const waiter = this.#waiters[0];
    if (waiter && waiter.match(command, line)) {
      this.#waiters.shift();
      waiter.resolve(line);
    } else if (/^[45]\d\d$/.test(command)) {
      if (waiter) this.#fail(line);
      else this.#sink.rejected(this.index, command);
    }
  }

  #fail(line) {
    for (const w of this.#waiters.splice(0)) w.reject(new Error(`${w.what}: ${line}`));
    if (line.startsWith('ERROR')) this.#ended(line);
  }

  #onClose() {
    for (const w of this.#waiters.splice(0)) w.reject(new Error(`${w.what}: connection closed`));
    this.#ended('connection closed');
  }

  #ended(reason) {
    if (this.#done) return;
    this.#done = true;
    this.#sink.closed(this.index, reason);
  }
}
