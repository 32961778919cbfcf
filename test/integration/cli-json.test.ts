// --json everywhere (issue 27, item 19): every command's output is one JSON object per line, an
// error too ({"event":"error","code","message"} on stdout, the same exit code as without --json),
// and one field name per concept (README "JSON output"). The built CLI against a real server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempHome, type CliResult } from '../helpers/cli.js';
import { startServer, type TestServer } from '../helpers/server.js';

const PASSWORD = 'correct horse';
let srv: TestServer;
let home: string;

function chat(args: string[], h = home, env: Record<string, string> = {}): Promise<CliResult> {
  return runCli(args, { home: h, server: srv.address, env });
}

/** Every stdout line parsed as JSON (a line that is not JSON fails the test). */
function objects(r: CliResult): Record<string, unknown>[] {
  return r.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
}

beforeAll(async () => {
  srv = await startServer();
  home = await tempHome();
});

afterAll(async () => {
  await srv?.cleanup();
});

describe('--json', () => {
  it('register, whoami, login and logout answer with user and server', async () => {
    const reg = await chat(['register', 'jay', '--json'], home, { CHAT_PASSWORD: PASSWORD });
    expect(reg.code, reg.stderr).toBe(0);
    expect(objects(reg)).toEqual([{ user: 'jay', server: srv.address }]);
    const who = await chat(['whoami', '--json']);
    expect(who.code, who.stderr).toBe(0);
    expect(objects(who)).toEqual([{ user: 'jay', server: srv.address }]);
    expect(who.stderr).toBe('');
    const out = await chat(['logout', '--json']);
    expect(objects(out)).toEqual([{ user: 'jay', server: srv.address }]);
    const back = await chat(['login', 'JAY', '--json'], home, { CHAT_PASSWORD: PASSWORD });
    expect(objects(back)).toEqual([{ user: 'jay', server: srv.address }]);
  });

  it('an error from the server is an error object on stdout, with exit code 1 and nothing on stderr', async () => {
    const r = await chat(['send', 'nobody', 'hi', '--json']);
    expect(r.code).toBe(1);
    expect(objects(r)).toEqual([{ event: 'error', code: 'no_such_user', message: 'no such user: nobody' }]);
    expect(r.stderr).toBe('');
    // The same error without --json: one line on stderr, the same exit code.
    const plain = await chat(['send', 'nobody', 'hi']);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toBe('chat: no such user: nobody\n');
  });

  it('bad arguments and unknown commands are code usage with exit 2; not logged in is not_logged_in', async () => {
    const typo = await chat(['sned', 'bob', 'hi', '--json']);
    expect(typo.code).toBe(2);
    expect(objects(typo)).toEqual([{ event: 'error', code: 'usage', message: 'unknown command "sned"; did you mean "send"? (see chat --help)' }]);
    const missing = await chat(['history', '--json']);
    expect(missing.code).toBe(2);
    expect(objects(missing)[0]).toMatchObject({ event: 'error', code: 'usage' });
    const nobody = await chat(['who', '--json'], await tempHome());
    expect(nobody.code).toBe(1);
    expect(objects(nobody)[0]).toMatchObject({ event: 'error', code: 'not_logged_in' });
  });

  it('an unreachable server is code unreachable', async () => {
    const r = await runCli(['register', 'kay', '--json'], { home: await tempHome(), server: '127.0.0.1:1', env: { CHAT_PASSWORD: PASSWORD } });
    expect(r.code).toBe(1);
    expect(objects(r)[0]).toMatchObject({ event: 'error', code: 'unreachable' });
  });

  it('--json after -- is text, not the option', async () => {
    ok(await chat(['register', 'lee'], await tempHome(), { CHAT_PASSWORD: PASSWORD }));
    const r = await chat(['send', 'lee', '--', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^sent to lee \(id \d+\)\n$/);
  });

  it('group list calls a group "group", as every other group command does', async () => {
    expect(objects(await chat(['group', 'create', 'den', '--json']))).toEqual([{ group: 'den', private: false }]);
    const list = objects(await chat(['group', 'list', '--json']))[0] as { groups: Record<string, unknown>[] };
    expect(list.groups).toEqual([expect.objectContaining({ group: 'den', member: true })]);
    expect(list.groups[0]).not.toHaveProperty('name');
  });

  it('chat serve refuses --json in one line', async () => {
    const r = await chat(['serve', '--json', '--port', '0', '--data', await tempHome()]);
    expect(r.code).toBe(2);
    expect(objects(r)).toEqual([{ event: 'error', code: 'usage', message: 'chat serve has no --json output (its lines are a log for people)' }]);
  });
});

function ok(r: CliResult): CliResult {
  expect(r.code, r.stderr).toBe(0);
  return r;
}
