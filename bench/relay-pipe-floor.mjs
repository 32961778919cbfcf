#!/usr/bin/env node
// What a relay process spends per GiB it pipes, by technique, with nothing else in the process:
// the measurement behind the relay's design (docs/benchmarks.md, "The relay's cost"). Moves SIZE
// bytes from a sender to a receiver through a relay process, rounds alternating between variants,
// and reads the relay's user + system CPU from /proc/PID/stat around the transfer (start-up and
// TLS handshakes excluded):
//
//   node-data    net.Server, 'data' events written on with backpressure (relay-pipe.ts before pooled reads)
//   node-pooled  the server's own pipe (dist/server/relay-pipe.js: pooled reads of up to 256 KiB,
//                src/server/pooled-reads.ts), with no rate, budget or idle limit
//   node-tls     the same with TLS on both legs (the relay before protocol relay v2: AES-GCM in
//                and out on top of the peers' own AES-GCM), TLS 1.3, AES-256-GCM
//   node-tls128  TLS 1.3 restricted to TLS_AES_128_GCM_SHA256 ("TLS with cheaper settings")
//   twisted      magic-wormhole's transit relay (`twistd3 transitrelay`, Debian magic-wormhole-transit-relay)
//
//   node bench/relay-pipe-floor.mjs [--size-mib 512] [--rounds 3] [--variants node-data,node-tls,twisted]
//
// The two ends are Node processes of their own (a tight write loop, a read-and-drop loop), on
// 127.0.0.1 only. Not part of the suite. Units: MB = 10^6 bytes.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const { values: argv } = parseArgs({
  options: {
    role: { type: 'string' },
    variant: { type: 'string' },
    port: { type: 'string' },
    size: { type: 'string' },
    'size-mib': { type: 'string', default: '512' },
    rounds: { type: 'string', default: '3' },
    variants: { type: 'string', default: 'node-data,node-pooled,node-tls,node-tls128,twisted' },
  },
});
const GiB = 1024 ** 3;
const TICK = 100; // USER_HZ on Linux

// --- child roles ----------------------------------------------------------------------------

if (argv.role === 'relay') {
  // Pairs connections two by two in arrival order and pipes them like relay-pipe.ts does.
  const v = argv.variant;
  // The server's own self-signed certificate (EC P-256), from the built tree (npm run build).
  const { selfSignedCertificate } = await import('../dist/server/certificate.js');
  const { cert, key } = await selfSignedCertificate(mkdtempSync(path.join(os.tmpdir(), 'relay-floor-')));
  const opts = v === 'node-tls128' ? { cert, key, minVersion: 'TLSv1.3', ciphersuites: 'TLS_AES_128_GCM_SHA256' } : { cert, key, minVersion: 'TLSv1.3' };
  const { pipe } = await import('../dist/server/relay-pipe.js');
  let waiting;
  const onSocket = (s) => {
    s.on('error', () => {});
    if (!waiting) return void (waiting = s);
    const a = waiting;
    waiting = undefined;
    if (v === 'node-pooled') return void pipe(a, Buffer.alloc(0), s, Buffer.alloc(0), { rate: 0, idleMs: 0, moved: () => true, ended: () => {} });
    for (const [from, to] of [[a, s], [s, a]]) {
      from.on('data', (chunk) => {
        if (!to.write(chunk)) {
          from.pause();
          to.once('drain', () => from.resume());
        }
      });
      from.on('end', () => to.end());
    }
  };
  const server = v === 'node-data' || v === 'node-pooled' ? net.createServer(onSocket) : tls.createServer(opts, onSocket);
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
} else if (argv.role === 'send' || argv.role === 'recv') {
  const v = argv.variant;
  const port = Number(argv.port);
  const size = Number(argv.size);
  const connect = () =>
    v === 'twisted' || v === 'node-data' || v === 'node-pooled'
      ? net.connect({ port, host: '127.0.0.1' })
      : tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, ...(v === 'node-tls128' ? { ciphersuites: 'TLS_AES_128_GCM_SHA256' } : {}) });
  const s = connect();
  s.once(v === 'twisted' || v === 'node-data' || v === 'node-pooled' ? 'connect' : 'secureConnect', () => {
    if (v === 'twisted') {
      // The transit relay's v1 handshake: the same line from both sides, "ok\n" once paired.
      s.write(`please relay ${'ab'.repeat(32)} for side ${argv.role === 'send' ? '1111111111111111' : '2222222222222222'}\n`);
    }
    process.stdout.write('connected\n');
  });
  let handshake = v === 'twisted' ? Buffer.alloc(0) : null;
  const go = () => {
    process.stdout.write('paired\n');
    if (argv.role === 'recv') return;
    const block = Buffer.alloc(1024 * 1024, 7);
    let sent = 0;
    const pump = () => {
      while (sent < size) {
        const n = Math.min(block.length, size - sent);
        sent += n;
        if (!s.write(n === block.length ? block : block.subarray(0, n))) return void s.once('drain', pump);
      }
      s.end();
    };
    pump();
  };
  let got = 0;
  s.on('data', (chunk) => {
    if (handshake) {
      handshake = Buffer.concat([handshake, chunk]);
      const nl = handshake.indexOf(10);
      if (nl < 0) return;
      const rest = handshake.subarray(nl + 1);
      if (handshake.subarray(0, nl).toString() !== 'ok') throw new Error(`relay said ${handshake.subarray(0, nl)}`);
      handshake = null;
      go();
      got += rest.length;
      return;
    }
    got += chunk.length;
  });
  if (v !== 'twisted') s.once(v === 'node-data' || v === 'node-pooled' ? 'connect' : 'secureConnect', go);
  s.on('end', () => {
    if (argv.role === 'recv') process.stdout.write(`got ${got}\n`);
    s.end();
  });
  s.on('close', () => process.exit(0));
} else {
  await main();
}

