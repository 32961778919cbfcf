// Sessions (issue 25, finding 8): a stolen token must not stay valid forever. Idle sessions
// expire, the owner sees and revokes sessions, a password change logs out every other device,
// and the operator disables, deletes or resets an account, all effective at once: live
// connections of revoked sessions are closed, not only future logins refused. Real servers on
// port 0, real sockets, the built CLI as a child process for `chat admin user` and the CLI
// commands; the server's clock is moved instead of sleeping.
import { afterEach, describe, expect, it } from 'vitest';
import { LocalBus } from '../../src/bus/local.js';
import { ChatClient } from '../../src/client/client.js';
import type { ClientError } from '../../src/client/errors.js';
import { createServer, type ChatServer } from '../../src/server/server.js';
import type { ServerLimits } from '../../src/server/options.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { runCli, tempHome, type CliResult } from '../helpers/cli.js';
import { startServer, tempDir, type ServerTarget, type TestServer } from '../helpers/server.js';

const PASSWORD = 'correct horse';
const NEW_PASSWORD = 'battery staple';
const DAY = 24 * 3_600_000;
const T0 = 1_763_900_000_000;

const servers: TestServer[] = [];
const clients: ChatClient[] = [];
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
  for (const s of servers.splice(0)) await s.cleanup();
  for (const c of cleanups.splice(0)) await c();
});

let clock = T0;

async function server(limits: Partial<ServerLimits> = {}, opts: { tls?: boolean } = {}): Promise<TestServer> {
  clock = T0;
  const ts = await startServer({ limits, now: () => clock, ...opts });
  servers.push(ts);
  return ts;
}

async function connect(ts: ServerTarget): Promise<ChatClient> {
  const c = await ChatClient.connect({ host: ts.host, port: ts.port, tls: ts.tls, timeoutMs: 5000 });
  clients.push(c);
  return c;
}

async function login(ts: ServerTarget, user: string, device?: string, password = PASSWORD): Promise<{ client: ChatClient; token: string }> {
  const client = await connect(ts);
  const { token } = await client.login(user, password, device);
  return { client, token };
}

/** A new connection resuming `token`: its user, or the error code. */
async function auth(ts: ServerTarget, token: string): Promise<string> {
  const c = await connect(ts);
  try {
    return (await c.auth(token)).user;
  } catch (err) {
    return (err as ClientError).code;
  } finally {
    await c.close();
  }
}

/** A fresh connection's login: the user, or the error code. */
async function tryLogin(ts: ServerTarget, user: string, password: string): Promise<string> {
  const c = await connect(ts);
  try {
    return (await c.login(user, password)).user;
  } catch (err) {
    return (err as ClientError).code;
  } finally {
    await c.close();
  }
}

/** Resolves with the error `client`'s connection was closed with; rejects if it stays open `ms`. */
function closedWithin(client: ChatClient, ms: number): Promise<ClientError | undefined> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`connection still open after ${ms} ms`)), ms);
    client.once('close', (err) => {
      clearTimeout(timer);
      resolve(err);
    });
  });
}

/** `chat ...args` as a child process. */
function chat(args: string[], opts: { home: string; server?: string; input?: string }): Promise<CliResult> {
  return runCli(args, { ...opts, insecure: true });
}

