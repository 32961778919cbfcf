#!/usr/bin/env node
// What the hardware allows a Node program that does the same per-byte work as a chat transfer:
// read the file; SHA-256 it; seal each 512 KiB chunk with AES-256-GCM (protocol v3); send it over
// loopback TCP; open it; write it. With --v2, also CRC-32 on both sides and SHA-256 on the
// receiver, as protocol v2 did. Nothing else: no protocol
// beyond a size prefix and fixed-size sealed chunks, no CLI, one connection, synchronous file
// I/O on the main thread (the cheapest way in CPU). Compare with `npm run bench:transfer`.
//
//   node bench/floor.mjs FILE [OUT] [--no-seal] [--no-hash] [--v2] [--free-each]
//
// OUT: the output file, kept; by default a file in the OS temp dir, deleted at the end.
// --no-seal: no AES-GCM (protocol v1); --no-hash: no SHA-256/CRC-32 either (plain copy).
// Prints MB/s (MB = 10^6 bytes) and each side's CPU seconds. Not part of the test suite.
import { spawn } from 'node:child_process';
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { crc32 } from 'node:zlib';

const CHUNK = 512 * 1024;
const TAG = 16;
const [role, ...rest] = process.argv.slice(2);
const hashing = !process.argv.includes('--no-hash');
const sealing = hashing && !process.argv.includes('--no-seal');
/** Protocol v2's redundant checks: CRC-32 per chunk on both sides, SHA-256 on the receiver too. */
const v2 = hashing && process.argv.includes('--v2');

function cpuSeconds() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function nonce(counter) {
  const n = Buffer.alloc(12);
  n.writeUInt32BE(counter, 8);
  return n;
}

// node:crypto allocates every output. By default V8 collects them (a young-generation GC frees
// their backing stores in batches); --free-each frees each at once through a closed MessagePort,
// which costs far more CPU on this VM (page faults on every reuse; docs/benchmarks.md).
const sink = new MessageChannel();
sink.port2.close();
sink.port1.unref();
const freeEach = process.argv.includes('--free-each');
const free = (buf) => {
  if (freeEach) sink.port1.postMessage(buf.buffer, [buf.buffer]);
};

