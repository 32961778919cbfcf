import { describe, expect, it } from 'vitest';
import { ERROR_CODES, ProtocolError, isErrorCode } from '../../../src/protocol/errors.js';
import { REQUEST_TYPES, parseRequest, requestIdOf } from '../../../src/protocol/messages.js';

const json = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8');

function codeOf(payload: Buffer): string {
  try {
    parseRequest(payload);
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    // Parse errors are answered, not fatal: the connection survives a bad request.
    expect((err as ProtocolError).fatal).toBe(false);
    return (err as ProtocolError).code;
  }
  throw new Error(`parseRequest accepted ${payload.toString('utf8')}`);
}

describe('parseRequest', () => {
  it('parses a well-formed request of every type', () => {
    const samples: Record<string, Record<string, unknown>> = {
      hello: { version: 2, client: 'x' },
      register: { user: 'alice', password: 'password1', device: 'laptop' },
      login: { user: 'alice', password: 'password1', device: 'phone' },
      auth: { token: 't' },
      logout: {},
      ping: {},
      whoami: {},
      sessions: {},
      device_keys: { user: 'bob' },
      revoke_session: { session: 3 },
      change_password: { password: 'password1', newPassword: 'password2' },
      who: {},
      subscribe: {},
      send: { to: 'bob', text: 'hi' },
      history: { with: 'bob', limit: 10, before: 5 },
      ack: { upTo: 3 },
      offer: { to: 'bob', transfer: 't', token: 'k', candidates: [], fileCount: 1, totalBytes: 10, timeoutMs: 1000 },
      offer_files: { offer: 'o', files: [], done: true },
      offer_list: { offer: 'o', start: 0, limit: 10 },
      offers: {},
      accept: { offer: 'o' },
      reject: { offer: 'o', reason: 'no' },
      withdraw: { offer: 'o' },
      group_create: { group: 'ops', private: true },
      group_join: { group: 'ops' },
      group_leave: { group: 'ops' },
      group_members: { group: 'ops' },
      group_list: {},
      group_invite: { group: 'ops', user: 'bob' },
      group_kick: { group: 'ops', user: 'bob' },
      group_delete: { group: 'ops' },
      friend_add: { user: 'bob' },
      friend_accept: { user: 'bob' },
      friend_decline: { user: 'bob' },
      friend_remove: { user: 'bob' },
      friend_note: { user: 'bob', note: 'n' },
      friend_list: {},
      block: { user: 'bob' },
      unblock: { user: 'bob' },
      blocked: {},
      users_search: { prefix: 'b', limit: 5 },
      relay: { version: 1, transfer: 't', role: 'sender', proof: 'ab' },
      punch: { version: 1, transfer: 't', role: 'receiver', proof: 'ab' },
    };
    expect(Object.keys(samples).sort()).toEqual([...REQUEST_TYPES].sort());
    let id = 1;
    for (const [type, fields] of Object.entries(samples)) {
      const request = { id: id++, type, ...fields };
      expect(parseRequest(json(request))).toEqual(request);
    }
  });

  it('accepts optional fields when absent or null', () => {
    expect(parseRequest(json({ id: 1, type: 'history', with: 'bob' }))).toMatchObject({ type: 'history', with: 'bob' });
    expect(parseRequest(json({ id: 1, type: 'history', with: 'bob', limit: null }))).toMatchObject({ type: 'history' });
    expect(parseRequest(json({ id: 1, type: 'hello', version: 1 }))).toMatchObject({ type: 'hello' });
  });

  it.each([
    ['not JSON at all', Buffer.from('hello')],
    ['truncated JSON', Buffer.from('{"id":1,"type":"who"')],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d])],
  ])('rejects %s as bad_json', (_, payload) => {
    expect(codeOf(payload)).toBe('bad_json');
  });

  it.each([
    ['an array', [1, 2]],
    ['a string', 'who'],
    ['a number', 42],
    ['null', null],
    ['no id', { type: 'who' }],
    ['id 0', { id: 0, type: 'who' }],
    ['negative id', { id: -1, type: 'who' }],
    ['fractional id', { id: 1.5, type: 'who' }],
    ['string id', { id: '1', type: 'who' }],
    ['unsafe integer id', { id: 2 ** 53, type: 'who' }],
  ])('rejects %s as bad_request', (_, value) => {
    expect(codeOf(json(value))).toBe('bad_request');
  });

  it.each([
    ['an unknown type', { id: 1, type: 'dance' }],
    ['no type', { id: 1 }],
    ['a non-string type', { id: 1, type: 7 }],
    ['an inherited property name', { id: 1, type: 'toString' }],
    ['__proto__', { id: 1, type: '__proto__' }],
    ['a server frame type', { id: 1, type: 'ok' }],
  ])('rejects %s as unknown_type', (_, value) => {
    expect(codeOf(json(value))).toBe('unknown_type');
  });

  it.each([
    ['send without text', { id: 1, type: 'send', to: 'bob' }],
    ['send without to', { id: 1, type: 'send', text: 'hi' }],
    ['send with numeric text', { id: 1, type: 'send', to: 'bob', text: 5 }],
    ['login with null password', { id: 1, type: 'login', user: 'a', password: null }],
    ['hello without version', { id: 1, type: 'hello' }],
    ['hello with string version', { id: 1, type: 'hello', version: '1' }],
    ['history with negative limit', { id: 1, type: 'history', with: 'bob', limit: -1 }],
    ['history with fractional before', { id: 1, type: 'history', with: 'bob', before: 1.5 }],
    ['history with string limit', { id: 1, type: 'history', with: 'bob', limit: '10' }],
    ['ack with string upTo', { id: 1, type: 'ack', upTo: '3' }],
    ['offer_files with non-boolean done', { id: 1, type: 'offer_files', offer: 'o', files: [], done: 1 }],
    ['offer with object candidates', { id: 1, type: 'offer', to: 'b', transfer: 't', token: 'k', candidates: {}, fileCount: 1, totalBytes: 1, timeoutMs: 1 }],
    ['hello with numeric client', { id: 1, type: 'hello', version: 1, client: 5 }],
  ])('rejects %s as bad_request naming the field', (_, value) => {
    expect(codeOf(json(value))).toBe('bad_request');
  });

  it('names the type and the field in the message', () => {
    expect(() => parseRequest(json({ id: 1, type: 'send', to: 'bob' }))).toThrow(/send: field "text"/);
  });
});

describe('requestIdOf', () => {
  it('returns a positive safe integer id, else null', () => {
    expect(requestIdOf({ id: 5 })).toBe(5);
    expect(requestIdOf({ id: 0 })).toBeNull();
    expect(requestIdOf({ id: '5' })).toBeNull();
    expect(requestIdOf(null)).toBeNull();
    expect(requestIdOf('x')).toBeNull();
  });
});

describe('error codes', () => {
  it('isErrorCode knows exactly the catalog', () => {
    for (const code of ERROR_CODES) expect(isErrorCode(code)).toBe(true);
    expect(isErrorCode('nope')).toBe(false);
    expect(isErrorCode(undefined)).toBe(false);
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
  });

  it('ProtocolError carries the code and is not fatal unless asked', () => {
    const e = new ProtocolError('too_large', 'big');
    expect([e.code, e.fatal, e.message, e.name]).toEqual(['too_large', false, 'big', 'ProtocolError']);
    expect(new ProtocolError('bad_frame', 'x', { fatal: true }).fatal).toBe(true);
  });
});
