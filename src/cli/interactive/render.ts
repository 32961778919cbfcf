// How the interactive client looks: message lines, notices, the prompt and the transfer status
// line. Pure string building; ANSI colors only through a Palette that may be switched off.
import type { ChatMessage, OfferFileInfo, OfferInfo } from '../../protocol/messages.js';
import { printable, printableText } from '../../protocol/printable.js';
import { clock, formatBytes, stamp } from '../output.js';
import type { Mark, UnreadCount } from './state.js';

export interface Palette {
  readonly enabled: boolean;
  /** A user or group name (sanitized), in a color of its own (the same name always gets the same color). */
  name(name: string, own?: boolean): string;
  dim(text: string): string;
  notice(text: string): string;
  mark(text: string): string;
}

const NAME_COLORS = [31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96];

/** Colors only on a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function colorsWanted(isTTY: boolean, env: NodeJS.ProcessEnv): boolean {
  return isTTY && !env.NO_COLOR;
}

export function palette(enabled: boolean): Palette {
  const sgr = (code: string, text: string): string => (enabled ? `\x1b[${code}m${text}\x1b[0m` : text);
  return {
    enabled,
    name: (name, own = false) => sgr(own ? '1' : String(NAME_COLORS[hash(name) % NAME_COLORS.length]), printable(name)),
    dim: (text) => sgr('2', text),
    notice: (text) => sgr('33', text),
    mark: (text) => sgr('32', text),
  };
}

function hash(text: string): number {
  let h = 0;
  for (const c of String(text)) h = (h * 31 + c.codePointAt(0)!) >>> 0;
  return h;
}

/** Removes ANSI escape sequences (for widths and tests). */
export function stripAnsi(text: string): string {
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
}

/** Today: HH:MM:SS; an older message also gets its date. */
export function timeOf(at: number, now = Date.now()): string {
  return new Date(at).toDateString() === new Date(now).toDateString() ? clock(at) : stamp(at);
}

export interface LineView {
  me: string;
  /** The current conversation: an own message elsewhere shows where it went. */
  current: string | null;
  palette: Palette;
  /** Shown after own messages (terminal only). */
  mark?: Mark;
  now?: number;
}

/**
 * `12:00:01 <alice> hi ✓`; `<alice → bob>` for an own message outside the current conversation.
 * A text's further lines are indented, so none of them passes for a message.
 */
export function messageLine(m: ChatMessage, view: LineView): string {
  const p = view.palette;
  const own = m.from === view.me;
  const elsewhere = own && view.current !== null && !sameConversation(m, view.current, view.me);
  const who = elsewhere ? `${p.name(m.from, true)} → ${p.name(m.to)}` : p.name(m.from, own);
  const where = !own && m.to.startsWith('#') && m.to !== view.current ? `${p.name(m.to)} ` : '';
  const mark = own && view.mark ? ` ${p.mark(view.mark === 'delivered' ? '✓✓' : '✓')}` : '';
  return `${p.dim(timeOf(m.at, view.now))} ${where}<${who}> ${printableText(m.text)}${mark}`;
}

function sameConversation(m: ChatMessage, conversation: string, me: string): boolean {
  if (m.to.startsWith('#')) return m.to === conversation;
  return (m.from === me ? m.to : m.from) === conversation;
}

/**
 * `* 2 new from alice (/to alice)`, `* 1 new in #ops from bob (/to #ops)`, or with several
 * `* 3 new in #ops, latest from bob`: `from` is only the newest one's sender.
 */
export function newNotice(conversation: string, count: number, p: Palette, from?: string): string {
  const by = from ? (count === 1 ? ` from ${from}` : `, latest from ${from}`) : '';
  const where = conversation.startsWith('#') ? `in ${conversation}${by}` : `from ${conversation}`;
  return p.notice(printable(`* ${count} new ${where} (/to ${conversation})`));
}

export function notice(text: string, p: Palette): string {
  return p.notice(`* ${text}`);
}

/** `alice 2, #ops 1`, at most `max` conversations then `…`. */
export function unreadList(unread: UnreadCount[], max = 3): string {
  const shown = unread.slice(0, max).map((u) => `${printable(u.conversation)} ${u.count}`);
  if (unread.length > max) shown.push('…');
  return shown.join(', ');
}

export interface PromptView {
  current: string | null;
  unread: UnreadCount[];
  connected: boolean;
  palette: Palette;
}

/** `[bob] (3 unread: alice 2, #ops 1) > `; `(reconnecting…)` while the server is away. */
export function promptText(v: PromptView): string {
  const parts: string[] = [];
  if (v.current) parts.push(`[${v.palette.name(v.current)}]`);
  const total = v.unread.reduce((sum, u) => sum + u.count, 0);
  if (total > 0) parts.push(v.palette.notice(`(${total} unread: ${unreadList(v.unread)})`));
  if (!v.connected) parts.push(v.palette.dim('(reconnecting…)'));
  parts.push('> ');
  return parts.join(' ');
}

/** The notice for an incoming offer: sender, files (the first few names) and the total size. */
export function offerNotice(info: OfferInfo, files: OfferFileInfo[] | null, p: Palette): string {
  const names = files ? files.slice(0, 3).map((f) => printable(f.path)) : [];
  if (files && files.length > 3) names.push(`+${files.length - 3} more`);
  const list = names.length > 0 ? `: ${names.join(', ')}` : '';
  const count = `${Number(info.fileCount)} file${info.fileCount === 1 ? '' : 's'}`;
  const id = printable(info.id);
  return notice(`${p.name(info.from)} offers ${count}, ${formatBytes(info.totalBytes)}${list} (/accept ${id} or /reject ${id})`, p);
}

/** One running transfer, as the status line shows it. */
export interface TransferStatus {
  /** Offer id. */
  id: string;
  direction: 'send' | 'receive';
  peer: string;
  /** 'waiting' until accepted (send), 'confirming' a code, 'connecting' until bytes move. */
  phase: 'waiting' | 'confirming' | 'connecting' | 'moving';
  bytes: number;
  total: number;
  startedAt: number;
}

const PHASE_TEXT = { waiting: 'waiting for accept', confirming: 'waiting for /confirm', connecting: 'connecting' };

/** `↑ bob 42% 1.2 MiB/3.0 MiB 2.1 MiB/s · ↓ alice waiting`, cut to `width` columns. */
export function statusLine(transfers: TransferStatus[], width: number, now = Date.now()): string {
  const text = printable(transfers.map((t) => transferStatus(t, now)).join(' · '));
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

function transferStatus(t: TransferStatus, now: number): string {
  const arrow = t.direction === 'send' ? '↑' : '↓';
  if (t.phase !== 'moving') return `${arrow} ${t.peer} ${t.id} ${PHASE_TEXT[t.phase]}`;
  const pct = t.total > 0 ? Math.floor((t.bytes * 100) / t.total) : 100;
  const ms = now - t.startedAt;
  const rate = ms > 0 ? formatBytes(Math.round((t.bytes * 1000) / ms)) : '0 B';
  return `${arrow} ${t.peer} ${pct}% ${formatBytes(t.bytes)}/${formatBytes(t.total)} ${rate}/s`;
}
