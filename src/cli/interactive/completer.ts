// Tab completion for the interactive client: command names, user and group names, offer ids and
// file paths. Pure: the names and the directory listing come from outside.
import { readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

/** What an argument of a slash command is. `rest` repeats the last kind for every later argument. */
export type ArgKind = 'name' | 'group' | 'member-group' | 'offer' | 'path' | 'command' | 'friend-action' | 'text';

export interface CompletionSource {
  /** Command name (with '/') → kinds of its arguments in order; a trailing 'path' repeats. */
  commands: ReadonlyMap<string, readonly ArgKind[]>;
  /** Users and '#groups' worth offering. */
  names(): string[];
  /** Every known '#group' (to join). */
  groups(): string[];
  /** '#groups' this user belongs to. */
  memberGroups(): string[];
  /** Ids of offers waiting for this user. */
  offers(): string[];
  /** Entries of `dir`; [] when it cannot be read. */
  listDir(dir: string): { name: string; dir: boolean }[];
}

export const FRIEND_ACTIONS = ['add', 'accept', 'decline', 'remove', 'note'];

/** readline's completer contract: candidates for the end of `line`, and the text they replace. */
export function complete(line: string, src: CompletionSource): [string[], string] {
  const token = lastToken(line);
  const before = line.slice(0, line.length - token.length);
  const words = splitWords(before);
  if (words.length === 0) {
    if (!token.startsWith('/')) return [[], token];
    return [finished(matching([...src.commands.keys()], token)), token];
  }
  const kinds = src.commands.get(words[0]!.toLowerCase());
  if (!kinds) return [[], token];
  const index = words.length - 1;
  const kind = kinds[index] ?? (kinds[kinds.length - 1] === 'path' ? 'path' : undefined);
  return [finished(candidates(kind, token, src)), token];
}

/** A single candidate gets a space after it (as in a shell), unless it is a directory to go into. */
function finished(hits: string[]): string[] {
  return hits.length === 1 && !hits[0]!.endsWith('/') ? [`${hits[0]} `] : hits;
}

function candidates(kind: ArgKind | undefined, token: string, src: CompletionSource): string[] {
  switch (kind) {
    case 'name':
      return matching(src.names(), token.toLowerCase());
    case 'group':
      return matching(src.groups(), withHash(token));
    case 'member-group':
      return matching(src.memberGroups(), withHash(token));
    case 'offer':
      return matching(src.offers(), token);
    case 'command':
      return matching([...src.commands.keys()].map((c) => c.slice(1)), token.replace(/^\//, ''));
    case 'friend-action':
      return matching(FRIEND_ACTIONS, token);
    case 'path':
      return completePath(token, src.listDir);
    default:
      return [];
  }
}

function withHash(token: string): string {
  return token.startsWith('#') ? token.toLowerCase() : `#${token.toLowerCase()}`;
}

function matching(options: string[], prefix: string): string[] {
  return [...new Set(options)].filter((o) => o.startsWith(prefix)).sort();
}

/** File names in the token's directory that start with its last part; directories end in '/'. */
export function completePath(token: string, listDir: CompletionSource['listDir']): string[] {
  const typed = unescapeSpaces(token);
  const slash = typed.lastIndexOf('/');
  const dirPart = slash >= 0 ? typed.slice(0, slash + 1) : '';
  const base = typed.slice(slash + 1);
  const entries = listDir(expandHome(dirPart || '.'));
  return entries
    .filter((e) => e.name.startsWith(base) && (base.startsWith('.') || !e.name.startsWith('.')))
    .map((e) => escapeSpaces(`${dirPart}${e.name}${e.dir ? '/' : ''}`))
    .sort();
}

/** The real file system, for completePath. */
export function listDirectory(dir: string): { name: string; dir: boolean }[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).map((e) => ({ name: e.name, dir: e.isDirectory() }));
  } catch {
    return [];
  }
}

export function expandHome(p: string): string {
  if (p === '~') return homedir();
  return p.startsWith('~/') ? path.join(homedir(), p.slice(2)) : p;
}

/** The text after the last unescaped space (`my\ file` is one token). */
export function lastToken(line: string): string {
  for (let i = line.length - 1; i >= 0; i--) {
    if (line[i] === ' ' && line[i - 1] !== '\\') return line.slice(i + 1);
  }
  return line;
}

/** Words split on unescaped spaces; `a\ b` stays one word, `"a b"` and `'a b'` too. */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let quote: string | null = null;
  let started = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else word += c;
    } else if (c === '\\' && i + 1 < text.length) {
      word += text[++i];
      started = true;
    } else if (c === '"' || c === "'") {
      quote = c;
      started = true;
    } else if (/\s/.test(c)) {
      if (started) words.push(word);
      word = '';
      started = false;
    } else {
      word += c;
      started = true;
    }
  }
  if (started) words.push(word);
  return words;
}

function escapeSpaces(p: string): string {
  return p.replace(/ /g, '\\ ');
}

function unescapeSpaces(p: string): string {
  return p.replace(/\\ /g, ' ');
}
