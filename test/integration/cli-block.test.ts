// chat block / unblock / blocked (issue 27, item 23; protocol.md §4.7): the server drops a blocked
// user's direct messages, offers, group invitations and friend requests, and tells them nothing.
// The built CLI as child processes and library clients, against a real server on 127.0.0.1.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatClient } from '../../src/client/client.js';
import type { ChatMessage, OfferInfo } from '../../src/protocol/messages.js';
import { runCli, spawnCli, tempHome, type CliResult, type SpawnedCli } from '../helpers/cli.js';
import { connectTo, startServer, type TestServer } from '../helpers/server.js';

const PASSWORD = 'correct horse';
let srv: TestServer;
const running: SpawnedCli[] = [];
const clients: ChatClient[] = [];
const homes: Record<string, string> = {};

function chat(args: string[], user: string, input?: string): Promise<CliResult> {
  return runCli(args, { home: homes[user]!, server: srv.address, input });
}

function ok(r: CliResult): string[] {
  expect(r.code, `exit code; stderr: ${r.stderr}`).toBe(0);
  return r.stdout.split('\n').filter(Boolean);
}

async function client(user: string): Promise<ChatClient> {
  const c = await connectTo(srv);
  clients.push(c);
  await c.login(user, PASSWORD);
  return c;
}

/** Resolves with the first `event` the client is sent that matches. */
function next<T>(c: ChatClient, event: string, match: (data: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const on = (data: T) => {
      if (!match(data)) return;
      c.off(event as never, on as never);
      resolve(data);
    };
    c.on(event as never, on as never);
  });
}

const FILE = { path: 'a.txt', size: 3, mime: 'text/plain', mode: 0o644, mtimeMs: 0 };
const secret = (transfer: string) => ({ transfer, token: 't'.repeat(32), candidates: [{ host: '127.0.0.1', port: 9 }], timeoutMs: 60_000 });

beforeAll(async () => {
  srv = await startServer();
  for (const user of ['alice', 'bob', 'carol']) {
    homes[user] = await tempHome();
    ok(await runCli(['register', user], { home: homes[user]!, server: srv.address, env: { CHAT_PASSWORD: PASSWORD } }));
  }
});

afterAll(async () => {
  for (const cli of running.splice(0)) cli.kill('SIGKILL');
  await Promise.all(clients.map((c) => c.close()));
  await srv?.cleanup();
});

describe('chat block', () => {
  it('blocks a user, lists them (text and --json), says so when already blocked, and unblocks them', async () => {
    expect(ok(await chat(['block', 'ALICE'], 'carol'))).toEqual([
      'blocked alice: what they send you is dropped, and they are not told (chat unblock alice to undo)',
    ]);
    expect(ok(await chat(['block', 'alice'], 'carol'))).toEqual(['alice was already blocked']);
    expect(ok(await chat(['blocked'], 'carol'))).toEqual([expect.stringMatching(/^alice {2}since \d{4}-\d{2}-\d{2} /)]);
    const json = JSON.parse(ok(await chat(['blocked', '--json'], 'carol'))[0]!) as { users: { user: string; at: number }[] };
    expect(json.users).toEqual([{ user: 'alice', at: expect.any(Number) }]);
    expect(ok(await chat(['unblock', 'alice'], 'carol'))).toEqual(['unblocked alice']);
    const empty = await chat(['blocked'], 'carol');
    expect(ok(empty)).toEqual([]);
    expect(empty.stderr).toBe('you block nobody\n');
  });

  it('refuses to block an unknown user or yourself, and to unblock someone not blocked, in one line', async () => {
    for (const [args, message] of [
      [['block', 'nobody'], 'chat: no such user: nobody\n'],
      [['block', 'carol'], 'chat: that is you\n'],
      [['unblock', 'bob'], 'chat: you do not block bob\n'],
    ] as const) {
      const r = await chat([...args], 'carol');
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(message);
    }
  });

  it("drops a blocked user's direct messages without telling them; unblocking lets new ones through", async () => {
    ok(await chat(['block', 'alice'], 'bob'));
    const listen = spawnCli(['listen'], { home: homes.bob!, server: srv.address, timeoutMs: 30_000 });
    running.push(listen);
    await listen.stderr.waitFor('listening as bob');
    // alice sees a plain success: no error, no notice.
    const sent = await chat(['send', 'bob', 'blocked words'], 'alice');
    expect(ok(sent)).toEqual(['sent to bob (id 0)']);
    expect(sent.stderr).toBe('');
    // carol's message, sent after alice's, arrives; alice's never did.
    ok(await chat(['send', 'bob', 'carol was here'], 'carol'));
    await listen.stdout.waitFor('carol was here');
    expect(listen.stdout.text).not.toContain('blocked words');
    expect(ok(await chat(['history', 'alice'], 'bob'))).toEqual([]);
    ok(await chat(['unblock', 'alice'], 'bob'));
    ok(await chat(['send', 'bob', 'after the unblock'], 'alice'));
    expect(await listen.stdout.waitFor('after the unblock')).toContain('<alice>');
    listen.kill('SIGINT');
    await listen.exited;
  });

  it("drops a blocked user's offers, group invitations and friend requests, each answered as usual", async () => {
    const [alice, carol, bob] = [await client('alice'), await client('carol'), await client('bob')];
    await bob.block('alice');
    await bob.subscribe();
    // An offer: alice's looks as any other to her; bob neither sees nor can list or accept it.
    const hidden = await alice.offer('bob', secret('blocked-transfer'), [FILE]);
    expect(hidden).toMatchObject({ offer: expect.any(String), online: true });
    const carolOffer = next<OfferInfo>(bob, 'offer');
    const shown = await carol.offer('bob', secret('carol-transfer'), [FILE]);
    expect((await carolOffer).id).toBe(shown.offer);
    expect((await bob.offers()).map((o) => o.from)).toEqual(['carol']);
    await expect(bob.accept(hidden.offer)).rejects.toMatchObject({ code: 'no_such_offer' });
    // A group invitation: the same reply, no invitation.
    await alice.groupCreate('alices-den', { private: true });
    await expect(alice.groupInvite('alices-den', 'bob')).resolves.toMatchObject({ group: 'alices-den', user: 'bob' });
    expect(ok(await chat(['group', 'invites'], 'bob'))).toEqual([]);
    await expect(bob.groupJoin('alices-den')).rejects.toMatchObject({ code: 'forbidden' });
    // A friend request: "sent", and bob has none.
    await expect(alice.friendAdd('bob')).resolves.toEqual({ user: 'bob', state: 'outgoing' });
    expect(await bob.friendList()).toEqual([]);
    // A direct message over the library: a receipt with id 0, and bob's other messages still flow.
    const got = next<ChatMessage>(bob, 'message');
    expect(await alice.send('bob', 'psst')).toMatchObject({ id: 0, from: 'alice', to: 'bob' });
    await carol.send('bob', 'still here');
    expect(await got).toMatchObject({ from: 'carol', text: 'still here' });
    await bob.unblock('alice');
  });
});
