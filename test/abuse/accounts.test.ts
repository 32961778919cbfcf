// Logins and registration under attack (issue 25, findings 2, 3, 8): attempts count when they
// arrive, guesses from other networks do not lock the owner out, password hashing is bounded,
// registration is rate-limited, and connections are counted per network and in all.
// 127.0.x.y stands for another network: each /24 of loopback counts as one (docs/security.md).
import { describe, expect, it } from 'vitest';
import { abuseHarness, type Reply } from './raw-client.js';

const PASSWORD = 'correct horse';
const { server, client } = abuseHarness({ maxLoginDelayMs: 0 });

const codes = (replies: Reply[]) => replies.map((r) => (r.type === 'ok' ? 'ok' : r.code));
const count = (list: (string | undefined)[], code: string) => list.filter((c) => c === code).length;

describe('logins under attack', () => {
  it('evaluates at most the limit of a parallel burst of guesses, and the right password inside the burst does not get in', async () => {
    const ts = await server({ maxLoginFailuresPerUserAddress: 5, loginBackoffMs: 60_000 });
    await (await client(ts)).request('register', { user: 'alice', password: PASSWORD });
    const guessers = await Promise.all(Array.from({ length: 20 }, () => client(ts, '127.0.0.9')));
    // 100 guesses at once; the right password is the last one of every connection.
    const replies = await Promise.all(guessers.flatMap((g) =>
      Array.from({ length: 5 }, (_, i) => g.request('login', { user: 'alice', password: i === 4 ? PASSWORD : `guess ${i} wrong` }))));
    const got = codes(replies);
    expect(count(got, 'ok')).toBe(0);
    expect(count(got, 'bad_credentials')).toBeLessThanOrEqual(5);
    expect(count(got, 'rate_limited')).toBeGreaterThanOrEqual(95);
    expect(ts.server.accounts.hashes.stats.computed).toBeLessThanOrEqual(1 + 5); // the registration, then at most 5 guesses
  });

  it('bounds guesses at one account from many networks, and does not lock out its owner on a network it used', async () => {
    const ts = await server({ maxLoginFailures: 10, maxLoginFailuresPerUserAddress: 5, loginBackoffMs: 60_000 });
    const owner = await client(ts);
    expect((await owner.request('register', { user: 'alice', password: PASSWORD })).type).toBe('ok');
    // 20 networks, 5 guesses each, all at once.
    const guessers = await Promise.all(Array.from({ length: 20 }, (_, n) => client(ts, `127.0.${n + 10}.1`)));
    const replies = await Promise.all(guessers.flatMap((g) =>
      Array.from({ length: 5 }, () => g.request('login', { user: 'alice', password: 'not the password' }))));
    const got = codes(replies);
    expect(count(got, 'bad_credentials')).toBeLessThanOrEqual(10);
    // A stranger's next guess, even the right password, waits: the account backs off on new networks...
    const stranger = await client(ts, '127.0.99.1');
    expect(await stranger.request('login', { user: 'alice', password: PASSWORD })).toMatchObject({ code: 'rate_limited' });
    // ...but its owner, on the network it registered from, logs in at once.
    const again = await client(ts);
    expect(await again.request('login', { user: 'alice', password: PASSWORD })).toMatchObject({ type: 'ok', result: { user: 'alice' } });
    // The owner's login does not clear the guesses from elsewhere.
    expect(await (await client(ts, '127.0.98.1')).request('login', { user: 'alice', password: 'yet another guess' })).toMatchObject({ code: 'rate_limited' });
  });

  it('keeps password hashing within its concurrency, refuses a network past its share at once, and still serves others', async () => {
    const ts = await server({ maxConcurrentHashes: 2, maxHashesPerAddress: 2, maxQueuedHashes: 64, maxLoginFailuresPerAddress: 1e9, maxLoginFailures: 1e9, maxLoginFailuresPerUserAddress: 1e9 });
    await (await client(ts, '127.0.5.1')).request('register', { user: 'bob', password: PASSWORD });
    // Six networks flood logins for unknown users (each still costs a hash), ten connections each.
    const flooders = await Promise.all(Array.from({ length: 60 }, (_, n) => client(ts, `127.0.${(n % 6) + 20}.${(n % 10) + 1}`)));
    const flood = Promise.all(flooders.map((f, n) => f.request('login', { user: `nobody${n}`, password: 'whatever it is' })));
    const bob = await client(ts, '127.0.5.1');
    const login = await bob.request('login', { user: 'bob', password: PASSWORD });
    const got = codes(await flood);
    expect(login).toMatchObject({ type: 'ok', result: { user: 'bob' } });
    expect(ts.server.accounts.hashes.stats.peak).toBeLessThanOrEqual(2);
    // Each network had at most 2 hashes at a time: the rest of its burst was refused without hashing.
    expect(count(got, 'rate_limited') + count(got, 'overloaded')).toBeGreaterThanOrEqual(60 - 6 * 2);
  });
});

describe('registration under attack', () => {
  it('rate-limits registrations per network, and in all', async () => {
    const ts = await server({ maxRegistrationsPerAddress: 3, maxRegistrationsPerHour: 5 });
    const got: Reply[] = [];
    for (let i = 0; i < 4; i++) got.push(await (await client(ts)).request('register', { user: `bot${i}`, password: PASSWORD }));
    expect(codes(got)).toEqual(['ok', 'ok', 'ok', 'rate_limited']);
    expect(got[3]!.message).toMatch(/too many registrations from your network/);
    // Another network may still register, until the server's hourly total is used up.
    expect((await (await client(ts, '127.0.7.1')).request('register', { user: 'other1', password: PASSWORD })).type).toBe('ok');
    expect((await (await client(ts, '127.0.7.1')).request('register', { user: 'other2', password: PASSWORD })).type).toBe('ok');
    expect(await (await client(ts, '127.0.8.1')).request('register', { user: 'other3', password: PASSWORD })).toMatchObject({ code: 'overloaded' });
  });

  it('answers a taken name before hashing the password', async () => {
    const ts = await server({});
    await (await client(ts)).request('register', { user: 'carol', password: PASSWORD });
    const before = ts.server.accounts.hashes.stats.computed;
    const replies = await Promise.all(Array.from({ length: 5 }, async () => (await client(ts)).request('register', { user: 'Carol', password: PASSWORD })));
    expect(codes(replies)).toEqual(Array(5).fill('name_taken'));
    expect(ts.server.accounts.hashes.stats.computed).toBe(before);
  });
});

describe('connections under attack', () => {
  it('counts connections per network: 40 addresses of one /24 share its limit, another /24 has its own', async () => {
    const ts = await server({ maxConnectionsPerAddress: 10 });
    const from = (i: number) => `127.0.0.${i + 1}`;
    const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => client(ts, from(i))));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect((refused.reason as { reply?: Reply }).reply).toMatchObject({ code: 'overloaded', message: 'too many connections from your network' });
    await expect(client(ts, '127.0.1.1')).resolves.toBeDefined();
  });

  it('refuses connections past --max-connections with a clear error', async () => {
    const ts = await server({ maxConnections: 3 });
    for (let i = 0; i < 3; i++) await client(ts, `127.0.${i + 30}.1`);
    const err = await client(ts, '127.0.40.1').catch((e: { reply?: Reply }) => e);
    expect((err as { reply?: Reply }).reply).toMatchObject({ code: 'overloaded', message: 'the server is full; try again later' });
  });
});
