// The pinning rules of protocol.md §T10.3 on a real CHAT_HOME in a temp dir.
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkPeer } from '../../../src/cli/peer-trust.js';
import { pinPeer } from '../../../src/cli/known-peers.js';
import { newIdentity, signWith, type Identity } from '../../../src/transfer/identity.js';

const SERVER = 'chat.example:7070';
const signed = Buffer.from('the bytes of §T10.2');
const identityOf = (id: Identity, device = 'laptop') => ({ key: id.publicKey, device, sig: signWith(id, signed) });

let home: string;
beforeEach(async () => {
  home = await mkdtemp(path.join(tmpdir(), 'chat-pins-'));
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('checkPeer', () => {
  it('pins on first sight once the transfer is authenticated (pin), and says so once, in a 0600 known_peers', async () => {
    const bob = newIdentity();
    // Not pinned until pin(): a transfer whose code did not match leaves no pin behind.
    expect((await checkPeer(home, SERVER, 'bob', identityOf(newIdentity()), signed)).notice).toMatch(/^first transfer with bob/);
    await expect(readFile(path.join(home, 'known_peers'), 'utf8')).rejects.toThrow(/ENOENT/);
    const first = await checkPeer(home, SERVER, 'bob', identityOf(bob), signed);
    first.pin!();
    expect(first.notice).toMatch(/^first transfer with bob \(device "laptop", key [0-9A-F]{4} [0-9A-F]{4} [0-9A-F]{4} [0-9A-F]{4}…\); compare safety numbers with: chat verify bob$/);
    expect(await checkPeer(home, SERVER, 'bob', identityOf(bob), signed)).toEqual({ verified: false });
    expect(await readFile(path.join(home, 'known_peers'), 'utf8')).toBe(`${SERVER} bob laptop ${bob.publicKey} pinned\n`);
    expect((await stat(path.join(home, 'known_peers'))).mode & 0o777).toBe(0o600);
  });

  it('refuses a changed key for a known device, naming both keys and the way out', async () => {
    (await checkPeer(home, SERVER, 'bob', identityOf(newIdentity()), signed)).pin!();
    await expect(checkPeer(home, SERVER, 'bob', identityOf(newIdentity()), signed)).rejects.toThrow(
      /identity key of bob's device "laptop" has CHANGED \(pinned .*, now .*\).*refused.*chat verify bob.*chat trust bob --device "laptop"/,
    );
  });

  it('refuses a signature that does not verify, and a peer without one', async () => {
    const bob = newIdentity();
    await expect(checkPeer(home, SERVER, 'bob', identityOf(bob), Buffer.from('other bytes'))).rejects.toThrow(/does not match this transfer/);
    await expect(checkPeer(home, SERVER, 'bob', undefined, signed)).rejects.toThrow(/does not sign its transfers.*--insecure-peer/);
  });

  it('pins a new device of an unverified contact, refuses one of a verified contact unless asked and answered yes', async () => {
    const desk = newIdentity();
    pinPeer(home, { server: SERVER, user: 'bob', device: 'desk', key: desk.publicKey, verified: true });
    expect(await checkPeer(home, SERVER, 'bob', identityOf(desk, 'desk'), signed)).toEqual({ verified: true });
    const phone = identityOf(newIdentity(), 'my phone');
    await expect(checkPeer(home, SERVER, 'bob', phone, signed)).rejects.toThrow(/bob is a verified contact, but this is a new device \(device "my phone"/);
    await expect(checkPeer(home, SERVER, 'bob', phone, signed, async () => false)).rejects.toThrow(/new device/);
    const yes = await checkPeer(home, SERVER, 'bob', phone, signed, async () => true);
    expect(yes.notice).toMatch(/^pinned a new device of bob/);
    yes.pin!();
    expect(await checkPeer(home, SERVER, 'bob', phone, signed)).toEqual({ verified: false });
    expect(await readFile(path.join(home, 'known_peers'), 'utf8')).toContain(' bob my%20phone ');
    // Another user's pins are their own.
    expect((await checkPeer(home, SERVER, 'carol', identityOf(newIdentity()), signed)).notice).toMatch(/^first transfer with carol/);
  });
});
