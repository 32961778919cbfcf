// Saved logins, one per server, in CHAT_HOME/sessions.json (mode 0600 in a 0700 CHAT_HOME, written atomically).
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CliError } from './context.js';
import { readPrivateFile, writePrivateFile } from './private-files.js';

export interface SavedSession {
  user: string;
  token: string;
}

const FILE = 'sessions.json';

/** CHAT_HOME, else $XDG_CONFIG_HOME/chat, else ~/.config/chat. */
export function defaultHome(env: NodeJS.ProcessEnv): string {
  if (env.CHAT_HOME) return env.CHAT_HOME;
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'chat');
}

function readAll(home: string): Record<string, SavedSession> {
  const text = readPrivateFile(home, FILE);
  if (text === null) return {};
  try {
    return JSON.parse(text) as Record<string, SavedSession>;
  } catch {
    throw new CliError(`${join(home, FILE)} is not valid JSON: fix or delete it`);
  }
}

function writeAll(home: string, all: Record<string, SavedSession>): void {
  writePrivateFile(home, FILE, `${JSON.stringify(all, null, 2)}\n`);
}

export function loadSession(home: string, server: string): SavedSession | null {
  return readAll(home)[server] ?? null;
}

export function saveSession(home: string, server: string, session: SavedSession): void {
  writeAll(home, { ...readAll(home), [server]: session });
}

export function forgetSession(home: string, server: string): void {
  const all = readAll(home);
  delete all[server];
  writeAll(home, all);
}
