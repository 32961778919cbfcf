// chat listen prints its banner, then the backlog (issue 27, item 21): on a terminal, where
// stdout and stderr share one screen, "listening as …" comes above what was missed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempHome } from '../helpers/cli.js';
import { HAS_SCRIPT, spawnPty } from '../helpers/pty.js';
import { startServer, type TestServer } from '../helpers/server.js';

const PASSWORD = 'correct horse';
let srv: TestServer;
const homes: Record<string, string> = {};

beforeAll(async () => {
  srv = await startServer();
  for (const user of ['amy', 'ben']) {
    homes[user] = await tempHome();
    const r = await runCli(['register', user], { home: homes[user]!, server: srv.address, env: { CHAT_PASSWORD: PASSWORD } });
    expect(r.code, r.stderr).toBe(0);
  }
});

afterAll(async () => {
  await srv?.cleanup();
});

describe.skipIf(!HAS_SCRIPT)('chat listen on a terminal', () => {
  it('prints the banner above the messages missed while away', async () => {
    for (const text of ['first while away', 'second while away']) {
      expect((await runCli(['send', 'ben', text], { home: homes.amy!, server: srv.address })).code).toBe(0);
    }
    const pty = spawnPty(['listen'], { CHAT_HOME: homes.ben!, CHAT_SERVER: srv.address });
    try {
      await pty.waitFor('second while away');
      const screen = pty.screen;
      const banner = screen.indexOf(`listening as ben on ${srv.address}`);
      expect(banner, screen).toBeGreaterThanOrEqual(0);
      expect(screen.indexOf('first while away'), screen).toBeGreaterThan(banner);
      expect(screen.indexOf('first while away')).toBeLessThan(screen.indexOf('second while away'));
    } finally {
      pty.kill();
    }
  });
});
