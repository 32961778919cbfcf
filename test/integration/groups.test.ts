// Groups, contacts and delivery receipts through the real server with several real clients.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChatClient, type ChatClientEvents } from '../../src/client/client.js';
import { ClientError } from '../../src/client/errors.js';
import { startServer, type TestServer } from '../helpers/server.js';

const PASSWORD = 'correct horse';
const WAIT_MS = 5000;

/** Records a client's events from the start; `next` waits (bounded) for one that matches. */
class Recorder {
  readonly seen: { event: string; data: Record<string, unknown> }[] = [];
  #waiters = new Set<() => void>();

  constructor(client: ChatClient) {
    for (const event of ['message', 'presence', 'group', 'friend', 'delivered'] as (keyof ChatClientEvents)[]) {
      client.on(event, ((data: Record<string, unknown>) => {
        this.seen.push({ event, data });
        for (const w of [...this.#waiters]) w();
      }) as never);
    }
  }

  next(event: string, fields: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const find = () => this.seen.find((e) => e.event === event && Object.entries(fields).every(([k, v]) => e.data[k] === v))?.data;
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = find();
        if (!found) return;
        this.#waiters.delete(check);
        clearTimeout(timer);
        resolve(found);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`no ${event} ${JSON.stringify(fields)} within ${WAIT_MS} ms; saw ${JSON.stringify(this.seen)}`));
      }, WAIT_MS);
      this.#waiters.add(check);
      check();
    });
  }

  count(event: string, fields: Record<string, unknown> = {}): number {
    return this.seen.filter((e) => e.event === event && Object.entries(fields).every(([k, v]) => e.data[k] === v)).length;
  }
}

let ts: TestServer;
const clients: ChatClient[] = [];

beforeEach(async () => {
  ts = await startServer();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
  await ts.cleanup();
});

async function connect(): Promise<ChatClient> {
  const client = await ChatClient.connect({ host: ts.host, port: ts.port, tls: ts.tls, timeoutMs: WAIT_MS });
  clients.push(client);
  return client;
}

/** A registered user, subscribed, recording events; `token` resumes the session later. */
async function user(name: string): Promise<{ client: ChatClient; events: Recorder; token: string }> {
  const client = await connect();
  const { token } = await client.register(name, PASSWORD);
  const events = new Recorder(client);
  await client.subscribe();
  return { client, events, token };
}

async function resume(token: string): Promise<{ client: ChatClient; events: Recorder; backlog: number }> {
  const client = await connect();
  await client.auth(token);
  const events = new Recorder(client);
  const { backlog } = await client.subscribe();
  return { client, events, backlog };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ClientError) return err.code;
    throw err;
  }
  throw new Error('expected the request to fail');
}

