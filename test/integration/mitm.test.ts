// Issue 26: a malicious server (a front end with the server's own TLS key, so every certificate
// pin matches) that rewrites the keys in offers and accepts, and re-signs with an identity of its
// own. Built CLIs as child processes, real TCP, the real server on port 0. The server also holds
// each offer's token: it tries to fetch the files with it, and must get nothing. The tests run in
// order: the first one's clean transfer pins alice and bob for the later 'pinned' ones.
import { existsSync, readFileSync } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Receiver } from '../../src/transfer/receiver.js';
import { withObserved } from '../../src/transfer/offer.js';
import { runCli, spawnCli, tempHome, type SpawnedCli } from '../helpers/cli.js';
import { startMitm, type Mitm } from '../helpers/mitm-server.js';
import { startServer, tempDir, type TestServer } from '../helpers/server.js';
import { sha256File, writeRandomFile } from '../helpers/transfer-files.js';

const PASSWORD = 'correct horse battery';
const LOCAL = ['--bind', '127.0.0.1', '--advertise', '127.0.0.1', '--advertise-only', '--via', 'direct'];

let server: TestServer;
let mitm: Mitm;
let work: string;
const homes: Record<string, string> = {};

async function register(user: string): Promise<void> {
  homes[user] = await tempHome();
  const r = await runCli(['register', user], { home: homes[user]!, server: mitm.address, env: { CHAT_PASSWORD: PASSWORD } });
  expect(r.code, r.stderr).toBe(0);
}

function send(from: string, to: string, file: string, args: string[] = []): SpawnedCli {
  return spawnCli(['send-file', to, file, ...LOCAL, ...args], { home: homes[from]!, server: mitm.address, timeoutMs: 60_000 });
}

function accept(user: string, dir: string, args: string[] = []): SpawnedCli {
  return spawnCli(['accept', '--dir', dir, ...LOCAL, ...args], { home: homes[user]!, server: mitm.address, timeoutMs: 60_000 });
}

/** The server, holding the token, fetches the offer's files with a key of its own: bytes it got. */
async function steal(into: string): Promise<{ error: unknown; bytes: number }> {
  const offer = mitm.offers[mitm.offers.length - 1]!;
  const receiver = new Receiver({
    transferId: offer.transfer, token: offer.token, candidates: withObserved(offer.candidates, offer.observed), files: mitm.files, dir: into,
    keys: { own: mitm.keys, peer: offer.key! }, via: ['direct'], retries: 1, retryDelayMs: 10, handshakeTimeoutMs: 2000,
  });
  const error = await receiver.start().then(() => undefined, (err: unknown) => err);
  let bytes = 0;
  for (const name of await readdir(into).catch(() => [])) bytes += (await stat(path.join(into, name))).size;
  return { error, bytes };
}

function interactive(user: string): SpawnedCli {
  return spawnCli(['--bind', '127.0.0.1', '--advertise', '127.0.0.1', '--advertise-only'], { home: homes[user]!, server: mitm.address, timeoutMs: 60_000 });
}

const codeOf = (line: string) => /verification code:? (\d{3} \d{3} \d{3})/.exec(line)![1]!;
const pinsIn = (home: string) => (existsSync(path.join(home, 'known_peers')) ? readFileSync(path.join(home, 'known_peers'), 'utf8') : '');

let n = 0;
const fresh = (name: string) => tempDir(`chat-mitm-${name}-${n++}-`);

beforeAll(async () => {
  server = await startServer();
  mitm = await startMitm(server);
  work = await tempDir('chat-mitm-');
  for (const user of ['alice', 'bob', 'carol', 'dave']) await register(user);
});

afterEach(() => {
  mitm.mode.offer = 'none';
  mitm.mode.accept = 'none';
});

