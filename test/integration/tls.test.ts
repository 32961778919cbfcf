// TLS on the control channel (protocol.md §1.1): on by default in `chat serve`, the certificate
// pinned on first use, a changed one refused until `chat trust`, a CA-signed one verified normally,
// plaintext only with --insecure on both sides. Real `chat serve` and CLI processes.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { selfSignedCertificate } from '../../src/server/certificate.js';
import { runCli, spawnCli, tempHome } from '../helpers/cli.js';
import { spawnServer, tempDir, type SpawnedServer } from '../helpers/server.js';
import { sha256File, writeRandomFile } from '../helpers/transfer-files.js';

const PASSWORD = 'correct horse';
const servers: SpawnedServer[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function serve(args: string[] = [], dataDir?: string, port?: number): Promise<SpawnedServer> {
  const s = await spawnServer({ args, dataDir, port });
  servers.push(s);
  if (!dataDir) dirs.push(s.dataDir);
  return s;
}

async function home(): Promise<string> {
  const h = await tempHome();
  dirs.push(h);
  return h;
}

const chat = (args: string[], h: string, server: string, extra: { insecure?: boolean; env?: Record<string, string> } = {}) =>
  runCli(args, { home: h, server, ...extra, env: { CHAT_PASSWORD: PASSWORD, ...extra.env } });

/** Resolves once the server closes a plaintext connection that sent `bytes` (it speaks TLS). */
function plaintextRefused(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port });
    const got: Buffer[] = [];
    const timer = setTimeout(() => reject(new Error('the server kept a plaintext connection open')), 10_000);
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (b) => got.push(b));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(got));
    });
  });
}