describe('sessions', () => {
  it('expires a session unused for sessionIdleMs (default 90 days); each use keeps it alive', async () => {
    const ts = await server();
    const { token } = await (await connect(ts)).register('alice', PASSWORD);
    clock += 89 * DAY;
    expect(await auth(ts, token)).toBe('alice'); // used: seen again
    clock += 89 * DAY;
    expect(await auth(ts, token)).toBe('alice'); // 178 days old, but used 89 days ago
    clock += 91 * DAY;
    expect(await auth(ts, token)).toBe('unauthorized');
    clock -= 91 * DAY; // the expired session was deleted, not only refused
    expect(await auth(ts, token)).toBe('unauthorized');
  });

  it('honours a shorter sessionIdleMs', async () => {
    const ts = await server({ sessionIdleMs: 10 * 60_000 });
    const { token } = await (await connect(ts)).register('alice', PASSWORD);
    clock += 11 * 60_000;
    expect(await auth(ts, token)).toBe('unauthorized');
  });

  it('lists the sessions with their device names, printable only, and which one is this device', async () => {
    const ts = await server();
    await (await connect(ts)).register('alice', PASSWORD, undefined, 'laptop');
    clock += 1000;
    const phone = await login(ts, 'alice', 'phone\u001b[2J\u202egnp.exe\nfake line\u0000' + 'x'.repeat(500));
    const sessions = await phone.client.sessions();
    expect(sessions).toHaveLength(2);
    expect(sessions[1]).toMatchObject({ device: 'laptop', createdAt: T0, current: false, address: '127.0.0.1' });
    const device = sessions[0]!.device;
    expect(sessions[0]).toMatchObject({ current: true, lastSeenAt: T0 + 1000 });
    expect(device.startsWith('phone [2J gnp.exe fake line x')).toBe(true);
    expect(device).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
    expect([...device].length).toBeLessThanOrEqual(64);
  });

  it('revoking a session closes its live connection at once (not at the next poll) and its token stops working', async () => {
    const ts = await server({ revocationPollMs: 60_000 });
    await (await connect(ts)).register('alice', PASSWORD, undefined, 'laptop');
    const laptop = await login(ts, 'alice', 'laptop');
    const stolen = await login(ts, 'alice', 'attacker');
    await stolen.client.subscribe();
    const spare = await login(ts, 'alice', 'spare');
    const id = (await laptop.client.sessions()).find((s) => s.device === 'attacker')!.id;
    const closed = closedWithin(stolen.client, 2000);
    await expect(laptop.client.revokeSession(id)).resolves.toBe(1);
    expect(await closed).toMatchObject({ code: 'unauthorized', message: expect.stringContaining('revoked') });
    expect(await auth(ts, stolen.token)).toBe('unauthorized');
    expect(await auth(ts, spare.token)).toBe('alice');
    await expect(laptop.client.revokeSession(id)).rejects.toMatchObject({ code: 'no_such_session' });
    // Revoking all the others leaves this one.
    expect(await laptop.client.revokeOtherSessions()).toBeGreaterThanOrEqual(2);
    expect(await auth(ts, spare.token)).toBe('unauthorized');
    expect(await auth(ts, laptop.token)).toBe('alice');
  });

  it("does not revoke another user's session by its id", async () => {
    const ts = await server();
    await (await connect(ts)).register('alice', PASSWORD);
    const bob = await (await connect(ts)).register('bob', PASSWORD);
    const alice = await login(ts, 'alice');
    const bobsId = (await (await login(ts, 'bob')).client.sessions()).find((s) => !s.current)!.id;
    await expect(alice.client.revokeSession(bobsId)).rejects.toMatchObject({ code: 'no_such_session' });
    expect(await auth(ts, bob.token)).toBe('bob');
  });

  it('a password change revokes every other session at once; the old password fails, the new one works', async () => {
    const ts = await server({ revocationPollMs: 60_000 });
    await (await connect(ts)).register('alice', PASSWORD);
    const me = await login(ts, 'alice', 'laptop');
    const other = await login(ts, 'alice', 'stolen');
    const closed = closedWithin(other.client, 2000);
    await expect(me.client.changePassword('wrong password', NEW_PASSWORD)).rejects.toMatchObject({ code: 'bad_credentials' });
    expect(await me.client.changePassword(PASSWORD, NEW_PASSWORD)).toBeGreaterThanOrEqual(2);
    expect(await closed).toMatchObject({ code: 'unauthorized', message: expect.stringContaining('password was changed') });
    expect(await auth(ts, other.token)).toBe('unauthorized');
    expect(await auth(ts, me.token)).toBe('alice');
    expect(await tryLogin(ts, 'alice', PASSWORD)).toBe('bad_credentials');
    expect(await tryLogin(ts, 'alice', NEW_PASSWORD)).toBe('alice');
  });

  it('a stolen token does not buy unlimited guesses at the password: parallel attempts are counted before the hash', async () => {
    const ts = await server({ maxLoginFailures: 3 });
    const { token } = await (await connect(ts)).register('alice', PASSWORD);
    const conns = await Promise.all(Array.from({ length: 8 }, () => connect(ts)));
    await Promise.all(conns.map((c) => c.auth(token)));
    const codes = await Promise.all(conns.map((c, i) => c.changePassword(`guess number ${i}`, NEW_PASSWORD).then(() => 'ok', (err: ClientError) => err.code)));
    expect(codes.filter((c) => c === 'bad_credentials')).toHaveLength(3);
    expect(codes.filter((c) => c === 'rate_limited')).toHaveLength(5);
    // Even the right password waits out the block.
    await expect(conns[0]!.changePassword(PASSWORD, NEW_PASSWORD)).rejects.toMatchObject({ code: 'rate_limited' });
  });

  it('a revocation on one node closes the connections on another at once (through the bus, not its poll)', async () => {
    const dir = await tempDir('chat-sessions-');
    const store = new SqliteStore(dir);
    const bus = new LocalBus();
    const nodes: ChatServer[] = [];
    cleanups.push(async () => {
      for (const n of nodes) await n.close();
      await store.close();
    });
    const targets: ServerTarget[] = [];
    for (const node of ['a', 'b']) {
      const s = createServer({ store, bus, node, revocationPollMs: node === 'b' ? 60_000 : 200 });
      nodes.push(s);
      targets.push({ host: '127.0.0.1', port: (await s.listen(0)).port, tls: false });
    }
    const [a, b] = targets as [ServerTarget, ServerTarget];
    await (await connect(a)).register('alice', PASSWORD);
    const onA = await login(a, 'alice', 'laptop');
    const onB = await login(b, 'alice', 'phone');
    const closed = closedWithin(onB.client, 2000);
    await onA.client.revokeOtherSessions();
    expect(await closed).toMatchObject({ code: 'unauthorized' });
  });
});

