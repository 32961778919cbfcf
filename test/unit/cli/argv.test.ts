// argv → options for every command, through main.ts's own parser (global options, strict
// mode, operand marking) and each command's builder and options step, without running it.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { COMMAND_LIST } from '../../../src/cli/commands/list.js';
import { processContext, type CliContext } from '../../../src/cli/context.js';
import { optionsOf } from '../../../src/cli/main.js';

const dir = mkdtempSync(path.join(tmpdir(), 'chat-argv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const busFile = path.join(dir, 'bus');
writeFileSync(busFile, 'redis://127.0.0.1:6399\n');

const HOME = path.join(dir, 'home');
const ALL = ['direct', 'reverse', 'punch', 'relay'];

/** A context with a fixed environment; what the commands say on stderr is kept. */
function context(env: NodeJS.ProcessEnv = {}): CliContext & { errors: string[] } {
  const errors: string[] = [];
  return { ...processContext(), env: { CHAT_HOME: HOME, ...env }, err: (line) => void errors.push(line), out: () => {}, errors };
}

const GLOBALS = { server: '127.0.0.1:7070', home: HOME, verbose: false, insecure: false, json: false };

/** [argv, the command word that runs, the options it runs with (a subset), env]. */
type Case = [string[], string, Record<string, unknown>, NodeJS.ProcessEnv?];

const CASES: Case[] = [
  [['serve'], 'serve', { host: '127.0.0.1', port: 7070, data: './chat-data', quiet: false, insecure: false, store: undefined, limits: { relay: true, relayPlain: true } }],
  [['serve', '--relay', 'off', '--no-relay-plain', '--message-rate', '5', '--relay-rate', '10M', '--login-block', '2m'], 'serve',
    { limits: { relay: false, relayPlain: false, messageRate: 5, relayRate: 10 << 20, loginBlockMs: 120_000 } }],
  [['serve', '--host', '::', '--port', '0', '--registration', 'invite', '--node-id', 'n1'], 'serve', { host: '::', port: 0, registration: 'invite', nodeId: 'n1' }, { CHAT_STORE: 'postgres://db/chat' }],
  [['register', 'alice', '--password-stdin', '--device', 'laptop'], 'register', { ...GLOBALS, user: 'alice', passwordStdin: true, device: 'laptop', invite: undefined }],
  [['register', 'alice'], 'register', { invite: 'c0de' }, { CHAT_INVITE: 'c0de' }],
  [['login', 'Bob', '--server', 'chat.example:7070'], 'login', { user: 'Bob', passwordStdin: false, server: 'chat.example:7070' }],
  [['--insecure', 'logout'], 'logout', { ...GLOBALS, insecure: true }],
  [['whoami', '--json'], 'whoami', { ...GLOBALS, json: true }],
  [['sessions'], 'list', { ...GLOBALS }],
  [['sessions', 'list', '--json'], 'list', { json: true }],
  [['sessions', 'revoke', '7'], 'revoke', { allOthers: false, id: 7 }],
  [['sessions', 'revoke', '--all-others'], 'revoke', { allOthers: true }],
  [['passwd', '--password-stdin'], 'passwd', { ...GLOBALS, passwordStdin: true }],
  [['who'], 'who', { ...GLOBALS }],
  [['send', 'bob', 'hello', 'world'], 'send', { to: 'bob', text: 'hello world', json: false }],
  [['send', '#team', '--', '-n', 'is', 'not', 'an', 'option'], 'send', { to: '#team', text: '-n is not an option' }],
  [['listen', '--json'], 'listen', { json: true }],
  [['history', 'bob'], 'history', { with: 'bob', limit: 50, before: undefined }],
  [['history', 'bob', '--limit', '10', '--before', '99'], 'history', { with: 'bob', limit: 10, before: 99 }],
  [['send-file', 'bob', 'a.txt'], 'send-file', { to: 'bob', paths: ['a.txt'], port: 0, timeoutMs: 600_000, timeoutText: '10m', parallel: 4, limitRate: 0, via: ALL, verify: false, insecurePeer: false, followSymlinks: false, waitAll: false, json: false, advertise: [], advertiseOnly: false }],
  [['send-file', 'bob', 'a', 'b', '--via', 'relay', '--limit-rate', '1M', '--parallel', '2', '--timeout', '90s'], 'send-file', { paths: ['a', 'b'], via: ['relay'], limitRate: 1 << 20, parallel: 2, timeoutMs: 90_000, timeoutText: '1m30s' }],
  [['send-file', '#team', 'x', '--wait-all', '--verify-code', '123 456 789'], 'send-file', { to: '#team', waitAll: true, verify: true, verifyCode: '123 456 789' }],
  [['send-file', 'bob', 'x', '--bind', '127.0.0.1', '--advertise', '10.0.0.2', '--advertise-only', '--port', '4000', '--follow-symlinks', '--insecure-peer'], 'send-file', { bind: '127.0.0.1', advertise: ['10.0.0.2'], advertiseOnly: true, port: 4000, followSymlinks: true, insecurePeer: true }],
  [['offers'], 'offers', { ...GLOBALS }],
  [['accept'], 'accept', { id: undefined, dir: path.resolve('.'), all: false, wait: false, parallel: 4, limitRate: 0, via: ALL, verify: false, forceCopy: false, json: false }],
  [['accept', 'k7m2pqxa', '--dir', '/tmp/in', '--force-copy', '--via', 'direct'], 'accept', { id: 'k7m2pqxa', dir: '/tmp/in', forceCopy: true, via: ['direct'] }],
  [['accept', '--all', '--wait', '--verify', '--json', '--limit-rate', '500K'], 'accept', { all: true, wait: true, verify: true, json: true, limitRate: 512_000 }],
  [['reject', 'k7m2pqxa', '--reason', 'not now'], 'reject', { id: 'k7m2pqxa', reason: 'not now' }],
  [['group', 'create', '#team', '--private'], 'create', { group: 'team', private: true }],
  [['group', 'create', 'team'], 'create', { group: 'team', private: false }],
  [['group', 'join', '#team'], 'join', { group: 'team' }],
  [['group', 'leave', 'team'], 'leave', { group: 'team' }],
  [['group', 'members', 'team', '--json'], 'members', { group: 'team', json: true }],
  [['group', 'list'], 'list', { ...GLOBALS }],
  [['group', 'invites'], 'invites', { ...GLOBALS }],
  [['group', 'invite', '#team', 'bob'], 'invite', { group: 'team', user: 'bob' }],
  [['group', 'kick', 'team', 'bob'], 'kick', { group: 'team', user: 'bob' }],
  [['group', 'delete', '#team'], 'delete', { group: 'team' }],
  [['friend', 'add', 'bob'], 'add', { user: 'bob' }],
  [['friend', 'accept', 'bob'], 'accept', { user: 'bob' }],
  [['friend', 'decline', 'bob'], 'decline', { user: 'bob' }],
  [['friend', 'remove', 'bob'], 'remove', { user: 'bob' }],
  [['friend', 'note', 'bob', 'met', 'at', 'FOSDEM'], 'note', { user: 'bob', note: 'met at FOSDEM' }],
  [['friend', 'list', '--json'], 'list', { json: true }],
  [['block', 'mallory'], 'block', { user: 'mallory' }],
  [['unblock', 'mallory'], 'unblock', { user: 'mallory' }],
  [['blocked'], 'blocked', { ...GLOBALS }],
  [['users', 'search', 'al'], 'search', { prefix: 'al' }],
  [['verify', 'bob'], 'verify', { user: 'bob', device: undefined, yes: false, code: undefined }],
  [['verify', 'bob', '--device', 'phone', '--code', '12345 67890', '--yes'], 'verify', { user: 'bob', device: 'phone', yes: true, code: '12345 67890' }],
  [['trust'], 'trust', { target: undefined, fingerprint: undefined, device: undefined }],
  [['trust', 'chat.example:7070', '--fingerprint', 'AB:CD'], 'trust', { target: 'chat.example:7070', fingerprint: 'AB:CD' }],
  [['trust', 'bob', '--device', 'phone'], 'trust', { target: 'bob', device: 'phone' }],
  [['admin', 'invite'], 'invite', { data: './chat-data', uses: 1, expiresMs: 7 * 86_400_000, json: false }],
  [['admin', 'invite', '--data', '/srv/chat', '--uses', '3', '--expires', '12h'], 'invite', { data: '/srv/chat', uses: 3, expiresMs: 12 * 3_600_000 }],
  [['admin', 'nodes', '--bus-file', busFile], 'nodes', { bus: 'redis://127.0.0.1:6399', json: false }],
  [['admin', 'nodes'], 'nodes', { bus: 'redis://h:1' }, { CHAT_BUS: 'redis://h:1' }],
  [['admin', 'user', 'disable', 'bob'], 'user', { action: 'disable', name: 'bob', data: './chat-data', passwordStdin: false, store: undefined }],
  [['admin', 'user', 'reset-password', 'bob', '--password-stdin', '--data', '/srv/chat'], 'user', { action: 'reset-password', passwordStdin: true, data: '/srv/chat' }],
  [[], '$0', { ...GLOBALS, network: { bind: undefined, advertise: [], advertiseOnly: false } }],
  [['--advertise', '10.0.0.2', '--advertise', 'me.example', '--bind', '0.0.0.0'], '$0', { network: { bind: '0.0.0.0', advertise: ['10.0.0.2', 'me.example'], advertiseOnly: false } }],
];

/** [argv, what the one-line error says]: refused before anything connects or opens. */
const REFUSED: [string[], string | RegExp][] = [
  [['serve', '--json'], 'chat serve has no --json output'],
  [['serve', '--message-rate', 'many'], 'bad --message-rate "many"'],
  [['serve', '--relay', 'maybe'], /Invalid values/],
  [['register', 'alice', '--invite', '-', '--password-stdin'], '--password-stdin and --invite - both read stdin'],
  [['sessions', 'revoke'], 'give a session id (see chat sessions) or --all-others'],
  [['sessions', 'revoke', 'x1'], 'bad session id "x1"'],
  [['history', 'bob', '--limit', '0'], '--limit must be a positive integer'],
  [['send-file', 'bob', 'x', '--port', '70000'], '--port must be 0-65535'],
  [['send-file', 'bob', 'x', '--parallel', '0'], '--parallel must be 1-64'],
  [['send-file', 'bob', 'x', '--advertise-only'], '--advertise-only needs at least one --advertise HOST'],
  [['send-file', 'bob', 'x', '--timeout', 'soon'], 'bad --timeout "soon"'],
  [['send-file', 'bob'], /Not enough non-option arguments/],
  [['accept', '--bogus'], /Unknown argument/],
  [['group', 'create'], /Not enough non-option arguments/],
  [['admin', 'invite', '--uses', '0'], 'bad --uses 0'],
  [['admin', 'user', 'explode', 'bob'], /Invalid values/],
  [['--json'], 'the interactive chat has no --json output'],
  [['--advertise-only'], '--advertise-only needs at least one --advertise HOST'],
];

describe('argv → options', () => {
  it.each(CASES)('%j runs %s', async (argv, command, expected, env) => {
    const got = await optionsOf(argv, context(env));
    expect(got.command).toBe(command);
    expect(got.options).toMatchObject(expected);
  });

  it.each(REFUSED)('%j is refused: %s', async (argv, message) => {
    await expect(optionsOf(argv, context())).rejects.toThrow(message);
  });

  it('covers every command and subcommand', () => {
    const ran = new Set(CASES.map(([argv]) => argv.filter((w) => !w.startsWith('-'))[0] ?? '$0'));
    for (const name of Object.keys(COMMAND_LIST)) expect(ran, name).toContain(name);
    for (const [name, entry] of Object.entries(COMMAND_LIST)) {
      const subs = 'subcommands' in entry ? entry.subcommands : [];
      const tried = new Set(CASES.filter(([argv]) => argv[0] === name).map(([argv]) => argv[1]));
      for (const sub of subs) expect(tried, `${name} ${sub}`).toContain(sub);
    }
  });

  it('warns when a secret is given on argv, and still takes it', async () => {
    const ctx = context();
    const got = await optionsOf(['register', 'alice', '--invite', 'c0de'], ctx);
    expect(got.options).toMatchObject({ invite: 'c0de' });
    expect(ctx.errors.join('\n')).toContain('--invite on the command line can be seen by other users');
  });
});