if (role === '--send') {
  // Sender: listen, send the size, then the (sealed) chunks.
  const [file, keyHex] = rest;
  const key = Buffer.from(keyHex, 'hex');
  const fd = openSync(file, 'r');
  const size = fstatSync(fd).size;
  const server = net.createServer((socket) => {
    server.close();
    const hash = createHash('sha256');
    const bufs = Array.from({ length: 4 }, () => Buffer.allocUnsafe(CHUNK));
    const head = Buffer.alloc(8);
    head.writeBigUInt64BE(BigInt(size));
    socket.write(head);
    let pos = 0;
    let n = 0;
    let inFlight = 0;
    let crc = 0;
    const pump = () => {
      while (pos < size && inFlight < 2) {
        const buf = bufs[n % bufs.length];
        const len = readSync(fd, buf, 0, Math.min(CHUNK, size - pos), pos);
        const data = buf.subarray(0, len);
        if (hashing) {
          hash.update(data);
          if (v2) crc ^= crc32(data);
        }
        pos += len;
        inFlight++;
        const done = () => {
          inFlight--;
          pump();
        };
        if (sealing) {
          const cipher = createCipheriv('aes-256-gcm', key, nonce(n));
          const ct = cipher.update(data);
          cipher.final();
          socket.write(ct);
          socket.write(cipher.getAuthTag(), () => {
            free(ct);
            done();
          });
        } else {
          socket.write(data, done);
        }
        n++;
      }
      if (pos >= size && inFlight === 0) {
        socket.end();
        process.stdout.write(`${JSON.stringify({ sha256: hashing ? hash.digest('hex') : '', crc, cpu: cpuSeconds() })}\n`);
      }
    };
    pump();
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
} else if (role === '--recv') {
  // Receiver: the kernel copies each sealed chunk straight into one reused buffer (onread); open,
  // check and write it synchronously.
  const [port, out, keyHex] = rest;
  const key = Buffer.from(keyHex, 'hex');
  const fd = openSync(out, 'w');
  const hash = createHash('sha256');
  const frame = Buffer.allocUnsafe(CHUNK + TAG);
  let size = -1;
  let pos = 0;
  let n = 0;
  let fill = 0;
  let crc = 0;
  const want = () => (size < 0 ? 8 : Math.min(CHUNK, size - pos) + (sealing ? TAG : 0));
  const socket = net.connect({
    host: '127.0.0.1',
    port: Number(port),
    onread: {
      buffer: () => frame.subarray(fill, Math.max(fill + 1, want())),
      callback: (got) => {
        fill += got;
        if (fill < want()) return;
        if (size < 0) {
          size = Number(frame.readBigUInt64BE(0));
          fill = 0;
          return;
        }
        let data = frame.subarray(0, fill);
        if (sealing) {
          const decipher = createDecipheriv('aes-256-gcm', key, nonce(n));
          decipher.setAuthTag(data.subarray(data.length - TAG));
          data = decipher.update(data.subarray(0, data.length - TAG));
          decipher.final();
        }
        if (v2) {
          crc ^= crc32(data);
          hash.update(data);
        }
        writeSync(fd, data, 0, data.length, pos);
        pos += data.length;
        if (sealing) free(data);
        fill = 0;
        n++;
      },
    },
  });
  socket.on('end', () => {
    closeSync(fd);
    process.stdout.write(`${JSON.stringify({ sha256: v2 ? hash.digest('hex') : '', bytes: pos, cpu: cpuSeconds() })}\n`);
  });
} else {
  const [file, keep] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  if (!file) {
    console.error('usage: node bench/floor.mjs FILE [OUT] [--no-seal] [--no-hash]');
    process.exit(2);
  }
  const out = keep ?? path.join(os.tmpdir(), `floor-out-${process.pid}`);
  const self = new URL(import.meta.url).pathname;
  const flags = [...(sealing ? [] : ['--no-seal']), ...(hashing ? [] : ['--no-hash']), ...(v2 ? ['--v2'] : []), ...(freeEach ? ['--free-each'] : [])];
  const key = randomBytes(32).toString('hex');
  const lines = (child) => {
    let buf = '';
    const waiters = [];
    child.stdout.setEncoding('utf8').on('data', (s) => {
      buf += s;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        waiters.shift()?.(line);
      }
    });
    return () => new Promise((resolve) => waiters.push(resolve));
  };
  const send = spawn(process.execPath, [self, '--send', file, key, ...flags], { stdio: ['ignore', 'pipe', 'inherit'] });
  const nextSend = lines(send);
  const port = await nextSend();
  const sendDone = nextSend();
  const t0 = performance.now();
  const recv = spawn(process.execPath, [self, '--recv', port, out, key, ...flags], { stdio: ['ignore', 'pipe', 'inherit'] });
  const r = JSON.parse(await lines(recv)());
  const seconds = (performance.now() - t0) / 1000;
  const s = JSON.parse(await sendDone);
  if (!keep) rmSync(out, { force: true });
  if (v2 && s.sha256 !== r.sha256) throw new Error('SHA-256 mismatch');
  if (keep && hashing && s.sha256 !== createHash('sha256').update(readFileSync(out)).digest('hex')) throw new Error('SHA-256 mismatch');
  const checks = v2 ? 'SHA-256 + CRC-32 both sides' : 'SHA-256 on the sender';
  const what = !hashing ? 'no checks' : sealing ? `${checks} + AES-256-GCM` : checks;
  console.log(`floor (${what}): ${(r.bytes / 1e6 / seconds).toFixed(1)} MB/s, ${seconds.toFixed(2)} s, CPU s sender ${s.cpu.toFixed(2)}, receiver ${r.cpu.toFixed(2)}`);
}
