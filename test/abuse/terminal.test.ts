// Terminal payloads in every field a hostile peer controls (issue 25, finding 6): the built CLI,
// as a child process against a real server, must print none of them raw. Output bytes carry no
// ESC or other control (but LF and TAB), no bidi control, and no line that starts like a forged
// message. The hostile peer is a library client speaking the protocol directly (any MIME type,
// any reason); the hostile transfer peer is a raw TCP socket. Run `npm run build` first.
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatClient } from '../../src/client/client.js';
import { newTransferSecret } from '../../src/transfer/offer.js';
import { runCli, spawnCli, tempHome, type CliResult, type SpawnedCli } from '../helpers/cli.js';
import { spawnServer, startServer, tempDir, type TestServer } from '../helpers/server.js';

const PASSWORD = 'correct horse battery';
const LOCAL = ['--bind', '127.0.0.1', '--advertise', '127.0.0.1', '--advertise-only'];

/**
 * Clears the screen and claims a finished transfer, overwrites the line (CR, BS, DEL), reverses
 * the text (U+202E, an isolate), sends 8-bit CSI and NEL, breaks the line (U+2028), and finally
 * starts a new line that looks like a message from bob.
 */
const PAYLOAD = 'pwn\x1b[2J\x1b[H transfer complete\rok \u202egnp.exe\u2066 \x9b31m\u0085\u2028\b\x7f\n12:00:00 <bob> FORGED';

