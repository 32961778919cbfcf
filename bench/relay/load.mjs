// The load generator: a child process of bench/relay.mjs (never inside the server process),
// driven over the IPC channel one command at a time. It holds N clients of one server (the chat
// relay or an IRC server, same interface), paired 2k <-> 2k+1. Two-way pairs: both send to the
// other and every chat client subscribes. One-way pairs: 2k sends to 2k+1 and only the
// receivers subscribe (each chat subscribe sends a presence event to every subscriber, so N
// subscribers cost N(N+1)/2 events). Every text carries "<step> <seq> <send time ms>" and is
// padded to a fixed size; the receiver computes the latency on the same clock (one process).
// Against a cluster (setup's `ports`: one per node), client i connects to node i mod N, so with
// N ≥ 2 the two clients of every pair (2k, 2k+1) are on different nodes.
//
// Messages in flight are bounded per sender (`window`) and in total (`maxInflight`): a closed
// loop, so a saturated server shows as a lower offered rate and a latency of about
// in-flight / throughput, not as an ever-growing queue.
//
// Generator k of K (bench/relay/generators.mjs) holds only clients [from, to) of setup's range,
// whole pairs; with `samples` a step also returns its raw latencies, for merging.
//
// Commands: setup, passwordLogins, connect, relaxFlood, settle, subscribers, hold, step, finish, status, close. Each
// gets one reply { id, ok, result | error }; `step` also sends { mark: 'send-start' | 'send-end' }
// so the parent can sample the server's CPU over exactly the sending window. A step's latency
// counts what arrived before its drain ended; `finish` gives each step's final loss, counting
// messages that arrived later too.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ChatConn } from './chat-proto.mjs';
import { IrcConn } from './irc-proto.mjs';
import { PASSWORD, tokenFor, userName } from './seed.mjs';
import { Samples } from './stats.mjs';

/**
 * setup's arguments: { kind: 'chat'|'irc', root, host, port, clients, seed, perAddress, size,
 * window, maxInflight, twoWay, ports? } (ports: the nodes of a cluster, used round-robin).
 */
let cfg;
/** The clients that send (all, or the even ones for one-way pairs). */
let senders = [];
/** userName(i) for every client, computed once. */
let names = [];
/** Client i, or undefined if it failed to connect. */
let conns = [];
/** Connections that ended unexpectedly since connect, and the first reasons. */
const ended = { count: 0, reasons: [] };
let presence = 0;
/** Idle pings the chat server sent (each answered with a `ping` request). */
let pings = 0;
/** The step being measured (null between steps). */
let step = null;
/** Every step so far, by id. */
const steps = new Map();
/** Per chat sender: the steps of its sends not answered yet (replies come in order). */
let unanswered = [];

// ---------------------------------------------------------------------------------------------
// Events from the clients

const sink = {
  delivered(receiver, text) {
    const now = performance.now();
    const a = text.indexOf(' ');
    const b = text.indexOf(' ', a + 1);
    const c = text.indexOf(' ', b + 1);
    const s = steps.get(Number(text.slice(0, a)));
    if (!s) return;
    if (s !== step) {
      s.lateDelivered++; // after its drain ended: counts against loss, not in its latency
      return;
    }
    const seq = Number(text.slice(a + 1, b));
    const sender = receiver ^ 1;
    s.inflight[sender]--;
    s.inflightTotal--;
    s.delivered++;
    if (now <= s.sendEnd) s.deliveredInWindow++;
    const expected = s.expected[receiver];
    if (seq === expected) s.expected[receiver]++;
    else if (seq < expected) s.duplicates++;
    else {
      s.outOfOrder++;
      s.expected[receiver] = seq + 1;
    }
    s.latency.add(now - Number(text.slice(b + 1, c)));
    if (s.rate === null && s.sending) topUp(s, sender);
  },
  acked(sender) {
    const s = unanswered[sender]?.shift();
    if (s) s.accepted++;
  },
  rejected(sender, code) {
    const s = cfg.kind === 'chat' ? unanswered[sender]?.shift() : step;
    if (!s) return;
    s.rejected[code] = (s.rejected[code] ?? 0) + 1;
    if (s === step) {
      s.inflight[sender]--;
      s.inflightTotal--;
    }
  },
  presence() {
    presence++;
  },
  pinged() {
    pings++;
  },
  closed(index, reason) {
    ended.count++;
    if (ended.reasons.length < 5) ended.reasons.push(`${index}: ${reason}`);
    conns[index] = undefined;
  },
};

