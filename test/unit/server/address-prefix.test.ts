// Per-address limits count networks: IPv4 /24, IPv6 /64 (docs/security.md).
import { describe, expect, it } from 'vitest';
import { addressPrefix } from '../../../src/server/address-prefix.js';

describe('addressPrefix', () => {
  it.each([
    ['203.0.113.7', '203.0.113.0/24'],
    ['203.0.113.250', '203.0.113.0/24'],
    ['203.0.114.1', '203.0.114.0/24'],
    ['127.0.0.1', '127.0.0.0/24'],
    ['127.0.0.40', '127.0.0.0/24'],
    ['127.0.1.1', '127.0.1.0/24'],
    ['::ffff:198.51.100.9', '198.51.100.0/24'],
    ['2001:db8:1:2:aaaa:bbbb:cccc:dddd', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002:ffff::', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['64:ff9b::192.0.2.1', '64:ff9b:0:0::/64'],
    ['?', '?'],
  ])('%s counts as %s', (address, prefix) => {
    expect(addressPrefix(address)).toBe(prefix);
  });

  it('puts every address of one IPv6 /64 in one network, and the next /64 in another', () => {
    const a = addressPrefix('2001:db8:5:6:1::1');
    expect(addressPrefix('2001:db8:5:6:ffff:ffff:ffff:ffff')).toBe(a);
    expect(addressPrefix('2001:db8:5:7::1')).not.toBe(a);
  });
});
