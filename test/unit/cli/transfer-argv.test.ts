// argv → options, as chat send-file and chat accept parse them (yargs with the commands' own
// builders, then their option functions): one table per command.
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Argv } from 'yargs';
import { describe, expect, it } from 'vitest';
import { acceptCommand, acceptOptions } from '../../../src/cli/commands/accept.js';
import { sendFileCommand, sendFileOptions } from '../../../src/cli/commands/send-file.js';
import { processContext } from '../../../src/cli/context.js';

const yargs = createRequire(import.meta.url)('yargs') as (args: string[]) => Argv;
const ALL = ['direct', 'reverse', 'punch', 'relay'];

/** The argv yargs hands the command's handler. */
function parsed(command: { command: string; builder: (y: Argv) => Argv }, argv: string[]): Record<string, unknown> {
  let got: Record<string, unknown> | undefined;
  yargs(argv)
    .option('server', { type: 'string', default: '127.0.0.1:7070' })
    .option('home', { type: 'string', default: '/tmp/chat-home' })
    .command({ command: command.command, describe: false, builder: command.builder, handler: (a: Record<string, unknown>) => void (got = a) })
    .strict()
    .exitProcess(false)
    .fail((msg: string, err: Error) => {
      throw err ?? new Error(msg);
    })
    .parse();
  return got!;
}

const ctx = processContext();

describe('chat send-file: argv → options', () => {
  it.each([
    [['send-file', 'bob', 'a.txt'], { to: 'bob', paths: ['a.txt'], port: 0, timeoutMs: 600_000, timeoutText: '10m', parallel: 4, limitRate: 0, via: ALL, verify: false, insecurePeer: false, followSymlinks: false, waitAll: false, json: false, advertise: [], advertiseOnly: false }],
    [['send-file', 'bob', 'a', 'b', '--via', 'relay', '--limit-rate', '1M', '--parallel', '2', '--timeout', '90s'], { paths: ['a', 'b'], via: ['relay'], limitRate: 1 << 20, parallel: 2, timeoutMs: 90_000, timeoutText: '1m30s' }],
    [['send-file', '#team', 'x', '--wait-all', '--verify-code', '123 456 789'], { to: '#team', waitAll: true, verify: true, verifyCode: '123 456 789' }],
    [['send-file', 'bob', 'x', '--bind', '127.0.0.1', '--advertise', '10.0.0.2', '--advertise-only', '--port', '4000', '--follow-symlinks', '--insecure-peer'], { bind: '127.0.0.1', advertise: ['10.0.0.2'], advertiseOnly: true, port: 4000, followSymlinks: true, insecurePeer: true }],
  ])('%j', (argv, expected) => {
    expect(sendFileOptions(parsed(sendFileCommand(ctx), argv))).toMatchObject(expected);
  });

  it.each([
    [['send-file', 'bob', 'x', '--port', '70000'], '--port must be 0-65535'],
    [['send-file', 'bob', 'x', '--parallel', '0'], '--parallel must be 1-64'],
    [['send-file', 'bob', 'x', '--advertise-only'], '--advertise-only needs at least one --advertise HOST'],
    [['send-file', 'bob', 'x', '--timeout', 'soon'], 'bad --timeout "soon"'],
  ])('%j is refused: %s', (argv, message) => {
    expect(() => sendFileOptions(parsed(sendFileCommand(ctx), argv))).toThrow(message);
  });
});

describe('chat accept: argv → options', () => {
  it.each([
    [['accept'], { id: undefined, dir: path.resolve('.'), all: false, wait: false, parallel: 4, limitRate: 0, via: ALL, verify: false, forceCopy: false, json: false }],
    [['accept', 'k7m2pqxa', '--dir', '/tmp/in', '--force-copy', '--via', 'direct'], { id: 'k7m2pqxa', dir: '/tmp/in', forceCopy: true, via: ['direct'] }],
    [['accept', '--all', '--wait', '--verify', '--json', '--limit-rate', '500K'], { all: true, wait: true, verify: true, json: true, limitRate: 512_000 }],
  ])('%j', (argv, expected) => {
    expect(acceptOptions(parsed(acceptCommand(ctx), argv))).toMatchObject(expected);
  });

  it('refuses an unknown option', () => {
    expect(() => parsed(acceptCommand(ctx), ['accept', '--bogus'])).toThrow(/Unknown argument/);
  });
});