// ---------------------------------------------------------------------------------------------
// Connecting

/**
 * Source address of client i: 127.0.0.1 for the first `perAddress` clients, then 127.1.x.y
 * (all of 127/8 is loopback), so a per-address connection limit can be respected.
 */
function localAddress(i) {
  const block = Math.floor(i / cfg.perAddress);
  return block === 0 ? '127.0.0.1' : `127.1.${(block >> 8) & 255}.${block & 255}`;
}

/** The port client i connects to: the single server's, or node i mod N of a cluster. */
const portOf = (i) => (cfg.ports?.length ? cfg.ports[i % cfg.ports.length] : cfg.port);

async function open(i) {
  const target = { host: cfg.host, port: portOf(i), localAddress: localAddress(i), version: cfg.version };
  if (cfg.kind === 'chat') return ChatConn.open(i, target, sink);
  return IrcConn.open(i, target, sink, userName(i));
}

/** Runs fn(i) for i in [from, to) with at most `concurrency` at once; returns the errors. */
async function pool(from, to, concurrency, fn) {
  const errors = [];
  let next = from;
  const worker = async () => {
    while (next < to) {
      const i = next++;
      try {
        await fn(i);
      } catch (err) {
        errors.push(`${i}: ${err.message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, to - from) }, worker));
  return errors;
}

function rateResult(count, errors, ms) {
  return { count, ok: count - errors.length, errors: errors.length, firstErrors: errors.slice(0, 3), ms: Math.round(ms), perSecond: Math.round(((count - errors.length) / ms) * 1000) };
}

/** `count` fresh connections doing hello + login (password, scrypt) as users 0..count-1, then closing. */
async function passwordLogins({ count, concurrency }) {
  const started = performance.now();
  const errors = await pool(0, count, concurrency, async (i) => {
    const target = { host: cfg.host, port: portOf(i), localAddress: localAddress(cfg.clients + i), version: cfg.version };
    const conn = await ChatConn.open(i, target, { ...sink, closed() {} });
    try {
      await conn.passwordLogin(userName(i), PASSWORD);
    } finally {
      conn.close();
    }
  });
  return rateResult(count, errors, performance.now() - started);
}

/** Opens and logs in every client (chat: hello + auth + subscribe; IRC: NICK + USER). */
async function connect({ concurrency }) {
  conns = new Array(cfg.clients);
  const started = performance.now();
  const progress = every(10_000, () => `${conns.filter(Boolean).length}/${cfg.clients} connected, ${presence} presence events`);
  const errors = await pool(cfg.from, cfg.to, concurrency, async (i) => {
    const conn = await open(i);
    conns[i] = conn;
    await (cfg.kind === 'chat' ? conn.login(tokenFor(cfg.seed, i), isReceiver(i)) : conn.login());
  });
  clearInterval(progress);
  return rateResult(cfg.to - cfg.from, errors, performance.now() - started);
}

/** IRC only: OPER + MODE +F on every client. */
async function relaxFlood({ concurrency, name, password }) {
  const started = performance.now();
  const errors = await pool(cfg.from, cfg.to, concurrency, (i) => conns[i].relaxFlood(name, password));
  return rateResult(cfg.to - cfg.from, errors, performance.now() - started);
}

const isReceiver = (i) => cfg.twoWay || i % 2 === 1;

/** Logs a progress line to stderr every `ms` (for phases that can take minutes). */
function every(ms, line) {
  const started = performance.now();
  const timer = setInterval(() => process.stderr.write(`    ... ${Math.round((performance.now() - started) / 1000)} s: ${line()}\n`), ms);
  timer.unref();
  return timer;
}

/**
 * Waits until every subscriber got every presence event: S subscribers, S(S+1)/2 events. With
 * `quietMs` (a cluster, where a node can see a user come online before or after a local
 * subscribe, so a few more events are possible), also until none arrived for that long.
 */
async function settle({ timeoutMs, quietMs = 0 }) {
  const { subscribers } = subscriberCount();
  const expected = (subscribers * (subscribers + 1)) / 2;
  const started = performance.now();
  const progress = every(10_000, () => `${presence}/${expected} presence events`);
  while (presence < expected && performance.now() - started < timeoutMs) await delay(20);
  if (quietMs > 0 && presence >= expected) {
    let seen = -1;
    while (seen !== presence && performance.now() - started < timeoutMs) {
      seen = presence;
      await delay(quietMs);
    }
  }
  clearInterval(progress);
  return { subscribers, presence, expected, ms: Math.round(performance.now() - started), settled: presence >= expected };
}

/** Connected subscribers of this generator. */
function subscriberCount() {
  return { subscribers: conns.filter((c, i) => c && isReceiver(i)).length };
}

async function hold({ ms }) {
  await delay(ms);
  return status();
}

function status() {
  return { connected: conns.filter(Boolean).length, ended: ended.count, endedReasons: ended.reasons, presence, pings };
}

// ---------------------------------------------------------------------------------------------
// Sending

let stepIds = 0;

function newStep(rate, durationMs) {
  const n = cfg.clients;
  return {
    id: ++stepIds,
    rate,
    durationMs,
    sending: false,
    sendStart: 0,
    sendEnd: Infinity,
    offered: 0,
    accepted: 0,
    rejected: {},
    delivered: 0,
    deliveredInWindow: 0,
    /** Delivered after the step's drain ended. */
    lateDelivered: 0,
    duplicates: 0,
    outOfOrder: 0,
    /** Sends skipped because a window was full (fixed-rate steps only). */
    windowFull: 0,
    inflight: new Int32Array(n),
    inflightTotal: 0,
    seq: new Int32Array(n),
    expected: new Int32Array(n),
    latency: new Samples(),
  };
}

const padding = (n) => 'x'.repeat(Math.max(0, n));

function sendOne(s, sender) {
  const conn = conns[sender];
  if (!conn || !conns[sender ^ 1]) return false; // a message to an offline partner is stored, not delivered
  if (s.inflight[sender] >= cfg.window || s.inflightTotal >= cfg.maxInflight) return false;
  const head = `${s.id} ${s.seq[sender]++} ${performance.now().toFixed(3)} `;
  s.inflight[sender]++;
  s.inflightTotal++;
  s.offered++;
  if (cfg.kind === 'chat') unanswered[sender].push(s);
  conn.send(names[sender ^ 1], head + padding(cfg.size - head.length));
  return true;
}

function topUp(s, sender) {
  while (sendOne(s, sender));
}

/** Fixed rate: at each tick, send what the schedule says is due, round-robin over the senders. */
function fixedRateTick(s, cursor) {
  const due = Math.floor((s.rate * (performance.now() - s.sendStart)) / 1000) - s.offered - s.windowFull;
  let sent = 0;
  let tried = 0;
  while (sent < due && tried < senders.length && s.inflightTotal < cfg.maxInflight) {
    const sender = senders[cursor.next];
    cursor.next = (cursor.next + 1) % senders.length;
    tried++;
    if (!sendOne(s, sender)) continue;
    sent++;
    tried = 0;
  }
  // What could not go out now is skipped, not sent late in a burst: the offered rate shows it.
  s.windowFull += due - sent;
}

async function runStep({ rate, durationMs, drainMs }) {
  const s = newStep(rate, durationMs);
  steps.set(s.id, s);
  step = s;
  process.send({ mark: 'send-start' });
  s.sendStart = performance.now();
  s.sending = true;
  const cursor = { next: 0 };
  if (rate === null) for (const i of senders) topUp(s, i);
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      if (performance.now() - s.sendStart >= durationMs) {
        clearInterval(timer);
        resolve();
      } else if (rate !== null) fixedRateTick(s, cursor);
      else for (const i of senders) topUp(s, i); // after rejections
    }, rate === null ? 50 : 1);
  });
  s.sending = false;
  s.sendEnd = performance.now();
  process.send({ mark: 'send-end' });
  const drained = await drain(s, drainMs);
  step = null;
  return stepResult(s, drained);
}

const sumRejected = (s) => Object.values(s.rejected).reduce((a, b) => a + b, 0);

/**
 * Messages the server took responsibility for. Chat: `ok` replies to `send`. IRC has no reply:
 * every PRIVMSG written counts, less those answered by an error numeric.
 */
const accepted = (s) => (cfg.kind === 'chat' ? s.accepted : s.offered - sumRejected(s));

/** Waits until every accepted message was delivered (and, for chat, every send answered). */
async function drain(s, drainMs) {
  const started = performance.now();
  const done = () => accepted(s) + sumRejected(s) >= s.offered && s.delivered >= accepted(s);
  while (!done() && performance.now() - started < drainMs) await delay(10);
  return { ms: Math.round(performance.now() - started), complete: done() };
}

function stepResult(s, drained) {
  const seconds = (s.sendEnd - s.sendStart) / 1000;
  const rejected = sumRejected(s);
  return {
    id: s.id,
    targetPerSecond: s.rate,
    seconds: Math.round(seconds * 1000) / 1000,
    offered: s.offered,
    offeredPerSecond: Math.round(s.offered / seconds),
    accepted: accepted(s),
    rejected: s.rejected,
    unanswered: s.offered - accepted(s) - rejected,
    delivered: s.delivered,
    deliveredPerSecond: Math.round(s.deliveredInWindow / seconds),
    undeliveredAtDrainEnd: Math.max(0, accepted(s) - s.delivered),
    duplicates: s.duplicates,
    outOfOrder: s.outOfOrder,
    skippedWindowFull: s.windowFull,
    latencyMs: s.latency.summary(),
    ...(cfg.samples && { latencySamples: s.latency.values() }),
    drain: drained,
    ...status(),
  };
}

// ---------------------------------------------------------------------------------------------
// Command loop

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The relay protocol version of the built server (dist/protocol/version.js), 1 if it has none. */
async function protocolVersion(root) {
  try {
    return (await import(pathToFileURL(path.join(root, 'dist', 'protocol', 'version.js')).href)).PROTOCOL_VERSION ?? 1;
  } catch {
    return 1;
  }
}

/** Waits (bounded) for every step's stragglers; returns each step's final loss by id. */
async function finish({ timeoutMs }) {
  const started = performance.now();
  const missing = (s) => Math.max(0, accepted(s) - s.delivered - s.lateDelivered);
  const total = () => [...steps.values()].reduce((a, s) => a + missing(s), 0);
  while (total() > 0 && performance.now() - started < timeoutMs) await delay(20);
  const byId = {};
  for (const s of steps.values()) byId[s.id] = { lateDelivered: s.lateDelivered, unanswered: s.offered - accepted(s) - sumRejected(s), lost: missing(s) };
  return { waitedMs: Math.round(performance.now() - started), steps: byId };
}

const commands = {
  setup: async (args) => {
    cfg = { from: 0, to: args.clients, ...args };
    if (cfg.clients % 2 !== 0 || cfg.from % 2 !== 0 || cfg.to % 2 !== 0) throw new Error('clients must be even (pairs)');
    if (cfg.kind === 'chat') cfg.version = await protocolVersion(cfg.root);
    names = Array.from({ length: cfg.clients }, (_, i) => userName(i));
    senders = Array.from({ length: cfg.to - cfg.from }, (_, i) => cfg.from + i).filter((i) => cfg.twoWay || i % 2 === 0);
    unanswered = Array.from({ length: cfg.clients }, () => []);
    return { pid: process.pid };
  },
  passwordLogins,
  connect,
  relaxFlood,
  settle,
  hold,
  step: runStep,
  finish,
  status: async () => status(),
  subscribers: async () => subscriberCount(),
  close: async () => {
    for (const conn of conns) conn?.close();
    setImmediate(() => process.exit(0));
    return {};
  },
};

process.on('message', async ({ id, cmd, args }) => {
  try {
    const result = await commands[cmd](args ?? {});
    process.send({ id, ok: true, result });
  } catch (err) {
    process.send({ id, ok: false, error: err.stack ?? String(err) });
  }
});
process.on('disconnect', () => process.exit(0));
