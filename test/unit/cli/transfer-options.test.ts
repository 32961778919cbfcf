// The transfer options chat send-file, chat accept and the interactive /send and /accept share.
import { describe, expect, it } from 'vitest';
import { parseTransferFlags, transferSettings } from '../../../src/cli/transfer-options.js';

const NETWORK = { bind: '127.0.0.1', advertise: [], advertiseOnly: false };
const ALL = ['verify', 'verify-code', 'via', 'limit-rate', 'parallel', 'insecure-peer', 'follow-symlinks'];

describe('parseTransferFlags', () => {
  it('takes flags anywhere before --, values as the next word or after =, and leaves the rest in order', () => {
    const { options, rest } = parseTransferFlags(['a.txt', '--via', 'relay', '--verify', 'b c', '--limit-rate=1M', '--', '--not-a-flag'], ALL);
    expect(options).toEqual({ via: 'relay', verify: true, limitRate: '1M' });
    expect(rest).toEqual(['a.txt', 'b c', '--not-a-flag']);
  });

  it('refuses an unknown flag, one not allowed here, and a missing value, naming what is allowed', () => {
    expect(() => parseTransferFlags(['--bogus'], ALL)).toThrow(/^unknown option --bogus \(here: --verify, /);
    expect(() => parseTransferFlags(['--follow-symlinks'], ['verify'])).toThrow(/unknown option --follow-symlinks \(here: --verify\)/);
    expect(() => parseTransferFlags(['x', '--via'], ALL)).toThrow('--via needs a value');
  });
});

describe('transferSettings', () => {
  it('gives the defaults of chat send-file and chat accept, and --verify-code implies --verify', () => {
    expect(transferSettings({}, NETWORK)).toEqual({
      parallel: 4, limitRate: 0, via: ['direct', 'reverse', 'punch', 'relay'], verify: false, verifyCode: undefined, insecurePeer: false, ...NETWORK,
    });
    expect(transferSettings({ verifyCode: '123 456 789' }, NETWORK)).toMatchObject({ verify: true, verifyCode: '123 456 789' });
    expect(transferSettings({ limitRate: '500K', parallel: '2', via: 'punch' }, NETWORK)).toMatchObject({ limitRate: 512_000, parallel: 2, via: ['punch'] });
  });

  it('refuses what the CLI refuses, with its words', () => {
    expect(() => transferSettings({ parallel: 65 }, NETWORK)).toThrow('--parallel must be 1-64');
    expect(() => transferSettings({ parallel: '1.5' }, NETWORK)).toThrow('--parallel must be 1-64');
    expect(() => transferSettings({ limitRate: 'fast' }, NETWORK)).toThrow(/^bad --limit-rate "fast"/);
    expect(() => transferSettings({ via: 'pigeon' }, NETWORK)).toThrow(/^bad --via "pigeon"/);
  });
});