describe('groups', () => {
  it('members get group messages live; an offline member gets them on next connect, in order', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const carol = await user('carol');
    await alice.client.groupCreate('ops');
    await bob.client.groupJoin('#ops');
    await alice.events.next('group', { action: 'joined', user: 'bob' });
    await carol.client.groupJoin('ops');
    await carol.client.close();

    const m1 = await alice.client.send('#ops', 'one');
    const m2 = await bob.client.send('#OPS', 'two');
    expect(m1).toMatchObject({ from: 'alice', to: '#ops', text: 'one' });
    expect(m2.to).toBe('#ops');
    expect(await bob.events.next('message', { id: m1.id })).toMatchObject({ text: 'one' });
    expect(await alice.events.next('message', { id: m2.id })).toMatchObject({ from: 'bob' });
    expect(alice.events.count('message', { id: m1.id })).toBe(0); // not echoed to the sending connection

    const back = await resume(carol.token);
    expect(back.backlog).toBe(2);
    expect(back.events.seen.filter((e) => e.event === 'message').map((e) => e.data.text)).toEqual(['one', 'two']);
    const page = await bob.client.history('#ops', { limit: 1 });
    expect(page).toMatchObject({ more: true, messages: [{ id: m2.id }] });
  });

  it('a new member does not receive what was said before they joined; history is readable in public groups', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    await alice.client.groupCreate('ops');
    const early = await alice.client.send('#ops', 'before bob');
    await bob.client.groupJoin('ops');
    const late = await alice.client.send('#ops', 'after bob');
    await bob.events.next('message', { id: late.id });
    expect(bob.events.count('message', { id: early.id })).toBe(0);
    expect((await bob.client.history('#ops')).messages.map((m) => m.text)).toEqual(['before bob', 'after bob']);
  });

  it('private groups: non-members cannot join, post or read; an invitation lets them join', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    await alice.client.groupCreate('secret', { private: true });
    await alice.client.send('#secret', 'hush');
    expect(await codeOf(bob.client.groupJoin('secret'))).toBe('forbidden');
    expect(await codeOf(bob.client.send('#secret', 'hi'))).toBe('not_member');
    expect(await codeOf(bob.client.history('#secret'))).toBe('not_member');
    expect(await codeOf(bob.client.groupMembers('secret'))).toBe('not_member');
    expect((await bob.client.groupList()).map((g) => g.name)).toEqual([]);

    await alice.client.groupInvite('secret', 'bob');
    expect(await bob.events.next('group', { action: 'invited', user: 'bob' })).toMatchObject({ group: 'secret', by: 'alice' });
    await bob.client.groupJoin('secret');
    expect((await bob.client.groupList())[0]).toMatchObject({ name: 'secret', private: true, members: 2, member: true });
    expect(await bob.client.groupMembers('secret')).toEqual([
      { user: 'alice', role: 'owner', online: true },
      { user: 'bob', role: 'member', online: true },
    ]);
  });

  it('someone invited while offline is told on connect, sees the invitation in group_list until joining (issue 27, item 3)', async () => {
    const alice = await user('alice');
    const carol = await user('carol');
    await carol.client.close();
    await alice.client.groupCreate('secret', { private: true });
    await alice.client.groupInvite('secret', 'carol');
    const back = await resume(carol.token);
    expect(await back.events.next('group', { action: 'invited', user: 'carol' })).toMatchObject({ group: 'secret', by: 'alice' });
    expect(await back.client.groupList()).toEqual([{ name: 'secret', private: true, owner: 'alice', members: 1, member: false, invitedBy: 'alice' }]);
    await back.client.groupJoin('secret');
    expect((await back.client.groupList())[0]).toEqual({ name: 'secret', private: true, owner: 'alice', members: 2, member: true });
    // Joined: the next connection is not told again.
    const again = await resume(carol.token);
    await again.client.who(); // the subscribe's events came before this reply
    expect(again.events.seen.filter((e) => e.event === 'group')).toEqual([]);
  });

  it('owner-only kick and delete; members see join, leave, kick and delete events; clear errors', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const carol = await user('carol');
    await alice.client.groupCreate('ops');
    expect(await codeOf(bob.client.groupCreate('OPS'))).toBe('name_taken');
    expect(await codeOf(bob.client.groupCreate('#no way'))).toBe('invalid_name');
    expect(await codeOf(bob.client.send('#nope', 'x'))).toBe('no_such_group');
    await bob.client.groupJoin('ops');
    await carol.client.groupJoin('ops');
    expect(await codeOf(bob.client.groupKick('ops', 'carol'))).toBe('forbidden');
    expect(await codeOf(alice.client.groupLeave('ops'))).toBe('forbidden');
    await alice.client.groupKick('ops', 'carol');
    expect(await carol.events.next('group', { action: 'kicked' })).toMatchObject({ user: 'carol', by: 'alice' });
    expect(await codeOf(carol.client.send('#ops', 'still here?'))).toBe('not_member');
    await bob.client.groupLeave('ops');
    await alice.events.next('group', { action: 'left', user: 'bob' });
    await bob.client.groupJoin('ops');
    expect(await codeOf(bob.client.groupDelete('ops'))).toBe('forbidden');
    await alice.client.groupDelete('ops');
    await bob.events.next('group', { action: 'deleted', group: 'ops' });
    expect(await codeOf(bob.client.history('#ops'))).toBe('no_such_group');
  });
});

describe('contacts', () => {
  it('request, accept, note, list with online status, remove; both sides are told', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    expect(await alice.client.friendAdd('Bob')).toEqual({ user: 'bob', state: 'outgoing' });
    await bob.events.next('friend', { user: 'alice', action: 'requested' });
    expect(await bob.client.friendList()).toEqual([{ user: 'alice', state: 'incoming', note: '', online: true }]);
    await bob.client.friendAccept('alice');
    await alice.events.next('friend', { user: 'bob', action: 'accepted' });
    await alice.client.friendNote('bob', 'from work');
    expect(await alice.client.friendList()).toEqual([{ user: 'bob', state: 'friend', note: 'from work', online: true }]);
    await bob.client.close();
    await alice.events.next('presence', { user: 'bob', online: false });
    expect((await alice.client.friendList())[0]!.online).toBe(false);
    await alice.client.friendRemove('bob');
    expect(await alice.client.friendList()).toEqual([]);
  });

  it('decline, bad requests and user search', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    await user('alina');
    await alice.client.friendAdd('bob');
    await bob.client.friendDecline('alice');
    await alice.events.next('friend', { user: 'bob', action: 'declined' });
    expect(await alice.client.friendList()).toEqual([]);
    expect(await codeOf(bob.client.friendAccept('alice'))).toBe('bad_request');
    expect(await codeOf(alice.client.friendAdd('alice'))).toBe('bad_request');
    expect(await codeOf(alice.client.friendAdd('nobody'))).toBe('no_such_user');
    expect(await codeOf(alice.client.friendNote('bob', 'x'))).toBe('bad_request');
    expect(await alice.client.searchUsers('AL')).toEqual(['alice', 'alina']);
  });
});

describe('delivery receipts', () => {
  it('tells the sender when a recipient device acknowledges a direct message, also after being offline', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const live = await alice.client.send('bob', 'live');
    await bob.events.next('message', { id: live.id });
    bob.client.acknowledge(live.id);
    expect(await alice.events.next('delivered', { id: live.id })).toMatchObject({ to: 'bob' });

    await bob.client.close();
    const offline = await alice.client.send('bob', 'while away');
    expect(alice.events.count('delivered', { id: offline.id })).toBe(0);
    const back = await resume(bob.token);
    await back.events.next('message', { id: offline.id });
    back.client.acknowledge(offline.id);
    await alice.events.next('delivered', { id: offline.id });
  });
});
