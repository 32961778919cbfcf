import { describe, expect, it } from 'vitest';
import { completionTable } from '../../../src/cli/interactive/commands.js';
import { complete, completePath, lastToken, splitWords, type CompletionSource } from '../../../src/cli/interactive/completer.js';

const tree: Record<string, { name: string; dir: boolean }[]> = {
  '.': [
    { name: 'photos', dir: true },
    { name: 'notes.txt', dir: false },
    { name: 'my file.txt', dir: false },
    { name: '.hidden', dir: false },
  ],
  'photos/': [
    { name: '2024', dir: true },
    { name: 'cat.jpg', dir: false },
  ],
};

const source: CompletionSource = {
  commands: completionTable(),
  names: () => ['#lobby', '#ops', 'alice', 'albert', 'bob'],
  groups: () => ['#lobby', '#ops'],
  memberGroups: () => ['#ops'],
  offers: () => ['k7m2pqxa', 'k7zzzzzz'],
  listDir: (dir) => tree[dir] ?? [],
};

describe('tab completion', () => {
  it('completes command names; a single match gets a trailing space', () => {
    expect(complete('/', source)[0]).toContain('/accept');
    expect(complete('/m', source)).toEqual([['/members', '/msg'], '/m']);
    expect(complete('/wh', source)).toEqual([['/who '], '/wh']);
    expect(complete('/nothing', source)).toEqual([[], '/nothing']);
    // Plain text is not completed.
    expect(complete('hello al', source)).toEqual([[], 'al']);
  });

  it('completes user and group names after /to and /msg, case-insensitively', () => {
    expect(complete('/to al', source)).toEqual([['albert', 'alice'], 'al']);
    expect(complete('/to AL', source)).toEqual([['albert', 'alice'], 'AL']);
    expect(complete('/msg b', source)).toEqual([['bob '], 'b']);
    expect(complete('/to #', source)).toEqual([['#lobby', '#ops'], '#']);
    // The message text after /msg <name> is not completed.
    expect(complete('/msg bob al', source)).toEqual([[], 'al']);
  });

  it('completes groups for /join (with or without #) and only joined groups for /leave and /members', () => {
    expect(complete('/join l', source)).toEqual([['#lobby '], 'l']);
    expect(complete('/join #', source)).toEqual([['#lobby', '#ops'], '#']);
    expect(complete('/leave #', source)).toEqual([['#ops '], '#']);
    expect(complete('/members ', source)).toEqual([['#ops '], '']);
  });

  it('completes offer ids after /accept and /reject, then a directory after /accept', () => {
    expect(complete('/accept k7m', source)).toEqual([['k7m2pqxa '], 'k7m']);
    expect(complete('/reject k7', source)).toEqual([['k7m2pqxa', 'k7zzzzzz'], 'k7']);
    expect(complete('/accept k7m2pqxa ph', source)).toEqual([['photos/'], 'ph']);
  });

  it('completes file paths after /send, for every argument, with escaped spaces and hidden files on request', () => {
    expect(complete('/send ', source)).toEqual([['my\\ file.txt', 'notes.txt', 'photos/'], '']);
    expect(complete('/send notes.txt ph', source)).toEqual([['photos/'], 'ph']);
    expect(complete('/send photos/', source)).toEqual([['photos/2024/', 'photos/cat.jpg'], 'photos/']);
    expect(complete('/send my\\ f', source)).toEqual([['my\\ file.txt '], 'my\\ f']);
    expect(completePath('.h', source.listDir)).toEqual(['.hidden']);
    expect(completePath('nowhere/x', source.listDir)).toEqual([]);
  });

  it('splits words on unescaped spaces and understands quotes', () => {
    expect(lastToken('/send a\\ b')).toBe('a\\ b');
    expect(lastToken('/send a ')).toBe('');
    expect(splitWords('/send "my file.txt" b\\ c  d')).toEqual(['/send', 'my file.txt', 'b c', 'd']);
    expect(splitWords("it's")).toEqual(['its']);
    expect(splitWords('   ')).toEqual([]);
  });
});
