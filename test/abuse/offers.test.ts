// Offer file lists (issue 25, finding 1): bounded in bytes per offer, per sender and in all, with a
// deadline to finish them; an unfinished offer is dropped with its sender and its bytes released.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnServer, type SpawnedServer } from '../helpers/server.js';
import { abuseHarness, type RawClient, type Reply } from './raw-client.js';

const spawned: SpawnedServer[] = [];
afterEach(async () => {
  for (const s of spawned.splice(0)) await s.stop();
});
const { server, as } = abuseHarness();

let transfers = 0;

/** An offer of 100,000 files to `to`, its list never finished (each with a transfer id of its own). */
async function openOffer(c: RawClient, to: string, n: number): Promise<string> {
  const reply = await c.request('offer', {
    to, transfer: `t${n}x${transfers++}${'0'.repeat(16)}`, token: 'k'.repeat(43), candidates: [{ host: '127.0.0.1', port: 9 }],
    timeoutMs: 3_600_000, fileCount: 100_000, totalBytes: 100_000,
  });
  expect(reply).toMatchObject({ type: 'ok' });
  return String(reply.result!.offer);
}

/** A page of 60 files with 4000-character paths (~240 KB: just under the frame limit). */
function hostilePage(offer: string, page: number) {
  const files = Array.from({ length: 60 }, (_, i) => ({
    path: `${page}-${i}-${'p'.repeat(4000)}`, size: 1, mime: 'application/octet-stream', mode: 0o644, mtimeMs: 1,
  }));
  return { offer, files, done: false };
}

/** Sends pages to offers of `c` until one is refused; returns the refusal. */
async function floodUntilRefused(c: RawClient, to: string, maxPages: number): Promise<Reply> {
  let offer = await openOffer(c, to, 0);
  for (let page = 0, offers = 1; page < maxPages; page++) {
    // 1666 pages would fill an offer's 100,000 files; take a new offer every 100 pages.
    if (page > 0 && page % 100 === 0) offer = await openOffer(c, to, offers++);
    const reply = await c.request('offer_files', hostilePage(offer, page));
    if (reply.type !== 'ok') return reply;
  }
  throw new Error(`${maxPages} pages of file list were all accepted`);
}

function rssMiB(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  return kb / 1024;
}

describe('offer file lists', () => {
  it('keeps a server with a 256 MiB heap alive through an offer-metadata flood, serving a normal client, and takes offers again once the flooders leave', async () => {
    const s = await spawnServer({ env: { NODE_OPTIONS: '--max-old-space-size=256' } });
    spawned.push(s);
    await as(s, 'victim');
    const flooders = [];
    for (let i = 0; i < 4; i++) flooders.push(await as(s, `flood${i}`, `127.0.${i + 10}.1`));
    // Each flooder sends pages until refused: the server's ceiling is a quarter of its heap (64 MiB).
    const refusals = [];
    for (const f of flooders) refusals.push(await floodUntilRefused(f, 'victim', 2000));
    expect(refusals.map((r) => r.code)).toContain('overloaded');
    expect(refusals.every((r) => ['overloaded', 'limit_reached'].includes(r.code!))).toBe(true);
    expect(s.child.exitCode).toBeNull();
    expect(rssMiB(s.child.pid!)).toBeLessThan(450);
    // A normal client is served meanwhile.
    const alice = await as(s, 'alice', '127.0.50.1');
    expect(await alice.request('send', { to: 'victim', text: 'still there?' })).toMatchObject({ type: 'ok' });
    // The flooders leave: their unfinished offers go, and their bytes with them.
    for (const f of flooders) {
      f.close();
      await f.closed;
    }
    const bob = await as(s, 'bob', '127.0.51.1');
    const offer = await openOffer(bob, 'victim', 1);
    let accepted = 0;
    for (let page = 0; page < 20; page++) if ((await bob.request('offer_files', hostilePage(offer, page))).type === 'ok') accepted++;
    expect(accepted).toBe(20);
  });

  it("refuses a page that would take one offer's file list past its bytes", async () => {
    const ts = await server({ maxOfferBytes: 1_000_000 });
    await as(ts, 'victim');
    const m = await as(ts, 'mallory');
    const refused = await floodUntilRefused(m, 'victim', 10);
    expect(refused).toMatchObject({ code: 'too_large' });
    expect(refused.message).toMatch(/file list is over 1 MiB/);
  });

  it("refuses a page past the bytes of all of one sender's offers, and others still may offer", async () => {
    const ts = await server({ maxOfferBytesPerUser: 2_000_000 });
    await as(ts, 'victim');
    const m = await as(ts, 'mallory');
    expect(await floodUntilRefused(m, 'victim', 20)).toMatchObject({ code: 'limit_reached' });
    const other = await as(ts, 'carol');
    expect(await other.request('offer_files', hostilePage(await openOffer(other, 'victim', 2), 0))).toMatchObject({ type: 'ok' });
  });

  it('drops an offer whose file list is not complete in time, tells its sender, and releases its bytes', async () => {
    const ts = await server({ offerListTimeoutMs: 300 });
    await as(ts, 'victim');
    const m = await as(ts, 'mallory');
    const offer = await openOffer(m, 'victim', 0);
    expect(await m.request('offer_files', hostilePage(offer, 0))).toMatchObject({ type: 'ok' });
    expect(ts.server.offers.bytes).toBeGreaterThan(240_000);
    const closed = await m.event('offer_closed', 5000);
    expect(closed.data).toMatchObject({ offer, reason: 'expired', message: 'the file list was not complete within 0.3 s' });
    expect(ts.server.offers.bytes).toBe(0);
    expect(await m.request('offer_files', hostilePage(offer, 1))).toMatchObject({ code: 'no_such_offer' });
  });

  it("releases an unfinished offer's bytes when its sender disconnects", async () => {
    let gone: () => void = () => {};
    const senderGone = new Promise<void>((resolve) => (gone = resolve));
    const ts = await server({}, { log: (line) => void (/^offer \S+ mallory -> victim sender_gone$/.test(line) && gone()) });
    await as(ts, 'victim');
    const m = await as(ts, 'mallory');
    const offer = await openOffer(m, 'victim', 0);
    for (let page = 0; page < 5; page++) await m.request('offer_files', hostilePage(offer, page));
    expect(ts.server.offers.bytes).toBeGreaterThan(1_000_000);
    m.close();
    await senderGone;
    expect(ts.server.offers.bytes).toBe(0);
  });
});
