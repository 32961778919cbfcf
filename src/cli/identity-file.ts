// This device's identity key per server (issue 26, protocol.md §T10): CHAT_HOME/identity.json,
// { server: { seed, device } } (mode 0600 in a 0700 CHAT_HOME, written atomically). Made on
// first login, register or resumed session; the public key is registered with the server.
import { hostname } from 'node:os';
import { join } from 'node:path';
import { identityOf, newIdentity, type Identity } from '../transfer/index.js';
import { CliError } from './context.js';
import { readPrivateFile, writePrivateFile } from './private-files.js';

export const IDENTITY_FILE = 'identity.json';

interface Saved {
  seed: string;
  device: string;
}

/** A device identity: the key pair and the device name it signs with. */
export interface DeviceIdentity extends Identity {
  device: string;
}

function readAll(home: string): Record<string, Saved> {
  const text = readPrivateFile(home, IDENTITY_FILE);
  if (text === null) return {};
  try {
    return JSON.parse(text) as Record<string, Saved>;
  } catch {
    throw new CliError(`${join(home, IDENTITY_FILE)} is not valid JSON: fix it (deleting it makes a new identity your contacts will refuse)`);
  }
}

/** This device's identity for `server`, made (and saved) on first use; `device` renames it. */
export function deviceIdentity(home: string, server: string, device?: string): DeviceIdentity {
  const all = readAll(home);
  let saved = all[server];
  if (!saved || (device !== undefined && saved.device !== device)) {
    saved = { seed: saved?.seed ?? newIdentity().seed, device: (device ?? saved?.device ?? hostname()).slice(0, 64) };
    writePrivateFile(home, IDENTITY_FILE, `${JSON.stringify({ ...all, [server]: saved }, null, 2)}\n`);
  }
  try {
    return { ...identityOf(saved.seed), device: saved.device };
  } catch {
    throw new CliError(`${join(home, IDENTITY_FILE)}: the key for ${server} is damaged`);
  }
}
