// chat verify / chat trust --device / verified contacts (issue 26 points 2–3): the built CLI
// against the real server on port 0; homes are devices.
import { readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli, tempHome } from '../helpers/cli.js';
import { startServer, tempDir, type TestServer } from '../helpers/server.js';
import { sha256File, writeRandomFile } from '../helpers/transfer-files.js';

const PASSWORD = 'correct horse battery';
const LOCAL = ['--bind', '127.0.0.1', '--advertise', '127.0.0.1', '--advertise-only'];
let server: TestServer;
let work: string;
const homes: string[] = [];

async function device(user: string, name: string, how: 'register' | 'login'): Promise<string> {
  const home = await tempHome();
  homes.push(home);
  const r = await runCli([how, user, '--device', name], { home, server: server.address, env: { CHAT_PASSWORD: PASSWORD } });
  expect(r.code, r.stderr).toBe(0);
  return home;
}

const cli = (home: string, args: string[]) => runCli(args, { home, server: server.address, timeoutMs: 30_000 });
const numberOf = (out: string) => /safety number: ((?:\d{5} ){11}\d{5})/.exec(out)![1]!;

beforeAll(async () => {
  server = await startServer();
  work = await tempDir('chat-verify-');
});

afterAll(async () => {
  await server?.cleanup();
  for (const dir of [work, ...homes]) await rm(dir, { recursive: true, force: true });
});

describe('chat verify', () => {
  it('shows the same safety number on both sides, marks the contact verified, and a new device of it is then refused until trusted', async () => {
    const alice = await device('alice', 'laptop', 'register');
    const bob = await device('bob', 'desk', 'register');
    const a = await cli(alice, ['verify', 'bob']);
    const b = await cli(bob, ['verify', 'alice']);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toContain('bob device "desk"');
    expect(numberOf(a.stdout)).toBe(numberOf(b.stdout));
    expect(a.stderr).toContain('not marked verified');

    const wrong = await cli(alice, ['verify', 'bob', '--code', '1'.repeat(60)]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^chat: that safety number matches none of these devices/m);
    const ok = await cli(alice, ['verify', 'bob', '--code', numberOf(b.stdout)]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('bob (device "desk") is now verified');
    const pins = path.join(alice, 'known_peers');
    expect(await readFile(pins, 'utf8')).toMatch(/^127\.0\.0\.1:\d+ bob desk [A-Za-z0-9_-]{43} verified$/m);
    expect((await stat(pins)).mode & 0o777).toBe(0o600);

    expect((await cli(alice, ['friend', 'add', 'bob'])).code).toBe(0);
    expect((await cli(bob, ['friend', 'accept', 'alice'])).code).toBe(0);
    expect((await cli(alice, ['friend', 'list'])).stdout).toMatch(/^bob .*  verified$/m);

    // Verified both ways: --verify needs no per-transfer code (stdin stays empty, nobody is asked).
    expect((await cli(bob, ['verify', 'alice', '--code', numberOf(a.stdout)])).code).toBe(0);
    const verifiedFile = await writeRandomFile(work, 'v.bin', 3000);
    const vdst = path.join(work, 'vdst');
    const vsend = spawnCli(['send-file', 'alice', verifiedFile, ...LOCAL, '--verify'], { home: bob, server: server.address, timeoutMs: 30_000 });
    await vsend.stderr.waitFor(/^offered /, 15_000);
    const vrecv = await cli(alice, ['accept', '--dir', vdst, ...LOCAL, '--verify']);
    expect(vrecv.code, vrecv.stderr).toBe(0);
    expect(await vsend.exited).toBe(0);
    expect(vrecv.stderr + vsend.stderr.lines.join('\n')).not.toContain('verification code');
    expect(await sha256File(path.join(vdst, 'v.bin'))).toBe(await sha256File(verifiedFile));

    // bob logs in on a second device: alice refuses it until she trusts (or verifies) it.
    const phone = await device('bob', 'phone', 'login');
    const file = await writeRandomFile(work, 'x.bin', 5000);
    const dst = path.join(work, 'dst');
    const sender = spawnCli(['send-file', 'alice', file, ...LOCAL], { home: phone, server: server.address, timeoutMs: 30_000 });
    await sender.stderr.waitFor(/^offered /, 15_000);
    const refused = await cli(alice, ['accept', '--dir', dst, ...LOCAL]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^chat: bob is a verified contact, but this is a new device \(device "phone", key [0-9A-F ]+…\): refused; .*chat trust bob --device "phone"/m);
    expect(await sender.exited).toBe(1);

    const trusted = await cli(alice, ['trust', 'bob', '--device', 'phone']);
    expect(trusted.code, trusted.stderr).toBe(0);
    const again = spawnCli(['send-file', 'alice', file, ...LOCAL], { home: phone, server: server.address, timeoutMs: 30_000 });
    await again.stderr.waitFor(/^offered /, 15_000);
    const accepted = await cli(alice, ['accept', '--dir', dst, ...LOCAL]);
    expect(accepted.code, accepted.stderr).toBe(0);
    expect(await again.exited).toBe(0);
    expect(await sha256File(path.join(dst, 'x.bin'))).toBe(await sha256File(file));
  });
});
