// Pinned device keys of other users, like SSH's known_hosts (issue 26, protocol.md §T10.3):
// CHAT_HOME/known_peers, one "server user device key state" per line, device percent-encoded
// ("-" for no name), state "verified" or "pinned" (mode 0600 in a 0700 CHAT_HOME, atomic).
import { join } from 'node:path';
import { CliError } from './context.js';
import { readPrivateFile, writePrivateFile } from './private-files.js';

export const KNOWN_PEERS_FILE = 'known_peers';

/** One pinned device of a user on a server. */
export interface PeerPin {
  server: string;
  user: string;
  device: string;
  key: string;
  verified: boolean;
}

const encodeDevice = (d: string): string => (d === '' ? '-' : encodeURIComponent(d));
const decodeDevice = (d: string): string => (d === '-' ? '' : decodeURIComponent(d));

function readAll(home: string): PeerPin[] {
  const file = join(home, KNOWN_PEERS_FILE);
  const text = readPrivateFile(home, KNOWN_PEERS_FILE);
  if (text === null) return [];
  const pins: PeerPin[] = [];
  for (const line of text.split('\n')) {
    const [server, user, device, key, state] = line.trim().split(/\s+/);
    if (!server || server.startsWith('#') || !user || !device || !key) continue;
    try {
      pins.push({ server, user, device: decodeDevice(device), key, verified: state === 'verified' });
    } catch {
      throw new CliError(`${file}: a damaged line for ${user}: fix or delete it`);
    }
  }
  return pins;
}

function writeAll(home: string, pins: PeerPin[]): void {
  const lines = pins.map((p) => `${p.server} ${p.user} ${encodeDevice(p.device)} ${p.key} ${p.verified ? 'verified' : 'pinned'}\n`);
  writePrivateFile(home, KNOWN_PEERS_FILE, lines.join(''));
}

/** The devices pinned for `user` on `server`. */
export function peerPins(home: string, server: string, user: string): PeerPin[] {
  return readAll(home).filter((p) => p.server === server && p.user === user);
}

/** Users on `server` with at least one verified device. */
export function verifiedUsers(home: string, server: string): Set<string> {
  return new Set(readAll(home).filter((p) => p.server === server && p.verified).map((p) => p.user));
}

/** Pins (or re-pins) one device's key; `verified` marks it compared out of band. */
export function pinPeer(home: string, pin: PeerPin): void {
  const rest = readAll(home).filter((p) => !(p.server === pin.server && p.user === pin.user && p.device === pin.device));
  writeAll(home, [...rest, pin]);
}
