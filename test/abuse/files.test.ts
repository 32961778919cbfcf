// Files and secrets (issue 25, finding 7; docs/security.md): the server's data directory and the
// client's CHAT_HOME are private however they were found, a received file never arrives
// group/world-writable, a `.part` or symlink the user has in --dir is never taken over or followed,
// and invite codes and store URLs need not go on argv. Real `chat` processes throughout.
import { chmod, mkdir, readFile, readdir, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli, tempHome, type SpawnedCli } from '../helpers/cli.js';
import { spawnServer, startServer, tempDir, type SpawnedServer, type TestServer } from '../helpers/server.js';

const PASSWORD = 'correct horse battery';
const MODE = (m: number): string => `0${(m & 0o7777).toString(8)}`;

async function modeOf(file: string): Promise<string> {
  return MODE((await stat(file)).mode);
}

describe('the data directory of chat serve', () => {
  let s: SpawnedServer | undefined;
  afterAll(async () => void (await s?.stop()));

  it('makes a pre-made 0755 data dir 0700 and its 0644 database files 0600 on start, and says so', async () => {
    const data = path.join(await tempDir('chat-files-'), 'chat'); // as an operator's `mkdir /var/lib/chat` leaves it
    await mkdir(data);
    await chmod(data, 0o755);
    for (const f of ['chat.db', 'chat.db-shm', 'chat.db-wal', 'notes.txt']) { // notes.txt: the operator's own, left as it is
      await writeFile(path.join(data, f), '');
      await chmod(path.join(data, f), 0o644);
    }
    s = await spawnServer({ dataDir: data });
    const line = await s.output.waitFor('fixed modes', 5000); // stderr, beside stdout's "listening"
    expect(line).toBe(`chat: fixed modes: ${data} was 0755, now 0700; chat.db was 0644, now 0600; chat.db-wal was 0644, now 0600; chat.db-shm was 0644, now 0600`);
    expect(await modeOf(data)).toBe('0700');
    const files = ['chat.db', 'chat.db-shm', 'chat.db-wal', 'server.crt', 'server.key'];
    for (const f of files) expect(`${f} ${await modeOf(path.join(data, f))}`).toBe(`${f} 0600`); // also what this start made
    expect(await modeOf(path.join(data, 'notes.txt'))).toBe('0644');

    await s.stop();
    s = await spawnServer({ dataDir: data }); // nothing left to fix: no line
    await s.stop(); // all its output read
    expect(s.output.text).not.toContain('fixed modes');
  });
});

describe('received files and the receiving directory', () => {
  let server: TestServer;
  let alice: string;
  let bob: string;
  let work: string;

  beforeAll(async () => {
    server = await startServer();
    work = await tempDir('chat-files-work-');
    [alice, bob] = [await tempHome(), await tempHome()];
    for (const [home, user] of [[alice, 'alice'], [bob, 'bob']] as const) {
      const r = await runCli(['register', user], { home, server: server.address, env: { CHAT_PASSWORD: PASSWORD } });
      expect(r.code, r.stderr).toBe(0);
    }
  });
  afterAll(async () => void (await server?.cleanup()));

  async function dirs(name: string): Promise<{ src: string; out: string; outside: string }> {
    const [src, out, outside] = ['src', 'out', 'outside'].map((d) => path.join(work, name, d));
    for (const d of [src!, out!, outside!]) await mkdir(d, { recursive: true });
    return { src: src!, out: out!, outside: outside! };
  }

  /** alice offers `sources` to bob, bob accepts into `out`; resolves bob's result once both ended. */
  async function transfer(sources: string[], out: string) {
    const sender: SpawnedCli = spawnCli(['send-file', 'bob', '--bind', '127.0.0.1', '--advertise', '127.0.0.1', '--advertise-only', ...sources], {
      home: alice,
      server: server.address,
      timeoutMs: 30_000,
    });
    const line = await sender.stderr.waitFor(/^offered .* \(offer [a-z0-9]+, port \d+\)$|^chat: /);
    expect(line).toMatch(/^offered/);
    const received = await runCli(['accept', '--dir', out], { home: bob, server: server.address, timeoutMs: 30_000 });
    await sender.exited;
    return received;
  }

  it('gives a file offered as 0777 its mode masked: never group- or world-writable', async () => {
    const { src, out } = await dirs('mode');
    const file = path.join(src, 'run.sh');
    await writeFile(file, '#!/bin/sh\necho hi\n');
    await chmod(file, 0o777);
    const r = await transfer([file], out);
    expect(r.code, r.stderr).toBe(0);
    const mode = (await stat(path.join(out, 'run.sh'))).mode & 0o7777;
    expect(MODE(mode & 0o022)).toBe('00'); // neither group- nor world-writable
    expect(mode & 0o100).toBe(0o100); // the owner's bits are kept
  });

  it("leaves a user's own NAME.part intact and saves the download under another name", async () => {
    const { src, out } = await dirs('part');
    const file = path.join(src, 'report.txt');
    await writeFile(file, 'the report\n');
    await writeFile(path.join(out, 'report.txt.part'), 'my own notes, not a download\n');
    const r = await transfer([file], out);
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(path.join(out, 'report.txt.part'), 'utf8')).toBe('my own notes, not a download\n');
    expect(await readFile(path.join(out, 'report (1).txt'), 'utf8')).toBe('the report\n');
    expect((await readdir(out)).sort()).toEqual(['report (1).txt', 'report.txt.part']); // no sidecar left behind
  });

  it('never follows a symlink in --dir named like the destination or its .part; the files outside stay untouched', async () => {
    const { src, out, outside } = await dirs('link');
    const file = path.join(src, 'notes.txt');
    await writeFile(file, 'from alice\n');
    for (const name of ['victim', 'victim.part']) await writeFile(path.join(outside, name), `${name} stays\n`);
    await symlink(path.join(outside, 'victim'), path.join(out, 'notes.txt'));
    await symlink(path.join(outside, 'victim.part'), path.join(out, 'notes.txt.part'));
    const r = await transfer([file], out);
    expect(r.code, r.stderr).toBe(0);
    for (const name of ['victim', 'victim.part']) expect(await readFile(path.join(outside, name), 'utf8')).toBe(`${name} stays\n`);
    expect(await readlink(path.join(out, 'notes.txt'))).toBe(path.join(outside, 'victim'));
    expect(await readlink(path.join(out, 'notes.txt.part'))).toBe(path.join(outside, 'victim.part'));
    expect(await readFile(path.join(out, 'notes (1).txt'), 'utf8')).toBe('from alice\n');
  });

  it('refuses to write through a subdirectory of --dir that is a symlink out of it', async () => {
    const { src, out, outside } = await dirs('subdir');
    await mkdir(path.join(src, 'sub'));
    await writeFile(path.join(src, 'sub', 'x.txt'), 'x\n');
    await symlink(outside, path.join(out, 'sub'));
    const r = await transfer([path.join(src, 'sub')], out);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/refusing to write through .*sub: it is a symbolic link/);
    expect(await readdir(outside)).toEqual([]);
  });

  it('keeps CHAT_HOME 0700 and its sessions and pins 0600, however they were found', async () => {
    const home = await tempHome();
    await chmod(home, 0o755);
    await writeFile(path.join(home, 'known_servers'), '');
    await chmod(path.join(home, 'known_servers'), 0o644);
    const r = await runCli(['register', 'carol'], { home, server: server.address, env: { CHAT_PASSWORD: PASSWORD } });
    expect(r.code, r.stderr).toBe(0);
    expect(await modeOf(home)).toBe('0700');
    for (const f of ['sessions.json', 'known_servers']) expect(`${f} ${await modeOf(path.join(home, f))}`).toBe(`${f} 0600`);
  });
});

