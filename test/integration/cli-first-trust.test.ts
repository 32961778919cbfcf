// First-time certificate trust (issue 27, item 17): on a terminal the first connection to a
// server shows its fingerprint and asks (y/N); without one it trusts on first use and says how to
// check later. The built CLI under a pseudo-terminal (`script`) and as a plain child process.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempHome } from '../helpers/cli.js';
import { HAS_SCRIPT, spawnPty } from '../helpers/pty.js';
import { startServer, type TestServer } from '../helpers/server.js';

const PASSWORD = 'correct horse';
let srv: TestServer;
let fingerprint: string;

if (!HAS_SCRIPT) console.log('skipping the terminal cases: `script` (util-linux) is not installed');

beforeAll(async () => {
  srv = await startServer();
  fingerprint = (srv.tls as { fingerprint: string }).fingerprint;
});

afterAll(async () => {
  await srv?.cleanup();
});

const pins = (home: string) => readFile(path.join(home, 'known_servers'), 'utf8').catch(() => '');

describe.skipIf(!HAS_SCRIPT)('first connection on a terminal', () => {
  it('shows the fingerprint and asks; y pins it and goes on', async () => {
    const home = await tempHome();
    const pty = spawnPty(['register', 'tina'], { CHAT_HOME: home, CHAT_SERVER: srv.address, CHAT_PASSWORD: PASSWORD });
    try {
      await pty.waitFor('Trust this server? [y/N]');
      expect(pty.screen).toContain(`first connection to ${srv.address}. Its certificate's SHA-256 fingerprint is\n  ${fingerprint}\n`);
      pty.type('y\r');
      await pty.waitFor(`registered tina on ${srv.address}`);
      expect(await pty.exited).toBe(0);
    } finally {
      pty.kill();
    }
    expect(await pins(home)).toBe(`${srv.address} ${fingerprint}\n`);
    // Pinned now: the next command does not ask.
    const again = await runCli(['whoami'], { home, server: srv.address });
    expect(again.code).toBe(0);
    expect(again.stderr).toBe('');
  });

  it('no (or just Enter) pins nothing, connects no further and says how to trust it later', async () => {
    const home = await tempHome();
    const pty = spawnPty(['register', 'una'], { CHAT_HOME: home, CHAT_SERVER: srv.address, CHAT_PASSWORD: PASSWORD });
    try {
      await pty.waitFor('Trust this server? [y/N]');
      pty.type('\r');
      await pty.waitFor(`chat: did not trust ${srv.address}: nothing was pinned`);
      expect(await pty.exited).toBe(1);
    } finally {
      pty.kill();
    }
    expect(await pins(home)).toBe('');
    expect(pty.screen).not.toContain('registered una');
    // The account was not created: registering it now (without a terminal) works.
    expect((await runCli(['register', 'una'], { home, server: srv.address, env: { CHAT_PASSWORD: PASSWORD } })).code).toBe(0);
  });
});

describe('first connection without a terminal', () => {
  it('trusts on first use, pins it, and says how to check it later', async () => {
    const home = await tempHome();
    const r = await runCli(['register', 'vic'], { home, server: srv.address, env: { CHAT_PASSWORD: PASSWORD } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`chat: first connection to ${srv.address}: trusting its certificate, SHA-256 ${fingerprint}`);
    expect(r.stderr).toContain(`run "chat trust ${srv.address} --fingerprint THAT" (it refuses if they differ)`);
    expect(await pins(home)).toBe(`${srv.address} ${fingerprint}\n`);
  });
});