/** Nothing a terminal acts on but LF and TAB; no bidi control or invisible separator. */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** A line that passes for a message: `12:00:00 <bob>`, `2024-01-01 12:00:00 <bob>` or history's `ID DATE TIME <bob>`. */
const FORGED_LINE = /^\s*(\d+ )?(\d{4}-\d{2}-\d{2} )?\d{2}:\d{2}:\d{2} (#\S+ )?<\w+> FORGED/m;

/** The payload was printed (so the test checks something), and printed harmlessly. */
function expectHarmless(output: string): void {
  expect(output, 'the payload was printed').toContain('transfer complete');
  expect(output).toContain('FORGED');
  const unsafe = [...output.matchAll(UNSAFE)].map((m) => `U+${m[0].charCodeAt(0).toString(16).padStart(4, '0')}`);
  expect(unsafe, `raw control or bidi characters in:\n${output}`).toEqual([]);
  expect(output, 'a line that passes for a message').not.toMatch(FORGED_LINE);
}

let server: TestServer;
let work: string;
let bobHome: string;
const running: SpawnedCli[] = [];
const clients: ChatClient[] = [];
const fakes: TcpServer[] = [];

/** Bob's CLI, in his CHAT_HOME, against the test server. */
function chat(args: string[]): Promise<CliResult> {
  return runCli(args, { home: bobHome, server: server.address, timeoutMs: 20_000 });
}

/** A running `chat ...` of bob's, with every byte it writes to stdout and stderr kept raw. */
function spawnChat(args: string[]): SpawnedCli & { raw: () => string } {
  const cli = spawnCli(args, { home: bobHome, server: server.address, timeoutMs: 30_000 });
  running.push(cli);
  let raw = '';
  cli.child.stdout!.on('data', (s: string) => (raw += s));
  cli.child.stderr!.on('data', (s: string) => (raw += s));
  return Object.assign(cli, { raw: () => raw });
}

/** mallory, the hostile peer: a library client that sends whatever it likes. */
async function mallory(): Promise<ChatClient> {
  const client = await ChatClient.connect({ host: server.host, port: server.port, tls: server.tls, timeoutMs: 5_000 });
  clients.push(client);
  await client.login('mallory', PASSWORD);
  return client;
}

/** An offer from mallory to bob with a hostile file name and MIME type; its id. */
async function hostileOffer(from: ChatClient, candidates: { host: string; port: number }[] = []): Promise<string> {
  const { transferId, token } = newTransferSecret();
  const file = { path: `${PAYLOAD}.txt`, size: 1, mime: PAYLOAD, mode: 0o644, mtimeMs: 0 };
  return (await from.offer('bob', { transfer: transferId, token, candidates, timeoutMs: 60_000 }, [file])).offer;
}

beforeAll(async () => {
  server = await startServer();
  work = await tempDir('chat-terminal-');
  bobHome = await tempHome();
  const r = await runCli(['register', 'bob'], { home: bobHome, server: server.address, env: { CHAT_PASSWORD: PASSWORD } });
  expect(r.code, r.stderr).toBe(0);
  const m = await ChatClient.connect({ host: server.host, port: server.port, tls: server.tls, timeoutMs: 5_000 });
  await m.register('mallory', PASSWORD);
  await m.close();
});

afterAll(async () => {
  for (const cli of running) cli.kill('SIGKILL');
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  for (const f of fakes) f.close();
  await server?.cleanup();
});

describe('terminal payloads from a hostile peer', () => {
  it('message text: chat listen shows it on its own line, continuation lines indented', async () => {
    const listen = spawnChat(['listen']);
    await listen.stderr.waitFor('listening as bob');
    const m = await mallory();
    await m.send('bob', PAYLOAD);
    await m.send('bob', 'the end');
    await listen.stdout.waitFor('the end');
    listen.kill();
    await listen.exited;
    expectHarmless(listen.raw());
    expect(listen.stdout.lines).toContainEqual(expect.stringMatching(/^ {2}\| 12:00:00 <bob> FORGED$/));
  });

  it('message text: chat history', async () => {
    const m = await mallory();
    await m.send('bob', PAYLOAD);
    const r = await chat(['history', 'mallory']);
    expect(r.code, r.stderr).toBe(0);
    expectHarmless(r.stdout + r.stderr);
  });

  it('message text and offers with --json: the same text, parsed back, and nothing raw', async () => {
    const m = await mallory();
    await m.send('bob', PAYLOAD);
    await hostileOffer(m);
    const history = await chat(['history', 'mallory', '--json']);
    const offers = await chat(['offers', '--json']);
    for (const r of [history, offers]) {
      expect(r.code, r.stderr).toBe(0);
      const unsafe = [...(r.stdout + r.stderr).matchAll(UNSAFE)].map((x) => x[0].charCodeAt(0).toString(16));
      expect(unsafe).toEqual([]);
    }
    const texts = history.stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { text: string }).text);
    expect(texts).toContain(PAYLOAD);
    const mimes = offers.stdout.split('\n').filter(Boolean).flatMap((l) => (JSON.parse(l) as { files: { mime: string }[] }).files.map((f) => f.mime));
    expect(mimes).toContain(PAYLOAD);
  });

  it('file name and MIME type of an offer: chat offers, and chat accept listing several offers', async () => {
    const m = await mallory();
    await hostileOffer(m);
    await hostileOffer(m);
    const offers = await chat(['offers']);
    expect(offers.code, offers.stderr).toBe(0);
    expectHarmless(offers.stdout + offers.stderr);
    // Each offer is its header and one row per file: a name cannot add rows.
    for (const line of offers.stdout.split('\n').filter(Boolean)) expect(line).toMatch(/^(\S+ {2}from mallory {2}1 file\(s\)| {4}pwn)/);
    const accept = await chat(['accept']);
    expect(accept.code).toBe(1);
    expectHarmless(accept.stdout + accept.stderr);
  });

  it('a reject reason: chat send-file prints it in its one error line', async () => {
    const m = await mallory();
    m.on('offer', (o) => void m.request('reject', { offer: o.id, reason: PAYLOAD }).catch(() => {}));
    await m.subscribe();
    const file = path.join(work, 'report.txt');
    await writeFile(file, 'hello');
    const r = await runCli(['send-file', 'mallory', file, ...LOCAL], { home: bobHome, server: server.address, timeoutMs: 20_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('mallory rejected the offer');
    expectHarmless(r.stdout + r.stderr);
    await m.close(); // it would say no to later offers too
  });

  it("a peer's transfer error text: chat accept prints what the sender reports", async () => {
    // The "sender" answers every connection with an error frame instead of its hello.
    const fake = createTcpServer((socket: Socket) => {
      socket.on('error', () => {});
      const json = Buffer.from(JSON.stringify({ type: 'error', code: 'protocol', message: PAYLOAD }));
      const frame = Buffer.alloc(5 + json.length);
      frame.writeUInt32BE(1 + json.length, 0);
      frame[4] = 0x01; // a control message (protocol.md §T1)
      json.copy(frame, 5);
      socket.end(frame);
    });
    fakes.push(fake);
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    const m = await mallory();
    const id = await hostileOffer(m, [{ host: '127.0.0.1', port: (fake.address() as AddressInfo).port }]);
    // An unsigned, unencrypted offer is refused by default (protocol.md §T10.3); --insecure-peer lets it reach the sender's text.
    const refused = await chat(['accept', id, '--via', 'direct', '--dir', await tempDir('chat-terminal-dst-'), ...LOCAL]);
    expect(refused.stderr).toMatch(/^chat: mallory's chat does not encrypt \(an older version\): refused; --insecure-peer accepts it anyway$/m);
    const id2 = await hostileOffer(m, [{ host: '127.0.0.1', port: (fake.address() as AddressInfo).port }]);
    const r = await chat(['accept', id2, '--via', 'direct', '--insecure-peer', '--dir', await tempDir('chat-terminal-dst-'), ...LOCAL]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('the other side reports');
    expectHarmless(r.stdout + r.stderr);
  });

  it('the interactive client: a message, an offer notice, /offers, /history and a reject reason', async () => {
    const cli = spawnChat(LOCAL);
    await cli.stdout.waitFor('* connected to');
    const m = await mallory();
    m.on('offer', (o) => void m.request('reject', { offer: o.id, reason: PAYLOAD }).catch(() => {}));
    await m.subscribe();
    await m.send('bob', PAYLOAD);
    await cli.stdout.waitFor(/^\* \d+ new from mallory/);
    cli.write('/to mallory');
    await cli.stdout.waitFor(/<mallory> pwn/);
    await hostileOffer(m);
    await cli.stdout.waitFor(/mallory offers 1 file/);
    cli.write('/offers');
    await cli.stdout.waitFor(/\(\/accept /);
    const file = path.join(work, 'notes.txt');
    await writeFile(file, 'hello');
    cli.write(`/send ${file}`);
    await cli.stdout.waitFor('mallory rejected the offer');
    cli.write('/history mallory 3');
    cli.write('/quit');
    expect(await cli.exited).toBe(0);
    expectHarmless(cli.raw());
  });
});

describe('terminal payloads in the server log', () => {
  it('a login name with a newline and ESC forges no log line of chat serve', async () => {
    const srv = await spawnServer();
    try {
      const c = await ChatClient.connect({ host: srv.host, port: srv.port, tls: srv.tls, timeoutMs: 5_000 });
      await expect(c.login('x\x1b[2J\n12:00:00 conn 9 FORGED', PASSWORD)).rejects.toMatchObject({ code: 'bad_credentials' });
      await c.close();
      const line = await srv.output.waitFor('FORGED');
      expect(line).toMatch(/failed login as x\\x1b\[2J\\n12:00:00 conn 9 FORGED/);
      expect([...srv.output.text.matchAll(UNSAFE)]).toEqual([]);
    } finally {
      await srv.stop();
    }
  });
});