afterAll(async () => {
  await mitm?.close();
  await server?.cleanup();
  for (const dir of [work, ...Object.values(homes)]) if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a malicious server', () => {
  it('between pinned contacts: a re-signed accept is refused by the sender, and neither the server nor the receiver gets a byte', async () => {
    const file = await writeRandomFile(work, 'pinned.bin', 200_000);
    // A clean first transfer pins both sides.
    const first = await fresh('first');
    const s0 = send('alice', 'bob', file);
    await s0.stderr.waitFor(/^offered /, 15_000);
    const r0 = accept('bob', first);
    expect(await r0.exited, r0.stderr.lines.join('\n')).toBe(0);
    expect(await s0.exited).toBe(0);
    expect(s0.stderr.lines.some((l) => l.startsWith('first transfer with bob (device'))).toBe(true);
    expect(r0.stderr.lines.some((l) => l.includes('compare safety numbers with: chat verify alice'))).toBe(true);

    mitm.mode.accept = 'identities';
    const dst = await fresh('dst');
    const sender = send('alice', 'bob', file);
    await sender.stderr.waitFor(/^offered /, 15_000);
    const receiver = accept('bob', dst);
    const refusal = await sender.stderr.waitFor(/^chat: /, 15_000);
    expect(refusal).toMatch(/identity key of bob's device ".*" has CHANGED .*refused.*chat verify bob.*chat trust bob --device/);
    expect(await sender.exited).toBe(1);
    const stolen = await steal(await fresh('stolen'));
    expect(stolen.error).toBeDefined();
    expect(stolen.bytes).toBe(0);
    receiver.kill('SIGINT'); // it would retry a sender that refused it until its budget runs out
    expect(await receiver.exited).not.toBe(0);
    expect(existsSync(path.join(dst, 'pinned.bin'))).toBe(false);
  });

  it('between pinned contacts: a re-signed offer is refused by the receiver before it accepts', async () => {
    const file = await writeRandomFile(work, 'pinned2.bin', 1000);
    mitm.mode.offer = 'identities';
    const dst = await fresh('dst2');
    const sender = send('alice', 'bob', file);
    await sender.stderr.waitFor(/^offered /, 15_000);
    const receiver = accept('bob', dst);
    expect(await receiver.exited).toBe(1);
    expect(receiver.stderr.lines.join('\n')).toMatch(/identity key of alice's device ".*" has CHANGED/);
    expect(await sender.exited).toBe(1); // the receiver rejected the offer
    expect(existsSync(path.join(dst, 'pinned2.bin'))).toBe(false);
  });

  it('a key swapped without re-signing fails the signature, even on first contact', async () => {
    const file = await writeRandomFile(work, 'swapped.bin', 1000);
    mitm.mode.offer = 'keys';
    const dst = await fresh('dst3');
    const sender = send('carol', 'dave', file);
    await sender.stderr.waitFor(/^offered /, 15_000);
    const receiver = accept('dave', dst);
    expect(await receiver.exited).toBe(1);
    expect(receiver.stderr.lines.join('\n')).toMatch(/signature of carol's device .* does not match this transfer/);
    expect(await sender.exited).toBe(1);
  });

  it('on first contact with --verify: the codes differ, a wrong code aborts both sides, and no byte was sent', async () => {
    const file = await writeRandomFile(work, 'first-contact.bin', 200_000);
    mitm.mode.offer = 'identities';
    mitm.mode.accept = 'identities';
    const dst = await fresh('dst4');
    const sender = send('dave', 'carol', file, ['--verify']);
    await sender.stderr.waitFor(/^offered /, 15_000);
    const receiver = accept('carol', dst, ['--verify']);
    const theirs = codeOf(await receiver.stderr.waitFor(/^verification code: /, 15_000));
    const mine = codeOf(await sender.stderr.waitFor(/^verification code: /, 15_000));
    expect(mine).not.toBe(theirs);
    const stealing = fresh('stolen4').then(steal); // the server fetches while both wait
    sender.write(theirs);
    receiver.write(mine);
    expect(await sender.exited).toBe(1);
    expect(await receiver.exited).toBe(1);
    expect(sender.stderr.lines.join('\n')).toMatch(/verification code mismatch.*no data sent/);
    expect(receiver.stderr.lines.join('\n')).toMatch(/verification code mismatch.*no data sent/);
    const stolen = await stealing;
    expect(stolen.bytes).toBe(0);
    expect(existsSync(path.join(dst, 'first-contact.bin'))).toBe(false);
  });

  it('the interactive client refuses as the CLI does: a re-signed accept from a pinned contact, and the token alone gets nothing', async () => {
    const file = await writeRandomFile(work, 'interactive.bin', 100_000);
    const alice = spawnCli(['--bind', '127.0.0.1', '--advertise', '127.0.0.1', '--advertise-only'], { home: homes.alice!, server: mitm.address, timeoutMs: 30_000 });
    try {
      await alice.stdout.waitFor(`connected to ${mitm.address} as alice`, 15_000);
      alice.write('/to bob');
      alice.write(`/send ${file}`);
      await alice.stdout.waitFor(/offered 1 file/, 15_000);
      const before = await steal(await fresh('i-before'));
      expect(before.bytes).toBe(0);
      mitm.mode.accept = 'identities';
      const dst = await fresh('i-dst');
      const receiver = accept('bob', dst);
      await alice.stdout.waitFor(/failed: the identity key of bob's device ".*" has CHANGED/, 15_000);
      const after = await steal(await fresh('i-after'));
      expect(after.bytes).toBe(0);
      receiver.kill('SIGINT'); // it would retry a sender that refused it until its budget runs out
    expect(await receiver.exited).not.toBe(0);
      expect(existsSync(path.join(dst, 'interactive.bin'))).toBe(false);
      alice.write('/quit');
      expect(await alice.exited).toBe(0);
    } finally {
      alice.child.kill();
    }
  });

  it('the interactive client as receiver refuses a re-signed offer from a pinned contact before it accepts', async () => {
    const file = await writeRandomFile(work, 'i-offer.bin', 1000);
    const bob = interactive('bob');
    try {
      await bob.stdout.waitFor(`connected to ${mitm.address} as bob`, 15_000);
      mitm.mode.offer = 'identities';
      const sender = send('alice', 'bob', file);
      const id = /\(offer ([a-z0-9]+)/.exec(await sender.stderr.waitFor(/^offered /, 15_000))![1]!;
      await bob.stdout.waitFor(new RegExp(`/accept ${id}`), 15_000);
      const dst = await fresh('i-offer-dst');
      bob.write(`/accept ${id} ${dst}`);
      await bob.stdout.waitFor(new RegExp(`^\\* transfer ${id} from alice failed: the identity key of alice's device ".*" has CHANGED`), 15_000);
      expect(await sender.exited).toBe(1); // told: the receiver rejected the offer
      expect(existsSync(path.join(dst, 'i-offer.bin'))).toBe(false);
      bob.write('/quit');
      expect(await bob.exited).toBe(0);
    } finally {
      bob.child.kill();
    }
  });

  it('the interactive client on first contact with /send --verify: the codes differ, /deny aborts, no byte was sent and nothing was pinned', async () => {
    await register('erin');
    await register('frank');
    const file = await writeRandomFile(work, 'i-verify.bin', 200_000);
    mitm.mode.offer = 'identities';
    mitm.mode.accept = 'identities';
    const frank = interactive('frank');
    try {
      await frank.stdout.waitFor(`connected to ${mitm.address} as frank`, 15_000);
      frank.write('/to erin');
      frank.write(`/send --verify ${file}`);
      const id = /\(offer ([a-z0-9]+)\)/.exec(await frank.stdout.waitFor(/offered 1 file/, 15_000))![1]!;
      const dst = await fresh('i-verify-dst');
      const erin = accept('erin', dst, ['--verify']);
      const theirs = codeOf(await erin.stderr.waitFor(/^verification code: /, 15_000));
      const mine = codeOf(await frank.stdout.waitFor(new RegExp(`offer ${id}: verification code `), 15_000));
      await frank.stdout.waitFor(`/confirm ${id} or /deny ${id}`, 15_000);
      expect(mine).not.toBe(theirs);
      const stealing = fresh('i-stolen').then(steal); // the server fetches while both wait
      frank.write('/deny');
      await frank.stdout.waitFor(`* transfer ${id} to erin failed: the codes were not confirmed: aborted, no data sent`, 15_000);
      erin.write(mine);
      expect(await erin.exited).toBe(1);
      expect(erin.stderr.lines.join('\n')).toMatch(/verification code mismatch.*no data sent/);
      expect(existsSync(path.join(dst, 'i-verify.bin'))).toBe(false);
      expect((await stealing).bytes).toBe(0);
      // The keys the codes caught are not remembered on either side.
      for (const home of [homes.frank!, homes.erin!]) expect(pinsIn(home)).not.toMatch(/ (erin|frank) /);
      frank.write('/quit');
      expect(await frank.exited).toBe(0);
    } finally {
      frank.child.kill();
    }
  });

  it('the interactive client as receiver with /accept --verify: the same code on both sides, /confirm, the file arrives and the sender is pinned', async () => {
    const file = await writeRandomFile(work, 'i-verified.bin', 150_000);
    const frank = interactive('frank');
    try {
      await frank.stdout.waitFor(`connected to ${mitm.address} as frank`, 15_000);
      const sender = send('erin', 'frank', file, ['--verify']);
      const id = /\(offer ([a-z0-9]+)/.exec(await sender.stderr.waitFor(/^offered /, 15_000))![1]!;
      await frank.stdout.waitFor(new RegExp(`/accept ${id}`), 15_000);
      const dst = await fresh('i-verified-dst');
      frank.write(`/accept --verify ${id} ${dst}`);
      const mine = codeOf(await frank.stdout.waitFor(new RegExp(`offer ${id}: verification code `), 15_000));
      const theirs = codeOf(await sender.stderr.waitFor(/^verification code: /, 15_000));
      expect(mine).toBe(theirs);
      frank.write(`/confirm ${id}`);
      sender.write(mine);
      await frank.stdout.waitFor(new RegExp(`^\\* received from erin into ${dst}: 1 file`), 30_000);
      expect(await sender.exited).toBe(0);
      expect(await sha256File(path.join(dst, 'i-verified.bin'))).toBe(await sha256File(file));
      expect(pinsIn(homes.frank!)).toMatch(/ erin /);
      frank.write('/quit');
      expect(await frank.exited).toBe(0);
    } finally {
      frank.child.kill();
    }
  });

  it('a connection with the token but not the accepted key gets nothing, before or after the accept', async () => {
    const file = await writeRandomFile(work, 'token.bin', 300_000);
    const dst = await fresh('dst5');
    const sender = send('alice', 'bob', file);
    await sender.stderr.waitFor(/^offered /, 15_000);
    const before = await steal(await fresh('before')); // nobody accepted yet
    expect(before.error).toBeDefined();
    expect(before.bytes).toBe(0);
    const receiver = accept('bob', dst);
    await receiver.stderr.waitFor(/^connected to alice/, 15_000);
    const after = await steal(await fresh('after'));
    expect(after.error).toBeDefined();
    expect(after.bytes).toBe(0);
    expect(await receiver.exited).toBe(0);
    expect(await sender.exited).toBe(0);
    expect(await sha256File(path.join(dst, 'token.bin'))).toBe(await sha256File(file));
  });
});