describe('TLS by default', () => {
  it('chat serve makes a certificate once and prints its fingerprint; the CLI pins it on first use, then says nothing', async () => {
    const s = await serve();
    const fingerprint = (s.tls as { fingerprint: string }).fingerprint;
    expect(fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(s.output.lines.some((l) => l.includes('new self-signed'))).toBe(true);
    const h = await home();
    const first = await chat(['register', 'alice'], h, s.address);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain(`first connection to ${s.address}: trusting its certificate, SHA-256 ${fingerprint}`);
    expect(await readFile(path.join(h, 'known_servers'), 'utf8')).toBe(`${s.address} ${fingerprint}\n`);
    const second = await chat(['whoami'], h, s.address);
    expect(second).toMatchObject({ code: 0, stderr: '', stdout: `alice on ${s.address}\n` });

    // A plaintext hello never reaches the chat protocol: the server closes without a frame.
    const answer = await plaintextRefused(s.port, Buffer.from('\0\0\0\x23{"id":1,"type":"hello","version":2}'));
    expect(answer.includes(Buffer.from('"type"'))).toBe(false);
    // A plaintext client says what to do.
    const insecure = await chat(['whoami'], h, s.address, { insecure: true });
    expect(insecure.code).toBe(1);
    expect(insecure.stderr).toMatch(/closed the connection at hello; if it uses TLS \(the default\), drop --insecure/);
  });

  it('refuses a changed certificate with a clear message until chat trust pins the new one', async () => {
    const first = await serve();
    const h = await home();
    expect((await chat(['register', 'alice'], h, first.address)).code).toBe(0);
    await first.stop();
    servers.splice(servers.indexOf(first), 1);
    // The operator (or an attacker) now presents another certificate on the same address.
    await rm(path.join(first.dataDir, 'server.crt'));
    const second = await serve([], first.dataDir, first.port);
    const newPrint = (second.tls as { fingerprint: string }).fingerprint;
    expect(newPrint).not.toBe((first.tls as { fingerprint: string }).fingerprint);

    const refused = await chat(['whoami'], h, second.address);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toContain(`the certificate of ${second.address} has CHANGED`);
    expect(refused.stderr).toContain(`now ${newPrint}`);
    expect(refused.stderr).toContain(`run "chat trust ${second.address}"`);

    const wrong = await chat(['trust', second.address, '--fingerprint', 'AA:BB'], h, second.address);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('not trusted');
    const trusted = await chat(['trust', second.address, '--fingerprint', newPrint.toLowerCase()], h, second.address);
    expect(trusted.code, trusted.stderr).toBe(0);
    expect(trusted.stdout).toContain(`${second.address}: trusting certificate SHA-256 ${newPrint} (replaces `);
    expect(await chat(['whoami'], h, second.address)).toMatchObject({ code: 0, stdout: `alice on ${second.address}\n` });
  });

  it('a certificate from a trusted CA verifies normally: nothing pinned', async () => {
    // A self-signed certificate for 127.0.0.1, trusted as its own CA through NODE_EXTRA_CA_CERTS.
    const caDir = await tempDir('chat-ca-');
    dirs.push(caDir);
    const cert = await selfSignedCertificate(caDir);
    const s = await serve(['--tls-cert', path.join(caDir, 'server.crt'), '--tls-key', path.join(caDir, 'server.key')]);
    expect(s.output.lines.some((l) => l.includes(`TLS certificate SHA-256 ${cert.fingerprint} (${caDir}`))).toBe(true);
    const h = await home();
    const env = { NODE_EXTRA_CA_CERTS: path.join(caDir, 'server.crt') };
    const r = await chat(['register', 'alice'], h, s.address, { env });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    await expect(readFile(path.join(h, 'known_servers'))).rejects.toMatchObject({ code: 'ENOENT' });
    const trust = await chat(['trust'], h, s.address, { env });
    expect(trust.stdout).toContain('signed by a trusted CA; nothing to pin');
  });

  it('serve refuses unusable certificate options with one line', async () => {
    const h = await home();
    const dataDir = await tempDir('chat-serve-');
    dirs.push(dataDir);
    const half = await runCli(['serve', '--port', '0', '--data', dataDir, '--tls-cert', 'x.pem'], { home: h });
    expect(half).toMatchObject({ code: 2, stderr: 'chat: --tls-cert and --tls-key go together\n' });
    await writeFile(path.join(dataDir, 'bad.pem'), 'not a certificate');
    const bad = await runCli(['serve', '--port', '0', '--data', dataDir, '--tls-cert', path.join(dataDir, 'bad.pem'), '--tls-key', path.join(dataDir, 'bad.pem')], { home: h });
    expect(bad).toMatchObject({ code: 1, stderr: `chat: ${path.join(dataDir, 'bad.pem')} is not a PEM certificate\n` });
  });

  it('--insecure on both sides is plaintext; a TLS client to it says so', async () => {
    const s = await serve(['--insecure']);
    expect(s.tls).toBe(false);
    expect(s.output.lines.some((l) => l.includes('--insecure: plaintext, no TLS'))).toBe(true);
    const h = await home();
    expect((await chat(['register', 'alice'], h, s.address, { insecure: true })).code).toBe(0);
    const tls = await chat(['whoami'], h, s.address);
    expect(tls.code).toBe(1);
    expect(tls.stderr).toMatch(/TLS handshake with 127\.0\.0\.1:\d+ failed .*use --insecure too/);
  });
});

describe('the transfer relay over TLS', () => {
  it('a file forced through the relay reaches the receiver intact; both sides reach the relay with the pinned certificate', async () => {
    const s = await serve();
    const [alice, bob] = [await home(), await home()];
    expect((await chat(['register', 'alice'], alice, s.address)).code).toBe(0);
    expect((await chat(['register', 'bob'], bob, s.address)).code).toBe(0);
    const dir = await tempDir('chat-tls-relay-');
    dirs.push(dir);
    const file = await writeRandomFile(dir, 'data.bin', 3_000_000);
    const sender = spawnCli(['send-file', 'bob', file, '--via', 'relay', '--json'], { home: alice, server: s.address, timeoutMs: 60_000 });
    await sender.stdout.waitFor(/"event":"offer"/);
    const out = path.join(dir, 'out');
    const r = await runCli(['accept', '--via', 'relay', '--json', '--dir', out], { home: bob, server: s.address, timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/"event":"done".*"via":"relay"/);
    expect(await sender.exited).toBe(0);
    expect(await sha256File(path.join(out, 'data.bin'))).toBe(await sha256File(file));
    expect(s.output.lines.some((l) => /relay/.test(l) && /pair|paired/.test(l))).toBe(true);
  });
});