describe('chat sessions and chat passwd (the built CLI)', () => {
  it('lists sessions with device names, revokes one, and passwd from stdin logs out the others', async () => {
    const ts = await server({}, { tls: false });
    const [home1, home2] = [await tempHome(), await tempHome()];
    const r1 = await chat(['register', 'alice', '--password-stdin', '--device', 'laptop'], { home: home1, server: ts.address, input: `${PASSWORD}\n` });
    expect(r1.code, r1.stderr).toBe(0);
    const r2 = await chat(['login', 'alice', '--password-stdin'], { home: home2, server: ts.address, input: `${PASSWORD}\n` });
    expect(r2.code, r2.stderr).toBe(0);
    const list = await chat(['sessions'], { home: home1, server: ts.address });
    expect(list.code, list.stderr).toBe(0);
    const lines = list.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines.find((l) => l.includes('(this device)'))).toContain('laptop');
    const otherId = /^\s*(\d+)/.exec(lines.find((l) => !l.includes('(this device)'))!)![1]!;
    const json = JSON.parse((await chat(['sessions', '--json'], { home: home2, server: ts.address })).stdout) as { sessions: { device: string }[] };
    expect(json.sessions.map((s) => s.device)).toContain('laptop');

    const revoke = await chat(['sessions', 'revoke', otherId], { home: home1, server: ts.address });
    expect(revoke.code, revoke.stderr).toBe(0);
    const gone = await chat(['whoami'], { home: home2, server: ts.address });
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toContain('expired or was revoked');

    expect((await chat(['login', 'alice', '--password-stdin'], { home: home2, server: ts.address, input: `${PASSWORD}\n` })).code).toBe(0);
    const passwd = await chat(['passwd', '--password-stdin'], { home: home1, server: ts.address, input: `${PASSWORD}\n${NEW_PASSWORD}\n` });
    expect(passwd.code, passwd.stderr).toBe(0);
    expect(passwd.stdout).toContain('1 other session logged out');
    expect((await chat(['whoami'], { home: home2, server: ts.address })).code).not.toBe(0);
    expect(await tryLogin(ts, 'alice', NEW_PASSWORD)).toBe('alice');
    // Without a terminal and without --password-stdin it refuses (never a password on argv).
    const noTty = await chat(['passwd'], { home: home1, server: ts.address });
    expect(noTty.code).toBe(2);
    expect(noTty.stderr).toContain('--password-stdin');
  });
});

