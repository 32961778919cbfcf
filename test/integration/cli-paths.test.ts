// Every path a transfer can take (protocol.md §T8), end to end with the built CLI, encrypted:
// forced with --via, and found automatically when the direct or both peer directions are blocked.
// "Blocked" here: a peer listens on ::1 but offers 127.0.0.1, so connections to it are refused.
// A recording proxy in front of the server shows what the relay carries.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli, tempHome } from '../helpers/cli.js';
import { startServer, tempDir, type TestServer } from '../helpers/server.js';
import { sha256File } from '../helpers/transfer-files.js';

const PASSWORD = 'correct horse battery';
const MARKER = 'PLAINTEXT-MARKER-7f3a9c';

let server: TestServer;
let work: string;
let alice: string;
let bob: string;

/** Forwards every connection to the server, recording what clients send; can flip one bit. */
class RecordingProxy {
  readonly sent: Buffer[] = [];
  flipAt: number | undefined;
  #server: Server;
  #sockets = new Set<Socket>();
  port = 0;

  constructor(target: number) {
    this.#server = createServer((client) => {
      const upstream = connect({ host: '127.0.0.1', port: target });
      this.#sockets.add(client).add(upstream);
      let seen = 0;
      client.on('data', (chunk: Buffer) => {
        const flip = this.flipAt;
        if (flip !== undefined && seen <= flip && flip < seen + chunk.length) {
          chunk = Buffer.from(chunk);
          chunk[flip - seen]! ^= 0x01;
          this.flipAt = undefined;
        }
        seen += chunk.length;
        this.sent.push(chunk);
        upstream.write(chunk);
      });
      upstream.pipe(client);
      for (const s of [client, upstream]) s.on('error', () => {});
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.port = (this.#server.address() as { port: number }).port;
  }

  get sentBytes(): number {
    return this.sent.reduce((n, b) => n + b.length, 0);
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  close(): void {
    for (const s of this.#sockets) s.destroy();
    this.#server.close();
  }
}

/** A proxy in front of the server, with both users logged in through it (sessions are per address). */
async function proxyWithSessions(): Promise<RecordingProxy> {
  const proxy = new RecordingProxy(server.port);
  await proxy.start();
  for (const [home, user] of [[alice, 'alice'], [bob, 'bob']] as const) {
    const r = await runCli(['login', user], { insecure: true, home, server: proxy.address, env: { CHAT_PASSWORD: PASSWORD } });
    expect(r.code, r.stderr).toBe(0);
  }
  return proxy;
}

async function register(home: string, user: string): Promise<void> {
  const r = await runCli(['register', user], { insecure: true, home, server: server.address, env: { CHAT_PASSWORD: PASSWORD } });
  expect(r.code, r.stderr).toBe(0);
}

/** A file of `size` bytes: the marker over and over. */
async function markerFile(name: string, size: number): Promise<string> {
  const dir = path.join(work, 'src');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, name);
  const unit = Buffer.from(`${MARKER}\n`);
  const { writeFile } = await import('node:fs/promises');
  await writeFile(file, Buffer.concat(Array.from({ length: Math.ceil(size / unit.length) }, () => unit)).subarray(0, size));
  return file;
}

interface Run {
  senderArgs: string[];
  receiverArgs: string[];
  file: string;
  via?: string;
  serverAddress?: string;
}

/** alice sends `file` to bob; resolves both exits and bob's JSON events. */
async function transfer(run: Run) {
  const out = path.join(work, `out-${Math.random().toString(36).slice(2)}`);
  const at = run.serverAddress ?? server.address;
  const sender = spawnCli(['send-file', 'bob', run.file, '--json', ...run.senderArgs], { insecure: true, home: alice, server: at, timeoutMs: 60_000 });
  await sender.stdout.waitFor('"event":"offer"', 15_000);
  const listed = await runCli(['offers', '--json'], { insecure: true, home: bob, server: at, timeoutMs: 15_000 });
  const offered = JSON.parse(listed.stdout.trim().split('\n').at(-1)!) as { via?: string[] };
  const receiver = await runCli(['accept', '--json', '--dir', out, ...run.receiverArgs], { insecure: true, home: bob, server: at, timeoutMs: 60_000 });
  const senderCode = await sender.exited;
  const events = receiver.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { receiver, senderCode, sender, events, out, offered };
}

const LOCAL_SENDER = ['--bind', '127.0.0.1', '--advertise', '127.0.0.1', '--advertise-only'];
const LOCAL_RECEIVER = ['--bind', '127.0.0.1', '--advertise', '127.0.0.1', '--advertise-only'];
// Listens on ::1 but offers 127.0.0.1: every connection to it is refused.
const BLOCKED = ['--bind', '::1', '--advertise', '127.0.0.1', '--advertise-only'];

beforeAll(async () => {
  // Plaintext to the server: the recording proxy stands for a relay that reads and tampers, and
  // end-to-end encryption must hold even then (TLS to the server is tested elsewhere).
  server = await startServer({ tls: false });
  work = await tempDir('chat-paths-');
  [alice, bob] = [await tempHome(), await tempHome()];
  await register(alice, 'alice');
  await register(bob, 'bob');
});

afterAll(async () => {
  await server?.cleanup();
  for (const dir of [work, alice, bob]) if (dir) await rm(dir, { recursive: true, force: true });
});

describe('transfer paths', () => {
  it.each(['direct', 'reverse', 'relay'])('--via %s on both sides carries the file, encrypted, and says so', async (via) => {
    const file = await markerFile(`via-${via}.txt`, 300_000);
    const r = await transfer({ file, senderArgs: [...LOCAL_SENDER, '--via', via], receiverArgs: [...LOCAL_RECEIVER, '--via', via] });
    expect(r.receiver.code, r.receiver.stderr).toBe(0);
    expect(r.senderCode).toBe(0);
    expect(r.events.find((e) => e.event === 'connected')).toMatchObject({ via });
    expect(r.events.find((e) => e.event === 'done')).toMatchObject({ via, files: 1 });
    expect(r.events.some((e) => e.event === 'warning')).toBe(false);
    expect(await sha256File(path.join(r.out, `via-${via}.txt`))).toBe(await sha256File(file));
    expect(r.sender.stdout.lines.some((l) => l.includes(`"via":"${via}"`) && l.includes('"event":"done"'))).toBe(true);
  });

  it.each([
    ['the sender', ['--via', 'relay'], []],
    ['the receiver', [], ['--via', 'relay']],
  ])('--via relay on %s only: it says so in its offer or accept (§T8), and the other side goes straight to the relay', async (_who, senderVia, receiverVia) => {
    const file = await markerFile(`one-side-${senderVia.length}.txt`, 50_000);
    const r = await transfer({ file, senderArgs: [...LOCAL_SENDER, ...senderVia], receiverArgs: [...LOCAL_RECEIVER, ...receiverVia] });
    expect(r.receiver.code, r.receiver.stderr).toBe(0);
    expect(r.senderCode).toBe(0);
    // The first connection either side reports is the relay's: nobody tried another path first.
    expect(r.events.find((e) => e.event === 'connected')).toMatchObject({ via: 'relay' });
    expect(r.events.some((e) => e.event === 'retry')).toBe(false);
    expect(r.sender.stdout.lines.find((l) => l.includes('"event":"connected"'))).toContain('"via":"relay"');
    // What each side was told of the other's paths, through the server.
    const accepted = JSON.parse(r.sender.stdout.lines.find((l) => l.includes('"event":"accepted"'))!) as { via?: string[] };
    expect(accepted.via).toEqual(receiverVia.length > 0 ? ['relay'] : undefined);
    expect(r.offered.via).toEqual(senderVia.length > 0 ? ['relay'] : undefined);
    expect(await sha256File(path.join(r.out, path.basename(file)))).toBe(await sha256File(file));
  });

  it('the relay path reads as such in text output: no "port 0" in a relay-only offer, "through the server\'s relay" once connected (issue 27, item 15)', async () => {
    const file = await markerFile('wording.txt', 20_000);
    const out = path.join(work, 'out-wording');
    const sender = spawnCli(['send-file', 'bob', file, ...LOCAL_SENDER, '--via', 'relay'], { insecure: true, home: alice, server: server.address, timeoutMs: 60_000 });
    const offered = await sender.stderr.waitFor(/^offered /, 15_000);
    expect(offered).toMatch(/^offered 1 file\(s\), 19\.5 KiB to bob \(offer [a-z0-9]+\)$/);
    const receiver = await runCli(['accept', '--dir', out, ...LOCAL_RECEIVER], { insecure: true, home: bob, server: server.address, timeoutMs: 60_000 });
    expect(receiver.code, receiver.stderr).toBe(0);
    expect(receiver.stderr).toContain("connected to alice through the server's relay");
    expect(receiver.stderr).not.toContain('the relay, the relay');
    expect(await sender.exited).toBe(0);
    expect(sender.stderr.lines).toContain("connected to bob through the server's relay");
  });

  // Since punching (§T8) joined the race, the sender reaches the receiver either by connecting
  // back to it or through a punched hole, whichever is first (on loopback both work; CI saw punch
  // win once): either is a connection between the peers, not the relay.
  it('falls back to a connection from the sender (reverse or punched) when the sender refuses connections', async () => {
    const file = await markerFile('reverse.txt', 100_000);
    const r = await transfer({ file, senderArgs: BLOCKED, receiverArgs: LOCAL_RECEIVER });
    expect(r.receiver.code, r.receiver.stderr).toBe(0);
    const done = r.events.find((e) => e.event === 'done');
    expect(['reverse', 'punch']).toContain(done?.via);
    expect(await sha256File(path.join(r.out, 'reverse.txt'))).toBe(await sha256File(file));
  });

  it('falls back to the relay when both directions are blocked; the relay never sees the plaintext', async () => {
    const proxy = await proxyWithSessions();
    try {
      const file = await markerFile('relayed.txt', 1_000_000);
      const r = await transfer({ file, senderArgs: BLOCKED, receiverArgs: BLOCKED, serverAddress: proxy.address });
      expect(r.receiver.code, r.receiver.stderr).toBe(0);
      expect(r.events.find((e) => e.event === 'done')).toMatchObject({ via: 'relay' });
      expect(await readFile(path.join(r.out, 'relayed.txt'))).toEqual(await readFile(file));
      const carried = Buffer.concat(proxy.sent);
      expect(carried.length).toBeGreaterThan(1_000_000);
      expect(carried.includes(Buffer.from(MARKER))).toBe(false);
    } finally {
      proxy.close();
    }
  });

  it('a bit flipped on the relay is detected: the chunk is fetched again, never a wrong file', async () => {
    const proxy = await proxyWithSessions();
    proxy.flipAt = 600_000; // per connection: only the sender's relayed one carries that much
    try {
      const file = await markerFile('flipped.txt', 2_000_000);
      const r = await transfer({ file, senderArgs: ['--via', 'relay'], receiverArgs: ['--via', 'relay'], serverAddress: proxy.address });
      expect(proxy.flipAt).toBeUndefined(); // the bit was flipped
      const retry = r.events.find((e) => e.event === 'retry');
      expect(String(retry?.reason)).toContain('failed authentication');
      expect(r.receiver.code, r.receiver.stderr).toBe(0);
      expect(await sha256File(path.join(r.out, 'flipped.txt'))).toBe(await sha256File(file));
    } finally {
      proxy.close();
    }
  });

  it('--verify shows the same code on both sides before any data, and runs once each side typed the other\'s code', async () => {
    const file = await markerFile('verify.txt', 1000);
    const out = path.join(work, 'out-verify');
    const sender = spawnCli(['send-file', 'bob', file, '--json', ...LOCAL_SENDER, '--verify'], { insecure: true, home: alice, server: server.address, timeoutMs: 60_000 });
    await sender.stdout.waitFor('"event":"offer"', 15_000);
    const receiver = spawnCli(['accept', '--json', '--dir', out, ...LOCAL_RECEIVER, '--verify'], { insecure: true, home: bob, server: server.address, timeoutMs: 60_000 });
    const codeOf = (line: string) => (JSON.parse(line) as { code: string }).code;
    const theirs = codeOf(await receiver.stdout.waitFor('"event":"verify"', 15_000));
    const mine = codeOf(await sender.stdout.waitFor('"event":"verify"', 15_000));
    expect(mine).toMatch(/^\d{3} \d{3} \d{3}$/);
    expect(theirs).toBe(mine);
    expect(existsSync(path.join(out, 'verify.txt'))).toBe(false); // nothing before the confirmation
    sender.write(theirs);
    receiver.write(mine);
    expect(await receiver.exited).toBe(0);
    expect(await sender.exited).toBe(0);
    expect(await sha256File(path.join(out, 'verify.txt'))).toBe(await sha256File(file));
  });
});
