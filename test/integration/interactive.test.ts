// The interactive client (`chat` with no command), built, as a child process against a real
// server on 127.0.0.1: stdin/stdout piped (no TTY), and once under a pseudo-terminal (script).
// Every wait is for an output line (or screen text) with a bound; run `npm run build` first.
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatClient } from '../../src/client/client.js';
import type { ChatMessage } from '../../src/protocol/messages.js';
import { createServer } from '../../src/server/server.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { runCli, spawnCli, tempHome, type SpawnedCli } from '../helpers/cli.js';
import { startServer, tempDir, testCertificate, type TestServer } from '../helpers/server.js';
import { HAS_SCRIPT, spawnPty, type PtyCli } from '../helpers/pty.js';
import { offerFromLiar, startLyingSender } from '../helpers/lying-sender.js';
import { newKeyPair } from '../../src/transfer/keys.js';
import { newTransferSecret } from '../../src/transfer/offer.js';

const PASSWORD = 'correct horse battery';
const LOCAL = ['--bind', '127.0.0.1', '--advertise', '127.0.0.1', '--advertise-only'];
const CLOCK = '\\d{2}:\\d{2}:\\d{2}';

let server: TestServer;
let work: string;
const homes: Record<string, string> = {};
const running: SpawnedCli[] = [];
const clients: ChatClient[] = [];

async function register(user: string, address = server.address): Promise<string> {
  const home = await tempHome();
  homes[user] = home;
  const r = await runCli(['register', user], { home, server: address, env: { CHAT_PASSWORD: PASSWORD } });
  expect(r.code, r.stderr).toBe(0);
  return home;
}

/** `chat` for `user`, piped; NO_COLOR is unset so that colors must stay off because of the pipe alone. */
async function open(user: string, args: string[] = [], address = server.address): Promise<SpawnedCli> {
  const cli = spawnCli(args, { home: homes[user]!, server: address, env: { NO_COLOR: '' }, timeoutMs: 30_000 });
  running.push(cli);
  await cli.stdout.waitFor(`* connected to ${address} as ${user}; /help for commands`);
  return cli;
}

/** A library client logged in as `user`, subscribed. */
async function lib(user: string, port = server.port): Promise<ChatClient> {
  const client = await ChatClient.connect({ host: '127.0.0.1', port, tls: server.tls, timeoutMs: 5_000 });
  clients.push(client);
  await client.login(user, PASSWORD);
  await client.subscribe();
  return client;
}

function nextMessage(client: ChatClient, text: string): Promise<ChatMessage> {
  return new Promise((resolve) => client.on('message', (m) => m.text === text && resolve(m)));
}

async function quit(cli: SpawnedCli): Promise<void> {
  cli.write('/quit');
  expect(await cli.exited).toBe(0);
}

const line = (pattern: string): RegExp => new RegExp(`^${CLOCK} ${pattern}$`);

beforeAll(async () => {
  server = await startServer();
  work = await tempDir('chat-interactive-');
  await Promise.all(['alice', 'bob', 'carol'].map((u) => register(u)));
});

afterAll(async () => {
  for (const cli of running) cli.kill('SIGKILL');
  await Promise.all(clients.map((c) => c.close()));
  await server?.cleanup();
  await Promise.all([work, ...Object.values(homes)].map((d) => d && rm(d, { recursive: true, force: true })));
});