// --- the driver -----------------------------------------------------------------------------

function cpuTicks(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return [Number(f[11]), Number(f[12])]; // utime, stime (fields 14 and 15)
}

// A line no one waits for yet is kept for a later wait: two lines can come in one read.
function lines(child) {
  let buf = '';
  const waiters = [];
  const unclaimed = [];
  child.stdout.setEncoding('utf8').on('data', (s) => {
    buf += s;
    for (let nl; (nl = buf.indexOf('\n')) >= 0; ) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const w = waiters.findIndex((x) => x.re.test(line));
      if (w >= 0) waiters.splice(w, 1)[0].resolve(line);
      else unclaimed.push(line);
    }
  });
  return (re) =>
    new Promise((resolve) => {
      const i = unclaimed.findIndex((line) => re.test(line));
      if (i >= 0) return resolve(unclaimed.splice(i, 1)[0]);
      waiters.push({ re, resolve });
    });
}

async function startRelay(variant) {
  if (variant === 'twisted') {
    const port = await new Promise((r) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = s.address().port;
        s.close(() => r(p));
      });
    });
    const child = spawn('twistd3', ['-n', '--pidfile=', 'transitrelay', '--port', `tcp:${port}:interface=127.0.0.1`], { stdio: ['ignore', 'pipe', 'pipe'], cwd: '/tmp' });
    const next = lines(child);
    await next(/Transit starting on/);
    return { child, port };
  }
  const child = spawn(process.execPath, [import.meta.filename, '--role', 'relay', '--variant', variant], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = Number(await lines(child)(/^\d+$/));
  return { child, port };
}

async function once(variant, size) {
  const relay = await startRelay(variant);
  const end = (role) => spawn(process.execPath, [import.meta.filename, '--role', role, '--variant', variant, '--port', String(relay.port), '--size', String(size)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const send = end('send');
  const sendLines = lines(send);
  await sendLines(/connected/);
  const recv = end('recv');
  const recvLines = lines(recv);
  await Promise.all([sendLines(/paired/), recvLines(/paired/)]);
  const c0 = cpuTicks(relay.child.pid);
  const t0 = performance.now();
  const got = Number((await recvLines(/^got /)).slice(4));
  const seconds = (performance.now() - t0) / 1000;
  const c1 = cpuTicks(relay.child.pid);
  relay.child.kill();
  send.kill();
  recv.kill();
  if (got !== size) throw new Error(`${variant}: received ${got} of ${size} bytes`);
  return { seconds, cpu: (c1[0] + c1[1] - c0[0] - c0[1]) / TICK, user: (c1[0] - c0[0]) / TICK, sys: (c1[1] - c0[1]) / TICK };
}

async function main() {
  const size = Number(argv['size-mib']) * 1024 * 1024;
  const rounds = Number(argv.rounds);
  const variants = argv.variants.split(',');
  if (variants.includes('twisted') && spawnSync('sh', ['-c', 'command -v twistd3']).status !== 0) throw new Error('twistd3 missing: apt-get install -y magic-wormhole-transit-relay');
  const results = Object.fromEntries(variants.map((v) => [v, []]));
  for (let r = 1; r <= rounds; r++) {
    for (const v of variants) {
      const x = await once(v, size);
      results[v].push(x);
      console.log(`round ${r} ${v.padEnd(12)} ${((size / 1e6) / x.seconds).toFixed(0).padStart(5)} MB/s  relay CPU ${(x.cpu / (size / GiB)).toFixed(2)} s/GiB (user ${(x.user / (size / GiB)).toFixed(2)}, system ${(x.sys / (size / GiB)).toFixed(2)})`);
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  console.log(`\nmedians over ${rounds} rounds of ${size / 1024 / 1024} MiB:`);
  for (const v of variants) {
    console.log(`${v.padEnd(12)} ${median(results[v].map((x) => size / 1e6 / x.seconds)).toFixed(0).padStart(5)} MB/s  relay CPU ${median(results[v].map((x) => x.cpu / (size / GiB))).toFixed(2)} s/GiB`);
  }
}
