// chat serve never runs open registration on a non-loopback address without saying so (issue 25):
// open by default on loopback, by invitation elsewhere, and a line at start-up whenever it matters.
import { describe, expect, it } from 'vitest';
import { registrationFor, registrationNotice } from '../../../src/cli/commands/serve.js';

describe('chat serve registration', () => {
  it.each([
    ['127.0.0.1', undefined, 'open'],
    ['127.1.2.3', undefined, 'open'],
    ['::1', undefined, 'open'],
    ['localhost', undefined, 'open'],
    ['0.0.0.0', undefined, 'invite'],
    ['::', undefined, 'invite'],
    ['203.0.113.5', undefined, 'invite'],
    ['0.0.0.0', 'open', 'open'],
    ['127.0.0.1', 'closed', 'closed'],
  ] as const)('on %s with --registration %s is %s', (host, registration, expected) => {
    expect(registrationFor({ host, registration })).toBe(expected);
  });

  it('says so at start-up on a public address, loudly when it is open, and says nothing on loopback', () => {
    expect(registrationNotice({ host: '0.0.0.0', registration: 'open', data: 'd' }, '0.0.0.0:7070')).toMatch(/registration is OPEN: anyone who can reach 0\.0\.0\.0:7070/);
    expect(registrationNotice({ host: '0.0.0.0', registration: undefined, data: '/var/lib/chat' }, 'x')).toMatch(/by invitation .*chat admin invite --data \/var\/lib\/chat.*--registration open/);
    expect(registrationNotice({ host: '127.0.0.1', registration: 'open', data: 'd' }, 'x')).toBeNull();
    expect(registrationNotice({ host: '0.0.0.0', registration: 'invite', data: 'd' }, 'x')).toBeNull();
  });
});

describe('chat serve --help', () => {
  it('lists server options only, not the client ones (--server, --home)', async () => {
    const { spawnSync } = await import('node:child_process');
    const { CHAT_BIN } = await import('../../helpers/server.js');
    const help = spawnSync(process.execPath, [CHAT_BIN, 'serve', '--help'], { encoding: 'utf8' }).stdout;
    expect(help).toMatch(/--registration/);
    expect(help).toMatch(/--insecure +plaintext, no TLS: clients must use/);
    expect(help).not.toMatch(/--server|--home/);
  });
});
