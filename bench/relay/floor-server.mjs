#!/usr/bin/env node
// The relay's floor: the least a Node server must do for the bench's load, in one file, so
// `npm run bench:relay -- --floor` can show how far `chat serve` is from what Node itself allows
// on this machine (as bench/floor.mjs does for transfers). It speaks just enough of protocol
// Part I for bench/relay/load.mjs: length-prefixed JSON frames; `hello`, `auth` (a token of
// seed.mjs's tokenFor), `subscribe` (a presence event to every subscriber), `ping`, and `send`
// of a direct message: an `ok` receipt to the sender and a `message` event to the recipient.
// No sessions, cursors, groups, limits, validation or logging.
//
//   --store memory   ids from a counter, replies at once: Node's sockets and JSON alone.
//   --store sqlite   what ours promises: each message inserted (the schema's messages table, its
//                    (pair, id) index and conversations, as in src/store/sqlite-writer.ts) by a
//                    writer thread, one transaction per batch, the WAL fsynced in libuv's pool,
//                    and only then the receipt and the event (acked = on disk).
//
//   node bench/relay/floor-server.mjs --store memory|sqlite --seed S --users N [--dir D]
// Prints "floor listening on 127.0.0.1:PORT" once ready.
import { fsync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { frame } from './chat-proto.mjs';
import { tokenFor, userName } from './seed.mjs';

const { values } = parseArgs({ options: { store: { type: 'string', default: 'memory' }, seed: { type: 'string' }, users: { type: 'string' }, dir: { type: 'string' } } });
if (!['memory', 'sqlite'].includes(values.store) || !values.seed || !values.users || (values.store === 'sqlite' && !values.dir)) {
  console.error('usage: floor-server.mjs --store memory|sqlite --seed S --users N [--dir D (sqlite)]');
  process.exit(2);
}

const userByToken = new Map();
for (let i = 0; i < Number(values.users); i++) userByToken.set(tokenFor(values.seed, i), userName(i));
/** Connections by user (the bench logs each user in once). */
const online = new Map();
const subscribers = new Set();

// Every frame of one turn of the event loop to a socket in one writev, as ours does.
const corked = [];
function out(conn, value, encoded = frame(value)) {
  if (conn.socket.destroyed) return;
  if (!conn.corked) {
    conn.corked = true;
    conn.socket.cork();
    if (corked.push(conn) === 1) process.nextTick(uncorkAll);
  }
  conn.socket.write(encoded);
}
function uncorkAll() {
  for (const conn of corked.splice(0)) {
    conn.corked = false;
    conn.socket.uncork();
  }
}

const store = values.store === 'sqlite' ? sqliteStore(values.dir) : memoryStore();

function onRequest(conn, req) {
  const ok = (result) => out(conn, { type: 'ok', id: req.id, result });
  if (req.type === 'send') return send(conn, req);
  if (req.type === 'hello') return ok({ version: req.version, server: 'floor' });
  if (req.type === 'ping') return ok({});
  if (req.type === 'auth') {
    conn.user = userByToken.get(req.token);
    if (!conn.user) return out(conn, { type: 'error', id: req.id, code: 'unauthorized', message: 'unknown token' });
    online.set(conn.user, conn);
    return ok({ user: conn.user });
  }
  if (req.type === 'subscribe') {
    subscribers.add(conn);
    ok({ backlog: 0 });
    const event = frame({ type: 'event', event: 'presence', data: { user: conn.user, online: true } }); // encoded once
    for (const other of subscribers) out(other, null, event);
    return;
  }
  out(conn, { type: 'error', id: req.id, code: 'bad_request', message: `floor: no ${req.type}` });
}

function send(conn, req) {
  const from = conn.user;
  const pair = from < req.to ? `${from}\n${req.to}` : `${req.to}\n${from}`;
  store.insert({ from, to: req.to, pair, text: req.text, at: Date.now() }, (m) => {
    out(conn, { type: 'ok', id: req.id, result: { id: m.id, at: m.at } });
    const peer = online.get(req.to);
    if (peer && subscribers.has(peer)) out(peer, { type: 'event', event: 'message', data: m });
  });
}

function memoryStore() {
  let next = 1;
  return { insert: (m, done) => done({ id: next++, ...m }) };
}

/** Group commit: messages that arrive while a batch commits form the next batch. */
function sqliteStore(dir) {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const file = path.join(dir, 'floor.sqlite');
  const worker = new Worker(new URL('./floor-writer.mjs', import.meta.url), { workerData: { file, driver } });
  let queue = [];
  let busy = false;
  let walFd = null;
  const flush = () => {
    if (busy || queue.length === 0) return;
    busy = true;
    const batch = queue;
    queue = [];
    worker.postMessage(batch.map((b) => b.m));
    worker.once('message', (ids) => {
      walFd ??= openSync(`${file}-wal`, 'r');
      fsync(walFd, (err) => {
        if (err) throw err;
        busy = false;
        batch.forEach((b, k) => b.done({ id: ids[k], ...b.m }));
        flush();
      });
    });
  };
  return {
    insert(m, done) {
      queue.push({ m, done });
      if (queue.length === 1) process.nextTick(flush);
    },
    ready: new Promise((resolve) => worker.once('online', resolve)),
  };
}

function onConnection(socket) {
  socket.setNoDelay(true);
  const conn = { socket, user: null, corked: false };
  let buf = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    let at = 0;
    while (buf.length - at >= 4) {
      const length = buf.readUInt32BE(at);
      if (buf.length - at - 4 < length) break;
      onRequest(conn, JSON.parse(buf.toString('utf8', at + 4, at + 4 + length)));
      at += 4 + length;
    }
    buf = at === buf.length ? Buffer.alloc(0) : buf.subarray(at);
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    subscribers.delete(conn);
    if (online.get(conn.user) === conn) online.delete(conn.user);
  });
}

await store.ready;
const server = net.createServer(onConnection);
server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => console.log(`floor listening on 127.0.0.1:${server.address().port}`));
process.on('SIGTERM', () => process.exit(0));
