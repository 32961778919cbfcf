// Pinned server certificates, like SSH's known_hosts: CHAT_HOME/known_servers, one
// "host:port SHA-256-fingerprint" per line (mode 0600 in a 0700 CHAT_HOME, written atomically).
import { readPrivateFile, writePrivateFile } from './private-files.js';

export const KNOWN_SERVERS_FILE = 'known_servers';

function readAll(home: string): Map<string, string> {
  const text = readPrivateFile(home, KNOWN_SERVERS_FILE);
  if (text === null) return new Map();
  const pins = new Map<string, string>();
  for (const line of text.split('\n')) {
    const [server, fingerprint] = line.trim().split(/\s+/);
    if (server && fingerprint && !server.startsWith('#')) pins.set(server, fingerprint);
  }
  return pins;
}

/** The fingerprint pinned for `server` ("host:port"), if any. */
export function pinnedFingerprint(home: string, server: string): string | undefined {
  return readAll(home).get(server);
}

/** Pins (or re-pins) `fingerprint` for `server`; returns the one it replaces. */
export function pinServer(home: string, server: string, fingerprint: string): string | undefined {
  const pins = readAll(home);
  const old = pins.get(server);
  pins.set(server, fingerprint);
  writePrivateFile(home, KNOWN_SERVERS_FILE, [...pins].map(([s, f]) => `${s} ${f}\n`).join(''));
  return old;
}
