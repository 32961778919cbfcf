import { describe, expect, it } from 'vitest';
import { CliError } from '../../../src/cli/context.js';
import { parseInput, parseTarget } from '../../../src/cli/interactive/commands.js';
import { backoffDelay } from '../../../src/cli/interactive/reconnect.js';
import {
  colorsWanted, messageLine, newNotice, offerNotice, palette, promptText, statusLine, stripAnsi, timeOf, unreadList,
} from '../../../src/cli/interactive/render.js';
import { rowsOf } from '../../../src/cli/interactive/screen.js';
import type { ChatMessage, OfferInfo } from '../../../src/protocol/messages.js';

const plain = palette(false);
const colored = palette(true);
const NOON = new Date(2026, 10, 23, 12, 0, 1).getTime();
const m = (from: string, to: string, text = 'hi'): ChatMessage => ({ id: 7, from, to, text, at: NOON });

describe('message lines', () => {
  it('time, name and text; own messages get their mark; elsewhere shows where it went', () => {
    const view = { me: 'alice', current: 'bob', palette: plain, now: NOON };
    expect(messageLine(m('bob', 'alice'), view)).toBe('12:00:01 <bob> hi');
    expect(messageLine(m('alice', 'bob'), { ...view, mark: 'stored' })).toBe('12:00:01 <alice> hi ✓');
    expect(messageLine(m('alice', 'bob'), { ...view, mark: 'delivered' })).toBe('12:00:01 <alice> hi ✓✓');
    expect(messageLine(m('alice', 'carol'), { ...view, mark: 'stored' })).toBe('12:00:01 <alice → carol> hi ✓');
    expect(messageLine(m('alice', 'carol'), { ...view, current: null })).toBe('12:00:01 <alice> hi');
    expect(messageLine(m('dave', '#ops'), { ...view, current: '#ops' })).toBe('12:00:01 <dave> hi');
    expect(messageLine(m('dave', '#ops'), view)).toBe('12:00:01 #ops <dave> hi');
    // Control characters from others never reach the terminal raw.
    expect(messageLine(m('bob', 'alice', 'a\x1b[2Jb'), view)).toBe('12:00:01 <bob> a\\x1b[2Jb');
  });

  it('an older message shows its date', () => {
    expect(timeOf(NOON, NOON + 3_600_000)).toBe('12:00:01');
    expect(timeOf(NOON, NOON + 2 * 86_400_000)).toBe('2026-11-23 12:00:01');
  });

  it('colors names consistently, only when the palette is on', () => {
    const line = messageLine(m('bob', 'alice'), { me: 'alice', current: 'bob', palette: colored, now: NOON });
    expect(line).toMatch(/\x1b\[/);
    expect(stripAnsi(line)).toBe('12:00:01 <bob> hi');
    expect(colored.name('bob')).toBe(colored.name('bob'));
    expect(plain.name('bob')).toBe('bob');
  });

  it('colors only on a TTY without NO_COLOR', () => {
    expect(colorsWanted(true, {})).toBe(true);
    expect(colorsWanted(true, { NO_COLOR: '1' })).toBe(false);
    expect(colorsWanted(false, {})).toBe(false);
  });
});

describe('notices and the prompt', () => {
  it('new-message notices name the conversation and how to switch', () => {
    expect(newNotice('alice', 1, plain, 'alice')).toBe('* 1 new from alice (/to alice)');
    expect(newNotice('#ops', 1, plain, 'bob')).toBe('* 1 new in #ops from bob (/to #ops)');
    // Several senders may be behind the count: only the newest is named, as the newest.
    expect(newNotice('#ops', 3, plain, 'bob')).toBe('* 3 new in #ops, latest from bob (/to #ops)');
    expect(newNotice('#ops', 3, plain)).toBe('* 3 new in #ops (/to #ops)');
  });

  it('the prompt shows the conversation, unread counts and a lost connection', () => {
    const unread = [
      { conversation: 'alice', count: 2 },
      { conversation: '#ops', count: 1 },
    ];
    expect(promptText({ current: 'bob', unread, connected: true, palette: plain })).toBe('[bob] (3 unread: alice 2, #ops 1) > ');
    expect(promptText({ current: null, unread: [], connected: true, palette: plain })).toBe('> ');
    expect(promptText({ current: 'bob', unread: [], connected: false, palette: plain })).toBe('[bob] (reconnecting…) > ');
    const many = ['a', 'b', 'c', 'd'].map((c) => ({ conversation: c, count: 1 }));
    expect(unreadList(many)).toBe('a 1, b 1, c 1, …');
  });

  it('an offer notice has the sender, the files and the total size', () => {
    const info = { id: 'k7m2pqxa', from: 'bob', fileCount: 5, totalBytes: 1536 } as OfferInfo;
    const files = ['a', 'b', 'c', 'd', 'e'].map((p) => ({ path: `${p}.txt`, size: 1, mime: 'text/plain', mode: 0o644, mtimeMs: 0 }));
    expect(offerNotice(info, files, plain)).toBe('* bob offers 5 files, 1.5 KiB: a.txt, b.txt, c.txt, +2 more (/accept k7m2pqxa or /reject k7m2pqxa)');
    expect(offerNotice({ ...info, fileCount: 1 }, null, plain)).toBe('* bob offers 1 file, 1.5 KiB (/accept k7m2pqxa or /reject k7m2pqxa)');
  });

  it('the transfer status line fits the terminal', () => {
    const t = { id: 'k7m2pqxa', direction: 'send' as const, peer: 'bob', phase: 'moving' as const, bytes: 512 * 1024, total: 1024 * 1024, startedAt: 0 };
    expect(statusLine([t], 80, 1000)).toBe('↑ bob 50% 512.0 KiB/1.0 MiB 512.0 KiB/s');
    const waiting = { ...t, direction: 'receive' as const, peer: 'carol', phase: 'connecting' as const };
    expect(statusLine([t, waiting], 200, 1000)).toBe('↑ bob 50% 512.0 KiB/1.0 MiB 512.0 KiB/s · ↓ carol k7m2pqxa connecting');
    expect(statusLine([t, waiting], 20, 1000)).toHaveLength(20);
  });

  it('counts terminal rows of a line, ignoring colors', () => {
    expect(rowsOf('', 10)).toBe(1);
    expect(rowsOf('x'.repeat(10), 10)).toBe(1);
    expect(rowsOf('x'.repeat(11), 10)).toBe(2);
    expect(rowsOf(`${colored.name('bob')}${'x'.repeat(7)}`, 10)).toBe(1);
    expect(rowsOf('status\n> typed', 80)).toBe(2);
  });
});

describe('input lines', () => {
  it('plain text, commands with arguments, and // for a line starting with a slash', () => {
    expect(parseInput('  ')).toEqual({ kind: 'empty' });
    expect(parseInput('hello there')).toEqual({ kind: 'text', text: 'hello there' });
    expect(parseInput('//etc is a dir')).toEqual({ kind: 'text', text: '/etc is a dir' });
    expect(parseInput('/MSG bob  hi  you')).toEqual({ kind: 'command', name: '/msg', args: ['bob', 'hi', 'you'], raw: 'bob  hi  you' });
    expect(parseInput('/send "a b.txt" c')).toMatchObject({ args: ['a b.txt', 'c'] });
  });

  it('targets are users or #groups, normalized', () => {
    expect(parseTarget('Bob')).toBe('bob');
    expect(parseTarget('#Ops')).toBe('#ops');
    expect(() => parseTarget('b')).toThrow(CliError);
    expect(() => parseTarget('#')).toThrow(CliError);
    expect(() => parseTarget(undefined)).toThrow(CliError);
  });
});

describe('reconnect backoff', () => {
  it('0.5 s doubling, at most 10 s', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 50, 5000].map(backoffDelay)).toEqual([500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000, 10_000]);
  });
});
