// The built CLI (`node bin/chat ...`) as child processes against `chat serve`, also a child.
// Run `npm run build` first. Every wait is for an output line or an exit, with a bound.
import { rm } from 'node:fs/promises';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatClient } from '../../src/client/client.js';
import type { ChatMessage } from '../../src/protocol/messages.js';
import { runCli, spawnCli, tempHome, type CliResult, type SpawnedCli } from '../helpers/cli.js';
import { spawnServer, type SpawnedServer } from '../helpers/server.js';

const PASSWORD = 'correct horse';
const CLOCK = '\\d{2}:\\d{2}:\\d{2}';

let srv: SpawnedServer;
const homes: string[] = [];
const running: SpawnedCli[] = [];
let aliceHome: string;
let bobHome: string;

async function home(): Promise<string> {
  const h = await tempHome();
  homes.push(h);
  return h;
}

function chat(args: string[], h: string, extra: { input?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return runCli(args, { home: h, server: srv.address, ...extra });
}

function spawnChat(args: string[], h: string): SpawnedCli {
  const cli = spawnCli(args, { home: h, server: srv.address, timeoutMs: 30_000 });
  running.push(cli);
  return cli;
}

/** Asserts a clean exit 0 and returns stdout's lines. */
function ok(r: CliResult): string[] {
  expect(r.code, `exit code; stderr: ${r.stderr}`).toBe(0);
  return r.stdout.split('\n').filter(Boolean);
}

/** A library client logged in as `user` on the CLI's server (to seed or check state quickly). */
async function libClient(user: string): Promise<ChatClient> {
  const client = await ChatClient.connect({ host: '127.0.0.1', port: srv.port, tls: srv.tls, timeoutMs: 5_000 });
  await client.login(user, PASSWORD);
  return client;
}

/** A fresh CHAT_HOME with `user` registered in it. */
async function registeredHome(user: string): Promise<string> {
  const h = await home();
  ok(await chat(['register', user], h, { env: { CHAT_PASSWORD: PASSWORD } }));
  return h;
}

beforeAll(async () => {
  srv = await spawnServer();
  [aliceHome, bobHome] = [await home(), await home()];
  const [a, b] = await Promise.all([
    chat(['register', 'alice'], aliceHome, { env: { CHAT_PASSWORD: PASSWORD } }),
    chat(['register', 'bob', '--password-stdin'], bobHome, { input: `${PASSWORD}\n` }),
  ]);
  expect(ok(a)).toEqual([`registered alice on ${srv.address} and logged in`]);
  expect(ok(b)).toEqual([`registered bob on ${srv.address} and logged in`]);
});

afterAll(async () => {
  for (const cli of running.splice(0)) cli.kill('SIGKILL');
  const code = await srv?.stop();
  await Promise.all(homes.map((h) => rm(h, { recursive: true, force: true })));
  if (srv) await rm(srv.dataDir, { recursive: true, force: true });
  expect(code).toBe(0);
});

describe('accounts', () => {
  it('register, login (CHAT_PASSWORD and --password-stdin), whoami, logout', async () => {
    const [carolHome, laptop, phone] = [await home(), await home(), await home()];
    expect(ok(await chat(['register', 'Carol'], carolHome, { env: { CHAT_PASSWORD: PASSWORD } }))).toEqual([
      `registered carol on ${srv.address} and logged in`,
    ]);
    // A taken name, and a wrong password: one line on stderr, non-zero exit.
    const taken = await chat(['register', 'carol'], laptop, { env: { CHAT_PASSWORD: PASSWORD } });
    expect(taken.code).not.toBe(0);
    // This home's first connection to the server pins its certificate, and says so.
    const pinned = `chat: first connection to ${srv.address}: trusting its certificate, SHA-256 ${String((srv.tls as { fingerprint: string }).fingerprint)} (pinned in ${laptop}/known_servers); ` +
      `to check it, compare it with the fingerprint "chat serve" printed, or run "chat trust ${srv.address} --fingerprint THAT" (it refuses if they differ)\n`;
    expect(taken.stderr).toBe(`${pinned}chat: the name carol is taken\n`);
    const wrong = await chat(['login', 'carol', '--password-stdin'], laptop, { input: 'not the password\n' });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toBe('chat: wrong user name or password\n');

    expect(ok(await chat(['login', 'carol', '--password-stdin'], laptop, { input: `${PASSWORD}\n` }))).toEqual([
      `logged in as carol on ${srv.address}`,
    ]);
    expect(ok(await chat(['login', 'CAROL'], phone, { env: { CHAT_PASSWORD: PASSWORD } }))).toEqual([
      `logged in as carol on ${srv.address}`,
    ]);
    expect(ok(await chat(['whoami'], laptop))).toEqual([`carol on ${srv.address}`]);

    expect(ok(await chat(['logout'], laptop))).toEqual([`logged out carol from ${srv.address}`]);
    const after = await chat(['whoami'], laptop);
    expect(after.code).not.toBe(0);
    expect(after.stdout).toBe('');
    expect(after.stderr).toMatch(/^chat: not logged in to 127\.0\.0\.1:\d+/);
    // Only that device's session was revoked.
    expect(ok(await chat(['whoami'], phone))).toEqual([`carol on ${srv.address}`]);
  });

  it('without a password source and no TTY, register fails with a usage error', async () => {
    const r = await chat(['register', 'dave'], await home());
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('chat: no password: use --password-stdin or set CHAT_PASSWORD\n');
  });
});

describe('messages', () => {
  it('listen prints live messages (plain and --json); who shows the listener; send to nobody fails', async () => {
    const plain = spawnChat(['listen'], bobHome);
    const json = spawnChat(['listen', '--json'], bobHome);
    await plain.stderr.waitFor(`listening as bob on ${srv.address}`);
    await json.stderr.waitFor(`listening as bob on ${srv.address}`);

    expect(ok(await chat(['who'], aliceHome))).toEqual(['bob']);
    expect(ok(await chat(['who', '--json'], bobHome))).toEqual([JSON.stringify({ users: ['bob'], friends: [], verified: [] })]);

    const sent = ok(await chat(['send', 'bob', 'hi', 'there'], aliceHome));
    expect(sent).toHaveLength(1);
    const id = Number(/^sent to bob \(id (\d+)\)$/.exec(sent[0]!)?.[1]);
    expect(id).toBeGreaterThan(0);

    const line = await plain.stdout.waitFor('hi there');
    expect(line).toMatch(new RegExp(`^${CLOCK} <alice> hi there$`));
    const event = JSON.parse(await json.stdout.waitFor('"event":"message"')) as ChatMessage & { event: string };
    expect(event).toMatchObject({ event: 'message', id, from: 'alice', to: 'bob', text: 'hi there' });
    // Every stdout line of --json is one JSON object.
    for (const l of json.stdout.lines) expect(() => JSON.parse(l), l).not.toThrow();

    const nobody = await chat(['send', 'carl', 'hello?'], aliceHome);
    expect(nobody.code).not.toBe(0);
    expect(nobody.stdout).toBe('');
    expect(nobody.stderr).toBe('chat: no such user: carl\n');

    plain.kill('SIGTERM');
    json.kill('SIGTERM');
    expect(await plain.exited).toBe(0);
    expect(await json.exited).toBe(0);
  });

  it('chat group invites and group list show an invitation made while offline; join takes it up', async () => {
    const [ivyHome] = [await registeredHome('ivy'), await registeredHome('jack')];
    const jack = await libClient('jack');
    try {
      await jack.groupCreate('hideout', { private: true });
      await jack.groupInvite('hideout', 'ivy');
    } finally {
      await jack.close();
    }
    expect(ok(await chat(['group', 'invites'], ivyHome))).toEqual(['#hideout  invited by jack  private  (chat group join hideout)']);
    expect(ok(await chat(['group', 'list'], ivyHome))).toEqual(['#hideout  1 member(s)  owner jack  private  invited by jack: chat group join hideout']);
    ok(await chat(['group', 'join', 'hideout'], ivyHome));
    const none = await chat(['group', 'invites'], ivyHome);
    expect(ok(none)).toEqual([]);
    expect(none.stderr).toBe('no invitations\n');
  });

  it('send reads the text from stdin ("-" or no text), refuses a blank one; listen does not show our own "online"', async () => {
    const [mia, ned] = [await registeredHome('mia'), await registeredHome('ned')];
    const listener = spawnChat(['listen'], ned);
    await listener.stderr.waitFor('listening as ned');
    ok(await chat(['send', 'ned', '-'], mia, { input: 'from a pipe\nsecond line\n' }));
    ok(await chat(['send', 'ned'], mia, { input: 'no text given\n' }));
    await listener.stdout.waitFor(/<mia> no text given$/);
    const blank = await chat(['send', 'ned', '   '], mia);
    expect(blank.code).toBe(1);
    expect(blank.stderr).toBe('chat: message is empty\n');
    const texts = ok(await chat(['history', 'mia', '--json'], ned)).map((l) => (JSON.parse(l) as ChatMessage).text);
    expect(texts).toEqual(['from a pipe\nsecond line', 'no text given']);
    expect(listener.stdout.lines.some((l) => /\* ned is online/.test(l))).toBe(false);
    listener.kill('SIGTERM');
    expect(await listener.exited).toBe(0);
  });

  it('register checks the password rule before asking again or connecting', async () => {
    const r = await runCli(['register', 'zoe'], { home: await home(), server: '127.0.0.1:1', env: { CHAT_PASSWORD: 'short' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('chat: password must be 8-1024 characters\n');
  });

  it('a mistyped command gets one line naming the closest command, exit 2', async () => {
    const h = await home();
    for (const [typed, meant] of [['sned', 'send'], ['histroy', 'history'], ['sendfile', 'send-file']]) {
      const r = await chat([typed!, 'bob', 'hi'], h);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`chat: unknown command "${typed}"; did you mean "${meant}"? (see chat --help)\n`);
    }
    const far = await chat(['xyzzy'], h);
    expect(far.stderr).toBe('chat: unknown command "xyzzy" (see chat --help)\n');
  });

  it('sends texts that start with "-" and everything after "--" as text (POSIX), keeping option checks before it', async () => {
    const [gina, hank] = [await registeredHome('gina'), await registeredHome('hank')];
    ok(await chat(['send', 'hank', '-5 degrees'], gina));
    ok(await chat(['send', 'hank', '--', '--not-a-flag', '-x'], gina));
    ok(await chat(['send', '--json', 'hank', '--', 'after', '--json'], gina));
    const texts = ok(await chat(['history', 'gina', '--json'], hank)).map((l) => (JSON.parse(l) as ChatMessage).text);
    expect(texts).toEqual(['-5 degrees', '--not-a-flag -x', 'after --json']);
    const typo = await chat(['send', 'hank', 'hi', '--jsn'], gina);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/Unknown argument: jsn/);
  });

  it('history prints the conversation oldest first; --json one object per line; --limit/--before page back', async () => {
    const [erinHome, frankHome] = [await home(), await home()];
    await Promise.all([
      chat(['register', 'erin'], erinHome, { env: { CHAT_PASSWORD: PASSWORD } }).then(ok),
      chat(['register', 'frank'], frankHome, { env: { CHAT_PASSWORD: PASSWORD } }).then(ok),
    ]);
    const erin = await libClient('erin');
    const sent: ChatMessage[] = [];
    try {
      for (let i = 1; i <= 5; i++) sent.push(await erin.send('frank', `note ${i}`));
    } finally {
      await erin.close();
    }

    const all = ok(await chat(['history', 'erin', '--json'], frankHome)).map((l) => JSON.parse(l) as ChatMessage);
    expect(all).toEqual(sent);

    const page = await chat(['history', 'erin', '--limit', '2'], frankHome);
    const lines = ok(page);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^${sent[3]!.id} \\d{4}-\\d{2}-\\d{2} ${CLOCK} <erin> note 4$`));
    expect(lines[1]).toMatch(new RegExp(`^${sent[4]!.id} .* <erin> note 5$`));
    expect(page.stderr).toBe(`older messages: chat history erin --before ${sent[3]!.id}\n`);

    const older = ok(await chat(['history', 'erin', '--json', '--limit', '2', '--before', String(sent[3]!.id)], frankHome));
    expect(older.map((l) => (JSON.parse(l) as ChatMessage).text)).toEqual(['note 2', 'note 3']);
  });

  it('interactive mode: /msg, /to then a plain line, /who, then EOF ends it (typed after the session is ready)', async () => {
    const cli = spawnChat([], aliceHome);
    await cli.stdout.waitFor(`* connected to ${srv.address} as alice; /help for commands`);
    cli.write('/msg bob typed message');
    await cli.stdout.waitFor(new RegExp(`^${CLOCK} <alice> typed message$`));
    cli.write('/to bob');
    await cli.stdout.waitFor('* talking to bob');
    cli.write('a plain line');
    await cli.stdout.waitFor(new RegExp(`^${CLOCK} <alice> a plain line$`));
    cli.write('/who');
    await cli.stdout.waitFor(/^\* online: .*alice/);
    cli.end();
    expect(await cli.exited).toBe(0);
    expect(cli.stderr.lines).toEqual([]);
    expect(await lastMessages('bob', 'alice', 2)).toEqual(['typed message', 'a plain line']);
  });

  it('interactive mode: `/msg bob hi` piped on stdin, then EOF, delivers the message and exits 0', async () => {
    // stdin is written and closed at once, as with `echo "/msg bob hi" | chat`: the lines and the
    // EOF may well arrive before the session has connected and subscribed, and must not be lost.
    const r = await runCli([], { home: aliceHome, server: srv.address, input: '/msg bob hi from a pipe\n', timeoutMs: 8_000 });
    const lines = ok(r);
    expect(lines).toContain(`* connected to ${srv.address} as alice; /help for commands`);
    expect(lines.some((l) => new RegExp(`^${CLOCK} <alice> hi from a pipe$`).test(l))).toBe(true);
    expect(await lastMessages('bob', 'alice', 1)).toEqual(['hi from a pipe']);
  });
});

/** The texts of the last `n` messages between `user` and `other`, read with the library client. */
async function lastMessages(user: string, other: string, n: number): Promise<string[]> {
  const client = await libClient(user);
  try {
    return (await client.history(other, { limit: n })).messages.map((m) => m.text);
  } finally {
    await client.close();
  }
}

describe('errors and lifecycle', () => {
  it('groups and contacts: create, join, post to #name, listen, history, members, friends first in who', async () => {
    const listener = spawnChat(['listen'], bobHome);
    await listener.stderr.waitFor('listening as bob');
    expect(ok(await chat(['group', 'create', 'ops'], aliceHome))).toEqual(['created group #ops']);
    expect(ok(await chat(['group', 'join', '#ops'], bobHome))).toEqual(['joined #ops']);
    await listener.stdout.waitFor('#ops: bob joined');
    ok(await chat(['send', '#ops', 'deploy', 'at', 'noon'], aliceHome));
    expect(await listener.stdout.waitFor('deploy at noon')).toMatch(new RegExp(`^${CLOCK} #ops <alice> deploy at noon$`));
    expect(ok(await chat(['history', '#ops'], bobHome)).at(-1)).toMatch(/#ops <alice> deploy at noon$/);
    expect(ok(await chat(['group', 'members', 'ops'], aliceHome))).toEqual(['alice (owner)', 'bob  online']);
    expect(ok(await chat(['group', 'list'], bobHome))).toEqual(['#ops  2 member(s)  owner alice  (joined)']);
    const kick = await chat(['group', 'kick', 'ops', 'alice'], bobHome);
    expect(kick.code).toBe(1);
    expect(kick.stderr).toBe('chat: only the owner of #ops (alice) can kick members\n');

    expect(ok(await chat(['friend', 'add', 'bob'], aliceHome))).toEqual(['friend request sent to bob']);
    await listener.stdout.waitFor('alice wants to be your friend');
    expect(ok(await chat(['friend', 'list'], bobHome))).toEqual(['alice  wants to be your friend: chat friend accept']);
    ok(await chat(['friend', 'accept', 'alice'], bobHome));
    ok(await chat(['friend', 'note', 'bob', 'from', 'work'], aliceHome));
    expect(ok(await chat(['friend', 'list'], aliceHome))).toEqual(['bob  online  "from work"']);
    expect(ok(await chat(['users', 'search', 'B'], aliceHome))).toEqual(['bob']);
    const extra = spawnChat(['listen'], await registeredHome('aaron'));
    await extra.stderr.waitFor('listening as aaron');
    expect(ok(await chat(['who'], aliceHome))).toEqual(['bob (friend)', 'aaron']);
    listener.kill('SIGTERM');
    extra.kill('SIGTERM');
    expect(await listener.exited).toBe(0);
    expect(await extra.exited).toBe(0);
  });

  it('listen waits for a server that is down and survives a restart, printing each message once (issue 27, item 8)', async () => {
    let own = await spawnServer();
    const { port, dataDir } = own;
    try {
      const [kim, lee] = [await home(), await home()];
      for (const [h, u] of [[kim, 'kim'], [lee, 'lee']] as const) {
        const r = await runCli(['register', u], { home: h, server: own.address, env: { CHAT_PASSWORD: PASSWORD } });
        expect(r.code, r.stderr).toBe(0);
      }
      const listenTo = (h: string) => {
        const c = spawnCli(['listen'], { home: h, server: own.address, timeoutMs: 60_000 });
        running.push(c);
        return c;
      };
      const sendAs = async (text: string) => expect((await runCli(['send', 'kim', text], { home: lee, server: own.address })).code).toBe(0);
      const listener = listenTo(kim);
      await listener.stderr.waitFor('listening as kim');
      await sendAs('before');
      await listener.stdout.waitFor(/<lee> before$/);

      expect(await own.stop()).toBe(0);
      await listener.stderr.waitFor(`chat: lost the connection to 127.0.0.1:${port}; reconnecting…`);
      const late = listenTo(kim); // started while the server is down
      await late.stderr.waitFor(/waiting for the server…$/);
      own = await spawnServer({ port, dataDir });
      await listener.stderr.waitFor(`chat: reconnected to 127.0.0.1:${port}`);
      await late.stderr.waitFor('listening as kim');
      await sendAs('after the restart');
      await listener.stdout.waitFor(/<lee> after the restart$/);
      await late.stdout.waitFor(/<lee> after the restart$/);
      expect(listener.stdout.lines.filter((l) => l.endsWith('<lee> before'))).toHaveLength(1);
      for (const c of [listener, late]) c.kill('SIGTERM');
      expect(await listener.exited).toBe(0);
      expect(await late.exited).toBe(0);
    } finally {
      await own.stop();
    }
  });

  it('an unreachable server is one line on stderr, no stack trace, non-zero exit', async () => {
    // A port that was free a moment ago and has no listener now.
    const probe = createTcpServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    const r = await runCli(['register', 'zed'], { home: await home(), server: `127.0.0.1:${port}`, env: { CHAT_PASSWORD: PASSWORD } });
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBeNull();
    expect(r.stdout).toBe('');
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`cannot reach server at 127.0.0.1:${port}`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('chat serve tells clients and exits 0 on SIGTERM; its data survives a restart', async () => {
    const own = await spawnServer();
    const dataDir = own.dataDir;
    try {
      const client = await ChatClient.connect({ host: '127.0.0.1', port: own.port, tls: own.tls, timeoutMs: 5_000 });
      await client.register('gina', PASSWORD);
      await client.subscribe();
      const shutdown = new Promise<{ reason: string }>((resolve) => client.once('shutdown', resolve));
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      expect(await own.stop('SIGTERM')).toBe(0);
      expect(await shutdown).toEqual({ reason: 'server shutting down' });
      await closed;
      await own.output.waitFor('chat server stopped');
      expect(own.output.lines).toContain('chat server stopped');

      const again = await spawnServer({ dataDir });
      try {
        const h = await home();
        const r = await runCli(['login', 'gina'], { home: h, server: again.address, env: { CHAT_PASSWORD: PASSWORD } });
        expect(ok(r)).toEqual([`logged in as gina on ${again.address}`]);
      } finally {
        expect(await again.stop('SIGINT')).toBe(0);
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
