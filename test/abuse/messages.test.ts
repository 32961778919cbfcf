// Message floods (issue 25, finding 4): rates belong to the user over all its connections and
// survive reconnects, one sender cannot flood one recipient, and what waits unread for a
// recipient has a quota, with a clear error to the sender.
import { describe, expect, it } from 'vitest';
import { startServer } from '../helpers/server.js';
import { abuseHarness, type RawClient, type Reply } from './raw-client.js';

const { server, as, servers } = abuseHarness();

const send = (c: RawClient, to: string, text: string) => c.request('send', { to, text });
const codeOf = (r: Reply): string => (r.type === 'ok' ? 'ok' : (r.code ?? '?'));

describe('message floods', () => {
  it('limits the message rate per user over all its connections, and a reconnect does not refill it', async () => {
    const ts = await server({ messageRate: 0.001, messageBurst: 6 });
    await as(ts, 'victim');
    const conns = [await as(ts, 'mallory'), await as(ts, 'mallory'), await as(ts, 'mallory')];
    const got: string[] = [];
    for (let i = 0; i < 9; i++) got.push(codeOf(await send(conns[i % 3]!, 'victim', `spam ${i}`)));
    expect(got).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'rate_limited', 'rate_limited', 'rate_limited']);
    for (const c of conns) c.close();
    const fresh = await as(ts, 'mallory');
    expect(await send(fresh, 'victim', 'after a reconnect')).toMatchObject({ code: 'rate_limited', message: 'slow down: at most 0.001 messages per second' });
  });

  it('limits the bytes a user sends, not only the count', async () => {
    const ts = await server({ messageBytesRate: 1, messageBytesBurst: 40_000 });
    await as(ts, 'victim');
    const m = await as(ts, 'mallory');
    const big = 'x'.repeat(16_000);
    const got = [await send(m, 'victim', big), await send(m, 'victim', big), await send(m, 'victim', big)].map(codeOf);
    expect(got).toEqual(['ok', 'ok', 'rate_limited']);
    expect(codeOf(await send(m, 'victim', 'short'))).toBe('ok'); // the bytes left still allow a short one
  });

  it('limits what one sender sends to one recipient, and not to others', async () => {
    const ts = await server({ recipientMessageRate: 0.001, recipientMessageBurst: 3 });
    await as(ts, 'victim');
    await as(ts, 'friend');
    const m = await as(ts, 'mallory');
    const got: string[] = [];
    for (let i = 0; i < 4; i++) got.push(codeOf(await send(m, 'victim', `spam ${i}`)));
    expect(got).toEqual(['ok', 'ok', 'ok', 'rate_limited']);
    expect(codeOf(await send(m, 'friend', 'hello'))).toBe('ok');
  });

  it('stops storing for a recipient at its backlog quota, for every sender, until it has read them', async () => {
    const ts = await server({ maxBacklogMessages: 5 });
    const victim = await as(ts, 'victim');
    victim.close();
    const a = await as(ts, 'mallory');
    const b = await as(ts, 'eve');
    for (let i = 0; i < 5; i++) expect(codeOf(await send(i % 2 ? a : b, 'victim', `m${i}`))).toBe('ok');
    const over = await send(a, 'victim', 'one too many');
    expect(over).toMatchObject({ code: 'limit_reached' });
    expect(over.message).toMatch(/victim has too many unread messages waiting/);
    expect(codeOf(await send(b, 'victim', 'me too'))).toBe('limit_reached');
    // The victim connects, receives and acknowledges: there is room again.
    const back = await as(ts, 'victim');
    const sub = await back.request('subscribe');
    expect(sub).toMatchObject({ type: 'ok' });
    const last = await lastMessageId(back, 5);
    expect(await back.request('ack', { upTo: last })).toMatchObject({ type: 'ok' });
    expect(codeOf(await send(a, 'victim', 'read now'))).toBe('ok');
  });

  it('counts the bytes of the backlog too, and keeps counting them across a server restart', async () => {
    const ts = await server({ maxBacklogBytes: 50_000 });
    await as(ts, 'victim');
    const m = await as(ts, 'mallory');
    const big = 'y'.repeat(16_000);
    const got = [];
    for (let i = 0; i < 4; i++) got.push(codeOf(await send(m, 'victim', big)));
    expect(got).toEqual(['ok', 'ok', 'ok', 'limit_reached']);
    // What waits is read from the store: a restart does not forget it.
    m.close();
    await ts.stop();
    const again = await startServer({ dataDir: ts.dataDir, limits: { maxBacklogBytes: 50_000 } });
    servers.push(again);
    const m2 = await as(again, 'mallory');
    expect(codeOf(await send(m2, 'victim', big))).toBe('limit_reached');
    expect(codeOf(await send(m2, 'victim', 'small'))).toBe('ok');
  });
});

/** Waits for `n` message events (backlog and live) and returns the last id. */
async function lastMessageId(c: RawClient, n: number): Promise<number> {
  let last = 0;
  for (let i = 0; i < n; i++) last = Math.max(last, Number((await c.event('message', 5000)).data!.id));
  return last;
}