describe('chat admin user (the built CLI, another process, on the running server\'s data)', () => {
  async function admin(ts: TestServer, args: string[], input?: string): Promise<CliResult> {
    return chat(['admin', 'user', ...args, '--data', ts.dataDir], { home: await tempHome(), input });
  }

  it('disable closes the live connections (the revocation poll, not a reconnect) and blocks login; enable restores it', async () => {
    const ts = await server();
    await (await connect(ts)).register('alice', PASSWORD);
    await (await connect(ts)).register('bob', PASSWORD);
    const alice = await login(ts, 'alice');
    await alice.client.subscribe();
    const bob = await login(ts, 'bob');
    const closed = closedWithin(alice.client, 5000);
    const r = await admin(ts, ['disable', 'Alice']);
    expect(r.code, r.stderr).toBe(0);
    // Closed by the server with the reason, while the client did nothing (closedWithin's 5 s is a
    // deadline for a stuck test, not a measure of speed: that is revocationPollMs, 1 s).
    expect(await closed).toMatchObject({ code: 'account_disabled' });
    expect(await auth(ts, alice.token)).toBe('unauthorized');
    expect(await tryLogin(ts, 'alice', PASSWORD)).toBe('account_disabled');
    expect(await tryLogin(ts, 'alice', 'wrong password')).toBe('bad_credentials'); // says nothing without the password
    expect(await bob.client.who()).toEqual(expect.any(Array)); // others unaffected

    expect((await admin(ts, ['enable', 'alice'])).code).toBe(0);
    expect(await tryLogin(ts, 'alice', PASSWORD)).toBe('alice');
  });

  it('delete closes the connections, and the name can neither log in nor be registered again', async () => {
    const ts = await server();
    await (await connect(ts)).register('alice', PASSWORD);
    const alice = await login(ts, 'alice');
    const closed = closedWithin(alice.client, 5000);
    const r = await admin(ts, ['delete', 'alice']);
    expect(r.code, r.stderr).toBe(0);
    expect(await closed).toMatchObject({ code: 'unauthorized', message: expect.stringContaining('deleted') });
    expect(await tryLogin(ts, 'alice', PASSWORD)).toBe('bad_credentials');
    await expect((await connect(ts)).register('alice', PASSWORD)).rejects.toMatchObject({ code: 'name_taken' });
    const again = await admin(ts, ['enable', 'alice']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('stays deleted');
  });

  it('reset-password (read from stdin, never argv) sets the password and revokes every session', async () => {
    const ts = await server();
    await (await connect(ts)).register('alice', PASSWORD);
    const alice = await login(ts, 'alice');
    const closed = closedWithin(alice.client, 5000);
    const r = await admin(ts, ['reset-password', 'alice', '--password-stdin'], `${NEW_PASSWORD}\n`);
    expect(r.code, r.stderr).toBe(0);
    expect(await closed).toMatchObject({ code: 'unauthorized', message: expect.stringContaining('reset the password') });
    expect(await auth(ts, alice.token)).toBe('unauthorized');
    expect(await tryLogin(ts, 'alice', PASSWORD)).toBe('bad_credentials');
    expect(await tryLogin(ts, 'alice', NEW_PASSWORD)).toBe('alice');
    const noUser = await admin(ts, ['disable', 'nobody']);
    expect(noUser.code).toBe(1);
    expect(noUser.stderr).toContain('no user nobody');
  });
});
