// The Store contract: every implementation (SQLite now, PostgreSQL later) must pass this suite.
// Call storeContract() from a *.test.ts file with a factory that makes a fresh, empty store.
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../src/protocol/messages.js';
import type { MessageOrder, NewMessage, SessionRow, Store, StoredMessage, UserRow } from '../../src/store/store.js';

/** The message of what addMessage resolved with. */
export const messageOf = (s: StoredMessage): ChatMessage => s.message;

export interface StoreFixture {
  store: Store;
  /** Another store on the same data, as another server node opens it (cluster stores only). */
  node?(): Promise<Store>;
  cleanup(): Promise<void>;
}

const T0 = 1_763_900_000_000;

export function storeContract(name: string, makeStore: () => Promise<StoreFixture>): void {
  describe(`Store contract: ${name}`, () => {
    let fixture: StoreFixture;
    let store: Store;

    beforeEach(async () => {
      fixture = await makeStore();
      store = fixture.store;
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    async function user(name: string): Promise<UserRow> {
      const row = await store.createUser(name, randomBytes(16), randomBytes(64), T0);
      if (!row) throw new Error(`could not create ${name}`);
      return row;
    }

    async function session(u: UserRow): Promise<SessionRow & { tokenHash: Buffer }> {
      const tokenHash = randomBytes(32);
      return { ...(await store.createSession(u.id, tokenHash, T0))!, tokenHash };
    }

    let clock = T0;
    function msg(from: string, to: string, fromSession: number, text = `${from}→${to}`): Promise<ChatMessage> {
      const m: NewMessage = { from, to, text, at: ++clock, fromSession };
      return store.addMessage(m).then(messageOf);
    }

    const ids = (ms: ChatMessage[]) => ms.map((m) => m.id);

    describe('users', () => {
      it('creates a user and reads it back with its salt, hash and time', async () => {
        const salt = randomBytes(16);
        const hash = randomBytes(64);
        const created = await store.createUser('alice', salt, hash, T0 + 5);
        expect(created).toMatchObject({ name: 'alice', createdAt: T0 + 5 });
        expect(created!.id).toBeGreaterThan(0);
        const read = await store.getUser('alice');
        expect(read).not.toBeNull();
        expect(read!.id).toBe(created!.id);
        expect(read!.name).toBe('alice');
        expect(read!.createdAt).toBe(T0 + 5);
        expect(Buffer.from(read!.salt).equals(salt)).toBe(true);
        expect(Buffer.from(read!.hash).equals(hash)).toBe(true);
      });

      it('returns null for an unknown user', async () => {
        expect(await store.getUser('nobody')).toBeNull();
      });

      it('returns null (and keeps the first) when the name is taken', async () => {
        const first = await user('alice');
        expect(await store.createUser('alice', randomBytes(16), randomBytes(64), T0)).toBeNull();
        expect((await store.getUser('alice'))!.id).toBe(first.id);
      });

      it('treats names that differ only in case as the same name', async () => {
        const first = await user('alice');
        expect(await store.createUser('Alice', randomBytes(16), randomBytes(64), T0)).toBeNull();
        expect(await store.createUser('ALICE', randomBytes(16), randomBytes(64), T0)).toBeNull();
        expect((await store.getUser('ALICE'))?.id).toBe(first.id);
        expect((await store.getUser('aLiCe'))?.name).toBe('alice');
      });

      it('gives different users different ids', async () => {
        const [a, b, c] = [await user('alice'), await user('bob'), await user('carol')];
        expect(new Set([a.id, b.id, c.id]).size).toBe(3);
      });
    });

    describe('registration codes', () => {
      const code = randomBytes(32);
      const create = (name: string, at: number, hash = code) => store.createUserWithCode(name, randomBytes(16), randomBytes(64), at, hash);

      it('a code registers as many users as it has uses, then no more', async () => {
        await store.addRegistrationCode(code, 2, T0 + 1000, T0);
        expect(await create('alice', T0 + 1)).toMatchObject({ name: 'alice' });
        expect(await create('bob', T0 + 2)).toMatchObject({ name: 'bob' });
        expect(await create('carol', T0 + 3)).toBe('invalid_code');
        expect(await store.getUser('carol')).toBeNull();
      });

      it('refuses an unknown or expired code', async () => {
        await store.addRegistrationCode(code, 5, T0 + 10, T0);
        expect(await create('alice', T0 + 1, randomBytes(32))).toBe('invalid_code');
        expect(await create('alice', T0 + 10)).toBe('invalid_code');
        expect(await store.getUser('alice')).toBeNull();
      });

      it('a taken name does not use up the code', async () => {
        await user('alice');
        await store.addRegistrationCode(code, 1, T0 + 1000, T0);
        expect(await create('ALICE', T0 + 1)).toBe('name_taken');
        expect(await create('bob', T0 + 2)).toMatchObject({ name: 'bob' });
      });
    });

    describe('sessions', () => {
      it('creates a session found by id and by token hash, with cursor 0 for a new user', async () => {
        const alice = await user('alice');
        const s = await session(alice);
        expect(s).toMatchObject({ userId: alice.id, user: 'alice', cursor: 0 });
        expect(await store.getSession(s.id)).toEqual({ id: s.id, userId: alice.id, user: 'alice', cursor: 0, lastSeenAt: T0, identityKey: '' });
        expect(await store.getSessionByTokenHash(s.tokenHash)).toEqual({ id: s.id, userId: alice.id, user: 'alice', cursor: 0, lastSeenAt: T0, identityKey: '' });
      });

      it('returns null for an unknown session id or token hash', async () => {
        expect(await store.getSession(987_654)).toBeNull();
        expect(await store.getSessionByTokenHash(randomBytes(32))).toBeNull();
      });

      it('rejects a session for a user that does not exist', async () => {
        await expect(store.createSession(424_242, randomBytes(32), T0)).rejects.toThrow();
      });

      it('gives each device its own session', async () => {
        const alice = await user('alice');
        const [s1, s2] = [await session(alice), await session(alice)];
        expect(s1.id).not.toBe(s2.id);
        expect((await store.getSessionByTokenHash(s2.tokenHash))!.id).toBe(s2.id);
      });

      it('deletes a session: it is gone by id and by token, others stay; deleting again is harmless', async () => {
        const alice = await user('alice');
        const [s1, s2] = [await session(alice), await session(alice)];
        await store.deleteSession(s1.id);
        expect(await store.getSession(s1.id)).toBeNull();
        expect(await store.getSessionByTokenHash(s1.tokenHash)).toBeNull();
        expect(await store.getSession(s2.id)).not.toBeNull();
        await expect(store.deleteSession(s1.id)).resolves.toBeUndefined();
      });

      it('never reuses the id of a deleted session (messages remember which session sent them)', async () => {
        const alice = await user('alice');
        const bob = await user('bob');
        const old = await session(alice);
        const sent = await msg('alice', 'bob', old.id);
        await store.deleteSession(old.id);
        const fresh = await session(alice);
        expect(fresh.id).not.toBe(old.id);
        // What the deleted device sent is still owed to alice's new device.
        expect(ids(await store.pendingMessages('alice', fresh.cursor, fresh.id, 100))).toEqual([sent.id]);
        expect(bob.id).toBeGreaterThan(0);
      });
    });

    describe('session management (idle expiry, listing, revocation, accounts)', () => {
      const hashOf = async (name: string) => Buffer.from((await store.getUser(name))!.hash);

      it('keeps a device name and address, and lists sessions most recently used first', async () => {
        const alice = await user('alice');
        const bob = await user('bob');
        const laptop = (await store.createSession(alice.id, randomBytes(32), T0, { device: 'laptop ünï', address: '192.0.2.1' }))!;
        const phone = (await store.createSession(alice.id, randomBytes(32), T0 + 1, { device: 'phone', address: '2001:db8::1' }))!;
        await store.createSession(bob.id, randomBytes(32), T0);
        expect(await store.listSessions(alice.id, 10)).toEqual([
          { id: phone.id, device: 'phone', createdAt: T0 + 1, lastSeenAt: T0 + 1, address: '2001:db8::1' },
          { id: laptop.id, device: 'laptop ünï', createdAt: T0, lastSeenAt: T0, address: '192.0.2.1' },
        ]);
        expect(await store.listSessions(alice.id, 1)).toHaveLength(1);
      });

      it('keeps the identity key a device registered and lists the keys of a user\'s devices, oldest first', async () => {
        const alice = await user('alice');
        const bob = await user('bob');
        const laptop = (await store.createSession(alice.id, randomBytes(32), T0, { device: 'laptop ünï' }))!;
        const phone = (await store.createSession(alice.id, randomBytes(32), T0 + 1, { device: 'phone' }))!;
        await store.createSession(alice.id, randomBytes(32), T0 + 2, { device: 'no key yet' });
        const bobs = (await store.createSession(bob.id, randomBytes(32), T0))!;
        await store.setSessionIdentity(phone.id, 'P'.repeat(43));
        await store.setSessionIdentity(laptop.id, 'L'.repeat(43));
        await store.setSessionIdentity(bobs.id, 'B'.repeat(43));
        await store.setSessionIdentity(laptop.id, 'M'.repeat(43));
        expect(await store.deviceKeys(alice.id, 10)).toEqual([
          { session: laptop.id, device: 'laptop ünï', key: 'M'.repeat(43) },
          { session: phone.id, device: 'phone', key: 'P'.repeat(43) },
        ]);
        expect(await store.deviceKeys(alice.id, 1)).toHaveLength(1);
        await store.deleteSession(phone.id);
        expect((await store.deviceKeys(alice.id, 10)).map((k) => k.device)).toEqual(['laptop ünï']);
      });

      it('touches sessions forward only, one with its new address, many at once; unknown ids are skipped', async () => {
        const alice = await user('alice');
        const [s1, s2] = [await session(alice), await session(alice)];
        await store.touchSession(s1.id, T0 + 100, '198.51.100.7');
        await store.touchSession(s1.id, T0 + 50);
        expect((await store.getSession(s1.id))!.lastSeenAt).toBe(T0 + 100);
        expect((await store.listSessions(alice.id, 10)).find((r) => r.id === s1.id)!.address).toBe('198.51.100.7');
        await store.touchSessions([s1.id, s2.id, 999_999], T0 + 200);
        expect((await store.getSession(s1.id))!.lastSeenAt).toBe(T0 + 200);
        expect((await store.getSession(s2.id))!.lastSeenAt).toBe(T0 + 200);
        await expect(store.touchSessions([], T0 + 300)).resolves.toBeUndefined();
      });

      it('deletes only the sessions idle since before a time', async () => {
        const alice = await user('alice');
        const [old, fresh] = [await session(alice), await session(alice)];
        await store.touchSession(fresh.id, T0 + 1000);
        expect(await store.deleteIdleSessions(T0 + 500)).toBe(1);
        expect(await store.getSession(old.id)).toBeNull();
        expect(await store.getSession(fresh.id)).not.toBeNull();
      });

      it("revokes one of the user's sessions, or all but one, and logs each revocation", async () => {
        const alice = await user('alice');
        const bob = await user('bob');
        const start = await store.latestRevocation();
        const [a1, a2, a3] = [await session(alice), await session(alice), await session(alice)];
        const b1 = await session(bob);
        expect(await store.revokeSessions(alice.id, b1.id, 'revoked', T0 + 1)).toBe(0); // not hers
        expect(await store.getSession(b1.id)).not.toBeNull();
        expect(await store.revokeSessions(alice.id, a2.id, 'revoked', T0 + 2)).toBe(1);
        expect(await store.getSession(a2.id)).toBeNull();
        expect(await store.revokeSessions(alice.id, { except: a1.id }, 'revoked', T0 + 3)).toBe(1);
        expect(await store.getSession(a3.id)).toBeNull();
        expect(await store.getSession(a1.id)).not.toBeNull();
        const log = await store.revocationsSince(start, 10);
        expect(log.map(({ user, reason, at }) => ({ user, reason, at }))).toEqual([
          { user: 'alice', reason: 'revoked', at: T0 + 2 },
          { user: 'alice', reason: 'revoked', at: T0 + 3 },
        ]);
        expect(log[1]!.id).toBeGreaterThan(log[0]!.id);
        expect(await store.latestRevocation()).toBe(log[1]!.id);
        expect(await store.revocationsSince(log[0]!.id, 10)).toEqual([log[1]]);
        expect(await store.revocationsSince(start, 1)).toEqual([log[0]]);
      });

      it('sets a new password and revokes every other session', async () => {
        const alice = await user('alice');
        const [keep, other] = [await session(alice), await session(alice)];
        const salt = randomBytes(16);
        const hash = randomBytes(64);
        expect(await store.setPassword(alice.id, salt, hash, keep.id, 'password', T0 + 1)).toBe(1);
        expect((await hashOf('alice')).equals(hash)).toBe(true);
        expect(await store.getSession(other.id)).toBeNull();
        expect(await store.getSession(keep.id)).not.toBeNull();
        expect((await store.revocationsSince(0, 100)).at(-1)).toMatchObject({ user: 'alice', reason: 'password' });
        // keepSession 0 (an operator's reset): none is kept.
        expect(await store.setPassword(alice.id, salt, hash, 0, 'reset', T0 + 2)).toBe(1);
        expect(await store.getSession(keep.id)).toBeNull();
      });

      it('disables an account: its sessions go, no new one can start, until it is enabled', async () => {
        const alice = await user('alice');
        const s = await session(alice);
        expect(await store.setUserState('ALICE', 'disabled', T0 + 1)).toBe('active');
        expect(await store.getSession(s.id)).toBeNull();
        expect(await store.createSession(alice.id, randomBytes(32), T0 + 2)).toBeNull();
        expect((await store.getUser('alice'))?.id).toBe(alice.id); // still there (login says why it fails)
        expect((await store.revocationsSince(0, 100)).at(-1)).toMatchObject({ user: 'alice', reason: 'disabled' });
        expect(await store.setUserState('alice', 'disabled', T0 + 3)).toBe('disabled');
        expect(await store.setUserState('alice', 'active', T0 + 4)).toBe('disabled');
        expect(await store.createSession(alice.id, randomBytes(32), T0 + 5)).not.toBeNull();
        expect(await store.setUserState('nobody', 'disabled', T0)).toBeNull();
      });

      it('deletes an account: gone for login and lookups, its relations too, and its name stays taken for good', async () => {
        const alice = await user('alice');
        await user('bob');
        const s = await session(alice);
        await store.requestFriend('alice', 'bob', T0);
        await store.createGroup('ops', 'bob', true, T0);
        await store.addMember('ops', 'alice', T0);
        await store.createGroup('dev', 'bob', true, T0);
        await store.addInvite('dev', 'alice', 'bob', T0);
        expect(await store.setUserState('alice', 'deleted', T0 + 1)).toBe('active');
        expect(await store.getUser('alice')).toBeNull();
        expect(await store.getSession(s.id)).toBeNull();
        expect(await store.createSession(alice.id, randomBytes(32), T0 + 2)).toBeNull();
        expect(await store.friends('bob')).toEqual([]);
        expect(await store.isMember('ops', 'alice')).toBe(false);
        expect(await store.hasInvite('dev', 'alice')).toBe(false);
        expect(await store.createUser('Alice', randomBytes(16), randomBytes(64), T0 + 3)).toBeNull();
        expect(await store.setUserState('alice', 'active', T0 + 4)).toBe('deleted');
        expect(await store.getUser('alice')).toBeNull();
        expect((await store.revocationsSince(0, 100)).at(-1)).toMatchObject({ user: 'alice', reason: 'deleted' });
      });

      it('prunes revocation log rows older than a day', async () => {
        const alice = await user('alice');
        await session(alice);
        await store.revokeSessions(alice.id, { except: 0 }, 'revoked', T0);
        await session(alice);
        await store.revokeSessions(alice.id, { except: 0 }, 'revoked', T0 + 25 * 3_600_000);
        expect((await store.revocationsSince(0, 100)).map((r) => r.at)).toEqual([T0 + 25 * 3_600_000]);
      });
    });

    describe('messages', () => {
      it('resolves each message after its commit, in id order, with its place in its conversation, even when they are added at once', async () => {
        await user('alice');
        await user('bob');
        const resolved: number[] = [];
        const visible: boolean[] = [];
        const added = await Promise.all(Array.from({ length: 40 }, (_, i) =>
          store.addMessage({ from: 'alice', to: 'bob', text: `m${i}`, at: T0 + i, fromSession: 0 }).then(async (s) => {
            resolved.push(s.message.id);
            visible.push((await store.pendingMessages('bob', s.message.id - 1, 0, 1))[0]?.id === s.message.id);
            return s;
          })));
        const inOrder = added.map((s) => s.message.id).sort((a, b) => a - b);
        expect(resolved).toEqual(inOrder);
        expect(visible.every(Boolean)).toBe(true);
        // Each names its conversation's previous message (0: the first), what a node delivers in order by.
        const orders = inOrder.map((id) => added.find((s) => s.message.id === id)!.order);
        expect(orders).toEqual(inOrder.map((_, j) => ({ conversation: 'alice bob', prev: j === 0 ? 0 : inOrder[j - 1] })));
        const [first] = await store.history({ a: 'alice', b: 'bob', limit: 1 });
        expect(first).toEqual(added.find((s) => s.message.id === inOrder[inOrder.length - 1])!.message);
      });

      it('stores a message and returns it with an id, oldest first ids increasing across conversations', async () => {
        const alice = await user('alice');
        await user('bob');
        await user('carol');
        const s = await session(alice);
        const m1 = await store.addMessage({ from: 'alice', to: 'bob', text: 'hi bob', at: T0 + 1, fromSession: s.id }).then(messageOf);
        expect(m1).toEqual({ id: m1.id, from: 'alice', to: 'bob', text: 'hi bob', at: T0 + 1 });
        const m2 = await msg('alice', 'carol', s.id);
        const m3 = await msg('bob', 'alice', 0);
        expect(m1.id).toBeGreaterThan(0);
        expect(m2.id).toBeGreaterThan(m1.id);
        expect(m3.id).toBeGreaterThan(m2.id);
      });

      it('keeps text exactly (unicode, newlines, quotes, NUL)', async () => {
        const alice = await user('alice');
        await user('bob');
        const s = await session(alice);
        const text = 'héllo 🌍\nline two "quoted" \'single\' \\ back\u0000nul';
        const m = await msg('alice', 'bob', s.id, text);
        const [h] = (await store.history({ a: 'alice', b: 'bob', limit: 10 }));
        expect(h).toEqual(m);
        expect(h!.text).toBe(text);
      });
    });

    describe('pending messages (offline delivery)', () => {
      it('returns messages to and from the user after the cursor, oldest first, except what this session sent', async () => {
        const [alice, bob] = [await user('alice'), await user('bob')];
        await user('carol');
        const [a1, a2] = [await session(alice), await session(alice)];
        const b1 = await session(bob);
        const m1 = await msg('bob', 'alice', b1.id); // to alice
        const m2 = await msg('alice', 'bob', a1.id); // from alice's device 1
        const m3 = await msg('alice', 'bob', a2.id); // from alice's device 2
        await msg('bob', 'carol', b1.id); // not alice's
        const m5 = await msg('carol', 'alice', 0);
        expect(ids(await store.pendingMessages('alice', 0, a1.id, 100))).toEqual([m1.id, m3.id, m5.id]);
        expect(ids(await store.pendingMessages('alice', 0, a2.id, 100))).toEqual([m1.id, m2.id, m5.id]);
        expect(ids(await store.pendingMessages('bob', 0, b1.id, 100))).toEqual([m2.id, m3.id]);
      });

      it('starts after the cursor and honours the limit (paging)', async () => {
        const [alice, bob] = [await user('alice'), await user('bob')];
        const [a, b] = [await session(alice), await session(bob)];
        const sent: number[] = [];
        for (let i = 0; i < 7; i++) sent.push((await msg('bob', 'alice', b.id, `m${i}`)).id);
        const page1 = await store.pendingMessages('alice', 0, a.id, 3);
        expect(ids(page1)).toEqual(sent.slice(0, 3));
        const page2 = await store.pendingMessages('alice', page1.at(-1)!.id, a.id, 3);
        expect(ids(page2)).toEqual(sent.slice(3, 6));
        const page3 = await store.pendingMessages('alice', page2.at(-1)!.id, a.id, 3);
        expect(ids(page3)).toEqual(sent.slice(6));
        expect(await store.pendingMessages('alice', page3.at(-1)!.id, a.id, 3)).toEqual([]);
        expect(page1[0]).toMatchObject({ from: 'bob', to: 'alice', text: 'm0' });
      });

      it('gives a device what its user sent from another device, to people and to groups, also after leaving the group', async () => {
        const [alice, bob] = [await user('alice'), await user('bob')];
        const [a1, a2, b] = [await session(alice), await session(alice), await session(bob)];
        await store.createGroup('ops', 'bob', false, T0);
        await store.addMember('ops', 'alice', T0);
        const dm = await msg('alice', 'bob', a1.id, 'to bob');
        const reply = await msg('bob', 'alice', b.id, 'to alice');
        const post = await msg('alice', '#ops', a1.id, 'to the group');
        expect(await store.removeMember('ops', 'alice')).toBe(true);
        await msg('bob', '#ops', b.id, 'after alice left');
        expect(ids(await store.pendingMessages('alice', 0, a2.id, 100))).toEqual([dm.id, reply.id, post.id]);
        expect(ids(await store.pendingMessages('alice', 0, a1.id, 100))).toEqual([reply.id]);
        expect(ids(await store.pendingMessages('bob', 0, b.id, 100))).toEqual([dm.id, post.id]);
      });

      it('gives a message to oneself to the other devices once, not back to the device that sent it', async () => {
        const alice = await user('alice');
        const [a1, a2] = [await session(alice), await session(alice)];
        const note = await msg('alice', 'alice', a1.id, 'note to self');
        expect(await store.pendingMessages('alice', 0, a1.id, 100)).toEqual([]);
        expect(await store.pendingMessages('alice', 0, a2.id, 100)).toEqual([note]);
      });
    });

    describe('acknowledgements (per-session cursors)', () => {
      it('moves only that session\'s cursor, and never back', async () => {
        const [alice, bob] = [await user('alice'), await user('bob')];
        const [a1, a2, b] = [await session(alice), await session(alice), await session(bob)];
        const m = [await msg('bob', 'alice', b.id), await msg('bob', 'alice', b.id), await msg('bob', 'alice', b.id)];
        await store.ackMessages(a1.id, m[1]!.id);
        expect((await store.getSession(a1.id))!.cursor).toBe(m[1]!.id);
        expect((await store.getSession(a2.id))!.cursor).toBe(0);
        await store.ackMessages(a1.id, m[0]!.id); // stale ack: ignored
        expect((await store.getSession(a1.id))!.cursor).toBe(m[1]!.id);
        expect((await store.getSessionByTokenHash(a1.tokenHash))!.cursor).toBe(m[1]!.id);
        // Device 1 is owed only the rest; device 2 still everything.
        expect(ids(await store.pendingMessages('alice', m[1]!.id, a1.id, 100))).toEqual([m[2]!.id]);
        expect(ids(await store.pendingMessages('alice', 0, a2.id, 100))).toEqual(ids(m));
      });

      it('starts a new session at the cursor of the user\'s most advanced session', async () => {
        const [alice, bob] = [await user('alice'), await user('bob')];
        const [a1, a2, b] = [await session(alice), await session(alice), await session(bob)];
        const m1 = await msg('bob', 'alice', b.id);
        const m2 = await msg('bob', 'alice', b.id);
        await store.ackMessages(a1.id, m1.id);
        await store.ackMessages(a2.id, m2.id);
        await store.ackMessages(a1.id, m2.id - 1);
        const a3 = await session(alice);
        expect(a3.cursor).toBe(m2.id);
        // Another user's acks do not move alice's.
        await store.ackMessages(b.id, m2.id + 1000);
        expect((await session(alice)).cursor).toBe(m2.id);
        expect((await session(bob)).cursor).toBe(m2.id); // clamped: never past the newest message
      });

      it('ignores an ack for a session that does not exist', async () => {
        await expect(store.ackMessages(555_555, 10)).resolves.toBeUndefined();
      });
    });

    describe('history', () => {
      async function conversation() {
        const [alice, bob] = [await user('alice'), await user('bob')];
        await user('carol');
        const [a, b] = [await session(alice), await session(bob)];
        const ab: ChatMessage[] = [];
        for (let i = 0; i < 10; i++) {
          ab.push(i % 2 === 0 ? await msg('alice', 'bob', a.id, `a${i}`) : await msg('bob', 'alice', b.id, `b${i}`));
          await msg('alice', 'carol', a.id); // interleaved other conversation
        }
        return ab;
      }

      it('returns both directions of one conversation only, oldest first, the same either way round', async () => {
        const ab = await conversation();
        const h = await store.history({ a: 'alice', b: 'bob', limit: 100 });
        expect(h).toEqual(ab);
        expect(await store.history({ a: 'bob', b: 'alice', limit: 100 })).toEqual(ab);
      });

      it('returns the newest `limit` messages, then older pages with `before`', async () => {
        const ab = await conversation();
        const newest = await store.history({ a: 'alice', b: 'bob', limit: 4 });
        expect(ids(newest)).toEqual(ids(ab.slice(6)));
        const older = await store.history({ a: 'alice', b: 'bob', limit: 4, before: newest[0]!.id });
        expect(ids(older)).toEqual(ids(ab.slice(2, 6)));
        const oldest = await store.history({ a: 'alice', b: 'bob', limit: 4, before: older[0]!.id });
        expect(ids(oldest)).toEqual(ids(ab.slice(0, 2)));
        expect(await store.history({ a: 'alice', b: 'bob', limit: 4, before: oldest[0]!.id })).toEqual([]);
      });

      it('`before` is exclusive and need not be an id of this conversation', async () => {
        const ab = await conversation();
        const h = await store.history({ a: 'alice', b: 'bob', limit: 100, before: ab[5]!.id });
        expect(ids(h)).toEqual(ids(ab.slice(0, 5)));
        const h2 = await store.history({ a: 'alice', b: 'bob', limit: 100, before: ab[5]!.id + 1 }); // a carol message id
        expect(ids(h2)).toEqual(ids(ab.slice(0, 6)));
      });

      it('is empty for users who never talked, and for a note-to-self conversation holds only those', async () => {
        await conversation();
        expect(await store.history({ a: 'bob', b: 'carol', limit: 10 })).toEqual([]);
        const alice = (await store.getUser('alice'))!;
        const s = await session(alice);
        const note = await msg('alice', 'alice', s.id, 'self');
        expect(await store.history({ a: 'alice', b: 'alice', limit: 10 })).toEqual([note]);
      });
    });

    describe('groups', () => {
      it('creates a group with its owner as first member; names are unique ignoring case', async () => {
        expect(await store.createGroup('ops', 'alice', false, T0)).toEqual({ name: 'ops', owner: 'alice', private: false, createdAt: T0 });
        expect(await store.createGroup('OPS', 'bob', true, T0)).toBeNull();
        expect(await store.members('ops')).toEqual([{ user: 'alice', role: 'owner' }]);
        expect(await store.isMember('ops', 'alice')).toBe(true);
        expect(await store.getGroup('nope')).toBeNull();
      });

      it('lists public groups and private ones the user belongs to, with member counts', async () => {
        await store.createGroup('pub', 'alice', false, T0);
        await store.createGroup('secret', 'alice', true, T0);
        await store.addMember('pub', 'bob', T0);
        expect(await store.listGroups('bob')).toEqual([{ name: 'pub', owner: 'alice', private: false, createdAt: T0, members: 2, member: true }]);
        expect((await store.listGroups('alice')).map((g) => g.name)).toEqual(['pub', 'secret']);
        expect((await store.listGroups('carol'))[0]).toMatchObject({ name: 'pub', member: false });
      });

      it('delivers group messages in the backlog only from when the member joined, never back to the sending session', async () => {
        const [a, b] = [await user('alice'), await user('bob')];
        const [sa, sb] = [await session(a), await session(b)];
        await store.createGroup('ops', 'alice', false, T0);
        const before = await msg('alice', '#ops', sa.id, 'before bob');
        expect(await store.addMember('ops', 'bob', T0)).toBe(true);
        expect(await store.addMember('ops', 'bob', T0)).toBe(false);
        const after = await msg('alice', '#ops', sa.id, 'after bob');
        const own = await msg('bob', '#ops', sb.id, 'from bob');
        expect(ids(await store.pendingMessages('bob', 0, sb.id, 100))).toEqual([after.id]);
        expect(ids(await store.pendingMessages('alice', 0, sa.id, 100))).toEqual([own.id]);
        expect(ids(await store.groupHistory('ops', 10))).toEqual([before.id, after.id, own.id]);
        expect(ids(await store.groupHistory('ops', 1, own.id))).toEqual([after.id]);
        expect(await store.removeMember('ops', 'bob')).toBe(true);
        await msg('alice', '#ops', sa.id, 'bob left');
        expect(ids(await store.pendingMessages('bob', own.id, sb.id, 100))).toEqual([]);
      });

      it('lists the pending invitations of a user, oldest first, until it joins', async () => {
        await user('alice');
        await store.createGroup('secret', 'alice', true, T0);
        await store.createGroup('club', 'alice', true, T0);
        expect(await store.pendingInvites('bob')).toEqual([]);
        await store.addInvite('club', 'bob', 'alice', T0 + 2);
        await store.addInvite('secret', 'bob', 'carol', T0 + 1);
        expect(await store.pendingInvites('bob')).toEqual([
          { group: 'secret', by: 'carol', at: T0 + 1 },
          { group: 'club', by: 'alice', at: T0 + 2 },
        ]);
        await store.addMember('secret', 'bob', T0 + 3);
        expect(await store.pendingInvites('bob')).toEqual([{ group: 'club', by: 'alice', at: T0 + 2 }]);
      });

      it('consumes an invitation on join and deletes everything of a deleted group', async () => {
        const a = await user('alice');
        const sa = await session(a);
        await store.createGroup('secret', 'alice', true, T0);
        await store.addInvite('secret', 'bob', 'alice', T0);
        expect(await store.hasInvite('secret', 'bob')).toBe(true);
        await store.addMember('secret', 'bob', T0);
        expect(await store.hasInvite('secret', 'bob')).toBe(false);
        await msg('alice', '#secret', sa.id);
        await store.deleteGroup('secret');
        expect(await store.getGroup('secret')).toBeNull();
        expect(await store.members('secret')).toEqual([]);
        expect(await store.groupHistory('secret', 10)).toEqual([]);
        await store.createGroup('secret', 'carol', false, T0);
        expect(await store.members('secret')).toEqual([{ user: 'carol', role: 'owner' }]);
      });
    });

    describe('contacts', () => {
      it('a request is outgoing on one side and incoming on the other; accepting makes both friends', async () => {
        expect(await store.requestFriend('alice', 'bob', T0)).toBe('outgoing');
        expect(await store.requestFriend('alice', 'bob', T0)).toBe('unchanged');
        expect(await store.friends('alice')).toEqual([{ user: 'bob', state: 'outgoing', note: '' }]);
        expect(await store.friends('bob')).toEqual([{ user: 'alice', state: 'incoming', note: '' }]);
        expect(await store.acceptFriend('alice', 'bob', T0)).toBe(false);
        expect(await store.acceptFriend('bob', 'alice', T0)).toBe(true);
        expect((await store.friends('alice'))[0]!.state).toBe('friend');
        expect((await store.friends('bob'))[0]!.state).toBe('friend');
      });

      it('crossed requests make friends at once; notes are private; removal clears both sides', async () => {
        await store.requestFriend('alice', 'bob', T0);
        expect(await store.requestFriend('bob', 'alice', T0)).toBe('friend');
        expect(await store.setFriendNote('alice', 'bob', 'met at the meetup')).toBe(true);
        expect(await store.setFriendNote('alice', 'carol', 'x')).toBe(false);
        expect(await store.friends('alice')).toEqual([{ user: 'bob', state: 'friend', note: 'met at the meetup' }]);
        expect((await store.friends('bob'))[0]!.note).toBe('');
        expect(await store.removeFriend('bob', 'alice')).toBe(true);
        expect(await store.friends('alice')).toEqual([]);
        expect(await store.removeFriend('bob', 'alice')).toBe(false);
      });

      it('a block is one-way, listed by name with its first time, and undone by unblock', async () => {
        expect(await store.blocks('alice')).toEqual([]);
        expect(await store.block('alice', 'zed', T0)).toBe(true);
        expect(await store.block('alice', 'bob', T0 + 1)).toBe(true);
        expect(await store.block('alice', 'bob', T0 + 2)).toBe(false);
        expect(await store.blocks('alice')).toEqual([{ user: 'bob', at: T0 + 1 }, { user: 'zed', at: T0 }]);
        expect(await store.blocks('bob')).toEqual([]);
        expect(await store.unblock('alice', 'bob')).toBe(true);
        expect(await store.unblock('alice', 'bob')).toBe(false);
        expect(await store.blocks('alice')).toEqual([{ user: 'zed', at: T0 }]);
      });

      it('lists friends before pending requests', async () => {
        await store.requestFriend('alice', 'zed', T0);
        await store.requestFriend('alice', 'bob', T0);
        await store.requestFriend('carol', 'alice', T0);
        await store.acceptFriend('bob', 'alice', T0);
        expect((await store.friends('alice')).map((f) => `${f.user}:${f.state}`)).toEqual(['bob:friend', 'carol:incoming', 'zed:outgoing']);
      });

      it('finds users by name prefix, ignoring case, with LIKE wildcards taken literally', async () => {
        for (const n of ['alice', 'alina', 'al_x', 'alxx', 'bob']) await user(n);
        expect(await store.searchUsers('Ali', 10)).toEqual(['alice', 'alina']);
        expect(await store.searchUsers('al_', 10)).toEqual(['al_x']);
        expect(await store.searchUsers('al', 2)).toEqual(['al_x', 'alice']);
        expect(await store.searchUsers('zz', 10)).toEqual([]);
      });
    });

    describe('delivery receipts', () => {
      it('directMessagesTo returns what an ack newly covers, without own or group messages', async () => {
        const [a, b] = [await user('alice'), await user('bob')];
        const [sa, sb] = [await session(a), await session(b)];
        await store.createGroup('ops', 'alice', false, T0);
        await store.addMember('ops', 'bob', T0);
        const m1 = await msg('alice', 'bob', sa.id);
        await msg('alice', '#ops', sa.id);
        await msg('bob', 'alice', sb.id);
        const m4 = await msg('alice', 'bob', sa.id);
        expect(ids(await store.directMessagesTo('bob', 0, m4.id, 10))).toEqual([m1.id, m4.id]);
        expect(ids(await store.directMessagesTo('bob', m1.id, m4.id, 10))).toEqual([m4.id]);
      });

      it('backlog counts the direct messages from others after the furthest ack, and their bytes', async () => {
        const [a, b] = [await user('alice'), await user('bob')];
        const [sa, sb] = [await session(a), await session(b)];
        await store.createGroup('ops', 'alice', false, T0);
        await store.addMember('ops', 'bob', T0);
        expect(await store.backlog('bob', 100)).toEqual({ count: 0, bytes: 0 });
        const m1 = await store.addMessage({ from: 'alice', to: 'bob', text: 'héllo', at: T0, fromSession: sa.id }).then(messageOf);
        await store.addMessage({ from: 'alice', to: '#ops', text: 'to the group', at: T0, fromSession: sa.id }).then(messageOf);
        await store.addMessage({ from: 'bob', to: 'bob', text: 'a note to self', at: T0, fromSession: sb.id }).then(messageOf);
        await store.addMessage({ from: 'alice', to: 'bob', text: 'again', at: T0, fromSession: sa.id }).then(messageOf);
        expect(await store.backlog('bob', 100)).toEqual({ count: 2, bytes: 6 + 5 });
        expect((await store.backlog('bob', 1)).count).toBe(1);
        await store.ackMessages(sb.id, m1.id);
        expect(await store.backlog('bob', 100)).toEqual({ count: 1, bytes: 5 });
      });
    });

    describe('capabilities the server relies on', () => {
      // commitsInCallOrder lets a connection hand the store its next message before the previous
      // one resolved (pipelined sends): that is only right if writes called back to back commit,
      // and resolve, in the order they were called, whatever other writes come between.
      it('commitsInCallOrder: back-to-back writes commit and resolve in call order (or the store does not claim it)', async () => {
        const [a, , c] = [await user('alice'), await user('bob'), await user('carol')];
        const sa = await session(a);
        await store.createGroup('ops', 'alice', false, T0);
        const targets = ['bob', 'carol', '#ops'];
        const resolved: number[] = [];
        const calls: Promise<StoredMessage>[] = [];
        for (let i = 0; i < 120; i++) {
          calls.push(store.addMessage({ from: 'alice', to: targets[i % 3]!, text: `m${i}`, at: T0 + i, fromSession: sa.id }).then((r) => {
            resolved.push(i);
            return r;
          }));
          // Other writes in between, as other handlers on the same server make them.
          if (i % 10 === 0) void store.touchSession(sa.id, T0 + i);
          if (i % 15 === 0) void store.requestFriend(i % 2 === 0 ? 'bob' : 'carol', 'alice', T0 + i);
        }
        const stored = await Promise.all(calls);
        const got = stored.map((r) => r.message.id);
        expect(new Set(got).size).toBe(got.length);
        expect(typeof store.commitsInCallOrder).toBe('boolean');
        if (store.commitsInCallOrder) {
          expect(got).toEqual([...got].sort((x, y) => x - y));
          expect(resolved).toEqual(calls.map((_, i) => i));
        }
        expect((await store.history({ a: 'alice', b: c.name, limit: 100 })).length).toBe(40);
      });
    });

    describe('concurrent writers on several nodes', () => {
      it('keeps each conversation in id order, says where each message stands in it, and a device following its cursor never skips one', async () => {
        const nodes = fixture.node ? [store, await fixture.node(), await fixture.node()] : [store, store, store];
        const [a, b] = [await user('alice'), await user('bob')];
        await Promise.all(['carol', 'dave'].map((n) => user(n)));
        const [sa, sb] = [await session(a), await session(b)];
        await store.createGroup('ops', 'alice', false, T0);
        await store.addMember('ops', 'bob', T0);
        await store.addMember('ops', 'carol', T0);
        const conversations: [string, string][] = [['alice', 'bob'], ['carol', 'bob'], ['dave', 'bob'], ['bob', 'alice'], ['alice', '#ops'], ['carol', '#ops'], ['carol', 'dave']];
        const key = (from: string, to: string) => (to.startsWith('#') ? to : [from, to].sort().join(' '));
        const announced: { id: number; order?: MessageOrder }[] = [];

        // bob's device: reads its backlog, acks it, and reads again from the cursor the store kept.
        const seen = new Set<number>();
        const follow = async () => {
          const cursor = (await store.getSession(sb.id))!.cursor;
          const page = await store.pendingMessages('bob', cursor, sb.id, 100);
          for (const m of page) seen.add(m.id);
          if (page.length > 0) await store.ackMessages(sb.id, page[page.length - 1]!.id);
        };
        let writing = true;
        const sent = Promise.all(
          Array.from({ length: 210 }, (_, i) => {
            const [from, to] = conversations[i % conversations.length]!;
            const m = { from, to, text: `m${i}`, at: T0 + i, fromSession: from === 'alice' ? sa.id : 0 };
            return nodes[i % nodes.length]!.addMessage(m).then(({ message, order }) => {
              announced.push({ id: message.id, order });
              return message;
            });
          }),
        ).finally(() => {
          writing = false;
        });
        // (setImmediate: a store that completes writes through events must get to them.)
        for (let rounds = 0; writing && rounds < 10_000; rounds++) await follow().then(() => new Promise((r) => setImmediate(r)));
        const all = await sent;
        for (let rounds = 0; rounds < 5; rounds++) await follow(); // what is left, page by page
        expect(new Set(all.map((m) => m.id)).size).toBe(all.length);
        for (const [from, to] of conversations.filter(([f, t], i, list) => list.findIndex(([f2, t2]) => key(f2, t2) === key(f, t)) === i)) {
          const k = key(from, to);
          const stored = all.filter((m) => key(m.from, m.to) === k).map((m) => m.id);
          const history = to.startsWith('#') ? await store.groupHistory(to.slice(1), 500) : await store.history({ a: from, b: to, limit: 500 });
          const inOrder = [...stored].sort((x, y) => x - y);
          expect(ids(history), k).toEqual(inOrder);
          // Each message names its conversation's previous one (every store): receivers can restore the order.
          const orders = inOrder.map((id) => announced.find((x) => x.id === id)!.order);
          expect(orders, k).toEqual(inOrder.map((_, j) => ({ conversation: k, prev: j === 0 ? 0 : inOrder[j - 1] })));
        }
        // One writer (commitsInCallOrder): messages resolve in id order across conversations too.
        if (store.commitsInCallOrder) expect(announced.map((x) => x.id)).toEqual(all.map((m) => m.id).sort((x, y) => x - y));
        expect(announced.length).toBe(all.length);
        const forBob = all.filter((m) => m.to === 'bob' || m.from === 'bob' || m.to === '#ops').map((m) => m.id);
        expect([...forBob].filter((id) => !seen.has(id))).toEqual([]);
      });
    });
  });
}
