// Per-address limits count networks, not single addresses (docs/security.md): one host holds a
// whole IPv6 /64 and often many IPv4 addresses of one /24, so counting exact addresses is escaped
// by changing the last bits.
import { isIPv4, isIPv6 } from 'node:net';

/**
 * The network an address belongs to for limits: IPv4 → its /24 ("203.0.113.0/24"), IPv6 → its
 * /64 ("2001:db8:1:2::/64"); IPv4-mapped IPv6 counts as IPv4. Loopback is no exception (a local
 * attacker may use all of 127/8, but each /24 of it counts as one network).
 * Anything else (a Unix socket, "?") is its own key.
 */
export function addressPrefix(address: string): string {
  const plain = address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
  if (isIPv4(plain)) {
    const [a, b, c] = plain.split('.');
    return `${a}.${b}.${c}.0/24`;
  }
  if (isIPv6(plain)) return `${ipv6Groups(plain).slice(0, 4).join(':')}::/64`;
  return plain;
}

/** The eight 16-bit groups of an IPv6 address, in lower-case hex without leading zeros. */
function ipv6Groups(address: string): string[] {
  const bare = address.split('%')[0]!; // zone id
  const [head, tail] = bare.includes('::') ? bare.split('::') : [bare, undefined];
  const parse = (part: string | undefined): string[] => (part ? part.split(':') : []);
  let left = parse(head);
  let right = parse(tail);
  // An embedded IPv4 tail ("::1.2.3.4") is two groups.
  const last = (tail === undefined ? left : right).at(-1);
  if (last && isIPv4(last)) {
    const [a, b, c, d] = last.split('.').map(Number) as [number, number, number, number];
    const v4 = [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
    if (tail === undefined) left = [...left.slice(0, -1), ...v4];
    else right = [...right.slice(0, -1), ...v4];
  }
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((g) => parseInt(g, 16).toString(16));
}