describe('chat (interactive), piped', () => {
  it('/to, a plain line, a notice for another conversation, switching shows it; no colors on a pipe', async () => {
    const alice = await open('alice');
    const bob = await lib('bob');
    const received = nextMessage(bob, 'hello bob');
    alice.write('/to bob');
    await alice.stdout.waitFor('* talking to bob');
    alice.write('hello bob');
    await alice.stdout.waitFor(line('<alice> hello bob'));
    expect(await received).toMatchObject({ from: 'alice', to: 'bob' });

    alice.write('/to carol');
    await alice.stdout.waitFor('* talking to carol');
    await bob.send('alice', 'are you there?');
    await alice.stdout.waitFor('* 1 new from bob (/to bob)');
    await bob.send('alice', 'hello?');
    await alice.stdout.waitFor('* 2 new from bob (/to bob)');
    expect(alice.stdout.text).not.toContain('are you there?');

    alice.write('/to bob');
    await alice.stdout.waitFor(line('<bob> hello\\?'));
    const lines = alice.stdout.lines;
    const switched = lines.lastIndexOf('* talking to bob');
    // The recent messages of the conversation first (issue 27, item 23), then the unread ones, once each.
    expect(lines.slice(switched + 1, switched + 4)).toEqual([
      expect.stringMatching(line('<alice> hello bob')),
      expect.stringMatching(line('<bob> are you there\\?')),
      expect.stringMatching(line('<bob> hello\\?')),
    ]);

    alice.write('/msg carol a quick one');
    await alice.stdout.waitFor(line('<alice → carol> a quick one'));
    alice.write('/nonsense');
    await alice.stdout.waitFor('* unknown command /nonsense: try /help');
    expect(alice.stdout.text).not.toContain('\x1b');
    await quit(alice);
    expect(alice.stderr.lines).toEqual([]);
  });

  it('an offer from chat send-file: notice, /offers, /accept into a directory; /send offers to the current user', async () => {
    const note = path.join(work, 'note.txt');
    await writeFile(note, 'hello file\n');
    const alice = await open('alice', LOCAL);
    const sender = spawnCli(['send-file', 'alice', note, ...LOCAL], { home: homes.bob!, server: server.address, timeoutMs: 30_000 });
    running.push(sender);
    const id = /\(offer ([a-z0-9]+),/.exec(await sender.stderr.waitFor(/^offered |^chat: /))?.[1];
    expect(id, sender.stderr.text).toBeDefined();
    await alice.stdout.waitFor(`* bob offers 1 file, 11 B: note.txt (/accept ${id} or /reject ${id})`);

    alice.write('/offers');
    await alice.stdout.waitFor(new RegExp(`^\\* ${id}  from bob  1 file\\(s\\), 11 B .*\\(/accept ${id}\\)$`));
    await alice.stdout.waitFor('    note.txt  11 B  text/plain');
    const into = path.join(work, 'alice-in');
    alice.write(`/accept ${id} ${into}`);
    await alice.stdout.waitFor(`* receiving 1 file, 11 B from bob into ${into} (offer ${id})`);
    await alice.stdout.waitFor(`* note.txt: 11 B, sha256 ${createHash('sha256').update('hello file\n').digest('hex')}`);
    await alice.stdout.waitFor(new RegExp(`^\\* received from bob into ${into}: 1 file, 11 B verified in `));
    expect(await readFile(path.join(into, 'note.txt'), 'utf8')).toBe('hello file\n');
    expect(await sender.exited).toBe(0);

    alice.write('/send note.txt');
    await alice.stdout.waitFor('* files go to one user: /to <user> first, then /send <path...>');
    alice.write('/to bob');
    alice.write(`/send ${note}`);
    const offered = await alice.stdout.waitFor(/^\* offered 1 file, 11 B to bob \(offer [a-z0-9]+\); /);
    const sent = /\(offer ([a-z0-9]+)\)/.exec(offered)![1]!;
    const bobIn = path.join(work, 'bob-in');
    const accepted = await runCli(['accept', sent, '--dir', bobIn], { home: homes.bob!, server: server.address, timeoutMs: 20_000 });
    expect(accepted.code, accepted.stderr).toBe(0);
    await alice.stdout.waitFor(`* bob accepted offer ${sent}; sending`);
    await alice.stdout.waitFor(/^\* sent to bob: 1 file, 11 B verified in /);
    expect(await readFile(path.join(bobIn, 'note.txt'), 'utf8')).toBe('hello file\n');
    await quit(alice);
  });

  it('/send and /accept take the options of chat send-file and chat accept: --via, --limit-rate, --parallel; bad ones get one line', async () => {
    const file = path.join(work, 'options.bin');
    await writeFile(file, Buffer.alloc(300_000, 7));
    const alice = await open('alice', LOCAL);
    alice.write('/to bob');
    alice.write(`/send --bogus ${file}`);
    await alice.stdout.waitFor(/^\* unknown option --bogus \(here: --verify, .*--follow-symlinks\)$/);
    alice.write(`/send --parallel 0 ${file}`);
    await alice.stdout.waitFor('* --parallel must be 1-64');
    alice.write(`/send --via pigeon ${file}`);
    await alice.stdout.waitFor(/^\* bad --via "pigeon"/);
    alice.write(`/send --via relay --limit-rate 10M --parallel 2 ${file}`);
    const sent = /\(offer ([a-z0-9]+)\)/.exec(await alice.stdout.waitFor(/^\* offered 1 file, 293\.0 KiB to bob/))![1]!;
    const into = path.join(work, 'options-in');
    const bob = await open('bob', LOCAL);
    await bob.stdout.waitFor(new RegExp(`/accept ${sent}`));
    bob.write(`/accept --via relay --parallel 3 ${sent} ${into}`);
    await bob.stdout.waitFor(new RegExp(`^\\* received from alice into ${into}: 1 file, 293\\.0 KiB verified in .* via relay\\)$`));
    await alice.stdout.waitFor(/^\* sent to bob: 1 file, 293\.0 KiB verified in .*, via relay\)$/);
    expect(createHash('sha256').update(await readFile(path.join(into, 'options.bin'))).digest('hex')).toBe(createHash('sha256').update(Buffer.alloc(300_000, 7)).digest('hex'));
    await quit(alice);
    await quit(bob);
  });

  it('/reject says so once (not "rejected on another device"), and the sender is told', async () => {
    const note = path.join(work, 'unwanted.txt');
    await writeFile(note, 'no thanks\n');
    const alice = await open('alice', LOCAL);
    const sender = spawnCli(['send-file', 'alice', note, ...LOCAL], { home: homes.bob!, server: server.address, timeoutMs: 30_000 });
    running.push(sender);
    const id = /\(offer ([a-z0-9]+),/.exec(await sender.stderr.waitFor(/^offered /))![1]!;
    await alice.stdout.waitFor(new RegExp(`/reject ${id}\\)$`));
    alice.write(`/reject ${id} not today`);
    await alice.stdout.waitFor(`* rejected offer ${id}`);
    expect(await sender.exited).toBe(1);
    expect(sender.stderr.lines).toContain('chat: alice rejected the offer: not today');
    await quit(alice);
    expect(alice.stdout.lines.filter((l) => l.includes(id))).not.toContainEqual(expect.stringContaining('another device'));
  });

  it('/block refuses a user without telling them, /block lists, /unblock lets them back', async () => {
    const alice = await open('alice');
    const bob = await lib('bob');
    alice.write('/block bob');
    await alice.stdout.waitFor('* blocked bob: their messages, offers and invitations are refused, and they are not told');
    const receipt = await bob.send('alice', 'can you hear me?');
    expect(receipt.id).toBe(0); // looks sent to bob; stored nowhere
    alice.write('/block');
    await alice.stdout.waitFor('* blocked: bob');
    alice.write('/unblock bob');
    await alice.stdout.waitFor('* unblocked bob');
    await bob.send('alice', 'and now?');
    await alice.stdout.waitFor('* 1 new from bob (/to bob)');
    alice.write('/to bob');
    await alice.stdout.waitFor(line('<bob> and now\\?'));
    expect(alice.stdout.text).not.toContain('can you hear me?');
    await quit(alice);
  });

  it('/accept from a sender that streams other bytes than it hashes fails the transfer: nothing placed, the claim never shown as verified', async () => {
    const hex = (text: string): string => createHash('sha256').update(text).digest('hex');
    const secret = newTransferSecret();
    const keys = newKeyPair();
    const liar = await startLyingSender({ ...secret, keys }, [{ content: Buffer.from('EVIL CONTENT'), claimedSha256: hex('GOOD CONTENT') }]);
    try {
      const bob = await lib('bob');
      const alice = await open('alice', LOCAL);
      const candidates = [{ host: '127.0.0.1', port: liar.port }];
      const files = [{ path: 'payroll.csv', size: 12, mime: 'text/csv', mode: 0o644, mtimeMs: Date.now() }];
      const { offer } = await offerFromLiar(bob, 'alice', liar, { ...secret, keys }, candidates, files);
      await alice.stdout.waitFor(new RegExp(`^\\* bob offers 1 file, 12 B: payroll\\.csv `));
      const into = path.join(work, 'alice-liar');
      alice.write(`/accept ${offer} ${into}`);
      const failed = await alice.stdout.waitFor(new RegExp(`^\\* transfer ${offer} from bob failed: `));
      expect(failed).toContain(`SHA-256 of payroll.csv computed here (${hex('EVIL CONTENT')}) does not match the sender's (${hex('GOOD CONTENT')})`);
      expect(alice.stdout.text.replace(failed, '')).not.toContain(hex('GOOD CONTENT'));
      expect(await readdir(into)).not.toContain('payroll.csv');
      await quit(alice);
    } finally {
      await liar.close();
    }
  });

  it('/send DIR skips a symbolic link out of DIR and lists it, as chat send-file does', async () => {
    const base = path.join(work, 'links');
    const dir = path.join(base, 'share');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(base, 'secret.txt'), 'SECRET');
    await writeFile(path.join(dir, 'ok.txt'), 'ok');
    await symlink(path.join(base, 'secret.txt'), path.join(dir, 'leak.txt'));
    const alice = await open('alice', LOCAL);
    alice.write('/to bob');
    await alice.stdout.waitFor('* talking to bob');
    alice.write(`/send ${dir}`);
    await alice.stdout.waitFor(`* skipped share/leak.txt: a symbolic link to ${path.join(base, 'secret.txt')}, which points outside the directory (--follow-symlinks sends it)`);
    const offered = await alice.stdout.waitFor(/^\* offered 1 file, 2 B to bob \(offer [a-z0-9]+\); /);
    const sent = /\(offer ([a-z0-9]+)\)/.exec(offered)![1]!;
    const bobIn = path.join(work, 'bob-links');
    const accepted = await runCli(['accept', sent, '--dir', bobIn], { home: homes.bob!, server: server.address, timeoutMs: 20_000 });
    expect(accepted.code, accepted.stderr).toBe(0);
    await alice.stdout.waitFor(/^\* sent to bob: 1 file, 2 B verified in .*; skipped 1 symbolic link: share\/leak\.txt$/);
    expect(await readdir(path.join(bobIn, 'share'))).toEqual(['ok.txt']);
    await quit(alice);
  });

  it('end of input waits for a running transfer; SIGTERM cancels one and withdraws its offer', async () => {
    const note = path.join(work, 'eof-note.txt');
    await writeFile(note, 'after EOF\n');
    const waiting = await open('alice', LOCAL);
    waiting.write('/to bob');
    waiting.write(`/send ${note}`);
    const offered = await waiting.stdout.waitFor(/^\* offered 1 file, 10 B to bob \(offer [a-z0-9]+\); /);
    waiting.end();
    await waiting.stdout.waitFor('* waiting for 1 transfer(s) to finish (Ctrl-C cancels)');
    const id = /\(offer ([a-z0-9]+)\)/.exec(offered)![1]!;
    const bobIn = path.join(work, 'bob-eof');
    const accepted = await runCli(['accept', id, '--dir', bobIn], { home: homes.bob!, server: server.address, timeoutMs: 20_000 });
    expect(accepted.code, accepted.stderr).toBe(0);
    await waiting.stdout.waitFor(/^\* sent to bob: 1 file, 10 B verified in /);
    expect(await waiting.exited).toBe(0);

    const cancelled = await open('alice', LOCAL);
    cancelled.write('/to carol');
    cancelled.write(`/send ${note}`);
    const again = await cancelled.stdout.waitFor(/^\* offered 1 file, 10 B to carol \(offer [a-z0-9]+\); /);
    cancelled.kill('SIGTERM');
    await cancelled.stdout.waitFor(`* transfer ${/\(offer ([a-z0-9]+)\)/.exec(again)![1]} to carol cancelled`);
    expect(await cancelled.exited).toBe(0);
    const carol = await lib('carol');
    expect(await carol.offers()).toEqual([]);
  });

  it('groups and contacts through slash commands', async () => {
    const alice = await open('alice');
    const bob = await lib('bob');
    alice.write('/create #ops');
    await alice.stdout.waitFor('* created group #ops');
    await alice.stdout.waitFor('* talking to #ops');
    await bob.groupJoin('ops');
    await alice.stdout.waitFor('* #ops: bob joined');
    await bob.send('#ops', 'deploy at noon');
    await alice.stdout.waitFor(line('<bob> deploy at noon'));
    const posted = nextMessage(bob, 'rolling back');
    alice.write('rolling back');
    expect(await posted).toMatchObject({ from: 'alice', to: '#ops' });
    alice.write('/members');
    await alice.stdout.waitFor('* #ops: alice (owner, online), bob (online)');

    alice.write('/to bob');
    await alice.stdout.waitFor('* talking to bob');
    await bob.send('#ops', 'second thoughts');
    await alice.stdout.waitFor('* 1 new in #ops from bob (/to #ops)');
    await bob.friendAdd('alice');
    await alice.stdout.waitFor('* bob wants to be your friend (/friend accept bob)');
    alice.write('/friend accept bob');
    await alice.stdout.waitFor('* you and bob are friends');
    alice.write('/friends');
    await alice.stdout.waitFor('* friends: bob (online)');
    alice.write('/who');
    await alice.stdout.waitFor(/^\* online: .*alice \(you\).*bob \(friend\)/);
    alice.write('/leave #ops');
    await alice.stdout.waitFor('* you own #ops: delete it instead of leaving');
    alice.write('/join #nowhere');
    await alice.stdout.waitFor('* created group #nowhere (public: anyone may /join; you own it)');
    await alice.stdout.waitFor('* talking to #nowhere');
    alice.write('/to nobody');
    await alice.stdout.waitFor('* no such user: nobody: not switched');
    alice.write('/to #nothing');
    await alice.stdout.waitFor('* no such group: #nothing: not switched');
    alice.write('/history #ops 2');
    await alice.stdout.waitFor(line('<alice> rolling back'));
    await alice.stdout.waitFor(line('<bob> second thoughts'));
    alice.write('/delete #ops');
    await alice.stdout.waitFor('* deleted #ops');
    await quit(alice);
  });
});

