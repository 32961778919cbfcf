#!/usr/bin/env node
// What the hardware allows a Node program that does the same per-byte work as a chat transfer:
// read the file, SHA-256 + CRC-32 it, send it over loopback TCP; receive, CRC-32 + SHA-256,
// write it. No protocol, no framing, no CLI, one connection, synchronous file I/O on the main
// thread (the cheapest way in CPU). Compare with `npm run bench:transfer` on the same machine.
//
//   node bench/floor.mjs FILE [OUT] [--no-hash]
//
// OUT: the output file, kept; by default a file in the OS temp dir, deleted at the end.
//
// Prints MB/s (MB = 10^6 bytes) and each side's CPU seconds. Not part of the test suite.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';

const CHUNK = 512 * 1024;
const [role, ...rest] = process.argv.slice(2);
const hashing = !process.argv.includes('--no-hash');

function cpuSeconds() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

if (role === '--send') {
  // Sender: listen, stream the file, report.
  const [file] = rest;
  const fd = openSync(file, 'r');
  const size = fstatSync(fd).size;
  const server = net.createServer((socket) => {
    server.close();
    const hash = createHash('sha256');
    const bufs = Array.from({ length: 4 }, () => Buffer.allocUnsafe(CHUNK));
    let pos = 0;
    let inFlight = 0;
    let crc = 0;
    const pump = () => {
      while (pos < size && inFlight < 2) {
        const buf = bufs[(pos / CHUNK) % bufs.length];
        const n = readSync(fd, buf, 0, Math.min(CHUNK, size - pos), pos);
        const data = buf.subarray(0, n);
        if (hashing) {
          hash.update(data);
          crc ^= crc32(data);
        }
        pos += n;
        inFlight++;
        socket.write(data, () => {
          inFlight--;
          pump();
        });
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
  // Receiver: connect, read into one reused buffer, check and write synchronously.
  const [port, out] = rest;
  const fd = openSync(out, 'w');
  const hash = createHash('sha256');
  let pos = 0;
  let crc = 0;
  const socket = net.connect({
    host: '127.0.0.1',
    port: Number(port),
    onread: {
      buffer: Buffer.allocUnsafe(CHUNK + 64 * 1024),
      callback: (n, buf) => {
        const data = buf.subarray(0, n);
        if (hashing) {
          crc ^= crc32(data);
          hash.update(data);
        }
        writeSync(fd, data, 0, n, pos);
        pos += n;
      },
    },
  });
  socket.on('end', () => {
    closeSync(fd);
    process.stdout.write(`${JSON.stringify({ sha256: hashing ? hash.digest('hex') : '', bytes: pos, cpu: cpuSeconds() })}\n`);
  });
} else {
  const [file, keep] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  if (!file) {
    console.error('usage: node bench/floor.mjs FILE [OUT] [--no-hash]');
    process.exit(2);
  }
  const out = keep ?? path.join(os.tmpdir(), `floor-out-${process.pid}`);
  const self = new URL(import.meta.url).pathname;
  const flags = hashing ? [] : ['--no-hash'];
  const send = spawn(process.execPath, [self, '--send', file, ...flags], { stdio: ['ignore', 'pipe', 'inherit'] });
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
  const nextSend = lines(send);
  const port = await nextSend();
  const sendDone = nextSend();
  const t0 = performance.now();
  const recv = spawn(process.execPath, [self, '--recv', port, out, ...flags], { stdio: ['ignore', 'pipe', 'inherit'] });
  const r = JSON.parse(await lines(recv)());
  const seconds = (performance.now() - t0) / 1000;
  const s = JSON.parse(await sendDone);
  if (!keep) rmSync(out, { force: true });
  if (hashing && s.sha256 !== r.sha256) throw new Error('SHA-256 mismatch');
  console.log(
    `floor${hashing ? ' (SHA-256 + CRC-32 both sides)' : ' (no checks)'}: ${(r.bytes / 1e6 / seconds).toFixed(1)} MB/s, ` +
      `${seconds.toFixed(2)} s, CPU s sender ${s.cpu.toFixed(2)}, receiver ${r.cpu.toFixed(2)}`,
  );
}
