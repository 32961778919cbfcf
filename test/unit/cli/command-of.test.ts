// commandOf: which command module main.ts loads (the others stay unloaded, so commands start fast).
import { describe, expect, it } from 'vitest';
import { commandOf } from '../../../src/cli/main.js';

describe('commandOf', () => {
  it('finds the command word after global options and their values', () => {
    expect(commandOf(['send', 'bob', 'hi'])).toBe('send');
    expect(commandOf(['--server', 'who', 'who'])).toBe('who'); // the first "who" is --server's value
    expect(commandOf(['--home', '/tmp/h', '-v', 'send-file', 'bob', 'x'])).toBe('send-file');
    expect(commandOf(['--server=a:1', 'accept'])).toBe('accept');
  });

  it('is the interactive client without a command word, also with its own option values', () => {
    expect(commandOf([])).toBe('$0');
    expect(commandOf(['--advertise', '10.0.0.1', '--bind', '0.0.0.0'])).toBe('$0');
    expect(commandOf(['nope'])).toBe('$0'); // yargs then reports the unknown argument
    expect(commandOf(['--', 'send'])).toBe('$0');
  });

  it('takes the first command word: message text may contain command names', () => {
    expect(commandOf(['send', 'bob', 'who', 'is', 'online'])).toBe('send');
  });
});