/** A server on a chosen port over `dataDir` (so that a restart comes back where clients look for it). */
async function serverOn(port: number, dataDir: string): Promise<{ port: number; stop(): Promise<void> }> {
  const store = new SqliteStore(dataDir);
  const srv = createServer({ store, tls: await testCertificate() });
  const address = await srv.listen(port, '127.0.0.1');
  return {
    port: address.port,
    async stop() {
      await srv.close();
      await store.close();
    },
  };
}

describe('chat (interactive) when the server goes away', () => {
  it('says so, reconnects with the saved session, gets what it missed once, and keeps working', async () => {
    const dataDir = await tempDir('chat-interactive-restart-');
    let srv = await serverOn(0, dataDir);
    const address = `127.0.0.1:${srv.port}`;
    try {
      await Promise.all(['dave', 'erin'].map((u) => register(u, address)));
      const dave = await open('dave', [], address);
      dave.write('/to erin');
      await dave.stdout.waitFor('* talking to erin');
      const erin = await lib('erin', srv.port);
      await erin.send('dave', 'before');
      await dave.stdout.waitFor(line('<erin> before'));

      await srv.stop();
      await dave.stdout.waitFor('* lost connection to server; reconnecting…');
      srv = await serverOn(srv.port, dataDir);
      const erin2 = await lib('erin', srv.port);
      await erin2.send('dave', 'while you were away');
      await dave.stdout.waitFor('* reconnected');
      await dave.stdout.waitFor(line('<erin> while you were away'));

      const back = nextMessage(erin2, 'back again');
      dave.write('back again');
      expect(await back).toMatchObject({ from: 'dave', to: 'erin' });
      await dave.stdout.waitFor(line('<dave> back again'));
      // A replayed message is shown once.
      for (const text of ['before', 'while you were away']) {
        expect(dave.stdout.lines.filter((l) => l.endsWith(`<erin> ${text}`))).toHaveLength(1);
      }

      // Lines typed while reconnecting wait, and go out in order once the server is back.
      await srv.stop();
      await dave.stdout.waitFor('* lost connection to server; reconnecting…');
      dave.write('typed while away');
      await dave.stdout.waitFor('* not connected: sent to erin once reconnected (1 waiting)');
      dave.write('and another');
      await dave.stdout.waitFor('* not connected: sent to erin once reconnected (2 waiting)');
      srv = await serverOn(srv.port, dataDir);
      const erin3 = await lib('erin', srv.port);
      const queued = [nextMessage(erin3, 'typed while away'), nextMessage(erin3, 'and another')];
      await dave.stdout.waitFor('* reconnected');
      const [first, second] = await Promise.all(queued);
      expect(first!.id).toBeLessThan(second!.id);
      // /to shows the last messages of the conversation.
      dave.write('/to erin');
      await dave.stdout.waitFor(line('<dave> and another'));
      await quit(dave);

      // Started while the server is down: it waits for it instead of giving up.
      await srv.stop();
      const early = spawnCli([], { home: homes.dave!, server: address, env: { NO_COLOR: '' }, timeoutMs: 30_000 });
      running.push(early);
      await early.stdout.waitFor(new RegExp(`^\\* ${address.replace(/\./g, '\\.')} is not reachable \\(.*\\); waiting for it \\(Ctrl-C to quit\\)$`));
      srv = await serverOn(srv.port, dataDir);
      await early.stdout.waitFor(`* connected to ${address} as dave; /help for commands`);
      await quit(early);

      // Ctrl-C (a signal) while waiting leaves at once, without an error.
      await srv.stop();
      const givingUp = spawnCli([], { home: homes.dave!, server: address, env: { NO_COLOR: '' }, timeoutMs: 30_000 });
      running.push(givingUp);
      await givingUp.stdout.waitFor(/is not reachable/);
      givingUp.kill('SIGINT');
      expect(await givingUp.exited).toBe(130);
      expect(givingUp.stderr.text).toBe('');
      srv = await serverOn(srv.port, dataDir);
    } finally {
      await srv.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

if (!HAS_SCRIPT) console.log('skipping the terminal test: `script` (util-linux) is not installed');

/** `chat` for `user` on a color terminal, 120 columns wide. */
function colorPty(user: string, args: string[]): PtyCli {
  return spawnPty(args, { CHAT_HOME: homes[user]!, CHAT_SERVER: server.address }, { colors: true, cols: 120 });
}

describe.skipIf(!HAS_SCRIPT)('chat (interactive) on a terminal', () => {
  it('an incoming message does not garble the line being typed; ✓ then ✓✓; colors; a status line for a transfer', async () => {
    const bob = await lib('bob');
    const pty = colorPty('alice', LOCAL);
    try {
      await pty.waitFor('/help for commands');
      pty.type('/to bob\r');
      await pty.waitFor('talking to bob');
      let mark = pty.mark;
      pty.type('hello wor');
      await pty.waitFor('hello wor', mark);

      mark = pty.mark;
      await bob.send('alice', 'interrupting you');
      await pty.waitFor('<bob> interrupting you', mark);
      // The prompt comes back below it with the half-typed text.
      await pty.waitFor('hello wor', mark);

      const got = nextMessage(bob, 'hello world');
      mark = pty.mark;
      pty.type('ld\r');
      const m = await got;
      expect(m.text).toBe('hello world');
      await pty.waitFor('<alice> hello world ✓', mark);
      bob.acknowledge(m.id); // bob's device has it: alice's line gets ✓✓
      await pty.waitFor('hello world ✓✓', mark);
      expect(pty.raw).toMatch(/\x1b\[1malice\x1b\[0m/); // own name in bold

      const note = path.join(work, 'pty-note.txt');
      await writeFile(note, 'over the pty\n');
      mark = pty.mark;
      pty.type(`/send ${note}\r`);
      await pty.waitFor('offered 1 file', mark);
      await pty.waitFor('↑ bob', mark);
      await pty.waitFor('waiting for accept', mark);
      pty.type('/quit\r');
      await pty.waitFor('cancelling 1 transfer(s)', mark);
      expect(await pty.exited).toBe(0);
    } finally {
      pty.kill();
    }
  });
});