describe('secrets off the command line', () => {
  let s: SpawnedServer | undefined;
  afterAll(async () => void (await s?.stop()));

  it('takes the invite code from CHAT_INVITE, --invite-file and --invite - (stdin) silently, and warns when it is on argv', async () => {
    s = await spawnServer({ args: ['--registration', 'invite'] });
    const made = await runCli(['admin', 'invite', '--data', s.dataDir, '--uses', '4'], { home: await tempHome() });
    expect(made.code, made.stderr).toBe(0);
    const code = made.stdout.trim();
    const env = { CHAT_PASSWORD: PASSWORD };
    const codeFile = path.join(await tempDir('chat-files-invite-'), 'invite');
    await writeFile(codeFile, `${code}\n`);
    const ways: [string, string[], Record<string, string>, string?][] = [
      ['env', ['register', 'erin'], { ...env, CHAT_INVITE: code }],
      ['file', ['register', 'finn', '--invite-file', codeFile], env],
      ['stdin', ['register', 'gail', '--invite', '-'], env, `${code}\n`],
    ];
    for (const [way, args, e, input] of ways) {
      const r = await runCli(args, { home: await tempHome(), server: s.address, env: e, input });
      expect(r.code, `${way}: ${r.stderr}`).toBe(0);
      expect(r.stderr, way).not.toContain('warning'); // (only the first-connection pinning notice)
    }
    const argv = await runCli(['register', 'hugo', '--invite', code], { home: await tempHome(), server: s.address, env });
    expect(argv.code, argv.stderr).toBe(0);
    expect(argv.stderr).toContain('chat: warning: --invite on the command line can be seen by other users of this host; use env CHAT_INVITE, --invite-file PATH or --invite - (stdin)\n');
  });

  it('warns when --store carries a password on argv, not when it comes from --store-file, and never prints the password', async () => {
    const url = 'postgres://chat:s3cret@127.0.0.1:1/chat'; // nothing listens on port 1: the store fails to open
    const home = await tempHome();
    const data = await tempDir('chat-files-store-');
    const onArgv = await runCli(['serve', '--port', '0', '--host', '127.0.0.1', '--data', data, '--store', url], { home });
    expect(onArgv.code).toBe(1);
    expect(onArgv.stderr).toContain('chat: warning: --store on the command line can be seen by other users of this host');
    const file = path.join(data, 'store-url');
    await writeFile(file, `${url}\n`);
    const fromFile = await runCli(['serve', '--port', '0', '--host', '127.0.0.1', '--data', data, '--store-file', file], { home });
    expect(fromFile.code).toBe(1);
    expect(fromFile.stderr).toContain('cannot open the PostgreSQL store at postgres://chat:***@127.0.0.1:1/chat');
    expect(fromFile.stderr).not.toContain('warning');
    for (const r of [onArgv, fromFile]) expect(r.stdout + r.stderr).not.toContain('s3cret');
  });
});
