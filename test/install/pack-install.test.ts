// Installing `chat` as a user would (issue 27, item 5): `npm pack` → `npm install -g` of the
// tarball into a temporary prefix, and `npm install -g .` from the clone; then the `chat` on that
// PATH runs from a directory outside the clone: --help, a server on 127.0.0.1 and a direct
// message between two users. Slow (npm installs the dependencies, better-sqlite3 may compile),
// so it runs only with CHAT_TEST_INSTALL=1 (`npm run test:install`, which .ci/run calls).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LineBuffer } from '../helpers/lines.js';
import { REPO_ROOT, exitOf, tempDir } from '../helpers/server.js';

const ENABLED = process.env.CHAT_TEST_INSTALL === '1';
if (!ENABLED) console.log('pack-install: skipped (set CHAT_TEST_INSTALL=1, or run "npm run test:install"; it takes minutes)');

const PASSWORD = 'install-test-pw';
const VERSION = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** The environment of a user's shell: none of npm's own variables from the `npm run` around us. */
function userEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^npm_/i.test(k) && !k.startsWith('CHAT_') && k !== 'INIT_CWD') env[k] = v;
  }
  return { ...env, NO_COLOR: '1', ...extra };
}

interface Run { code: number | null; stdout: string; stderr: string }

/** Runs a command to completion (killed after timeoutMs). */
function run(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; input?: string; timeoutMs: number }): Promise<Run> {
  const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  child.stdin.on('error', () => {});
  child.stdin.end(opts.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
  return exitOf(child).then((code) => {
    clearTimeout(timer);
    return { code, stdout, stderr };
  });
}

function ok(r: Run, what: string): Run {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return r;
}

/** `chat --help`, a server and a DM, all through the `chat` found on PATH in `prefix`, run in `outside`. */
async function useInstalled(prefix: string, outside: string): Promise<void> {
  const bin = path.join(prefix, 'bin');
  const PATH = `${bin}${path.delimiter}${process.env.PATH ?? ''}`;
  const env = (home: string) => userEnv({ PATH, CHAT_HOME: home, CHAT_PASSWORD: PASSWORD });
  const chat = (args: string[], home: string, input?: string) => run('chat', args, { cwd: outside, env: env(home), input, timeoutMs: 30_000 });

  const help = ok(await chat(['--help'], outside), 'chat --help');
  expect(help.stdout).toContain('chat send <user> [text..]');
  expect(ok(await chat(['--version'], outside), 'chat --version').stdout.trim()).toBe(VERSION);

  const data = await tempDir('chat-install-data-');
  const server = spawn('chat', ['serve', '--port', '0', '--data', data], { cwd: outside, env: env(outside), stdio: ['ignore', 'pipe', 'pipe'] });
  const serverOut = new LineBuffer(server.stdout, server.stderr);
  const serverExit = exitOf(server);
  try {
    const line = await serverOut.waitFor(/chat server listening on /, 20_000);
    const address = /listening on (127\.0\.0\.1:\d+)/.exec(line)?.[1];
    expect(address, line).toBeDefined();
    const alice = await tempDir('chat-install-alice-');
    const bob = await tempDir('chat-install-bob-');
    ok(await chat(['--server', address!, 'register', 'alice'], alice), 'register alice');
    ok(await chat(['--server', address!, 'register', 'bob'], bob), 'register bob');
    const listen = spawn('chat', ['--server', address!, 'listen'], { cwd: outside, env: env(bob), stdio: ['ignore', 'pipe', 'pipe'] });
    const bobOut = new LineBuffer(listen.stdout);
    const bobErr = new LineBuffer(listen.stderr);
    const listenExit = exitOf(listen);
    try {
      await bobErr.waitFor('listening as bob', 20_000);
      ok(await chat(['--server', address!, 'send', 'bob', 'hello from an installed chat'], alice), 'send');
      expect(await bobOut.waitFor('hello from an installed chat', 20_000)).toContain('<alice>');
    } finally {
      listen.kill('SIGINT');
      await listenExit;
    }
  } finally {
    server.kill('SIGTERM');
    await serverExit;
  }
}

describe.skipIf(!ENABLED)('chat installed as a command', () => {
  it('npm pack makes a tarball that npm install -g puts on PATH as a working chat', async () => {
    const work = await tempDir('chat-install-');
    const env = userEnv({});
    const pack = ok(await run('npm', ['pack', '--pack-destination', work], { cwd: REPO_ROOT, env, timeoutMs: 180_000 }), 'npm pack');
    const tarball = path.join(work, pack.stdout.trim().split('\n').pop()!);
    expect(path.basename(tarball)).toBe(`chat-${VERSION}.tgz`);
    const prefix = path.join(work, 'prefix');
    // The dependencies come from the npm cache (a lookup in the registry at most): --prefer-offline.
    ok(await run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: work, env, timeoutMs: 480_000 }), 'npm install -g TARBALL');
    // A copy, not a link into the clone: it works without the clone.
    const installed = realpathSync(path.join(prefix, 'lib', 'node_modules', 'chat'));
    expect(installed.startsWith(realpathSync(prefix))).toBe(true);
    expect(existsSync(path.join(installed, 'dist', 'cli', 'main.js'))).toBe(true);
    await useInstalled(prefix, work);
  }, 600_000);

  it('npm install -g . in a clone (after npm install) puts chat on PATH', async () => {
    const work = await tempDir('chat-install-link-');
    const prefix = path.join(work, 'prefix');
    ok(await run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '.'], { cwd: REPO_ROOT, env: userEnv({}), timeoutMs: 300_000 }), 'npm install -g .');
    await useInstalled(prefix, work);
  }, 400_000);
});
